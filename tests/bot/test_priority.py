"""Replies ahead of bulk: every way a message is queued sets its priority, and a reply queued while a bulk
batch is going out is sent before the rest of that batch."""
from __future__ import annotations

import random
import threading
from datetime import timedelta

from sqlalchemy import select

from bot.ratelimit import RateLimiter
from bot.sender import OutboxSender, SenderPolicy
from engage.broadcasts import create_broadcast, fire_broadcast
from engage.consent import BULK_KINDS
from engage.outbox import PRIORITY_BULK, PRIORITY_REPLY
from engage.reminders import send_reminders
from engage.segments import create_segment
from engage.updates import create_update, send_update
from store.models import Address, OutboxMessage
from tests.bot.conftest import add_resident, queue_message
from tests.support.contacts import mobile, text_in
from tests.support.outreach import engage_services, make_contact, make_run
from tests.support.twilio_fake import sms_channel


def test_replies_and_system_messages_go_first_and_every_bulk_kind_after(db, clock, app_config):
    services = engage_services(db, clock, app_config)
    panel = services.registry.get("citizens-panel")
    with db.session() as s:
        for _ in range(2):
            make_contact(s, ward="Netteswell")
        segment = create_segment(s, "everyone", {"all": []}, clock.now())
        texts = create_broadcast(s, name="bins", segment=segment, now=clock.now(), tz="Europe/London",
                                 texts={"en": "Bins go out on Tuesday."}).id
        starts = create_broadcast(s, name="panel", segment=segment, now=clock.now(), tz="Europe/London",
                                  flow=panel).id
    fire_broadcast(services, texts)
    fire_broadcast(services, starts)  # each resident's first panel question, queued as bulk
    with db.session() as s:
        invited = s.scalar(select(Address.address).join(OutboxMessage, OutboxMessage.address_id == Address.id)
                           .where(OutboxMessage.broadcast_id == starts).limit(1))
        before = set(s.scalars(select(OutboxMessage.id)))
    # The invited resident answers the broadcast's question: what comes back is a live reply.
    text_in(services, "1", invited)
    with db.session() as s:
        answered = s.scalars(select(OutboxMessage).where(OutboxMessage.id.not_in(before))).all()
        assert answered and {(m.kind, m.priority) for m in answered} == {("reply", PRIORITY_REPLY)}
    # Residents who write to us: a conversation, HELP, STOP (the confirmation).
    for word in ("SAFE", "HELP", "STOP"):
        text_in(services, word, mobile(7))
    clock.advance(hours=25)
    with db.session() as s:  # a resident who went quiet in the panel (the invited two had two bulk messages)
        make_run(s, make_contact(s), "citizens-panel", "active", clock.now() - timedelta(hours=25))
    assert send_reminders(services)["queued"] >= 1
    with db.session() as s:
        update = create_update(s, panel, {"en": {"said": "You asked", "did": "We did", "why": "Because"}},
                               clock.now(), include_started=True).id
    send_update(services, update)

    with db.session() as s:
        rows = s.execute(select(OutboxMessage.kind, OutboxMessage.priority)).all()
    kinds = {kind for kind, _ in rows}
    assert {"reply", "system", "stop_confirmation", "broadcast", "reminder", "update"} <= kinds
    wrong = [(kind, priority) for kind, priority in rows
             if priority != (PRIORITY_BULK if kind in BULK_KINDS else PRIORITY_REPLY)]
    assert wrong == []


def test_a_reply_queued_while_a_bulk_batch_goes_out_is_sent_before_the_rest_of_it(db, clock, fake_twilio):
    residents = [add_resident(db, clock) for _ in range(6)]
    for resident in residents[:5]:
        queue_message(db, clock, resident, kind="reminder", text="Bulk message.")
    answering = residents[5]
    # The provider holds the first bulk message until the resident's reply has been queued.
    arrived, release = fake_twilio.fake.hold(residents[0].address)
    sender = OutboxSender(db, clock, {"sms": sms_channel(fake_twilio)}, limiter=RateLimiter({}),
                          policy=SenderPolicy(reply_check_seconds=0.0), rng=random.Random(1))
    batch = threading.Thread(target=sender.send_due)
    batch.start()
    assert arrived.wait(10)
    queue_message(db, clock, answering, text="Next question?")
    release.set()
    batch.join(10)
    sender.drain()

    order = [m.to for m in fake_twilio.fake.messages]
    assert order[:2] == [residents[0].address, answering.address]
    assert sorted(order[2:]) == sorted(r.address for r in residents[1:5])
    with db.session() as s:
        assert set(s.scalars(select(OutboxMessage.status))) == {"sent"}


def test_a_bulk_batch_is_not_cut_short_without_a_reply_waiting(db, clock, fake_twilio):
    residents = [add_resident(db, clock) for _ in range(4)]
    for resident in residents:
        queue_message(db, clock, resident, kind="broadcast", text="Bulk message.")
    # A reply that is not due yet (sent later, after a retry's backoff) does not interrupt the batch.
    queue_message(db, clock, add_resident(db, clock), not_before=clock.now() + timedelta(minutes=5))
    sender = OutboxSender(db, clock, {"sms": sms_channel(fake_twilio)}, limiter=RateLimiter({}),
                          policy=SenderPolicy(reply_check_seconds=0.0), rng=random.Random(1))
    assert sender.send_due() == 4
    assert len(fake_twilio.fake.messages) == 4
