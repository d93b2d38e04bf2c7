"""Contacts: phone numbers, creating and merging, groups, consent, special-category data, the right to object."""
from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from sqlalchemy import select

from engage.consent import BULK_KINDS
from engage.contacts import (
    ContactError,
    add_to_groups,
    create_contact,
    export_contacts_csv,
    find_contact,
    normalise_phone,
    record_special_category_consent,
    resolve_contact,
    set_do_not_contact,
    update_contact,
)
from engage.outbox import enqueue
from store.models import ConsentRecord, Contact, OutboxMessage, Run
from tests.support.contacts import mobile, publish, text_in

PANEL = """id: panel-test
title: Panel test
languages: [en]
keywords: [JOIN]
consultation:
  purpose: Build a residents' panel
  opens: 2026-12-01
  closes: 2026-12-31
reminder:
  after: 24h
  en: You have not finished joining. Reply to carry on.
steps:
  - id: ethnicity
    ask:
      en: What is your ethnic group?
    choices:
      - {value: white_british, en: White British}
      - {value: other, en: Another group}
    save_to: ethnicity
  - id: ward
    ask:
      en: Which ward do you live in?
    choices:
      - {value: Netteswell, en: Netteswell}
      - {value: Mark Hall, en: Mark Hall}
    save_to: ward
  - id: thanks
    say:
      en: Thank you for joining.
"""


@pytest.fixture
def app_config(app_config):
    # Room for a broadcast, a flow start, a reminder and an update in one week.
    return {**app_config, "fatigue_cap": 10}


@pytest.mark.parametrize("raw", ["07911 123456", "+44 7911 123456", "447911123456", "(07911) 123-456",
                                 "+447911123456"])
def test_uk_numbers_in_any_spelling_become_e164(raw):
    assert normalise_phone(raw) == "+447911123456"


@pytest.mark.parametrize("raw, code", [("12345", "invalid"), ("020 7946 0018", "landline"), ("", "missing"),
                                       ("not a number", "invalid"), ("07700 900123", "invalid")])
def test_numbers_that_cannot_take_sms_are_refused_with_a_reason(raw, code):
    with pytest.raises(ContactError) as caught:
        normalise_phone(raw)
    assert (caught.value.field, caught.value.code) == ("phone", code)


def test_a_landline_may_still_be_looked_up():
    assert normalise_phone("020 7946 0018", for_sms=False) == "+442079460018"


def test_create_find_update_and_groups(db, clock):
    with db.session() as s:
        contact = create_contact(s, clock.now(), name="Harlow Green Forum", phone="07911 000001",
                                 organisation="Green Forum", role="Secretary", groups=["forums"],
                                 fields={"Ward": "Old Harlow"})
        contact_id = contact.id
        assert contact.fields == {"ward": "Old Harlow"}
        assert [(a.channel, a.consent) for a in contact.addresses] == [("sms", "unknown")]
    with db.session() as s:
        assert find_contact(s, phone="+44 7911 000001").id == contact_id
        assert find_contact(s, phone="not a phone") is None
        assert resolve_contact(s, "07911000001").id == contact_id
        assert resolve_contact(s, f"#{contact_id}").id == contact_id
        assert resolve_contact(s, str(contact_id)).id == contact_id
        contact = s.get(Contact, contact_id)
        update_contact(s, contact, clock.now(), telegram_id="5551234", fields={"estate": "Brays Grove"},
                       groups=["forums", "partners"], language="CY")
        assert add_to_groups(s, contact, ["partners", "tenants"]) == ["tenants"]
    with db.session() as s:
        contact = find_contact(s, telegram_id="5551234")
        assert contact.id == contact_id
        assert resolve_contact(s, "telegram:5551234").id == contact_id
        assert contact.fields == {"ward": "Old Harlow", "estate": "Brays Grove"}
        assert contact.language == "cy"
        assert sorted(g.name for g in contact.groups) == ["forums", "partners", "tenants"]


def test_bad_input_names_the_field(db, clock):
    with db.session() as s:
        create_contact(s, clock.now(), phone=mobile(1))
    cases = [
        (dict(phone=mobile(1)), "phone", "conflict"),
        (dict(), "phone", "missing"),
        (dict(phone=mobile(2), language="fr"), "language", "invalid"),
        (dict(telegram_id="12ab"), "telegram_id", "invalid"),
        (dict(phone=mobile(3), name="x" * 201), "name", "invalid"),
        (dict(phone=mobile(4), fields={"phone": "1"}), "fields.phone", "invalid"),
    ]
    for kwargs, field, code in cases:
        with db.session() as s, pytest.raises(ContactError) as caught:
            create_contact(s, clock.now(), **kwargs)
        assert (caught.value.field, caught.value.code) == (field, code), kwargs


def test_consent_from_an_officer_or_import_is_recorded_with_its_wording(db, clock):
    with db.session() as s:
        contact = create_contact(s, clock.now(), phone=mobile(1), consent_source="Signed form at the Civic Centre")
        assert contact.addresses[0].consent == "opted_in"
        record = s.scalar(select(ConsentRecord))
        assert (record.scope, record.action, record.source, record.wording) == (
            "channel", "opt_in", "officer", "Signed form at the Civic Centre")


def test_special_category_fields_need_explicit_consent(db, clock):
    with db.session() as s:
        with pytest.raises(ContactError) as caught:
            create_contact(s, clock.now(), phone=mobile(1), fields={"ethnicity": "Other"})
        assert caught.value.code == "special_category"
    with db.session() as s:
        contact = create_contact(s, clock.now(), phone=mobile(1), fields={"ethnicity": "Other"},
                                 special_category_consent="Ticked the equality monitoring box")
        assert contact.fields == {"ethnicity": "Other"}
        with pytest.raises(ContactError):
            other = create_contact(s, clock.now(), phone=mobile(2))
            update_contact(s, other, clock.now(), fields={"health_condition": "asthma"})
        record_special_category_consent(s, contact, clock.now(), source="officer", wording="Withdrawn by phone",
                                        action="opt_out")
        assert contact.fields == {}


def test_the_conversation_stores_special_category_answers_on_the_contact_only_with_consent(services, db, clock):
    publish(services, PANEL)
    with db.session() as s:
        consenting = create_contact(s, clock.now(), phone=mobile(2))
        record_special_category_consent(s, consenting, clock.now(), source="flow", wording="Yes, use it")
    for phone in (mobile(1), mobile(2)):
        for text in ("JOIN", "2", "1"):
            text_in(services, text, phone)
    with db.session() as s:
        fields = {a.address: c.fields for c in s.scalars(select(Contact)) for a in c.addresses}
    assert fields[mobile(1)] == {"ward": "Netteswell"}
    assert fields[mobile(2)] == {"ward": "Netteswell", "ethnicity": "other"}


def test_export_is_csv_that_spreadsheets_cannot_run(db, clock):
    with db.session() as s:
        create_contact(s, clock.now(), name="=HYPERLINK(\"http://x\")", phone=mobile(1), groups=["b", "a"],
                       fields={"ward": "Netteswell"}, consent_source="form")
        erased = create_contact(s, clock.now(), name="Gone", phone=mobile(2))
        erased.erased_at = clock.now()
    rows = list(csv.DictReader(io.StringIO(export_contacts_csv_text(db))))
    assert len(rows) == 1
    assert rows[0]["name"] == "'=HYPERLINK(\"http://x\")"
    assert (rows[0]["phone"], rows[0]["groups"], rows[0]["ward"], rows[0]["sms_consent"]) == (
        mobile(1), "a;b", "Netteswell", "opted_in")


def export_contacts_csv_text(db) -> str:
    with db.session() as s:
        return export_contacts_csv(s)


def test_the_right_to_object_stops_every_bulk_send_but_not_a_live_reply(services, db, clock):
    from engage.broadcasts import create_broadcast, fire_broadcast
    from engage.reminders import send_reminders
    from engage.segments import create_segment
    from engage.updates import create_update, send_update

    publish(services, PANEL)
    with db.session() as s:
        objector = create_contact(s, clock.now(), phone=mobile(1), fields={"ward": "Netteswell"}, consent_source="form")
        other = create_contact(s, clock.now(), phone=mobile(2), fields={"ward": "Netteswell"}, consent_source="form")
        record = set_do_not_contact(s, objector, clock.now(), source="keyword", wording="Please stop consulting me")
        assert (record.scope, record.action) == ("consultations", "opt_out")
        objector_id, other_id = objector.id, other.id
        for kind in sorted(BULK_KINDS):
            assert enqueue(s, contact=objector, address=objector.addresses[0], kind=kind,
                           payload={"type": "text", "text": "x"}, now=clock.now()) == (None, "objected")
        segment = create_segment(s, "Netteswell", {"field": "ward", "in": ["Netteswell"]}, clock.now())
        message = create_broadcast(s, name="bins", segment=segment, now=clock.now(), tz="Europe/London",
                                   texts={"en": "Bins go out on Tuesday."}).id
        flow_start = create_broadcast(s, name="panel", segment=segment, now=clock.now(), tz="Europe/London",
                                      flow=services.registry.get("panel-test")).id

    def bulk_recipients() -> set[int]:
        with db.session() as s:
            return set(s.scalars(select(OutboxMessage.contact_id).where(OutboxMessage.kind.in_(BULK_KINDS))))

    fire_broadcast(services, message)
    fire_broadcast(services, flow_start)
    assert bulk_recipients() == {other_id}
    with db.session() as s:
        assert set(s.scalars(select(Run.contact_id))) == {other_id}
    # A resident who objects may still start a conversation and gets its replies.
    text_in(services, "JOIN", mobile(1))
    with db.session() as s:
        assert s.scalar(select(OutboxMessage.kind).where(OutboxMessage.contact_id == objector_id)) == "reply"
    clock.advance(hours=25)
    assert send_reminders(services) == {"queued": 1, "objected": 1}
    with db.session() as s:
        update = create_update(s, services.registry.get("panel-test"),
                               {"en": {"said": "You asked", "did": "We did", "why": "Because"}}, clock.now(),
                               include_started=True).id
    assert send_update(services, update)["skipped"] == {"objected": 1}
    with db.session() as s:
        kinds = {(c, k) for c, k in s.execute(select(OutboxMessage.contact_id, OutboxMessage.kind)
                                              .where(OutboxMessage.kind.in_(BULK_KINDS)))}
    assert kinds == {(other_id, "broadcast"), (other_id, "reminder"), (other_id, "update")}
    with db.session() as s:
        set_do_not_contact(s, s.get(Contact, objector_id), clock.now(), objected=False)
        assert s.get(Contact, objector_id).do_not_contact is False
        scopes = [r.action for r in s.scalars(select(ConsentRecord).where(ConsentRecord.scope == "consultations"))]
        assert scopes == ["opt_out", "opt_in"]


def test_quiet_window_does_not_matter_for_records(clock):
    # Guards the fixture assumption above: 10:00 and 11:00 UTC in December are outside quiet hours.
    assert clock.now().hour == 10 and (clock.now() + timedelta(hours=25)).hour == 11
