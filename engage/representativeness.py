"""Who answered compared with who lives here: shares against the census, under-reached groups, raking weights.

Weights come from raking (iterative proportional fitting) written out here in a
few lines rather than taken from a library: `ipfn` (the usual choice) is a beta
package last released in 2021 that pulls in pandas and numpy, and `samplics`
pulls in a statistics stack besides, all to adjust a table of a few dozen
cells. The loop below is the textbook algorithm (Deming and Stephan, 1940).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from sqlalchemy import Text, and_, cast, distinct, func, literal, or_, select
from sqlalchemy.orm import Session

from engage import disclosure
from engage.contacts import is_special_category
from engage.results import (
    IN_ALL,
    IN_FLOW,
    PREVIEW_STARTED_BY,
    UNKNOWN,
    StepInfo,
    _key,
    counted_runs,
    erased_respondent,
    flow_steps,
)
from store.models import Answer, Contact, FlowVersion, Run

CENSUS_DIR = Path(__file__).resolve().parent.parent / "census"
UNDER_REACHED_BELOW = 0.8
OVER_REACHED_ABOVE = 1.25


@dataclass
class GroupShare:
    """One group's place among respondents against its place in the population."""

    key: str
    respondents: int | None  # None where the small-number rule hides it
    share: float | None  # of respondents whose value is known, 0-1
    expected: float | None  # census share, 0-1 (None: the census file gives no figure for this dimension)
    ratio: float | None  # share / expected
    # The group is flagged under-reached though its figures are hidden (a flag says "fewer than
    # expected", never how many): the reminder to it must still be offered.
    hidden_under_reached: bool = False

    @property
    def hidden(self) -> bool:
        return self.respondents is None

    @property
    def under_reached(self) -> bool:
        return self.hidden_under_reached or (self.ratio is not None and self.ratio < UNDER_REACHED_BELOW)

    @property
    def over_reached(self) -> bool:
        return self.ratio is not None and self.ratio > OVER_REACHED_ABOVE


@dataclass
class Base:
    """The population a dimension's census shares are taken from, stated under its table."""

    min_age: int | None = None  # only people of this age or over (they can answer); None: everyone
    population: float | None = None  # people in the base, where the census file gives counts
    # Groups partly under the minimum age, counted from it by spreading the group's people evenly over its years.
    estimated: list[str] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)  # groups wholly under the minimum age
    year: Any = None


@dataclass
class Dimension:
    name: str
    field: str
    source: str
    groups: list[GroupShare] = field(default_factory=list)
    known: int | None = 0
    unknown: int | None = 0
    other: int | None = 0  # answers the census has no group for ("prefer not to say")
    # A special-category field (ethnicity, disability): counts pass the small-number rule.
    protected: bool = False
    # What the census shares are shares of (see Base); None for a dimension with no census figures.
    base: Base | None = None

    @property
    def has_census(self) -> bool:
        return self.base is not None

    @property
    def under_reached(self) -> list[GroupShare]:
        return [g for g in self.groups if g.under_reached]


def load_baseline(path: str | Path | None = None) -> dict[str, Any]:
    """Read a census baseline file (census/harlow.yaml by default)."""
    path = Path(path) if path else CENSUS_DIR / "harlow.yaml"
    with path.open(encoding="utf-8") as fh:
        data = YAML(typ="safe").load(fh) or {}
    if not isinstance(data.get("dimensions"), dict):
        raise ValueError(f"{path} has no 'dimensions' mapping")
    return data


DEFAULT_MIN_AGE = 16


def min_age(baseline: dict[str, Any], setting: Any = None) -> int | None:
    """The youngest age that can answer: the setting (OUTREACH_CENSUS_MIN_AGE), else the census file's
    `min_age`, else 16. 0 compares against everyone."""
    for value in (setting, baseline.get("min_age")):
        if value not in (None, ""):
            return int(value) or None
    return DEFAULT_MIN_AGE


def has_figures(spec: dict[str, Any]) -> bool:
    """The census file gives this dimension's population (shares or counts)."""
    return bool(spec.get("shares") or spec.get("counts"))


def _expected_shares(spec: dict[str, Any], youngest: int | None = None) -> dict[str, float]:
    return _population(spec, youngest)[0]


def _population(spec: dict[str, Any], youngest: int | None = None) -> tuple[dict[str, float], Base]:
    """The census shares of a dimension (summing to 1) and what they are shares of.

    Counts are used where the file gives them, shares otherwise. A dimension whose groups
    give `ages` ([lowest, highest], highest empty for "and over") is compared with people aged
    `youngest` or over: a group wholly younger is left out, and a group that straddles the age
    keeps its people from that age on, spread evenly over its years unless the file gives the
    figure itself (`counts_from_min_age`).
    """
    base = Base(year=spec.get("year"))
    # Published shares where the file gives them, else counts; counts (when given) also say how many people.
    figures = _adjusted(spec, spec.get("shares") or spec.get("counts") or {}, youngest, base)
    if spec.get("counts"):
        base.population = sum(_adjusted(spec, spec["counts"], youngest, Base()).values())
    total = sum(figures.values())
    if total <= 0:
        raise ValueError("a census dimension needs positive shares or counts")
    # Published percentages rarely add to exactly 100; normalise so expected shares sum to 1.
    return {k: v / total for k, v in figures.items()}, base


def _adjusted(spec: dict[str, Any], raw: dict[str, Any], youngest: int | None, base: Base) -> dict[str, float]:
    """A dimension's figures limited to people aged `youngest` or over (where its groups give `ages`)."""
    figures = {str(k): float(v) for k, v in raw.items()}
    ages = {str(k): v for k, v in (spec.get("ages") or {}).items()}
    if not (ages and youngest):
        return figures
    base.min_age = youngest
    counts = {str(k): float(v) for k, v in (spec.get("counts") or {}).items()}
    given = {str(k): float(v) for k, v in (spec.get("counts_from_min_age") or {}).items()}
    for key in list(figures):
        lowest, highest = (list(ages.get(key) or []) + [None, None])[:2]
        if lowest is None or int(lowest) >= youngest:
            continue
        if highest is not None and int(highest) < youngest:
            base.left_out.append(key)
            del figures[key]
        elif key in given and counts.get(key):
            # The file's own count of the group from that age: keep that part of the group.
            figures[key] *= given[key] / counts[key]
        elif highest is not None:
            base.estimated.append(key)
            figures[key] *= (int(highest) - youngest + 1) / (int(highest) - int(lowest) + 1)
    return figures


def _label_keys(spec: dict[str, Any]) -> list[str]:
    return [str(k) for k in (spec.get("labels") or {})]


def respondents_where(flow_id: str | None):
    """Contacts who answered at least one question (of one flow, or of any)."""
    answered = select(Answer.contact_id).join(Run, Run.id == Answer.run_id).where(
        Answer.skipped.is_(False), or_(Run.started_by.is_(None), Run.started_by != PREVIEW_STARTED_BY))
    if flow_id:
        answered = answered.where(Answer.flow_id == flow_id)
    return and_(Contact.id.in_(answered), Contact.erased_at.is_(None))


def field_counts(session: Session, field_name: str, flow_id: str | None) -> dict[str, int]:
    """Count respondents per value of one contact field (erased respondents from their kept answers)."""
    column = func.coalesce(Contact.fields[field_name].as_string(), literal(UNKNOWN))
    rows = session.execute(
        select(column, func.count(distinct(Contact.id))).where(respondents_where(flow_id)).group_by(column)
    ).all()
    counts = {str(value): n for value, n in rows}
    for (value,) in anonymous_profiles(session, [field_name], flow_id):
        counts[value] = counts.get(value, 0) + 1
    return counts


def anonymous_profiles(session: Session, fields: list[str], flow_id: str | None) -> list[tuple[str, ...]]:
    """One tuple of field values per erased respondent, read from their kept anonymous answers.

    An erasure removes the person's record but keeps their answers (without them) and marks one run
    as the person (`Run.erased_respondent`). Answers to questions that `save_to` a field give that
    field's value, so "who answered" does not move; a value that only the record held is unknown.
    """
    stmt = (select(Run.id, Run.flow_version_id)
            .where(Run.contact_id.is_(None), erased_respondent(IN_FLOW if flow_id else IN_ALL),
                   or_(Run.started_by.is_(None), Run.started_by != PREVIEW_STARTED_BY),
                   Run.id.in_(select(Answer.run_id).where(Answer.skipped.is_(False)))))
    if flow_id:
        stmt = stmt.where(Run.flow_id == flow_id)
    runs = session.execute(stmt).all()
    if not runs:
        return []
    saves: dict[int, dict[str, str]] = {}
    for version_id, source in session.execute(select(FlowVersion.id, FlowVersion.source)
                                              .where(FlowVersion.id.in_({v for _r, v in runs}))):
        saves[version_id] = {st.id: st.save_to for st in flow_steps(source) if st.save_to in fields}
    values: dict[int, dict[str, str]] = {}
    for run_id, step_id, value in session.execute(
            select(Answer.run_id, Answer.step_id, cast(Answer.value, Text))
            .where(Answer.run_id.in_([r for r, _v in runs]), Answer.skipped.is_(False))):
        values.setdefault(run_id, {})[step_id] = _key(value)
    out = []
    for run_id, version_id in runs:
        by_field = {save: values.get(run_id, {}).get(step) for step, save in saves.get(version_id, {}).items()}
        out.append(tuple(by_field.get(f) or UNKNOWN for f in fields))
    return out


def compare(session: Session, baseline: dict[str, Any], flow_id: str | None = None, *,
            youngest: int | None = None) -> list[Dimension]:
    """Compare respondents' shares with the census for each dimension of the baseline.

    Special-category dimensions (ethnicity, disability...) are shown only as the small-number
    rule (`engage.disclosure`) allows: groups, "other" and "not given" are one table whose total
    (all respondents) is shown. A dimension the census file gives no figures for (wards, until
    the council adds them) shows respondents by group only. Dimensions with `ages` compare with
    the people who can answer: `youngest` or over (`min_age()`; 16 by default).
    """
    youngest = min_age(baseline) if youngest is None else (youngest or None)
    out = []
    for name, spec in baseline["dimensions"].items():
        field_name = spec.get("field", name)
        counts = field_counts(session, field_name, flow_id)
        if not has_figures(spec):
            out.append(_respondents_only(name, field_name, spec, counts))
            continue
        expected, base = _population(spec, youngest)
        if is_special_category(field_name):
            dim = _protected_dimension(name, field_name, spec, expected, counts)
            dim.base = base
            out.append(dim)
            continue
        known = sum(n for k, n in counts.items() if k in expected)
        dim = Dimension(name=name, field=field_name, source=str(spec.get("source", "")).strip(), known=known,
                        unknown=counts.get(UNKNOWN, 0),
                        other=sum(n for k, n in counts.items() if k not in expected and k != UNKNOWN), base=base)
        for key, exp in expected.items():
            n = counts.get(key, 0)
            share = n / known if known else None
            dim.groups.append(GroupShare(key, n, share, exp, (share / exp) if share is not None and exp else None))
        out.append(dim)
    return out


def _respondents_only(name: str, field_name: str, spec: dict[str, Any], counts: dict[str, int]) -> Dimension:
    """Respondents by group where the census file has no population figures: no shares to compare."""
    keys = _label_keys(spec)
    keys += sorted(k for k in counts if k not in keys and k != UNKNOWN)
    known = sum(counts.get(k, 0) for k in keys)
    shown = [counts.get(k, 0) for k in keys]
    if is_special_category(field_name):
        protected = disclosure.protect_counts(shown + [counts.get(UNKNOWN, 0)])
        shown, unknown = protected[:-1], protected[-1]
        known_shown = known if None not in protected else None
    else:
        unknown, known_shown = counts.get(UNKNOWN, 0), known
    dim = Dimension(name=name, field=field_name, source=str(spec.get("source", "")).strip(), known=known_shown,
                    unknown=unknown, other=0, protected=is_special_category(field_name))
    for key, n in zip(keys, shown, strict=True):
        dim.groups.append(GroupShare(key, n, (n / known) if known and n is not None else None, None, None))
    return dim


# ----- raking ----------------------------------------------------------------------------


def rake(cells: dict[tuple, float], margins: list[dict[str, float]], *, max_iterations: int = 100,
         tolerance: float = 1e-9) -> dict[tuple, float]:
    """Return a weight per cell so that weighted totals match every target margin (shares summing to 1).

    `cells` maps a tuple of one value per dimension to its respondent count;
    `margins[i]` gives the target share of each value of dimension i. Values
    with no target (unknown) keep their weight in that dimension.
    """
    weights = {cell: 1.0 for cell, n in cells.items() if n > 0}
    if not weights:
        return {}
    total = sum(cells[c] for c in weights)
    for _ in range(max_iterations):
        biggest_change = 0.0
        for i, target in enumerate(margins):
            covered = [c for c in weights if c[i] in target]
            covered_total = sum(cells[c] * weights[c] for c in covered)
            if covered_total == 0:
                continue
            present = {c[i] for c in covered}
            scale_total = sum(target[v] for v in present)
            sums: dict[str, float] = {}
            for c in covered:
                sums[c[i]] = sums.get(c[i], 0.0) + cells[c] * weights[c]
            for c in covered:
                wanted = covered_total * target[c[i]] / scale_total
                factor = wanted / sums[c[i]]
                biggest_change = max(biggest_change, abs(factor - 1.0))
                weights[c] *= factor
        if biggest_change < tolerance:
            break
    # Scale so weights average 1 over respondents: weighted n equals raw n.
    weighted = sum(cells[c] * w for c, w in weights.items())
    return {c: w * total / weighted for c, w in weights.items()}


def effective_sample_size(cells: dict[tuple, float], weights: dict[tuple, float]) -> float:
    """Kish's effective sample size: (sum of weights)^2 / sum of squared weights."""
    sum_w = sum(cells[c] * w for c, w in weights.items())
    sum_w2 = sum(cells[c] * w * w for c, w in weights.items())
    return (sum_w * sum_w / sum_w2) if sum_w2 else 0.0


@dataclass
class Weighting:
    dimensions: list[str]
    fields: list[str]
    cells: dict[tuple, float]
    weights: dict[tuple, float]
    respondents: int
    effective_n: float

    @property
    def design_effect(self) -> float | None:
        return self.respondents / self.effective_n if self.effective_n else None


def weighting(session: Session, baseline: dict[str, Any], flow_id: str | None = None, *,
              youngest: int | None = None) -> Weighting:
    """Rake respondents to the census margins; one weight per combination of their values.

    Only dimensions the census file gives figures for take part; age against those who can answer.
    """
    youngest = min_age(baseline) if youngest is None else (youngest or None)
    names = [n for n, spec in baseline["dimensions"].items() if has_figures(spec)]
    fields = [baseline["dimensions"][n].get("field", n) for n in names]
    columns = [func.coalesce(Contact.fields[f].as_string(), literal(UNKNOWN)) for f in fields]
    rows = session.execute(
        select(*columns, func.count(distinct(Contact.id))).where(respondents_where(flow_id)).group_by(*columns)
    ).all()
    cells = {tuple(str(v) for v in row[:-1]): float(row[-1]) for row in rows}
    for profile in anonymous_profiles(session, fields, flow_id):
        cells[profile] = cells.get(profile, 0.0) + 1.0
    margins = [_expected_shares(baseline["dimensions"][n], youngest) for n in names]
    weights = rake(cells, margins)
    return Weighting(names, fields, cells, weights, int(sum(cells.values())), effective_sample_size(cells, weights))


def weighted_question(session: Session, flow_id: str, step: StepInfo, weights: Weighting) -> list[dict[str, Any]]:
    """Share of each answer, raw beside weighted, counting answers per value and weighting cell in SQL."""
    columns = [func.coalesce(Contact.fields[f].as_string(), literal(UNKNOWN)) for f in weights.fields]
    value_text = cast(Answer.value, Text)
    rows = session.execute(
        select(value_text, *columns, func.count(Answer.id))
        .select_from(Answer).join(Run, Run.id == Answer.run_id).join(Contact, Contact.id == Answer.contact_id)
        .where(Answer.flow_id == flow_id, Answer.step_id == step.id, Answer.skipped.is_(False),
               counted_runs())
        .group_by(value_text, *columns)
    ).all()
    raw: dict[str, float] = {}
    weighted: dict[str, float] = {}
    for row in rows:
        value, cell, n = _key(row[0]), tuple(str(v) for v in row[1:-1]), row[-1]
        raw[value] = raw.get(value, 0) + n
        weighted[value] = weighted.get(value, 0) + n * weights.weights.get(cell, 1.0)
    raw_total, weighted_total = sum(raw.values()), sum(weighted.values())
    labels = dict(step.choices)
    order = [v for v, _ in step.choices] + sorted(v for v in raw if v not in labels)
    counts = [raw.get(v, 0) for v in order]
    shown = disclosure.protect_counts(counts) if step.special_category else counts
    return [{"value": v, "label": labels.get(v, v), "raw": visible,
             "raw_percent": round(100 * n / raw_total, 1) if raw_total and visible is not None else None,
             "weighted_percent": (round(100 * weighted.get(v, 0) / weighted_total, 1)
                                  if weighted_total and visible is not None else None)}
            for v, n, visible in zip(order, counts, shown, strict=True)]


def _protected_dimension(name: str, field_name: str, spec: dict[str, Any], expected: dict[str, float],
                         counts: dict[str, int]) -> Dimension:
    keys = list(expected)
    other_keys = [k for k in counts if k not in expected and k != UNKNOWN]
    raw = [counts.get(k, 0) for k in keys] + [sum(counts[k] for k in other_keys), counts.get(UNKNOWN, 0)]
    shown = disclosure.protect_counts(raw)
    known_total = sum(raw[:len(keys)])
    other, unknown = shown[-2], shown[-1]
    # "Known" is the total less other and not given: shown only when both are, or it would give them away.
    known = known_total if other is not None and unknown is not None else None
    dim = Dimension(name=name, field=field_name, source=str(spec.get("source", "")).strip(), known=known,
                    unknown=unknown, other=other, protected=True)
    for key, n, visible in zip(keys, raw[:len(keys)], shown[:len(keys)], strict=True):
        exp = expected[key]
        true_ratio = (n / known_total) / exp if known_total and exp else None
        if visible is None or known is None:
            dim.groups.append(GroupShare(key, visible, None, exp, None, hidden_under_reached=(
                true_ratio is not None and true_ratio < UNDER_REACHED_BELOW)))
            continue
        share = n / known if known else None
        dim.groups.append(GroupShare(key, n, share, exp, (share / exp) if share is not None and exp else None))
    return dim


def under_reached_groups(dimensions: list[Dimension]) -> list[tuple[Dimension, GroupShare]]:
    """List every group answering less than 0.8 times its share of the population."""
    return [(d, g) for d in dimensions for g in d.groups if g.under_reached]
