"""Inbound SMS answers per second through the whole web path, against a bare Flask ceiling.

Signed Twilio form posts go over loopback from an aiohttp client to the app under gunicorn
(OUTREACH_MODE=scaled, PostgreSQL); each one is verified and stored, then acted on (the answer
stored, the next question queued) by `worker --loop inbound` processes (--processing=worker, the
scaled default) or by the web process after its response (--processing=web). The baseline is the
same client against a Flask endpoint that only returns empty TwiML, under the same gunicorn settings.

    python -m bench inbound [--processing=worker] [--workers=4] [--inbound-workers=2] [--seconds=15]
                            [--concurrency=32] [--rate=300]
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

from bench.database import bench_url, fresh_database
from bench.load import ROOT, Gunicorn, Request, Workers, fixed_rate, free_port, max_rate, percentile
from bot.sandbox.twilio_server import SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN
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


def measure(target: str, env: dict[str, str], port: int, workers: int, make, seconds: float, concurrency: int,
            rate: float, log: Path, warm, db=None, inbound_workers: int = 0) -> tuple[dict, dict]:
    """Drive `target` flat out, then at a fixed rate. With the service's database, also wait until every
    message is acted on, and count a phase's rate as its answers over the time until the last was acted on."""
    with Gunicorn(target, port, env, workers, log) as server, Workers(inbound_workers, env, log):
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


def run(workers: int = 4, seconds: int = 15, concurrency: int = 32, rate: int = 300, residents: int = 3000,
        channel: str = "sms", processing: str = "worker", inbound_workers: int | None = None) -> dict:
    if inbound_workers is None:
        inbound_workers = 2 if processing == "worker" else 0
    if channel == "telegram":
        from bench.inbound_telegram import run as run_telegram

        return run_telegram(workers=workers, seconds=seconds, concurrency=concurrency, rate=rate,
                            residents=residents, processing=processing, inbound_workers=inbound_workers)
    db = fresh_database()
    port = free_port()
    public_url = f"http://127.0.0.1:{port}"
    env = service_env(bench_url(), public_url, processing)
    log = Path(tempfile.gettempdir()) / "bench-inbound.log"
    sids = iter(range(0, 10**9, 10**7))
    rounds = max(2, int(max(rate, 2000) * seconds / residents) + 2)

    def make():
        return sms_requests(public_url, residents, rounds, next(sids))[residents:]

    warm = sms_requests(public_url, residents, 1, next(sids))
    bare_max, bare_fixed = measure("bench.bare_app:create_app()", env, port, workers, make, seconds, concurrency,
                                   rate, log, warm)
    db = fresh_database()
    app_max, app_fixed = measure("app:create_app()", env, port, workers, make, seconds, concurrency, rate, log,
                                 sms_requests(public_url, residents, 1, next(sids)), db=db,
                                 inbound_workers=inbound_workers)
    return report("inbound", "answers", db, app_max, app_fixed, bare_max, bare_fixed, rate=rate, workers=workers,
                  concurrency=concurrency, processing=processing, inbound_workers=inbound_workers,
                  command=f"python -m bench inbound --processing={processing} --workers={workers} "
                          f"--inbound-workers={inbound_workers} --seconds={seconds} "
                          f"--concurrency={concurrency} --rate={rate}")


def report(name: str, unit: str, db, app_max: dict, app_fixed: dict, bare_max: dict, bare_fixed: dict, *,
           rate: int, workers: int, concurrency: int, processing: str, inbound_workers: int, command: str) -> dict:
    """Count what the service stored and queued, and print the figures beside the bare-Flask ceiling.

    Two rates: acknowledged (the web's answers to the provider) and acted on (each answer stored and
    the next question queued, counted until the last one was). The second is what residents get, and
    the one held against the target; with workers, the first can run ahead of it for a while.
    """
    from bench.report import emit

    with db.session() as s:
        stored = s.scalar(select(func.count()).select_from(InboundMessage))
        processed = s.scalar(select(func.count()).select_from(InboundMessage)
                             .where(InboundMessage.status == "processed"))
        queued = s.scalar(select(func.count()).select_from(OutboxMessage))
    db.dispose()
    ceiling = bare_max["per_second"]
    ratio = app_max["acted_on_per_second"] / ceiling
    return emit(
        name,
        {f"{unit}_acted_on_per_second_max": app_max["acted_on_per_second"],
         f"{unit}_acknowledged_per_second_max": app_max["per_second"],
         "p50_ms_max": app_max["p50_ms"], "p99_ms_max": app_max["p99_ms"], "errors_max": app_max["errors"],
         "acted_on_p50_ms_max": app_max["acted_on_p50_ms"], "acted_on_p99_ms_max": app_max["acted_on_p99_ms"],
         f"p50_ms_at_{rate}_per_s": app_fixed["p50_ms"], f"p99_ms_at_{rate}_per_s": app_fixed["p99_ms"],
         f"acted_on_p50_ms_at_{rate}_per_s": app_fixed["acted_on_p50_ms"],
         f"acted_on_p99_ms_at_{rate}_per_s": app_fixed["acted_on_p99_ms"],
         f"achieved_at_{rate}_per_s": app_fixed["per_second"],
         f"acted_on_per_second_at_{rate}_per_s": app_fixed["acted_on_per_second"], "errors_fixed": app_fixed["errors"],
         "inbound_stored": stored, "inbound_processed": processed, "outbox_rows_queued": queued,
         "processing": processing, "gunicorn_workers": workers, "inbound_workers": inbound_workers,
         "client_concurrency": concurrency},
        baseline={"bare_flask_per_second_max": ceiling, "bare_p50_ms_max": bare_max["p50_ms"],
                  "bare_p99_ms_max": bare_max["p99_ms"], f"bare_p99_ms_at_{rate}_per_s": bare_fixed["p99_ms"]},
        ratios={f"{unit}_acted_on_vs_bare_ceiling": round(ratio, 3),
                f"{unit}_acknowledged_vs_bare_ceiling": round(app_max["per_second"] / ceiling, 3)},
        targets={"ratio_at_least": 0.4, f"p99_ms_at_{rate}_per_s_below": 50,
                 "met": ratio >= 0.4 and app_fixed["p99_ms"] < 50 and app_fixed["acted_on_p99_ms"] < 50},
        command=command,
    )
