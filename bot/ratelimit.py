"""Token buckets per channel: the sender waits for a token before each provider call.

Defaults follow the providers' published limits: Twilio 10 segments a second
per sending number; Telegram 30 messages a second overall and 1 a second per
chat. A rate of 0 (or None) lifts a limit. Buckets live in one process: with
several workers each keeps its own, so give each worker its share.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ChannelLimit:
    """How fast one channel may go: overall (per sending number) and per resident address."""

    overall: float | None = None
    per_address: float | None = None
    # How many tokens may be saved up; defaults to one second's worth (at least 1).
    burst: float | None = None


DEFAULT_LIMITS = {
    "sms": ChannelLimit(overall=10.0),
    "telegram": ChannelLimit(overall=30.0, per_address=1.0),
}


class TokenBucket:
    """Tokens refill at `rate` a second up to `capacity`; a take may leave the bucket in debt."""

    def __init__(self, rate: float, capacity: float | None = None, clock: Callable[[], float] = time.monotonic):
        if rate <= 0:
            raise ValueError("a token bucket needs a positive rate")
        self.rate = float(rate)
        self.capacity = float(capacity if capacity is not None else max(1.0, rate))
        self.clock = clock
        self.tokens = self.capacity
        self.updated = clock()

    def _refill(self) -> None:
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now

    def wait_time(self, cost: float = 1.0) -> float:
        """Return how long until `cost` tokens can be taken (0 when they can now)."""
        self._refill()
        # A cost above the capacity (a 12-part SMS) needs a full bucket, then goes into debt.
        needed = min(cost, self.capacity)
        # A shortfall below a billionth of a token is rounding, not a reason to wait (it would never end).
        return 0.0 if self.tokens >= needed - 1e-9 else (needed - self.tokens) / self.rate

    def take(self, cost: float = 1.0) -> None:
        self._refill()
        self.tokens -= cost

    @property
    def idle(self) -> bool:
        """Return True when the bucket is full again and can be forgotten."""
        self._refill()
        return self.tokens >= self.capacity


class RateLimiter:
    """Buckets per channel and per address; `acquire` blocks until the call may go."""

    def __init__(self, limits: dict[str, ChannelLimit] | None = None, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Any] = time.sleep, max_addresses: int = 10_000):
        self.limits = dict(DEFAULT_LIMITS if limits is None else limits)
        self.clock = clock
        self.sleep = sleep
        self.max_addresses = max_addresses
        self._overall: dict[str, TokenBucket] = {}
        self._per_address: dict[tuple[str, str], TokenBucket] = {}
        self._lock = threading.Lock()

    def _buckets(self, channel: str, address: str) -> list[TokenBucket]:
        limit = self.limits.get(channel)
        if limit is None:
            return []
        buckets = []
        if limit.overall:
            if channel not in self._overall:
                self._overall[channel] = TokenBucket(limit.overall, limit.burst, self.clock)
            buckets.append(self._overall[channel])
        if limit.per_address:
            key = (channel, address)
            if key not in self._per_address:
                if len(self._per_address) >= self.max_addresses:
                    self._forget_idle()
                self._per_address[key] = TokenBucket(limit.per_address, None, self.clock)
            buckets.append(self._per_address[key])
        return buckets

    def _forget_idle(self) -> None:
        for key in [k for k, b in self._per_address.items() if b.idle]:
            del self._per_address[key]

    def wait_time(self, channel: str, address: str, cost: float = 1.0) -> float:
        """Return how long a call would have to wait now (0 when it may go)."""
        with self._lock:
            return max((b.wait_time(cost) for b in self._buckets(channel, address)), default=0.0)

    def try_acquire(self, channel: str, address: str, cost: float = 1.0) -> float:
        """Take the tokens and return 0 if every bucket has them, else return the wait and take nothing."""
        with self._lock:
            buckets = self._buckets(channel, address)
            wait = max((b.wait_time(cost) for b in buckets), default=0.0)
            if wait > 0:
                return wait
            for bucket in buckets:
                bucket.take(cost)
            return 0.0

    def acquire(self, channel: str, address: str, cost: float = 1.0,
                stop: threading.Event | None = None) -> float:
        """Wait until the call may go and take its tokens; return seconds waited (stops early when `stop` is set)."""
        waited = 0.0
        while True:
            wait = self.try_acquire(channel, address, cost)
            if wait <= 0:
                return waited
            if stop is not None:
                if stop.wait(wait):
                    return waited
            else:
                self.sleep(wait)
            waited += wait


def limits_from_settings(settings) -> dict[str, ChannelLimit]:
    """Read the limits from settings (`sms_rate`, `telegram_rate`, `telegram_chat_rate`; 0 lifts one)."""
    extra = getattr(settings, "extra", {}) or {}

    def rate(name: str, default: float) -> float | None:
        value = getattr(settings, name, None)
        if value is None:
            value = extra.get(name, default)
        value = float(value)
        return value if value > 0 else None

    return {
        "sms": ChannelLimit(overall=rate("sms_rate", 10.0)),
        "telegram": ChannelLimit(overall=rate("telegram_rate", 30.0), per_address=rate("telegram_chat_rate", 1.0)),
    }
