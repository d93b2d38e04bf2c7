"""`python app.py contacts ...`: import, export, subject access, erasure, objection, retention, API tokens."""
from __future__ import annotations

import json

from sqlalchemy import func, select

from api.tokens import hash_token
from commands.contacts import contacts
from engage.contacts import create_contact
from store.models import Answer, Contact
from store.models.contacts import ApiToken
from tests.engage import test_privacy_retention
from tests.support.contacts import csv_text, find_traces, mobile

history = test_privacy_retention.history  # old runs and messages, some due for anonymising

HEADER = ["phone", "telegram_id", "name", "language", "groups", "consent_source", "consent_at"]


def contact_count(db) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(Contact))


def test_import_reports_bad_rows_with_line_and_column_and_exits_1(runner, db, tmp_path):
    path = tmp_path / "people.csv"
    path.write_text(csv_text(HEADER, [[mobile(1), "", "Ann", "en", "", "", ""],
                                      ["07911 00000", "", "Bob", "klingon", "", "", ""]]), encoding="utf-8")
    result = runner.invoke(contacts, ["import", str(path), "--commit"])
    assert result.exit_code == 1
    assert "line 3, column phone: invalid phone number: '07911 00000'" in result.output
    assert "line 3, column language: unknown language 'klingon'" in result.output
    assert "nothing was imported" in result.output
    assert contact_count(db) == 0


def test_import_checks_first_by_default_and_imports_with_commit(runner, db, tmp_path):
    path = tmp_path / "people.csv"
    path.write_text(csv_text(HEADER, [[mobile(n), "", f"Person {n}", "cy", "panel;forum", "Form", "2025-01-02"]
                                      for n in range(30)]), encoding="utf-8")
    result = runner.invoke(contacts, ["import", str(path)])
    assert result.exit_code == 0, result.output
    assert "30 row(s) are fine: 30 new contact(s), 0 merged. Run again with --commit" in result.output
    assert contact_count(db) == 0
    result = runner.invoke(contacts, ["import", str(path), "--commit"])
    assert result.exit_code == 0, result.output
    assert "Importing" in result.output
    assert "Imported 30 row(s): 30 new contact(s), 0 merged, 30 consent record(s)" in result.output
    assert contact_count(db) == 30
    result = runner.invoke(contacts, ["export"])
    assert result.exit_code == 0
    assert result.output.splitlines()[0].startswith("id,name,phone,telegram_id,language,groups")
    assert f"Person 7,{mobile(7)},,cy,forum;panel" in result.output


def test_subject_access_writes_json_and_html(runner, db, clock, tmp_path):
    with db.session() as s:
        create_contact(s, clock.now(), name="Ann <b>Example</b>", phone=mobile(1), telegram_id="4242")
    out_json, out_html = tmp_path / "ann.json", tmp_path / "ann.html"
    result = runner.invoke(contacts, ["export-data", "07911 000001", "--json", str(out_json), "--html", str(out_html)])
    assert result.exit_code == 0, result.output
    data = json.loads(out_json.read_text(encoding="utf-8"))
    assert data["contact"]["name"] == "Ann <b>Example</b>"
    assert "Ann &lt;b&gt;Example&lt;/b&gt;" in out_html.read_text(encoding="utf-8")
    result = runner.invoke(contacts, ["export-data", "telegram:4242"])
    assert json.loads(result.output)["addresses"][1]["address"] == "4242"
    result = runner.invoke(contacts, ["export-data", "+447911999999"])
    assert result.exit_code == 1
    assert "no contact matches" in result.output


def test_erase_needs_yes_leaves_no_trace_and_object_records_the_objection(runner, db, clock):
    with db.session() as s:
        contact_id = create_contact(s, clock.now(), name="Ann Example", phone=mobile(1), telegram_id="4242").id
    needles = [mobile(1), mobile(1)[3:], "Ann Example", "4242"]
    result = runner.invoke(contacts, ["object", mobile(1)])
    assert result.exit_code == 0 and "no more consultations" in result.output
    with db.session() as s:
        assert s.get(Contact, contact_id).do_not_contact is True
    assert runner.invoke(contacts, ["erase", mobile(1)]).exit_code == 2
    assert len(find_traces(db, needles)) >= 4
    result = runner.invoke(contacts, ["erase", mobile(1), "--yes"])
    assert result.exit_code == 0, result.output
    with db.session() as s:
        contact = s.get(Contact, contact_id)
        assert (contact.erased_at, contact.name) == (clock.now(), None)
    assert find_traces(db, needles) == []


def test_retention_dry_run_counts_and_changes_nothing(runner, db, history):
    def stored() -> list:
        with db.session() as s:
            return [(a.id, a.contact_id, a.value, a.raw_text) for a in s.scalars(select(Answer).order_by(Answer.id))]

    before = stored()
    result = runner.invoke(contacts, ["retention", "--dry-run", "--months", "24"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "Would anonymise 8 answer(s), 4 run(s), 1 inbound and 5 outbound message(s) older than 24 months.",
        "  edge-due: 2 answer(s)", "  kept: 2 answer(s)", "  old: 2 answer(s)", "  open: 2 answer(s)"]
    assert stored() == before and len(before) == 14
    result = runner.invoke(contacts, ["retention", "--months", "24"])
    assert result.output.startswith("Anonymised 8 answer(s), 4 run(s), 1 inbound and 5 outbound message(s)")
    assert stored() != before


def test_api_tokens_are_shown_once_and_stored_hashed(runner, db):
    result = runner.invoke(contacts, ["api-token", "create", "Insight dashboard", "--scope", "read"])
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    assert token.startswith("otk_") and len(token) > 40
    with db.session() as s:
        row = s.scalar(select(ApiToken))
        assert row.token_hash == hash_token(token) and token not in row.token_hash
        assert (row.name, row.scope) == ("Insight dashboard", "read")
        token_id = row.id
    listing = runner.invoke(contacts, ["api-token", "list"]).output
    assert "Insight dashboard" in listing and token not in listing and "active" in listing
    assert runner.invoke(contacts, ["api-token", "revoke", str(token_id)]).exit_code == 0
    assert "revoked" in runner.invoke(contacts, ["api-token", "list"]).output
    assert runner.invoke(contacts, ["api-token", "create", "x", "--scope", "admin"]).exit_code == 2
