"""The sender records a batch's results together: each outcome right, nothing moved back, nothing sent twice."""
from __future__ import annotations

import random
import threading

import pytest
from sqlalchemy import event, select

from bot.channel import SendResult
from bot.ratelimit import ChannelLimit, RateLimiter
from bot.sender import OutboxSender, Outcome, SenderPolicy, claim_due_messages, record_results
from store.models import Address, ConsentRecord, OutboxMessage
from tests.bot.conftest import add_resident, outbox_row, queue_message
from tests.support.timeouts import SHORT_TIMEOUT, TOO_LATE

# app_config_with_fake_twilio is the app_config fixture with the SMS channel pointed at the fake Twilio.
from tests.support.twilio_fake import app_config_with_fake_twilio, post_signed, sms_channel  # noqa: F401

NO_LIMITS = RateLimiter({})
POLICY = SenderPolicy(max_attempts=3, backoff_base=10, backoff_cap=60)


def new_sender(db, clock, channel, **kwargs) -> OutboxSender:
    kwargs.setdefault("limiter", NO_LIMITS)
    kwargs.setdefault("policy", POLICY)
    return OutboxSender(db, clock, {"sms": channel}, rng=random.Random(3), **kwargs)


class Commits:
    """Count the transactions committed on the database while the block runs."""

    def __init__(self, db):
        self.engine = db.engine
        self.count = 0

    def _commit(self, conn):
        self.count += 1

    def __enter__(self):
        event.listen(self.engine, "commit", self._commit)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "commit", self._commit)


def test_a_batch_with_every_kind_of_result_records_each(db, clock, fake_twilio):
    sent, retried, opted_out, timed_out = (add_resident(db, clock) for _ in range(4))
    sent_row = queue_message(db, clock, sent, text="one")
    retried_row = queue_message(db, clock, retried, text="two")
    opted_out_row = queue_message(db, clock, opted_out, text="three")
    timed_out_row = queue_message(db, clock, timed_out, text="four")
    # Later in the same batch, to the address the carrier has just said opted out.
    after_opt_out = queue_message(db, clock, opted_out, kind="broadcast", text="five")
    fake_twilio.fake.fail(status=500, to=retried.address)
    fake_twilio.fake.reject_number(opted_out.address, 21610)
    fake_twilio.fake.fail("slow", delay=TOO_LATE, to=timed_out.address)

    real = sms_channel(fake_twilio, timeout=SHORT_TIMEOUT)
    seen_by_other_workers = []

    class Watched:
        name = "sms"

        def send(self, address, payload, lang, *, outbox_id=None):
            if outbox_id == timed_out_row:
                # Other workers' claims must already see the carrier's STOP, before this batch ends.
                with db.session() as s:
                    seen_by_other_workers.append(s.get(Address, opted_out.id).consent)
            return real.send(address, payload, lang, outbox_id=outbox_id)

    sender = new_sender(db, clock, Watched())
    assert sender.send_due() == 5
    assert seen_by_other_workers == ["opted_out"]

    [message] = fake_twilio.fake.messages_to(sent.address)
    row = outbox_row(db, sent_row)
    assert (row.status, row.provider_id, row.segments, row.attempts, row.sent_at) == (
        "sent", message.sid, 1, 1, clock.now())
    row = outbox_row(db, retried_row)
    assert (row.status, row.attempts, row.error_code, row.sending_at) == ("queued", 1, "20500", None)
    assert 5 <= (row.not_before - clock.now()).total_seconds() <= 10
    row = outbox_row(db, opted_out_row)
    assert (row.status, row.attempts, row.error_code) == ("failed", 1, "21610")
    row = outbox_row(db, timed_out_row)
    assert (row.status, row.attempts, row.error_code) == ("unknown", 1, "timeout")
    # Handed back untouched, then refused by the next claim's consent check.
    row = outbox_row(db, after_opt_out)
    assert (row.status, row.attempts, row.sending_at) == ("queued", 0, None)
    with db.session() as s:
        assert s.get(Address, opted_out.id).consent == "opted_out"
        assert s.scalar(select(ConsentRecord.source)) == "provider"
    sender.send_due()
    assert (outbox_row(db, after_opt_out).status, outbox_row(db, after_opt_out).error_code) == ("skipped", "opted_out")
    assert len([r for r in fake_twilio.fake.requests if r["To"] == opted_out.address]) == 1


def test_a_batch_of_sends_is_one_claim_and_one_write(db, clock, fake_twilio):
    address = add_resident(db, clock)
    ids = [queue_message(db, clock, address, text=f"message {n}") for n in range(12)]
    with Commits(db) as commits:
        assert new_sender(db, clock, sms_channel(fake_twilio)).send_due() == 12
    assert commits.count == 2
    with db.session() as s:
        rows = s.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(ids)).order_by(OutboxMessage.id)).all()
    assert [r.status for r in rows] == ["sent"] * 12
    assert [r.provider_id for r in rows] == [m.sid for m in fake_twilio.fake.messages]


def test_a_sent_result_without_a_segment_count_is_stored_as_such(db, clock):
    address = add_resident(db, clock)
    ids = [queue_message(db, clock, address) for _ in range(2)]

    class NoSegments:
        name = "sms"

        def send(self, address, payload, lang, *, outbox_id=None):
            return SendResult("sent", provider_id=f"SM{outbox_id}")

    new_sender(db, clock, NoSegments()).drain()
    assert [(outbox_row(db, i).status, outbox_row(db, i).provider_id, outbox_row(db, i).segments) for i in ids] == [
        ("sent", f"SM{i}", None) for i in ids]


def test_rows_a_status_callback_moved_on_before_the_batch_is_recorded_stay_there(client, services, db, clock,
                                                                                 fake_twilio):
    address = add_resident(db, clock)
    ids = [queue_message(db, clock, address, text=f"message {n}") for n in range(3)]
    real = services.extras["channels"]["sms"]
    results: dict[int, SendResult] = {}

    class CallbacksDuringTheBatch:
        """The real adapter; before the last row goes, Twilio's callbacks for the first two arrive."""

        name = "sms"

        def send(self, address, payload, lang, *, outbox_id=None):
            if outbox_id == ids[2]:
                for row_id, status, code in [(ids[0], "delivered", None), (ids[1], "undelivered", "30003")]:
                    form = {"MessageSid": results[row_id].provider_id, "MessageStatus": status,
                            "AccountSid": fake_twilio.fake.account_sid, "To": address}
                    if code:
                        form["ErrorCode"] = code
                    assert post_signed(client, f"/webhooks/twilio/status?o={row_id}", form).status_code == 200
                    assert outbox_row(db, row_id).status == status  # the sender has not written yet
            results[outbox_id] = real.send(address, payload, lang, outbox_id=outbox_id)
            return results[outbox_id]

    new_sender(db, clock, CallbacksDuringTheBatch()).drain()
    rows = [outbox_row(db, i) for i in ids]
    assert [r.status for r in rows] == ["delivered", "undelivered", "sent"]
    assert [r.provider_id for r in rows] == [results[i].provider_id for i in ids]
    assert rows[0].delivered_at == clock.now() and rows[1].error_code == "30003"
    assert len(fake_twilio.fake.messages) == 3


def test_a_result_recorded_after_delivery_keeps_the_row_delivered_and_a_missing_row_is_passed_over(db, clock):
    address = add_resident(db, clock)
    row_id = queue_message(db, clock, address)
    claim_due_messages(db, clock.now(), 10, ["sms"])
    with db.session() as s:
        s.get(OutboxMessage, row_id).status = "delivered"
    rng = random.Random(1)
    outcomes = [Outcome(row_id, SendResult("sent", provider_id="SMx", segments=2), clock.now()),
                Outcome(row_id + 1000, SendResult("sent", provider_id="SMy"), clock.now())]
    assert record_results(db, outcomes, POLICY, rng) == {row_id: "delivered"}
    assert (outbox_row(db, row_id).provider_id, outbox_row(db, row_id).segments) == ("SMx", 2)


def test_a_sender_stopped_mid_batch_records_what_went_and_hands_back_the_rest(db, clock, fake_twilio):
    address = add_resident(db, clock)
    ids = [queue_message(db, clock, address, text=f"message {n}") for n in range(5)]
    real = sms_channel(fake_twilio)
    stop = threading.Event()

    class StoppedWhileSending:
        name = "sms"

        def send(self, address, payload, lang, *, outbox_id=None):
            if outbox_id == ids[1]:
                stop.set()  # Ctrl+C while the second message is with Twilio
            return real.send(address, payload, lang, outbox_id=outbox_id)

    sender = new_sender(db, clock, StoppedWhileSending())
    assert sender.send_due(stop) == 5
    rows = [outbox_row(db, i) for i in ids]
    assert [r.status for r in rows] == ["sent", "sent", "queued", "queued", "queued"]
    assert [(r.attempts, r.sending_at) for r in rows[2:]] == [(0, None)] * 3
    sender.drain()
    assert [outbox_row(db, i).status for i in ids] == ["sent"] * 5
    assert sorted(m.body for m in fake_twilio.fake.messages) == [f"message {n}" for n in range(5)]


def test_a_sender_that_fails_mid_batch_never_sends_a_row_twice(db, clock, fake_twilio):
    address = add_resident(db, clock)
    ids = [queue_message(db, clock, address, text=f"message {n}") for n in range(5)]

    class LimiterThatBreaks:
        """Lets two messages go, then raises: the worker's loop dies in the middle of a batch."""

        calls = 0

        def acquire(self, channel, address, cost=1.0, stop=None):
            self.calls += 1
            if self.calls == 3:
                raise RuntimeError("limiter broke")
            return 0.0

    with pytest.raises(RuntimeError):
        new_sender(db, clock, sms_channel(fake_twilio), limiter=LimiterThatBreaks()).send_due()
    # What went is recorded; what was claimed and not tried is left `sending`, as after a crash.
    assert [outbox_row(db, i).status for i in ids] == ["sent", "sent", "sending", "sending", "sending"]
    sender = new_sender(db, clock, sms_channel(fake_twilio))
    assert sender.drain() == 0
    clock.advance(minutes=6)
    assert sender.recover_stuck() == 3
    assert sender.drain() == 0
    assert [outbox_row(db, i).status for i in ids] == ["sent", "sent", "unknown", "unknown", "unknown"]
    assert len(fake_twilio.fake.requests) == 2


def test_a_slow_batch_hands_its_untried_rows_back(db, clock, fake_twilio):
    address = add_resident(db, clock)
    ids = [queue_message(db, clock, address, text=f"message {n}") for n in range(4)]
    real = sms_channel(fake_twilio)

    class FifteenSecondsASend:
        name = "sms"

        def send(self, address, payload, lang, *, outbox_id=None):
            clock.advance(seconds=15)  # a provider slow to answer, on the test's clock
            return real.send(address, payload, lang, outbox_id=outbox_id)

    # 15 s gone after the first send, 30 s after the second: past the 20 s limit, the rest go back.
    sender = new_sender(db, clock, FifteenSecondsASend(), policy=SenderPolicy(batch_time_limit=20),
                        timer=lambda: clock.now().timestamp())
    assert sender.send_due() == 4
    assert [outbox_row(db, i).status for i in ids] == ["sent", "sent", "queued", "queued"]
    assert outbox_row(db, ids[2]).sending_at is None
    sender.drain()
    assert [outbox_row(db, i).status for i in ids] == ["sent"] * 4
    assert len(fake_twilio.fake.requests) == 4


@pytest.mark.parametrize("limits, channels, expected", [
    ({}, ["sms"], 200),  # limits lifted: the policy's batch
    ({"sms": ChannelLimit(overall=10)}, ["sms"], 20),  # Twilio's 10 a second for 2 seconds
    ({"sms": ChannelLimit(overall=1000)}, ["sms"], 200),
    ({"sms": ChannelLimit(overall=10), "telegram": ChannelLimit(overall=30)}, ["sms", "telegram"], 20),
    ({"sms": ChannelLimit(overall=0.1)}, ["sms"], 1),
    ({"telegram": ChannelLimit(per_address=1)}, ["telegram"], 200),
])
def test_the_claim_is_sized_to_what_the_rate_limits_let_out(db, clock, limits, channels, expected):
    sender = OutboxSender(db, clock, {name: object() for name in channels}, limiter=RateLimiter(limits))
    assert sender.batch_size() == expected


def test_a_rate_limited_sender_claims_a_small_batch(db, clock, fake_twilio):
    address = add_resident(db, clock)
    for _ in range(5):
        queue_message(db, clock, address)
    limiter = RateLimiter({"sms": ChannelLimit(overall=1, burst=5)})
    sender = new_sender(db, clock, sms_channel(fake_twilio), limiter=limiter)
    assert sender.send_due() == 2
    assert len(fake_twilio.fake.messages) == 2
    with db.session() as s:
        assert s.scalars(select(OutboxMessage.status).order_by(OutboxMessage.id)).all() == [
            "sent", "sent", "queued", "queued", "queued"]


def test_the_batch_can_be_set_from_the_settings(db, clock):
    class Settings:
        extra = {"sender_batch": "40", "sender_max_attempts": "2"}
        quiet_start, quiet_end, timezone = "20:00", "09:00", "Europe/London"
        sms_rate = telegram_rate = telegram_chat_rate = None

    class Services:
        settings = Settings()

    services = Services()
    services.db, services.clock = db, clock
    sender = OutboxSender.from_services(services, {"sms": object()})
    assert (sender.policy.batch, sender.policy.max_attempts, sender.batch_size()) == (40, 2, 20)
