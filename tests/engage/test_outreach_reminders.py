"""Reminders: once per run, only to residents who went quiet, in their language, after quiet hours."""
from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from engage.broadcasts import create_broadcast, fire_broadcast
from engage.reminders import send_reminders
from engage.segments import create_segment
from store.models import CONSENT_OPTED_OUT, OutboxMessage
from tests.conftest import DEFAULT_NOW
from tests.support.outreach import engage_services, make_contact, make_run

UTC = timezone.utc


@pytest.fixture
def services(db, clock, app_config):
    return engage_services(db, clock, app_config)


def panel_reminder(services, lang: str) -> str:
    text = services.registry.get("citizens-panel").reminder["text"][lang]
    assert text  # the flow's own words, whatever the translators settle on
    return text


def reminders(db):
    with db.session() as s:
        return s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "reminder")
                         .order_by(OutboxMessage.id)).all()


def test_reminder_reaches_only_residents_who_went_quiet(services, db):
    long_ago = DEFAULT_NOW - timedelta(hours=25)
    with db.session() as s:
        quiet = make_run(s, make_contact(s), "citizens-panel", "active", long_ago)
        make_run(s, make_contact(s), "citizens-panel", "completed", long_ago)
        make_run(s, make_contact(s), "citizens-panel", "active", DEFAULT_NOW - timedelta(hours=2))
        make_run(s, make_contact(s, consent=CONSENT_OPTED_OUT), "citizens-panel", "active", long_ago)
        make_run(s, make_contact(s), "street-safety", "active", long_ago)  # no reminder in that flow
        make_run(s, make_contact(s), "crime-perception", "active", long_ago)  # consultation closed
        quiet_id = quiet.id
    assert send_reminders(services) == {"queued": 1, "opted_out": 1}
    [row] = reminders(db)
    assert (row.run_id, row.dedupe_key, row.not_before) == (quiet_id, f"reminder:run:{quiet_id}", DEFAULT_NOW)
    assert row.payload["text"] == f"{panel_reminder(services, 'en')} Reply STOP to stop messages from Harlow Council."
    assert send_reminders(services)["queued"] == 0
    assert len(reminders(db)) == 1


def test_reminder_is_in_the_residents_language_and_waits_for_morning(services, db, clock):
    clock.set(datetime(2026, 12, 2, 22, 0, tzinfo=UTC))
    with db.session() as s:
        make_run(s, make_contact(s, language="cy"), "citizens-panel", "active", clock.now() - timedelta(hours=30))
    send_reminders(services)
    [row] = reminders(db)
    assert row.language == "cy" and row.payload["text"].startswith(panel_reminder(services, "cy"))
    assert row.not_before == datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


def test_residents_sent_a_flow_who_never_answered_are_reminded(services, db, clock):
    with db.session() as s:
        make_contact(s)
        segment = create_segment(s, "everyone", {"all": []}, DEFAULT_NOW)
        broadcast_id = create_broadcast(s, name="panel", segment=segment, now=DEFAULT_NOW, tz="Europe/London",
                                        flow=services.registry.get("citizens-panel")).id
    fire_broadcast(services, broadcast_id)
    assert send_reminders(services)["queued"] == 0  # not yet a day
    clock.advance(hours=25)
    assert send_reminders(services)["queued"] == 1
    [row] = reminders(db)
    assert row.payload["flow_id"] == "citizens-panel"


def test_reminders_respect_the_fatigue_cap(services, db):
    from tests.support.outreach import make_sent

    with db.session() as s:
        tired = make_contact(s)
        make_sent(s, tired, DEFAULT_NOW - timedelta(days=1))
        make_sent(s, tired, DEFAULT_NOW - timedelta(days=2))
        make_run(s, tired, "citizens-panel", "active", DEFAULT_NOW - timedelta(hours=25))
    assert send_reminders(services) == {"queued": 0, "fatigue": 1}


_provider_ids = itertools.count(1)


def say(services, text, address="+447700900123"):
    row_id, _ = services.conversations.store_inbound("sms", f"SMrem{next(_provider_ids)}", address, text, {})
    services.conversations.process_inbound(row_id)


def test_a_reminder_asks_the_waiting_question_again_with_its_options(services, db, clock):
    say(services, "PANEL")
    say(services, "yes")  # consent: the run now waits on "How old are you?"
    clock.advance(hours=25)
    assert send_reminders(services)["queued"] == 1
    [row] = reminders(db)
    payload = row.payload
    assert (payload["type"], payload["step_id"], payload["kind"], payload["reprompt"]) == (
        "question", "age", "choice", True)
    assert [c["value"] for c in payload["choices"]] == ["under_18", "18_64", "65_plus"]
    intro = f"{panel_reminder(services, 'en')} Reply STOP to stop messages from Harlow Council."
    assert payload["intro"] == [intro] and payload["text"] == f"{intro}\n\nHow old are you?"
    from bot.render import render_sms

    assert render_sms(payload) == (f"{intro}\n\nHow old are you?\n\n1. Under 18\n2. 18 to 64\n3. 65 or over\n\n"
                                   "Reply 1, 2 or 3")
    # The resident answers the question the reminder asked, and the run goes on.
    say(services, "2")
    with db.session() as s:
        from store.models import Answer

        assert s.scalar(select(Answer.value).where(Answer.step_id == "age")) == "18_64"


def test_a_welsh_reminder_asks_the_question_in_welsh(services, db, clock):
    with db.session() as s:
        make_contact(s, language="cy").addresses[0].address = "+447700900124"
    say(services, "YMUNO", address="+447700900124")
    say(services, "ydw", address="+447700900124")
    clock.advance(hours=25)
    send_reminders(services)
    [row] = reminders(db)
    assert row.payload["text"].endswith("Faint yw eich oed?")
    assert row.payload["text"].startswith(panel_reminder(services, "cy"))
    assert [c["label"] for c in row.payload["choices"]] == ["O dan 18", "18 i 64", "65 a throsodd"]
