"""Officers' sign-in sessions, kept on the server: start, check, end one, end all of a person's.

The browser's cookie carries only a random session id; the row (keyed by its sha256) says who it
belongs to and whether it is still open. A session ends eight hours after sign-in however busy,
after thirty minutes without a request, at sign-out, and when the password is changed or reset
or the account switched off. The dashboard and the web chat's officer preview share `check`.
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from store.models.officers import Officer, OfficerSession

ABSOLUTE_LIMIT = timedelta(hours=8)
IDLE_LIMIT = timedelta(minutes=30)
# last_seen_at is written at most this often, so a busy page does not write on every request.
TOUCH_EVERY = timedelta(seconds=60)
# Closed sessions are kept a month for anyone looking into a break-in, then dropped.
SESSIONS_KEPT = timedelta(days=30)


@dataclass(frozen=True)
class SessionCheck:
    """What a session cookie is worth now: the officer, or None (and whether it timed out)."""

    officer: Officer | None
    expired: bool = False


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def start(s: Session, officer: Officer, *, now: datetime, ip: str | None = None) -> str:
    """Open a session for an officer and return the id for the cookie (kept nowhere else in clear)."""
    token = secrets.token_urlsafe(32)
    s.execute(delete(OfficerSession).where(OfficerSession.created_at < now - SESSIONS_KEPT))
    s.add(OfficerSession(officer_id=officer.id, token_hash=_digest(token), created_at=now, last_seen_at=now, ip=ip))
    s.flush()
    return token


def check(s: Session, token: str | None, *, now: datetime, touch: bool = True) -> SessionCheck:
    """Return the officer a session id belongs to while the session is open and within its limits."""
    if not token or not isinstance(token, str):
        return SessionCheck(None)
    row = s.scalar(select(OfficerSession).where(OfficerSession.token_hash == _digest(token)))
    if row is None or row.ended_at is not None:
        return SessionCheck(None, expired=row is not None and row.ended_reason == "expired")
    if now - row.created_at > ABSOLUTE_LIMIT or now - row.last_seen_at > IDLE_LIMIT:
        row.ended_at, row.ended_reason = now, "expired"
        return SessionCheck(None, expired=True)
    officer = s.get(Officer, row.officer_id)
    if officer is None or not officer.active:
        row.ended_at, row.ended_reason = now, "switched_off"
        return SessionCheck(None)
    if touch and now - row.last_seen_at >= TOUCH_EVERY:
        row.last_seen_at = now
    return SessionCheck(officer)


def end(s: Session, token: str | None, *, now: datetime, reason: str = "signed_out") -> bool:
    """Close one session (sign-out); return True when an open one was closed."""
    if not token:
        return False
    result = s.execute(update(OfficerSession)
                       .where(OfficerSession.token_hash == _digest(token), OfficerSession.ended_at.is_(None))
                       .values(ended_at=now, ended_reason=reason))
    return bool(result.rowcount)


def end_all(s: Session, officer_id: int, *, now: datetime, reason: str, keep: str | None = None) -> int:
    """Close every open session of an officer except the one whose id is `keep`; return how many."""
    stmt = (update(OfficerSession)
            .where(OfficerSession.officer_id == officer_id, OfficerSession.ended_at.is_(None))
            .values(ended_at=now, ended_reason=reason))
    if keep:
        stmt = stmt.where(OfficerSession.token_hash != _digest(keep))
    return s.execute(stmt.execution_options(synchronize_session=False)).rowcount or 0


def open_sessions(s: Session, officer_id: int, *, now: datetime) -> int:
    """Count an officer's sessions that still work."""
    rows = s.scalars(select(OfficerSession).where(OfficerSession.officer_id == officer_id,
                                                  OfficerSession.ended_at.is_(None))).all()
    return sum(1 for r in rows if now - r.created_at <= ABSOLUTE_LIMIT and now - r.last_seen_at <= IDLE_LIMIT)
