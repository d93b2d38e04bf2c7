"""Putting messages in the outbox: consent checked at enqueue, keyed so that repeats insert nothing."""
from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, make_transient_to_detached

from engage.consent import BULK_KINDS, may_send
from store.models import Address, Contact, OutboxMessage

PRIORITY_REPLY = 0
PRIORITY_SYSTEM = 0
PRIORITY_BULK = 10
# How long the sender keeps trying a message before it fails as "expired" (bot.sender.SenderPolicy):
# long enough to ride out a real provider outage, short enough that nothing arrives out of date.
REPLY_VALIDITY = timedelta(hours=1)
BULK_VALIDITY = timedelta(hours=24)


def extra_setting(settings, name: str) -> str | None:
    """Return a setting outside config.Settings' fields: create_app's config, else OUTREACH_<NAME>."""
    value = (getattr(settings, "extra", None) or {}).get(name)
    if value in (None, ""):
        value = os.environ.get(f"OUTREACH_{name.upper()}") or None
    return value


def bulk_validity(settings) -> timedelta:
    """Return how long bulk messages stay worth sending: `sender_bulk_validity_hours`, else 24 hours."""
    hours = extra_setting(settings, "sender_bulk_validity_hours")
    return timedelta(hours=float(hours)) if hours else BULK_VALIDITY


def reply_validity(settings) -> timedelta:
    """Return how long live replies stay worth sending: `sender_reply_validity_minutes`, else an hour."""
    minutes = extra_setting(settings, "sender_reply_validity_minutes")
    return timedelta(minutes=float(minutes)) if minutes else REPLY_VALIDITY


def priority_for(kind: str) -> int:
    """Live replies go ahead of bulk traffic."""
    return PRIORITY_BULK if kind in BULK_KINDS else PRIORITY_REPLY


_INSERT_OUTBOX = insert(OutboxMessage.__table__).returning(OutboxMessage.__table__.c.id)


def enqueue(
    session: Session,
    *,
    contact: Contact,
    address: Address,
    kind: str,
    payload: dict[str, Any],
    now: datetime,
    language: str | None = None,
    run_id: int | None = None,
    broadcast_id: int | None = None,
    dedupe_key: str | None = None,
    not_before: datetime | None = None,
    into: list[dict[str, Any]] | None = None,
) -> tuple[OutboxMessage | None, str | None]:
    """Queue one message; return (row, None) or (None, reason it was refused or already queued).

    With `into` (a worker's batch of turns), a row without a dedupe key is not inserted here: its
    values are appended to the list, for the caller to insert with the batch's others before it
    commits, and the row returned has no id yet."""
    allowed, reason = may_send(contact, address, kind)
    if not allowed:
        return None, reason
    values = dict(
        contact_id=contact.id,
        address_id=address.id,
        channel=address.channel,
        kind=kind,
        priority=priority_for(kind),
        payload=payload,
        language=language,
        status="queued",
        created_at=now,
        updated_at=now,
        not_before=not_before,
        run_id=run_id,
        broadcast_id=broadcast_id,
        dedupe_key=dedupe_key,
    )
    if dedupe_key is None and into is not None:
        into.append(values)
        return OutboxMessage(**values), None
    if dedupe_key is None:
        # One INSERT ... RETURNING id, without the ORM's unit of work (a live reply is on every turn's hot
        # path); the row joins the session as if loaded, so callers use it like any other.
        row = OutboxMessage(id=session.execute(_INSERT_OUTBOX, values).scalar_one(), **values)
        make_transient_to_detached(row)
        session.add(row)
        return row, None
    inserted = insert_ignoring_duplicates(session, OutboxMessage, [values], "dedupe_key")
    if not inserted:
        return None, "duplicate"
    row = session.scalar(select(OutboxMessage).where(OutboxMessage.dedupe_key == dedupe_key))
    return row, None


def insert_ignoring_duplicates(session: Session, model, rows: list[dict[str, Any]], *conflict_columns: str) -> int:
    """Insert rows, skipping any that clash on a unique key; return how many were inserted."""
    return len(insert_returning_new_ids(session, model, rows, *conflict_columns))


def insert_returning_new_ids(session: Session, model, rows: list[dict[str, Any]], *conflict_columns: str) -> list:
    """Insert rows, skipping any that clash on a unique key; return the new rows' ids."""
    if not rows:
        return []
    table = model.__table__
    stmt = upsert_insert(session, table).on_conflict_do_nothing(index_elements=list(conflict_columns) or None)
    # Count the returned keys: psycopg reports rowcount -1 for INSERT ... ON CONFLICT. Passing the rows
    # as parameters (not .values(rows)) lets SQLAlchemy batch them and reuse one compiled statement.
    stmt = stmt.returning(*table.primary_key.columns)
    return [row[0] for row in session.execute(stmt, rows).all()]


def upsert_insert(session: Session, table):
    """Return an INSERT for `table` that can take ON CONFLICT (both engines speak it, with their own class)."""
    module = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return module.insert(table)
