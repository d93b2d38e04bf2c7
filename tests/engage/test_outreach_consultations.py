"""Consultation windows: a polite reply before opening, officers may preview, answers refused after closing."""
from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from store.models import OutboxMessage, Run
from tests.support.outreach import engage_services, make_contact

UTC = timezone.utc
_ids = itertools.count(1)


@pytest.fixture
def services(db, clock, app_config):
    return engage_services(db, clock, app_config)


def text_in(services, text, address, channel="sms", **payload):
    row_id, _ = services.conversations.store_inbound(channel, f"SMC{next(_ids):030d}", address, text, payload)
    services.conversations.process_inbound(row_id)


def last_text(db) -> str:
    with db.session() as s:
        return s.scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc())).first().payload["text"]


def resident(db, language=None) -> str:
    with db.session() as s:
        return make_contact(s, language=language).addresses[0].address


def test_after_closing_the_answer_is_refused_in_english(services, db, clock):
    clock.set(datetime(2027, 1, 5, 12, 0, tzinfo=UTC))
    text_in(services, "SAFE", resident(db))
    assert last_text(db) == "This consultation closed on 31 December 2026. Thank you."
    with db.session() as s:
        assert s.scalar(select(Run)) is None


def test_after_closing_the_answer_is_refused_in_welsh_with_a_welsh_date(services, db, clock):
    clock.set(datetime(2027, 1, 5, 12, 0, tzinfo=UTC))
    text_in(services, "DIOGEL", resident(db, language="cy"))
    assert last_text(db) == "Caeodd yr ymgynghoriad hwn ar 31 Rhagfyr 2026. Diolch."


def test_an_answer_to_an_open_run_after_closing_is_refused_and_the_run_ended(services, db, clock):
    clock.set(datetime(2026, 12, 31, 22, 0, tzinfo=UTC))
    phone = resident(db)
    text_in(services, "SAFE", phone)
    clock.advance(hours=3)  # 01:00 on 1 January
    text_in(services, "1", phone)
    assert last_text(db) == "This consultation closed on 31 December 2026. Thank you."
    with db.session() as s:
        assert s.scalar(select(Run.status)) == "ended"


def test_before_opening_a_keyword_gets_a_polite_reply(services, db, clock):
    clock.set(datetime(2026, 11, 20, 12, 0, tzinfo=UTC))
    text_in(services, "SAFE", resident(db))
    assert last_text(db) == "Thank you. This consultation opens on 1 December 2026. Please message us again then."


def test_officers_can_preview_before_opening(services, db, clock):
    clock.set(datetime(2026, 11, 20, 12, 0, tzinfo=UTC))
    text_in(services, "SAFE", resident(db), preview=True)
    assert last_text(db).startswith("How safe do you feel")


def test_the_last_day_is_still_open(services, db, clock):
    clock.set(datetime(2026, 12, 31, 23, 0, tzinfo=UTC) - timedelta(minutes=1))
    text_in(services, "SAFE", resident(db))
    assert last_text(db).startswith("How safe do you feel")
