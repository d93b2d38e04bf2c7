"""Counting the SQL a piece of work sends: the hot path's tests hold it to a number of reads."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any


def selects_while(db, mentioning: str, work: Callable[[], Any]) -> tuple[Any, list[str]]:
    """Run `work`; return its result and the SELECT statements it sent whose text contains `mentioning`."""
    from sqlalchemy import event

    reads: list[str] = []

    def count(_conn, _cursor, statement, _parameters, _context, _executemany):
        if statement.lstrip().upper().startswith("SELECT") and mentioning in statement:
            reads.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        return work(), reads
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
