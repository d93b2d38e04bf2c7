"""Erasing a person removes who they were, not their anonymous answer: published figures do not move."""
from __future__ import annotations

from engage import representativeness
from engage.privacy import complete_erasures, erase_contact
from engage.results import flow_steps, question_result, summary
from tests.support.contacts import contact_at, find_traces, mobile, text_in

# The citizens' panel, answered by text: consent, age, ward, interests, special-category consent, ethnicity,
# disability. Its answers are saved to the residents' records (age_band, ward, ethnicity, disability).
PEOPLE = [("2", "7", "1", "1"), ("3", "7", "2", "3"), ("2", "6", "1", "1"), ("2", "1", "3", "2"),
          ("3", "7", "1", "3"), ("2", "7", "4", "1")]


def join_panel(services, number: int, age: str, ward: str, ethnicity: str, disability: str) -> str:
    phone = mobile(number)
    for text in ("PANEL", "yes", age, ward, "1", "yes", ethnicity, disability):
        text_in(services, text, phone)
    return phone


def figures(services) -> dict:
    with services.db.session() as s:
        flow = services.registry.get("citizens-panel")
        baseline = representativeness.load_baseline()
        out = {"summary": summary(s, "citizens-panel")}
        for step in flow_steps(flow.source):
            if step.is_question:
                result = question_result(s, "citizens-panel", step)
                out[step.id] = (result.answered, [(c.value, c.count) for c in result.counts])
        for flow_id in ("citizens-panel", None):
            dims = representativeness.compare(s, baseline, flow_id)
            out[("who answered", flow_id)] = [(d.name, d.known, d.unknown, d.other,
                                               [(g.key, g.respondents, g.share, g.ratio) for g in d.groups])
                                              for d in dims]
            weights = representativeness.weighting(s, baseline, flow_id)
            out[("weights", flow_id)] = (weights.respondents, round(weights.effective_n, 6))
    return out


def test_an_officers_erasure_leaves_people_answered_and_who_answered_as_they_were(services, clock):
    phones = [join_panel(services, i, *answers) for i, answers in enumerate(PEOPLE, start=1)]
    before = figures(services)
    assert before["summary"]["people"] == 6 and before["summary"]["respondents"] == 6
    contact = contact_at(services.db, "sms", phones[1])
    assert contact.fields["ward"] and contact.fields["age_band"] == "65_plus"
    with services.db.session() as s:
        erase_contact(s, contact.id, clock.now())
    assert figures(services) == before
    assert find_traces(services.db, [phones[1], phones[1][3:]]) == []


def test_a_residents_forget_yes_leaves_the_figures_as_they_were(services, clock):
    phones = [join_panel(services, i, *answers) for i, answers in enumerate(PEOPLE, start=1)]
    before = figures(services)
    text_in(services, "FORGET", phones[3])
    text_in(services, "FORGET YES", phones[3])
    assert figures(services) == before
    clock.advance(hours=25)
    assert complete_erasures(services.db, clock.now()) == 1
    assert figures(services) == before
    assert find_traces(services.db, [phones[3], phones[3][3:]]) == []


def test_a_you_said_we_did_share_of_a_small_special_category_group_is_refused(services):
    import pytest

    from engage.updates import UpdateError, result_summary

    for i, answers in enumerate(PEOPLE, start=1):
        join_panel(services, i, *answers)
    flow = services.registry.get("citizens-panel")
    with services.db.session() as s:
        with pytest.raises(UpdateError, match="special-category"):
            result_summary(s, flow, "ethnicity", "white", "en")
        assert "of you said" in result_summary(s, flow, "ward", "netteswell", "en")
