"""Contacts in the browser without a shell: import with a dry run, export, the right to object."""
from __future__ import annotations

import csv
import io
import re
from html import unescape

from openpyxl import Workbook
from sqlalchemy import func, select

from engage.contacts import create_contact
from store.models import Address, ConsentRecord, Contact, ContactGroup
from store.models.officers import AuditLog

GOOD = ("phone,name,language,ward,groups,consent_source\n"
        "07911 123001,Alys Jones,cy,Netteswell,tenants,Library sign-up sheet 2026\n"
        "07911 123002,Bob Smith,en,Bush Fair,,\n")
BAD = ("phone,name,language,ward\n"
       "07911 123011,Good Row,en,Netteswell\n"
       "not a number,Bad Phone,en,Netteswell\n"
       "07911 123013,Bad Language,klingon,Netteswell\n")


def _upload(client, token, body: bytes | str, filename: str = "contacts.csv"):
    data = body.encode("utf-8") if isinstance(body, str) else body
    return client.post("/dashboard/contacts/import", data={"csrf_token": token, "file": (io.BytesIO(data), filename)},
                       content_type="multipart/form-data")


def _hidden(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match, f"no hidden {name}"
    return unescape(match.group(1))


def _count(services, model) -> int:
    with services.db.session() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_bad_rows_are_reported_with_line_column_and_reason_and_nothing_is_imported(client, as_role, services):
    token = as_role("officer")
    response = _upload(client, token, BAD)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    rows = re.findall(r'<tr data-line="(\d+)"><td class="num">\d+</td><td>([^<]*)</td><td>([^<]*)</td>', html)
    assert [(line, column) for line, column, _ in rows] == [("3", "phone"), ("4", "language")]
    assert "klingon" in unescape(rows[1][2])
    assert "2 problems in the file: nothing was imported" in html
    assert 'name="data"' not in html  # no way to confirm a file with problems
    assert _count(services, Contact) == 0


def test_dry_run_then_confirm_imports_everything_once_and_is_audited(client, as_role, services, clock):
    with services.db.session() as s:
        create_contact(s, clock.now(), name="Bob Smith", phone="07911 123002", language="en",
                       fields={"ward": "Bush Fair"})
        create_contact(s, clock.now(), name="Carys", phone="07911 123003", language="cy")
    token = as_role("officer")
    body = GOOD + "07911 123003,Carys Evans,cy,,,\n"
    response = _upload(client, token, body)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert re.search(r'id="would-create">1<', html)
    assert re.search(r'id="would-update">1<', html)  # Carys gets her full name
    assert re.search(r'id="would-keep">1<', html)  # Bob is as the file says already
    assert _count(services, Contact) == 2  # the dry run wrote nothing

    confirm = client.post("/dashboard/contacts/import/confirm",
                          data={"csrf_token": token, "data": _hidden(html, "data"),
                                "filename": _hidden(html, "filename")})
    assert confirm.status_code == 302
    with services.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Contact)) == 3
        alys = s.scalar(select(Contact).where(Contact.name == "Alys Jones"))
        assert alys.language == "cy" and alys.fields == {"ward": "Netteswell"}
        assert s.scalar(select(ContactGroup.name).where(ContactGroup.contact_id == alys.id)) == "tenants"
        assert s.scalar(select(Address.consent).where(Address.contact_id == alys.id)) == "opted_in"
        assert s.scalar(select(Contact.name).where(Contact.name.like("Carys%"))) == "Carys Evans"
        entry = s.scalar(select(AuditLog).where(AuditLog.action == "contacts.imported"))
        assert entry.officer_email == "officer@harlow.gov.uk"
        assert entry.detail["rows"] == 3 and entry.detail["created"] == 1 and entry.detail["merged"] == 2
        assert entry.target_id == "contacts.csv"


def test_a_confirmation_that_no_longer_checks_out_imports_nothing(client, as_role, services):
    token = as_role("officer")
    html = _upload(client, token, GOOD).get_data(as_text=True)
    tampered = _hidden(html, "data") + "07911 123001,Twice,en,,,\n"
    response = client.post("/dashboard/contacts/import/confirm", data={"csrf_token": token, "data": tampered})
    assert response.status_code == 422
    assert "duplicate of line 2" in unescape(response.get_data(as_text=True))
    assert _count(services, Contact) == 0
    assert _count(services, Address) == 0
    with services.db.session() as s:
        assert s.scalar(select(AuditLog.id).where(AuditLog.action == "contacts.imported")) is None


def test_an_excel_file_is_read_with_spreadsheet_row_numbers(client, as_role, services):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["phone", "name", "age_band"])
    sheet.append([7911123021, "Dai", "18_64"])  # typed as a number: Excel dropped the leading 0
    sheet.append([None, None, None])
    sheet.append(["12", "Too short", "65_plus"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    token = as_role("officer")
    response = _upload(client, token, buffer.getvalue(), filename="contacts.xlsx")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert re.findall(r'<tr data-line="(\d+)"><td class="num">\d+</td><td>([^<]*)</td>', html) == [("4", "phone")]

    fixed = io.BytesIO()
    sheet.delete_rows(4)
    workbook.save(fixed)
    html = _upload(client, token, fixed.getvalue(), filename="contacts.xlsx").get_data(as_text=True)
    client.post("/dashboard/contacts/import/confirm", data={"csrf_token": token, "data": _hidden(html, "data")})
    with services.db.session() as s:
        dai = s.scalar(select(Contact).where(Contact.name == "Dai"))
        assert dai.fields == {"age_band": "18_64"}
        assert s.scalar(select(Address.address).where(Address.contact_id == dai.id)) == "+447911123021"


def test_not_a_workbook_is_a_clear_error(client, as_role):
    token = as_role("officer")
    response = _upload(client, token, b"PK\x03\x04 not really a zip", filename="contacts.xlsx")
    assert response.status_code == 422
    assert "not an Excel workbook" in response.get_data(as_text=True)


def test_viewers_may_not_import_or_export(client, as_role):
    token = as_role("viewer")
    assert client.get("/dashboard/contacts/import").status_code == 403
    assert _upload(client, token, GOOD).status_code == 403
    assert client.get("/dashboard/contacts/export.csv").status_code == 403


def test_export_lists_every_contact_and_is_audited(client, as_role, services, clock):
    with services.db.session() as s:
        create_contact(s, clock.now(), name="Alys Jones", phone="07911 123001", language="cy",
                       fields={"ward": "Netteswell"})
        create_contact(s, clock.now(), name="=HYPERLINK(1)", phone="07911 123002")
    as_role("officer")
    response = client.get("/dashboard/contacts/export.csv")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(response.get_data().decode("utf-8-sig"))))
    assert {r["name"] for r in rows} == {"Alys Jones", "'=HYPERLINK(1)"}
    assert next(r for r in rows if r["name"] == "Alys Jones")["ward"] == "Netteswell"
    with services.db.session() as s:
        entry = s.scalar(select(AuditLog).where(AuditLog.action == "export.downloaded"))
        assert entry.detail == {"what": "contacts", "format": "csv", "rows": 2}


def test_right_to_object_switch_on_the_contact_page(client, as_role, services, clock):
    with services.db.session() as s:
        contact_id = create_contact(s, clock.now(), name="Alys", phone="07911 123001").id
    token = as_role("officer")
    html = client.get(f"/dashboard/contacts/{contact_id}").get_data(as_text=True)
    assert "Record an objection" in html
    response = client.post(f"/dashboard/contacts/{contact_id}/object",
                           data={"csrf_token": token, "objected": "1", "note": "Phoned the council"})
    assert response.status_code == 302
    with services.db.session() as s:
        assert s.get(Contact, contact_id).do_not_contact is True
        consent = s.scalar(select(ConsentRecord).where(ConsentRecord.scope == "consultations"))
        assert consent.action == "opt_out" and consent.wording == "Phoned the council"
        assert s.scalar(select(AuditLog.target_id).where(AuditLog.action == "contact.objected")) == str(contact_id)
    assert "Withdraw the objection" in client.get(f"/dashboard/contacts/{contact_id}").get_data(as_text=True)
    # Pressing again (a second tab) records nothing twice.
    client.post(f"/dashboard/contacts/{contact_id}/object", data={"csrf_token": token, "objected": "1"})
    client.post(f"/dashboard/contacts/{contact_id}/object", data={"csrf_token": token, "objected": "0"})
    with services.db.session() as s:
        assert s.get(Contact, contact_id).do_not_contact is False
        actions = list(s.scalars(select(ConsentRecord.action).where(ConsentRecord.scope == "consultations")
                                 .order_by(ConsentRecord.id)))
        assert actions == ["opt_out", "opt_in"]
        assert s.scalar(select(func.count()).select_from(AuditLog)
                        .where(AuditLog.action.like("contact.objection%"))) == 1
