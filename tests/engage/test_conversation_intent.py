"""A conversation does what the resident meant: answers stay answers, ended runs say so, strangers are welcomed."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import select

from engage.scheduling import expire_runs
from store.models import CONSENT_OPTED_IN, Address, Contact, OutboxMessage, Run
from tests.engage.test_conversations import answers, last_payload, outbox, text_in

PHONE = "+447700900301"


def runs(db) -> list[tuple[str, str]]:
    with db.session() as s:
        return [(r.flow_id, r.status) for r in s.scalars(select(Run).order_by(Run.id))]


def welsh_resident(db, phone: str = PHONE) -> None:
    with db.session() as s:
        contact = Contact(fields={}, language="cy")
        s.add(contact)
        s.flush()
        s.add(Address(contact_id=contact.id, channel="sms", address=phone, consent=CONSENT_OPTED_IN))


# ----- 1. another flow's keyword inside an answer is an answer -------------------------------------------


def test_a_closed_flows_keyword_typed_as_an_answer_is_the_answer(services, db):
    # "Crime" is crime-perception's keyword, and that consultation closed on 18 October 2026.
    for reply in ["SAFE", "unsafe", "Crime"]:
        text_in(services, reply, address=PHONE)
    assert answers(db) == {"feel_safe": "unsafe", "where": "Crime"}
    payload = last_payload(db)
    assert payload["step_id"] == "age"
    assert "closed" not in payload["text"]
    assert runs(db) == [("street-safety", "active")]


def test_an_open_flows_keyword_typed_as_an_answer_does_not_end_the_survey(services, db):
    # PANEL starts the citizens' panel, open all winter: inside the survey it is just the answer.
    for reply in ["SAFE", "2", "panel"]:
        text_in(services, reply, address=PHONE)
    assert answers(db)["where"] == "panel"
    assert runs(db) == [("street-safety", "active")]
    text_in(services, "3", address=PHONE)
    assert runs(db) == [("street-safety", "completed")]
    text_in(services, "PANEL", address=PHONE)  # once the survey is finished the keyword starts the panel
    assert runs(db)[-1] == ("citizens-panel", "active")


def test_global_words_still_act_inside_a_run_and_help_says_how_to_change_survey(services, db):
    text_in(services, "SAFE", address=PHONE)
    text_in(services, "INFO", address=PHONE)  # (a bare HELP is read as Welsh as well as English)
    help_text = last_payload(db)["text"]
    assert "Harlow Council" in help_text and "STOP" in help_text
    assert "finish this one or wait until it ends" in help_text
    assert runs(db) == [("street-safety", "active")]
    text_in(services, "STOP", address=PHONE)
    assert runs(db) == [("street-safety", "ended")]


def test_help_outside_a_run_does_not_talk_about_one(services, db):
    text_in(services, "INFO", address=PHONE)
    assert "Harlow Council" in last_payload(db)["text"]
    assert "finish this one" not in last_payload(db)["text"]


def test_help_in_a_run_in_welsh(services, db):
    welsh_resident(db)
    text_in(services, "DIOGEL", address=PHONE)
    text_in(services, "CYMORTH", address=PHONE)
    text = last_payload(db)["text"]
    assert "finish this one" not in text and "Harlow Council" in text
    assert "arolwg" in text  # the in-run line is in Welsh too


# ----- 2. a late reply to an expired run -----------------------------------------------------------------


def test_a_late_reply_to_an_expired_run_says_the_survey_ended_and_how_to_start_again(services, db, clock):
    text_in(services, "SAFE", address=PHONE)
    clock.advance(hours=49)
    text_in(services, "2", address=PHONE)
    text = last_payload(db)["text"]
    assert "survey has ended" in text and "reply SAFE" in text
    assert "did not understand" not in text
    assert answers(db) == {}
    assert runs(db) == [("street-safety", "expired")]


def test_a_run_the_sweep_expired_gets_the_same_answer_in_welsh(services, db, clock):
    welsh_resident(db)
    text_in(services, "DIOGEL", address=PHONE)
    clock.advance(hours=49)
    assert expire_runs(services) == 1
    text_in(services, "Stryd Fawr", address=PHONE)
    text = last_payload(db)["text"]
    # Welsh words, and the keyword that starts the flow again in Welsh.
    assert "ddrwg gennym" in text and "DIOGEL" in text
    assert "Sorry" not in text and "SAFE" not in text
    with db.session() as s:
        assert s.scalar(select(OutboxMessage.language).order_by(OutboxMessage.id.desc()).limit(1)) == "cy"


def test_a_late_reply_after_the_consultation_closed_says_it_closed(services, db, clock):
    text_in(services, "SAFE", address=PHONE)
    clock.set(datetime(2027, 1, 5, 12, 0, tzinfo=timezone.utc))
    assert expire_runs(services) == 1
    text_in(services, "2", address=PHONE)
    assert last_payload(db)["text"] == "This consultation closed on 31 December 2026. Thank you."


def test_a_late_reply_after_a_completed_run_is_still_not_understood(services, db):
    for reply in ["SAFE", "1", "2"]:
        text_in(services, reply, address=PHONE)
    text_in(services, "hello", address=PHONE)
    assert "did not understand" in last_payload(db)["text"]


# ----- 3. no "welcome back" for strangers --------------------------------------------------------------


def test_start_from_a_never_seen_number_is_welcomed_with_help(services, db):
    text_in(services, "START", address=PHONE)
    text = last_payload(db)["text"]
    assert text.startswith("Welcome.")
    assert "Welcome back" not in text and "again" not in text
    assert "Harlow Council" in text and "SAFE" in text and "STOP" in text
    with db.session() as s:
        assert s.scalar(select(Address.consent).where(Address.address == PHONE)) == CONSENT_OPTED_IN


def test_start_after_stop_is_still_welcome_back(services, db):
    text_in(services, "STOP", address=PHONE)
    text_in(services, "START", address=PHONE)
    assert last_payload(db)["text"].startswith("Welcome back.")


def test_start_from_someone_already_in_is_help_not_welcome_back(services, db):
    text_in(services, "HELP", address=PHONE)
    text_in(services, "START", address=PHONE)
    rows = outbox(db)
    assert "Welcome back" not in rows[-1].payload["text"]
    assert "SAFE" in rows[-1].payload["text"]

