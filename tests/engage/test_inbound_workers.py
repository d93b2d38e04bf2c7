"""Scaled mode: the web checks, stores and answers; `worker` processes act on residents' messages."""
from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest
from sqlalchemy import select

from bot.sandbox.twilio_server import SANDBOX_AUTH_TOKEN
from config import Settings
from engage.services import inbound_loop
from store.models import Answer, InboundMessage, OutboxMessage, Run
from tests.support.fault_processes import ROOT, service_env, worker
from tests.support.twilio_fake import load_fixture, post_signed

SMS = "/webhooks/twilio/sms"
SCRIPT = ["SAFE", "2", "Station Road by the underpass", "65 or over"]


@pytest.fixture
def app_config(app_config):
    # Webhooks are signed with the configured Twilio token (tests start no sandbox to lend one).
    return {**app_config, "inbound_processing": "worker", "twilio_auth_token": SANDBOX_AUTH_TOKEN}


def text_in(client, body, sid, sender):
    form = {**load_fixture("sms_answer_number.json"), "Body": body, "MessageSid": sid, "SmsMessageSid": sid,
            "SmsSid": sid, "From": sender}
    response = post_signed(client, SMS, form)
    assert response.status_code == 200 and response.mimetype == "text/xml"


def statuses(db):
    with db.session() as s:
        return [r.status for r in s.scalars(select(InboundMessage).order_by(InboundMessage.id))]


@pytest.mark.parametrize(("mode", "choice", "in_web"), [
    ("embedded", "", True), ("scaled", "", False), ("scaled", "web", True), ("embedded", "worker", False)])
def test_scaled_mode_leaves_residents_messages_to_workers_unless_told(mode, choice, in_web):
    settings = Settings.from_env({"mode": mode, "inbound_processing": choice}, environ={})
    assert settings.inbound_in_web is in_web


def test_the_webhook_only_stores_and_a_worker_acts_in_arrival_order(client, services, db):
    for n, body in enumerate(SCRIPT):
        text_in(client, body, f"SM{n:032d}", "+447700900123")
    assert statuses(db) == ["pending"] * 4
    with db.session() as s:
        assert s.scalar(select(OutboxMessage.id)) is None  # nothing acted on, nothing queued yet
    assert services.conversations.process_waiting() == 4
    assert statuses(db) == ["processed"] * 4
    with db.session() as s:
        assert s.scalar(select(Run.status)) == "completed"
        assert {a.step_id: a.value for a in s.scalars(select(Answer))} == {
            "feel_safe": "unsafe", "where": "Station Road by the underpass", "age": "65_plus"}
    assert services.conversations.process_waiting() == 0


def test_two_workers_share_the_messages_and_keep_each_residents_order(client, services, db):
    residents = [f"+4477009{n:05d}" for n in range(12)]
    for round_, body in enumerate(SCRIPT):
        for r, phone in enumerate(residents):
            text_in(client, body, f"SM{round_:02d}{r:030d}", phone)
    stop = threading.Event()
    workers = [threading.Thread(target=inbound_loop, args=(services, stop, 0.01)) for _ in range(2)]
    for thread in workers:
        thread.start()
    try:
        for _ in range(600):
            if "pending" not in statuses(db):
                break
            stop.wait(0.05)
    finally:
        stop.set()
        for thread in workers:
            thread.join(10)
    assert statuses(db) == ["processed"] * (len(residents) * len(SCRIPT))
    with db.session() as s:
        runs = s.scalars(select(Run)).all()
        # Each resident's four messages were acted on once each and in order: one run, completed,
        # with the three answers the script gives (any other order would leave a different run).
        assert len(runs) == len(residents) and {r.status for r in runs} == {"completed"}
        assert s.scalar(select(Answer.id).where(Answer.value.is_(None))) is None
        per_run = {}
        for answer in s.scalars(select(Answer)):
            per_run.setdefault(answer.run_id, {})[answer.step_id] = answer.value
        assert all(v == {"feel_safe": "unsafe", "where": "Station Road by the underpass", "age": "65_plus"}
                   for v in per_run.values())
        # One question or thank-you per message, never two.
        assert len(s.scalars(select(OutboxMessage)).all()) == len(residents) * len(SCRIPT)


def test_a_worker_started_for_inbound_only_acts_on_messages_and_sends_nothing(services, db, tmp_path):
    env = service_env(db.url, "http://127.0.0.1:9", "http://testserver")
    for n, body in enumerate(SCRIPT):
        services.conversations.store_inbound("sms", f"SMw{n:031d}", "+447700900123", body, {})
    process = worker(env, tmp_path / "worker.log", loops=("inbound",)).start()
    try:
        deadline = time.monotonic() + 60
        while "pending" in statuses(db):
            assert time.monotonic() < deadline, (tmp_path / "worker.log").read_text()[-2000:]
            time.sleep(0.1)
    finally:
        process.stop()
    assert statuses(db) == ["processed"] * len(SCRIPT)
    with db.session() as s:
        # Four replies queued by the turns; none sent, as this worker runs no sender.
        assert [r.status for r in s.scalars(select(OutboxMessage))] == ["queued"] * len(SCRIPT)


def test_a_worker_asked_for_a_loop_it_does_not_have_says_which_it_has(db, tmp_path):
    env = service_env(db.url, "http://127.0.0.1:9", "http://testserver")
    done = subprocess.run([sys.executable, "app.py", "worker", "--loop", "inbox"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "no loop called inbox" in done.stderr and "inbound" in done.stderr and "sender" in done.stderr
