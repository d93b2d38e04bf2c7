"""A STOP or an erasure that commits while the sender is part-way through a batch stops the rest of it:
the consent check runs again for each message just before the provider is called."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from engage.outbox import priority_for
from engage.privacy import erase_contact
from store.models import OutboxMessage
from tests.support.outreach import make_contact

pytestmark = pytest.mark.fault


@pytest.fixture
def app_config(app_config):
    # The held request must not time out in the adapter (0.5 s in the shared settings) while the test
    # commits the STOP: the hold ends when the test releases it, whatever the machine's speed.
    return {**app_config, "twilio_timeout": 30}


def queue(s, contact, kind: str, text: str, now) -> int:
    address = contact.addresses[0]
    row = OutboxMessage(contact_id=contact.id, address_id=address.id, channel=address.channel, kind=kind,
                        priority=priority_for("reply"), language="en", status="queued",
                        payload={"type": "text", "text": text, "lang": "en"}, created_at=now, updated_at=now)
    s.add(row)
    s.flush()
    return row.id


def test_a_stop_and_an_erasure_committed_mid_batch_stop_the_rest_of_the_batch(services, db, clock, sender,
                                                                            fake_twilio):
    fake = fake_twilio.fake
    with db.session() as s:
        first, stopper, erased, last = (make_contact(s) for _ in range(4))
        phones = {c.id: c.addresses[0].address for c in (first, stopper, erased, last)}
        ids = {"first": queue(s, first, "reply", "Your question", clock.now())}
        ids["stopper"] = [queue(s, stopper, "reply", f"Question {n}", clock.now()) for n in range(2)]
        ids["erased"] = queue(s, erased, "reply", "Another question", clock.now())
        ids["last"] = queue(s, last, "reply", "Thank you", clock.now())
        stopper_id, erased_id = stopper.id, erased.id
    arrived, release = fake.hold(phones[first.id])
    worker = threading.Thread(target=sender.send_due)
    worker.start()
    try:
        # The whole batch is claimed and the sender is at the provider with the first message.
        assert arrived.wait(10)
        with db.session() as s:
            assert {r.status for r in s.scalars(select(OutboxMessage))} == {"sending"}
        row_id, _ = services.conversations.store_inbound("sms", "SM" + "5" * 32, phones[stopper_id], "STOP", {})
        services.conversations.process_inbound(row_id)
        with db.session() as s:
            erase_contact(s, erased_id, clock.now())
    finally:
        release.set()
        worker.join(20)
    assert not worker.is_alive()

    # Nothing went to the resident after the STOP committed, nor to the erased one.
    assert [m.body for m in fake.messages_to(phones[first.id])] == ["Your question"]
    assert fake.messages_to(phones[stopper_id]) == []
    assert fake.messages_to(phones[erased_id]) == []
    assert [m.body for m in fake.messages_to(phones[last.id])] == ["Thank you"]
    with db.session() as s:
        rows = {r.id: r for r in s.scalars(select(OutboxMessage))}
        assert {(rows[i].status, rows[i].error_code) for i in ids["stopper"]} == {("skipped", "opted_out")}
        assert (rows[ids["erased"]].status, rows[ids["erased"]].error_code) == ("skipped", "erased")
        assert all(r.provider_id is None for r in rows.values() if r.status == "skipped")

    # The next batch takes the one message allowed after a STOP: its confirmation.
    sender.drain()
    [confirmation] = fake.messages_to(phones[stopper_id])
    assert "no more messages" in confirmation.body
    assert fake.messages_to(phones[erased_id]) == []
