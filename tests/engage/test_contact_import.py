"""Importing contacts from CSV: every bad row reported at its line, all or nothing, merges, consent."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import func, select

from engage.contact_import import import_contacts, parse_consent_date
from engage.contacts import create_contact
from store.models import CONSENT_OPTED_IN, CONSENT_UNKNOWN, Address, ConsentRecord, Contact, ContactGroup
from tests.support.contacts import csv_text, mobile

HEADER = ["phone", "telegram_id", "name", "language", "ward", "groups", "consent_source", "consent_at",
          "organisation", "role", "tenure"]


def count(db, model) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_every_kind_of_bad_row_is_reported_at_its_line_and_nothing_is_imported(db, clock):
    with db.session() as s:
        create_contact(s, clock.now(), phone=mobile(900))
        create_contact(s, clock.now(), telegram_id="555")
    rows = [
        [mobile(1), "", "Good Row", "en", "Old Harlow", "tenants", "", "", "", "", ""],          # line 2: fine
        ["12345", "", "", "", "", "", "", "", "", "", ""],                                      # 3 invalid number
        ["020 7946 0018", "", "", "", "", "", "", "", "", "", ""],                              # 4 landline: a call
        [mobile(4), "", "", "xx", "", "", "", "", "", "", ""],                                  # 5 language
        [mobile(5), "", "", "", "", "", "Paper form", "31/02/2025", "", "", ""],                # 6 bad date
        [mobile(1), "", "", "", "", "", "", "", "", "", ""],                                    # 7 duplicate
        ["", "", "No Address", "", "", "", "", "", "", "", ""],                                 # 8 no address
        ["", "not-a-chat", "", "", "", "", "", "", "", "", ""],                                 # 9 telegram id
        [mobile(9), "", "", "", "", "", "Paper form", "2099-01-01", "", "", ""],                # 10 future
        [mobile(10), "", "", "", "", "", "", "2025-01-01", "", "", ""],                         # 11 no source
        [mobile(11), "", "", "", "", "", "", "", "", "", "", "extra"],                          # 12 extra cell
        [mobile(900), "555", "", "", "", "", "", "", "", "", ""],                               # 13 two contacts
        [mobile(13), "", "", "", "", "x" * 101, "", "", "", "", ""],                            # 14 long group
    ]
    report = import_contacts(db, csv_text(HEADER, rows), clock.now(), commit=True)
    found = {(p.line, p.column) for p in report.problems}
    assert found == {
        (3, "phone"), (5, "language"), (6, "consent_at"), (7, "phone"), (8, "phone"),
        (9, "telegram_id"), (10, "consent_at"), (11, "consent_at"), (12, None), (13, "telegram_id"), (14, "groups"),
    }
    reasons = {(p.line): p.reason for p in report.problems}
    assert "invalid phone number" in reasons[3]
    assert "unknown language 'xx'" in reasons[5]
    assert "not a date" in reasons[6]
    assert reasons[7] == "duplicate of line 2"
    assert "neither a phone number nor a Telegram chat id" in reasons[8]
    assert "future" in reasons[10]
    assert "consent_source" in reasons[11]
    assert "12 values but the header has 11" in reasons[12]
    assert not report.committed
    assert count(db, Contact) == 2
    assert count(db, Address) == 2


def test_a_dry_run_reports_what_would_happen_and_changes_nothing(db, clock):
    text = csv_text(HEADER, [[mobile(1), "", "A", "", "", "", "", "", "", "", ""],
                             [mobile(2), "", "B", "", "", "", "", "", "", "", ""]])
    report = import_contacts(db, text, clock.now(), commit=False)
    assert report.ok and not report.committed
    assert (report.rows, report.created, report.merged) == (2, 2, 0)
    assert count(db, Contact) == 0


def test_header_problems_are_reported_on_line_one(db, clock):
    report = import_contacts(db, "name,ward,ward\nA,B,C\n", clock.now(), commit=True)
    assert {(p.line, p.column) for p in report.problems} == {(1, "ward"), (1, None)}
    assert import_contacts(db, "", clock.now(), commit=True).problems[0].reason == "the file is empty"
    latin1 = "phone,name\n07911000001,Zoë\n".encode("latin-1")
    assert "UTF-8" in import_contacts(db, latin1, clock.now(), commit=True).problems[0].reason


def test_special_category_columns_need_explicit_consent(db, clock):
    text = csv_text(["phone", "ethnicity", "special_category_consent"],
                    [[mobile(1), "White British", ""], [mobile(2), "Black African", "Ticked box on form B, 2025"]])
    report = import_contacts(db, text, clock.now(), commit=True)
    assert [(p.line, p.column) for p in report.problems] == [(2, "ethnicity")]
    text = csv_text(["phone", "ethnicity", "special_category_consent"],
                    [[mobile(2), "Black African", "Ticked box on form B, 2025"]])
    assert import_contacts(db, text, clock.now(), commit=True).committed
    with db.session() as s:
        assert s.scalar(select(Contact)).fields == {"ethnicity": "Black African"}
        record = s.scalar(select(ConsentRecord).where(ConsentRecord.scope == "special_category"))
        assert record.action == "opt_in" and record.wording == "Ticked box on form B, 2025"


def test_consent_is_unknown_without_a_source_and_recorded_with_one(db, clock):
    text = csv_text(HEADER, [
        ["07911 000001", "", "Ann", "cy", "Netteswell", "tenants; Green Forum", "", "", "", "", "social"],
        [mobile(2), "4242", "Bob", "", "", "", "Residents' panel form 2025", "01/03/2025", "Harlow RA", "Chair", ""],
    ])
    report = import_contacts(db, text, clock.now(), commit=True)
    assert report.committed and report.created == 2 and report.consent_recorded == 2
    with db.session() as s:
        ann = s.scalar(select(Contact).where(Contact.name == "Ann"))
        assert ann.language == "cy"
        assert ann.fields == {"ward": "Netteswell", "tenure": "social"}
        assert sorted(g.name for g in ann.groups) == ["Green Forum", "tenants"]
        assert [(a.channel, a.address, a.consent) for a in ann.addresses] == [("sms", mobile(1), CONSENT_UNKNOWN)]
        bob = s.scalar(select(Contact).where(Contact.name == "Bob"))
        assert (bob.organisation, bob.role) == ("Harlow RA", "Chair")
        assert sorted((a.channel, a.consent) for a in bob.addresses) == [("sms", CONSENT_OPTED_IN),
                                                                        ("telegram", CONSENT_OPTED_IN)]
        records = s.scalars(select(ConsentRecord).where(ConsentRecord.contact_id == bob.id)).all()
        assert {(r.source, r.wording, r.action) for r in records} == {
            ("import", "Residents' panel form 2025", "opt_in")}
        # 1 March 2025 is midnight in London, which is GMT then.
        assert {r.at for r in records} == {datetime(2025, 3, 1, tzinfo=timezone.utc)}


def test_rows_merge_with_existing_contacts_by_phone_or_telegram_id(db, clock):
    with db.session() as s:
        first = create_contact(s, clock.now(), phone=mobile(1), name="Ann", fields={"ward": "Old Harlow"},
                               groups=["tenants"])
        second = create_contact(s, clock.now(), telegram_id="777", name="Cy")
        s.flush()
        first_id, second_id = first.id, second.id
    text = csv_text(["phone", "telegram_id", "name", "groups", "ward", "consent_source"], [
        [mobile(1), "888", "", "Green Forum;tenants", "Mark Hall", "Street stall sign-up"],
        [mobile(3), "777", "Cyril", "", "", ""],
    ])
    report = import_contacts(db, text, clock.now(), commit=True)
    assert (report.created, report.merged) == (0, 2)
    with db.session() as s:
        ann = s.get(Contact, first_id)
        assert ann.name == "Ann"
        assert ann.fields == {"ward": "Mark Hall"}
        assert sorted(g.name for g in ann.groups) == ["Green Forum", "tenants"]
        assert sorted((a.channel, a.address, a.consent) for a in ann.addresses) == [
            ("sms", mobile(1), CONSENT_OPTED_IN), ("telegram", "888", CONSENT_OPTED_IN)]
        cy = s.get(Contact, second_id)
        assert cy.name == "Cyril"
        assert sorted(a.channel for a in cy.addresses) == ["sms", "telegram"]
        assert s.scalar(select(func.count()).select_from(Contact)) == 2


def test_an_import_never_overrides_an_opt_out(db, clock):
    from engage.consent import record_consent

    with db.session() as s:
        contact = create_contact(s, clock.now(), phone=mobile(1))
        record_consent(s, contact.addresses[0], "opt_out", "keyword", clock.now())
    text = csv_text(["phone", "consent_source"], [[mobile(1), "Old paper list"]])
    report = import_contacts(db, text, clock.now(), commit=True)
    assert report.committed and report.opt_outs_kept == 1
    with db.session() as s:
        assert s.scalar(select(Address.consent)) == "opted_out"


def test_fifty_thousand_rows_import_in_one_go_with_merges(db, clock):
    with db.session() as s:
        for n in range(0, 50_000, 5_000):
            create_contact(s, clock.now(), phone=mobile(n), name=f"Existing {n}", groups=["old"])
    rows = [[mobile(n), "", f"Resident {n}", "en", f"Ward {n % 17}", "panel;tenants" if n % 2 else "panel",
             "Online sign-up" if n % 3 == 0 else "", "", "", "", ""] for n in range(50_000)]
    steps: list[int] = []
    report = import_contacts(db, csv_text(HEADER, rows), clock.now(), commit=True, progress=steps.append)
    assert report.ok and report.committed
    assert (report.created, report.merged) == (49_990, 10)
    assert sum(steps) == 50_000
    assert count(db, Contact) == 50_000
    assert count(db, Address) == 50_000
    assert count(db, ContactGroup) == 50_000 + 25_000 + 10
    with db.session() as s:
        merged = s.scalar(select(Contact).join(Address).where(Address.address == mobile(5_000)))
        assert merged.name == "Resident 5000"
        assert sorted(g.name for g in merged.groups) == ["old", "panel"]
        assert s.scalar(select(func.count()).select_from(ConsentRecord).where(ConsentRecord.scope == "channel")) \
            == len(range(0, 50_000, 3))
        # Each stated consent is also the basis for service broadcasts, and only those.
        assert dict(s.execute(select(ConsentRecord.scope, func.count()).where(ConsentRecord.scope != "channel")
                              .group_by(ConsentRecord.scope)).all()) == {"service": len(range(0, 50_000, 3))}


def test_consent_dates_read_in_uk_time():
    assert parse_consent_date("2025-07-01") == datetime(2025, 6, 30, 23, tzinfo=timezone.utc)
    assert parse_consent_date("01/12/2025 09:30") == datetime(2025, 12, 1, 9, 30, tzinfo=timezone.utc)
    assert parse_consent_date("2025-07-01T10:00:00Z") == datetime(2025, 7, 1, 10, tzinfo=timezone.utc)


def test_a_consent_for_column_says_which_classes_of_broadcast_the_source_covers(db, clock):
    from engage.consent import bases_of

    text = csv_text(["phone", "name", "consent_source", "consent_for"], [
        [mobile(1), "Ann", "Events sign-up sheet", "service; promotional"],
        [mobile(2), "Bob", "Newsletter form", ""],
        [mobile(3), "Cat", "", ""],
    ])
    report = import_contacts(db, text, clock.now(), commit=True)
    assert report.committed
    with db.session() as s:
        ids = dict(s.execute(select(Contact.name, Contact.id)).all())
        assert bases_of(s, ids.values()) == {ids["Ann"]: {"service", "promotional"}, ids["Bob"]: {"service"}}
    bad = csv_text(["phone", "consent_source", "consent_for"], [
        [mobile(4), "Form", "marketing"], [mobile(5), "", "service"]])
    report = import_contacts(db, bad, clock.now(), commit=True)
    assert not report.committed
    assert [(p.line, p.column) for p in report.problems] == [(2, "consent_for"), (3, "consent_for")]


def test_numbers_that_cannot_receive_sms_are_refused_by_kind(db, clock):
    rows = [["0800 123 4567", "", "", "", "", "", "", "", "", "", ""],
            ["09012 345678", "", "", "", "", "", "", "", "", "", ""],
            ["07911 000003", "", "", "", "", "", "", "", "", "", ""]]
    report = import_contacts(db, csv_text(HEADER, rows), clock.now(), commit=True)
    reasons = {p.line: p.reason for p in report.problems}
    assert set(reasons) == {2, 3}
    assert "freephone number: it cannot receive SMS" in reasons[2]
    assert "premium-rate number: it cannot receive SMS" in reasons[3]
    assert count(db, Contact) == 0


def test_languages_may_be_given_by_name_in_english_or_in_the_language_itself(db, clock):
    rows = [[mobile(n), "", f"R{n}", language, "", "", "", "", "", "", ""]
            for n, language in enumerate(["Cymraeg", "Welsh", "CY", "Polski", "Português", "العربية", "romanian"])]
    report = import_contacts(db, csv_text(HEADER, rows), clock.now(), commit=True)
    assert report.committed, report.problems
    with db.session() as s:
        assert [c.language for c in s.scalars(select(Contact).order_by(Contact.id))] == [
            "cy", "cy", "cy", "pl", "pt", "ar", "ro"]


def test_an_over_long_row_is_reported_and_still_counted_with_its_other_problems(db, clock):
    rows = [[mobile(1), "", "", "", "", "", "", "", "", "", ""],
            ["0800 123 4567", "", "", "", "", "", "", "", "", "", "", "extra"],
            [mobile(3), "", "", "", "", "", "", "", "", "", ""]]
    report = import_contacts(db, csv_text(HEADER, rows), clock.now(), commit=False)
    assert report.rows == 3
    assert {(p.line, p.column) for p in report.problems} == {(3, None), (3, "phone")}


def test_importing_the_same_file_again_writes_no_new_consent_records(db, clock):
    text = csv_text(HEADER + ["special_category_consent"], [
        [mobile(1), "4242", "Bob", "", "", "", "Residents' panel form 2025", "01/03/2025", "", "", "",
         "Ticked box 4 on the panel form"]])
    first = import_contacts(db, text, clock.now(), commit=True)
    assert first.committed and first.consent_recorded == 2
    before = count(db, ConsentRecord)
    assert before == 4  # SMS, Telegram, the service class (the source covers it), special category
    again = import_contacts(db, text, clock.now(), commit=True)
    assert again.committed and again.merged == 1 and again.consent_recorded == 0
    assert count(db, ConsentRecord) == before
