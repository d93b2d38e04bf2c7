"""The engagement calendar: consultations, their windows, and warnings an officer should see before launch.

One source of truth for dates: a flow whose file sets `consultation: opens/closes` holds residents to
those dates, so its calendar entry shows them (`sync_from_flows` adds it and moves it when the file
changes) and officers cannot give it other dates (`plan`, `edit_consultation`); to move a consultation,
change its flow. Entries for flows without dates in their file are the officers' own plans.
"""
from __future__ import annotations

import calendar as month_calendar
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from engage.segments import overlap_count
from store.models import Run
from store.models.outreach import Consultation, Segment, Update

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
    # What the message says, for pages that word it in their reader's language: titles, days, residents, dates.
    params: dict = field(default_factory=dict, compare=False)


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


def flow_window(flow) -> tuple[date, date] | None:
    """Return the (first, last) day the flow's file holds residents to, or None when it sets no dates."""
    c = getattr(flow, "consultation", None)
    if c is None or c.opens is None or c.closes is None:
        return None
    opens = c.opens.date() if isinstance(c.opens, datetime) else c.opens
    closes = c.closes.date() if isinstance(c.closes, datetime) else c.closes
    return opens, closes


def _entries(session: Session, flow_id: str) -> list[Consultation]:
    return list(session.scalars(select(Consultation).where(Consultation.flow_id == flow_id)
                                .order_by(Consultation.opens, Consultation.id)))


def sync_from_flows(session: Session, registry, now: datetime, tz: str) -> int:
    """Keep the calendar on the dates flows enforce: add an entry for each published flow with dates and
    none on them; when a flow's file moved its dates, move its one open entry with them. Return how many
    entries were added."""
    added = 0
    for flow in registry.all():
        window = flow_window(flow)
        if window is None:
            continue
        entries = _entries(session, flow.id)
        if any((e.opens, e.closes) == window for e in entries):
            continue
        movable = [e for e in entries if e.status != "reported"]
        if len(movable) == 1:
            entry = movable[0]
            entry.opens, entry.closes = window
            entry.status = status_on(entry, local_today(now, tz))
            continue
        c = flow.consultation
        create_consultation(session, flow_id=flow.id, opens=window[0], closes=window[1], now=now, title=flow.title,
                            purpose=c.purpose, tz=tz)
        added += 1
    return added


def _fixed_by_flow(registry, flow_id: str, opens: date | None, closes: date | None) -> None:
    """Refuse dates that differ from the ones the flow's file holds residents to."""
    flow = registry.get(flow_id)
    window = flow_window(flow) if flow is not None else None
    if window is not None and (opens, closes) != window:
        raise CalendarError(
            f"flow '{flow_id}' holds residents to {window[0]:%d %B %Y} – {window[1]:%d %B %Y} (its file's "
            "consultation: opens/closes); the calendar shows those dates. To move the consultation, change "
            "them in the flow and publish it")


def plan(session: Session, registry, *, flow_id: str, opens: date, closes: date, now: datetime, tz: str,
         **details: Any) -> Consultation:
    """Put a consultation in the calendar for an officer: the flow must be published, and a flow with dates
    in its file keeps them (one entry, on those dates)."""
    flow = registry.get(flow_id)
    if flow is None:
        raise CalendarError(f"no published flow '{flow_id}'; see the flows list for the ids")
    _fixed_by_flow(registry, flow_id, opens, closes)
    same = [e for e in _entries(session, flow_id) if (e.opens, e.closes) == (opens, closes)]
    if same and flow_window(flow) is not None:
        raise CalendarError(f"flow '{flow_id}' is already in the calendar on these dates (entry {same[0].id}); "
                            "edit that entry instead")
    if not details.get("title"):
        details["title"] = flow.title
    if details.get("purpose") is None and flow.consultation is not None:
        details["purpose"] = flow.consultation.purpose
    return create_consultation(session, flow_id=flow_id, opens=opens, closes=closes, now=now, tz=tz, **details)


EDITABLE = ("title", "owner_service", "officer", "purpose", "segment_id")


def edit_consultation(session: Session, registry, consultation: Consultation, now: datetime, tz: str, *,
                      opens: date | None = None, closes: date | None = None, **details: Any) -> Consultation:
    """Change an entry's dates (unless its flow's file sets them) or its title, owner, officer, purpose, segment."""
    unknown = set(details) - set(EDITABLE)
    if unknown:
        raise CalendarError(f"cannot change {', '.join(sorted(unknown))}")
    new_opens, new_closes = opens or consultation.opens, closes or consultation.closes
    if (new_opens, new_closes) != (consultation.opens, consultation.closes):
        _fixed_by_flow(registry, consultation.flow_id, new_opens, new_closes)
        if new_closes < new_opens:
            raise CalendarError("the consultation closes before it opens")
        consultation.opens, consultation.closes = new_opens, new_closes
    for key, value in details.items():
        setattr(consultation, key, value)
    if consultation.status != "reported":
        consultation.status = status_on(consultation, local_today(now, tz))
    return consultation


def delete_consultation(session: Session, registry, consultation: Consultation) -> None:
    """Take an entry off the calendar; the entry showing a published flow's own dates stays while the flow has them."""
    flow = registry.get(consultation.flow_id)
    if flow is not None and flow_window(flow) == (consultation.opens, consultation.closes):
        raise CalendarError(
            f"entry {consultation.id} shows the dates flow '{consultation.flow_id}' holds residents to; it stays "
            "in the calendar while the flow's file has them")
    # Updates that were recorded with it keep their text; they lose only the link (ON DELETE SET NULL).
    session.execute(update(Update).where(Update.consultation_id == consultation.id).values(consultation_id=None))
    session.delete(consultation)
    session.flush()


def entry_answered(session: Session, flow_id: str, now: datetime, tz: str) -> Consultation | None:
    """Return the calendar entry residents answered: the one whose window holds the flow's latest answer,
    else the latest that opened before it, else the latest already open. Never a planned entry that has
    not opened yet (a later round of the same flow)."""
    today = local_today(now, tz)
    entries = [e for e in _entries(session, flow_id) if e.opens <= today]
    if not entries:
        return None
    latest = session.scalar(select(func.max(Run.finished_at)).where(Run.flow_id == flow_id,
                                                                    Run.status == "completed"))
    if latest is not None:
        if isinstance(latest, str):  # SQLite may hand an aggregate back as text
            latest = datetime.fromisoformat(latest)
        if latest.tzinfo is None:
            latest = latest.replace(tzinfo=ZoneInfo("UTC"))
        day = local_today(latest, tz)
        holding = [e for e in entries if e.opens <= day <= e.closes]
        if holding:
            return holding[-1]
        before = [e for e in entries if e.opens <= day]
        if before:
            return before[-1]
    return entries[-1]


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
                f"{min_days} residents should have to take part."),
                {"title": c.title or c.flow_id, "days": window_days(c), "min_days": min_days}))
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
                    f"{shared} of the same residents between {start:%d %B %Y} and {end:%d %B %Y}."),
                    {"first": first.title or first.flow_id, "second": second.title or second.flow_id,
                     "shared": shared, "start": start, "end": end}))
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
