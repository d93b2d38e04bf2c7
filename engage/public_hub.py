"""What the public sees: the consultations open now, the ones closed with their outcome, and published results.

Everything here is aggregate and public by design: no personal data, no free text, no special-category
figures, and every count under the suppression threshold hidden.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engage import disclosure, results
from locales import i18n
from store.models.outreach import Update

# Yes/no answers' words when the flow names none (already in the catalogs for the chat's buttons).
YES_NO_WORDS = {"yes": "Yes", "no": "No"}


@dataclass
class PublicQuestion:
    """One choice question's published figures: a percentage per choice, or None where hidden."""

    step_id: str
    question: str
    answered: int | None
    rows: list[dict[str, Any]] = field(default_factory=list)  # {"label", "percent", "count"}


def _closes_at(flow, tz: str) -> datetime | None:
    return flow.consultation.closes_at(tz) if flow.consultation else None


def is_open(flow, now: datetime, tz: str) -> bool:
    """Return True when residents can take part in the flow now."""
    if flow.consultation is None:
        return flow.public
    return flow.consultation.is_open(now, tz)


def is_closed(flow, now: datetime, tz: str) -> bool:
    """Return True when the flow's consultation has a closing date that has passed."""
    closes = _closes_at(flow, tz)
    return closes is not None and now > closes


def open_consultations(flows, now: datetime, tz: str) -> list:
    """Return the flows open now, closing soonest first (a public flow with no dates last)."""
    listed = [f for f in flows if is_open(f, now, tz)]
    return sorted(listed, key=lambda f: (_closes_at(f, tz) is None, _closes_at(f, tz) or now, f.id))


def closed_consultations(flows, now: datetime, tz: str) -> list:
    """Return the flows whose consultation has closed, most recently closed first."""
    closed = [f for f in flows if is_closed(f, now, tz)]
    return sorted(closed, key=lambda f: (_closes_at(f, tz), f.id), reverse=True)


def days_left(flow, now: datetime, tz: str) -> int | None:
    """Return the whole days until the consultation closes (0 on its last day), or None with no closing date."""
    closes = _closes_at(flow, tz)
    if closes is None:
        return None
    return max(0, math.ceil((closes - now).total_seconds() / 86400) - 1)


def published_update(session: Session, flow_id: str) -> Update | None:
    """Return the newest published "you said, we did" update of a flow."""
    return session.scalars(select(Update).where(Update.flow_id == flow_id, Update.published_at.is_not(None))
                           .order_by(Update.published_at.desc(), Update.id.desc()).limit(1)).first()


def results_are_public(session: Session, flow, now: datetime, tz: str) -> bool:
    """Return True when anyone may see the flow's headline results.

    A flow that says `public_results: true` publishes them while it runs; any other flow once its
    consultation has closed and the council has published what it did.
    """
    if flow.public_results:
        return True
    return is_closed(flow, now, tz) and published_update(session, flow.id) is not None


def public_questions(session: Session, flow, lang: str) -> list[PublicQuestion]:
    """Return the published figures of each choice question: no free text, no special-category question.

    Every count passes the service's one small-number rule (`engage.disclosure`): a count under the threshold
    is not shown, nor any count it could be worked out from; a question answered by fewer people than the
    threshold shows nothing at all.
    """
    limit = disclosure.threshold()
    questions = []
    for info in results.steps_of(flow):
        step = flow.step(info.id)
        if info.kind not in ("choice", "yes_no", "multiple") or info.special_category or step.special_category:
            continue
        answered = results.question_result(session, flow.id, info).answered
        found = results._value_counts(session, results._answers_where(flow.id, info.id, None))
        values = [value for value, _label in info.choices]
        counts = [found.get((value,), 0) for value in values]
        labels = _labels(flow, step, lang)
        question = PublicQuestion(info.id, flow.text(step, lang), answered if answered >= limit else None)
        shown = (disclosure.protect_counts(counts, answered=answered, additive=info.kind != "multiple")
                 if question.answered is not None else [None] * len(counts))
        for value, n in zip(values, shown, strict=True):
            question.rows.append({
                "value": value, "label": labels.get(value, value), "count": n,
                "percent": round(100.0 * n / answered) if n is not None and answered else None,
            })
        questions.append(question)
    return questions


def _labels(flow, step, lang: str) -> dict[str, str]:
    labels = {c.value: flow.text(c.labels, lang) for c in step.choices}
    if step.kind == "yes_no":
        for answer, value in (("yes", "true"), ("no", "false")):
            texts = step.yes_no_labels.get(answer)
            labels[value] = flow.text(texts, lang) if texts else i18n.gettext(lang, YES_NO_WORDS[answer])
    return labels


def respondents(session: Session, flow_id: str) -> int | None:
    """Return how many people answered, or None when fewer than the small-number threshold did."""
    n = results.summary(session, flow_id)["respondents"]
    return n if n >= disclosure.threshold() else None
