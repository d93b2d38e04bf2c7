"""Themes of a flow's free-text step, kept in the database, with the officer in charge of them.

The first analysis of a step finds its themes (engage.themes.analysis) and stores, for each
answer, the theme it is in. From then on the stored themes are the officer's: renaming, merging,
splitting and moving answers change them (each written to the audit log), and analysing again
only places answers that arrived since: an answer that copies an earlier one goes where that one
is, others go to the nearest theme when they are close enough to it, and the rest to a group
"To look at" that the officer reads, renames, splits or moves from. Nothing an officer decided is
undone by a new analysis.

Counting: a theme's size is the number of residents with an answer in it (an answer whose
resident was erased counts as one), so a campaign text sent by 200 residents counts 200 times
but is shown once, as one quote with its count; the analysis reads each group of copies as one
text, so a campaign cannot make a theme by repetition. Answers marked "out of scope" are left out
of every size and share. Splits by ward, age band, language and channel go through the one
small-number rule (engage.disclosure.protect) whatever the question: a theme crossed with a small
ward could point at the few people who wrote it.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from engage import disclosure
from engage.officers import record
from engage.results import UNKNOWN, counted_runs
from engage.themes import analysis, duplicates
from store.models import Answer, Contact, Run
from store.models.officers import Officer
from store.models.themes import Theme, ThemeAnswer

TO_LOOK_AT = "To look at"  # the label of the group of new answers that fit no theme (shown translated)
DIMENSIONS = ("ward", "age_band", "language", "channel")
MARKS = ("needs_reply", "out_of_scope")
MAX_LABEL = 200


class ThemeError(ValueError):
    """A decision that cannot be made (an unknown theme, a theme of another step, an empty label)."""


@dataclass
class AnswerRow:
    id: int
    run_id: int
    text: str
    language: str | None
    channel: str | None
    contact_id: int | None
    ward: str | None
    age_band: str | None

    @property
    def resident(self) -> tuple[str, int]:
        return ("contact", self.contact_id) if self.contact_id is not None else ("answer", self.id)

    def group_of(self, dimension: str) -> str:
        return str(getattr(self, dimension) or UNKNOWN)


def step_answers(s: Session, flow_id: str, step_id: str) -> list[AnswerRow]:
    """The counted written answers of one step, oldest first (erased answers have no text and are left out)."""
    rows = s.execute(
        select(Answer.id, Answer.run_id, Answer.raw_text, Answer.language, Answer.channel, Answer.contact_id,
               Contact.fields["ward"].as_string(), Contact.fields["age_band"].as_string())
        .select_from(Answer).join(Run, Run.id == Answer.run_id).outerjoin(Contact, Contact.id == Answer.contact_id)
        .where(Answer.flow_id == flow_id, Answer.step_id == step_id, counted_runs(), Answer.skipped.is_(False),
               Answer.raw_text.isnot(None), Answer.raw_text != "")
        .order_by(Answer.id)
    ).all()
    return [AnswerRow(*row) for row in rows]


def themes_of(s: Session, flow_id: str, step_id: str) -> list[Theme]:
    return list(s.scalars(select(Theme).where(Theme.flow_id == flow_id, Theme.step_id == step_id,
                                              Theme.status == "active").order_by(Theme.id)))


def has_themes(s: Session, flow_id: str, step_id: str) -> bool:
    return s.scalar(select(func.count(Theme.id)).where(Theme.flow_id == flow_id, Theme.step_id == step_id)) > 0


def _label(words: list[str]) -> str:
    return ", ".join(words)[:MAX_LABEL] or "(no words)"


def _copies(rows: list[AnswerRow]) -> list[int]:
    """For each row, the id of the first answer of its group of near-identical texts."""
    leaders = duplicates.group([r.text for r in rows])
    return [rows[i].id for i in leaders]


def analyse(s: Session, flow_id: str, step_id: str, now: datetime, *, officer: Officer | None = None,
            actor: str | None = None, ip: str | None = None) -> dict[str, int]:
    """Find the step's themes the first time; afterwards place only the answers that arrived since.

    Returns counts: themes, answers placed, answers put in "To look at". Audit-logged.
    """
    rows = step_answers(s, flow_id, step_id)
    placed = {ta.answer_id: ta for ta in s.scalars(select(ThemeAnswer).where(ThemeAnswer.flow_id == flow_id,
                                                                            ThemeAnswer.step_id == step_id))}
    copy_of = _copies(rows)
    group_size: dict[int, int] = defaultdict(int)
    for leader in copy_of:
        group_size[leader] += 1
    new = [(r, leader) for r, leader in zip(rows, copy_of, strict=True) if r.id not in placed]
    to_look_at = 0
    if not themes_of(s, flow_id, step_id):
        found_themes = _first_analysis(s, flow_id, step_id, rows, copy_of, group_size, now)
        counts = {"themes": found_themes, "placed": len(rows), "to_look_at": 0}
    else:
        by_id = {r.id: r for r in rows}
        known = [(by_id[a].text, ta.theme_id) for a, ta in placed.items() if a in by_id and not ta.out_of_scope]
        assigner = analysis.Assigner.build([t for t, _ in known], [th for _, th in known]) if new else None
        leader_theme = {ta.answer_id: ta.theme_id for ta in placed.values()}
        waiting = [(r, leader) for r, leader in new if leader not in leader_theme or leader == r.id]
        decided = assigner.assign([r.text for r, _ in waiting]) if assigner and waiting else []
        choice = {r.id: d for (r, _), d in zip(waiting, decided, strict=True)}
        look_at: Theme | None = None
        for r, leader in new:
            if leader != r.id and leader in leader_theme:
                theme_id, similarity, how = leader_theme[leader], None, "assigned"
            else:
                theme_id, similarity = choice.get(r.id, (None, 0.0))
                how = "assigned"
                if theme_id is None:
                    if look_at is None:
                        look_at = _to_look_at(s, flow_id, step_id, now)
                    theme_id = look_at.id
                    to_look_at += 1
            s.add(ThemeAnswer(answer_id=r.id, theme_id=theme_id, flow_id=flow_id, step_id=step_id, placed_by=how,
                              similarity=similarity, copy_of=leader if group_size[leader] > 1 else None,
                              updated_at=now))
            leader_theme.setdefault(leader, theme_id)
        counts = {"themes": len(themes_of(s, flow_id, step_id)), "placed": len(new), "to_look_at": to_look_at}
    s.flush()
    record(s, officer, "themes.analysed", now, target_type="flow", target_id=flow_id, actor=actor, ip=ip,
           detail={"step": step_id, **counts},
           summary=f"Analysed the themes of {flow_id}/{step_id}: {counts['placed']} answers placed, "
                   f"{counts['to_look_at']} to look at")
    return counts


def _first_analysis(s: Session, flow_id: str, step_id: str, rows: list[AnswerRow], copy_of: list[int],
                    group_size: dict[int, int], now: datetime) -> int:
    leaders = [r for r, leader in zip(rows, copy_of, strict=True) if leader == r.id]
    found = analysis.find([r.text for r in leaders])
    themes = []
    for j in range(found.k):
        theme = Theme(flow_id=flow_id, step_id=step_id, label=_label(found.words[j]), words=found.words[j],
                      origin="found", created_at=now, updated_at=now)
        s.add(theme)
        themes.append(theme)
    s.flush()
    theme_of_leader = {r.id: themes[found.labels[i]].id for i, r in enumerate(leaders)}
    for r, leader in zip(rows, copy_of, strict=True):
        s.add(ThemeAnswer(answer_id=r.id, theme_id=theme_of_leader[leader], flow_id=flow_id, step_id=step_id,
                          placed_by="analysis", copy_of=leader if group_size[leader] > 1 else None, updated_at=now))
    return found.k


def _to_look_at(s: Session, flow_id: str, step_id: str, now: datetime) -> Theme:
    theme = s.scalar(select(Theme).where(Theme.flow_id == flow_id, Theme.step_id == step_id, Theme.origin == "new",
                                         Theme.status == "active", Theme.renamed_by.is_(None)).limit(1))
    if theme is None:
        theme = Theme(flow_id=flow_id, step_id=step_id, label=TO_LOOK_AT, words=[], origin="new", created_at=now,
                      updated_at=now)
        s.add(theme)
        s.flush()
    return theme


# ----- the officer's decisions -----------------------------------------------------------------


def _theme(s: Session, theme_id: int, flow_id: str, step_id: str) -> Theme:
    theme = s.get(Theme, theme_id)
    if theme is None or theme.flow_id != flow_id or theme.step_id != step_id or theme.status != "active":
        raise ThemeError("no such theme")
    return theme


def _placement(s: Session, answer_id: int, flow_id: str, step_id: str) -> ThemeAnswer:
    placed = s.get(ThemeAnswer, answer_id)
    if placed is None or placed.flow_id != flow_id or placed.step_id != step_id:
        raise ThemeError("no such answer in these themes")
    return placed


def rename(s: Session, flow_id: str, step_id: str, theme_id: int, label: str, officer: Officer | None,
           now: datetime, *, ip: str | None = None, actor: str | None = None) -> Theme:
    label = " ".join((label or "").split())[:MAX_LABEL]
    if not label:
        raise ThemeError("a theme needs a name")
    theme = _theme(s, theme_id, flow_id, step_id)
    old = theme.label
    theme.label, theme.renamed_by, theme.updated_at = label, (officer.email if officer else actor), now
    record(s, officer, "theme.renamed", now, target_type="theme", target_id=theme.id, ip=ip, actor=actor,
           detail={"flow": flow_id, "step": step_id, "from": old, "to": label},
           summary=f"Renamed theme {theme.id} of {flow_id}/{step_id} from “{old}” to “{label}”")
    return theme


def merge(s: Session, flow_id: str, step_id: str, theme_ids: list[int], into_id: int, officer: Officer | None,
          now: datetime, *, ip: str | None = None, actor: str | None = None) -> Theme:
    into = _theme(s, into_id, flow_id, step_id)
    others = [_theme(s, t, flow_id, step_id) for t in sorted(set(theme_ids) - {into_id})]
    if not others:
        raise ThemeError("choose at least one other theme to merge")
    moved = 0
    for theme in others:
        for placed in s.scalars(select(ThemeAnswer).where(ThemeAnswer.theme_id == theme.id)):
            placed.theme_id, placed.updated_at = into.id, now
            moved += 1
        theme.status, theme.merged_into_id, theme.updated_at = "merged", into.id, now
        into.words = list(dict.fromkeys([*(into.words or []), *(theme.words or [])]))[:6]
    into.updated_at = now
    if into.origin == "new" and into.renamed_by is None:
        into.origin = "found"  # the "To look at" group merged with a theme is that theme now
    record(s, officer, "theme.merged", now, target_type="theme", target_id=into.id, ip=ip, actor=actor,
           detail={"flow": flow_id, "step": step_id, "merged": [t.id for t in others], "answers": moved},
           summary=f"Merged themes {', '.join(str(t.id) for t in others)} into theme {into.id} of {flow_id}/{step_id}")
    return into


def split(s: Session, flow_id: str, step_id: str, theme_id: int, officer: Officer | None, now: datetime, *,
          parts: int | None = None, ip: str | None = None, actor: str | None = None) -> list[Theme]:
    """Split a theme by the analysis run on its answers alone: it keeps the biggest part, the others are new."""
    theme = _theme(s, theme_id, flow_id, step_id)
    placed = list(s.scalars(select(ThemeAnswer).where(ThemeAnswer.theme_id == theme.id)
                            .order_by(ThemeAnswer.answer_id)))
    texts = dict(s.execute(select(Answer.id, Answer.raw_text).where(Answer.id.in_([p.answer_id for p in placed]))
                           ).all()) if placed else {}
    leaders = [p for p in placed if (p.copy_of or p.answer_id) == p.answer_id and texts.get(p.answer_id)]
    if len(leaders) < 2:
        raise ThemeError("a theme needs two different answers to be split")
    found = analysis.find([texts[p.answer_id] for p in leaders], k=parts, max_themes=4)
    if found.k < 2:
        found = analysis.find([texts[p.answer_id] for p in leaders], k=2)
    if found.k < 2:
        raise ThemeError("the answers of this theme are all alike")
    made = [theme]
    if theme.renamed_by is None and theme.origin != "new":
        theme.label, theme.words = _label(found.words[0]), found.words[0]
    elif theme.origin == "new":
        theme.origin = "split"
        theme.label, theme.words = _label(found.words[0]), found.words[0]
    theme.updated_at = now
    for j in range(1, found.k):
        part = Theme(flow_id=flow_id, step_id=step_id, label=_label(found.words[j]), words=found.words[j],
                     origin="split", created_at=now, updated_at=now)
        s.add(part)
        made.append(part)
    s.flush()
    part_of = {p.answer_id: made[found.labels[i]].id for i, p in enumerate(leaders)}
    for p in placed:
        target = part_of.get(p.copy_of or p.answer_id, theme.id)
        if target != p.theme_id:
            p.theme_id, p.updated_at = target, now
    record(s, officer, "theme.split", now, target_type="theme", target_id=theme.id, ip=ip, actor=actor,
           detail={"flow": flow_id, "step": step_id, "into": [t.id for t in made]},
           summary=f"Split theme {theme.id} of {flow_id}/{step_id} into {len(made)} themes")
    return made


def move(s: Session, flow_id: str, step_id: str, answer_id: int, theme_id: int, officer: Officer | None,
         now: datetime, *, ip: str | None = None, actor: str | None = None) -> int:
    """Move an answer (and the near-identical copies shown with it) to another theme; returns how many moved."""
    target = _theme(s, theme_id, flow_id, step_id)
    placed = _placement(s, answer_id, flow_id, step_id)
    group = placed.copy_of
    members = ([placed] if group is None else
               list(s.scalars(select(ThemeAnswer).where(ThemeAnswer.flow_id == flow_id, ThemeAnswer.step_id == step_id,
                                                        ThemeAnswer.copy_of == group,
                                                        ThemeAnswer.theme_id == placed.theme_id))))
    source = placed.theme_id
    for member in members:
        member.theme_id, member.placed_by, member.updated_at = target.id, "officer", now
    record(s, officer, "theme.answer_moved", now, target_type="answer", target_id=answer_id, ip=ip, actor=actor,
           detail={"flow": flow_id, "step": step_id, "from": source, "to": target.id, "answers": len(members)},
           summary=f"Moved answer {answer_id} of {flow_id}/{step_id} from theme {source} to theme {target.id}")
    return len(members)


def mark(s: Session, flow_id: str, step_id: str, answer_id: int, what: str, on: bool, officer: Officer | None,
         now: datetime, *, ip: str | None = None, actor: str | None = None) -> ThemeAnswer:
    """Mark an answer "needs a reply" or "out of scope" (or take the mark off)."""
    if what not in MARKS:
        raise ThemeError("unknown mark")
    placed = _placement(s, answer_id, flow_id, step_id)
    setattr(placed, what, bool(on))
    placed.updated_at = now
    record(s, officer, "theme.answer_marked", now, target_type="answer", target_id=answer_id, ip=ip, actor=actor,
           detail={"flow": flow_id, "step": step_id, "mark": what, "on": bool(on)},
           summary=f"{'Marked' if on else 'Unmarked'} answer {answer_id} of {flow_id}/{step_id} as {what}")
    return placed


# ----- what officers read ------------------------------------------------------------------------


@dataclass
class Quote:
    answer_id: int
    text: str
    residents: int  # residents who sent this text or a near-identical one (1 for most)
    language: str | None


@dataclass
class ThemeView:
    id: int
    label: str
    words: list[str]
    origin: str
    renamed: bool
    residents: int | None  # None where the small-number rule hides it (special-category steps)
    percent: float | None
    quotes: list[Quote] = field(default_factory=list)
    copies: list[Quote] = field(default_factory=list)  # groups of near-identical texts, biggest first
    answers: list[Quote] = field(default_factory=list)  # every answer shown once per copy group


@dataclass
class Overview:
    flow_id: str
    step_id: str
    themes: list[ThemeView]
    residents: int  # residents with an in-scope answer
    answers: int
    unplaced: int  # answers that arrived since the last analysis
    out_of_scope: list[Quote]
    needs_reply: list[Quote]
    breakdowns: dict[str, dict[str, Any]]

    def theme(self, theme_id: int) -> ThemeView | None:
        return next((t for t in self.themes if t.id == theme_id), None)


def overview(s: Session, flow_id: str, step_id: str, *, special: bool = False, with_answers: bool = False,
             dimensions: tuple[str, ...] = DIMENSIONS) -> Overview:
    """The step's themes with sizes, shares, quotes, copies and splits by ward, age band, language and channel."""
    rows = {r.id: r for r in step_answers(s, flow_id, step_id)}
    themes = themes_of(s, flow_id, step_id)
    stored = s.scalars(select(ThemeAnswer).where(ThemeAnswer.flow_id == flow_id, ThemeAnswer.step_id == step_id))
    placements = [p for p in stored if p.answer_id in rows]
    unplaced = len(rows) - len(placements)
    in_scope = [p for p in placements if not p.out_of_scope]
    residents_of: dict[int, set] = defaultdict(set)
    for p in in_scope:
        residents_of[p.theme_id].add(rows[p.answer_id].resident)
    everyone = {rows[p.answer_id].resident for p in in_scope}
    sizes = [len(residents_of[t.id]) for t in themes]
    shown_sizes: list[int | None] = list(sizes)
    if special and sizes:
        shown_sizes = disclosure.protect_counts(sizes, additive=False)
    # Quotes: the answers nearest each theme's centre, in the space of all the step's in-scope answers.
    quotes = _quotes(rows, in_scope, themes)
    group_residents: dict[int, set] = defaultdict(set)
    for p in in_scope:
        if p.copy_of is not None:
            group_residents[p.copy_of].add(rows[p.answer_id].resident)
    views = []
    for theme, size, shown in zip(themes, sizes, shown_sizes, strict=True):
        members = [p for p in in_scope if p.theme_id == theme.id]
        copies = sorted({p.copy_of for p in members if p.copy_of is not None},
                        key=lambda g: (-len(group_residents[g]), g))
        view = ThemeView(
            theme.id, theme.label, list(theme.words or []), theme.origin, theme.renamed_by is not None, shown,
            round(100.0 * size / len(everyone), 1) if everyone and shown is not None else None,
            quotes=[_quote(rows[a], group_residents) for a in quotes.get(theme.id, [])],
            copies=[_quote(rows[g], group_residents) for g in copies if g in rows and len(group_residents[g]) > 1])
        if with_answers:
            view.answers = [_quote(rows[p.answer_id], group_residents) for p in members
                            if p.copy_of is None or p.copy_of == p.answer_id or p.copy_of not in rows]
        views.append(view)
    size_of = {t.id: n for t, n in zip(themes, sizes, strict=True)}
    # Biggest first; the group "To look at" last.
    views.sort(key=lambda v: (v.origin == "new", -size_of[v.id], v.id))
    breakdowns = {d: _breakdown(rows, in_scope, themes, sizes, d) for d in dimensions} if themes else {}
    return Overview(flow_id, step_id, views, len(everyone), len(rows), unplaced,
                    [_quote(rows[p.answer_id], group_residents) for p in placements if p.out_of_scope],
                    [_quote(rows[p.answer_id], group_residents) for p in placements if p.needs_reply],
                    breakdowns)


def _quote(row: AnswerRow, group_residents: dict[int, set]) -> Quote:
    return Quote(row.id, row.text, max(len(group_residents.get(row.id, ())), 1), row.language)


# Quotes per theme, by what they were computed from (every in-scope answer's text and theme): vectorising a big
# consultation's answers takes seconds, and the themes change only when an officer or a new analysis changes them.
_QUOTE_CACHE: dict[int, dict[int, list[int]]] = {}
_QUOTE_CACHE_SIZE = 16


def _quotes(rows: dict[int, AnswerRow], in_scope: list[ThemeAnswer], themes: list[Theme]) -> dict[int, list[int]]:
    key = hash(tuple((p.answer_id, p.theme_id, p.copy_of, rows[p.answer_id].text) for p in in_scope))
    if key not in _QUOTE_CACHE:
        if len(_QUOTE_CACHE) >= _QUOTE_CACHE_SIZE:
            _QUOTE_CACHE.pop(next(iter(_QUOTE_CACHE)))
        _QUOTE_CACHE[key] = _nearest_centre(rows, in_scope, themes)
    return _QUOTE_CACHE[key]


def _nearest_centre(rows: dict[int, AnswerRow], in_scope: list[ThemeAnswer],
                    themes: list[Theme]) -> dict[int, list[int]]:
    # One text per copy group: the group's first answer stands for it.
    leaders = [p for p in in_scope if p.copy_of is None or p.copy_of == p.answer_id or p.copy_of not in rows]
    if not leaders:
        return {}
    texts = [rows[p.answer_id].text for p in leaders]
    vectoriser = analysis.Vectoriser(names=analysis.names_in(texts))
    x = vectoriser.fit_transform(texts)
    out: dict[int, list[int]] = {}
    theme_of = np.array([p.theme_id for p in leaders])
    for theme in themes:
        members = np.flatnonzero(theme_of == theme.id)
        if not len(members):
            continue
        centre = np.asarray(x[members].mean(axis=0)).ravel()
        norm = np.linalg.norm(centre)
        closeness = np.asarray(x[members] @ (centre / norm if norm else centre)).ravel()
        ranked = members[np.argsort(-closeness, kind="stable")]
        out[theme.id] = [leaders[i].answer_id for i in analysis._distinct_quotes(texts, ranked, analysis.QUOTES)]
    return out


def _breakdown(rows: dict[int, AnswerRow], in_scope: list[ThemeAnswer], themes: list[Theme], sizes: list[int],
               dimension: str) -> dict[str, Any]:
    """Residents per group (rows) and theme (columns), through the one small-number rule."""
    cell_sets: dict[tuple[str, int], set] = defaultdict(set)
    for p in in_scope:
        row = rows[p.answer_id]
        cell_sets[(row.group_of(dimension), p.theme_id)].add(row.resident)
    groups = sorted({g for g, _ in cell_sets})
    grid = [[len(cell_sets.get((g, t.id), ())) for t in themes] for g in groups]
    if not groups:
        return {"dimension": dimension, "groups": [], "rows": [], "withheld": False}
    # The themes' sizes and the number of residents are on the page already: published totals.
    protected = disclosure.protect(grid, row_totals=disclosure.OPEN, column_totals=disclosure.SHOWN,
                                   total=disclosure.SHOWN)
    table = []
    for g, cells, total in zip(groups, protected.cells, protected.row_totals, strict=True):
        table.append({"group": g, "total": total, "cells": dict(zip([t.id for t in themes], cells, strict=True))})
    return {"dimension": dimension, "groups": groups, "rows": table, "withheld": protected.withheld,
            "column_totals": dict(zip([t.id for t in themes], protected.column_totals, strict=True))}


def run_themes(s: Session, flow_id: str, step_ids: list[str]) -> dict[str, dict[int, str]]:
    """For exports: step id -> run id -> the label of the theme its answer is in (out of scope: "out of scope")."""
    out: dict[str, dict[int, str]] = {step: {} for step in step_ids}
    if not step_ids:
        return out
    rows = s.execute(
        select(ThemeAnswer.step_id, Answer.run_id, Theme.label, Theme.origin, Theme.renamed_by,
               ThemeAnswer.out_of_scope)
        .join(Answer, Answer.id == ThemeAnswer.answer_id).join(Theme, Theme.id == ThemeAnswer.theme_id)
        .where(and_(ThemeAnswer.flow_id == flow_id, ThemeAnswer.step_id.in_(step_ids)))
    ).all()
    for step, run_id, label, _origin, _renamed, out_of_scope in rows:
        out[step][run_id] = "out of scope" if out_of_scope else label
    return out


def said_share(view: ThemeView) -> int | None:
    """The whole-number share a "you said, we did" draft may quote, or None when it is hidden."""
    if view.percent is None:
        return None
    return int(round(view.percent))
