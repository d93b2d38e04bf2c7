"""Reminders: one nudge per run to residents who started a flow (or were sent one) and went quiet.

A reminder is the flow's reminder text, the line saying who is speaking and how to stop, and the
question the run is waiting on, asked again with its options (as the simulator and docs/flows.md
show), so the resident can answer it straight away.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import String, cast, exists, literal, or_, select
from sqlalchemy.orm import Session, aliased

from engage.fatigue import recent_bulk_counts
from engage.outbox import enqueue
from engage.quiet_hours import next_allowed_time
from engage.results import PREVIEW_STARTED_BY
from engage.unsolicited import stop_line
from engage.whatsapp import with_template
from flows import engine
from store.models import Address, Contact, OutboxMessage, Run

log = logging.getLogger(__name__)

BATCH_SIZE = 500


def reminder_key(run_id: int) -> str:
    return f"reminder:run:{run_id}"


def due_runs(session: Session, flow, now: datetime, limit: int = BATCH_SIZE, after_id: int = 0) -> list[Run]:
    """Return active runs of `flow` quiet for longer than its reminder delay and not yet reminded."""
    delay = flow.reminder["after"]
    key = literal("reminder:run:").concat(cast(Run.id, String))
    # Someone whose answers to this flow are already counted (a resident changing their answers) is not nagged.
    earlier = aliased(Run)
    answered = [earlier.contact_id == Run.contact_id, earlier.flow_id == flow.id, earlier.id != Run.id,
                earlier.status == "completed",
                or_(earlier.started_by.is_(None), earlier.started_by != PREVIEW_STARTED_BY)]
    if getattr(flow, "restart_after_days", None):
        answered.append(earlier.finished_at >= now - timedelta(days=flow.restart_after_days))
    return list(session.scalars(
        select(Run)
        .where(Run.flow_id == flow.id, Run.status == "active", Run.updated_at <= now - delay,
               Run.id > after_id, (Run.expires_at.is_(None)) | (Run.expires_at > now),
               ~exists().where(OutboxMessage.dedupe_key == key),
               ~exists().where(*answered))
        .order_by(Run.id)
        .limit(limit)
    ))


def send_reminders(services) -> dict[str, int]:
    """Queue the reminders that are due; return counts of queued and skipped (by reason)."""
    settings = services.settings
    now = services.clock.now()
    not_before = next_allowed_time(now, settings.timezone, settings.quiet_start, settings.quiet_end)
    counts: dict[str, int] = {"queued": 0}
    for flow in services.registry.all():
        if not getattr(flow, "reminder", None):
            continue
        if flow.consultation is not None and not flow.consultation.is_open(now, settings.timezone):
            continue
        after_id = 0
        while True:
            with services.db.session() as s:
                runs = due_runs(s, flow, now, after_id=after_id)
                if not runs:
                    break
                after_id = runs[-1].id
                tired = recent_bulk_counts(s, [r.contact_id for r in runs if r.contact_id], now,
                                           settings.fatigue_days)
                for run in runs:
                    # The version the run started on: its waiting question may have changed since.
                    run_flow = _flow_of(services, s, run) or flow
                    reason = _queue_reminder(s, run_flow, run, now, not_before, tired, settings.fatigue_cap,
                                             settings.council_name)
                    key = "queued" if reason is None else reason
                    counts[key] = counts.get(key, 0) + 1
    if sum(counts.values()):
        log.info("reminders: %s", counts)
    return counts


def _flow_of(services, s: Session, run: Run):
    """Return the flow version the run started on, or None when that version cannot be loaded."""
    from flows.loader import FlowError

    try:
        return services.registry.flow_for_version(s, run.flow_version_id)
    except FlowError:
        log.warning("run %s: its flow version %s cannot be loaded; reminding with the current version",
                    run.id, run.flow_version_id)
        return None


def reminder_payload(flow, run: Run, council: str) -> dict[str, Any]:
    """Return the outbox payload of a run's reminder: the nudge, who sent it, and the waiting question again."""
    state = dict(run.state or {})
    lang = state.get("lang") or run.language or flow.base_language
    state["lang"] = lang
    intro = " ".join(t for t in (flow.reminder_text(lang), stop_line(lang, council)) if t)
    payload: dict[str, Any] = {"type": "text", "text": intro, "intro": [intro], "lang": lang, "run_id": run.id,
                               "flow_id": flow.id, "reminder": True}
    step_id = state.get("step") or run.current_step
    if step_id and flow.has_step(step_id) and flow.step(step_id).is_question:
        question = engine.question_for(flow, flow.step(step_id), state, reprompt=True)
        payload.update(
            type="question", step_id=question.step_id, question=question.text, kind=question.kind,
            choices=[{"number": c.number, "value": c.value, "label": c.label} for c in question.choices],
            optional=question.optional, hints=dict(question.hints), reprompt=question.reprompt,
            text=f"{intro}\n\n{question.text}")
    return payload


def _queue_reminder(s: Session, flow, run: Run, now: datetime, not_before: datetime, tired: dict[int, int],
                    cap: int, council: str) -> str | None:
    contact = s.get(Contact, run.contact_id) if run.contact_id else None
    address = s.get(Address, run.address_id) if run.address_id else None
    if contact is None or address is None:
        return "no_address"
    if tired.get(contact.id, 0) >= cap:
        return "fatigue"
    payload = reminder_payload(flow, run, council)
    lang = payload["lang"]
    # WhatsApp outside its 24-hour window: only as the flow's approved template for the language.
    payload, closed = with_template(payload, address.channel, address.last_inbound_at, not_before or now,
                                    getattr(flow, "whatsapp_templates", None), lang, flow.base_language)
    if closed is not None:
        return closed
    row, reason = enqueue(s, contact=contact, address=address, kind="reminder", payload=payload, now=now,
                          language=lang, run_id=run.id, dedupe_key=reminder_key(run.id), not_before=not_before)
    return None if row is not None else reason
