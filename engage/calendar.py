"""The engagement calendar: consultations, their windows, and warnings an officer should see before launch."""
from __future__ import annotations

import calendar as month_calendar
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from engage.segments import overlap_count
from store.models.outreach import Consultation, Segment

EVERYONE: dict[str, Any] = {"all": []}
STATUSES = ("planned", "open", "closed", "reported")


class CalendarError(ValueError):
    """A consultation cannot be recorded as asked; the message says why."""


@dataclass(frozen=True)
class Warning:
    """Something in the calendar an officer should look at."""

    kind: str  # short_window | overlap
    consultation_ids: tuple[int, ...]
    message: str


def local_today(now: datetime, tz: str) -> date:
    return now.astimezone(ZoneInfo(tz)).date()


def window_days(consultation: Consultation) -> int:
    """Return how many days residents have to answer, both ends included."""
    return (consultation.closes - consultation.opens).days + 1


def status_on(consultation: Consultation, today: date) -> str:
    """Return planned, open, closed or reported as of `today`."""
    if consultation.status == "reported":
        return "reported"
    if today < consultation.opens:
        return "planned"
    if today <= consultation.closes:
        return "open"
    return "closed"


def create_consultation(session: Session, *, flow_id: str, opens: date, closes: date, now: datetime,
                        title: str | None = None, owner_service: str | None = None, officer: str | None = None,
                        purpose: str | None = None, segment: Segment | None = None,
                        tz: str = "Europe/London") -> Consultation:
    """Record a consultation in the calendar."""
    if closes < opens:
        raise CalendarError("the consultation closes before it opens")
    consultation = Consultation(flow_id=flow_id, opens=opens, closes=closes, title=title,
                                owner_service=owner_service, officer=officer, purpose=purpose,
                                segment_id=segment.id if segment else None, created_at=now)
    consultation.status = status_on(consultation, local_today(now, tz))
    session.add(consultation)
    session.flush()
    return consultation


def sync_from_flows(session: Session, registry, now: datetime, tz: str) -> int:
    """Add a calendar entry for each published flow with consultation dates and no entry yet."""
    known = set(session.scalars(select(Consultation.flow_id)))
    added = 0
    for flow in registry.all():
        c = flow.consultation
        if flow.id in known or c is None or c.opens is None or c.closes is None:
            continue
        opens = c.opens.date() if isinstance(c.opens, datetime) else c.opens
        closes = c.closes.date() if isinstance(c.closes, datetime) else c.closes
        create_consultation(session, flow_id=flow.id, opens=opens, closes=closes, now=now, title=flow.title,
                            purpose=c.purpose, tz=tz)
        added += 1
    return added


def refresh_statuses(session: Session, now: datetime, tz: str) -> None:
    """Move each consultation's stored status along with the calendar."""
    today = local_today(now, tz)
    for consultation in session.scalars(select(Consultation).where(Consultation.status != "reported")):
        consultation.status = status_on(consultation, today)


def _rules(session: Session, consultation: Consultation) -> dict[str, Any]:
    if consultation.segment_id is None:
        return EVERYONE
    segment = session.get(Segment, consultation.segment_id)
    return segment.rules if segment is not None else EVERYONE


def warnings(session: Session, now: datetime, min_days: int = 14, tz: str = "Europe/London") -> list[Warning]:
    """Flag windows shorter than `min_days` and consultations asking the same residents at the same time.

    Only consultations open today or still to come are looked at: a past clash cannot be helped.
    """
    found: list[Warning] = []
    today = now.astimezone(ZoneInfo(tz)).date()
    items = [c for c in session.scalars(select(Consultation).where(Consultation.closes >= today)
                                        .order_by(Consultation.opens, Consultation.id))
             if status_on(c, today) in ("planned", "open")]
    for c in items:
        if window_days(c) < min_days:
            found.append(Warning("short_window", (c.id,), (
                f"“{c.title or c.flow_id}” is open for {window_days(c)} day(s), fewer than the "
                f"{min_days} residents should have to take part.")))
    for i, first in enumerate(items):
        for second in items[i + 1:]:
            if second.opens > first.closes:
                continue
            if first.closes < second.opens or second.closes < first.opens:
                continue
            shared = overlap_count(session, _rules(session, first), _rules(session, second), now)
            if shared:
                start, end = max(first.opens, second.opens), min(first.closes, second.closes)
                found.append(Warning("overlap", (first.id, second.id), (
                    f"“{first.title or first.flow_id}” and “{second.title or second.flow_id}” both ask "
                    f"{shared} of the same residents between {start:%d %B %Y} and {end:%d %B %Y}.")))
    return found


def month_view(session: Session, year: int, month: int, today: date) -> dict[str, Any]:
    """Return the month as weeks of days, each day listing the consultations open on it (for the dashboard)."""
    first = date(year, month, 1)
    last = date(year, month, month_calendar.monthrange(year, month)[1])
    items = list(session.scalars(select(Consultation).where(Consultation.opens <= last, Consultation.closes >= first)
                                 .order_by(Consultation.opens, Consultation.id)))
    entries = [{"id": c.id, "flow_id": c.flow_id, "title": c.title or c.flow_id, "owner_service": c.owner_service,
                "officer": c.officer, "opens": c.opens, "closes": c.closes, "status": status_on(c, today),
                "days": window_days(c)} for c in items]
    weeks = []
    for week in month_calendar.Calendar(firstweekday=0).monthdatescalendar(year, month):
        weeks.append([{"date": d, "in_month": d.month == month, "today": d == today,
                       "consultations": [e["id"] for e in entries if e["opens"] <= d <= e["closes"]]}
                      for d in week])
    previous = first - timedelta(days=1)
    following = last + timedelta(days=1)
    return {"year": year, "month": month, "title": f"{first:%B %Y}", "weeks": weeks, "consultations": entries,
            "previous": (previous.year, previous.month), "next": (following.year, following.month)}
