"""python app.py results themes FLOW STEP prints themes with sizes and quotes, and is audit-logged."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from commands.results import results
from store.models.officers import AuditLog
from tests.support.dashboard import respondent, run_with_answers

TEXTS = (["The street lights are broken near the station", "no street lights in the alley, too dark",
          "more street lighting by the underpass"] * 4
         + ["the buses are always late", "more buses in the evening please", "the bus never turns up"] * 4)


def test_the_command_prints_themes_sizes_and_quotes(runner, services, clock):
    with services.db.session() as s:
        for i, text in enumerate(TEXTS):
            contact, _ = respondent(s)
            run_with_answers(s, "street-safety", contact, {"where": text}, started=clock.now() + timedelta(seconds=i))
    out = runner.invoke(results, ["themes", "street-safety", "where"])
    assert out.exit_code == 0, out.output
    assert "24 written answers, 24 residents in" in out.output
    assert "residents, " in out.output and "%" in out.output
    assert "“The street lights are broken near the station”" in out.output
    assert "“the buses are always late”" in out.output
    with services.db.session() as s:
        rows = list(s.scalars(select(AuditLog)))
    assert [r.action for r in rows] == ["themes.analysed"] and rows[0].actor.startswith("command line (")
    again = runner.invoke(results, ["themes", "street-safety", "where"])
    assert again.exit_code == 0 and again.output == out.output  # the same themes, nothing new to place
    with services.db.session() as s:
        assert len(list(s.scalars(select(AuditLog)))) == 1


def test_the_command_refuses_unknown_flows_and_questions_that_are_not_written(runner):
    assert runner.invoke(results, ["themes", "no-such-flow", "where"]).exit_code != 0
    refused = runner.invoke(results, ["themes", "street-safety", "feel_safe"])
    assert refused.exit_code != 0 and "no written question" in refused.output
