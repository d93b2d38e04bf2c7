"""Kill the web and sender processes with SIGKILL at random moments while residents text in, restart
them, and check the books: every acknowledged message stored once and acted on, every outbox row sent at
most once (by the fake Twilio's own log), nothing stuck, unknown outcomes left visible and not resent."""
from __future__ import annotations

import os
import random
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from sqlalchemy import func, or_, select

from bot.sender import recover_stuck_sending
from engage.clock import SystemClock
from store.models import InboundMessage, OutboxMessage
from tests.support.fault_processes import free_port, gunicorn, service_env, wait_until_healthy, worker
from tests.support.fault_sms import SMS_PATH, new_phone, sms_form
from tests.support.twilio_fake import running_fake_twilio, sign

pytestmark = [
    pytest.mark.fault,
    pytest.mark.postgres,
    pytest.mark.skipif(not os.environ.get("OUTREACH_TEST_DATABASE_URL", "").startswith("postgres"),
                       reason="PostgreSQL only: the point is several processes (gunicorn workers and a "
                              "sender) sharing one database, which is the scaled form; SQLite runs one process"),
]

RESIDENTS = 40
KILLS = 3
# Replay a failing run with OUTREACH_TEST_CRASH_SEED=<the seed it printed>.
SEED = int(os.environ.get("OUTREACH_TEST_CRASH_SEED", "20261123"))
# citizens-panel is open all winter: a keyword, then answers (some of them wrong on purpose).
SCRIPT = ["PANEL", "yes", "1", "2", "purple"]


def text_in_until_acknowledged(base: str, phone: str, acknowledged: set[str], lock: threading.Lock,
                               rng: random.Random) -> None:
    """Send one resident's messages in order, retrying each (same MessageSid) until it gets a 200."""
    with httpx.Client(timeout=5.0) as client:
        for body in SCRIPT:
            form = sms_form(phone, body)
            headers = {"X-Twilio-Signature": sign(SMS_PATH, form, public_url=base)}
            deadline = time.monotonic() + 60
            while True:
                try:
                    response = client.post(base + SMS_PATH, data=form, headers=headers)
                    assert response.status_code in (200, 502, 503), response.status_code
                    if response.status_code == 200:
                        with lock:
                            acknowledged.add(form["MessageSid"])
                        break
                except httpx.TransportError:
                    pass  # the web process is down or was killed mid-request: Twilio would try again
                assert time.monotonic() < deadline, "the web service never came back"
                time.sleep(0.1)
            time.sleep(rng.uniform(0.05, 0.25))


def wait_until_settled(db, timeout: float = 60.0) -> None:
    """Wait until every stored message is processed and no reply is left queued and due."""
    deadline = time.monotonic() + timeout
    while True:
        now = SystemClock().now()
        with db.session() as s:
            pending = s.scalar(select(func.count()).select_from(InboundMessage)
                               .where(InboundMessage.status == "pending"))
            due = s.scalar(select(func.count()).select_from(OutboxMessage).where(
                OutboxMessage.status == "queued",
                or_(OutboxMessage.not_before.is_(None), OutboxMessage.not_before <= now)))
        if pending == 0 and due == 0:
            return
        assert time.monotonic() < deadline, f"not settled: {pending} inbound pending, {due} replies due"
        time.sleep(0.5)


def test_sigkill_of_web_and_worker_loses_nothing_and_sends_nothing_twice(db, tmp_path):
    # One generator per thread, each from the seed and its own name, so a run's choices do not depend
    # on how the threads happened to interleave. Shown with the output of a failing run.
    print(f"crash test seed: {SEED} (replay with OUTREACH_TEST_CRASH_SEED={SEED})")
    killer_rng = random.Random(f"{SEED}:killer")
    with running_fake_twilio() as fake:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = service_env(db.url, fake.url, base)
        web = gunicorn(env, port, tmp_path / "web.log").start()
        sender = worker(env, tmp_path / "worker.log").start()
        done = threading.Event()
        killer = None
        try:
            wait_until_healthy(base)
            acknowledged: set[str] = set()
            lock = threading.Lock()

            def kill_at_random() -> None:
                # Each process is killed KILLS times at a random moment, then started again; the web
                # process gets time to come back up before the next kill, as a supervisor would allow.
                order = [web, sender] * KILLS
                killer_rng.shuffle(order)
                for target in order:
                    if done.wait(killer_rng.uniform(0.3, 1.2)):
                        return
                    target.kill()
                    target.start()
                    if target is web:
                        wait_until_healthy(base)

            killer = threading.Thread(target=kill_at_random)
            killer.start()
            phones = [new_phone() for _ in range(RESIDENTS)]
            with ThreadPoolExecutor(8) as pool:
                futures = [pool.submit(text_in_until_acknowledged, base, p, acknowledged, lock,
                                       random.Random(f"{SEED}:resident:{n}")) for n, p in enumerate(phones)]
                for future in futures:
                    future.result()
            done.set()
            killer.join()
            assert web.kills >= 2 and sender.kills >= 2, (web.kills, sender.kills)
            wait_until_healthy(base)
            # Workers act on every acknowledged message, including those a killed worker was part-way through.
            wait_until_settled(db)
        finally:
            # Stop the killer first, so it cannot start a process again after these are stopped.
            done.set()
            if killer is not None:
                killer.join()
            web.stop()
            sender.stop()

        assert len(acknowledged) == RESIDENTS * len(SCRIPT)
        with db.session() as s:
            inbound = s.execute(select(InboundMessage.provider_id, InboundMessage.status)).all()
            stored = Counter(sid for sid, _ in inbound)
            assert set(stored) == acknowledged
            assert all(n == 1 for n in stored.values())
            assert Counter(status for _, status in inbound) == {"processed": len(acknowledged)}
            outbox = {row.id: row for row in s.scalars(select(OutboxMessage))}

        # Every message the fake accepted names its outbox row (the status callback's ?o=): at most once each.
        sent_rows = Counter(int(parse_qs(urlparse(m.status_callback).query)["o"][0]) for m in fake.fake.messages)
        assert sent_rows and max(sent_rows.values()) == 1
        assert set(sent_rows) <= set(outbox)
        by_status = Counter(row.status for row in outbox.values())
        # One reply per acknowledged message; each one sent, or left `sending` by a killed worker.
        assert len(outbox) == len(acknowledged)
        assert set(by_status) <= {"sent", "sending"}, by_status
        assert all(outbox[i].status in ("sent", "sending", "unknown") for i in sent_rows)
        assert set(sent_rows) >= {i for i, row in outbox.items() if row.status == "sent"}

        # Rows a killed sender left `sending` are turned into `unknown` once stale, and never sent again.
        stale_ids = {i for i, row in outbox.items() if row.status == "sending"}
        later = SystemClock().now() + timedelta(minutes=6)
        assert recover_stuck_sending(db, later, timedelta(minutes=5)) == len(stale_ids)
        with db.session() as s:
            after = dict(s.execute(select(OutboxMessage.id, OutboxMessage.status)).all())
        assert {after[i] for i in stale_ids} <= {"unknown"}
        assert "sending" not in after.values()
