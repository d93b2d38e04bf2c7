"""Loading flows, and one test per lint problem, each at its exact line:column."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from textwrap import dedent

import pytest

from flows.lint import lint_paths, main, segment_report
from flows.loader import FlowError, Problem, load_flow, load_flow_text, load_flows_dir, parse_duration
from flows.model import Route

HERE = Path(__file__).parent
STREET_SAFETY = HERE / "golden" / "street_safety.yaml"

# Every flow below starts with these four lines, so its first step is on line 5.
HEAD = "id: test-flow\ntitle: Test\nlanguages: [en, cy]\nsteps:\n"


def lint(tmp_path: Path, text: str, name: str = "flow.yaml") -> list[str]:
    path = tmp_path / name
    path.write_text(dedent(text), encoding="utf-8")
    return [str(p).replace(f"{tmp_path}/", "") for p in lint_paths([path])]


def only(problems: list[str]) -> str:
    assert len(problems) == 1, problems
    return problems[0]


# ---------------------------------------------------------------- loading


def test_the_example_loads_unchanged() -> None:
    flow = load_flow(STREET_SAFETY)
    assert flow.id == "street-safety"
    assert flow.languages == ["en", "cy"] and flow.base_language == "en"
    assert flow.keywords == ["SAFE", "DIOGEL"]
    assert flow.expires_after == timedelta(hours=48)
    assert [s.id for s in flow.steps] == ["feel_safe", "where", "age", "thanks"]
    assert [s.kind for s in flow.steps] == ["choice", "text", "choice", "say"]
    assert flow.step("where").max_length == 300
    assert [c.value for c in flow.step("age").choices] == ["under_18", "18_64", "65_plus"]  # 18_64 stays text
    assert flow.step("age").save_to == "age_band"
    assert flow.step("feel_safe").routes[-1] == Route("age")
    assert flow.step("feel_safe").line == 12
    assert flow.consultation.purpose == "Decide where 40 new street lights go in 2027"
    assert flow.consultation.opens == date(2026, 12, 1)
    assert flow.source == STREET_SAFETY.read_text(encoding="utf-8")
    assert len(flow.version) == 64 and flow.path == str(STREET_SAFETY)
    assert lint_paths([STREET_SAFETY]) == []


def test_consultation_times_are_local_days_in_utc() -> None:
    consultation = load_flow(STREET_SAFETY).consultation
    assert consultation.opens_at() == datetime(2026, 12, 1, 0, 0, tzinfo=timezone.utc)
    assert consultation.closes_at() == datetime(2026, 12, 31, 23, 59, 59, tzinfo=timezone.utc)
    assert consultation.is_open(datetime(2026, 12, 15, tzinfo=timezone.utc))
    assert not consultation.is_open(datetime(2027, 1, 1, tzinfo=timezone.utc))
    summer = load_flow_text(HEAD.replace("steps:\n", "") + dedent("""\
        consultation: {purpose: Parks, opens: 2027-06-01, closes: '2027-06-30T17:00:00+01:00'}
        steps:
          - {id: a, say: {en: Hi, cy: Hai}}
        """)).consultation
    assert summer.opens_at() == datetime(2027, 5, 31, 23, 0, tzinfo=timezone.utc)  # midnight BST
    assert summer.closes_at() == datetime(2027, 6, 30, 16, 0, tzinfo=timezone.utc)
    assert summer.opens_at("UTC") == datetime(2027, 6, 1, tzinfo=timezone.utc)


def test_texts_fall_back_to_the_base_language() -> None:
    flow = load_flow(STREET_SAFETY)
    step = flow.step("where")
    assert flow.text(step, "cy") == "Pa stryd neu le sy'n teimlo leiaf diogel?"
    assert flow.text(step, "pl") == "Which street or place feels least safe?"
    assert flow.text({"en": "Hello"}, "cy") == "Hello"


def test_easy_read_prefers_the_language_then_falls_back() -> None:
    flow = load_flow_text(HEAD + dedent("""\
          - id: a
            ask: {en: Complicated?, cy: Cymhleth?}
            easy_read: {en: Easy?, cy: Hawdd?}
            yes_no: true
        """))
    step = flow.step("a")
    assert flow.text(step, "cy", easy_read=True) == "Hawdd?"
    assert flow.text(step, "cy") == "Cymhleth?"
    assert flow.text(step, "pl", easy_read=True) == "Easy?"


def test_texts_lists_every_translatable_text() -> None:
    flow = load_flow(HERE / "golden" / "park_survey.yaml")
    fields = {(step_id, field) for step_id, field, _ in flow.texts()}
    assert {(None, "reminder"), ("welcome", "say"), ("visits", "ask"), ("visits", "easy_read"),
            ("language", "choice:cy"), ("rating", "label:0"), ("dog_area", "yes"), ("dog_area", "no")} <= fields
    assert all(set(texts) == {"en", "cy"} for _, _, texts in flow.texts())


def test_flow_level_settings() -> None:
    flow = load_flow(HERE / "golden" / "park_survey.yaml")
    assert flow.reminder == {"after": timedelta(hours=24), "text": {
        "en": "Your park survey is still open. Reply to carry on.",
        "cy": "Mae eich arolwg parc yn dal ar agor. Atebwch i barhau."}}
    assert flow.reminder_text("cy").startswith("Mae eich")
    assert flow.max_attempts == 2 and flow.step("visits").max_attempts == 2
    assert flow.skip_words == {"en": ("NEXT",), "cy": ("NESAF",)}
    assert flow.step("ethnicity").special_category and flow.step("ethnicity").optional
    assert flow.step("uses").kind == "multiple" and (flow.step("uses").min, flow.step("uses").max) == (1, 3)
    assert flow.step("rating").labels[10] == {"en": "Excellent", "cy": "Ardderchog"}
    assert flow.keep_free_text is False and flow.restart_after_days is None


@pytest.mark.parametrize(("text", "expected"), [
    ("48h", timedelta(hours=48)), ("2d", timedelta(days=2)), ("30m", timedelta(minutes=30)),
    ("1w", timedelta(weeks=1)), ("1d 12h", timedelta(days=1, hours=12)), ("48", None), ("2 days", None),
    (48, None), ("", None),
])
def test_parse_duration(text, expected) -> None:
    assert parse_duration(text) == expected


def test_load_flow_text_raises_with_every_error() -> None:
    with pytest.raises(FlowError) as raised:
        load_flow_text("id: x\ntitle: T\nlanguages: [en]\nsteps:\n  - {id: a, ask: Hi?}\n  - {id: a, say: Bye}\n",
                       "mine.yaml")
    problems = raised.value.problems
    assert [str(p) for p in problems] == [
        "mine.yaml:5:5: step 'a' asks a question but does not say what answer it takes: add one of choices, "
        "yes_no, number, scale or text",
        "mine.yaml:6:10: step id 'a' is used twice (first on line 5)",
    ]
    assert "mine.yaml:6:10" in str(raised.value)


def test_problem_format() -> None:
    assert str(Problem("f.yaml", 3, 7, "bad")) == "f.yaml:3:7: bad"
    assert str(Problem("f.yaml", 3, 7, "odd", "warning")) == "f.yaml:3:7: warning: odd"


def test_load_flows_dir_skips_broken_and_clashing_flows(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(STREET_SAFETY.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "b.yml").write_text(STREET_SAFETY.read_text(encoding="utf-8").replace("street-safety", "other"),
                                    encoding="utf-8")
    (tmp_path / "c.yaml").write_text("id: broken\n", encoding="utf-8")
    (tmp_path / "notes.txt").write_text("not a flow", encoding="utf-8")
    flows, problems = load_flows_dir(tmp_path)
    assert list(flows) == ["street-safety"]
    assert [str(p).replace(f"{tmp_path}/", "") for p in problems] == [
        "b.yml:4:12: keyword 'SAFE' is also used by flow 'street-safety' (a.yaml:4)",
        "b.yml:4:18: keyword 'DIOGEL' is also used by flow 'street-safety' (a.yaml:4)",
        "c.yaml:1:1: the flow is missing 'title'",
        "c.yaml:1:1: the flow is missing 'languages'",
        "c.yaml:1:1: the flow is missing 'steps'",
    ]


def test_golden_flows_lint_clean_together() -> None:
    assert lint_paths([HERE / "golden" / "street_safety.yaml", HERE / "golden" / "park_survey.yaml"]) == []


# ---------------------------------------------------------------- one test per lint problem


def test_yaml_syntax_error(tmp_path: Path) -> None:
    assert only(lint(tmp_path, HEAD + "  - id: a\n    say: Hello\n   next: end\n")) == (
        "flow.yaml:7:4: YAML syntax: while parsing a block collection expected <block end>, but found '<block "
        "mapping start>'")


def test_yaml_tab(tmp_path: Path) -> None:
    assert only(lint(tmp_path, HEAD + "  - id: a\n\tsay: Hello\n")) == (
        "flow.yaml:6:1: YAML syntax: while scanning for the next token found character '\\t' that cannot start "
        "any token")


def test_duplicate_yaml_key(tmp_path: Path) -> None:
    assert only(lint(tmp_path, "id: a\nid: b\n"))[:14] == "flow.yaml:2:1:"


def test_unknown_key_with_suggestion(tmp_path: Path) -> None:
    assert only(lint(tmp_path, HEAD + """\
  - id: a
    ask: {en: Hi?, cy: Hai?}
    choises:
      - {value: x, en: X, cy: X}
""")) == "flow.yaml:7:5: unknown key 'choises' in step 'a'; did you mean 'choices'?"


def test_unknown_key_in_a_choice_and_at_the_top(tmp_path: Path) -> None:
    assert lint(tmp_path, HEAD.replace("title", "titel") + """\
  - id: a
    ask: {en: Hi?, cy: Hai?}
    choices:
      - {vaule: x, en: X, cy: X}
""") == [
        "flow.yaml:1:1: the flow is missing 'title'",
        "flow.yaml:2:1: unknown key 'titel' in the flow; did you mean 'title'?",
        "flow.yaml:8:9: choice 1 of step 'a' is missing 'value'",
        "flow.yaml:8:10: unknown key 'vaule' in choice 1 of step 'a'; did you mean 'value'?",
    ]


def test_missing_required_keys(tmp_path: Path) -> None:
    assert lint(tmp_path, HEAD + """\
  - ask: {en: Hi?, cy: Hai?}
    yes_no: true
  - id: b
""") == [
        "flow.yaml:5:5: step 1 is missing 'id'",
        "flow.yaml:7:5: step 'b' needs 'ask' (a question) or 'say' (a message)",
    ]


def test_next_to_a_missing_step(tmp_path: Path) -> None:
    assert lint(tmp_path, HEAD + """\
  - id: a
    ask: {en: Hi?, cy: Hai?}
    yes_no: true
    next:
      "yes": wher
      default: end
  - id: where
    say: {en: Where, cy: Ble}
""") == ["flow.yaml:9:14: 'wher' is not a step; did you mean 'where'? (use 'end' to finish the run)"]


def test_goto_to_a_missing_step(tmp_path: Path) -> None:
    assert only(lint(tmp_path, HEAD + """\
  - id: a
    say: {en: Hi, cy: Hai}
    next:
      - goto: ned
""")) == "flow.yaml:8:15: 'ned' is not a step; did you mean 'end'? (use 'end' to finish the run)"


def test_unreachable_step(tmp_path: Path) -> None:
    assert only(lint(tmp_path, HEAD + """\
  - id: a
    say: {en: Hi, cy: Hai}
    next: end
  - id: orphan
    say: {en: Bye, cy: Hwyl}
""")) == "flow.yaml:8:9: step 'orphan' can never be reached: no step leads to it"


def test_loop_of_messages_without_a_question(tmp_path: Path) -> None:
    assert only(lint(tmp_path, HEAD + """\
  - id: ask_first
    ask: {en: Ready?, cy: Barod?}
    yes_no: true
  - id: one
    say: {en: One, cy: Un}
  - id: two
    say: {en: Two, cy: Dau}
    next: one
""")) == ("flow.yaml:8:9: steps 'one' -> 'two' loop back with no question in between: residents would be sent "
          "messages without end")


def test_a_broken_step_does_not_hide_reachability_and_loop_problems(tmp_path: Path) -> None:
    assert lint(tmp_path, HEAD + """\
  - id: ask_first
    ask: {en: Ready?, cy: Barod?}
    choises: [a, b]
    next: end
  - id: orphan
    say: {en: Nobody comes here, cy: Neb}
  - id: one
    say: {en: One, cy: Un}
  - id: two
    say: {en: Two}
    next: one
""") == [
        "flow.yaml:7:5: unknown key 'choises' in step 'ask_first'; did you mean 'choices'?",
        "flow.yaml:9:9: step 'orphan' can never be reached: no step leads to it",
        "flow.yaml:11:9: step 'one' can never be reached: no step leads to it",
        "flow.yaml:11:9: steps 'one' -> 'two' loop back with no question in between: residents would be sent "
        "messages without end",
        "flow.yaml:13:9: step 'two' can never be reached: no step leads to it",
        "flow.yaml:14:5: 'say' of step 'two' has no text in cy (Welsh)",
    ]


def test_a_misspelt_next_still_lets_other_unreachable_steps_be_found(tmp_path: Path) -> None:
    assert lint(tmp_path, HEAD + """\
  - id: feel
    ask: {en: Safe?, cy: Diogel?}
    yes_no: true
    next: {"yes": wher, default: end}
  - id: where
    ask: {en: Where?, cy: Ble?}
    text: {}
    next: end
  - id: orphan
    say: {en: Bye, cy: Hwyl}
""") == [
        "flow.yaml:8:19: 'wher' is not a step; did you mean 'where'? (use 'end' to finish the run)",
        "flow.yaml:13:9: step 'orphan' can never be reached: no step leads to it",
    ]


def test_a_loop_through_a_question_is_fine(tmp_path: Path) -> None:
    assert lint(tmp_path, HEAD + """\
  - id: more
    ask: {en: Another?, cy: Un arall?}
    yes_no: true
    next: {"no": end}
  - id: noted
    say: {en: Noted, cy: Wedi nodi}
    next: more
""") == []


def test_choice_value_used_twice(tmp_path: Path) -> None:
    assert only(lint(tmp_path, HEAD + """\
  - id: a
    ask: {en: Hi?, cy: Hai?}
    choices:
      - {value: safe, en: Safe, cy: Diogel}
      - {value: safe, en: Very safe, cy: Diogel iawn}
""")) == "flow.yaml:9:17: choice value 'safe' is used twice in step 'a' (first on line 8)"


def test_missing_language(tmp_path: Path) -> None:
    assert lint(tmp_path, HEAD + """\
  - id: a
    ask: {en: Hi?}
    choices:
      - {value: x, en: X}
      - value: y
        en: Y
        cy: Y
  - id: b
    say: Hello
""") == [
        "flow.yaml:6:5: 'ask' of step 'a' has no text in cy (Welsh)",
        "flow.yaml:8:9: choice 'x' of step 'a' has no text in cy (Welsh)",
        "flow.yaml:13:5: 'say' of step 'b' has no text in cy (Welsh)",
    ]


def test_missing_language_is_an_error_not_a_warning(tmp_path: Path) -> None:
    with pytest.raises(FlowError):
        load_flow_text(HEAD + "  - id: a\n    say: {en: Hi}\n")


def test_undeclared_language(tmp_path: Path) -> None:
    assert lint(tmp_path, HEAD + """\
  - id: a
    ask: {en: Hi?, cy: Hai?, fr: Salut ?}
    choices:
      - {value: x, en: X, cy: X, pl: X}
""") == [
        "flow.yaml:6:30: text in fr (French), which is not in this flow's languages (en, cy)",
        "flow.yaml:8:34: text in pl (Polish), which is not in this flow's languages (en, cy)",
    ]


def test_consultation_closes_before_it_opens(tmp_path: Path) -> None:
    assert only(lint(tmp_path, """\
id: test-flow
title: Test
languages: [en]
consultation:
  purpose: Street lights
  info_url: https://example.gov.uk/lights
  opens: 2026-12-01
  closes: 2026-11-30
steps:
  - {id: a, say: Hi}
""")) == "flow.yaml:8:11: the consultation closes (2026-11-30) before it opens (2026-12-01)"


def test_consultation_may_open_and_close_the_same_day(tmp_path: Path) -> None:
    assert lint(tmp_path, "id: t\ntitle: T\nlanguages: [en]\nconsultation: {purpose: P, opens: 2026-12-01, "
                          "closes: 2026-12-01}\nsteps:\n  - {id: a, say: Hi}\n") == []


def test_keyword_used_by_two_flows(tmp_path: Path) -> None:
    lint(tmp_path, "id: first\ntitle: T\nlanguages: [en]\nkeywords: [PARK, LIGHTS]\nsteps:\n  - {id: a, say: Hi}\n",
         "a.yaml")
    (tmp_path / "b.yaml").write_text("id: second\ntitle: T\nlanguages: [en]\nkeywords: [parks, park]\n"
                                     "steps:\n  - {id: a, say: Hi}\n", encoding="utf-8")
    problems = [str(p).replace(f"{tmp_path}/", "") for p in lint_paths([tmp_path])]
    assert problems == ["b.yaml:4:19: keyword 'PARK' is also used by flow 'first' (a.yaml:4)"]


def test_flow_id_used_twice(tmp_path: Path) -> None:
    for name in ("a.yaml", "b.yaml"):
        (tmp_path / name).write_text("id: same\ntitle: T\nlanguages: [en]\nsteps:\n  - {id: a, say: Hi}\n",
                                     encoding="utf-8")
    problems = [str(p).replace(f"{tmp_path}/", "") for p in lint_paths([tmp_path / "a.yaml", tmp_path / "b.yaml"])]
    assert problems == ["b.yaml:1:5: flow id 'same' is also used by a.yaml:1"]


def test_keyword_problems_in_one_flow(tmp_path: Path) -> None:
    assert lint(tmp_path, "id: t\ntitle: T\nlanguages: [en]\nkeywords: [STOP, two words, SAFE, safe]\n"
                          "steps:\n  - {id: a, say: Hi}\n") == [
        "flow.yaml:4:12: keyword 'STOP' is reserved (opt-out, help or skip word); choose another",
        "flow.yaml:4:18: keyword 'TWO WORDS' should be one word of letters or digits",
        "flow.yaml:4:35: keyword 'SAFE' is listed twice",
    ]


def test_bad_durations(tmp_path: Path) -> None:
    assert lint(tmp_path, """\
id: t
title: T
languages: [en]
expires_after: 48
reminder: {after: 2 days, en: Still there?}
steps:
  - {id: a, say: Hi}
""") == [
        "flow.yaml:4:16: 'expires_after' should be a duration like 30m, 48h, 2d or 1w, not '48'",
        "flow.yaml:5:19: 'after' should be a duration like 30m, 48h, 2d or 1w, not '2 days'",
    ]


def test_reminder_after_expiry_is_a_warning(tmp_path: Path) -> None:
    assert only(lint(tmp_path, "id: t\ntitle: T\nlanguages: [en]\nexpires_after: 24h\n"
                               "reminder: {after: 2d, en: Still there?}\nsteps:\n  - {id: a, say: Hi}\n")) == (
        "flow.yaml:5:19: warning: the reminder would come after the run has expired (expires_after)")


def test_number_min_above_max(tmp_path: Path) -> None:
    assert only(lint(tmp_path, HEAD + """\
  - id: a
    ask: {en: How many?, cy: Sawl un?}
    number: {min: 10, max: 5}
""")) == "flow.yaml:7:19: 'min' (10) is more than 'max' (5) for the number in step 'a'"


def test_scale_problems(tmp_path: Path) -> None:
    assert lint(tmp_path, HEAD + """\
  - id: a
    ask: {en: Rate it, cy: Sgoriwch}
    scale:
      min: 5
      max: 1
      labels: {7: {en: Great, cy: Gwych}}
  - id: b
    ask: {en: Rate it, cy: Sgoriwch}
    scale: {min: 0, max: 20}
""") == [
        "flow.yaml:8:12: 'min' (5) is more than 'max' (1) for the scale in step 'a'",
        "flow.yaml:10:16: scale label 7 is outside the scale (5 to 1)",
        "flow.yaml:13:12: the scale of step 'b' has more than 11 points; use number: for a wider range",
    ]


def test_multiple_choice_picks(tmp_path: Path) -> None:
    assert lint(tmp_path, HEAD + """\
  - id: a
    ask: {en: Which?, cy: Pa rai?}
    multiple: true
    min: 3
    max: 2
    choices:
      - {value: x, en: X, cy: X}
      - {value: y, en: Y, cy: Y}
  - id: b
    ask: {en: Which?, cy: Pa un?}
    min: 1
    choices:
      - {value: x, en: X, cy: X}
""") == [
        "flow.yaml:8:10: 'min' (3) is more than 'max' (2) for the picks in step 'a'",
        "flow.yaml:8:10: 'min' (3) is more than the 2 choices",
        "flow.yaml:15:5: 'min' on a step counts the picks of a multiple choice (multiple: true)",
    ]


def test_step_shape_problems(tmp_path: Path) -> None:
    assert lint(tmp_path, HEAD + """\
  - id: a
    ask: {en: Hi?, cy: Hai?}
    say: {en: Hi, cy: Hai}
  - id: b
    ask: {en: Hi?, cy: Hai?}
    yes_no: true
    number: {}
  - id: c
    say: {en: Hi, cy: Hai}
    choices:
      - {value: x, en: X, cy: X}
    optional: true
  - id: end
    say: {en: Bye, cy: Hwyl}
""") == [
        "flow.yaml:7:5: step 'a' has both 'ask' and 'say'; a step does one or the other",
        "flow.yaml:11:5: step 'b' has both 'yes_no' and 'number'; a question takes one kind of answer",
        "flow.yaml:14:5: step 'c' is a message ('say') and takes no answer, so 'choices' does not belong here",
        "flow.yaml:16:5: step 'c' is a message ('say') and takes no answer, so 'optional' does not belong here",
        "flow.yaml:17:9: 'end' is kept for finishing a run; give the step another id",
    ]


def test_branch_keys_must_be_answers(tmp_path: Path) -> None:
    assert lint(tmp_path, HEAD + """\
  - id: a
    ask: {en: Hi?, cy: Hai?}
    choices:
      - {value: unsafe, en: Unsafe, cy: Anniogel}
    next:
      unsaf: end
  - id: b
    ask: {en: Sure?, cy: Siwr?}
    yes_no: true
    next: {maybe: end}
  - id: c
    ask: {en: Why?, cy: Pam?}
    text: {}
    next: {anything: end}
""") == [
        "flow.yaml:10:7: 'unsaf' is not a choice of step 'a'; did you mean 'unsafe'?",
        "flow.yaml:14:12: a yes/no question branches on 'yes', 'no' or 'default', not 'maybe'",
        "flow.yaml:18:12: step 'c' is a free-text question: it can only use 'default' here, or the list form with "
        "'if:'",
    ]


def test_condition_problems(tmp_path: Path) -> None:
    assert lint(tmp_path, HEAD + """\
  - id: a
    ask: {en: Hi?, cy: Hai?}
    choices:
      - {value: unsafe, en: Unsafe, cy: Anniogel}
    next:
      - if: {answer: a, equals: unsaf}
        goto: b
      - if: {answer: nope, equals: x}
        goto: b
      - if: {field: ward, in: Netteswell}
        goto: b
      - if: {answer: a, at_least: 2}
        goto: b
      - if: {answer: a, equal: unsafe}
        goto: b
      - goto: b
      - goto: b
  - id: b
    say: {en: Bye, cy: Hwyl}
""") == [
        "flow.yaml:10:33: 'unsaf' is not a choice of step 'a'; did you mean 'unsafe'?",
        "flow.yaml:12:22: there is no step 'nope' to test the answer of",
        "flow.yaml:14:31: 'in' needs a list, e.g. in: [Bush Fair, Netteswell]",
        "flow.yaml:16:35: 'at_least' compares numbers, but step 'a' is not a number or scale",
        "flow.yaml:18:13: a test needs exactly one of equals, not_equals, in, not_in, at_least, at_most, more_than, "
        "less_than, exists",
        "flow.yaml:18:25: unknown key 'equal' in 'if'; did you mean 'equals'?",
        "flow.yaml:20:9: warning: this route has no 'if', so the routes after it are never used",
    ]


def test_other_value_problems(tmp_path: Path) -> None:
    assert lint(tmp_path, """\
id: Test Flow
title: T
languages: [en, english]
keep_free_text: sometimes
consultation:
  purpose: P
  info_url: example.gov.uk
  opens: first of May
steps:
  - id: a
    ask: Hi?
    text: {max_length: 0}
    save_to: Ward Name
    max_attempts: 0
""") == [
        "flow.yaml:1:5: flow id 'Test Flow' should be lower-case letters, digits, - and _",
        "flow.yaml:3:17: 'english' is not a language code such as en, cy, pl or pt-BR",
        "flow.yaml:4:17: 'keep_free_text' should be true or false, not 'sometimes'",
        "flow.yaml:7:13: 'info_url' should be a web address starting https://, not 'example.gov.uk'",
        "flow.yaml:8:10: 'opens' should be a date like 2026-12-01 (or 2026-12-01T09:00), not 'first of May'",
        "flow.yaml:12:24: 'max_length' should be a whole number of at least 1, not '0'",
        "flow.yaml:13:14: 'save_to' should name a contact field such as ward or age_band, not 'Ward Name'",
        "flow.yaml:14:19: 'max_attempts' should be a whole number of at least 1, not '0'",
    ]


def test_warnings_do_not_stop_loading(tmp_path: Path) -> None:
    text = HEAD + """\
  - id: lang
    ask: {en: Language?, cy: Iaith?}
    choices:
      - {value: en, en: English, cy: Saesneg}
      - {value: fr, en: French, cy: Ffrangeg}
      - {value: "3", en: "3", cy: "3"}
    save_to: language
"""
    assert lint(tmp_path, text) == [
        "flow.yaml:10:26: warning: label '3' looks like an option number: a reply of '3' picks option 3, not this "
        "choice",
        "flow.yaml:10:35: warning: label '3' looks like an option number: a reply of '3' picks option 3, not this "
        "choice",
        "flow.yaml:11:14: warning: choice 'fr' is saved to language but is not one of this flow's languages (en, cy)",
        "flow.yaml:11:14: warning: choice '3' is saved to language but is not one of this flow's languages (en, cy)",
    ]
    assert load_flow_text(text).step("lang").save_to == "language"


def test_all_problems_at_once_in_file_order(tmp_path: Path) -> None:
    problems = lint(tmp_path, HEAD + """\
  - id: a
    ask: {en: Hi?}
    choises: []
  - id: b
    say: {en: Bye, cy: Hwyl, de: Tschüss}
    next: c
""")
    assert [p.split(": ")[0] for p in problems] == ["flow.yaml:6:5", "flow.yaml:7:5", "flow.yaml:9:30",
                                                    "flow.yaml:10:11"]


def test_lint_missing_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    assert [str(p) for p in lint_paths([missing])] == [f"{missing}:1:1: no such file or folder"]


def test_empty_and_non_mapping_files(tmp_path: Path) -> None:
    assert only(lint(tmp_path, "")) == "flow.yaml:1:1: the file is empty"
    assert only(lint(tmp_path, "- a\n- b\n")) == (
        "flow.yaml:1:1: a flow starts with keys such as id:, title:, languages: and steps:")


# ---------------------------------------------------------------- SMS costs


def test_segment_report() -> None:
    rows = {(r.step_id, r.field, r.lang): r for r in segment_report(load_flow(STREET_SAFETY))}
    assert rows["feel_safe", "ask", "en"].segments == 1 and rows["feel_safe", "ask", "en"].encoding == "GSM-7"
    # A question is counted as sent: the question, its numbered choices and the reply line. Without the
    # service's catalogs the reply line is in English ("Reply 1, 2 or 3")...
    welsh = rows["feel_safe", "ask", "cy"]
    assert (welsh.encoding, welsh.units, welsh.segments, welsh.non_gsm) == ("UCS-2", 134, 2, ("ô", "ŵ"))
    assert rows["feel_safe", "choice:unsure", "cy"].non_gsm == ("ŵ",)
    # ... with them, in Welsh ("Atebwch 1, 2 neu 3"), as the sender sends it: 3 SMS, not the question's 2.
    from locales import i18n

    sent = {(r.step_id, r.field, r.lang): r for r in segment_report(load_flow(STREET_SAFETY), i18n.gettext)}
    assert str(sent["feel_safe", "ask", "cy"]) == "feel_safe ask [cy]: 3 SMS (137 UCS-2 units; UCS-2 because of ô ŵ)"


def test_lint_main(tmp_path: Path, capsys) -> None:
    assert main([str(STREET_SAFETY), "--segments"]) == 0
    out = capsys.readouterr().out
    # Counted as sent, the reply line in Welsh read from the service's catalogs: 3, as the sender sends it.
    assert "feel_safe ask [cy]: 3 SMS" in out and out.endswith("0 error(s), 0 warning(s)\n")
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: x\n", encoding="utf-8")
    assert main([str(bad)]) == 1


# ---------------------------------------------------------------- consent_for


def test_consent_for_on_a_yes_no_question_loads(tmp_path: Path) -> None:
    flow = load_flow_text(HEAD + dedent("""\
      - id: ok
        ask: {en: May we ask about disability?, cy: Gawn ni ofyn am anabledd?}
        yes_no: true
        consent_for: special_category
    """))
    assert flow.step("ok").consent_for == "special_category"


def test_consent_for_an_unknown_kind_of_data_is_an_error(tmp_path: Path) -> None:
    problems = lint(tmp_path, HEAD + """\
      - id: ok
        ask: {en: May we?, cy: Gawn ni?}
        yes_no: true
        consent_for: marketing
    """)
    assert only(problems) == ("flow.yaml:8:22: 'consent_for' can be special_category, service, promotional, "
                              "not 'marketing'")


def test_consent_for_on_a_choice_question_is_an_error(tmp_path: Path) -> None:
    problems = lint(tmp_path, HEAD + """\
      - id: ok
        ask: {en: Pick, cy: Dewis}
        choices:
          - {value: a, en: A, cy: A}
        consent_for: special_category
    """)
    assert only(problems) == "flow.yaml:9:9: 'consent_for' goes on a yes/no question: a yes is the consent"
