"""API tokens from the dashboard: admins create one with a scope (shown once), the API takes it, revoking ends it."""
from __future__ import annotations

import re
from html import unescape

from sqlalchemy import select

from store.models.contacts import ApiToken
from store.models.officers import AuditLog


def _new_token(html: str) -> str:
    match = re.search(r'id="new-token" class="token" readonly value="([^"]+)"', html)
    assert match, "the new token is not shown"
    return unescape(match.group(1))


def test_an_admin_creates_a_token_the_api_accepts_and_revokes_it(client, as_role, services):
    token = as_role("admin")
    response = client.post("/dashboard/api-tokens", data={"csrf_token": token, "name": "Open data portal",
                                                         "scope": "read"})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    secret = _new_token(response.get_data(as_text=True))
    # Shown once: the list afterwards never shows it, and only its hash is stored.
    listing = client.get("/dashboard/api-tokens").get_data(as_text=True)
    assert secret not in listing and "Open data portal" in listing
    with services.db.session() as s:
        row = s.scalar(select(ApiToken))
        assert row.scope == "read" and row.created_by == "admin@harlow.gov.uk" and secret not in row.token_hash
        created = s.scalar(select(AuditLog).where(AuditLog.action == "api_token.created"))
        assert created.target_id == str(row.id) and created.detail == {"name": "Open data portal", "scope": "read"}
        assert secret not in str(created.detail) + (created.summary or "")
        token_id = row.id

    headers = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/contacts", headers=headers).status_code == 200
    assert client.get("/api/v1/contacts/export", headers=headers).status_code == 403  # read scope only

    assert client.post(f"/dashboard/api-tokens/{token_id}/revoke", data={"csrf_token": token}).status_code == 302
    assert client.get("/api/v1/contacts", headers=headers).status_code == 401
    with services.db.session() as s:
        assert s.scalar(select(AuditLog.target_id).where(AuditLog.action == "api_token.revoked")) == str(token_id)


def test_a_write_token_may_write(client, as_role):
    token = as_role("admin")
    html = client.post("/dashboard/api-tokens", data={"csrf_token": token, "name": "CRM sync",
                                                     "scope": "write"}).get_data(as_text=True)
    secret = _new_token(html)
    response = client.get("/api/v1/contacts/export", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 200


def test_a_token_needs_a_name_and_a_known_scope(client, as_role, services):
    token = as_role("admin")
    assert client.post("/dashboard/api-tokens", data={"csrf_token": token, "name": " ",
                                                      "scope": "read"}).status_code == 422
    assert client.post("/dashboard/api-tokens", data={"csrf_token": token, "name": "x",
                                                      "scope": "admin"}).status_code == 422
    with services.db.session() as s:
        assert s.scalar(select(ApiToken.id)) is None


def test_only_admins_manage_tokens(client, as_role):
    token = as_role("officer")
    assert client.get("/dashboard/api-tokens").status_code == 403
    assert client.post("/dashboard/api-tokens", data={"csrf_token": token, "name": "x",
                                                      "scope": "write"}).status_code == 403
