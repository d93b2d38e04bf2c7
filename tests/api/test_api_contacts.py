"""/api/v1/contacts: tokens and scopes, create, change, look up, page, import and export."""
from __future__ import annotations

import io

from sqlalchemy import func, select

from api.tokens import revoke_api_token
from store.models import Contact
from store.models.contacts import ApiToken
from tests.support.contacts import csv_text, mobile


def test_calls_without_a_valid_token_are_refused_in_json(client, services, read_headers):
    assert client.get("/api/v1/contacts").json == {
        "error": {"code": "unauthorized", "message": "send Authorization: Bearer <token>"}}
    response = client.get("/api/v1/contacts", headers={"Authorization": "Bearer otk_wrong"})
    assert response.status_code == 401 and response.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/api/v1/contacts", headers=read_headers).status_code == 200
    with services.db.session() as s:
        revoke_api_token(s, s.scalar(select(ApiToken.id)), services.clock.now())
    assert client.get("/api/v1/contacts", headers=read_headers).status_code == 401


def test_a_read_token_cannot_write(client, read_headers):
    response = client.post("/api/v1/contacts", json={"phone": mobile(1)}, headers=read_headers)
    assert response.status_code == 403
    assert response.json["error"]["code"] == "forbidden"


def test_create_get_and_change_a_contact(client, write_headers):
    response = client.post("/api/v1/contacts", headers=write_headers, json={
        "name": "Harlow Residents' Association", "phone": "07911 000001", "organisation": "HRA", "role": "Chair",
        "groups": ["partners"], "fields": {"ward": "Old Harlow"}, "consent_source": "Email 3 March",
        "consent_at": "2026-03-03T09:00:00Z"})
    assert response.status_code == 201, response.json
    contact = response.json
    assert (contact["phone"], contact["consent"], contact["groups"]) == (mobile(1), {"sms": "opted_in"}, ["partners"])
    got = client.get(f"/api/v1/contacts/{contact['id']}", headers=write_headers).json
    assert got == contact
    changed = client.patch(f"/api/v1/contacts/{contact['id']}", headers=write_headers,
                           json={"telegram_id": "123456", "fields": {"estate": "Brays Grove"}, "language": "pl",
                                 "do_not_contact": True}).json
    assert changed["telegram_id"] == "123456" and changed["language"] == "pl" and changed["do_not_contact"]
    assert changed["fields"] == {"ward": "Old Harlow", "estate": "Brays Grove"}
    looked_up = client.get("/api/v1/contacts", query_string={"phone": "+44 7911 000001"}, headers=write_headers).json
    assert [c["id"] for c in looked_up["data"]] == [contact["id"]]
    assert client.get("/api/v1/contacts", query_string={"telegram_id": "123456"},
                      headers=write_headers).json["data"][0]["id"] == contact["id"]


def test_errors_name_the_field(client, write_headers):
    client.post("/api/v1/contacts", headers=write_headers, json={"phone": mobile(1)})
    cases = [
        ({"phone": "020 7946 0018"}, 422, "phone", "landline"),
        ({"phone": mobile(1)}, 409, "phone", "conflict"),
        ({"phone": mobile(2), "language": "xx"}, 422, "language", "invalid"),
        ({"phone": mobile(2), "favourite_colour": "blue"}, 422, "favourite_colour", "invalid"),
        ({"phone": mobile(2), "groups": "tenants"}, 422, "groups", "invalid"),
        ({"phone": mobile(2), "fields": {"ethnicity": "Other"}}, 422, "fields.ethnicity", "special_category"),
        ({"phone": mobile(2), "consent_at": "yesterday", "consent_source": "x"}, 422, "consent_at", "invalid"),
        ({"phone": mobile(2), "consent_at": "2026-01-01T00:00:00Z"}, 422, "consent_source", "invalid"),
        ({}, 422, "phone", "missing"),
    ]
    for body, status, field, code in cases:
        response = client.post("/api/v1/contacts", headers=write_headers, json=body)
        assert (response.status_code, response.json["error"].get("field"), response.json["error"]["code"]) == (
            status, field, code), body
    response = client.post("/api/v1/contacts", headers={**write_headers, "Content-Type": "application/json"},
                           data="{not json")
    assert response.status_code == 400 and response.json["error"]["field"] == "body"
    assert client.get("/api/v1/contacts/999", headers=write_headers).json["error"]["code"] == "not_found"
    assert client.get("/api/v1/nowhere", headers=write_headers).json["error"]["code"] == "not_found"
    assert client.delete("/api/v1/contacts/1", headers=write_headers).status_code == 405


def test_lists_page_by_cursor(client, write_headers):
    for n in range(5):
        client.post("/api/v1/contacts", headers=write_headers, json={"phone": mobile(n), "groups": ["g"]})
    seen, cursor, pages = [], None, 0
    while True:
        query = {"limit": 2, "group": "g", **({"cursor": cursor} if cursor else {})}
        body = client.get("/api/v1/contacts", query_string=query, headers=write_headers).json
        seen += [c["phone"] for c in body["data"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert (seen, pages) == ([mobile(n) for n in range(5)], 3)
    for query, field in (({"cursor": "!!"}, "cursor"), ({"limit": 0}, "limit"), ({"limit": "x"}, "limit")):
        response = client.get("/api/v1/contacts", query_string=query, headers=write_headers)
        assert (response.status_code, response.json["error"]["field"]) == (422, field)


def test_import_by_upload_uses_the_same_checks_all_or_nothing(client, services, write_headers):
    bad = csv_text(["phone", "language"], [[mobile(1), "en"], ["123", "en"], [mobile(3), "zz"]])
    response = client.post("/api/v1/contacts/import?commit=true", headers=write_headers,
                           data={"file": (io.BytesIO(bad.encode()), "people.csv")})
    assert response.status_code == 422
    assert response.json["error"]["code"] == "invalid_rows"
    assert [(p["line"], p["column"]) for p in response.json["error"]["problems"]] == [(3, "phone"), (4, "language")]
    good = csv_text(["phone", "name", "ward"], [[mobile(1), "Ann", "Netteswell"], [mobile(2), "Bob", "Mark Hall"]])
    checked = client.post("/api/v1/contacts/import", headers=write_headers,
                          data={"file": (io.BytesIO(good.encode()), "people.csv")}).json
    assert (checked["created"], checked["committed"]) == (2, False)
    done = client.post("/api/v1/contacts/import?commit=true", headers=write_headers,
                       data={"file": (io.BytesIO(good.encode()), "people.csv")}).json
    assert (done["created"], done["committed"]) == (2, True)
    with services.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Contact)) == 2
    response = client.post("/api/v1/contacts/import", headers=write_headers, data={})
    assert response.json["error"]["field"] == "file"


def test_export_needs_the_write_scope(client, read_headers, write_headers):
    client.post("/api/v1/contacts", headers=write_headers, json={"phone": mobile(1), "name": "Ann"})
    assert client.get("/api/v1/contacts/export", headers=read_headers).status_code == 403
    response = client.get("/api/v1/contacts/export", headers=write_headers)
    assert response.mimetype == "text/csv"
    assert f"Ann,{mobile(1)}" in response.get_data(as_text=True)
