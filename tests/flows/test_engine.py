"""The pure engine: starting, resuming, branching, rejecting, skipping, expiring, and its state."""
from __future__ import annotations

import copy
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from textwrap import dedent

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flows import engine
from flows.engine import (
    MAX_STEPS_PER_TURN,
    Reply,
    expire,
    is_expired,
    may_start_again,
    remind,
    reminder_due,
    resume,
    start,
)
from flows.events import ChoiceOption, QuestionAsked
from flows.loader import load_flow, load_flow_text
from flows.model import Flow, Route, Step

HERE = Path(__file__).parent
STREET = load_flow(HERE / "golden" / "street_safety.yaml")
PARK = load_flow(HERE / "golden" / "park_survey.yaml")
NOW = datetime(2026, 12, 2, 10, 0, tzinfo=timezone.utc)
STATE_KEYS = {"flow_id", "flow_version", "status", "step", "attempts", "answers", "skipped", "fields", "lang",
              "easy_read", "started_at", "last_activity_at", "reminded_at", "ended_at", "end_reason"}


def make_flow(steps: str, head: str = "") -> Flow:
    return load_flow_text("id: t\ntitle: T\nlanguages: [en, cy]\n" + dedent(head) + "steps:\n" + dedent(steps))


def types(events) -> list[str]:
    return [e.type for e in events]


def play(flow: Flow, replies, contact=None, now=NOW):
    contact = dict(contact or {})
    state, events = start(flow, contact, now)
    for reply in replies:
        state, events = resume(flow, state, reply, contact, now)
    return state, events


# ---------------------------------------------------------------- starting


def test_start_asks_the_first_question() -> None:
    state, events = start(STREET, {"language": "en"}, NOW)
    assert set(state) == STATE_KEYS
    assert state["status"] == "active" and state["step"] == "feel_safe" and state["attempts"] == 0
    assert state["flow_version"] == STREET.version and state["flow_id"] == "street-safety"
    assert state["started_at"] == state["last_activity_at"] == "2026-12-02T10:00:00+00:00"
    assert events == [QuestionAsked(
        "feel_safe", "en", "How safe do you feel walking in your area after dark?", "choice",
        (ChoiceOption(1, "safe", "Safe"), ChoiceOption(2, "unsafe", "Unsafe"), ChoiceOption(3, "unsure", "Not sure")),
    )]
    json.dumps(state)
    json.dumps([e.to_dict() for e in events])


@pytest.mark.parametrize(("contact", "lang", "expected"), [
    ({"language": "cy"}, None, "cy"),
    ({"language": "pl"}, None, "en"),  # not a language of the flow: its base language
    ({}, None, "en"),
    ({"language": "en"}, "cy", "cy"),
    ({"language": "cy"}, "pl", "cy"),
    ({}, "pl", "en"),
])
def test_start_language(contact, lang, expected) -> None:
    state, events = start(STREET, contact, NOW, lang=lang)
    assert state["lang"] == expected == events[0].lang


def test_start_says_messages_up_to_the_first_question() -> None:
    state, events = start(PARK, {}, NOW)
    assert types(events) == ["message_said", "question_asked"]
    assert events[0].text == "Hello! A few questions about your local park."
    assert state["step"] == "language"


def test_the_engine_needs_an_aware_time() -> None:
    with pytest.raises(ValueError):
        start(STREET, {}, datetime(2026, 12, 2, 10, 0))


# ---------------------------------------------------------------- resuming


def test_resume_does_not_change_the_state_it_was_given() -> None:
    state, _ = start(STREET, {}, NOW)
    before = copy.deepcopy(state)
    new_state, _ = resume(STREET, state, "2", {}, NOW + timedelta(minutes=1))
    assert state == before
    assert new_state["answers"] == {"feel_safe": "unsafe"}
    assert new_state["last_activity_at"] == "2026-12-02T10:01:00+00:00"


def test_the_example_runs_to_the_end() -> None:
    state, events = play(STREET, ["not safe", "Harlow Road", "2"])
    assert state["status"] == "completed" and state["step"] is None and state["end_reason"] == "completed"
    assert state["answers"] == {"feel_safe": "unsafe", "where": "Harlow Road", "age": "18_64"}
    assert state["fields"] == {"age_band": "18_64"}
    assert types(events) == ["answer_recorded", "contact_field_changed", "message_said", "run_ended"]


def test_default_branch_skips_the_unsafe_question() -> None:
    state, events = play(STREET, ["safe"])
    assert state["step"] == "age"


def test_a_finished_run_ignores_replies() -> None:
    state, _ = play(STREET, ["1", "1"])
    assert state["status"] == "completed"
    assert resume(STREET, state, "hello", {}, NOW) == (state, [])


def test_rejection_then_reprompt_then_skip_after_max_attempts() -> None:
    state, _ = start(STREET, {}, NOW)
    state, events = resume(STREET, state, "banana", {}, NOW)
    assert types(events) == ["answer_rejected", "question_asked"]
    assert events[0].reason == "not_a_choice" and events[0].attempts == 1 and events[1].reprompt
    state, events = resume(STREET, state, "kiwi", {}, NOW)
    assert state["attempts"] == 2
    state, events = resume(STREET, state, "mango", {}, NOW)
    assert types(events) == ["answer_rejected", "step_skipped", "question_asked"]
    assert events[1].reason == "too_many_attempts" and events[1].raw_text == "mango"
    assert state["skipped"] == {"feel_safe": "too_many_attempts"} and state["step"] == "age" and state["attempts"] == 0


def test_max_attempts_per_step_overrides_the_flow() -> None:
    flow = make_flow("""\
      - id: a
        ask: {en: Number?, cy: Rhif?}
        number: {}
        max_attempts: 1
      - id: b
        ask: {en: Again?, cy: Eto?}
        number: {}
    """, head="max_attempts: 5\n")
    assert flow.step("b").max_attempts == 5
    state, events = play(flow, ["lots"])
    assert types(events) == ["answer_rejected", "step_skipped", "question_asked"]


def test_skip_word_on_optional_and_required_steps() -> None:
    flow = make_flow("""\
      - id: a
        ask: {en: Why?, cy: Pam?}
        text: {}
        optional: true
        skip_words: {en: [PASS ON THIS]}
      - id: b
        ask: {en: Where?, cy: Ble?}
        text: {}
    """)
    for word in ("SKIP", "skip", "Neidio", "pass on this"):
        state, events = play(flow, [word])
        assert types(events) == ["step_skipped", "question_asked"], word
        assert events[0].reason == "skip_word" and state["skipped"] == {"a": "skip_word"}
    state, events = play(flow, ["skip", "SKIP"])
    assert types(events) == ["answer_rejected", "question_asked"] and events[0].reason == "required"


def test_question_details() -> None:
    state, events = play(PARK, ["Cymraeg", "3"], {"language": "cy"})
    asked = events[-1]
    assert (asked.step_id, asked.kind, asked.lang) == ("rating", "scale", "cy")
    assert asked.hints == {"min": 0, "max": 10, "labels": {"0": "Gwael iawn", "10": "Ardderchog"}}
    state, events = play(PARK, ["Cymraeg", "3", "8", "1", "ydw"], {"language": "cy"})
    asked = events[-1]
    assert asked.choices == (ChoiceOption(1, "yes", "Hoffwn"), ChoiceOption(2, "no", "Na hoffwn"))
    assert asked.hints == {"yes_no_labels": {"yes": "Hoffwn", "no": "Na hoffwn"}}
    _, events = play(PARK, ["Cymraeg", "3", "8", "1"], {"language": "cy"})
    assert events[-1].hints == {"yes_no_labels": {"yes": "Ie", "no": "Na"}}
    _, events = play(PARK, ["1", "0"])
    assert events[-1].optional and events[-1].hints == {"max_length": 160, "skip_word": "SKIP"}
    _, events = play(PARK, ["1", "3", "8", "1", "no"], {"ward": "Old Harlow"})
    assert events[-1].step_id == "ethnicity"
    assert events[-1].hints == {"skip_word": "SKIP", "special_category": True}


def test_number_hints() -> None:
    _, events = play(PARK, ["1"])
    assert events[-1].hints == {"min": 0, "max": 31, "integer": True}


def test_saving_to_language_switches_the_run_language() -> None:
    state, events = play(PARK, ["Welsh"], {"language": "en"})
    assert types(events) == ["answer_recorded", "contact_field_changed", "question_asked"]
    assert events[1].to_dict() == {"type": "contact_field_changed", "field": "language", "value": "cy"}
    assert state["lang"] == "cy" and events[-1].lang == "cy"
    assert events[-1].text == "Sawl gwaith wnaethoch chi ymweld â'r parc y mis diwethaf?"


def test_a_language_the_flow_lacks_falls_back_to_the_base_texts() -> None:
    flow = make_flow("""\
      - id: lang
        ask: {en: Language?, cy: Iaith?}
        choices:
          - {value: pl, en: Polish, cy: Pwyleg}
        save_to: language
      - id: next
        ask: {en: How many?, cy: Sawl un?}
        number: {}
    """)
    state, events = play(flow, ["1"])
    assert state["lang"] == "pl" and events[-1].text == "How many?"
    state, events = resume(flow, state, "pięć", {}, NOW)  # Polish number words now count
    assert state["answers"]["next"] == 5


def test_button_presses_bypass_matching() -> None:
    state, _ = start(STREET, {}, NOW)
    state, events = resume(STREET, state, Reply("", choice="unsure"), {}, NOW)
    assert events[0].to_dict() == {"type": "answer_recorded", "step_id": "feel_safe", "value": "unsure",
                                   "raw_text": "unsure", "confidence": 1.0}
    state, _ = start(STREET, {}, NOW)
    # A value that is not an option falls back to the typed text.
    state, events = resume(STREET, state, Reply("2", choice="bogus"), {}, NOW)
    assert events[0].value == "unsafe"


def test_button_presses_for_other_kinds() -> None:
    state, _ = play(PARK, ["1", "3", "8"])
    state, events = resume(PARK, state, Reply(choice=["nature", "walk", "play", "sport"]), {}, NOW)
    assert events[0].reason == "too_many" and events[0].params == {"min": 1, "max": 3, "count": 4}
    state, events = resume(PARK, state, Reply(choice="nature,walk"), {}, NOW)
    assert events[0].value == ["walk", "nature"]
    state, events = resume(PARK, state, Reply(choice="yes"), {}, NOW)
    assert events[0].value is True
    state, _ = play(PARK, ["1", "3"])
    state, events = resume(PARK, state, Reply(choice="4"), {}, NOW)
    assert events[0].value == 4


def test_goto_end_finishes_early() -> None:
    state, events = play(PARK, ["1", "3", "8", "1", "no", "no"], {"ward": "Bush Fair"})
    assert types(events) == ["answer_recorded", "run_ended"] and state["status"] == "completed"


def test_step_limit_stops_a_runaway_loop() -> None:
    # The loader refuses loops of messages, so build one by hand.
    loop = Flow(id="loop", title="Loop", languages=["en"], steps=(
        Step("a", "say", {"en": "A"}, routes=(Route("b"),)),
        Step("b", "say", {"en": "B"}, routes=(Route("a"),)),
    ))
    state, events = start(loop, {}, NOW)
    assert types(events) == ["message_said"] * MAX_STEPS_PER_TURN + ["run_ended"]
    assert events[-1].reason == "step_limit" and state["end_reason"] == "step_limit"
    assert state["status"] == "completed"


def test_a_step_missing_from_a_changed_flow_ends_the_run() -> None:
    state, _ = start(STREET, {}, NOW)
    state["step"] = "gone"
    state, events = resume(STREET, state, "1", {}, NOW)
    assert types(events) == ["run_ended"] and events[0].reason == "flow_changed"


def test_a_question_that_loops_asks_again_and_keeps_the_last_answer() -> None:
    flow = make_flow("""\
      - id: idea
        ask: {en: Your idea?, cy: Eich syniad?}
        text: {}
      - id: more
        ask: {en: Another?, cy: Un arall?}
        yes_no: true
        next: {"yes": idea, default: end}
    """)
    state, events = play(flow, ["Bins", "yes", "Benches", "no"])
    assert state["answers"] == {"idea": "Benches", "more": False} and state["status"] == "completed"


def test_easy_read_from_the_contact() -> None:
    _, events = play(PARK, ["1"], {"easy_read": True})
    assert events[-1].text == "How many times did you go to the park last month? Send a number."


# ---------------------------------------------------------------- conditions


COND_FLOW = """\
  - id: num
    ask: {en: Number?, cy: Rhif?}
    number: {}
    optional: true
  - id: many
    ask: {en: Which?, cy: Pa rai?}
    choices:
      - {value: a, en: A, cy: A}
      - {value: b, en: B, cy: B}
      - {value: c, en: C, cy: C}
    multiple: true
    optional: true
  - id: yn
    ask: {en: Yes?, cy: Ie?}
    yes_no: true
    optional: true
  - id: branch
    say: {en: Branch, cy: Cangen}
    next:
      - if: %s
        goto: hit
      - goto: miss
  - id: hit
    say: {en: Hit, cy: Taro}
    next: end
  - id: miss
    say: {en: Miss, cy: Methu}
"""


@pytest.mark.parametrize(("condition", "replies", "contact", "hit"), [
    ("{field: ward, in: [bush fair, Netteswell]}", ["3", "1", "y"], {"ward": "Bush Fair"}, True),
    ("{field: ward, in: [Netteswell]}", ["3", "1", "y"], {"ward": "Bush Fair"}, False),
    ("{field: ward, equals: BUSH FAIR}", ["3", "1", "y"], {"ward": "Bush Fair"}, True),
    ("{field: ward, not_equals: Netteswell}", ["3", "1", "y"], {"ward": "Bush Fair"}, True),
    ("{field: ward, exists: false}", ["3", "1", "y"], {}, True),
    ("{field: ward, exists: true}", ["3", "1", "y"], {"ward": ""}, False),
    ("{field: age_band, not_in: [under_18]}", ["3", "1", "y"], {}, True),
    ("{field: age_band, in: [under_18]}", ["3", "1", "y"], {}, False),
    ("{answer: num, at_most: 2}", ["3", "1", "y"], {}, False),
    ("{answer: num, at_most: 3}", ["3", "1", "y"], {}, True),
    ("{answer: num, at_least: 3}", ["3", "1", "y"], {}, True),
    ("{answer: num, more_than: 3}", ["3", "1", "y"], {}, False),
    ("{answer: num, less_than: 3.5}", ["3", "1", "y"], {}, True),
    ("{answer: num, equals: '3'}", ["3", "1", "y"], {}, True),
    ("{answer: num, at_least: 1}", ["SKIP", "1", "y"], {}, False),
    ("{answer: num, exists: false}", ["SKIP", "1", "y"], {}, True),
    ("{answer: num, not_equals: 3}", ["SKIP", "1", "y"], {}, True),
    ("{answer: many, equals: c}", ["3", "1 and 3", "y"], {}, True),
    ("{answer: many, equals: b}", ["3", "1 and 3", "y"], {}, False),
    ("{answer: many, in: [b, c]}", ["3", "1 and 3", "y"], {}, True),
    ("{answer: many, not_in: [b]}", ["3", "1 and 3", "y"], {}, True),
    ("{answer: many, not_equals: a}", ["3", "1 and 3", "y"], {}, False),
    ("{answer: yn, equals: 'yes'}", ["3", "1", "y"], {}, True),
    ("{answer: yn, equals: true}", ["3", "1", "y"], {}, True),
    ("{answer: yn, equals: 'no'}", ["3", "1", "y"], {}, False),
    ("{answer: yn, equals: 'no'}", ["3", "1", "n"], {}, True),
    ("{all: [{answer: num, at_least: 3}, {field: ward, equals: Netteswell}]}", ["3", "1", "y"],
     {"ward": "Netteswell"}, True),
    ("{all: [{answer: num, at_least: 4}, {field: ward, equals: Netteswell}]}", ["3", "1", "y"],
     {"ward": "Netteswell"}, False),
    ("{any: [{answer: num, at_least: 4}, {field: ward, equals: Netteswell}]}", ["3", "1", "y"],
     {"ward": "Netteswell"}, True),
])
def test_conditions(condition: str, replies: list[str], contact: dict, hit: bool) -> None:
    flow = load_flow_text("id: t\ntitle: T\nlanguages: [en, cy]\nsteps:\n" + COND_FLOW % condition)
    state, events = play(flow, replies, contact)
    said = [e.text for e in events if e.type == "message_said"]
    assert said == ["Branch", "Hit" if hit else "Miss"]
    assert state["status"] == "completed"


def test_fields_saved_in_the_run_count_before_the_contact_is_updated() -> None:
    flow = make_flow("""\
      - id: ward
        ask: {en: Ward?, cy: Ward?}
        choices:
          - {value: netteswell, en: Netteswell, cy: Netteswell}
        save_to: ward
      - id: check
        say: {en: Check, cy: Gwirio}
        next:
          - if: {field: ward, equals: netteswell}
            goto: end
      - id: other
        say: {en: Other, cy: Arall}
    """)
    state, events = play(flow, ["1"], {"ward": "Bush Fair"})
    assert [e.type for e in events][-1] == "run_ended" and "Other" not in [getattr(e, "text", "") for e in events]


# ---------------------------------------------------------------- time


def test_expiry() -> None:
    state, _ = start(STREET, {}, NOW)
    assert not is_expired(STREET, state, NOW + timedelta(hours=47, minutes=59))
    assert is_expired(STREET, state, NOW + timedelta(hours=48))
    later = NOW + timedelta(hours=48)
    expired, events = expire(STREET, state, later)
    assert types(events) == ["run_expired"] and events[0].step_id == "feel_safe"
    assert expired["status"] == "expired" and expired["step"] is None and expired["ended_at"] == later.isoformat()
    assert expire(STREET, expired, later) == (expired, [])
    # A reply after the expiry time expires the run rather than answering.
    state2, events2 = resume(STREET, state, "1", {}, later)
    assert types(events2) == ["run_expired"] and state2["answers"] == {}


def test_activity_pushes_expiry_back() -> None:
    state, _ = start(STREET, {}, NOW)
    state, _ = resume(STREET, state, "1", {}, NOW + timedelta(hours=40))
    assert not is_expired(STREET, state, NOW + timedelta(hours=80))


def test_no_expiry_without_expires_after() -> None:
    flow = make_flow("  - {id: a, ask: {en: A?, cy: A?}, yes_no: true}\n")
    state, _ = start(flow, {}, NOW)
    assert not is_expired(flow, state, NOW + timedelta(days=365))


def test_reminder_is_sent_once_before_expiry() -> None:
    state, _ = start(PARK, {"language": "cy"}, NOW)
    assert not reminder_due(PARK, state, NOW + timedelta(hours=23))
    assert remind(PARK, state, NOW + timedelta(hours=23)) == (state, [])
    state, events = remind(PARK, state, NOW + timedelta(hours=24))
    assert types(events) == ["message_said", "question_asked"]
    assert events[0].text == "Mae eich arolwg parc yn dal ar agor. Atebwch i barhau." and events[1].reprompt
    assert state["reminded_at"] == (NOW + timedelta(hours=24)).isoformat()
    assert not reminder_due(PARK, state, NOW + timedelta(hours=30))
    fresh, _ = start(PARK, {}, NOW)
    assert not reminder_due(PARK, fresh, NOW + timedelta(days=3))  # expired by then
    assert not reminder_due(STREET, start(STREET, {}, NOW)[0], NOW + timedelta(hours=30))  # no reminder


def test_may_start_again() -> None:
    flow = make_flow("  - {id: a, say: {en: A, cy: A}}\n", head="restart_after_days: 30\n")
    assert may_start_again(flow, None, NOW)
    assert not may_start_again(flow, NOW - timedelta(days=29), NOW)
    assert may_start_again(flow, NOW - timedelta(days=30), NOW)
    assert may_start_again(STREET, NOW, NOW)


def test_engine_is_deterministic() -> None:
    one = play(PARK, ["2", "4", "3", "1 a 2", "ydw", "na"], {"language": "cy", "ward": "Netteswell"})
    two = play(PARK, ["2", "4", "3", "1 a 2", "ydw", "na"], {"language": "cy", "ward": "Netteswell"})
    assert one == two


def test_question_for_is_public_for_resending() -> None:
    state, events = start(STREET, {"language": "cy"}, NOW)
    assert engine.question_for(STREET, STREET.step("feel_safe"), state, reprompt=True) == \
        QuestionAsked(**{**events[0].__dict__, "reprompt": True})


@settings(max_examples=200, deadline=None)
@given(replies=st.lists(st.text(max_size=40), max_size=12))
def test_any_replies_keep_the_engine_sound(replies: list[str]) -> None:
    for flow in (STREET, PARK):
        state, _ = start(flow, {"language": "cy"}, NOW)
        for reply in replies:
            state, events = resume(flow, state, reply, {}, NOW)
            json.dumps(state)
            json.dumps([e.to_dict() for e in events])
            assert state["status"] in ("active", "completed")
            assert (state["step"] is None) == (state["status"] != "active")


def test_a_resident_is_understood_in_their_own_language_when_the_flow_lacks_it() -> None:
    flow = make_flow("""\
      - id: fruit
        ask: {en: Which fruit?, cy: Pa ffrwyth?}
        choices:
          - {value: apple, en: Apple, cy: Afal}
          - {value: pear, en: Pear, cy: Gellygen}
    """)
    state, _ = start(flow, {"language": "pl"}, NOW)
    assert state["lang"] == "en"
    state, _ = resume(flow, state, "dwa", {"language": "pl"}, NOW)
    assert state["answers"] == {"fruit": "pear"}
    state, _ = start(flow, {}, NOW)
    _, events = resume(flow, state, "dwa", {}, NOW)
    assert events[0].type == "answer_rejected"
