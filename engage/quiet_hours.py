"""Quiet hours in the council's time zone: bulk messages wait until morning."""
from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo


def _parse(hhmm: str) -> time:
    hours, minutes = hhmm.split(":")
    return time(int(hours), int(minutes))


def in_quiet_hours(now: datetime, tz: str, start: str = "20:00", end: str = "09:00") -> bool:
    """Return True when `now` (aware) falls in the quiet window, judged on the local clock."""
    local = now.astimezone(ZoneInfo(tz)).time()
    quiet_from, quiet_to = _parse(start), _parse(end)
    if quiet_from == quiet_to:
        return False
    if quiet_from < quiet_to:
        return quiet_from <= local < quiet_to
    return local >= quiet_from or local < quiet_to


def next_allowed_time(now: datetime, tz: str, start: str = "20:00", end: str = "09:00") -> datetime:
    """Return `now` if outside quiet hours, else the (UTC) moment they end on the local clock.

    The end is computed as a local wall-clock time and then converted, so the
    night the clocks change still releases messages at 09:00 local.
    """
    if not in_quiet_hours(now, tz, start, end):
        return now
    zone = ZoneInfo(tz)
    local = now.astimezone(zone)
    quiet_to = _parse(end)
    day = local.date() if local.time() < quiet_to else local.date() + timedelta(days=1)
    release = datetime.combine(day, quiet_to, tzinfo=zone)
    return release.astimezone(now.tzinfo)
