"""Check an uploaded flow's YAML with the flows package's loader and linter, and count its SMS segments.

The problems come back as (line, col, message) so the editor can show each one at its line.
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from flows.sms import count_segments


@dataclass(frozen=True)
class Problem:
    line: int | None
    col: int | None
    message: str
    path: str = ""
    severity: str = "error"


def _as_problem(item: Any) -> Problem:
    return Problem(line=getattr(item, "line", None), col=getattr(item, "col", None),
                   message=str(getattr(item, "message", item)), path=str(getattr(item, "path", "") or ""),
                   severity=str(getattr(item, "severity", "error") or "error"))


def _yaml_problem(error: YAMLError) -> Problem:
    mark = getattr(error, "problem_mark", None) if isinstance(error, MarkedYAMLError) else None
    message = getattr(error, "problem", None) or str(error)
    return Problem(line=mark.line + 1 if mark else None, col=mark.column + 1 if mark else None,
                   message=f"YAML: {message}")


def check_flow_source(text: str, name: str = "<upload>") -> tuple[Any | None, list[Problem]]:
    """Load and lint a flow's YAML text; return (the flow when it loads, its problems)."""
    try:
        YAML(typ="safe").load(text)
    except YAMLError as error:
        return None, [_yaml_problem(error)]
    try:
        from flows.loader import load_flow_text
    except ImportError:
        return None, [Problem(None, None, "The flows loader is not installed yet; the flow cannot be checked.")]
    flow, problems = None, []
    try:
        flow = load_flow_text(text, name)
    except Exception as error:  # the loader's own error type carries the problems
        found = getattr(error, "problems", None)
        problems = [_as_problem(p) for p in found] if found else [_as_problem(error)]
        return None, problems
    try:
        from flows.lint import lint_paths
    except ImportError:
        return flow, []
    # The linter reads files; give it the upload in a temporary one and map its problems back.
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"{getattr(flow, 'id', 'upload')}.yaml"
        path.write_text(text, encoding="utf-8")
        problems = [replace(_as_problem(p), path="") if str(getattr(p, "path", "")) == str(path) else _as_problem(p)
                    for p in lint_paths([str(path)]) or []]
    return flow, problems


def sms_segment_report(text: str) -> list[dict[str, Any]]:
    """Count SMS segments per step and language as the resident receives it: the question with its numbered
    choices and reply line (engage.sms_cost, the count lint, the broadcast form and the sender use)."""
    try:
        from engage.sms_cost import flow_step_costs
        from flows.loader import load_flow_text

        flow = load_flow_text(text, "<segments>")
    except Exception:  # a version the loader no longer reads: count its texts as plainly as we can
        flow = None
    if flow is not None:
        return [{"step": row["step"], "languages": {
            lang: {"segments": c.segments, "encoding": c.encoding, "characters": c.characters,
                   "non_gsm": "".join(c.non_gsm)} for lang, c in row["languages"].items()}}
            for row in flow_step_costs(flow)]
    try:
        data = YAML(typ="safe").load(text) or {}
    except YAMLError:
        return []
    languages = [str(lang) for lang in data.get("languages") or ["en"]]
    report = []
    for step in data.get("steps") or []:
        if not isinstance(step, dict) or "id" not in step:
            continue
        prompt = step.get("ask") or step.get("say")
        if prompt is None:
            continue
        row = {"step": str(step["id"]), "languages": {}}
        for lang in languages:
            body = prompt.get(lang) if isinstance(prompt, dict) else str(prompt)
            if body is None:
                continue
            lines = [str(body)]
            for number, choice in enumerate(step.get("choices") or [], start=1):
                if isinstance(choice, dict):
                    lines.append(f"{number} {choice.get(lang) or choice.get(languages[0]) or choice.get('value')}")
            info = count_segments("\n".join(lines))
            row["languages"][lang] = {"segments": info.segments, "encoding": info.encoding,
                                      "characters": info.characters, "non_gsm": "".join(info.non_gsm)}
        report.append(row)
    return report
