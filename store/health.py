"""What /healthz reports: is the database answering, and is its schema the one this code expects."""
from __future__ import annotations

from dataclasses import dataclass

from store.db import Database
from store.deadline import DeadlineExceeded, SingleFlight


@dataclass(frozen=True)
class Health:
    status: str  # "ready", "database unreachable", "database not answering", "database not migrated"
    detail: str = ""

    @property
    def ready(self) -> bool:
        return self.status == "ready"


class HealthCheck:
    """Answers within `timeout` seconds whatever the database does (hung, locked, gone)."""

    def __init__(self, db: Database, timeout: float):
        self.db = db
        self.timeout = timeout
        self._probe = SingleFlight(self._look, name="health-probe")

    def _look(self) -> Health:
        try:
            current = self.db.schema_revisions()
        except Exception as exc:  # unreachable, refused, timed out: the reason without the URL
            return Health("database unreachable", type(exc).__name__)
        heads = self.db.head_revisions()
        if current != heads:
            found = ", ".join(sorted(current)) or "none"
            return Health("database not migrated",
                          f"schema at {found}, this release needs {', '.join(sorted(heads))}: "
                          "run `python app.py db upgrade`")
        return Health("ready")

    def __call__(self) -> Health:
        try:
            return self._probe(self.timeout)
        except DeadlineExceeded:
            return Health("database not answering", f"no answer within {self.timeout:g} s")
