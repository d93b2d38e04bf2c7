"""Results of a flow, computed as SQL aggregates: counts per question, breakdowns, free text, funnel, timing.

Every figure here comes from GROUP BY / COUNT queries; Python only reshapes the
few rows they return. Counts of special-category answers (a step marked
`special_category: true`, or saved to a field such as ethnicity) and breakdowns by
special-category fields go through `engage.disclosure.protect`, the one
small-number rule, so that no small group can be seen or worked out.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from sqlalchemy import Text, and_, case, cast, distinct, func, literal, or_, select
from sqlalchemy.orm import Session

from engage import disclosure
from engage.contacts import is_special_category
from store.models import Answer, Contact, OutboxMessage, Run

# Contact fields that hold special-category data (UK GDPR Article 9).
SPECIAL_CATEGORY_FIELDS = frozenset({"ethnicity", "disability", "religion", "sexual_orientation", "health"})
SUPPRESS_BELOW = disclosure.DEFAULT_THRESHOLD  # the default; disclosure.threshold() is the one in force
# Dimensions a result can be broken down by: contact fields, or columns of the answer itself.
ANSWER_DIMENSIONS = ("language", "channel")
FIELD_DIMENSIONS = ("ward", "age_band", "ethnicity", "disability", "tenure")
DIMENSIONS = FIELD_DIMENSIONS[:2] + ANSWER_DIMENSIONS + FIELD_DIMENSIONS[2:]
# Runs an officer started to try a flow out; never counted.
PREVIEW_STARTED_BY = "preview"
# engage.conversations.REPLACED: a run whose answers the same resident's later run replaced.
REPLACED_STATUS = "replaced"
UNKNOWN = "(not given)"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StepInfo:
    """What the results page needs to know of one step of a flow."""

    id: str
    question: str
    kind: str  # choice | multiple | yes_no | number | text | say
    choices: tuple[tuple[str, str], ...] = ()  # (value, English label)
    save_to: str | None = None
    marked_special: bool = False  # the flow marks the step `special_category: true`

    @property
    def is_question(self) -> bool:
        return self.kind != "say"

    @property
    def special_category(self) -> bool:
        """Answers are special-category data: the flow says so, or they are saved to such a field."""
        return self.marked_special or bool(self.save_to and is_special_category(self.save_to))


@dataclass
class Count:
    """One answer value's count and share of those who answered."""

    value: str
    label: str
    count: int | None  # None when suppressed
    percent: float | None

    @property
    def suppressed(self) -> bool:
        return self.count is None


@dataclass
class QuestionResult:
    step: StepInfo
    answered: int
    skipped: int
    counts: list[Count] = field(default_factory=list)


@dataclass(frozen=True)
class Filters:
    """Narrow results to one ward, age band, language or channel."""

    ward: str | None = None
    age_band: str | None = None
    language: str | None = None
    channel: str | None = None

    def any(self) -> bool:
        return any((self.ward, self.age_band, self.language, self.channel))


def _text_of(value: Any, lang: str = "en") -> str:
    if isinstance(value, dict):
        return str(value.get(lang) or next(iter(value.values()), ""))
    return "" if value is None else str(value)


def steps_of(flow) -> list[StepInfo]:
    """Describe a loaded flow's steps, in file order, in its base language."""
    base = flow.base_language
    steps = []
    for step in flow.steps:
        choices = tuple((c.value, c.labels.get(base) or next(iter(c.labels.values()), c.value)) for c in step.choices)
        if step.kind == "yes_no":
            choices = (("true", "Yes"), ("false", "No"))
        kind = {"scale": "number"}.get(step.kind, step.kind)
        prompt = step.prompt.get(base) or next(iter(step.prompt.values()), "")
        steps.append(StepInfo(step.id, prompt, kind, choices, step.save_to, bool(step.special_category)))
    return steps


def flow_steps(source: str) -> list[StepInfo]:
    """Read the steps of a flow's YAML source, in order, with their base-language wording."""
    try:
        from flows.loader import load_flow_text

        return steps_of(load_flow_text(source, "<results>"))
    except Exception:  # an old version the loader no longer accepts: read the YAML as plainly as we can
        log.info("reading a stored flow version without the loader")
    try:
        data = YAML(typ="safe").load(source) or {}
    except YAMLError:
        return []
    steps = []
    for raw in data.get("steps") or []:
        if not isinstance(raw, dict) or "id" not in raw:
            continue
        choices = tuple((str(c.get("value")), _text_of({k: v for k, v in c.items() if k != "value"}))
                        for c in raw.get("choices") or [] if isinstance(c, dict))
        if "ask" not in raw:
            kind = "say"
        elif raw.get("multiple"):
            kind = "multiple"
        elif choices:
            kind = "choice"
        elif raw.get("yes_no"):
            kind = "yes_no"
            choices = (("true", "Yes"), ("false", "No"))
        elif "number" in raw or "scale" in raw:
            kind = "number"
        else:
            kind = "text"
        steps.append(StepInfo(str(raw["id"]), _text_of(raw.get("ask") or raw.get("say")), kind, choices,
                              raw.get("save_to"), raw.get("special_category") is True))
    return steps


def special_steps(session: Session, flow_ids) -> set[tuple[str, str]]:
    """(flow id, step id) of every special-category question in any stored version of these flows."""
    from store.models import FlowVersion

    found: set[tuple[str, str]] = set()
    ids = sorted(set(flow_ids))
    if not ids:
        return found
    for flow_id, source in session.execute(select(FlowVersion.flow_id, FlowVersion.source)
                                           .where(FlowVersion.flow_id.in_(ids))):
        found.update((flow_id, step.id) for step in flow_steps(source) if step.special_category)
    return found


# ----- building blocks --------------------------------------------------------------------


IN_FLOW, IN_ALL = 1, 2  # bits of Run.erased_respondent (engage.privacy sets them on erasure)


def erased_respondent(bit: int):
    """Runs an erasure marked as counting as one person (of their flow, or of all flows)."""
    return and_(Run.erased_respondent.isnot(None), Run.erased_respondent.op("&")(bit) != 0)


def counted_runs():
    """Runs that count towards results: not officers' previews, nor runs a resident's later answers replaced."""
    return and_(or_(Run.started_by.is_(None), Run.started_by != PREVIEW_STARTED_BY), Run.status != REPLACED_STATUS)


_counted_runs = counted_runs


def _dimension_column(dimension: str):
    if dimension == "language":
        return func.coalesce(Answer.language, literal(UNKNOWN))
    if dimension == "channel":
        return func.coalesce(Answer.channel, literal(UNKNOWN))
    if dimension in FIELD_DIMENSIONS or dimension.isidentifier():
        return func.coalesce(Contact.fields[dimension].as_string(), literal(UNKNOWN))
    raise ValueError(f"cannot break results down by {dimension!r}")


def _answers_where(flow_id: str, step_id: str | None, filters: Filters | None):
    conditions = [Answer.flow_id == flow_id, _counted_runs()]
    if step_id is not None:
        conditions.append(Answer.step_id == step_id)
    return and_(*conditions, *_filter_conditions(filters, Answer))


def _answers_from(stmt):
    return (stmt.select_from(Answer).join(Run, Run.id == Answer.run_id)
            .outerjoin(Contact, Contact.id == Answer.contact_id))


def _json_type(session: Session, column):
    return func.json_typeof(column) if session.get_bind().dialect.name == "postgresql" else func.json_type(column)


def _array_elements(session: Session):
    if session.get_bind().dialect.name == "postgresql":
        return func.json_array_elements_text(Answer.value).table_valued("value").alias("element")
    return func.json_each(Answer.value).table_valued("value").alias("element")


def _key(raw: Any) -> str:
    """Turn a grouped JSON text ('"safe"', 'true', '3') into the value's plain text."""
    if raw is None:
        return UNKNOWN
    try:
        value = json.loads(raw)
    except (TypeError, ValueError):
        return str(raw)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _value_counts(session: Session, where, group_by=None) -> dict[tuple, int]:
    """Count answers per value (lists counted per element), optionally per another column too."""
    extra = [group_by] if group_by is not None else []
    answered = and_(where, Answer.skipped.is_(False), Answer.value.isnot(None))
    is_array = _json_type(session, Answer.value) == "array"
    scalar_text = cast(Answer.value, Text)
    scalar_rows = session.execute(
        _answers_from(select(scalar_text, *extra, func.count(Answer.id)))
        .where(answered, ~is_array).group_by(scalar_text, *extra)
    ).all()
    element = _array_elements(session)
    array_rows = session.execute(
        _answers_from(select(element.c.value, *extra, func.count(Answer.id)))
        .join(element, literal(True))
        .where(answered, is_array).group_by(element.c.value, *extra)
    ).all()
    counts: dict[tuple, int] = {}
    for row in scalar_rows:
        key = (_key(row[0]), *row[1:-1])
        counts[key] = counts.get(key, 0) + row[-1]
    for row in array_rows:
        key = (str(row[0]), *row[1:-1])
        counts[key] = counts.get(key, 0) + row[-1]
    return counts


def is_special_dimension(dimension: str) -> bool:
    """A breakdown by this field counts special-category groups."""
    return dimension not in ANSWER_DIMENSIONS and is_special_category(dimension)


# ----- public figures --------------------------------------------------------------------


def _runs_where(filters: Filters | None) -> list:
    """The results filters as conditions on runs (and their contact, joined by the caller when needed)."""
    return _filter_conditions(filters, Run)


def _filter_conditions(filters: Filters | None, source) -> list:
    """The results filters as conditions: ward and age band on the contact, language and channel on `source`
    (an answer's own, or its run's)."""
    if not filters:
        return []
    conditions = []
    if filters.ward:
        conditions.append(Contact.fields["ward"].as_string() == filters.ward)
    if filters.age_band:
        conditions.append(Contact.fields["age_band"].as_string() == filters.age_band)
    if filters.language:
        conditions.append(source.language == filters.language)
    if filters.channel:
        conditions.append(source.channel == filters.channel)
    return conditions


def summary(session: Session, flow_id: str, filters: Filters | None = None) -> dict[str, Any]:
    """Count runs started, completed and the people who answered at least once (narrowed by the filters).

    One pass over the flow's runs, grouped by contact: respondents are the people with a run
    that has a real answer (`Run.answered_at`, kept by the conversation service), so the
    million answers of a big consultation are never read.
    """
    by_contact = filters is not None and bool(filters.ward or filters.age_band)
    per_contact = (
        select(
            Run.contact_id.label("contact_id"),
            func.count(Run.id).label("started"),
            func.count(case((Run.status == "completed", Run.id))).label("completed"),
            func.count(case((Run.status == "active", Run.id))).label("active"),
            func.count(case((Run.channel == "assisted", Run.id))).label("assisted"),
            func.count(Run.answered_at).label("answered"),
        )
        .where(Run.flow_id == flow_id, _counted_runs(), *_runs_where(filters))
        .group_by(Run.contact_id)
    )
    if by_contact:
        per_contact = per_contact.outerjoin(Contact, Contact.id == Run.contact_id)
    per_contact = per_contact.subquery()
    row = session.execute(
        select(
            func.coalesce(func.sum(per_contact.c.started), 0),
            func.coalesce(func.sum(per_contact.c.completed), 0),
            func.coalesce(func.sum(per_contact.c.active), 0),
            # Erased residents' runs are kept without a contact: counted as people below, by their mark.
            func.count(per_contact.c.contact_id),
            func.count(case((per_contact.c.answered > 0, per_contact.c.contact_id))),
            func.coalesce(func.sum(per_contact.c.assisted), 0),
        )
    ).one()
    started, completed, active, people, respondents, assisted = (int(v or 0) for v in row)
    erased_people, erased_respondents = session.execute(
        select(func.count(Run.id), func.count(Run.answered_at))
        .where(Run.flow_id == flow_id, _counted_runs(), Run.contact_id.is_(None), erased_respondent(IN_FLOW))
    ).one()
    people += int(erased_people or 0)
    respondents += int(erased_respondents or 0)
    return {
        "started": started, "completed": completed, "active": active, "people": people,
        "respondents": respondents, "assisted": assisted,
        "completion_rate": round(100.0 * completed / started, 1) if started else None,
    }


def question_result(session: Session, flow_id: str, step: StepInfo, filters: Filters | None = None) -> QuestionResult:
    """Count each answer to one question, with its share of those who answered it."""
    where = _answers_where(flow_id, step.id, filters)
    answered, skipped = session.execute(
        _answers_from(select(func.count(case((Answer.skipped.is_(False), Answer.id))),
                             func.count(case((Answer.skipped.is_(True), Answer.id)))))
        .where(where)
    ).one()
    counts = {key[0]: n for key, n in _value_counts(session, where).items()}
    labels = dict(step.choices)
    order = [value for value, _label in step.choices] + sorted(v for v in counts if v not in labels)
    result = QuestionResult(step, answered, skipped)
    if step.kind in ("text",):
        return result
    raw = [counts.get(value, 0) for value in order]
    if step.special_category:
        shown_counts = disclosure.protect_counts(raw, additive=step.kind != "multiple")
    else:
        shown_counts = raw
    for value, n, shown in zip(order, raw, shown_counts, strict=True):
        percent = round(100.0 * n / answered, 1) if answered and shown is not None else None
        result.counts.append(Count(value, labels.get(value, value), shown, percent))
    return result


def breakdown(session: Session, flow_id: str, step: StepInfo, dimension: str,
              filters: Filters | None = None) -> dict[str, Any]:
    """Cross an answer with a dimension (ward, age band, language, channel...); small special groups hidden."""
    column = _dimension_column(dimension)
    where = _answers_where(flow_id, step.id, filters)
    counts = _value_counts(session, where, group_by=column)
    totals_rows = session.execute(
        _answers_from(select(column, func.count(Answer.id)))
        .where(where, Answer.skipped.is_(False)).group_by(column)
    ).all()
    totals = {str(group): n for group, n in totals_rows}
    suppress = is_special_dimension(dimension) or step.special_category
    labels = dict(step.choices)
    values = [v for v, _ in step.choices] + sorted({k[0] for k in counts} - set(labels))
    groups = sorted(totals)
    grid = [[counts.get((value, group), 0) for value in values] for group in groups]
    shown_grid: list[list[int | None]] = grid
    shown_totals: list[int | None] = [totals[group] for group in groups]
    if suppress and grid and values:
        shown_grid, shown_totals = _protect_breakdown(session, flow_id, step, filters, grid, values,
                                                      [totals[g] for g in groups])
    table = []
    for group, row, shown_row, shown_total in zip(groups, grid, shown_grid, shown_totals, strict=True):
        total = totals[group]
        cells = []
        for value, n, shown in zip(values, row, shown_row, strict=True):
            cells.append({"value": value, "count": shown,
                          "percent": round(100.0 * n / total, 1) if total and shown is not None else None})
        table.append({"group": group, "total": shown_total, "cells": cells})
    return {"dimension": dimension, "values": [(v, labels.get(v, v)) for v in values], "rows": table,
            "suppressed": suppress}


def _protect_breakdown(session: Session, flow_id: str, step: StepInfo, filters: Filters | None,
                       grid: list[list[int]], values: list[str], group_totals: list[int]):
    """Hide small cells of a special-category breakdown, consistently with the question's own counts.

    The breakdown's column totals are the question's counts, shown in the question's table: those
    stay as that table shows them (hidden there, hidden here), so the two cannot be played off.
    """
    if step.kind == "multiple" or [sum(row) for row in grid] != group_totals:
        # Counts that need not add up (several answers per person): hide each small one, and small totals.
        limit = disclosure.threshold()
        return ([[None if n < limit else n for n in row] for row in grid],
                [None if n < limit else n for n in group_totals])
    question = question_result(session, flow_id, step, filters)
    shown_in_question = {c.value: c.count is not None for c in question.counts}
    modes = [disclosure.SHOWN if shown_in_question.get(v, True) else disclosure.HIDDEN for v in values]
    protected = disclosure.protect(grid, row_totals=disclosure.OPEN, column_totals=modes, total=disclosure.SHOWN)
    return protected.cells, protected.row_totals


def free_text(session: Session, flow_id: str, step_id: str, *, search: str | None = None, page: int = 1,
              per_page: int = 25, filters: Filters | None = None) -> tuple[list[dict[str, Any]], int]:
    """Return one page of written answers (newest first), optionally containing a phrase, and the total."""
    where = and_(_answers_where(flow_id, step_id, filters), Answer.skipped.is_(False), Answer.raw_text.isnot(None))
    if search:
        escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        where = and_(where, func.lower(Answer.raw_text).like(f"%{escaped.lower()}%", escape="\\"))
    total = session.scalar(_answers_from(select(func.count(Answer.id))).where(where)) or 0
    rows = session.execute(
        _answers_from(select(Answer.id, Answer.raw_text, Answer.language, Answer.channel, Answer.answered_at,
                             Answer.contact_id))
        .where(where).order_by(Answer.answered_at.desc(), Answer.id.desc())
        .limit(per_page).offset(max(page - 1, 0) * per_page)
    ).all()
    return [dict(row._mapping) for row in rows], total


def funnel(session: Session, flow_id: str, steps: list[StepInfo]) -> list[dict[str, Any]]:
    """Count, for each question in order, how many runs reached it and how many of those stopped there."""
    started = session.scalar(select(func.count(Run.id)).where(Run.flow_id == flow_id, _counted_runs())) or 0
    reached = dict(session.execute(
        select(Answer.step_id, func.count(distinct(Answer.run_id))).join(Run, Run.id == Answer.run_id)
        .where(Answer.flow_id == flow_id, _counted_runs()).group_by(Answer.step_id)
    ).all())
    # Where unfinished runs are waiting (active) or stopped (expired, ended): the step they were asked.
    waiting_step = func.coalesce(Run.current_step, Run.state["step"].as_string())
    stopped = dict(session.execute(
        select(waiting_step, func.count(Run.id))
        .where(Run.flow_id == flow_id, _counted_runs(), Run.status != "completed").group_by(waiting_step)
    ).all())
    rows = [{"step": None, "label": "Started", "reached": started, "percent": 100.0 if started else None,
             "stopped": 0}]
    for step in steps:
        if not step.is_question:
            continue
        # Runs stopped at a step were asked it without answering, so they reached it too.
        n = reached.get(step.id, 0) + stopped.get(step.id, 0)
        rows.append({"step": step.id, "label": step.question, "reached": n,
                     "percent": round(100.0 * n / started, 1) if started else None,
                     "stopped": stopped.get(step.id, 0)})
    completed = session.scalar(
        select(func.count(Run.id)).where(Run.flow_id == flow_id, _counted_runs(), Run.status == "completed")) or 0
    rows.append({"step": None, "label": "Completed", "reached": completed,
                 "percent": round(100.0 * completed / started, 1) if started else None, "stopped": 0})
    return rows


def _seconds_between(session: Session, later, earlier):
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", later - earlier)
    return (func.julianday(later) - func.julianday(earlier)) * 86400.0


def _median(session: Session, durations) -> float | None:
    """Median of a one-column subquery, by ORDER BY/OFFSET so it runs the same on both engines."""
    n = session.scalar(select(func.count()).select_from(durations)) or 0
    if n == 0:
        return None
    column = durations.c.seconds
    middle = session.scalars(select(column).order_by(column).offset((n - 1) // 2).limit(2 - n % 2)).all()
    return round(sum(float(v) for v in middle) / len(middle), 1)


def median_seconds(session: Session, flow_id: str) -> dict[str, float | None]:
    """Median seconds from a run's start to its first answer, and to completion."""
    to_first = (select(_seconds_between(session, Run.answered_at, Run.started_at).label("seconds"))
                .where(Run.flow_id == flow_id, Run.answered_at.isnot(None), _counted_runs()).subquery())
    to_finish = (select(_seconds_between(session, Run.finished_at, Run.started_at).label("seconds"))
                 .where(Run.flow_id == flow_id, Run.status == "completed", Run.finished_at.isnot(None),
                        _counted_runs()).subquery())
    return {"first_answer": _median(session, to_first), "completion": _median(session, to_finish)}


def broadcast_response_rates(session: Session, flow_id: str | None = None) -> list[dict[str, Any]]:
    """For each broadcast: messages sent and delivered, people who answered, and the response rate."""
    runs_where = [Run.broadcast_id.isnot(None), _counted_runs()]
    if flow_id:
        runs_where.append(Run.flow_id == flow_id)
    responded = dict(session.execute(
        select(Run.broadcast_id, func.count(distinct(Run.contact_id)))
        .where(*runs_where, Run.answered_at.isnot(None)).group_by(Run.broadcast_id)
    ).all())
    ids_stmt = select(Run.broadcast_id).where(*runs_where).distinct()
    outbox_where = [OutboxMessage.broadcast_id.isnot(None), OutboxMessage.kind.in_(("broadcast", "reminder"))]
    if flow_id:
        outbox_where.append(OutboxMessage.broadcast_id.in_(ids_stmt))
    rows = session.execute(
        select(OutboxMessage.broadcast_id,
               func.count(distinct(OutboxMessage.contact_id)),
               func.count(distinct(case((OutboxMessage.status.in_(("sent", "delivered")),
                                         OutboxMessage.contact_id)))),
               func.count(distinct(case((OutboxMessage.status == "delivered", OutboxMessage.contact_id)))),
               func.count(distinct(case((OutboxMessage.status.in_(("failed", "undelivered")),
                                         OutboxMessage.contact_id)))),
               func.min(OutboxMessage.sent_at))
        .where(*outbox_where).group_by(OutboxMessage.broadcast_id).order_by(OutboxMessage.broadcast_id)
    ).all()
    out = []
    for broadcast_id, queued, sent, delivered, failed, first_sent in rows:
        answered = responded.get(broadcast_id, 0)
        out.append({"broadcast_id": broadcast_id, "recipients": queued, "sent": sent, "delivered": delivered,
                    "failed": failed, "responded": answered, "first_sent": first_sent,
                    "rate": round(100.0 * answered / sent, 1) if sent else None})
    return out


def response_counts(session: Session, flow_ids: list[str]) -> dict[str, dict[str, int]]:
    """Count started and completed runs for several flows in one query (the home page)."""
    if not flow_ids:
        return {}
    rows = session.execute(
        select(Run.flow_id, func.count(Run.id), func.count(case((Run.status == "completed", Run.id))))
        .where(Run.flow_id.in_(flow_ids), _counted_runs()).group_by(Run.flow_id)
    ).all()
    return {flow_id: {"started": started, "completed": completed} for flow_id, started, completed in rows}


def field_values(session: Session, flow_id: str, field_name: str) -> list[str]:
    """List the values of a contact field among a flow's respondents (for filter menus)."""
    column = Contact.fields[field_name].as_string()
    rows = session.scalars(
        select(column).distinct().select_from(Answer).join(Contact, Contact.id == Answer.contact_id)
        .where(Answer.flow_id == flow_id, column.isnot(None)).order_by(column)
    ).all()
    return [str(v) for v in rows]
