"""`python app.py flows lint` and `python app.py simulate`: what an officer writing a flow runs."""
from __future__ import annotations

from commands.flows import flows, simulate
from tests.conftest import LIBRARY
from tests.support.dashboard import BAD_FLOW


def test_lint_passes_the_library_and_prints_segments(runner):
    result = runner.invoke(flows, ["lint", str(LIBRARY / "street-safety.yaml")])
    assert result.exit_code == 0, result.output
    assert f"{LIBRARY / 'street-safety.yaml'}: SMS segments per text" in result.output
    assert result.output.rstrip().endswith("No errors found.")


def test_lint_without_a_path_checks_the_flows_folder(runner):
    result = runner.invoke(flows, ["lint", "--no-segments"])
    assert (result.exit_code, result.output.strip()) == (0, "No errors found."), result.output


def test_lint_names_file_line_and_column_and_exits_1(runner, tmp_path):
    path = tmp_path / "bins.yaml"
    path.write_text(BAD_FLOW, encoding="utf-8")
    result = runner.invoke(flows, ["lint", "--no-segments", str(path)])
    assert result.exit_code == 1
    assert f"{path}:13:" in result.output and "'nowhere' is not a step" in result.output
    assert "1 error(s) found." in result.output


def test_simulate_runs_answers_through_the_engine(runner):
    result = runner.invoke(simulate, [str(LIBRARY / "street-safety.yaml"), "--answers", "2|Station Road|3"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "BOT: How safe do you feel walking in your area after dark?", "1) Safe", "2) Unsafe", "3) Not sure",
        "Reply 1, 2 or 3", "YOU: 2", "-- feel_safe = 'unsafe'",
        "BOT: Which street or place feels least safe?", "(up to 300 characters)", "YOU: Station Road",
        "-- where = 'Station Road'",
        "BOT: How old are you?", "1) Under 18", "2) 18 to 64", "3) 65 or over", "Reply 1, 2 or 3", "YOU: 3",
        "-- age = '65_plus'", "-- contact age_band set to '65_plus'",
        "BOT: Thank you. We will tell you what we did with your answers.", "-- run ended (completed)"]


def test_simulate_refuses_a_language_the_flow_lacks_and_a_broken_flow(runner, tmp_path):
    result = runner.invoke(simulate, [str(LIBRARY / "street-safety.yaml"), "--lang", "pl", "--answers", "1"])
    assert result.exit_code == 2 and "the flow has no 'pl'; it has en, cy" in result.output
    path = tmp_path / "bins.yaml"
    path.write_text(BAD_FLOW, encoding="utf-8")
    result = runner.invoke(simulate, [str(path), "--answers", "1"])
    assert result.exit_code == 1 and f"{path}:13:" in result.output
