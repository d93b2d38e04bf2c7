"""A broadcast to many residents: enqueue time, send rate through the real Twilio SDK, enqueue memory.

    python -m bench fanout [--contacts=100000] [--senders=4] [--send-seconds=20] [--sender-batch=200]
                           [--memory-sizes=10000,100000,1000000]

Enqueue: `fire_broadcast` on PostgreSQL for a segment of everyone. Send: worker processes,
each an `OutboxSender` with rate limits lifted and the real `twilio` client, against the
fake Twilio server (bot/sandbox/twilio_server.py) in its own process; baseline: the same
number of processes posting through the same SDK to the same fake with no database at all.
Both rates are timed from the moment every process is set up (imports, SDK client) to the last
process's count.
Memory: peak RSS growth and tracemalloc peak of the enqueue, each size in a fresh subprocess.
"""
from __future__ import annotations

import json
import multiprocessing
import os
import random
import subprocess
import sys
import time
from datetime import datetime, timezone

from sqlalchemy import func, select, text

from bench.database import bench_url, fresh_database
from bench.load import ROOT
from store.models import OutboxMessage

# A Wednesday morning in term time: outside quiet hours, inside every window.
NOW = datetime(2026, 12, 2, 10, 0, tzinfo=timezone.utc)
TEXTS = {"en": "Bins go out on Tuesday this week.", "cy": "Bydd biniau'n mynd allan ddydd Mawrth."}


def insert_contacts(db, count: int) -> None:
    """Insert `count` opted-in SMS residents (with a service basis) in three set-based statements."""
    with db.engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO contacts (fields, do_not_contact, created_at, updated_at) "
            "SELECT CAST('{\"ward\": \"netteswell\"}' AS json), false, :t, :t FROM generate_series(1, :n)"),
            {"n": count, "t": NOW.replace(tzinfo=None)})
        conn.execute(text(
            "INSERT INTO addresses (contact_id, channel, address, consent, usable, preferred, created_at) "
            "SELECT c.id, 'sms', '+44770' || lpad(c.id::text, 7, '0'), 'opted_in', true, true, c.created_at "
            "FROM contacts c"))
        # Imported with a stated source: the basis for service broadcasts (engage.consent.bases_of).
        conn.execute(text(
            "INSERT INTO consent_records (contact_id, scope, action, source, wording, at) "
            "SELECT c.id, 'service', 'opt_in', 'import', 'bench list', c.created_at FROM contacts c"))
        conn.execute(text("ANALYZE"))


def services_for(db):
    from config import Settings
    from engage.clock import FixedClock
    from engage.services import build_services

    settings = Settings.from_env({"database_url": bench_url(), "sandbox": False, "flows_reload": False})
    return build_services(settings, database=db, clock=FixedClock(NOW))


def new_broadcast(services) -> int:
    from engage.broadcasts import create_broadcast
    from engage.segments import create_segment

    with services.db.session() as s:
        segment = create_segment(s, f"everyone {time.time()}", {"all": []}, NOW)
        return create_broadcast(s, name="bins", segment=segment, now=NOW, tz="Europe/London", texts=TEXTS).id


def enqueue(contacts: int) -> dict:
    from engage.broadcasts import fire_broadcast

    db = fresh_database()
    insert_contacts(db, contacts)
    services = services_for(db)
    broadcast_id = new_broadcast(services)
    started = time.perf_counter()
    result = fire_broadcast(services, broadcast_id)
    seconds = time.perf_counter() - started
    return {"db": db, "seconds": seconds, "queued": result.queued}


# ----- sending --------------------------------------------------------------------------------------


def _fake_twilio_process(port_out) -> None:
    from bot.sandbox.twilio_server import TwilioServer

    server = TwilioServer()
    server.request_queue_size = 1024
    port_out.put(server.server_address[1])
    server.serve_forever(poll_interval=0.05)


def _channel(api_url: str):
    from bot.sandbox.twilio_server import SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN
    from bot.twilio_sms import TwilioSMS

    return TwilioSMS(SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN, from_number="+447700900000",
                     public_url="http://127.0.0.1", api_url=api_url, timeout=10)


def _sender_process(api_url: str, seconds: float, counts, started, batch: int = 0) -> None:
    from bot.ratelimit import RateLimiter
    from bot.sender import OutboxSender, SenderPolicy
    from engage.clock import FixedClock
    from store.db import Database

    policy = SenderPolicy(batch=batch) if batch else SenderPolicy()
    sender = OutboxSender(Database(bench_url()), FixedClock(NOW), {"sms": _channel(api_url)},
                          limiter=RateLimiter({}), policy=policy, rng=random.Random(os.getpid()))
    started.wait(timeout=120)
    deadline = time.perf_counter() + seconds
    claimed = 0
    while time.perf_counter() < deadline:
        n = sender.send_due()
        if n == 0:
            break
        claimed += n
    counts.put(claimed)


def _bare_process(api_url: str, seconds: float, counts, started, batch: int = 0) -> None:
    channel = _channel(api_url)
    payload = {"type": "text", "text": TEXTS["en"], "lang": "en"}
    started.wait(timeout=120)
    deadline = time.perf_counter() + seconds
    sent = 0
    while time.perf_counter() < deadline:
        channel.send(f"+44770{sent % 10**7:07d}", payload, "en", outbox_id=sent)
        sent += 1
    counts.put(sent)


def _run_processes(target, api_url: str, processes: int, seconds: float, batch: int = 0) -> float:
    """Return messages a second over the sending only: the clock starts once every process is set up."""
    counts = multiprocessing.Queue()
    # Imports and set-up (the twilio SDK, SQLAlchemy) take a CPU-second or so a process: not sending.
    started = multiprocessing.Barrier(processes + 1)
    workers = [multiprocessing.Process(target=target, args=(api_url, seconds, counts, started, batch))
               for _ in range(processes)]
    for worker in workers:
        worker.start()
    started.wait(timeout=120)
    began = time.perf_counter()
    total = sum(counts.get() for _ in workers)
    elapsed = time.perf_counter() - began
    for worker in workers:
        worker.join()
    return total / elapsed


# ----- memory -----------------------------------------------------------------------------------------


def memory_probe(contacts: int) -> None:
    """Run in a subprocess: enqueue for `contacts` residents, print peak memory figures as JSON."""
    import resource
    import tracemalloc

    from engage.broadcasts import fire_broadcast

    db = fresh_database(bench_url("memory"))
    insert_contacts(db, contacts)
    services = services_for(db)
    broadcast_id = new_broadcast(services)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    started = time.perf_counter()
    result = fire_broadcast(services, broadcast_id)
    seconds = time.perf_counter() - started
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"contacts": contacts, "queued": result.queued, "seconds": round(seconds, 2),
                      "tracemalloc_peak_mb": round(peak / 2**20, 1),
                      "rss_growth_mb": round((rss_after - rss_before) / 1024, 1)}))


def _memory(contacts: int) -> dict:
    out = subprocess.run([sys.executable, "-c", f"from bench.fanout import memory_probe; memory_probe({contacts})"],
                         cwd=ROOT, capture_output=True, text=True)
    if out.returncode != 0:
        print(out.stderr[-2000:], file=sys.stderr)
        return {"contacts": contacts, "seconds": None, "tracemalloc_peak_mb": None, "rss_growth_mb": None}
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(contacts: int = 100_000, senders: int = 4, send_seconds: int = 20,
        memory_sizes: str = "10000,100000,1000000", sender_batch: int = 0) -> dict:
    from bot.sender import SenderPolicy

    # 0: the sender's own default (with the rate limits lifted, a claim takes the policy's whole batch).
    sender_batch = sender_batch or SenderPolicy().batch
    enqueued = enqueue(contacts)
    db = enqueued.pop("db")

    port_out = multiprocessing.Queue()
    fake = multiprocessing.Process(target=_fake_twilio_process, args=(port_out,), daemon=True)
    fake.start()
    api_url = f"http://127.0.0.1:{port_out.get(timeout=30)}"
    try:
        bare_rate = _run_processes(_bare_process, api_url, senders, send_seconds / 2)
        send_rate = _run_processes(_sender_process, api_url, senders, send_seconds, sender_batch)
    finally:
        fake.terminate()
    with db.session() as s:
        statuses = dict(s.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all())
    db.dispose()

    memory = [_memory(int(n)) for n in str(memory_sizes).split(",") if n]

    from bench.report import emit

    figures = {"contacts": contacts, "enqueue_seconds": round(enqueued["seconds"], 2), "queued": enqueued["queued"],
               "enqueue_rows_per_second": round(enqueued["queued"] / enqueued["seconds"]),
               "send_per_second": round(send_rate), "sender_processes": senders, "sender_batch": sender_batch,
               "outbox_after_send": json.dumps(statuses)}
    for probe in memory:
        n = probe["contacts"]
        figures[f"enqueue_{n}_seconds"] = probe["seconds"]
        figures[f"enqueue_{n}_tracemalloc_peak_mb"] = probe["tracemalloc_peak_mb"]
        figures[f"enqueue_{n}_rss_growth_mb"] = probe["rss_growth_mb"]
    peaks = [p["tracemalloc_peak_mb"] for p in memory if p["tracemalloc_peak_mb"] is not None]
    flat = (max(peaks) - min(peaks)) <= 50 if peaks else None
    return emit(
        "fanout", figures,
        baseline={"sdk_to_fake_without_database_per_second": round(bare_rate)},
        ratios={"send_vs_sdk_ceiling": round(send_rate / bare_rate, 3)},
        targets={"enqueue_seconds_below": 10, "send_per_second_at_least": 1000, "memory_flat_within_mb": 50,
                 "met_enqueue": enqueued["seconds"] < 10, "met_send": send_rate >= 1000, "met_memory": flat},
        command=f"python -m bench fanout --contacts={contacts} --senders={senders} --send-seconds={send_seconds} "
                f"--sender-batch={sender_batch} --memory-sizes={memory_sizes}",
    )
