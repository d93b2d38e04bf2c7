"""Golden flow tests: a flow, its turns, and the events the engine gives for each turn.

`tests/flows/golden/<name>.yaml` is the flow; `<name>.cases.yaml` holds cases of turns. A cases file for a
ready-made flow names it instead (`flow: flows/library/<id>.yaml`, from the repository's root). Each turn does
one thing - `start`, `reply: text`, `press: value` (a button), `remind` or `expire` - optionally
`after: 24h` of waiting, and records the events as `to_dict()`. Each case ends with the run's final state.

To accept new behaviour, regenerate the expected output (then read the diff before committing):

    OUTREACH_REGEN_GOLDEN=1 pytest tests/flows/test_golden.py   (not with -n: the tests rewrite shared files)

A regenerating run asserts nothing, so it is refused where CI is set.
"""
from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from flows import engine
from flows.loader import load_flow, parse_duration

GOLDEN = Path(__file__).parent / "golden"
ROOT = Path(__file__).resolve().parents[2]
FINAL_KEYS = ("status", "step", "attempts", "answers", "skipped", "fields", "lang", "end_reason")
ACTIONS = ("start", "reply", "press", "remind", "expire")


def regenerating(environ=os.environ) -> bool:
    """Return True when asked to rewrite the expected output; fail the test when that is asked under CI."""
    if environ.get("OUTREACH_REGEN_GOLDEN") != "1":
        return False
    if environ.get("CI"):
        pytest.fail("OUTREACH_REGEN_GOLDEN=1 is refused under CI: a regenerating run checks nothing")
    return True


def _yaml() -> YAML:
    yaml = YAML()
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def _plain(value: Any) -> Any:
    """Return JSON-shaped data (lists, dicts, str, numbers) from events or from YAML."""
    return json.loads(json.dumps(value, default=str))


def _cases() -> list[tuple[Path, str]]:
    found = []
    for path in sorted(GOLDEN.glob("*.cases.yaml")):
        for case in _yaml().load(path)["cases"]:
            found.append((path, case["name"]))
    return found


def _run(flow, case: CommentedMap, now: datetime) -> tuple[list[list[dict]], dict[str, Any]]:
    """Play a case's turns and return the events of each turn and the final state."""
    contact = dict(case.get("contact") or {})
    state: dict[str, Any] | None = None
    turns = []
    for turn in case["turns"]:
        actions = [a for a in ACTIONS if a in turn]
        assert len(actions) == 1, f"turn {dict(turn)} should do exactly one of {ACTIONS}"
        if "after" in turn:
            now = now + parse_duration(turn["after"])
        if "start" in turn:
            state, events = engine.start(flow, contact, now, lang=case.get("lang"))
        elif "reply" in turn:
            state, events = engine.resume(flow, state, str(turn["reply"]), contact, now)
        elif "press" in turn:
            press = turn["press"]
            choice = list(press) if isinstance(press, list) else press
            state, events = engine.resume(flow, state, engine.Reply(text="", choice=choice), contact, now)
        elif "remind" in turn:
            state, events = engine.remind(flow, state, now)
        else:
            state, events = engine.expire(flow, state, now)
        json.dumps(state)  # the state must stay JSON-ready
        for event in events:
            if event.type == "contact_field_changed":
                contact[event.field] = event.value
        turns.append(_plain([e.to_dict() for e in events]))
    return turns, _plain({k: state[k] for k in FINAL_KEYS})


def _flow_style(value: Any) -> Any:
    """Write each event on one line so the case files stay readable."""
    if isinstance(value, dict):
        out = CommentedMap((k, _flow_style(v)) for k, v in value.items())
        out.fa.set_flow_style()
        return out
    if isinstance(value, list):
        out = CommentedSeq(_flow_style(v) for v in value)
        out.fa.set_flow_style()
        return out
    return value


@pytest.mark.parametrize(("path", "name"), _cases(), ids=lambda v: v.name.split(".")[0] if isinstance(v, Path) else v)
def test_golden(path: Path, name: str) -> None:
    yaml = _yaml()
    data = yaml.load(path)
    flow = load_flow(ROOT / data["flow"] if data.get("flow") else GOLDEN / path.name.replace(".cases.yaml", ".yaml"))
    case = next(c for c in data["cases"] if c["name"] == name)
    turns, final = _run(flow, case, datetime.fromisoformat(str(data["now"])))
    if regenerating():
        for turn, events in zip(case["turns"], turns, strict=True):
            turn["events"] = CommentedSeq(_flow_style(e) for e in events)
        case["final"] = _flow_style(final)
        yaml.dump(data, path)
        return
    for number, (turn, events) in enumerate(zip(case["turns"], turns, strict=True), start=1):
        assert "events" in turn, f"{path.name} {name}: no expected events; run with OUTREACH_REGEN_GOLDEN=1"
        did = {k: v for k, v in turn.items() if k != "events"}
        assert events == _plain(turn["events"]), f"{path.name} {name}: turn {number} {did}"
    assert final == _plain(case["final"]), f"{path.name} {name}: final state"


def test_regenerating_is_refused_under_ci() -> None:
    assert regenerating({}) is False
    assert regenerating({"CI": "true"}) is False
    assert regenerating({"OUTREACH_REGEN_GOLDEN": "1"}) is True
    with pytest.raises(pytest.fail.Exception, match="refused under CI"):
        regenerating({"OUTREACH_REGEN_GOLDEN": "1", "CI": "true"})


def test_every_golden_flow_has_cases() -> None:
    flows = {p.name.removesuffix(".yaml") for p in GOLDEN.glob("*.yaml") if not p.name.endswith(".cases.yaml")}
    cases = {p.name.removesuffix(".cases.yaml") for p in GOLDEN.glob("*.cases.yaml") if not _yaml().load(p).get("flow")}
    assert flows and flows == cases


def test_golden_cases_of_ready_made_flows_name_a_library_flow() -> None:
    named = [_yaml().load(p).get("flow") for p in GOLDEN.glob("*.cases.yaml")]
    library = [n for n in named if n]
    assert library, "the ready-made flows have golden cases too"
    for name in library:
        assert name.startswith("flows/library/") and (ROOT / name).is_file(), name
