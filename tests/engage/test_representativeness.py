"""Representativeness: shares against the census, flags, raking weights and Kish's effective sample size."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from engage import representativeness as rep
from engage.results import StepInfo
from tests.support.dashboard import respondent, run_with_answers

T0 = datetime(2026, 12, 2, 10, 0, tzinfo=timezone.utc)
BASELINE = {"dimensions": {
    "age_band": {"field": "age_band", "shares": {"under_18": 25.0, "18_64": 59.6, "65_plus": 15.4}},
}}


def _answer(s, fields, value="safe", flow_id="street-safety"):
    contact, _ = respondent(s, fields=fields)
    run_with_answers(s, flow_id, contact, {"feel_safe": value}, started=T0)


def test_shares_ratios_and_flags_match_a_hand_computed_example(db):
    # 2 under 18, 14 aged 18-64, 4 aged 65+, 3 not saying: 20 known.
    with db.session() as s:
        for age, n in (("under_18", 2), ("18_64", 14), ("65_plus", 4)):
            for _ in range(n):
                _answer(s, {"age_band": age})
        for _ in range(3):
            _answer(s, {})
        # Answered another flow only: not a respondent of this one.
        _answer(s, {"age_band": "65_plus"}, flow_id="climate-pulse")
    with db.session() as s:
        [dim] = rep.compare(s, BASELINE, "street-safety")
    assert (dim.known, dim.unknown, dim.other) == (20, 3, 0)
    by_key = {g.key: g for g in dim.groups}
    # under 18: 2/20 = 0.10 of respondents against 25.0/100 = 0.25: ratio 0.4, under-reached.
    assert by_key["under_18"].share == pytest.approx(0.10)
    assert by_key["under_18"].expected == pytest.approx(0.25)
    assert by_key["under_18"].ratio == pytest.approx(0.4)
    # 18-64: 14/20 = 0.70 against 0.596: ratio 1.1745.
    assert by_key["18_64"].ratio == pytest.approx(0.70 / 0.596)
    # 65+: 4/20 = 0.20 against 0.154: ratio 1.2987, over-reached.
    assert by_key["65_plus"].ratio == pytest.approx(0.20 / 0.154)
    assert [g.key for g in dim.under_reached] == ["under_18"]
    assert by_key["65_plus"].over_reached and not by_key["18_64"].under_reached


def test_expected_shares_are_normalised_when_published_figures_do_not_add_to_100():
    baseline = {"dimensions": {"x": {"shares": {"a": 50, "b": 49}}}}
    shares = rep._expected_shares(baseline["dimensions"]["x"])
    assert shares == {"a": pytest.approx(50 / 99), "b": pytest.approx(49 / 99)}


def test_rake_one_dimension_gives_target_over_share_weights():
    cells = {("a",): 2.0, ("b",): 8.0}
    weights = rep.rake(cells, [{"a": 0.5, "b": 0.5}])
    # a is 20% of respondents and 50% of people: weight 2.5; b: 0.5/0.8 = 0.625.
    assert weights[("a",)] == pytest.approx(2.5)
    assert weights[("b",)] == pytest.approx(0.625)
    # Kish: (2*2.5 + 8*0.625)^2 / (2*2.5^2 + 8*0.625^2) = 100 / 15.625 = 6.4
    assert rep.effective_sample_size(cells, weights) == pytest.approx(6.4)


def test_rake_two_dimensions_matches_both_margins():
    cells = {("young", "f"): 10.0, ("young", "m"): 20.0, ("old", "f"): 30.0, ("old", "m"): 40.0}
    age, sex = {"young": 0.4, "old": 0.6}, {"f": 0.5, "m": 0.5}
    weights = rep.rake(cells, [age, sex])
    total = sum(cells[c] * w for c, w in weights.items())
    assert total == pytest.approx(100.0)
    for i, margin in enumerate((age, sex)):
        for value, share in margin.items():
            got = sum(cells[c] * w for c, w in weights.items() if c[i] == value) / total
            assert got == pytest.approx(share, abs=1e-6)


def test_equal_weights_when_sample_already_matches():
    cells = {("a",): 25.0, ("b",): 75.0}
    weights = rep.rake(cells, [{"a": 0.25, "b": 0.75}])
    assert weights == {("a",): pytest.approx(1.0), ("b",): pytest.approx(1.0)}
    assert rep.effective_sample_size(cells, weights) == pytest.approx(100.0)


def test_weighted_results_beside_raw(db):
    step = StepInfo("feel_safe", "How safe?", "choice", (("safe", "Safe"), ("unsafe", "Unsafe")))
    baseline = {"dimensions": {"age_band": {"shares": {"18_64": 50, "65_plus": 50}}}}
    with db.session() as s:
        for _ in range(8):
            _answer(s, {"age_band": "18_64"}, "safe")
        for _ in range(2):
            _answer(s, {"age_band": "65_plus"}, "unsafe")
    with db.session() as s:
        weighting = rep.weighting(s, baseline, "street-safety")
        rows = rep.weighted_question(s, "street-safety", step, weighting)
    assert weighting.respondents == 10
    # Weights 0.625 and 2.5: Kish n = 6.4.
    assert weighting.effective_n == pytest.approx(6.4)
    assert [(r["value"], r["raw_percent"], r["weighted_percent"]) for r in rows] == [
        ("safe", 80.0, 50.0), ("unsafe", 20.0, 50.0)]


def test_the_harlow_baseline_loads():
    baseline = rep.load_baseline()
    assert "age_band" in baseline["dimensions"]
    assert sum(rep._expected_shares(baseline["dimensions"]["age_band"]).values()) == pytest.approx(1.0)
