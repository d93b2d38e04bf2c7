"""Every bulk access to personal data and every change, through any interface, is in the audit log with who did it."""
from __future__ import annotations

import io

from sqlalchemy import select

from api.tokens import create_api_token
from commands.contacts import contacts
from engage.contacts import create_contact
from engage.segments import create_segment
from store.models.officers import AuditLog
from tests.support.contacts import csv_text, mobile


def _log(db) -> list[AuditLog]:
    with db.session() as s:
        return list(s.scalars(select(AuditLog).order_by(AuditLog.id)))


def _person(services, n: int = 1) -> int:
    with services.db.session() as s:
        contact = create_contact(s, services.clock.now(), name="Ann", phone=mobile(n), consent_source="paper form")
        s.flush()
        return contact.id


def test_the_command_line_import_export_subject_access_and_erase_are_audited(runner, services, tmp_path):
    path = tmp_path / "people.csv"
    path.write_text(csv_text(["phone", "name", "consent_source"], [[mobile(7), "Bea", "paper form"]]),
                    encoding="utf-8")
    assert runner.invoke(contacts, ["import", str(path), "--commit"]).exit_code == 0
    assert runner.invoke(contacts, ["export"]).exit_code == 0
    assert runner.invoke(contacts, ["export-data", mobile(7)]).exit_code == 0
    assert runner.invoke(contacts, ["erase", mobile(7), "--yes"]).exit_code == 0
    rows = _log(services.db)
    assert [r.action for r in rows] == ["contacts.imported", "export.downloaded", "contact.subject_access",
                                       "contact.erased"]
    assert all(r.actor and r.actor.startswith("command line (") for r in rows)
    assert rows[0].detail["rows"] == 1 and rows[1].detail["what"] == "contacts"
    assert rows[2].target_type == "contact" and rows[3].target_id == rows[2].target_id
    # Never a resident's number or name in the log.
    assert all(mobile(7)[-6:] not in str(r.detail) + (r.summary or "") and "Bea" not in (r.summary or "")
               for r in rows)


def test_every_api_write_and_export_is_audited_with_the_tokens_name(client, services):
    with services.db.session() as s:
        _row, token = create_api_token(s, "CRM sync", "write", services.clock.now())
        segment = create_segment(s, "Everyone", {"all": []}, services.clock.now())
        segment_id = segment.id
    headers = {"Authorization": f"Bearer {token}"}
    created = client.post("/api/v1/contacts", json={"name": "Cy", "phone": mobile(3), "consent_source": "form"},
                          headers=headers)
    assert created.status_code == 201
    contact_id = created.get_json()["id"]
    assert client.patch(f"/api/v1/contacts/{contact_id}", json={"language": "cy"}, headers=headers).status_code == 200
    assert client.get("/api/v1/contacts", headers=headers).status_code == 200
    assert client.get("/api/v1/contacts/export", headers=headers).status_code == 200
    upload = csv_text(["phone", "name", "consent_source"], [[mobile(4), "Di", "form"]]).encode()
    imported = client.post("/api/v1/contacts/import?commit=true", data={"file": (io.BytesIO(upload), "p.csv")},
                           headers=headers, content_type="multipart/form-data")
    assert imported.status_code == 200
    broadcast = client.post("/api/v1/broadcasts", json={"name": "Hello", "segment_id": segment_id,
                                                        "texts": {"en": "Hello"}, "schedule": "once",
                                                        "send_at": "2030-01-01T10:00:00Z"}, headers=headers)
    assert broadcast.status_code == 201, broadcast.get_json()
    broadcast_id = broadcast.get_json()["id"]
    assert client.post(f"/api/v1/broadcasts/{broadcast_id}/cancel", headers=headers).status_code == 200
    assert client.get("/api/v1/flows/street-safety/runs", headers=headers).status_code == 200
    rows = _log(services.db)
    assert [r.action for r in rows] == ["contact.created", "contact.updated", "api.contacts.listed",
                                       "export.downloaded", "contacts.imported", "broadcast.created",
                                       "broadcast.cancelled", "export.downloaded"]
    assert {r.actor for r in rows} == {f"API token “CRM sync” (#{rows[0].detail['api_token_id']})"}
    assert rows[0].target_id == str(contact_id) and rows[1].detail["keys"] == ["language"]
    assert rows[3].detail["what"] == "contacts" and rows[7].detail["what"] == "runs"


def test_the_audit_page_names_a_token_or_the_command_line(client, services, runner):
    _person(services)
    assert runner.invoke(contacts, ["export"]).exit_code == 0
    from engage.officers import create_officer
    from tests.dashboard.conftest import PASSWORD, sign_in

    with services.db.session() as s:
        create_officer(s, "admin@harlow.gov.uk", PASSWORD, "admin", now=services.clock.now())
    assert sign_in(client, "admin").status_code == 302
    html = client.get("/dashboard/audit").get_data(as_text=True)
    assert "command line (" in html
