"""API tokens: made by an admin, shown once, kept only as a hash, scoped read or write.

No Flask here, so the dashboard and the command line can call these too.
"""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.models.contacts import API_SCOPES, ApiToken

TOKEN_PREFIX = "otk_"
# Writing last_used_at on every call would make each read a write; once a minute is enough to audit.
_TOUCH_EVERY = timedelta(minutes=1)


def hash_token(token: str) -> str:
    """Return the sha256 hex of a token.

    A plain fast hash is right here (unlike passwords, which need argon2):
    tokens carry 256 random bits, so there is nothing to guess from, and the
    hash lets a presented token be found with one indexed lookup.
    """
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_api_token(session: Session, name: str, scope: str, now: datetime,
                     created_by: str | None = None) -> tuple[ApiToken, str]:
    """Create a token; return its row and the token itself, which is never stored."""
    if scope not in API_SCOPES:
        raise ValueError(f"scope must be one of {', '.join(API_SCOPES)}")
    if not name.strip():
        raise ValueError("a token needs a name saying who or what uses it")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(name=name.strip()[:200], token_hash=hash_token(token), scope=scope, created_at=now,
                   created_by=created_by)
    session.add(row)
    session.flush()
    return row, token


def verify_api_token(session: Session, token: str, now: datetime) -> ApiToken | None:
    """Return the live token row for a presented token, or None."""
    if not token or len(token) > 200:
        return None
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
    if row is None or row.revoked_at is not None:
        return None
    if row.last_used_at is None or now - row.last_used_at >= _TOUCH_EVERY:
        row.last_used_at = now
    return row


def list_api_tokens(session: Session) -> list[ApiToken]:
    """Return every token row, newest first."""
    return list(session.scalars(select(ApiToken).order_by(ApiToken.id.desc())))


def revoke_api_token(session: Session, token_id: int, now: datetime) -> bool:
    """Revoke a token; return False when there is no such token."""
    row = session.get(ApiToken, token_id)
    if row is None:
        return False
    if row.revoked_at is None:
        row.revoked_at = now
    return True
