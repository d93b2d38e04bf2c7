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

from engage.results import PREVIEW_STARTED_BY, UNKNOWN, StepInfo, _key, counted_runs
from store.models import Answer, Contact, Run

CENSUS_DIR = Path(__file__).resolve().parent.parent / "census"
UNDER_REACHED_BELOW = 0.8
OVER_REACHED_ABOVE = 1.25


@dataclass
class GroupShare:
    """One group's place among respondents against its place in the population."""

    key: str
    respondents: int
    share: float | None  # of respondents whose value is known, 0-1
    expected: float  # census share, 0-1
    ratio: float | None  # share / expected

    @property
    def under_reached(self) -> bool:
        return self.ratio is not None and self.ratio < UNDER_REACHED_BELOW

    @property
    def over_reached(self) -> bool:
        return self.ratio is not None and self.ratio > OVER_REACHED_ABOVE


@dataclass
class Dimension:
    name: str
    field: str
    source: str
    groups: list[GroupShare] = field(default_factory=list)
    known: int = 0
    unknown: int = 0
    other: int = 0  # answers the census has no group for ("prefer not to say")

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


def _expected_shares(spec: dict[str, Any]) -> dict[str, float]:
    shares = {str(k): float(v) for k, v in (spec.get("shares") or {}).items()}
    total = sum(shares.values())
    if total <= 0:
        raise ValueError("a census dimension needs positive shares")
    # Published percentages rarely add to exactly 100; normalise so expected shares sum to 1.
    return {k: v / total for k, v in shares.items()}


def respondents_where(flow_id: str | None):
    """Contacts who answered at least one question (of one flow, or of any)."""
    answered = select(Answer.contact_id).join(Run, Run.id == Answer.run_id).where(
        Answer.skipped.is_(False), or_(Run.started_by.is_(None), Run.started_by != PREVIEW_STARTED_BY))
    if flow_id:
        answered = answered.where(Answer.flow_id == flow_id)
    return and_(Contact.id.in_(answered), Contact.erased_at.is_(None))


def field_counts(session: Session, field_name: str, flow_id: str | None) -> dict[str, int]:
    """Count respondents per value of one contact field."""
    column = func.coalesce(Contact.fields[field_name].as_string(), literal(UNKNOWN))
    rows = session.execute(
        select(column, func.count(distinct(Contact.id))).where(respondents_where(flow_id)).group_by(column)
    ).all()
    return {str(value): n for value, n in rows}


def compare(session: Session, baseline: dict[str, Any], flow_id: str | None = None) -> list[Dimension]:
    """Compare respondents' shares with the census for each dimension of the baseline."""
    out = []
    for name, spec in baseline["dimensions"].items():
        field_name = spec.get("field", name)
        expected = _expected_shares(spec)
        counts = field_counts(session, field_name, flow_id)
        known = sum(n for k, n in counts.items() if k in expected)
        dim = Dimension(name=name, field=field_name, source=str(spec.get("source", "")).strip(), known=known,
                        unknown=counts.get(UNKNOWN, 0),
                        other=sum(n for k, n in counts.items() if k not in expected and k != UNKNOWN))
        for key, exp in expected.items():
            n = counts.get(key, 0)
            share = n / known if known else None
            dim.groups.append(GroupShare(key, n, share, exp, (share / exp) if share is not None and exp else None))
        out.append(dim)
    return out


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


def weighting(session: Session, baseline: dict[str, Any], flow_id: str | None = None) -> Weighting:
    """Rake respondents to the census margins; one weight per combination of their values."""
    names = list(baseline["dimensions"])
    fields = [baseline["dimensions"][n].get("field", n) for n in names]
    columns = [func.coalesce(Contact.fields[f].as_string(), literal(UNKNOWN)) for f in fields]
    rows = session.execute(
        select(*columns, func.count(distinct(Contact.id))).where(respondents_where(flow_id)).group_by(*columns)
    ).all()
    cells = {tuple(str(v) for v in row[:-1]): float(row[-1]) for row in rows}
    margins = [_expected_shares(baseline["dimensions"][n]) for n in names]
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
    return [{"value": v, "label": labels.get(v, v), "raw": raw.get(v, 0),
             "raw_percent": round(100 * raw.get(v, 0) / raw_total, 1) if raw_total else None,
             "weighted_percent": round(100 * weighted.get(v, 0) / weighted_total, 1) if weighted_total else None}
            for v in order]


def under_reached_groups(dimensions: list[Dimension]) -> list[tuple[Dimension, GroupShare]]:
    """List every group answering less than 0.8 times its share of the population."""
    return [(d, g) for d in dimensions for g in d.groups if g.under_reached]
