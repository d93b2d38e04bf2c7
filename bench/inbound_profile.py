"""Where an inbound answer's time goes: store and act on answers in process, under a profiler.

    python -m bench inbound-profile [--residents=300]

Stores each resident's answers as the webhook would, then acts on them as a scaled-mode worker
does (`process_waiting`), on the PostgreSQL bench database. Prints pyinstrument's call tree when
pyinstrument is installed (`pip install pyinstrument`), else cProfile's totals by package. Also
prints the SQL statements per answer and the time per answer without a profiler.
"""
from __future__ import annotations

import collections
import cProfile
import itertools
import pstats
import time

from sqlalchemy import event

from bench.database import bench_url, fresh_database
from bench.inbound import SCRIPT


def run(residents: int = 300) -> dict:
    from bench.inbound import worker_conversations
    from bench.report import emit

    url = bench_url("profile")
    db = fresh_database(url)
    conversations = worker_conversations(db)
    sids = itertools.count()
    statements = [0]
    event.listen(db.engine, "before_cursor_execute", lambda *args: statements.__setitem__(0, statements[0] + 1))

    def one_round(body: str) -> None:
        for resident in range(residents):
            conversations.store_inbound("sms", f"SM{next(sids):032d}", f"+4477001{resident:05d}", body, {"Body": body})
        while conversations.process_waiting(limit=1000):
            pass

    one_round(SCRIPT[0])  # the keyword: every resident starts the flow (not measured)
    statements[0] = 0
    wall, cpu = time.perf_counter(), time.process_time()
    one_round(SCRIPT[1])
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    per_answer_sql = statements[0] / residents

    try:
        from pyinstrument import Profiler
    except ImportError:
        Profiler = None
    rounds = SCRIPT[2:]
    if Profiler is not None:
        profiler = Profiler(interval=0.0005)
        profiler.start()
        for body in rounds:
            one_round(body)
        profiler.stop()
        print(profiler.output_text(unicode=False, color=False))
    else:
        profile = cProfile.Profile()
        profile.enable()
        for body in rounds:
            one_round(body)
        profile.disable()
        by_package: collections.Counter = collections.Counter()
        for (filename, _line, _name), (_cc, _nc, own, _cum, _callers) in pstats.Stats(profile).stats.items():
            if "site-packages/" in filename:
                by_package[filename.split("site-packages/")[1].split("/")[0]] += own
            elif "/bench/" not in filename and filename.endswith(".py") and "/lib/python" not in filename:
                by_package["this service"] += own
            else:
                by_package["python itself"] += own
        total = sum(by_package.values())
        for package, seconds in by_package.most_common(8):
            print(f"  {100 * seconds / total:5.1f} %  {package}")
    db.dispose()
    return emit(
        "inbound-profile",
        {"answers": residents, "sql_statements_per_answer": round(per_answer_sql, 1),
         "ms_per_answer_wall": round(wall / residents * 1000, 2), "ms_per_answer_cpu": round(cpu / residents * 1000, 2),
         "profiler": "pyinstrument" if Profiler is not None else "cProfile"},
        command=f"python -m bench inbound-profile --residents={residents}",
    )
