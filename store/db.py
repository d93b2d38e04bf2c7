"""Engines and sessions for SQLite (embedded) and PostgreSQL (scaled)."""
from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, make_url, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

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


@dataclass(frozen=True)
class Timeouts:
    """How long the database may keep us waiting, in seconds (0: no limit).

    connect    establishing a connection (PostgreSQL counts whole seconds, 2 at least)
    statement  one statement (PostgreSQL statement_timeout)
    lock       waiting for a lock (PostgreSQL lock_timeout; SQLite's busy timeout)
    pool       waiting for a free connection from the pool
    """

    connect: int = 5
    statement: float = 30.0
    lock: float = 5.0
    pool: float = 3.0

    @classmethod
    def from_settings(cls, settings) -> "Timeouts":
        return cls(connect=int(settings.db_connect_timeout), statement=float(settings.db_statement_timeout),
                   lock=float(settings.db_lock_timeout), pool=float(settings.db_pool_timeout))

    @property
    def effective_connect(self) -> float:
        """The connect timeout PostgreSQL's driver really applies (whole seconds, at least 2; 0 is its default)."""
        return float(max(2, int(self.connect))) if self.connect > 0 else 130.0

    def postgres_options(self) -> str:
        """The `options` a PostgreSQL connection starts with: its statement and lock timeouts."""
        return (f"-c statement_timeout={int(self.statement * 1000)} "
                f"-c lock_timeout={int(self.lock * 1000)}")


class Database:
    """One engine and its session factory; built by create_app, never at import."""

    def __init__(self, url: str, *, pool_size: int = 10, echo: bool = False, timeouts: Timeouts | None = None):
        self.url = normalise_url(url)
        self.timeouts = timeouts or Timeouts()
        kwargs: dict = {"echo": echo, "future": True}
        if self.timeouts.pool > 0:
            kwargs["pool_timeout"] = self.timeouts.pool
        if self.is_sqlite:
            # One process, several threads (web, sender, scheduler) share the file.
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": self.timeouts.lock}
        else:
            kwargs["pool_size"] = pool_size
            kwargs["max_overflow"] = pool_size
            kwargs["pool_pre_ping"] = True
            kwargs["connect_args"] = self._postgres_connect_args()
        self.engine: Engine = create_engine(self.url, **kwargs)
        if self.is_sqlite:
            busy_ms = int(self.timeouts.lock * 1000)
            event.listen(self.engine, "connect", functools.partial(_sqlite_pragmas, busy_ms=busy_ms))
            event.listen(self.engine, "begin", _sqlite_begin_immediate)
            event.listen(self.engine, "checkout", _sqlite_functions)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._heads: frozenset[str] | None = None

    def _postgres_connect_args(self, timeouts: Timeouts | None = None) -> dict:
        """Connect and statement timeouts for psycopg, keeping any `options` the URL already has."""
        timeouts = timeouts or self.timeouts
        options = timeouts.postgres_options()
        given = make_url(self.url).query.get("options")
        if given:
            options = f"{options} {given if isinstance(given, str) else ' '.join(given)}"
        args: dict = {"options": options}
        if timeouts.connect > 0:
            args["connect_timeout"] = int(timeouts.connect)
        return args

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

    def head_revisions(self) -> frozenset[str]:
        """The newest migration(s) this code ships (read from the migration scripts once)."""
        if self._heads is None:
            from alembic.script import ScriptDirectory

            self._heads = frozenset(ScriptDirectory.from_config(alembic_config(self.url)).get_heads())
        return self._heads

    def schema_revisions(self) -> frozenset[str]:
        """The migration(s) the database is at; empty when it was never migrated."""
        from alembic.migration import MigrationContext

        with self.engine.connect() as conn:
            return frozenset(MigrationContext.configure(conn).get_current_heads())

    def upgrade(self) -> None:
        """Bring the schema to the newest migration."""
        from alembic import command

        if self.is_postgres:
            # A migration may rewrite a big table: no statement or lock limit for it.
            engine = create_engine(self.url, poolclass=NullPool,
                                   connect_args=self._postgres_connect_args(
                                       replace(self.timeouts, statement=0, lock=0)))
            try:
                command.upgrade(alembic_config(self.url, engine), "head")
            finally:
                engine.dispose()
            return
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


def _sqlite_pragmas(dbapi_conn, _record, busy_ms: int = 5000):
    # The driver's own transaction handling is turned off so that "begin"
    # below can issue BEGIN IMMEDIATE: writers queue on the lock instead of
    # failing with "database is locked" when they upgrade a read lock.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    # How long a writer waits for another to finish: the web must answer (or say 503) well within
    # a provider's webhook timeout.
    cur.execute(f"PRAGMA busy_timeout={int(busy_ms)}")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def _sqlite_begin_immediate(conn):
    conn.exec_driver_sql("BEGIN IMMEDIATE")
