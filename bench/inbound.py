"""Inbound SMS answers per second through the whole web path, against a bare Flask ceiling.

Signed Twilio form posts go over loopback from an aiohttp client to the app under gunicorn
(OUTREACH_MODE=scaled, PostgreSQL); each one is verified, stored, and processed after the
response (the answer stored, the next question queued). The baseline is the same client
against a Flask endpoint that only returns empty TwiML, under the same gunicorn settings.

    python -m bench inbound [--workers=4] [--seconds=15] [--concurrency=32] [--rate=300]
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
from bench.load import ROOT, Gunicorn, Request, fixed_rate, free_port, max_rate
from bot.sandbox.twilio_server import SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN
from store.models import InboundMessage, OutboxMessage

PATH = "/webhooks/twilio/sms"
# citizens-panel is open all winter: the keyword, then its answers; then again from the start.
SCRIPT = ["PANEL", "yes", "2", "Netteswell", "1 3", "no"]


def service_env(database_url: str, public_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OUTREACH_")}
    env.update({
        "OUTREACH_DATABASE_URL": database_url, "OUTREACH_MODE": "scaled", "OUTREACH_SANDBOX": "false",
        "OUTREACH_FLOWS_RELOAD": "false", "OUTREACH_PUBLIC_URL": public_url, "OUTREACH_SECRET_KEY": "bench",
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


def measure(target: str, env: dict[str, str], port: int, workers: int, make, seconds: float, concurrency: int,
            rate: float, log: Path, warm) -> tuple[dict, dict]:
    with Gunicorn(target, port, env, workers, log) as server:
        asyncio.run(max_rate(server.base, warm, concurrency, 60))  # every resident says the keyword first
        flat_out = asyncio.run(max_rate(server.base, make(), concurrency, seconds))
        steady = asyncio.run(fixed_rate(server.base, make(), rate, seconds))
        time.sleep(2)  # let the last after-response processing finish
    return flat_out, steady


def run(workers: int = 4, seconds: int = 15, concurrency: int = 32, rate: int = 300, residents: int = 3000,
        channel: str = "sms") -> dict:
    if channel == "telegram":
        from bench.inbound_telegram import run as run_telegram

        return run_telegram(workers=workers, seconds=seconds, concurrency=concurrency, rate=rate,
                            residents=residents)
    db = fresh_database()
    port = free_port()
    public_url = f"http://127.0.0.1:{port}"
    env = service_env(bench_url(), public_url)
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
                                 sms_requests(public_url, residents, 1, next(sids)))
    return report("inbound", "answers", db, app_max, app_fixed, bare_max, bare_fixed, rate=rate, workers=workers,
                  concurrency=concurrency,
                  command=f"python -m bench inbound --workers={workers} --seconds={seconds} "
                          f"--concurrency={concurrency} --rate={rate}")


def report(name: str, unit: str, db, app_max: dict, app_fixed: dict, bare_max: dict, bare_fixed: dict, *,
           rate: int, workers: int, concurrency: int, command: str) -> dict:
    """Count what the service stored and queued, and print the figures beside the bare-Flask ceiling."""
    from bench.report import emit

    with db.session() as s:
        stored = s.scalar(select(func.count()).select_from(InboundMessage))
        processed = s.scalar(select(func.count()).select_from(InboundMessage)
                             .where(InboundMessage.status == "processed"))
        queued = s.scalar(select(func.count()).select_from(OutboxMessage))
    db.dispose()
    ratio = app_max["per_second"] / bare_max["per_second"]
    return emit(
        name,
        {f"{unit}_per_second_max": app_max["per_second"], "p50_ms_max": app_max["p50_ms"],
         "p99_ms_max": app_max["p99_ms"], "errors_max": app_max["errors"],
         f"p50_ms_at_{rate}_per_s": app_fixed["p50_ms"], f"p99_ms_at_{rate}_per_s": app_fixed["p99_ms"],
         f"achieved_at_{rate}_per_s": app_fixed["per_second"], "errors_fixed": app_fixed["errors"],
         "inbound_stored": stored, "inbound_processed": processed, "outbox_rows_queued": queued,
         "gunicorn_workers": workers, "client_concurrency": concurrency},
        baseline={"bare_flask_per_second_max": bare_max["per_second"], "bare_p50_ms_max": bare_max["p50_ms"],
                  "bare_p99_ms_max": bare_max["p99_ms"], f"bare_p99_ms_at_{rate}_per_s": bare_fixed["p99_ms"]},
        ratios={f"{unit}_vs_bare_ceiling": round(ratio, 3)},
        targets={"ratio_at_least": 0.4, f"p99_ms_at_{rate}_per_s_below": 50,
                 "met": ratio >= 0.4 and app_fixed["p99_ms"] < 50},
        command=command,
    )
