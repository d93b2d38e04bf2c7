"""Home: open consultations with live response counts, and this week's sends."""
from __future__ import annotations

from datetime import timedelta

from flask import jsonify, render_template
from sqlalchemy import func, or_, select

from dashboard.blueprint import bp, now, services
from engage import results
from store.models import OutboxMessage, Run
from store.models.outreach import Broadcast


def open_flows(registry, when, tz: str) -> list:
    """Published flows whose consultation window includes `when` (flows without dates count as open)."""
    out = []
    for flow in registry.all():
        consultation = getattr(flow, "consultation", None)
        if consultation is None or consultation.is_open(when, tz):
            out.append(flow)
    return out


def week_of_sends(s, since) -> dict[str, int]:
    """Count every message to residents queued since a moment (replies, broadcasts, reminders, updates...),
    by delivery state; an officer's preview and rows never meant to be sent (skipped) are not counted."""
    rows = s.execute(
        select(OutboxMessage.status, func.count(OutboxMessage.id))
        .outerjoin(Run, Run.id == OutboxMessage.run_id)
        .where(OutboxMessage.created_at >= since, OutboxMessage.status != "skipped",
               or_(Run.id.is_(None), Run.started_by.is_(None), Run.started_by != results.PREVIEW_STARTED_BY))
        .group_by(OutboxMessage.status)
    ).all()
    return dict(rows)


def asking_broadcasts(s, ids: list[int]) -> set[int]:
    """The broadcasts among these that start a flow (ask something); a notice asks nothing to respond to."""
    if not ids:
        return set()
    return set(s.scalars(select(Broadcast.id).where(Broadcast.id.in_(ids), Broadcast.flow_id.isnot(None))))


@bp.get("/")
def home():
    """Show what is open, how many answered, and what went out this week."""
    svc = services()
    when = now()
    flows = open_flows(svc.registry, when, svc.settings.timezone)
    with svc.db.session() as s:
        counts = results.response_counts(s, [f.id for f in flows])
        sends = week_of_sends(s, when - timedelta(days=7))
        rates = results.broadcast_response_rates(s)
        asking = asking_broadcasts(s, [r["broadcast_id"] for r in rates])
        warnings = _calendar_warnings(s, when, svc.settings.min_consultation_days)
    # The response rate is of broadcasts that asked a question this week.
    recent = [r for r in rates if r["first_sent"] and r["first_sent"] >= when - timedelta(days=7)
              and r["broadcast_id"] in asking]
    sent = sum(r["sent"] for r in recent)
    answered = sum(r["responded"] for r in recent)
    return render_template(
        "dashboard/home.html", flows=flows, counts=counts, sends=sends, sends_total=sum(sends.values()),
        response_rate=round(100.0 * answered / sent, 1) if sent else None, recent_broadcasts=recent,
        warnings=warnings,
    )


def _calendar_warnings(s, when, min_days: int) -> list:
    try:
        from engage import calendar
    except ImportError:
        return []
    return calendar.warnings(s, when, min_days, services().settings.timezone)


@bp.get("/live.json")
def live_counts():
    """Return the open consultations' response counts, for the home page to refresh itself."""
    svc = services()
    flows = open_flows(svc.registry, now(), svc.settings.timezone)
    with svc.db.session() as s:
        counts = results.response_counts(s, [f.id for f in flows])
    return jsonify({f.id: counts.get(f.id, {"started": 0, "completed": 0}) for f in flows})
