"""The outbox sender against a real database and the fake Twilio server."""
from __future__ import annotations

import random
import threading
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from bot.channel import SendResult
from bot.ratelimit import ChannelLimit, RateLimiter
from bot.sender import (
    OutboxSender,
    QuietHours,
    SenderPolicy,
    backoff_delay,
    claim_due_messages,
    recover_stuck_sending,
    sender_loop,
)
from store.models import Address, ConsentRecord, Contact, OutboxMessage
from tests.bot.conftest import add_resident, outbox_row, queue_message
from tests.support.timeouts import SHORT_TIMEOUT, TOO_LATE
from tests.support.twilio_fake import sms_channel

NO_LIMITS = RateLimiter({})


@pytest.fixture
def sender(db, clock, fake_twilio):
    return OutboxSender(db, clock, {"sms": sms_channel(fake_twilio)}, limiter=NO_LIMITS,
                        policy=SenderPolicy(max_attempts=3, backoff_base=10, backoff_cap=60),
                        rng=random.Random(1))


def bodies(fake_twilio):
    return [m.body for m in fake_twilio.fake.messages]


def test_a_due_message_is_sent_once_and_recorded(db, clock, sender, fake_twilio):
    address = add_resident(db, clock)
    row_id = queue_message(db, clock, address)
    assert sender.drain() == 1
    assert sender.drain() == 0
    row = outbox_row(db, row_id)
    [message] = fake_twilio.fake.messages_to(address.address)
    assert (row.status, row.provider_id, row.segments, row.attempts) == ("sent", message.sid, 1, 1)
    assert row.sent_at == clock.now() and row.sending_at == clock.now()
    assert message.status_callback.endswith(f"/webhooks/twilio/status?o={row_id}")


def test_live_replies_go_ahead_of_bulk(db, clock, sender, fake_twilio):
    address = add_resident(db, clock)
    for n in range(3):
        queue_message(db, clock, address, kind="broadcast", text=f"bulk {n}")
    queue_message(db, clock, address, kind="reply", text="reply")
    queue_message(db, clock, address, kind="system", text="system")
    sender.drain()
    assert bodies(fake_twilio) == ["reply", "system", "bulk 0", "bulk 1", "bulk 2"]


def test_rows_not_yet_due_wait(db, clock, sender, fake_twilio):
    address = add_resident(db, clock)
    row_id = queue_message(db, clock, address, not_before=clock.now() + timedelta(minutes=5))
    assert sender.drain() == 0
    clock.advance(minutes=5)
    assert sender.drain() == 1
    assert outbox_row(db, row_id).status == "sent"


def test_consent_is_checked_again_at_send_time(db, clock, sender, fake_twilio):
    address = add_resident(db, clock)
    objector = add_resident(db, clock)
    opted_out = queue_message(db, clock, address, kind="broadcast")
    objected = queue_message(db, clock, objector, kind="update")
    with db.session() as s:
        s.get(Address, address.id).consent = "opted_out"
        s.get(Contact, objector.contact_id).do_not_contact = True
    sender.drain()
    assert fake_twilio.fake.messages == []
    assert (outbox_row(db, opted_out).status, outbox_row(db, opted_out).error_code) == ("skipped", "opted_out")
    assert (outbox_row(db, objected).status, outbox_row(db, objected).error_code) == ("skipped", "objected")


def test_bulk_waits_for_the_end_of_quiet_hours_but_replies_do_not(db, clock, sender, fake_twilio):
    clock.set(datetime(2026, 12, 2, 21, 30, tzinfo=timezone.utc))  # 21:30 in London
    address = add_resident(db, clock)
    bulk = queue_message(db, clock, address, kind="broadcast", text="bulk")
    queue_message(db, clock, address, kind="reply", text="reply")
    sender.drain()
    assert bodies(fake_twilio) == ["reply"]
    row = outbox_row(db, bulk)
    assert (row.status, row.not_before) == ("queued", datetime(2026, 12, 3, 9, 0, tzinfo=timezone.utc))
    clock.set(datetime(2026, 12, 3, 9, 0, tzinfo=timezone.utc))
    sender.drain()
    assert bodies(fake_twilio) == ["reply", "bulk"]


def test_quiet_hours_follow_the_council_settings(db, clock, fake_twilio):
    clock.set(datetime(2026, 12, 2, 12, 0, tzinfo=timezone.utc))
    address = add_resident(db, clock)
    row_id = queue_message(db, clock, address, kind="reminder")
    claimed = claim_due_messages(db, clock.now(), 10, ["sms"], quiet=QuietHours("11:00", "13:30", "Europe/London"))
    assert claimed == []
    assert outbox_row(db, row_id).not_before == datetime(2026, 12, 2, 13, 30, tzinfo=timezone.utc)


def test_only_the_given_channels_are_claimed(db, clock):
    address = add_resident(db, clock, phone="123456", channel="telegram")
    row_id = queue_message(db, clock, address)
    assert claim_due_messages(db, clock.now(), 10, ["sms"]) == []
    [claimed] = claim_due_messages(db, clock.now(), 10, ["telegram"])
    assert (claimed.id, claimed.address, outbox_row(db, row_id).status) == (row_id, "123456", "sending")


@pytest.mark.parametrize("status", [429, 500])
def test_429_and_500_are_retried_with_backoff(db, clock, sender, fake_twilio, status):
    address = add_resident(db, clock)
    row_id = queue_message(db, clock, address)
    fake_twilio.fake.fail(status=status, retry_after=30 if status == 429 else None)
    sender.drain()
    row = outbox_row(db, row_id)
    assert (row.status, row.attempts, row.sending_at) == ("queued", 1, None)
    wait = (row.not_before - clock.now()).total_seconds()
    assert (30 <= wait <= 60) if status == 429 else (5 <= wait <= 10)
    assert sender.drain() == 0
    clock.set(row.not_before)
    sender.drain()
    row = outbox_row(db, row_id)
    assert (row.status, row.attempts) == ("sent", 2)
    assert len(fake_twilio.fake.messages_to(address.address)) == 1


def test_the_sender_gives_up_after_the_last_attempt(db, clock, sender, fake_twilio):
    address = add_resident(db, clock)
    row_id = queue_message(db, clock, address)
    fake_twilio.fake.fail(status=500, times=10)
    waits = []
    for _ in range(5):
        sender.drain()
        row = outbox_row(db, row_id)
        if row.status != "queued":
            break
        waits.append((row.not_before - clock.now()).total_seconds())
        clock.set(row.not_before)
    assert (row.status, row.attempts, row.error_code) == ("failed", 3, "20500")
    assert "gave up after 3 attempts" in row.error_message
    assert len(fake_twilio.fake.requests) == 3 and fake_twilio.fake.messages == []
    # Equal-jitter backoff from a 10 s base with the fixture's seeded generator: 5-10 s, then 10-20 s.
    assert waits == [5.671821, 18.474337]


def test_backoff_doubles_with_jitter_and_is_capped():
    policy = SenderPolicy(backoff_base=10, backoff_cap=60)
    rng = random.Random(7)
    for attempts, ceiling in [(1, 10), (2, 20), (3, 40), (4, 60), (9, 60)]:
        delays = [backoff_delay(attempts, policy, rng) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 1
    assert backoff_delay(1, policy, rng, retry_after=45) == 45
    assert backoff_delay(1, policy, rng, retry_after=3600) == 60


def test_a_carrier_stop_fails_the_row_and_opts_the_address_out(db, clock, sender, fake_twilio):
    address = add_resident(db, clock)
    first = queue_message(db, clock, address)
    later = queue_message(db, clock, address, kind="broadcast")
    fake_twilio.fake.reject_number(address.address, 21610)
    sender.drain()
    assert (outbox_row(db, first).status, outbox_row(db, first).error_code) == ("failed", "21610")
    assert (outbox_row(db, later).status, outbox_row(db, later).error_code) == ("skipped", "opted_out")
    assert len(fake_twilio.fake.requests) == 1
    with db.session() as s:
        assert s.get(Address, address.id).consent == "opted_out"
        record = s.scalar(select(ConsentRecord))
        assert (record.action, record.source, record.address_id) == ("opt_out", "provider", address.id)


@pytest.mark.parametrize("code", [21211, 21614, 30005, 30006, 30004])
def test_an_unusable_number_fails_and_is_marked_unusable(db, clock, sender, fake_twilio, code):
    address = add_resident(db, clock)
    row_id = queue_message(db, clock, address)
    fake_twilio.fake.reject_number(address.address, code)
    sender.drain()
    sender.drain()
    row = outbox_row(db, row_id)
    assert (row.status, row.error_code, row.attempts) == ("failed", str(code), 1)
    with db.session() as s:
        stored = s.get(Address, address.id)
        assert (stored.usable, stored.unusable_reason) == (False, f"sms error {code}")
        assert stored.consent == "opted_in"
    assert len(fake_twilio.fake.requests) == 1


def test_an_unknown_outcome_is_never_sent_again(db, clock, sender, fake_twilio):
    address = add_resident(db, clock)
    row_id = queue_message(db, clock, address)
    fake_twilio.fake.fail("slow", delay=TOO_LATE)
    sender.channels["sms"] = sms_channel(fake_twilio, timeout=SHORT_TIMEOUT)
    sender.drain()
    clock.advance(hours=1)
    sender.drain()
    row = outbox_row(db, row_id)
    assert (row.status, row.error_code, row.attempts) == ("unknown", "timeout", 1)
    assert len(fake_twilio.fake.requests) == 1


def test_rows_left_sending_by_a_killed_worker_become_unknown_not_resent(db, clock, sender, fake_twilio):
    address = add_resident(db, clock)
    stuck = queue_message(db, clock, address, text="stuck")
    claim_due_messages(db, clock.now(), 10, ["sms"])  # then the worker dies
    fresh = queue_message(db, clock, address, text="fresh")
    clock.advance(minutes=2)
    assert recover_stuck_sending(db, clock.now(), timedelta(minutes=5)) == 0
    clock.advance(minutes=4)
    assert sender.recover_stuck() == 1
    sender.drain()
    row = outbox_row(db, stuck)
    assert (row.status, row.error_code) == ("unknown", "interrupted")
    assert outbox_row(db, fresh).status == "sent"
    assert bodies(fake_twilio) == ["fresh"]


def test_a_late_sent_result_never_moves_a_delivered_row_back(db, clock, fake_twilio):
    address = add_resident(db, clock)
    row_id = queue_message(db, clock, address)

    class CallbackFirst:
        name = "sms"

        def send(self, address, payload, lang, *, outbox_id=None):
            with db.session() as s:  # the delivery callback arrives before the sender records the sid
                row = s.get(OutboxMessage, outbox_id)
                row.status, row.provider_id = "delivered", "SMfast"
            return SendResult("sent", provider_id="SMfast", segments=1)

    OutboxSender(db, clock, {"sms": CallbackFirst()}, limiter=NO_LIMITS).drain()
    row = outbox_row(db, row_id)
    assert (row.status, row.provider_id, row.sent_at) == ("delivered", "SMfast", clock.now())


def test_an_adapter_that_raises_leaves_the_row_unknown(db, clock):
    address = add_resident(db, clock)
    row_id = queue_message(db, clock, address)

    class Broken:
        name = "sms"

        def send(self, address, payload, lang):
            raise RuntimeError("boom")

    OutboxSender(db, clock, {"sms": Broken()}, limiter=NO_LIMITS).drain()
    assert (outbox_row(db, row_id).status, outbox_row(db, row_id).error_code) == ("unknown", "adapter_error")


def test_the_sender_waits_for_tokens(db, clock, fake_twilio):
    slept = []
    limiter = RateLimiter({"sms": ChannelLimit(overall=2)}, clock=lambda: 0.0, sleep=slept.append)
    address = add_resident(db, clock)
    for _ in range(2):
        queue_message(db, clock, address)
    sender = OutboxSender(db, clock, {"sms": sms_channel(fake_twilio)}, limiter=limiter)
    sender.drain()
    assert slept == []
    queue_message(db, clock, address)
    stop = threading.Event()
    stop.set()
    # With no tokens left and the sender stopping, the row goes back to the queue untouched.
    sender.send_due(stop)
    assert len(fake_twilio.fake.messages) == 2
    with db.session() as s:
        assert s.scalars(select(OutboxMessage.status).order_by(OutboxMessage.id)).all() == ["sent", "sent", "queued"]


def test_sender_loop_drains_until_stopped(db, clock, fake_twilio):
    address = add_resident(db, clock)
    row_id = queue_message(db, clock, address)

    class Services:
        settings = None
        extras = {}

    services = Services()
    services.db, services.clock = db, clock
    stop = threading.Event()
    sender = OutboxSender(db, clock, {"sms": sms_channel(fake_twilio)}, limiter=NO_LIMITS)
    services.extras = {"channels": sender.channels, "sender": sender}
    thread = threading.Thread(target=sender_loop, args=(services, stop))
    thread.start()
    try:
        for _ in range(100):
            if outbox_row(db, row_id).status == "sent":
                break
            stop.wait(0.05)
    finally:
        stop.set()
        thread.join(5)
    assert outbox_row(db, row_id).status == "sent"
    assert not thread.is_alive()


def test_sender_loop_without_channels_says_so_and_waits(caplog):
    class Services:
        extras = {}

    stop = threading.Event()
    stop.set()
    sender_loop(Services(), stop)
    assert "no channel is configured" in caplog.text
