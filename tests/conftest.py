"""Fixtures: a real database (SQLite by default, PostgreSQL when configured), a set clock, the app.

Run on PostgreSQL with OUTREACH_TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test.
Run with the wall clock moved ahead (a year: --clock-ahead=365) to prove no test leans on today's date.
"""
from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import text

from engage.clock import FixedClock
from store.db import Database, normalise_url
from store.models import Base

ROOT = Path(__file__).resolve().parent.parent
LIBRARY = ROOT / "flows" / "library"
# A moment inside street-safety's consultation window (1-31 December 2026).
DEFAULT_NOW = datetime(2026, 12, 2, 10, 0, tzinfo=timezone.utc)


def _test_database_url(tmp_path_factory) -> str:
    url = os.environ.get("OUTREACH_TEST_DATABASE_URL")
    if not url:
        return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    return _own_postgres_database(url, worker) if worker else url


def _own_postgres_database(url: str, worker: str) -> str:
    """Give each xdist worker its own PostgreSQL database beside the configured one."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    base = make_url(normalise_url(url))
    name = f"{base.database}_{worker}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).scalar()
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


# Variables that configure the test run itself, not the service under test.
TEST_RUN_VARIABLES = {"OUTREACH_TEST_DATABASE_URL", "OUTREACH_REGEN_GOLDEN", "OUTREACH_API_EXAMPLES",
                      "OUTREACH_TEST_CRASH_SEED"}


def pytest_addoption(parser):
    parser.addoption(
        "--clock-ahead", type=float, default=0.0, metavar="DAYS",
        help="move the wall clock (time.time, datetime.now, in every thread) this many days ahead for the run",
    )


@pytest.fixture(scope="session", autouse=True)
def hermetic_settings():
    """The service's OUTREACH_* settings come from each test, never from the shell that runs the suite."""
    with pytest.MonkeyPatch.context() as patch:
        for name in [n for n in os.environ if n.startswith("OUTREACH_") and n not in TEST_RUN_VARIABLES]:
            patch.delenv(name)
        yield


@pytest.fixture(scope="session", autouse=True)
def wall_clock_ahead(request):
    """With --clock-ahead, the real clock (not the monotonic one) reads that many days ahead while it ticks on.

    libfaketime cannot do this for Python 3.11: it also shifts CLOCK_MONOTONIC, and a timed lock wait
    (sem_clockwait, which it does not intercept) then waits the whole offset; told to leave the monotonic
    clock alone, it rejects time.sleep's absolute deadline (EINVAL). time-machine moves only the wall clock.
    """
    days = request.config.getoption("--clock-ahead")
    if not days:
        yield
        return
    import time_machine

    with time_machine.travel(datetime.now(timezone.utc) + timedelta(days=days), tick=True):
        yield


@pytest.fixture(scope="session")
def database(tmp_path_factory) -> Database:
    """One database for the whole run, schema built from the models."""
    db = Database(_test_database_url(tmp_path_factory))
    with db.engine.begin() as conn:
        if db.is_postgres:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        else:
            Base.metadata.drop_all(conn)
    Base.metadata.create_all(db.engine)
    # The schema is the newest migration's (tests/store/test_migrations.py checks they agree): say so, as
    # `python app.py db upgrade` would, so /healthz finds it ready.
    from alembic import command

    from store.db import alembic_config

    command.stamp(alembic_config(db.url, db.engine), "head")
    yield db
    db.dispose()


def empty_tables(db: Database) -> None:
    """Remove every row so each test starts from nothing."""
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with db.engine.begin() as conn:
        if db.is_postgres:
            conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                conn.execute(text(f'DELETE FROM "{table}"'))


@pytest.fixture
def db(database) -> Database:
    """The test database, emptied after each test."""
    yield database
    empty_tables(database)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(DEFAULT_NOW)


@pytest.fixture
def app_config(db, clock, tmp_path) -> dict:
    """Settings overrides for the app under test; extend in a test module's own fixture."""
    return {
        "database": db,
        "clock": clock,
        "testing": True,
        "flows_dir": str(LIBRARY),
        "public_url": "http://testserver",
        "secret_key": "test-only-secret-key-" + "t" * 32,
        "council_name": "Harlow Council",
        "flows_reload": False,
    }


@pytest.fixture
def app(app_config):
    from app import create_app

    application = create_app(app_config)
    yield application
    application.extensions["outreach"].stop_loops()


@pytest.fixture
def services(app):
    return app.extensions["outreach"]


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()
