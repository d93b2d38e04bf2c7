"""Models for contacts and privacy: API tokens and the record that an erasure happened."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from store.models.base import Base
from store.types import utcnow

API_SCOPES = ("read", "write")


class ApiToken(Base):
    """A bearer token for the JSON API; only its hash is kept, the token is shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # sha256 hex of the token. Tokens are 256 random bits, so a fast hash is
    # enough: there is no dictionary to guess from, unlike a password.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scope: Mapped[str] = mapped_column(String(16))  # read | write
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(200))
    last_used_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()


class ErasureRecord(Base):
    """That an erasure happened and when; never who.

    A resident's FORGET is done in two steps: everything but the one address the
    final confirmation goes to is erased at once ("pending"), and that address
    when the confirmation has left ("completed"). The pending_* ids are cleared
    on completion, so a completed record links to nobody.
    """

    __tablename__ = "erasure_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column()
    # keyword (the resident texted FORGET), officer (dashboard/CLI), api
    source: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="completed")  # pending | completed
    # What was erased, as counts only: {"answers": 3, "inbound": 5, "outbox": 7, ...}
    counts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    pending_contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    pending_address_id: Mapped[int | None] = mapped_column(ForeignKey("addresses.id", ondelete="SET NULL"))
    confirmation_outbox_id: Mapped[int | None] = mapped_column(Integer)
