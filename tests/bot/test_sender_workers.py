"""Two `python app.py worker` processes drain one PostgreSQL outbox: nothing is sent twice."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, insert, select

from store.models import Address, Contact, OutboxMessage
from tests.support.twilio_fake import twilio_settings

ROOT = Path(__file__).resolve().parents[2]
ROWS = 10_000
RESIDENTS = 1_000


def fill_outbox(db) -> list[int]:
    now = datetime.now(timezone.utc)
    with db.session() as s:
        s.execute(insert(Contact), [{"fields": {}, "created_at": now, "updated_at": now} for _ in range(RESIDENTS)])
        contact_ids = s.scalars(select(Contact.id).order_by(Contact.id)).all()
        s.execute(insert(Address), [
            {"contact_id": cid, "channel": "sms", "address": f"+4477009{n:05d}", "consent": "opted_in",
             "usable": True, "created_at": now} for n, cid in enumerate(contact_ids)])
        addresses = s.execute(select(Address.id, Address.contact_id).order_by(Address.id)).all()
        s.execute(insert(OutboxMessage), [
            {"contact_id": addresses[n % RESIDENTS].contact_id, "address_id": addresses[n % RESIDENTS].id,
             "channel": "sms", "kind": "reply" if n % 3 else "broadcast", "priority": 0 if n % 3 else 10,
             "payload": {"type": "text", "text": f"Message {n}", "lang": "en"}, "language": "en",
             "status": "queued", "attempts": 0, "created_at": now, "updated_at": now} for n in range(ROWS)])
        return s.scalars(select(OutboxMessage.id)).all()


def start_worker(db, fake_twilio) -> subprocess.Popen:
    settings = twilio_settings(fake_twilio)
    env = {
        **os.environ,
        "OUTREACH_DATABASE_URL": db.engine.url.render_as_string(hide_password=False),
        "OUTREACH_TWILIO_ACCOUNT_SID": settings["twilio_account_sid"],
        "OUTREACH_TWILIO_AUTH_TOKEN": settings["twilio_auth_token"],
        "OUTREACH_TWILIO_FROM": settings["twilio_from"],
        "OUTREACH_TWILIO_API_URL": settings["twilio_api_url"],
        "OUTREACH_PUBLIC_URL": "http://testserver",
        "OUTREACH_MODE": "scaled",
        # With credentials in scaled mode the service refuses to start on no key, as it should: set one.
        "OUTREACH_SECRET_KEY": "a-worker-test-key-long-enough-to-sign-sessions",
        "OUTREACH_SANDBOX": "false",
        "OUTREACH_SMS_RATE": "0",
        "OUTREACH_LOG_LEVEL": "WARNING",
        # Broadcast rows must not wait for the morning whatever the hour the test runs.
        "OUTREACH_QUIET_START": "00:00",
        "OUTREACH_QUIET_END": "00:00",
    }
    return subprocess.Popen([sys.executable, str(ROOT / "app.py"), "worker"], cwd=str(ROOT), env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


@pytest.mark.postgres
@pytest.mark.fault
def test_two_worker_processes_send_every_row_exactly_once(db, fake_twilio):
    if not db.is_postgres:
        pytest.skip("needs PostgreSQL (FOR UPDATE SKIP LOCKED across processes); "
                    "set OUTREACH_TEST_DATABASE_URL to run it")
    ids = fill_outbox(db)
    workers = [start_worker(db, fake_twilio) for _ in range(2)]
    try:
        # About 10 s on an idle two-core machine; the margin is for a loaded one.
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline:
            with db.session() as s:
                left = s.scalar(select(func.count()).select_from(OutboxMessage)
                                .where(OutboxMessage.status.in_(["queued", "sending"])))
            if left == 0 or any(w.poll() is not None for w in workers):
                break
            time.sleep(0.2)
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.send_signal(signal.SIGINT)
        errors = [w.communicate(timeout=15)[1].decode("utf-8", "replace") for w in workers]
    assert left == 0, f"{left} rows left; worker output: {errors}"

    sent_ids = [int(parse_qs(urlsplit(m.status_callback).query)["o"][0]) for m in fake_twilio.fake.messages]
    counts = Counter(sent_ids)
    assert len(sent_ids) == ROWS
    assert [i for i, n in counts.items() if n > 1] == []
    assert set(counts) == set(ids)
    with db.session() as s:
        statuses = Counter(s.scalars(select(OutboxMessage.status)).all())
        provider_ids = s.scalar(select(func.count(func.distinct(OutboxMessage.provider_id))))
    assert statuses == {"sent": ROWS}
    assert provider_ids == ROWS
