"""How many new web chats one client address may start: a token bucket per address, in process.

Written by hand because it is a dozen lines and must run on the service's clock (tests drive it with
the test clock); bot.ratelimit's limiter waits for a token, where a page must answer at once.
Each web process keeps its own buckets, so with N gunicorn workers an address may start up to N
times the limit: the point is to stop one client filling the database, not to count exactly.
"""
from __future__ import annotations

import os
import threading
from datetime import datetime

# Defaults: a burst of 30 new chats (a family or an office behind one address), then 10 a minute.
PER_MINUTE = 10.0
BURST = 30.0
MAX_ADDRESSES = 10_000


class NewChatLimit:
    """A token bucket per client address; `allow` takes one token or says no."""

    def __init__(self, per_minute: float = PER_MINUTE, burst: float = BURST):
        self.rate = per_minute / 60.0
        self.burst = burst
        self._buckets: dict[str, tuple[float, datetime]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str | None, now: datetime) -> bool:
        if self.rate <= 0 and self.burst <= 0:
            return True
        key = key or "unknown"
        with self._lock:
            tokens, then = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + max(0.0, (now - then).total_seconds()) * self.rate)
            if tokens < 1:
                self._buckets[key] = (tokens, now)
                return False
            if len(self._buckets) >= MAX_ADDRESSES and key not in self._buckets:
                # Forget the fullest buckets first: they are the addresses that have been quiet longest.
                for old in sorted(self._buckets, key=lambda k: self._buckets[k][1])[:MAX_ADDRESSES // 10]:
                    del self._buckets[old]
            self._buckets[key] = (tokens - 1, now)
            return True


def from_settings(settings) -> NewChatLimit:
    """Read `webchat_new_chats_per_minute` and `webchat_new_chats_burst` (OUTREACH_WEBCHAT_...); 0 lifts the limit."""
    extra = getattr(settings, "extra", None) or {}

    def read(name: str, default: float) -> float:
        raw = extra.get(name, os.environ.get(f"OUTREACH_{name.upper()}"))
        return float(raw) if raw not in (None, "") else default

    return NewChatLimit(read("webchat_new_chats_per_minute", PER_MINUTE), read("webchat_new_chats_burst", BURST))
