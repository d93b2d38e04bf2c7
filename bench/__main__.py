"""python -m bench NAME [--option value]: run one benchmark and print its figures."""
from __future__ import annotations

import argparse
import importlib
import sys

BENCHMARKS = {
    "engine": "bench.engine",
    "inbound": "bench.inbound",
    "inbound-profile": "bench.inbound_profile",
    "inbound-telegram": "bench.inbound_telegram",
    "fanout": "bench.fanout",
    "priority": "bench.priority",
    "results": "bench.results",
    "themes": "bench.themes",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("name", choices=sorted(BENCHMARKS) + ["all"])
    args, rest = parser.parse_known_args(argv)
    names = sorted(BENCHMARKS) if args.name == "all" else [args.name]
    for name in names:
        module = importlib.import_module(BENCHMARKS[name])
        kwargs = {}
        for item in rest:
            key, _, value = item.lstrip("-").partition("=")
            kwargs[key.replace("-", "_")] = int(value) if value.isdigit() else value
        module.run(**kwargs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
