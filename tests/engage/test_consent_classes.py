"""Consent that means what it says: taking part in a consultation is consent to that conversation and
its "you said, we did", nothing more. Broadcasts are "service" or "promotional", and each reaches only
residents with a recorded basis for it. STOP by SMS stops every message on every channel."""
from __future__ import annotations

import random

import pytest
from sqlalchemy import select

from bot.ratelimit import RateLimiter
from bot.sender import OutboxSender
from engage.broadcasts import BroadcastError, create_broadcast, fire_broadcast
from engage.consent import bases_of
from engage.contacts import create_contact
from engage.segments import create_segment
from engage.updates import create_update, send_update
from store.models import Address, ConsentRecord, Contact, OutboxMessage
from tests.support.contacts import mobile, text_in
from tests.support.telegram_fake import running_fake_telegram, telegram_settings
from tests.support.twilio_fake import fake_twilio, twilio_settings  # noqa: F401  (a fixture)

SURVEYED, LISTED, PROMO, PANEL = mobile(11), mobile(12), mobile(13), mobile(14)
CHAT = "4455667788"


@pytest.fixture
def fake_telegram():
    with running_fake_telegram() as server:
        yield server


@pytest.fixture
def app_config(app_config, fake_telegram, fake_twilio):  # noqa: F811
    return {**app_config, **telegram_settings(fake_telegram), **twilio_settings(fake_twilio)}


@pytest.fixture
def residents(services, db, clock):
    """One who only answered a survey by text, one imported with a source, one who also agreed to
    promotional messages, and one who joined the citizens' panel by text."""
    for text in ("SAFE", "1", "Station Road", "3"):
        text_in(services, text, SURVEYED)
    with db.session() as s:
        create_contact(s, clock.now(), phone=LISTED, consent_source="Tenants' newsletter form")
        create_contact(s, clock.now(), phone=PROMO, consent_source="Events sign-up sheet",
                       consent_for=("service", "promotional"))
    for text in ("PANEL", "Yes"):
        text_in(services, text, PANEL)
    with db.session() as s:
        return {a.address: a.contact_id for a in s.scalars(select(Address))}


def fire(services, message_class: str | None = None, text: str = "Bins go out on Tuesday."):
    now = services.clock.now()
    with services.db.session() as s:
        segment = create_segment(s, f"everyone {random.random()}", {"all": []}, now)
        kwargs = {"message_class": message_class} if message_class else {}
        broadcast_id = create_broadcast(s, name="b", segment=segment, now=now, tz="Europe/London",
                                        texts={"en": text}, **kwargs).id
    return broadcast_id, fire_broadcast(services, broadcast_id)


def queued_to(db, broadcast_id) -> set[int]:
    with db.session() as s:
        return set(s.scalars(select(OutboxMessage.contact_id).where(OutboxMessage.broadcast_id == broadcast_id)))


def test_each_class_of_broadcast_reaches_only_residents_with_a_basis_for_it(services, db, residents):
    with db.session() as s:
        assert bases_of(s, residents.values()) == {
            residents[LISTED]: {"service"}, residents[PROMO]: {"service", "promotional"},
            residents[PANEL]: {"service"}}

    promo_id, promo = fire(services, "promotional", "Promo: come to our event")
    assert queued_to(db, promo_id) == {residents[PROMO]}
    assert promo.skipped == {"no_promotional_basis": 3}

    # The default class is service: the resident who only answered a survey is not on any list.
    service_id, service = fire(services)
    assert queued_to(db, service_id) == {residents[LISTED], residents[PROMO], residents[PANEL]}
    assert service.skipped == {"no_service_basis": 1}
    with db.session() as s:
        from store.models.outreach import BroadcastOccurrence

        assert s.scalar(select(BroadcastOccurrence.skipped).where(
            BroadcastOccurrence.broadcast_id == promo_id)) == {"no_promotional_basis": 3}


def test_you_said_we_did_still_goes_to_everyone_who_took_part(services, db, residents):
    with db.session() as s:
        update_id = create_update(s, services.registry.get("street-safety"), {"en": {
            "said": "You said the station is dark.", "did": "We fixed the lights.", "why": "Most of you said so."}},
            services.clock.now()).id
    assert send_update(services, update_id)["queued"] == 1
    with db.session() as s:
        assert s.scalar(select(OutboxMessage.contact_id).where(OutboxMessage.kind == "update")) \
            == residents[SURVEYED]


def test_a_basis_withdrawn_after_queueing_is_checked_again_when_sending(services, db, residents, clock,
                                                                       fake_twilio):  # noqa: F811
    broadcast_id, _result = fire(services, "promotional", "Promo: our winter fair")
    from engage.consent import record_basis

    with db.session() as s:
        record_basis(s, s.get(Contact, residents[PROMO]), "promotional", clock.now(), source="officer",
                     action="opt_out")
    sender = OutboxSender.from_services(services, services.extras["channels"], limiter=RateLimiter({}))
    sender.drain()
    with db.session() as s:
        row = s.scalar(select(OutboxMessage).where(OutboxMessage.broadcast_id == broadcast_id))
        assert (row.status, row.error_code) == ("skipped", "no_promotional_basis")
    assert fake_twilio.fake.messages_to(PROMO) == []


def test_a_future_consultations_question_records_the_basis_and_a_no_withdraws_it(services, db, clock):
    from tests.support.contacts import publish

    publish(services, """
id: bins-feedback
title: Bins
languages: [en]
keywords: [BINS]
allow_change: true
steps:
  - id: rating
    ask: {en: How are the bins?}
    choices:
      - {value: good, en: Good}
      - {value: bad, en: Bad}
  - id: future
    ask: {en: May we text you about future consultations?}
    yes_no: {}
    consent_for: service
""")
    for text in ("BINS", "1", "Yes"):
        text_in(services, text, SURVEYED)
    with db.session() as s:
        contact_id = s.scalar(select(Address.contact_id).where(Address.address == SURVEYED))
        record = s.scalar(select(ConsentRecord).where(ConsentRecord.scope == "service"))
        assert (record.action, record.source, record.wording) == (
            "opt_in", "flow", "May we text you about future consultations?")
        assert bases_of(s, [contact_id]) == {contact_id: {"service"}}
    clock.advance(days=1)
    for text in ("BINS", "2", "No"):
        text_in(services, text, SURVEYED)
    with db.session() as s:
        assert bases_of(s, [contact_id]) == {}


def test_a_broadcast_class_must_be_service_or_promotional(services, db, clock):
    with db.session() as s:
        segment = create_segment(s, "all", {"all": []}, clock.now())
        with pytest.raises(BroadcastError, match="service or promotional"):
            create_broadcast(s, name="x", segment=segment, now=clock.now(), tz="Europe/London",
                             texts={"en": "Hi"}, message_class="marketing")


def test_stop_by_sms_stops_broadcasts_on_telegram_too(services, db, clock, fake_telegram):
    with db.session() as s:
        contact = create_contact(s, clock.now(), phone=LISTED, telegram_id=CHAT, consent_source="Form")
        s.flush()
        telegram = next(a for a in contact.addresses if a.channel == "telegram")
        telegram.preferred = True
        # A broadcast already waiting for Telegram must not go either.
        s.add(OutboxMessage(contact_id=contact.id, address_id=telegram.id, channel="telegram", kind="broadcast",
                            payload={"type": "text", "text": "Earlier news"}, status="queued",
                            created_at=clock.now(), updated_at=clock.now()))
    text_in(services, "STOP", LISTED)
    with db.session() as s:
        assert {a.channel: a.consent for a in s.scalars(select(Address))} == {
            "sms": "opted_out", "telegram": "opted_out"}
        confirmation = s.scalar(select(OutboxMessage).where(OutboxMessage.kind == "stop_confirmation"))
        assert "by text, Telegram or web chat" in confirmation.payload["text"]
    _id, result = fire(services)
    assert result.queued == 0 and result.skipped == {"opted_out": 1}
    sender = OutboxSender.from_services(services, services.extras["channels"], limiter=RateLimiter({}))
    sender.drain()
    assert fake_telegram.fake.sent_messages(CHAT) == []
    with db.session() as s:
        row = s.scalar(select(OutboxMessage).where(OutboxMessage.channel == "telegram"))
        assert (row.status, row.error_code) == ("skipped", "opted_out")
