"""Calling hours: when the service may place a phone call, stricter than quiet hours for texts.

`OUTREACH_CALLING_HOURS` (default `10:00-19:00`) is judged on the council's local clock, and no call
is ever placed on a Sunday, whatever the hours say. A call due outside them waits for the next
opening (computed as a local wall-clock time, so the night the clocks change still opens at 10:00).
"""
from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

DEFAULT_CALLING_HOURS = "10:00-19:00"
SUNDAY = 6


def parse_hours(spec: str | None) -> tuple[time, time]:
    """Read "10:00-19:00" as (10:00, 19:00); raise ValueError for anything else (an empty spec is the default)."""
    text = (spec or DEFAULT_CALLING_HOURS).strip()
    start, sep, end = text.partition("-")
    if not sep:
        raise ValueError(f"calling hours should look like 10:00-19:00, not {text!r}")
    opens, closes = _time(start), _time(end)
    if not opens < closes:
        raise ValueError(f"calling hours should open before they close, not {text!r}")
    return opens, closes


def _time(hhmm: str) -> time:
    hours, sep, minutes = hhmm.strip().partition(":")
    if not sep:
        raise ValueError(f"a time of day should look like 10:00, not {hhmm!r}")
    return time(int(hours), int(minutes))


def in_calling_hours(now: datetime, tz: str, spec: str | None = None) -> bool:
    """Return True when a call may be placed at `now` (aware): inside the hours, and not on a Sunday."""
    opens, closes = parse_hours(spec)
    local = now.astimezone(ZoneInfo(tz))
    return local.weekday() != SUNDAY and opens <= local.time() < closes


def next_calling_time(now: datetime, tz: str, spec: str | None = None) -> datetime:
    """Return `now` when a call may be placed now, else the (UTC) moment calling hours next open."""
    if in_calling_hours(now, tz, spec):
        return now
    opens, _closes = parse_hours(spec)
    zone = ZoneInfo(tz)
    local = now.astimezone(zone)
    day = local.date() if local.time() < opens else local.date() + timedelta(days=1)
    while day.weekday() == SUNDAY:
        day += timedelta(days=1)
    return datetime.combine(day, opens, tzinfo=zone).astimezone(now.tzinfo)
