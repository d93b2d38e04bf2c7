"""A hung, locked or unmigrated database never hangs the service: webhooks answer 503 in time (so the
provider retries and nothing is lost), /healthz answers within its timeout and says "ready" only when the
schema is migrated. Time bounds are the configured timeouts plus generous slack, never tight margins."""
from __future__ import annotations

import os
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select, text

from bot.sandbox.twilio_server import SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN
from config import Settings
from store.db import Database, Timeouts
from store.models import InboundMessage
from tests.support.fault_sms import post_form, sms_form

# What a slow, shared test machine may add to a configured timeout: Flask, thread start-up, scheduling.
SLACK = 3.0
ON_POSTGRES = os.environ.get("OUTREACH_TEST_DATABASE_URL", "").startswith("postgres")
postgres_only = pytest.mark.skipif(not ON_POSTGRES, reason="PostgreSQL's own statement and lock timeouts; "
                                                          "the SQLite form is test_a_busy_sqlite_file_...")
sqlite_only = pytest.mark.skipif(ON_POSTGRES, reason="SQLite's busy timeout")


def timed(call: Callable[[], Any], limit: float) -> tuple[Any, float]:
    """Run `call` in a thread; fail if it has not answered within `limit` seconds (instead of hanging)."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["result"] = call()
        except BaseException as exc:  # raised below, in the test's thread
            box["error"] = exc

    started = time.monotonic()
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(limit)
    elapsed = time.monotonic() - started
    assert not thread.is_alive(), f"no answer within {limit:g} s"
    if "error" in box:
        raise box["error"]
    return box["result"], elapsed


@contextmanager
def silent_database_server() -> Iterator[int]:
    """A server on 127.0.0.1 that accepts TCP connections and never says a word; yields its port."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    accepted: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            accepted.append(conn)

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()
        for conn in accepted:
            conn.close()


def twilio_config() -> dict[str, Any]:
    return {"twilio_account_sid": SANDBOX_ACCOUNT_SID, "twilio_auth_token": SANDBOX_AUTH_TOKEN,
            "twilio_from": "+447700900000", "twilio_api_url": "http://127.0.0.1:9", "sandbox": False}


_own_databases: list[Database] = []


def make_app(app_config: dict[str, Any], **settings: Any):
    from app import create_app

    config = {**app_config, **twilio_config(), **settings}
    if "database_url" in settings:
        config.pop("database")
    app = create_app(config)
    if "database_url" in settings:
        _own_databases.append(app.extensions["outreach"].db)
    return app


@pytest.fixture(autouse=True)
def _dispose_own_databases():
    yield
    while _own_databases:
        _own_databases.pop().dispose()


def inbound_count(db: Database, sid: str) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(InboundMessage).where(InboundMessage.provider_id == sid))


# ----- a database that accepts connections and never answers ---------------------------------------


def test_health_answers_within_its_timeout_when_the_database_never_answers(app_config):
    health_timeout = 0.5
    probes_before = sum(t.name == "health-probe" for t in threading.enumerate())
    with silent_database_server() as port:
        app = make_app(app_config, database_url=f"postgresql://postgres@127.0.0.1:{port}/outreach",
                       db_connect_timeout=0, health_timeout=health_timeout)
        client = app.test_client()
        for _ in range(3):
            response, elapsed = timed(lambda: client.get("/healthz"), health_timeout + SLACK)
            assert response.status_code == 503
            assert response.get_json()["status"] == "database not answering"
            assert elapsed < health_timeout + 1.5  # the bound: within 2 s
        # Asked again while the first probe still waits: no new thread piles up per request.
        probes = sum(t.name == "health-probe" for t in threading.enumerate())
        assert probes - probes_before == 1


def test_a_webhook_answers_503_once_the_connect_timeout_passes(app_config):
    with silent_database_server() as port:
        app = make_app(app_config, database_url=f"postgresql://postgres@127.0.0.1:{port}/outreach",
                       db_connect_timeout=2, webhook_timeout=60)
        client = app.test_client()
        limit = Timeouts(connect=2).effective_connect + SLACK
        response, _ = timed(lambda: post_form(client, sms_form("+447700900123", "SAFE")), limit)
    assert response.status_code == 503
    assert response.headers["Retry-After"].isdigit()


def test_a_webhook_answers_503_within_the_webhook_timeout_whatever_the_database_does(app_config):
    webhook_timeout = 1.0
    with silent_database_server() as port:
        # No connect timeout at all: only the webhook's own deadline stands between Twilio and a hang.
        app = make_app(app_config, database_url=f"postgresql://postgres@127.0.0.1:{port}/outreach",
                       db_connect_timeout=0, webhook_timeout=webhook_timeout)
        client = app.test_client()
        response, elapsed = timed(lambda: post_form(client, sms_form("+447700900123", "SAFE")),
                                  webhook_timeout + SLACK)
    assert response.status_code == 503
    assert elapsed >= webhook_timeout
    assert Settings().webhook_timeout < 10  # Twilio gives up after 15 s


def test_the_default_timeouts_answer_a_provider_well_before_it_gives_up():
    settings = Settings()
    assert settings.webhook_timeout < 10 and settings.health_timeout < 2
    assert 0 < settings.db_connect_timeout and 0 < settings.db_lock_timeout < 10
    assert 0 < settings.db_statement_timeout and 0 < settings.db_pool_timeout < 10


# ----- a locked PostgreSQL ---------------------------------------------------------------------------


@contextmanager
def table_locked(db: Database, table: str) -> Iterator[None]:
    """Hold an exclusive lock on a table from another connection for the length of the block."""
    engine = create_engine(db.engine.url)
    conn = engine.connect()
    conn.execute(text(f'LOCK TABLE "{table}" IN ACCESS EXCLUSIVE MODE'))
    try:
        yield
    finally:
        conn.rollback()
        conn.close()
        engine.dispose()


@contextmanager
def app_with_timeouts(app_config: dict[str, Any], db: Database, timeouts: Timeouts, **settings: Any):
    database = Database(db.url, timeouts=timeouts)
    try:
        yield make_app({**app_config, "database": database}, **settings)
    finally:
        database.dispose()


@postgres_only
def test_a_webhook_meeting_a_held_lock_answers_503_after_the_lock_timeout_and_stores_on_retry(app_config, db):
    timeouts = Timeouts(lock=1.0, statement=30.0)
    with app_with_timeouts(app_config, db, timeouts, webhook_timeout=60) as app:
        client = app.test_client()
        form = sms_form("+447700900123", "SAFE")
        with table_locked(db, "inbound_messages"):
            response, elapsed = timed(lambda: post_form(client, form), timeouts.lock + SLACK)
            assert response.status_code == 503
            assert elapsed >= timeouts.lock
        # Twilio tries again once the lock is gone: stored once.
        assert post_form(client, form).status_code == 200
        assert inbound_count(db, form["MessageSid"]) == 1


@postgres_only
def test_a_statement_that_runs_too_long_is_stopped_by_the_statement_timeout(app_config, db):
    timeouts = Timeouts(lock=0, statement=1.0)
    with app_with_timeouts(app_config, db, timeouts, webhook_timeout=60) as app:
        client = app.test_client()
        with table_locked(db, "inbound_messages"):
            response, elapsed = timed(lambda: post_form(client, sms_form("+447700900124", "SAFE")),
                                      timeouts.statement + SLACK)
        assert response.status_code == 503
        assert elapsed >= timeouts.statement


@postgres_only
def test_the_webhook_deadline_holds_with_no_database_timeouts_and_nothing_is_stored_twice(app_config, db):
    webhook_timeout = 1.0
    with app_with_timeouts(app_config, db, Timeouts(lock=0, statement=0), webhook_timeout=webhook_timeout) as app:
        client = app.test_client()
        form = sms_form("+447700900125", "SAFE")
        with table_locked(db, "inbound_messages"):
            response, _ = timed(lambda: post_form(client, form), webhook_timeout + SLACK)
            assert response.status_code == 503
        # The abandoned store may still commit once the lock goes; the retry finds it and stores nothing new.
        assert post_form(client, form).status_code == 200
        assert inbound_count(db, form["MessageSid"]) == 1


@postgres_only
def test_health_answers_in_time_while_the_schema_table_is_locked(app_config, db):
    health_timeout = 0.5
    with app_with_timeouts(app_config, db, Timeouts(lock=0, statement=0), health_timeout=health_timeout) as app:
        client = app.test_client()
        assert client.get("/healthz").get_json() == {"status": "ready"}
        with table_locked(db, "alembic_version"):
            response, elapsed = timed(lambda: client.get("/healthz"), health_timeout + SLACK)
        assert response.status_code == 503
        assert elapsed < health_timeout + 1.5


# ----- a busy SQLite file ---------------------------------------------------------------------------


@sqlite_only
def test_a_busy_sqlite_file_gives_503_after_the_busy_timeout(app_config, db):
    timeouts = Timeouts(lock=1.0)
    with app_with_timeouts(app_config, db, timeouts, webhook_timeout=60) as app:
        client = app.test_client()
        form = sms_form("+447700900126", "SAFE")
        writer = sqlite3.connect(db.engine.url.database, isolation_level=None)
        try:
            writer.execute("BEGIN IMMEDIATE")
            response, elapsed = timed(lambda: post_form(client, form), timeouts.lock + SLACK)
        finally:
            writer.execute("ROLLBACK")
            writer.close()
        assert response.status_code == 503
        assert elapsed >= timeouts.lock
        assert post_form(client, form).status_code == 200
        assert inbound_count(db, form["MessageSid"]) == 1


def test_the_webs_sqlite_busy_timeout_is_under_ten_seconds_by_default(app_config, tmp_path):
    app = make_app(app_config, database_url=f"sqlite:///{tmp_path / 'web.sqlite3'}")
    with app.extensions["outreach"].db.engine.connect() as conn:
        busy_ms = conn.exec_driver_sql("PRAGMA busy_timeout").scalar()
    assert 0 < busy_ms < 10_000


# ----- a database that was never migrated ------------------------------------------------------------


def test_health_says_ready_only_once_the_schema_is_migrated(app_config, tmp_path):
    app = make_app(app_config, database_url=f"sqlite:///{tmp_path / 'fresh.sqlite3'}")
    client = app.test_client()
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["status"] == "database not migrated"
    assert "python app.py db upgrade" in response.get_json()["detail"]
    app.extensions["outreach"].db.upgrade()
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ready"}


def test_under_gunicorn_a_fresh_database_is_not_ready_until_upgraded(tmp_path):
    """As the scaled form runs it: gunicorn serving create_app() on a database nobody has migrated yet."""
    import httpx

    from tests.support.fault_processes import free_port, gunicorn

    url = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("OUTREACH_")}
    env.update({"OUTREACH_DATABASE_URL": url, "OUTREACH_SANDBOX": "false", "OUTREACH_FLOWS_RELOAD": "false",
                "OUTREACH_SECRET_KEY": "gunicorn-test-key-" + "x" * 32, "OUTREACH_LOG_LEVEL": "WARNING",
                "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    port = free_port()
    web = gunicorn(env, port, tmp_path / "web.log", workers=1).start()
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, (tmp_path / "web.log").read_text()
                time.sleep(0.2)
        assert response.status_code == 503
        assert response.json()["status"] == "database not migrated"
        migrated = Database(url)
        migrated.upgrade()
        migrated.dispose()
        response = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
        assert response.status_code == 200
        assert response.json() == {"status": "ready"}
    finally:
        web.stop()
