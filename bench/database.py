"""The benchmarks' own PostgreSQL database, rebuilt from the models for each run."""
from __future__ import annotations

import os

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from store.db import Database, alembic_config, normalise_url
from store.models import Base

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/bench"


def bench_url(suffix: str = "") -> str:
    """Return the benchmark database's URL; a suffix names a sibling database (so benchmarks never share)."""
    url = os.environ.get("OUTREACH_BENCH_DATABASE_URL", DEFAULT_URL)
    if not suffix:
        return url
    parsed = make_url(normalise_url(url))
    return parsed.set(database=f"{parsed.database}_{suffix}").render_as_string(hide_password=False)


def fresh_database(url: str | None = None) -> Database:
    """Create the database if needed, drop everything in it and build the schema."""
    url = normalise_url(url or bench_url())
    parsed = make_url(url)
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": parsed.database}).scalar():
            conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    admin.dispose()
    db = Database(url)
    with db.engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    _build_schema(db)
    return db


def fresh_sqlite(name: str) -> Database:
    """A new SQLite database file in the temporary directory, with the schema built."""
    import tempfile
    from pathlib import Path

    path = Path(tempfile.gettempdir()) / f"bench-{name}.sqlite3"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    db = Database(f"sqlite:///{path}")
    _build_schema(db)
    return db


def _build_schema(db: Database) -> None:
    """Build the tables from the models and mark them as at the newest migration (the health check asks)."""
    from alembic import command

    Base.metadata.create_all(db.engine)
    command.stamp(alembic_config(db.url, db.engine), "head")
