"""Words for stored codes: census labels, the flows' choice texts per language, a readable fallback."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from engage import labels
from engage import representativeness as rep
from flows.loader import load_flow
from tests.conftest import LIBRARY
from tests.support.dashboard import respondent, run_with_answers

T0 = datetime(2026, 12, 2, 10, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(("code", "words"), [
    ("bush_fair", "Bush Fair"), ("18_64", "18 to 64"), ("65_plus", "65 or over"), ("under_18", "Under 18"),
    ("little_parndon_hare_street", "Little Parndon Hare Street"), ("Mark Hall", "Mark Hall"), ("", ""),
])
def test_a_code_nothing_names_is_made_readable(code, words):
    assert labels.humanise(code) == words


def test_labels_come_from_the_census_file_then_the_flows_in_the_readers_language():
    panel = load_flow(LIBRARY / "citizens-panel.yaml")
    found = labels.value_labels([panel], rep.load_baseline())
    assert found.label("ward", "bush_fair") == "Bush Fair"
    assert found.label("ward", "sumners_kingsmoor", "cy") == "Sumners a Kingsmoor"
    assert found.label("age_band", "18_64") == "18 to 64"
    assert found.label("age_band", "18_64", "cy") == "18 i 64"
    # The flow's own answers, by flow and step, in the reader's language.
    assert found.label("citizens-panel:interests", "climate", "cy") == "Newid hinsawdd"
    assert found.label("citizens-panel:consent", "true", "cy") == "Ydw"
    # A language the flow does not have falls back to English; a code nobody names is made readable.
    assert found.label("citizens-panel:interests", "climate", "pl") == "Climate change"
    assert found.label("ward", "new_town_centre") == "New Town Centre"
    # Without a census file or flows, codes still work.
    assert labels.value_labels().label("age_band", "18_64") == "18 to 64"


def test_ward_dimension_compares_respondents_with_ward_populations(db):
    baseline = {"dimensions": {"ward": {"field": "ward", "counts": {"bush_fair": 6000, "toddbrook": 4000},
                                        "labels": {"bush_fair": "Bush Fair", "toddbrook": "Toddbrook"}}}}
    with db.session() as s:
        for ward, n in (("bush_fair", 1), ("toddbrook", 3)):
            for _ in range(n):
                contact, _ = respondent(s, fields={"ward": ward})
                run_with_answers(s, "street-safety", contact, {"feel_safe": "safe"}, started=T0)
    with db.session() as s:
        [dim] = rep.compare(s, baseline, "street-safety")
    by_key = {g.key: g for g in dim.groups}
    # 1 of 4 against 6000 of 10000: 0.25 / 0.6; 3 of 4 against 0.4.
    assert by_key["bush_fair"].ratio == pytest.approx(0.25 / 0.6) and by_key["bush_fair"].under_reached
    assert by_key["toddbrook"].ratio == pytest.approx(0.75 / 0.4) and by_key["toddbrook"].over_reached
    assert dim.base.population == 10000 and dim.base.min_age is None


def test_age_is_compared_with_the_people_who_can_answer(db):
    spec = {"counts": {"under_18": 1800, "18_64": 4600, "65_plus": 1000},
            "ages": {"under_18": [0, 17], "18_64": [18, 64], "65_plus": [65, None]}}
    # From 16: 2 of the under 18s' 18 years, 1800 * 2/18 = 200; base 200 + 4600 + 1000 = 5800.
    shares, base = rep._population(spec, 16)
    assert shares == {"under_18": pytest.approx(200 / 5800), "18_64": pytest.approx(4600 / 5800),
                      "65_plus": pytest.approx(1000 / 5800)}
    assert (base.min_age, base.population, base.estimated) == (16, pytest.approx(5800), ["under_18"])
    # The council's own figure for 16 and 17 year olds wins over the even spread.
    shares, base = rep._population({**spec, "counts_from_min_age": {"under_18": 300}}, 16)
    assert shares["under_18"] == pytest.approx(300 / 5900) and base.estimated == []
    # From 18 the under 18s are left out; 0 compares with everyone.
    shares, base = rep._population(spec, 18)
    assert "under_18" not in shares and base.left_out == ["under_18"]
    shares, base = rep._population(spec, None)
    assert shares["under_18"] == pytest.approx(1800 / 7400) and base.min_age is None
    # The setting wins over the census file, which wins over the default of 16.
    assert rep.min_age({}) == 16 and rep.min_age({"min_age": 18}) == 18 and rep.min_age({"min_age": 18}, "0") is None
