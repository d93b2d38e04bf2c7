"""Results per flow: counts, breakdowns with suppression, free text, funnel, timing, broadcast response."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from engage import results
from tests.conftest import LIBRARY
from tests.support.dashboard import broadcast_message, respondent, run_with_answers

T0 = datetime(2026, 12, 2, 10, 0, tzinfo=timezone.utc)
STEPS = results.flow_steps((LIBRARY / "street-safety.yaml").read_text(encoding="utf-8"))
FEEL = next(s for s in STEPS if s.id == "feel_safe")
WHERE = next(s for s in STEPS if s.id == "where")


def test_flow_steps_reads_questions_in_order_with_english_labels():
    assert [(s.id, s.kind) for s in STEPS] == [("feel_safe", "choice"), ("where", "text"), ("age", "choice"),
                                               ("thanks", "say")]
    assert FEEL.choices == (("safe", "Safe"), ("unsafe", "Unsafe"), ("unsure", "Not sure"))
    assert STEPS[2].save_to == "age_band"


def test_counts_and_percentages_per_question(db):
    with db.session() as s:
        for value in ["safe", "safe", "safe", "unsafe"]:
            contact, _ = respondent(s)
            run_with_answers(s, "street-safety", contact, {"feel_safe": value}, started=T0)
        contact, _ = respondent(s)
        run_with_answers(s, "street-safety", contact, {"feel_safe": None}, started=T0, skipped=("feel_safe",))
        contact, _ = respondent(s)
        # An officer's preview never counts.
        run_with_answers(s, "street-safety", contact, {"feel_safe": "unsure"}, started=T0, started_by="preview")
    with db.session() as s:
        result = results.question_result(s, "street-safety", FEEL)
    assert (result.answered, result.skipped) == (4, 1)
    assert [(c.value, c.count, c.percent) for c in result.counts] == [
        ("safe", 3, 75.0), ("unsafe", 1, 25.0), ("unsure", 0, 0.0)]


def test_multiple_choice_answers_count_each_option(db):
    from engage.results import StepInfo

    step = StepInfo("interests", "Which topics?", "multiple", (("parks", "Parks"), ("climate", "Climate")))
    with db.session() as s:
        for picks in (["parks", "climate"], ["parks"], ["climate"], ["parks"]):
            contact, _ = respondent(s)
            run_with_answers(s, "citizens-panel", contact, {"interests": picks}, started=T0)
    with db.session() as s:
        result = results.question_result(s, "citizens-panel", step)
    assert result.answered == 4
    assert [(c.value, c.count, c.percent) for c in result.counts] == [("parks", 3, 75.0), ("climate", 2, 50.0)]


def test_yes_no_and_filters_by_ward_and_channel(db):
    from engage.results import Filters, StepInfo

    step = StepInfo("consent", "Agree?", "yes_no", (("true", "Yes"), ("false", "No")))
    with db.session() as s:
        for ward, channel, value in [("mark_hall", "sms", True), ("mark_hall", "telegram", False),
                                     ("toddbrook", "sms", True), ("toddbrook", "assisted", True)]:
            contact, _ = respondent(s, fields={"ward": ward}, channel=channel)
            run_with_answers(s, "citizens-panel", contact, {"consent": value}, started=T0, channel=channel)
    with db.session() as s:
        everyone = results.question_result(s, "citizens-panel", step)
        mark_hall = results.question_result(s, "citizens-panel", step, Filters(ward="mark_hall"))
        assisted = results.question_result(s, "citizens-panel", step, Filters(channel="assisted"))
    assert [(c.value, c.count) for c in everyone.counts] == [("true", 3), ("false", 1)]
    assert [(c.value, c.count) for c in mark_hall.counts] == [("true", 1), ("false", 1)]
    assert [(c.value, c.count) for c in assisted.counts] == [("true", 1), ("false", 0)]


def test_breakdown_by_age_band(db):
    with db.session() as s:
        for age, value in [("18_64", "safe"), ("18_64", "unsafe"), ("65_plus", "unsafe"), (None, "safe")]:
            contact, _ = respondent(s, fields={"age_band": age} if age else {})
            run_with_answers(s, "street-safety", contact, {"feel_safe": value}, started=T0)
    with db.session() as s:
        table = results.breakdown(s, "street-safety", FEEL, "age_band")
    rows = {r["group"]: {c["value"]: c["count"] for c in r["cells"]} for r in table["rows"]}
    assert rows == {"18_64": {"safe": 1, "unsafe": 1, "unsure": 0},
                    "65_plus": {"safe": 0, "unsafe": 1, "unsure": 0},
                    results.UNKNOWN: {"safe": 1, "unsafe": 0, "unsure": 0}}
    assert table["suppressed"] is False


def test_special_category_breakdown_hides_groups_under_ten(db):
    with db.session() as s:
        for i in range(12):
            contact, _ = respondent(s, fields={"ethnicity": "white"})
            run_with_answers(s, "street-safety", contact, {"feel_safe": "safe" if i < 9 else "unsafe"}, started=T0)
        for _ in range(3):
            contact, _ = respondent(s, fields={"ethnicity": "black"})
            run_with_answers(s, "street-safety", contact, {"feel_safe": "unsafe"}, started=T0)
    with db.session() as s:
        table = results.breakdown(s, "street-safety", FEEL, "ethnicity")
    rows = {r["group"]: r for r in table["rows"]}
    assert table["suppressed"] is True
    # Three people: the whole group is hidden, total included.
    assert rows["black"]["total"] is None
    # (Nobody at all answered "unsure", as the question's own counts show: those zeros give nothing away.)
    assert {c["value"]: c["count"] for c in rows["black"]["cells"]} == {"safe": None, "unsafe": None, "unsure": 0}
    # Twelve people: shown, the total would give the three away (the question's own counts say 15 answered),
    # so it is hidden too; nine is under ten, and three beside it could be worked out from the column totals.
    assert rows["white"]["total"] is None
    assert {c["value"]: c["count"] for c in rows["white"]["cells"]} == {"safe": None, "unsafe": None, "unsure": 0}


def test_free_text_search_and_paging(db):
    with db.session() as s:
        for i in range(30):
            contact, _ = respondent(s)
            text = f"Lights out on Market Street {i}" if i % 3 == 0 else f"The underpass {i}"
            run_with_answers(s, "street-safety", contact, {"feel_safe": "unsafe", "where": text},
                             started=T0 + timedelta(minutes=i))
    with db.session() as s:
        page1, total = results.free_text(s, "street-safety", "where", per_page=25)
        page2, _ = results.free_text(s, "street-safety", "where", page=2, per_page=25)
        found, found_total = results.free_text(s, "street-safety", "where", search="market")
        none, none_total = results.free_text(s, "street-safety", "where", search="100%_")
    assert total == 30 and len(page1) == 25 and len(page2) == 5
    assert page1[0]["raw_text"] == "The underpass 29"
    assert found_total == 10 and all("Market" in r["raw_text"] for r in found)
    assert (none, none_total) == ([], 0)


def test_funnel_counts_who_reached_and_stopped_at_each_question(db):
    with db.session() as s:
        for _ in range(3):
            contact, _ = respondent(s)
            run_with_answers(s, "street-safety", contact, {"feel_safe": "safe", "age": "18_64"}, started=T0)
        contact, _ = respondent(s)
        run_with_answers(s, "street-safety", contact, {"feel_safe": "unsafe"}, started=T0, status="active",
                         current_step="where")
        contact, _ = respondent(s)
        run_with_answers(s, "street-safety", contact, {}, started=T0, status="expired", current_step="feel_safe")
    with db.session() as s:
        rows = results.funnel(s, "street-safety", STEPS)
    assert [(r["step"], r["reached"], r["stopped"]) for r in rows] == [
        (None, 5, 0), ("feel_safe", 5, 1), ("where", 1, 1), ("age", 3, 0), (None, 3, 0)]
    assert rows[-1]["percent"] == 60.0


def test_median_time_to_first_answer_and_to_completion(db):
    with db.session() as s:
        for gap in (30, 60, 600):
            contact, _ = respondent(s)
            run_with_answers(s, "street-safety", contact, {"feel_safe": "safe", "age": "18_64"}, started=T0,
                             seconds_apart=gap)
        contact, _ = respondent(s)
        run_with_answers(s, "street-safety", contact, {"feel_safe": "safe"}, started=T0, seconds_apart=90,
                         status="active")
    with db.session() as s:
        medians = results.median_seconds(s, "street-safety")
    assert medians == {"first_answer": 75.0, "completion": 120.0}


def test_response_rate_per_broadcast(db):
    with db.session() as s:
        people = [respondent(s) for _ in range(4)]
        for contact, address in people:
            broadcast_message(s, 7, contact, address, at=T0)
        contact, address = respondent(s)
        broadcast_message(s, 7, contact, address, at=T0, status="failed", error_code="30006")
        for contact, _ in people[:2]:
            run_with_answers(s, "street-safety", contact, {"feel_safe": "safe"}, started=T0, broadcast_id=7,
                             started_by="broadcast")
        run_with_answers(s, "street-safety", people[2][0], {}, started=T0, broadcast_id=7, status="active",
                         started_by="broadcast")
    with db.session() as s:
        rows = results.broadcast_response_rates(s, "street-safety")
    assert rows == [{"broadcast_id": 7, "recipients": 5, "sent": 4, "delivered": 4, "failed": 1, "responded": 2,
                     "first_sent": T0, "rate": 50.0}]


def test_summary_counts_runs_and_respondents(db):
    with db.session() as s:
        contact, _ = respondent(s)
        run_with_answers(s, "street-safety", contact, {"feel_safe": "safe"}, started=T0)
        contact, _ = respondent(s, channel="assisted")
        run_with_answers(s, "street-safety", contact, {"feel_safe": "safe"}, started=T0, channel="assisted",
                         status="active")
    with db.session() as s:
        figures = results.summary(s, "street-safety")
        counts = results.response_counts(s, ["street-safety", "climate-pulse"])
    assert figures["started"] == 2 and figures["completed"] == 1 and figures["respondents"] == 2
    assert figures["assisted"] == 1 and figures["completion_rate"] == 50.0
    assert counts == {"street-safety": {"started": 2, "completed": 1}}


def test_field_values_lists_respondents_wards(db):
    with db.session() as s:
        for ward in ("toddbrook", "mark_hall", "toddbrook", None):
            contact, _ = respondent(s, fields={"ward": ward} if ward else {})
            run_with_answers(s, "street-safety", contact, {"feel_safe": "safe"}, started=T0)
    with db.session() as s:
        assert results.field_values(s, "street-safety", "ward") == ["mark_hall", "toddbrook"]


def test_summary_figures_follow_the_filters(db):
    from engage.results import Filters

    with db.session() as s:
        for ward, channel, status in [("mark_hall", "sms", "completed"), ("mark_hall", "telegram", "active"),
                                      ("toddbrook", "sms", "completed")]:
            contact, _ = respondent(s, fields={"ward": ward}, channel=channel)
            run_with_answers(s, "street-safety", contact, {"feel_safe": "safe"}, started=T0, channel=channel,
                             status=status)
    with db.session() as s:
        everyone = results.summary(s, "street-safety")
        mark_hall = results.summary(s, "street-safety", Filters(ward="mark_hall"))
        by_sms = results.summary(s, "street-safety", Filters(channel="sms"))
        nobody = results.summary(s, "street-safety", Filters(ward="mark_hall", language="cy"))
    assert (everyone["started"], everyone["completed"], everyone["respondents"]) == (3, 2, 3)
    assert (mark_hall["started"], mark_hall["completed"], mark_hall["respondents"]) == (2, 1, 2)
    assert (by_sms["started"], by_sms["completed"], by_sms["respondents"]) == (2, 2, 2)
    assert (nobody["started"], nobody["respondents"], nobody["completion_rate"]) == (0, 0, None)
