"""Print a benchmark's figures and keep them as JSON under bench/results/."""
from __future__ import annotations

import json
import os
import platform
import sys
from datetime import datetime, timezone
from pathlib import Path

LABELS = {"figures": "figure", "baseline": "baseline", "ratios": "ratio", "targets": "target"}
RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict:
    """Describe the machine the figures were measured on."""
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
    }


def emit(name: str, figures: dict, *, baseline: dict | None = None, ratios: dict | None = None,
         targets: dict | None = None, command: str = "") -> dict:
    """Print figures as aligned lines and write bench/results/<name>.json."""
    result = {
        "name": name,
        "measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "command": command or "python -m bench " + name,
        "figures": figures,
        "baseline": baseline or {},
        "ratios": ratios or {},
        "targets": targets or {},
    }
    print(f"== {name}  ({result['command']})")
    for section in ("figures", "baseline", "ratios", "targets"):
        for key, value in result[section].items():
            shown = f"{value:,.3f}" if isinstance(value, float) else f"{value:,}" if isinstance(value, int) else value
            print(f"  {LABELS[section]}: {key} = {shown}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2, default=str))
    return result
