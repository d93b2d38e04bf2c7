"""Officers who use the dashboard, their sign-in attempts, and the append-only audit log."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, String, Text, event
from sqlalchemy.orm import Mapped, mapped_column

from store.models.base import Base
from store.types import utcnow

# admin: accounts and settings; officer: flows, broadcasts, updates, assisted entry; viewer: results only.
ROLES = ("admin", "officer", "viewer")
ROLE_RANK = {"viewer": 0, "officer": 1, "admin": 2}


class Officer(Base):
    """A council officer who signs in to the dashboard."""

    __tablename__ = "officers"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16), default="viewer")
    # argon2id hash from argon2-cffi; never the password itself.
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # The dashboard's language for this officer ("en", "cy").
    language: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column()
    # Bumped on password change so existing sessions stop working.
    session_epoch: Mapped[int] = mapped_column(default=0)


class OfficerSession(Base):
    """One signed-in browser: the cookie carries a random id, only its sha256 is kept here.

    A session works while this row is open and young enough; signing out, a password change or
    reset, or switching the account off closes it, so a copied cookie stops working at once."""

    __tablename__ = "officer_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    officer_id: Mapped[int] = mapped_column(ForeignKey("officers.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column()
    # signed_out, expired, password_changed, password_reset, switched_off
    ended_reason: Mapped[str | None] = mapped_column(String(32))
    ip: Mapped[str | None] = mapped_column(String(64))


class LoginAttempt(Base):
    """One sign-in attempt, kept to rate-limit guessing per account and per address."""

    __tablename__ = "login_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    ip: Mapped[str | None] = mapped_column(String(64))
    succeeded: Mapped[bool] = mapped_column(Boolean, default=False)
    at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        Index("ix_login_attempts_email_at", "email", "at"),
        Index("ix_login_attempts_ip_at", "ip", "at"),
    )


class AuditLog(Base):
    """Who did what and when; rows are only ever inserted (updates and deletes raise)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id", ondelete="SET NULL"))
    # Kept beside the id so the record still reads right if the account goes.
    officer_email: Mapped[str | None] = mapped_column(String(254))
    # Who acted when it was not an officer: "API token “reporting” (#3)", "command line (jo@host)".
    actor: Mapped[str | None] = mapped_column(String(200))
    # e.g. flow.published, broadcast.sent, export.downloaded, contact.erased, officer.created
    action: Mapped[str] = mapped_column(String(64), index=True)
    target_type: Mapped[str | None] = mapped_column(String(32))
    target_id: Mapped[str | None] = mapped_column(String(100))
    # Never personal data of residents: ids and counts only.
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    summary: Mapped[str | None] = mapped_column(Text)
    ip: Mapped[str | None] = mapped_column(String(64))


class AuditLogIsAppendOnly(Exception):
    """Raised when code tries to change or remove an audit record."""


@event.listens_for(AuditLog, "before_update")
def _refuse_update(mapper, connection, target):
    raise AuditLogIsAppendOnly("audit records cannot be changed")


@event.listens_for(AuditLog, "before_delete")
def _refuse_delete(mapper, connection, target):
    raise AuditLogIsAppendOnly("audit records cannot be removed")
