"""Stored themes: found once, the officer's decisions kept and audit-logged, new answers placed around them."""
from __future__ import annotations

import csv
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from engage.themes import service
from store.models.officers import AuditLog
from store.models.themes import Theme, ThemeAnswer
from tests.support.dashboard import respondent, run_with_answers

FLOW, STEP = "street-safety", "where"
LABELLED = Path(__file__).resolve().parents[2] / "bench" / "data" / "themes_labelled.csv"


def _labelled(n: int, topics: tuple[str, ...] = ("lighting", "buses", "housing")) -> list[tuple[str, str, str]]:
    with LABELLED.open(encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if r["topic"] in topics]
    return [(r["topic"], r["language"], r["text"]) for r in rows[:n]]


def _answer(s, clock, text: str, *, ward: str = "Mark Hall", language: str = "en", channel: str = "sms", n: int = 0):
    contact, _address = respondent(s, fields={"ward": ward, "age_band": "18_64"}, language=language, channel=channel)
    run = run_with_answers(s, FLOW, contact, {STEP: text}, started=clock.now() + timedelta(seconds=n),
                           language=language, channel=channel)
    return run


@pytest.fixture
def answered(services, clock):
    with services.db.session() as s:
        for i, (_topic, lang, text) in enumerate(_labelled(90)):
            _answer(s, clock, text, ward=("Mark Hall", "Netteswell", "Old Harlow")[i % 3], language=lang, n=i)
        campaign = "Please fix the street lights on Fifth Avenue, our children walk there in the dark every day"
        for i in range(12):
            _answer(s, clock, campaign if i % 2 else campaign.lower() + "!", n=100 + i)
    return services


def _actions(db) -> list[str]:
    with db.session() as s:
        return [r.action for r in s.scalars(select(AuditLog).order_by(AuditLog.id))]


def test_the_first_analysis_finds_themes_with_words_quotes_and_copies_counted_once_per_resident(answered, clock):
    with answered.db.session() as s:
        counts = service.analyse(s, FLOW, STEP, clock.now())
    assert counts["placed"] == 102 and counts["themes"] >= 2
    with answered.db.session() as s:
        view = service.overview(s, FLOW, STEP)
    assert view.answers == 102 and view.residents == 102 and view.unplaced == 0
    assert sum(t.residents for t in view.themes) == 102
    assert all(t.words and 1 <= len(t.quotes) <= 5 for t in view.themes)
    campaign = [c for t in view.themes for c in t.copies if c.residents == 12]
    assert len(campaign) == 1  # the campaign text is one quote, with its 12 residents
    # Quotes never repeat a copy.
    for t in view.themes:
        assert len({q.text.lower().strip("!") for q in t.quotes}) == len(t.quotes)
    assert set(view.breakdowns) == {"ward", "age_band", "language", "channel"}
    assert _actions(answered.db) == ["themes.analysed"]


def test_the_same_answers_give_the_same_themes(answered, clock):
    with answered.db.session() as s:
        service.analyse(s, FLOW, STEP, clock.now())
        first = [(t.label, t.residents) for t in service.overview(s, FLOW, STEP).themes]
        for table in (ThemeAnswer, Theme):
            s.query(table).delete()
    with answered.db.session() as s:
        service.analyse(s, FLOW, STEP, clock.now())
        assert [(t.label, t.residents) for t in service.overview(s, FLOW, STEP).themes] == first


def test_officer_decisions_are_kept_when_new_answers_arrive(answered, clock):
    with answered.db.session() as s:
        service.analyse(s, FLOW, STEP, clock.now())
        themes = service.overview(s, FLOW, STEP).themes
        first, second = themes[0], themes[1]
        service.rename(s, FLOW, STEP, first.id, "Street lighting near the station", None, clock.now(),
                       actor="test")
        service.merge(s, FLOW, STEP, [second.id], first.id, None, clock.now(), actor="test")
        some = themes[2].quotes[0].answer_id if len(themes) > 2 else None
        if some is not None:
            service.move(s, FLOW, STEP, some, first.id, None, clock.now(), actor="test")
        service.mark(s, FLOW, STEP, first.quotes[0].answer_id, "needs_reply", True, None, clock.now(), actor="test")
    with answered.db.session() as s:
        _answer(s, clock, "the street lights are broken by the library again", n=500)
        _answer(s, clock, "Why is the swimming pool closing on Tuesdays", n=501)
    with answered.db.session() as s:
        counts = service.analyse(s, FLOW, STEP, clock.now())
        view = service.overview(s, FLOW, STEP)
    assert counts["placed"] == 2 and counts["to_look_at"] == 1
    named = view.theme(first.id)
    assert named.label == "Street lighting near the station" and named.renamed
    assert view.theme(second.id) is None  # merged away, its answers in the named theme
    assert named.residents >= first.residents + second.residents
    look = [t for t in view.themes if t.origin == "new"]
    assert len(look) == 1 and [q.text for q in look[0].quotes] == ["Why is the swimming pool closing on Tuesdays"]
    assert [q.answer_id for q in view.needs_reply] == [first.quotes[0].answer_id]
    with answered.db.session() as s:
        lights = s.scalar(select(ThemeAnswer).order_by(ThemeAnswer.answer_id.desc()).offset(1).limit(1))
        assert lights.placed_by == "assigned"
    assert _actions(answered.db)[:1] == ["themes.analysed"]
    assert {"theme.renamed", "theme.merged", "theme.answer_marked"} <= set(_actions(answered.db))


def test_split_out_of_scope_and_refusals(answered, clock):
    with answered.db.session() as s:
        service.analyse(s, FLOW, STEP, clock.now())
        view = service.overview(s, FLOW, STEP)
        biggest = view.themes[0]
        made = service.split(s, FLOW, STEP, biggest.id, None, clock.now(), parts=2, actor="test")
        assert len(made) == 2
        after = service.overview(s, FLOW, STEP)
        assert after.theme(biggest.id).residents + after.theme(made[1].id).residents == biggest.residents
        quote = after.themes[0].quotes[0]
        service.mark(s, FLOW, STEP, quote.answer_id, "out_of_scope", True, None, clock.now(), actor="test")
        marked = service.overview(s, FLOW, STEP)
        assert marked.residents == after.residents - 1
        assert [q.answer_id for q in marked.out_of_scope] == [quote.answer_id]
        with pytest.raises(service.ThemeError):
            service.rename(s, FLOW, STEP, biggest.id, "   ", None, clock.now(), actor="test")
        with pytest.raises(service.ThemeError):
            service.rename(s, "other-flow", STEP, biggest.id, "x", None, clock.now(), actor="test")
        with pytest.raises(service.ThemeError):
            service.mark(s, FLOW, STEP, quote.answer_id, "delete", True, None, clock.now(), actor="test")
    assert "theme.split" in _actions(answered.db)


def test_splits_by_ward_hide_small_counts(answered, clock):
    with answered.db.session() as s:
        service.analyse(s, FLOW, STEP, clock.now())
        view = service.overview(s, FLOW, STEP)
    table = view.breakdowns["ward"]
    shown = [n for row in table["rows"] for n in row["cells"].values() if n is not None]
    assert shown and all(n >= 10 for n in shown)
    assert any(n is None for row in table["rows"] for n in row["cells"].values())


def test_exports_get_each_runs_theme(answered, clock):
    with answered.db.session() as s:
        service.analyse(s, FLOW, STEP, clock.now())
        labels = service.run_themes(s, FLOW, [STEP])[STEP]
        view = service.overview(s, FLOW, STEP)
    assert len(labels) == 102 and set(labels.values()) == {t.label for t in view.themes}


def test_a_special_category_question_shows_no_small_theme_size(services, clock):
    with services.db.session() as s:
        for i, text in enumerate(["my anxiety gets worse at night"] * 3 + ["the wheelchair ramp is broken",
                                                                            "no ramp for my wheelchair"] * 8):
            _answer(s, clock, text, n=i)
        service.analyse(s, FLOW, STEP, clock.now(), actor="test")
        view = service.overview(s, FLOW, STEP, special=True)
        plain = service.overview(s, FLOW, STEP)
    assert sorted(t.residents for t in plain.themes) == [3, 16]
    assert all(t.residents is None or t.residents >= 10 for t in view.themes)
    assert any(t.residents is None and t.percent is None for t in view.themes)
