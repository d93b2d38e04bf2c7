"""The ready-made flows in flows/library and the Harlow census baseline they are measured against."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from flows.engine import question_for, resume, start
from flows.events import AnswerRecorded, AnswerRejected, ContactFieldChanged, MessageSaid, QuestionAsked, StepSkipped
from flows.lint import lint_paths
from flows.loader import flow_files, load_flow
from flows.model import YES_NO, Flow
from flows.simulator import render_question
from flows.sms import count_segments

ROOT = Path(__file__).resolve().parents[2]
LIBRARY = ROOT / "flows" / "library"
CENSUS = ROOT / "census" / "harlow.yaml"
FILES = flow_files(LIBRARY)
EXPECTED_IDS = {"street-safety", "crime-perception", "residents-satisfaction", "citizens-panel", "climate-pulse",
                "tenant-feedback"}
# The reference example of the flow language: it must stay exactly as documented.
STREET_SAFETY_SHA256 = "b206288413dbc84877fd8ce97b3a3c1ef0f5a7252389262eabb7938360ef3dc5"
# Every flow is in English and Welsh at least, English first.
LANGS = ("en", "cy")


def _flow(flow_id: str) -> Flow:
    return load_flow(LIBRARY / f"{flow_id}.yaml")


def _census() -> dict[str, Any]:
    # The safe loader is what the representativeness page reads it with: 18_64 must stay a string.
    return YAML(typ="safe").load(CENSUS.read_text(encoding="utf-8"))


def _choice_values(flow: Flow, saved_to: str) -> list[set[str]]:
    return [{c.value for c in s.choices} for s in flow.steps if s.save_to == saved_to and s.choices]


def _during(flow: Flow) -> datetime:
    """Return a moment a day into the flow's consultation window."""
    opens = flow.consultation.opens
    return datetime.combine(opens, time(10, 0), tzinfo=timezone.utc) + timedelta(days=1)


# ---------------------------------------------------------------- files, lint, languages


def test_the_library_holds_the_six_flows():
    assert {_flow(p.stem).id for p in FILES} == EXPECTED_IDS
    assert all(load_flow(p).id == p.stem for p in FILES), "a flow's file is named after its id"


def test_the_library_lints_clean():
    assert [str(p) for p in lint_paths([LIBRARY])] == []


def test_street_safety_is_the_reference_example_unchanged():
    assert hashlib.sha256((LIBRARY / "street-safety.yaml").read_bytes()).hexdigest() == STREET_SAFETY_SHA256


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_every_text_is_in_english_and_welsh(path):
    flow = load_flow(path)
    assert flow.languages[: len(LANGS)] == list(LANGS)
    for step_id, what, texts in flow.texts():
        for lang in LANGS:
            assert texts.get(lang, "").strip(), f"{flow.id} {step_id} {what} has no {lang} text"
    for step in flow.steps:
        if step.kind == YES_NO:
            # Welsh answers yes/no by echoing the verb (Ydw, Do, Hoffwn): give the labels, not a bare Ie/Na.
            assert set(step.yes_no_labels) == {"yes", "no"}, f"{flow.id} {step.id}"


def test_keywords_are_unique_across_the_library():
    seen: dict[str, str] = {}
    for path in FILES:
        flow = load_flow(path)
        assert flow.keywords, f"{flow.id} has no keyword"
        for word in flow.keywords:
            assert word not in seen, f"{word} is used by {seen.get(word)} and {flow.id}"
            seen[word] = flow.id


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_consultation_metadata(path):
    flow = load_flow(path)
    c = flow.consultation
    assert c is not None and c.purpose.strip()
    assert c.info_url.startswith("https://example.gov.uk/")
    assert isinstance(c.opens, date) and isinstance(c.closes, date)
    assert (c.closes - c.opens).days >= 14, "a consultation stays open at least 14 days"
    assert 2026 <= c.opens.year <= 2027 and 2026 <= c.closes.year <= 2027
    assert flow.expires_after is not None


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_english_texts_fit_one_sms(path):
    flow = load_flow(path)
    for step in flow.steps:
        for text in filter(None, (step.prompt.get("en"), step.easy_read.get("en"))):
            info = count_segments(text)
            assert (info.encoding, info.segments) == ("GSM-7", 1), f"{flow.id} {step.id}: {text!r}"
    if flow.reminder:
        assert count_segments(flow.reminder["text"]["en"]).segments == 1


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_english_questions_with_their_options_fit_two_sms(path):
    flow = load_flow(path)
    for step in flow.steps:
        if step.is_question:
            shown = render_question(question_for(flow, step, {"lang": "en", "easy_read": False}))
            assert count_segments(shown).segments <= 2, f"{flow.id} {step.id}:\n{shown}"


def test_age_and_ethnicity_values_are_the_same_in_every_flow():
    age_sets = [v for p in FILES for v in _choice_values(load_flow(p), "age_band")]
    assert age_sets and all(s == {"under_18", "18_64", "65_plus"} for s in age_sets)
    ethnicity_sets = [v for p in FILES for v in _choice_values(load_flow(p), "ethnicity")]
    assert ethnicity_sets and all(s == {"white", "mixed", "asian", "black", "other"} for s in ethnicity_sets)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_special_category_questions_are_optional_and_only_follow_a_yes(path):
    flow = load_flow(path)
    special = {s.id for s in flow.steps if s.special_category}
    for step in flow.steps:
        if step.special_category:
            assert step.optional, f"{flow.id} {step.id}: residents must be able to SKIP"
        for route in step.routes:
            if route.goto in special and step.id not in special:
                when = route.when
                assert when is not None and when.subject == "answer" and when.op == "equals", (flow.id, step.id)
                assert flow.step(when.name).kind == YES_NO and str(when.operand).lower() in ("yes", "true")
        after = flow.step_after(step.id)
        falls_through = all(r.when is not None for r in step.routes)
        if after and after.id in special and falls_through:
            assert step.id in special, f"{flow.id}: {step.id} falls through into {after.id}"


# ---------------------------------------------------------------- end to end through the engine


@dataclass(frozen=True)
class Walk:
    """A plausible resident: the replies they send, and what the run should record."""

    name: str
    flow_id: str
    lang: str
    replies: tuple[str, ...]
    answers: dict[str, Any] = field(default_factory=dict)
    fields: dict[str, Any] = field(default_factory=dict)
    contact: dict[str, Any] = field(default_factory=dict)
    skipped: tuple[str, ...] = ()
    never_asked: tuple[str, ...] = ()


WALKS = [
    Walk("street-safety-en", "street-safety", "en", ("2", "The underpass by the station", "2"),
         answers={"feel_safe": "unsafe", "where": "The underpass by the station", "age": "18_64"},
         fields={"age_band": "18_64"}),
    Walk("street-safety-cy", "street-safety", "cy", ("Diogel", "3"),
         answers={"feel_safe": "safe", "age": "65_plus"}, fields={"age_band": "65_plus"}, never_asked=("where",)),
    Walk("crime-victim-en", "crime-perception", "en",
         ("4", "2", "Gone up", "1 and 3", "yes", "no", "1", "Better lighting by the shops", "CM20", "12", "3"),
         answers={"worry": 4, "home_safe": "fairly_safe", "trend": "up", "concerns": ["asb", "burglary"],
                  "victim": True, "reported": False, "why_not": "no_point", "postcode": "CM20", "years": 12,
                  "age": "65_plus"},
         fields={"postcode_district": "CM20", "age_band": "65_plus"}),
    Walk("crime-known-contact-cy", "crime-perception", "cy", ("5", "1", "4", "pob un", "Nac ydw", "NEIDIO", "deg"),
         contact={"ward": "netteswell", "age_band": "65_plus"},
         answers={"worry": 5, "home_safe": "very_safe", "trend": "unsure", "victim": False, "years": 10},
         skipped=("safer",), never_asked=("reported", "why_not", "postcode", "age")),
    Walk("crime-reported-en", "crime-perception", "en",
         ("1", "1", "2", "7", "yes", "yes", "SKIP", "SKIP", "SKIP", "SKIP"),
         answers={"reported": True}, skipped=("safer", "postcode", "years", "age"), never_asked=("why_not",)),
    Walk("satisfaction-unhappy-en", "residents-satisfaction", "en",
         ("2", "Bins are often missed", "3", "4", "no", "Come and talk to us on the estate", "1 3", "SKIP",
          "65 or over"),
         answers={"satisfied": 2, "why_unhappy": "Bins are often missed", "have_say": "no", "informed": "not_at_all",
                  "trust": False, "how_told": ["sms", "letter"], "age": "65_plus"},
         fields={"preferred_channels": ["sms", "letter"], "age_band": "65_plus"}, skipped=("improve",)),
    Walk("satisfaction-happy-cy", "residents-satisfaction", "cy", ("5", "Ydw", "1", "Ydw", "1", "NEIDIO"),
         contact={"age_band": "18_64"},
         answers={"satisfied": 5, "have_say": "yes", "informed": "very_well", "trust": True, "how_told": ["sms"]},
         fields={"preferred_channels": ["sms"]}, skipped=("improve",),
         never_asked=("why_unhappy", "listened_to", "age")),
    Walk("panel-full-en", "citizens-panel", "en", ("yes", "2", "Netteswell", "1, 2 and 3", "yes", "SKIP", "3"),
         answers={"consent": True, "age": "18_64", "ward": "netteswell",
                  "interests": ["community_safety", "climate", "housing"], "sc_consent": True,
                  "disability": "not_limited"},
         fields={"age_band": "18_64", "ward": "netteswell", "groups": ["community_safety", "climate", "housing"],
                 "disability": "not_limited"},
         skipped=("ethnicity",), never_asked=("no_consent",)),
    Walk("panel-no-special-category-en", "citizens-panel", "en", ("yes", "1", "Old Harlow", "2", "no"),
         answers={"sc_consent": False}, fields={"age_band": "under_18", "ward": "old_harlow", "groups": ["climate"]},
         never_asked=("ethnicity", "disability", "no_consent")),
    Walk("panel-no-consent-en", "citizens-panel", "en", ("no",),
         answers={"consent": False}, never_asked=("age", "ward", "interests", "sc_consent", "ethnicity", "welcome")),
    Walk("panel-full-cy", "citizens-panel", "cy", ("Ydw", "3", "Hare Street", "2", "Ydw", "3", "Nac ydy"),
         answers={"ward": "little_parndon_hare_street", "ethnicity": "asian", "disability": "not_limited"},
         fields={"age_band": "65_plus", "ward": "little_parndon_hare_street", "groups": ["climate"],
                 "ethnicity": "asian", "disability": "not_limited"}),
    Walk("climate-en", "climate-pulse", "en", ("4",), answers={"worry": 4}),
    Walk("climate-cy", "climate-pulse", "cy", ("tri",), answers={"worry": 3}),
    Walk("tenant-repair-en", "tenant-feedback", "en",
         ("1", "yes", "1", "It took three weeks", "3", "2", "4", "yes", "More bins"),
         answers={"tenure": "tenant", "had_repair": True, "repairs": 1, "repair_problem": "It took three weeks",
                  "estate": 3, "listened": "sometimes", "household": 4, "involve": True, "one_thing": "More bins"},
         fields={"tenure": "tenant"}),
    Walk("tenant-known-leaseholder-cy", "tenant-feedback", "cy", ("Nac ydw", "4", "1", "NEIDIO", "Hoffwn", "NEIDIO"),
         contact={"tenure": "leaseholder"},
         answers={"had_repair": False, "estate": 4, "listened": "yes", "involve": True},
         skipped=("household", "one_thing"), never_asked=("tenure", "repairs", "repair_problem")),
    Walk("tenant-neither-en", "tenant-feedback", "en", ("3",),
         answers={"tenure": "other"}, fields={"tenure": "other"}, never_asked=("had_repair", "thanks")),
    Walk("tenant-good-repair-en", "tenant-feedback", "en", ("2", "yes", "5", "5", "1", "1", "no", "SKIP"),
         answers={"tenure": "leaseholder", "repairs": 5, "household": 1, "involve": False},
         fields={"tenure": "leaseholder"}, skipped=("one_thing",), never_asked=("repair_problem",)),
]


def _walk(walk: Walk) -> tuple[dict[str, Any], list, list[str]]:
    """Run a walk through the engine; return the final state, every event, and the steps shown."""
    flow = _flow(walk.flow_id)
    now = _during(flow)
    contact = dict(walk.contact)
    state, events = start(flow, contact, now, walk.lang)
    history = list(events)
    for reply in walk.replies:
        assert state["status"] == "active", f"{walk.name}: the run ended before the reply {reply!r}"
        now += timedelta(minutes=2)
        state, events = resume(flow, state, reply, contact, now)
        history += events
        contact.update({e.field: e.value for e in events if isinstance(e, ContactFieldChanged)})
    shown = [e.step_id for e in history if isinstance(e, (QuestionAsked, MessageSaid))]
    return state, history, shown


@pytest.mark.parametrize("walk", WALKS, ids=lambda w: w.name)
def test_a_resident_can_answer_the_flow_end_to_end(walk):
    state, history, shown = _walk(walk)
    flow = _flow(walk.flow_id)
    rejected = [(e.step_id, e.raw_text, e.reason) for e in history if isinstance(e, AnswerRejected)]
    assert rejected == [], f"{walk.name}: replies not understood"
    assert (state["status"], state["end_reason"]) == ("completed", "completed")
    recorded = {e.step_id: e.value for e in history if isinstance(e, AnswerRecorded)}
    for step_id, value in walk.answers.items():
        assert recorded.get(step_id) == value, f"{walk.name}: {step_id}"
    assert {e.step_id for e in history if isinstance(e, StepSkipped)} == set(walk.skipped)
    assert state["fields"] == walk.fields
    for step_id in walk.never_asked:
        assert step_id not in shown, f"{walk.name}: {step_id} should not have been shown"
    questions = [e for e in history if isinstance(e, QuestionAsked)]
    assert questions and all(q.lang == walk.lang for q in questions)
    assert all(q.text == flow.text(flow.step(q.step_id), walk.lang) for q in questions)


@pytest.mark.parametrize("flow_id", sorted(EXPECTED_IDS))
def test_the_walks_show_every_step_of_every_flow(flow_id):
    shown: set[str] = set()
    for walk in WALKS:
        if walk.flow_id == flow_id:
            shown.update(_walk(walk)[2])
    assert shown == {s.id for s in _flow(flow_id).steps}


def test_the_library_uses_every_kind_of_step_and_branch():
    steps = [s for p in FILES for s in load_flow(p).steps]
    kinds = {s.kind for s in steps}
    assert kinds >= {"say", "choice", "multiple", "yes_no", "number", "scale", "text"}
    assert any(s.optional for s in steps) and any(s.easy_read for s in steps)
    conditions = [r.when for s in steps for r in s.routes if r.when is not None]
    assert {c.subject for c in conditions} >= {"answer", "field", "all"}
    assert {c.op for c in conditions if c.op} >= {"equals", "in", "at_most", "exists"}


# ---------------------------------------------------------------- the census baseline


def test_census_shares_add_up_to_100_in_each_dimension():
    census = _census()
    assert census["dimensions"], "no dimensions"
    for name, spec in census["dimensions"].items():
        if "shares" not in spec and "counts" not in spec:
            continue  # a dimension the strategy gives no figures for (wards): respondents only
        assert sum(spec["shares"].values()) == pytest.approx(100, abs=0.2), name
        assert "Community Engagement Strategy" in spec["source"], name


def test_census_age_bands_match_the_flows():
    census = _census()
    age = census["dimensions"]["age_band"]
    assert age["field"] == "age_band"
    assert set(age["shares"]) == _choice_values(_flow("citizens-panel"), "age_band")[0]
    assert age["shares"] == {"under_18": 25.0, "18_64": 59.6, "65_plus": 15.4}
    assert sum(age["counts"].values()) == age["total_population"] == 87280


def test_census_ethnic_groups_match_the_citizens_panel():
    ethnicity = _census()["dimensions"]["ethnicity"]
    assert ethnicity["field"] == "ethnicity"
    assert set(ethnicity["shares"]) == _choice_values(_flow("citizens-panel"), "ethnicity")[0]
    assert ethnicity["shares"] == {"white": 89.1, "asian": 4.6, "black": 3.8, "mixed": 2.1, "other": 0.5}


def test_census_has_no_invented_ward_figures():
    # The strategy gives no population by ward: the ward dimension names the wards (so that pages show
    # "Bush Fair", not bush_fair) and has no figures until the council adds them from an official source.
    ward = _census()["dimensions"]["ward"]
    assert "shares" not in ward and "counts" not in ward
    assert set(ward["labels"]) == _choice_values(_flow("citizens-panel"), "ward")[0] - {"unsure"}

