"""The conversation service: keywords, runs, answers, consent, windows, ordering, versions."""
from __future__ import annotations

import itertools
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import func, select

from store.models import (
    CONSENT_OPTED_IN,
    CONSENT_OPTED_OUT,
    Address,
    Answer,
    ConsentRecord,
    Contact,
    InboundMessage,
    OutboxMessage,
    Run,
)
from tests.conftest import DEFAULT_NOW

PHONE = "+447700900001"
_ids = itertools.count(1)


def text_in(services, text, address=PHONE, channel="sms", provider_id=None, **payload):
    """Store and process one inbound message as a webhook would."""
    provider_id = provider_id or f"SM{next(_ids):032d}"
    row_id, created = services.conversations.store_inbound(channel, provider_id, address, text, payload)
    services.conversations.process_inbound(row_id)
    return row_id, created


def outbox(db):
    with db.session() as s:
        return s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()


def last_payload(db):
    return outbox(db)[-1].payload


def answers(db):
    with db.session() as s:
        return {a.step_id: a.value for a in s.scalars(select(Answer))}


def test_keyword_starts_the_flow_and_asks_the_first_question(services, db):
    text_in(services, "safe")
    payload = last_payload(db)
    assert payload["type"] == "question"
    assert payload["step_id"] == "feel_safe"
    assert [c["value"] for c in payload["choices"]] == ["safe", "unsafe", "unsure"]
    assert payload["question"].startswith("How safe do you feel")
    with db.session() as s:
        run = s.scalar(select(Run))
        assert (run.flow_id, run.status, run.channel, run.started_by) == ("street-safety", "active", "sms", "keyword")
        assert s.scalar(select(Address)).consent == CONSENT_OPTED_IN


def test_a_whole_run_stores_each_answer_once_and_saves_contact_fields(services, db):
    for reply in ["SAFE", "2", "Station Road by the underpass", "65 or over"]:
        text_in(services, reply)
    assert answers(db) == {"feel_safe": "unsafe", "where": "Station Road by the underpass", "age": "65_plus"}
    with db.session() as s:
        run = s.scalar(select(Run))
        assert (run.status, run.finished_at) == ("completed", DEFAULT_NOW)
        assert s.scalar(select(Contact)).fields["age_band"] == "65_plus"
        raw = s.scalar(select(Answer.raw_text).where(Answer.step_id == "feel_safe"))
    assert raw == "2"
    assert "We will tell you what we did" in last_payload(db)["text"]


def test_a_run_keeps_the_time_of_its_first_answer_for_results(services, db, clock):
    text_in(services, "SAFE")
    with db.session() as s:
        assert s.scalar(select(Run.answered_at)) is None  # asked, not yet answered: not a respondent
    clock.advance(minutes=3)
    first = clock.now()
    text_in(services, "2")
    clock.advance(minutes=5)
    text_in(services, "Station Road")
    with db.session() as s:
        assert s.scalar(select(Run.answered_at)) == first


def test_the_branch_skips_the_follow_up_for_residents_who_feel_safe(services, db):
    for reply in ["SAFE", "safe"]:
        text_in(services, reply)
    assert last_payload(db)["step_id"] == "age"


def test_the_same_webhook_twice_stores_and_processes_once(services, db):
    text_in(services, "SAFE")
    first = text_in(services, "2", provider_id="SMduplicate")
    second = text_in(services, "2", provider_id="SMduplicate")
    assert first[1] is True and second[1] is False
    assert first[0] == second[0]
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(InboundMessage)) == 2
        assert s.scalar(select(func.count()).select_from(Answer)) == 1
    assert len(outbox(db)) == 2


def test_an_answer_that_does_not_fit_is_asked_again_with_the_reason(services, db):
    text_in(services, "SAFE")
    text_in(services, "purple")
    payload = last_payload(db)
    assert payload["step_id"] == "feel_safe"
    assert payload["reprompt"] is True
    assert payload["intro"] == ["Sorry, please reply with one of the numbers shown."]
    assert answers(db) == {}


def test_welsh_keyword_and_welsh_resident_get_welsh(services, db):
    with db.session() as s:
        contact = Contact(fields={}, language="cy")
        s.add(contact)
        s.flush()
        s.add(Address(contact_id=contact.id, channel="sms", address=PHONE, consent=CONSENT_OPTED_IN))
    text_in(services, "DIOGEL")
    assert last_payload(db)["question"].startswith("Pa mor ddiogel")
    text_in(services, "Anniogel")
    assert answers(db) == {"feel_safe": "unsafe"}


@pytest.mark.parametrize("word", ["STOP", "stop!", "Stopio", "UNSUBSCRIBE", " s t o p "])
def test_stop_opts_out_with_one_confirmation_and_nothing_more(services, db, word):
    text_in(services, "SAFE")
    text_in(services, word)
    rows = outbox(db)
    assert rows[-1].kind == "stop_confirmation"
    with db.session() as s:
        assert s.scalar(select(Address)).consent == CONSENT_OPTED_OUT
        record = s.scalar(select(ConsentRecord).where(ConsentRecord.action == "opt_out"))
        assert (record.source, record.channel) == ("keyword", "sms")
        assert s.scalar(select(Run)).status == "ended"
    before = len(outbox(db))
    text_in(services, "SAFE")
    text_in(services, "2")
    text_in(services, "STOP")
    assert len(outbox(db)) == before


def test_start_opts_back_in(services, db):
    text_in(services, "STOP")
    text_in(services, "START")
    with db.session() as s:
        assert s.scalar(select(Address)).consent == CONSENT_OPTED_IN
    text_in(services, "SAFE")
    assert last_payload(db)["step_id"] == "feel_safe"


def test_help_says_who_is_writing_and_how_to_stop(services, db):
    text_in(services, "help")
    payload = last_payload(db)
    text = payload["text"]
    assert "Harlow Council" in text
    assert "STOP" in text
    # The keyword is listed in the language HELP answers in.
    assert ("DIOGEL" if payload["lang"] == "cy" else "SAFE") in text


def test_help_said_the_same_in_english_and_welsh_answers_in_the_residents_language_else_english(services, db):
    text_in(services, "HELP")
    assert last_payload(db)["lang"] == "en"
    assert last_payload(db)["text"].startswith("This is Harlow Council")
    with db.session() as s:
        s.scalar(select(Contact)).language = "cy"
    text_in(services, "help")
    assert last_payload(db)["lang"] == "cy"
    assert "Harlow Council" in last_payload(db)["text"]
    assert not last_payload(db)["text"].startswith("This is")
    text_in(services, "CYMORTH")  # Welsh only
    assert last_payload(db)["lang"] == "cy"


def test_unknown_text_with_no_run_gets_a_pointer_to_help(services, db):
    text_in(services, "hello?")
    assert "HELP" in last_payload(db)["text"]


def test_before_the_consultation_opens_the_keyword_gets_a_polite_date(services, db, clock):
    clock.set(datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc))
    text_in(services, "SAFE")
    expected = "Thank you. This consultation opens on 1 December 2026. Please message us again then."
    assert last_payload(db)["text"] == expected
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Run)) == 0


def test_after_the_consultation_closes_answers_are_refused_in_welsh(services, db, clock):
    with db.session() as s:
        contact = Contact(fields={}, language="cy")
        s.add(contact)
        s.flush()
        s.add(Address(contact_id=contact.id, channel="sms", address=PHONE, consent=CONSENT_OPTED_IN))
    text_in(services, "DIOGEL")
    clock.set(datetime(2027, 1, 1, 12, 0, tzinfo=timezone.utc))
    text_in(services, "1")
    assert "31 Rhagfyr 2026" in last_payload(db)["text"]
    assert answers(db) == {}
    with db.session() as s:
        assert s.scalar(select(Run)).status == "ended"


def test_an_unfinished_run_expires_after_48_hours(services, db, clock):
    text_in(services, "SAFE")
    clock.advance(hours=49)
    text_in(services, "2")
    with db.session() as s:
        assert s.scalar(select(Run)).status == "expired"
    assert answers(db) == {}
    # The late reply is told the survey ended and how to start again, not "we did not understand".
    assert last_payload(db)["text"].endswith("To start again, reply SAFE.")


def test_messages_from_one_resident_are_processed_in_arrival_order(services, db):
    conversations = services.conversations
    first, _ = conversations.store_inbound("sms", "SMa", PHONE, "SAFE", {})
    second, _ = conversations.store_inbound("sms", "SMb", PHONE, "2", {})
    third, _ = conversations.store_inbound("sms", "SMc", PHONE, "Market Square", {})
    conversations.process_inbound(third)
    assert answers(db) == {"feel_safe": "unsafe", "where": "Market Square"}
    with db.session() as s:
        statuses = s.scalars(select(InboundMessage.status).order_by(InboundMessage.id)).all()
    assert statuses == ["processed"] * 3
    conversations.process_inbound(first)
    assert len(outbox(db)) == 3


def test_pending_messages_left_by_a_crash_are_picked_up(services, db):
    services.conversations.store_inbound("sms", "SMleft", PHONE, "SAFE", {})
    assert services.conversations.process_pending() == 1
    assert last_payload(db)["step_id"] == "feel_safe"
    assert services.conversations.process_pending() == 0


def test_a_message_that_always_fails_is_marked_failed_and_does_not_block_a_later_stop(services, db):
    def breaks_on_boom(s, turn):
        if turn.incoming.text == "BOOM":
            raise RuntimeError("a bug in a word handler")
        return False

    services.conversations.word_handlers.append(breaks_on_boom)
    conv = services.conversations
    boom, _ = conv.store_inbound("sms", "SMboom", PHONE, "BOOM", {})
    stop, _ = conv.store_inbound("sms", "SMstop", PHONE, "STOP", {})
    for _ in range(5):  # the webhook, then the sweep, try again until the broken message is given up
        conv.process_inbound(stop)
    with db.session() as s:
        rows = {r.id: r for r in s.scalars(select(InboundMessage))}
        assert (rows[boom].status, rows[boom].attempts) == ("failed", 5)
        # The failures were the older message's, not counted against the STOP behind it.
        assert rows[stop].status == "processed"
        assert s.scalar(select(Address)).consent == CONSENT_OPTED_OUT


def test_a_run_keeps_the_flow_version_it_started_on(app_config, db, tmp_path):
    from app import create_app

    folder = tmp_path / "flows"
    folder.mkdir()
    source = (Path(app_config["flows_dir"]) / "street-safety.yaml").read_text()
    (folder / "street-safety.yaml").write_text(source)
    services = create_app({**app_config, "flows_dir": str(folder)}).extensions["outreach"]
    text_in(services, "SAFE")
    changed = source.replace("How old are you?", "What is your age?")
    (folder / "street-safety.yaml").write_text(changed)
    services.registry._stamp = ()
    assert services.registry.reload()
    text_in(services, "1")
    assert last_payload(db)["question"] == "How old are you?"
    text_in(services, "3", address="+447700900002")
    text_in(services, "SAFE", address="+447700900002")
    text_in(services, "1", address="+447700900002")
    assert last_payload(db)["question"] == "What is your age?"


GROUP_FLOW = """\
id: forum-check
title: Forum check
languages: [en]
keywords: [FORUM]
steps:
  - id: hello
    say: {en: Hello.}
    next:
      - if: {field: groups, equals: Green Forum}
        goto: members
      - goto: everyone
  - id: members
    say: {en: Thank you for being in the Green Forum.}
    next:
      - goto: end
  - id: everyone
    say: {en: Would you like to join the Green Forum?}
"""


def test_a_flow_that_tests_groups_sees_the_residents_groups(app_config, db, tmp_path):
    from app import create_app
    from store.models import ContactGroup

    folder = tmp_path / "flows"
    folder.mkdir()
    (folder / "forum-check.yaml").write_text(GROUP_FLOW)
    services = create_app({**app_config, "flows_dir": str(folder)}).extensions["outreach"]
    text_in(services, "FORUM", address="+447700900011")
    assert "join the Green Forum" in last_payload(db)["text"]
    with db.session() as s:
        contact_id = s.scalar(select(Address.contact_id).where(Address.address == "+447700900011"))
        s.add(ContactGroup(contact_id=contact_id, name="Green Forum"))
    text_in(services, "FORUM", address="+447700900011")
    assert "Thank you for being in the Green Forum" in last_payload(db)["text"]


def _panel_until_special_consent(services, clock, phone):
    clock.set(datetime(2027, 2, 1, 12, 0, tzinfo=timezone.utc))
    for reply in ["PANEL", "yes", "2", "Netteswell", "1"]:
        text_in(services, reply, address=phone)
    assert last_payload_for(services, phone)["step_id"] == "sc_consent"


def last_payload_for(services, phone):
    with services.db.session() as s:
        address_id = s.scalar(select(Address.id).where(Address.address == phone))
        return s.scalars(select(OutboxMessage.payload).where(OutboxMessage.address_id == address_id)
                         .order_by(OutboxMessage.id.desc())).first()


def test_a_yes_to_special_category_consent_is_recorded_and_lets_ethnicity_be_saved(services, db, clock):
    _panel_until_special_consent(services, clock, PHONE)
    text_in(services, "yes")
    text_in(services, "4")
    with db.session() as s:
        record = s.scalar(select(ConsentRecord).where(ConsentRecord.scope == "special_category"))
        contact = s.scalar(select(Contact))
    assert (record.action, record.source) == ("opt_in", "flow")
    assert record.wording.startswith("May we also ask your ethnic group")
    assert contact.fields["ethnicity"] == "black"
    assert contact.fields["ward"] == "netteswell"


def test_a_no_to_special_category_consent_records_nothing_and_asks_nothing_sensitive(services, db, clock):
    _panel_until_special_consent(services, clock, PHONE)
    text_in(services, "no")
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(ConsentRecord)
                        .where(ConsentRecord.scope == "special_category")) == 0
        assert "ethnicity" not in s.scalar(select(Contact)).fields
    assert last_payload(db).get("step_id") not in ("ethnicity", "disability")
