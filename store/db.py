"""Engines and sessions for SQLite (embedded) and PostgreSQL (scaled)."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# Tables other libraries create in our database and manage themselves (APScheduler's job store).
FOREIGN_TABLES = frozenset({"scheduler_jobs"})


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    """Tell Alembic to leave other libraries' tables alone."""
    return not (type_ == "table" and name in FOREIGN_TABLES)


def normalise_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL whatever spelling the URL uses."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


class Database:
    """One engine and its session factory; built by create_app, never at import."""

    def __init__(self, url: str, *, pool_size: int = 10, echo: bool = False):
        self.url = normalise_url(url)
        kwargs: dict = {"echo": echo, "future": True}
        if self.is_sqlite:
            # One process, several threads (web, sender, scheduler) share the file.
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        else:
            kwargs["pool_size"] = pool_size
            kwargs["max_overflow"] = pool_size
            kwargs["pool_pre_ping"] = True
        self.engine: Engine = create_engine(self.url, **kwargs)
        if self.is_sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
            event.listen(self.engine, "begin", _sqlite_begin_immediate)
            event.listen(self.engine, "checkout", _sqlite_functions)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite" if hasattr(self, "engine") else self.url.startswith("sqlite")

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @contextmanager
    def session(self) -> Iterator[Session]:
        """Yield a session that commits on success and rolls back on error."""
        s = self.sessions()
        try:
            yield s
            s.commit()
        except BaseException:
            s.rollback()
            raise
        finally:
            s.close()

    def ping(self) -> bool:
        """Return True when the database answers a trivial query."""
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    def upgrade(self) -> None:
        """Bring the schema to the newest migration."""
        from alembic import command

        command.upgrade(alembic_config(self.url, self.engine), "head")

    def schema_revision(self) -> str | None:
        """Return the migration the schema is at, or None for a database with no schema yet."""
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def dispose(self) -> None:
        self.engine.dispose()


def alembic_config(url: str, engine: Engine | None = None):
    """Return an Alembic config pointing at our migrations and this database."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if engine is not None:
        cfg.attributes["engine"] = engine
    return cfg


# SQL functions other rooms give SQLite, by name: (number of arguments, Python function). PostgreSQL has
# its own SQL for the same work; each SQLite connection gets these the first time it is used.
SQLITE_FUNCTIONS: dict[str, tuple[int, Callable[..., Any]]] = {}


def _sqlite_functions(dbapi_conn, record, _proxy):
    done = record.info.setdefault("sql_functions", set())
    for name, (arity, function) in SQLITE_FUNCTIONS.items():
        if name not in done:
            dbapi_conn.create_function(name, arity, function, deterministic=True)
            done.add(name)


def _sqlite_pragmas(dbapi_conn, _record):
    # The driver's own transaction handling is turned off so that "begin"
    # below can issue BEGIN IMMEDIATE: writers queue on the lock instead of
    # failing with "database is locked" when they upgrade a read lock.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def _sqlite_begin_immediate(conn):
    conn.exec_driver_sql("BEGIN IMMEDIATE")
