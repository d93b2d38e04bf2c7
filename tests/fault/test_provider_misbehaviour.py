"""The fake Twilio misbehaves (429 storms, 500s, slow answers, dropped connections, permanent errors):
retries back off, permanent errors are not retried, an outcome that cannot be known is left `unknown`,
and no row is lost from the outbox or sent twice."""
from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.sender import recover_stuck_sending
from engage.consent import record_basis
from engage.outbox import priority_for
from store.models import Contact, OutboxMessage
from tests.support.outreach import make_contact
from tests.support.timeouts import TOO_LATE

pytestmark = pytest.mark.fault


def queue_replies(db, clock, count: int) -> dict[int, str]:
    """Queue one reply to each of `count` new residents; return {outbox id: phone}."""
    queued = {}
    with db.session() as s:
        for n in range(count):
            contact = make_contact(s)
            address = contact.addresses[0]
            row = OutboxMessage(contact_id=contact.id, address_id=address.id, channel="sms", kind="reply",
                                priority=priority_for("reply"), language="en", status="queued",
                                payload={"type": "text", "text": f"Message {n}", "lang": "en"},
                                created_at=clock.now(), updated_at=clock.now())
            s.add(row)
            s.flush()
            queued[row.id] = address.address
    return queued


def drain_until_settled(sender, clock, rounds: int = 40) -> None:
    """Send, then move the clock past every backoff, until nothing is left queued."""
    for _ in range(rounds):
        sender.drain()
        with sender.db.session() as s:
            waiting = s.scalars(select(OutboxMessage.not_before).where(OutboxMessage.status == "queued")).all()
        if not waiting:
            return
        clock.set(max(w for w in waiting if w is not None) if any(waiting) else clock.now())
        clock.advance(seconds=1)
    raise AssertionError("the outbox never settled")


def statuses(db) -> dict[int, OutboxMessage]:
    with db.session() as s:
        rows = s.scalars(select(OutboxMessage)).all()
        s.expunge_all()
        return {r.id: r for r in rows}


def accepted_per_number(fake_twilio) -> Counter:
    return Counter(m.to for m in fake_twilio.fake.messages)


def test_a_429_storm_and_500s_delay_messages_but_lose_or_repeat_none(db, clock, sender, fake_twilio):
    queued = queue_replies(db, clock, 12)
    fake_twilio.fake.fail(status=429, times=15, retry_after=2)
    fake_twilio.fake.fail(status=500, times=6)
    fake_twilio.fake.fail(status=503, code=20503, times=3)

    drain_until_settled(sender, clock)

    rows = statuses(db)
    assert {rows[i].status for i in queued} == {"sent"}
    assert accepted_per_number(fake_twilio) == Counter(queued.values())  # each exactly once
    # 24 scripted failures, then 12 accepted: every request was one attempt of one row.
    assert sum(rows[i].attempts for i in queued) == len(fake_twilio.fake.requests) == 36
    assert {queued[i]: rows[i].provider_id for i in queued} == {m.to: m.sid for m in fake_twilio.fake.messages}


def test_backoff_grows_and_honours_retry_after(db, clock, sender, fake_twilio):
    [row_id] = queue_replies(db, clock, 1)
    fake_twilio.fake.fail(status=429, times=3, retry_after=120)
    waits = []
    for _ in range(3):
        start = clock.now()
        sender.drain()
        row = statuses(db)[row_id]
        assert row.status == "queued"
        waits.append((row.not_before - start).total_seconds())
        clock.set(row.not_before)
    assert all(w >= 120 for w in waits)  # Retry-After is a floor
    sender.drain()
    assert statuses(db)[row_id].status == "sent"


def test_a_provider_that_always_fails_is_tried_for_the_replys_validity_then_fails_visibly(db, clock, sender,
                                                                                          fake_twilio):
    [row_id] = queue_replies(db, clock, 1)
    queued_at = clock.now()
    fake_twilio.fake.down()
    drain_until_settled(sender, clock, rounds=100)
    row = statuses(db)[row_id]
    assert (row.status, row.error_code) == ("failed", "expired")
    assert "20503" in row.error_message
    # Tried with backoff for the whole hour (the last try at its very end), then given up.
    assert clock.now() - queued_at >= sender.policy.reply_validity >= timedelta(minutes=30)
    assert row.attempts == len(fake_twilio.fake.requests) > 5
    assert not fake_twilio.fake.messages


def test_an_attempt_limit_still_caps_tries_when_set(db, clock, services, fake_twilio):
    from bot.ratelimit import RateLimiter
    from bot.sender import OutboxSender, SenderPolicy

    capped = OutboxSender.from_services(services, services.extras["channels"], limiter=RateLimiter({}),
                                        policy=SenderPolicy(max_attempts=3))
    [row_id] = queue_replies(db, clock, 1)
    fake_twilio.fake.fail(status=500, times=50)
    drain_until_settled(capped, clock)
    row = statuses(db)[row_id]
    assert (row.status, row.attempts, len(fake_twilio.fake.requests)) == ("failed", 3, 3)


def test_a_ten_minute_outage_loses_nothing(db, clock, sender, fake_twilio, services):
    """Twilio answers 503 to everything for ten minutes of test-clock time: every reply and every
    broadcast row still goes, exactly once, once it is back."""
    from engage.broadcasts import create_broadcast, fire_broadcast
    from engage.segments import create_segment

    clock.set(clock.now().replace(hour=11))  # daytime: broadcast rows are not held for quiet hours
    queued = queue_replies(db, clock, 6)
    with db.session() as s:
        for row in s.scalars(select(OutboxMessage)).all():
            record_basis(s, s.get(Contact, row.contact_id), "service", clock.now(), source="import")
        for _ in range(4):
            contact = make_contact(s)
            record_basis(s, contact, "service", clock.now(), source="import")
            queued[-contact.id] = contact.addresses[0].address
        segment = create_segment(s, "everyone", {"all": []}, clock.now())
        broadcast_id = create_broadcast(s, name="bins", segment=segment, now=clock.now(), tz="Europe/London",
                                        texts={"en": "Bins go out on Tuesday."}).id
    fire_broadcast(services, broadcast_id)
    outage_ends = clock.now() + timedelta(minutes=10)
    fake_twilio.fake.down()
    for _ in range(200):
        if clock.now() >= outage_ends:
            fake_twilio.fake.up()
        sender.drain()
        with db.session() as s:
            waiting = s.scalars(select(OutboxMessage.not_before).where(OutboxMessage.status == "queued")).all()
        if not waiting:
            break
        clock.set(max(clock.now() + timedelta(seconds=1), min(w for w in waiting if w is not None)))
    rows = statuses(db)
    assert {r.status for r in rows.values()} == {"sent"}
    assert any(r.attempts > 3 for r in rows.values())  # the outage was felt
    assert clock.now() >= outage_ends
    # Every resident got each message once: the six replies and the ten broadcast copies.
    assert sorted(Counter(m.to for m in fake_twilio.fake.messages).values()) == [1] * 4 + [2] * 6
    with db.session() as s:
        bulk = s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "broadcast")).all()
        assert all(r.expires_at is not None and r.expires_at > r.created_at + timedelta(hours=23) for r in bulk)


def test_a_broadcast_row_still_queued_after_its_validity_fails_as_expired(db, clock, sender, fake_twilio):
    [row_id] = queue_replies(db, clock, 1)
    with db.session() as s:
        row = s.get(OutboxMessage, row_id)
        row.kind, row.priority, row.expires_at = "update", 10, clock.now() + timedelta(hours=24)
    clock.set(clock.now().replace(hour=11) + timedelta(hours=25))
    sender.drain()
    row = statuses(db)[row_id]
    assert (row.status, row.error_code) == ("failed", "expired")
    assert not fake_twilio.fake.requests


def test_permanent_errors_are_tried_once_and_mark_the_address(db, clock, sender, fake_twilio):
    queued = queue_replies(db, clock, 3)
    ids = list(queued)
    fake_twilio.fake.reject_number(queued[ids[0]], 21610)
    fake_twilio.fake.reject_number(queued[ids[1]], 30006)
    drain_until_settled(sender, clock)
    rows = statuses(db)
    assert (rows[ids[0]].status, rows[ids[0]].error_code) == ("failed", "21610")
    assert (rows[ids[1]].status, rows[ids[1]].error_code) == ("failed", "30006")
    assert rows[ids[2]].status == "sent"
    tries = Counter(r["To"] for r in fake_twilio.fake.requests)
    assert tries[queued[ids[0]]] == tries[queued[ids[1]]] == 1


def test_slow_answers_and_dropped_connections_are_unknown_and_never_resent(db, clock, sender, fake_twilio):
    queued = queue_replies(db, clock, 4)
    ids = list(queued)
    # This answer comes long after the adapter's timeout, once the message was accepted.
    fake_twilio.fake.fail("slow", delay=TOO_LATE, to=queued[ids[0]])
    fake_twilio.fake.fail("reset", to=queued[ids[1]])
    drain_until_settled(sender, clock)
    clock.advance(hours=1)
    sender.drain()

    rows = statuses(db)
    assert rows[ids[0]].status == "unknown" and rows[ids[0]].error_code == "timeout"
    assert rows[ids[1]].status == "unknown"
    assert rows[ids[2]].status == rows[ids[3]].status == "sent"
    tries = Counter(r["To"] for r in fake_twilio.fake.requests)
    assert all(n == 1 for n in tries.values())


def test_rows_left_sending_by_a_dead_worker_become_unknown_not_resent(db, clock, sender, fake_twilio):
    queued = queue_replies(db, clock, 2)
    ids = list(queued)
    with db.session() as s:
        row = s.get(OutboxMessage, ids[0])
        row.status, row.sending_at = "sending", clock.now()
    clock.advance(minutes=2)
    assert recover_stuck_sending(db, clock.now(), sender.policy.stuck_after) == 0  # not stale yet
    clock.advance(minutes=4)
    assert recover_stuck_sending(db, clock.now(), sender.policy.stuck_after) == 1
    sender.drain()
    rows = statuses(db)
    assert (rows[ids[0]].status, rows[ids[0]].error_code) == ("unknown", "interrupted")
    assert rows[ids[1]].status == "sent"
    assert accepted_per_number(fake_twilio) == Counter({queued[ids[1]]: 1})
