"""Token buckets with an injected clock: no real waiting."""
from __future__ import annotations

import threading

import pytest

from bot.ratelimit import ChannelLimit, RateLimiter, TokenBucket, limits_from_settings
from config import Settings


class FakeTime:
    def __init__(self):
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_a_bucket_allows_a_burst_then_refills_at_its_rate():
    t = FakeTime()
    bucket = TokenBucket(10, clock=t)
    for _ in range(10):
        assert bucket.wait_time() == 0
        bucket.take()
    assert bucket.wait_time() == pytest.approx(0.1)
    t.now += 0.5
    assert bucket.wait_time(5) == 0


def test_a_cost_above_capacity_waits_for_a_full_bucket_then_goes_into_debt():
    t = FakeTime()
    bucket = TokenBucket(10, clock=t)
    bucket.take(10)
    assert bucket.wait_time(12) == pytest.approx(1.0)
    t.now += 1.0
    bucket.take(12)
    assert bucket.wait_time(1) == pytest.approx(0.3)


def test_twilio_sends_ten_segments_a_second_per_sending_number():
    t = FakeTime()
    limiter = RateLimiter({"sms": ChannelLimit(overall=10)}, clock=t, sleep=t.sleep)
    for _ in range(30):
        limiter.acquire("sms", "+447700900123", cost=1)
    # 10 at once, then one every 0.1 s.
    assert t.now == pytest.approx(2.0)
    limiter.acquire("sms", "+447700900999", cost=3)
    assert t.now == pytest.approx(2.3)


def test_telegram_limits_each_chat_to_one_a_second_and_all_chats_to_thirty():
    t = FakeTime()
    limiter = RateLimiter({"telegram": ChannelLimit(overall=30, per_address=1)}, clock=t, sleep=t.sleep)
    limiter.acquire("telegram", "chat-1")
    assert limiter.wait_time("telegram", "chat-1") == pytest.approx(1.0)
    assert limiter.wait_time("telegram", "chat-2") == 0
    for n in range(29):
        limiter.acquire("telegram", f"chat-{n + 2}")
    assert t.now == 0
    assert limiter.wait_time("telegram", "chat-99") == pytest.approx(1 / 30)


def test_a_channel_without_limits_never_waits():
    t = FakeTime()
    limiter = RateLimiter({"sms": ChannelLimit()}, clock=t, sleep=t.sleep)
    for _ in range(1000):
        limiter.acquire("sms", "x")
    assert t.now == 0 and t.slept == []


def test_acquire_gives_up_when_stopping():
    t = FakeTime()
    limiter = RateLimiter({"sms": ChannelLimit(overall=1)}, clock=t, sleep=t.sleep)
    limiter.acquire("sms", "x")
    stop = threading.Event()
    stop.set()
    limiter.acquire("sms", "x", stop=stop)
    assert t.slept == []


def test_idle_per_chat_buckets_are_forgotten():
    t = FakeTime()
    limiter = RateLimiter({"telegram": ChannelLimit(per_address=1)}, clock=t, sleep=t.sleep, max_addresses=3)
    for n in range(3):
        limiter.acquire("telegram", f"chat-{n}")
    t.now += 5
    limiter.acquire("telegram", "chat-new")
    assert len(limiter._per_address) == 1


def test_limits_come_from_settings_and_zero_lifts_them():
    limits = limits_from_settings(Settings(sms_rate=0, telegram_rate=25, telegram_chat_rate=1))
    assert limits["sms"].overall is None
    assert (limits["telegram"].overall, limits["telegram"].per_address) == (25.0, 1.0)
    assert limits_from_settings(Settings())["sms"].overall == 10.0
