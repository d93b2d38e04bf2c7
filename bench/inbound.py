"""Inbound SMS answers per second through the whole web path, against a bare Flask ceiling.

Signed Twilio form posts go over loopback from an aiohttp client to the app under gunicorn
(OUTREACH_MODE=scaled, PostgreSQL or --database=sqlite); each one is verified and stored, then acted
on (the answer stored, the next question queued) by `worker --loop inbound` processes
(--processing=worker, the scaled default) or by the web process after its response (--processing=web).
Two baselines, the same client under the same gunicorn settings, in the same run: the bare ceiling (a
Flask endpoint that only returns empty TwiML) and the durable floor (bench.durable_floor: a turn's
three INSERTs in one transaction and its commit). Also prints the SQL statements per answer.

    python -m bench inbound [--database=postgresql|sqlite] [--processing=worker] [--workers=4]
                            [--worker-class=gthread|sync] [--threads=4]
                            [--inbound-workers=2] [--seconds=15] [--concurrency=32] [--rate=300]

Every app is served the same way (bench.load.Web): by default as the repository's gunicorn.conf.py
serves the service (gthread, 4 threads a process); on SQLite with sync workers.
"""
from __future__ import annotations

import asyncio
import os
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from bench.database import bench_url, fresh_database, fresh_sqlite
from bench.durable_floor import seed
from bench.load import ROOT, Gunicorn, Request, Web, Workers, fixed_rate, free_port, max_rate, percentile
from bot.sandbox.twilio_server import SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN
from store.db import Database
from store.models import InboundMessage, OutboxMessage

PATH = "/webhooks/twilio/sms"
# citizens-panel is open all winter: the keyword, then its answers; then again from the start.
SCRIPT = ["PANEL", "yes", "2", "Netteswell", "1 3", "no"]


def service_env(database_url: str, public_url: str, processing: str = "worker") -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OUTREACH_")}
    env.update({
        "OUTREACH_INBOUND_PROCESSING": processing,
        "OUTREACH_DATABASE_URL": database_url, "OUTREACH_MODE": "scaled", "OUTREACH_SANDBOX": "false",
        "OUTREACH_FLOWS_RELOAD": "false", "OUTREACH_PUBLIC_URL": public_url,
        "OUTREACH_SECRET_KEY": "bench-only-key-" + "b" * 32,
        "OUTREACH_TWILIO_ACCOUNT_SID": SANDBOX_ACCOUNT_SID, "OUTREACH_TWILIO_AUTH_TOKEN": SANDBOX_AUTH_TOKEN,
        "OUTREACH_TWILIO_FROM": "+447700900000", "OUTREACH_TWILIO_API_URL": "http://127.0.0.1:9",
        "OUTREACH_LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT),
    })
    return env


def sms_requests(public_url: str, residents: int, rounds: int, first_sid: int) -> list[Request]:
    """Build signed posts: every resident's script, in order, interleaved across residents."""
    validator = RequestValidator(SANDBOX_AUTH_TOKEN)
    out = []
    sid = first_sid
    for round_ in range(rounds):
        body = SCRIPT[round_ % len(SCRIPT)]
        for resident in range(residents):
            sid += 1
            form = {"MessageSid": f"SM{sid:032x}", "SmsMessageSid": f"SM{sid:032x}", "AccountSid": SANDBOX_ACCOUNT_SID,
                    "From": f"+4477001{resident:05d}", "To": "+447700900000", "Body": body, "NumMedia": "0",
                    "NumSegments": "1", "ApiVersion": "2010-04-01", "SmsStatus": "received"}
            signature = validator.compute_signature(public_url + PATH, form)
            out.append(Request(PATH, urlencode(form).encode(),
                               {"X-Twilio-Signature": signature,
                                "Content-Type": "application/x-www-form-urlencoded"}, resident))
    return out


def pending_and_last_id(db) -> tuple[int, int]:
    with db.session() as s:
        pending = s.scalar(select(func.count()).select_from(InboundMessage).where(InboundMessage.status == "pending"))
        last = s.scalar(select(func.max(InboundMessage.id))) or 0
    return pending, last


def wait_until_acted_on(db, timeout: float = 900) -> float:
    """Wait until no stored message is left pending; return the seconds waited."""
    started = time.perf_counter()
    while pending_and_last_id(db)[0] and time.perf_counter() - started < timeout:
        time.sleep(0.05)
    return time.perf_counter() - started


def acted_on_latency(db, after_id: int) -> dict:
    """Percentiles of stored -> acted on (answer stored, next question queued), from the rows' own times."""
    with db.session() as s:
        rows = s.execute(select(InboundMessage.received_at, InboundMessage.processed_at)
                         .where(InboundMessage.id > after_id, InboundMessage.processed_at.isnot(None))).all()
    seconds = [(done - got).total_seconds() for got, done in rows]
    return {"acted_on_p50_ms": round(percentile(seconds, 50) * 1000, 2),
            "acted_on_p99_ms": round(percentile(seconds, 99) * 1000, 2)}


def measure(target: str, env: dict[str, str], port: int, web: Web, make, seconds: float, concurrency: int,
            rate: float, log: Path, warm, db=None, inbound_workers: int = 0) -> tuple[dict, dict]:
    """Drive `target` flat out, then at a fixed rate. With the service's database, also wait until every
    message is acted on, and count a phase's rate as its answers over the time until the last was acted on."""
    with Gunicorn(target, port, env, web, log) as server, Workers(inbound_workers, env, log):
        asyncio.run(max_rate(server.base, warm, concurrency, 60))  # every resident says the keyword first
        if db is not None:
            wait_until_acted_on(db)
            _, mark = pending_and_last_id(db)
        flat_out = asyncio.run(max_rate(server.base, make(), concurrency, seconds))
        if db is not None:
            drain = wait_until_acted_on(db)
            flat_out["acted_on_per_second"] = round(flat_out["ok"] / (flat_out["seconds"] + drain), 1)
            flat_out.update(acted_on_latency(db, mark))
            _, mark = pending_and_last_id(db)
        steady = asyncio.run(fixed_rate(server.base, make(), rate, seconds))
        if db is not None:
            drain = wait_until_acted_on(db)
            steady["acted_on_per_second"] = round(steady["ok"] / (steady["seconds"] + drain), 1)
            steady.update(acted_on_latency(db, mark))
        else:
            time.sleep(2)
    return flat_out, steady


def fresh(database: str) -> tuple[Database, str]:
    """Rebuild the benchmark's database (PostgreSQL, or an SQLite file); return it and its URL."""
    if database == "sqlite":
        db = fresh_sqlite("inbound")
        return db, db.url
    if database not in ("postgresql", "postgres"):
        raise ValueError("--database is postgresql or sqlite")
    return fresh_database(), bench_url()


def measure_floor(database: str, env: dict[str, str], port: int, web: Web, make, seconds: float,
                  concurrency: int, rate: float, log: Path, warm) -> tuple[dict, dict]:
    """The durable floor (bench.durable_floor): a turn's three INSERTs and one commit, nothing else."""
    db, _url = fresh(database)
    env = dict(env, OUTREACH_BENCH_FLOOR_RUN_ID=str(seed(db)))
    db.dispose()
    return measure("bench.durable_floor:create_app()", env, port, web, make, seconds, concurrency, rate, log,
                   warm)


def run(workers: int = 4, seconds: int = 15, concurrency: int = 32, rate: int = 300, residents: int = 3000,
        channel: str = "sms", processing: str = "worker", inbound_workers: int | None = None,
        database: str = "postgresql", worker_class: str | None = None, threads: int = 4) -> dict:
    if worker_class is None:
        # SQLite has one write lock: sixteen threads' stores queued on it outwait its busy timeout. Several
        # processes on one SQLite file is not a deployment (embedded mode is one process); it is measured
        # with one writer a process.
        worker_class = "sync" if database == "sqlite" else "gthread"
    web = Web(workers, worker_class, threads)
    if inbound_workers is None:
        # On SQLite one worker: two workers' batches and the web's stores queued on its one write lock
        # outwait its 5 s busy timeout (the webhooks answer 503, to be retried).
        inbound_workers = (1 if database == "sqlite" else 2) if processing == "worker" else 0
    if channel == "telegram":
        from bench.inbound_telegram import run as run_telegram

        return run_telegram(workers=workers, worker_class=worker_class, threads=threads, seconds=seconds,
                            concurrency=concurrency, rate=rate, residents=residents, processing=processing,
                            inbound_workers=inbound_workers, database=database)
    db, url = fresh(database)
    port = free_port()
    public_url = f"http://127.0.0.1:{port}"
    env = service_env(url, public_url, processing)
    log = Path(tempfile.gettempdir()) / "bench-inbound.log"
    sids = iter(range(0, 10**9, 10**7))
    rounds = max(2, int(max(rate, 2000) * seconds / residents) + 2)

    def make():
        return sms_requests(public_url, residents, rounds, next(sids))[residents:]

    def warm():
        return sms_requests(public_url, residents, 1, next(sids))

    bare_max, bare_fixed = measure("bench.bare_app:create_app()", env, port, web, make, seconds, concurrency,
                                   rate, log, warm())
    floor_max, floor_fixed = measure_floor(database, env, port, web, make, seconds, concurrency, rate, log,
                                           warm())
    db, url = fresh(database)
    app_max, app_fixed = measure("app:create_app()", env, port, web, make, seconds, concurrency, rate, log,
                                 warm(), db=db, inbound_workers=inbound_workers)
    statements = statements_per_answer(database, "sms")
    return report("inbound", "answers", db, app_max, app_fixed, bare_max, bare_fixed, floor_max, floor_fixed,
                  statements, rate=rate, web=web, concurrency=concurrency, processing=processing,
                  inbound_workers=inbound_workers, database=database,
                  command=f"python -m bench inbound --database={database} --processing={processing} "
                          f"{web.describe()} --inbound-workers={inbound_workers} --seconds={seconds} "
                          f"--concurrency={concurrency} --rate={rate}")


def report(name: str, unit: str, db, app_max: dict, app_fixed: dict, bare_max: dict, bare_fixed: dict,
           floor_max: dict, floor_fixed: dict, statements: dict, *, rate: int, web: Web, concurrency: int,
           processing: str, inbound_workers: int, database: str, command: str) -> dict:
    """Count what the service stored and queued, and print the figures beside the two baselines.

    Two rates: acknowledged (the web's answers to the provider) and acted on (each answer stored and
    the next question queued, counted until the last one was). The second is what residents get, and
    the one held against the target; with workers, the first can run ahead of it for a while.
    Two baselines, measured in the same run: the bare-Flask ceiling (an empty answer) and the durable
    floor (a turn's three INSERTs in one committed transaction, bench.durable_floor).
    """
    from bench.report import emit

    with db.session() as s:
        stored = s.scalar(select(func.count()).select_from(InboundMessage))
        processed = s.scalar(select(func.count()).select_from(InboundMessage)
                             .where(InboundMessage.status == "processed"))
        queued = s.scalar(select(func.count()).select_from(OutboxMessage))
    db.dispose()
    ceiling = bare_max["per_second"]
    floor = floor_max["per_second"]
    acted = app_max["acted_on_per_second"]
    ratio_floor = acted / floor if floor else float("nan")
    return emit(
        name,
        {f"{unit}_acted_on_per_second_max": acted,
         f"{unit}_acknowledged_per_second_max": app_max["per_second"],
         "p50_ms_max": app_max["p50_ms"], "p99_ms_max": app_max["p99_ms"], "errors_max": app_max["errors"],
         "acted_on_p50_ms_max": app_max["acted_on_p50_ms"], "acted_on_p99_ms_max": app_max["acted_on_p99_ms"],
         f"p50_ms_at_{rate}_per_s": app_fixed["p50_ms"], f"p99_ms_at_{rate}_per_s": app_fixed["p99_ms"],
         f"acted_on_p50_ms_at_{rate}_per_s": app_fixed["acted_on_p50_ms"],
         f"acted_on_p99_ms_at_{rate}_per_s": app_fixed["acted_on_p99_ms"],
         f"achieved_at_{rate}_per_s": app_fixed["per_second"],
         f"acted_on_per_second_at_{rate}_per_s": app_fixed["acted_on_per_second"], "errors_fixed": app_fixed["errors"],
         "sql_statements_per_answer_web_store": statements["store"],
         "sql_statements_per_answer_acting": statements["act"],
         "sql_executions_per_answer_acting": statements["act_executions"],
         "sql_statements_per_answer_acting_one_by_one": statements["act_single"],
         "inbound_stored": stored, "inbound_processed": processed, "outbox_rows_queued": queued,
         "database": database, "processing": processing, "gunicorn_workers": web.workers,
         "gunicorn_worker_class": web.worker_class, "gunicorn_threads": web.threads,
         "inbound_workers": inbound_workers, "client_concurrency": concurrency},
        baseline={"bare_flask_per_second_max": ceiling, "bare_p50_ms_max": bare_max["p50_ms"],
                  "bare_p99_ms_max": bare_max["p99_ms"], f"bare_p99_ms_at_{rate}_per_s": bare_fixed["p99_ms"],
                  "durable_floor_per_second_max": floor, "durable_floor_p99_ms_max": floor_max["p99_ms"],
                  f"durable_floor_p99_ms_at_{rate}_per_s": floor_fixed["p99_ms"],
                  "durable_floor_errors": floor_max["errors"] + floor_fixed["errors"]},
        ratios={f"{unit}_acted_on_vs_durable_floor": round(ratio_floor, 3),
                f"{unit}_acted_on_vs_bare_ceiling": round(acted / ceiling, 3),
                f"{unit}_acknowledged_vs_durable_floor": round(app_max["per_second"] / floor, 3) if floor else None,
                f"{unit}_acknowledged_vs_bare_ceiling": round(app_max["per_second"] / ceiling, 3),
                "durable_floor_vs_bare_ceiling": round(floor / ceiling, 3)},
        targets={"acted_on_vs_durable_floor_at_least": 0.5, "met": ratio_floor >= 0.5},
        command=command,
    )


def worker_conversations(db):
    """The conversation service as a `worker` process builds it: the whole app, so every word handler
    (Telegram's, the web chat's, FORGET, a language's name) is there, as in the HTTP runs."""
    from app import create_app

    app = create_app({"database": db, "database_url": db.url, "sandbox": False, "flows_reload": False,
                      "mode": "scaled", "secret_key": "bench-only-key-" + "b" * 32})
    return app.extensions["outreach"].conversations


def statements_per_answer(database: str, channel: str, residents: int = 200) -> dict:
    """SQL statements the service sends per answer (a SQLAlchemy before_cursor_execute count), in process:
    each statement of an executemany counts, and the executions (round trips) are counted apart.

    Each resident says the keyword and answers the first question first (not counted: a run's first
    answer also keeps a consent record); then each stores one answer as the webhook does
    (store_inbound) and the answers are acted on as a worker does (process_waiting), then once more one
    message at a time (process_inbound, the web's path in embedded mode and the sweep's).
    """
    from sqlalchemy import event

    if database == "sqlite":
        db = fresh_sqlite("inbound-count")
    else:
        db = fresh_database(bench_url("count"))
    conversations = worker_conversations(db)
    count = [0]
    executions = [0]

    def counted(_conn, _cursor, _statement, parameters, _context, executemany):
        # An executemany's statements each count (psycopg sends them in one pipeline: one execution).
        count[0] += len(parameters) if executemany else 1
        executions[0] += 1

    event.listen(db.engine, "before_cursor_execute", counted)
    sid = [0]

    def store(body: str) -> list[int]:
        ids = []
        for resident in range(residents):
            sid[0] += 1
            address = f"+4477001{resident:05d}" if channel == "sms" else str(7_000_000_000 + resident)
            ids.append(conversations.store_inbound(channel, f"ID{sid[0]:032d}", address, body, {"Body": body})[0])
        return ids

    for body in SCRIPT[:2]:  # the keyword, then the consent question's answer (not counted)
        store(body)
        while conversations.process_waiting(limit=1000):
            pass
    figures = {}
    count[0] = 0
    store(SCRIPT[2])
    figures["store"] = round(count[0] / residents, 1)
    count[0] = executions[0] = 0
    while conversations.process_waiting():
        pass
    figures["act"] = round(count[0] / residents, 2)
    figures["act_executions"] = round(executions[0] / residents, 2)
    ids = store(SCRIPT[3])
    count[0] = 0
    for inbound_id in ids:
        conversations.process_inbound(inbound_id)
    figures["act_single"] = round(count[0] / residents, 1)
    db.dispose()
    return figures
