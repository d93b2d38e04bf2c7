"""Steps per second of the pure engine, in process.

Baseline: the same number of turns spent only deep-copying and JSON
round-tripping the run state, which the conversation service does anyway on
every turn; the ratio says how much the engine's own work costs on top.
"""
from __future__ import annotations

import copy
import json
import time
from datetime import datetime, timezone
from pathlib import Path

from flows import engine
from flows.loader import load_flow

FLOW = Path(__file__).resolve().parent.parent / "flows" / "library" / "street-safety.yaml"
NOW = datetime(2026, 12, 2, 10, 0, tzinfo=timezone.utc)
# One resident's replies; a mix of exact, fuzzy and wrong answers.
REPLIES = ["2", "Station Road by the underpass", "65 or over"]
MESSY = ["Unsafe!!", "purple", "not safe", "Market Street", "three"]


def run(runs: int = 5000) -> dict:
    flow = load_flow(FLOW)
    steps = 0
    started = time.perf_counter()
    for i in range(runs):
        state, events = engine.start(flow, {"language": "cy" if i % 4 == 0 else "en"}, NOW)
        steps += 1
        for reply in (REPLIES if i % 2 else MESSY):
            if state["status"] != "active":
                break
            state, events = engine.resume(flow, state, reply, {}, NOW)
            steps += 1
    engine_seconds = time.perf_counter() - started

    state, _ = engine.start(flow, {}, NOW)
    started = time.perf_counter()
    for _ in range(steps):
        json.loads(json.dumps(copy.deepcopy(state)))
    baseline_seconds = time.perf_counter() - started

    from bench.report import emit

    steps_per_second = steps / engine_seconds
    return emit(
        "engine",
        {"steps": steps, "seconds": round(engine_seconds, 3), "steps_per_second": round(steps_per_second)},
        baseline={"state_copies_per_second": round(steps / baseline_seconds)},
        ratios={"engine_vs_state_copy": round(baseline_seconds / engine_seconds, 3)},
        targets={"steps_per_second_at_least": 20000, "met": steps_per_second >= 20000},
    )


if __name__ == "__main__":
    run()
