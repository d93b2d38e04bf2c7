"""Residents, their addresses and consent, flows, runs, answers, inbound and outbox."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from store.models.base import Base
from store.types import utcnow

# Channels a resident can be reached on or answer through.
# Every channel a resident can answer on, in the order pages list them: the one list results filters,
# segment rules and the message log read.
CHANNELS = ("sms", "whatsapp", "voice", "telegram", "web", "assisted")

# Consent states of one address. Only "opted_in" may be messaged.
CONSENT_UNKNOWN = "unknown"
CONSENT_OPTED_IN = "opted_in"
CONSENT_OPTED_OUT = "opted_out"

# Outbox states. Delivery state only moves forward along OUTBOX_ORDER.
OUTBOX_ORDER = {
    "queued": 0,
    "sending": 1,
    "unknown": 2,
    "sent": 3,
    "delivered": 4,
    "undelivered": 4,
    "failed": 4,
    "skipped": 4,
}


class Contact(Base):
    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    language: Mapped[str | None] = mapped_column(String(16))
    # Place and identity fields: ward, estate, age_band, and special-category
    # fields (ethnicity, disability) only with a consent record for them.
    fields: Mapped[dict[str, Any]] = mapped_column(default=dict)
    organisation: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[str | None] = mapped_column(String(200))
    # Right to object: never contacted for consultations when set.
    do_not_contact: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    erased_at: Mapped[datetime | None] = mapped_column()

    addresses: Mapped[list["Address"]] = relationship(back_populates="contact", cascade="all, delete-orphan")
    groups: Mapped[list["ContactGroup"]] = relationship(back_populates="contact", cascade="all, delete-orphan")


class ContactGroup(Base):
    """An interest or network a contact belongs to ("Green Forum", "tenants")."""

    __tablename__ = "contact_groups"

    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), primary_key=True)

    contact: Mapped[Contact] = relationship(back_populates="groups")

    __table_args__ = (Index("ix_contact_groups_name", "name"),)


class Address(Base):
    """One way to reach a contact: a phone number, a Telegram chat, a web session."""

    __tablename__ = "addresses"

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    # E.164 for SMS, chat id for Telegram, session token for web.
    address: Mapped[str] = mapped_column(String(128))
    consent: Mapped[str] = mapped_column(String(16), default=CONSENT_UNKNOWN)
    # False after a permanent provider error (landline, bot blocked).
    usable: Mapped[bool] = mapped_column(Boolean, default=True)
    unusable_reason: Mapped[str | None] = mapped_column(String(200))
    preferred: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_inbound_at: Mapped[datetime | None] = mapped_column()
    # A question the service asked on this address that only a reply to it answers (FORGET's
    # confirmation), and until when the reply counts; nothing else may take its place.
    awaiting: Mapped[str | None] = mapped_column(String(32))
    awaiting_until: Mapped[datetime | None] = mapped_column()

    contact: Mapped[Contact] = relationship(back_populates="addresses")

    __table_args__ = (UniqueConstraint("channel", "address"),)


class ConsentRecord(Base):
    """Every opt-in and opt-out, with how it happened and the wording shown."""

    __tablename__ = "consent_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    address_id: Mapped[int | None] = mapped_column(ForeignKey("addresses.id", ondelete="SET NULL"))
    channel: Mapped[str | None] = mapped_column(String(16))
    # "channel" (messages on an address), "special_category" (ethnicity,
    # disability, health answers), "consultations" (right to object), and the
    # bases for broadcasts of each class: "service" (about consultations and
    # services the resident uses) and "promotional" (events, paid services).
    scope: Mapped[str] = mapped_column(String(32), default="channel")
    action: Mapped[str] = mapped_column(String(16))  # opt_in | opt_out
    # keyword, web_form, import, officer, provider (carrier-level STOP), flow
    source: Mapped[str] = mapped_column(String(32))
    wording: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class FlowVersion(Base):
    """A flow's source as it was when a run started on it."""

    __tablename__ = "flow_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    flow_id: Mapped[str] = mapped_column(String(100), index=True)
    version: Mapped[str] = mapped_column(String(64))  # sha256 of the source text
    title: Mapped[str | None] = mapped_column(String(300))
    source: Mapped[str] = mapped_column(Text)
    path: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (UniqueConstraint("flow_id", "version"),)


class Run(Base):
    """One contact's way through one flow."""

    __tablename__ = "runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"), index=True)
    flow_id: Mapped[str] = mapped_column(String(100), index=True)
    flow_version_id: Mapped[int] = mapped_column(ForeignKey("flow_versions.id"))
    address_id: Mapped[int | None] = mapped_column(ForeignKey("addresses.id", ondelete="SET NULL"))
    channel: Mapped[str] = mapped_column(String(16))
    language: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="active")  # active|completed|expired|ended
    state: Mapped[dict[str, Any]] = mapped_column(default=dict)
    current_step: Mapped[str | None] = mapped_column(String(100))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column()
    expires_at: Mapped[datetime | None] = mapped_column()
    # When the run's first real (not skipped) answer was stored: results count respondents and time to
    # first answer from runs (330k narrow rows) instead of joining a million answers to them.
    answered_at: Mapped[datetime | None] = mapped_column()
    # What started it: a keyword, a broadcast, a reminder, an officer (assisted).
    started_by: Mapped[str | None] = mapped_column(String(32))
    broadcast_id: Mapped[int | None] = mapped_column(Integer, index=True)
    # Set on erasure, so figures about people do not move: bit 1, this anonymous run counts as one person
    # (respondent) of its flow; bit 2, as one person across all flows. Nothing links it to anyone.
    erased_respondent: Mapped[int | None] = mapped_column(Integer)

    flow_version: Mapped[FlowVersion] = relationship()

    __table_args__ = (Index("ix_runs_contact_status", "contact_id", "status"),)


class Answer(Base):
    """A resident's answer to one step of one run; the raw text beside the matched value."""

    __tablename__ = "answers"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    flow_id: Mapped[str] = mapped_column(String(100))
    step_id: Mapped[str] = mapped_column(String(100))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"), index=True)
    # The matched value: a string, a list of strings (multiple choice), a number, true/false.
    value: Mapped[Any] = mapped_column(JSON, nullable=True)
    raw_text: Mapped[str | None] = mapped_column(Text)
    skipped: Mapped[bool] = mapped_column(Boolean, default=False)
    language: Mapped[str | None] = mapped_column(String(16))
    channel: Mapped[str | None] = mapped_column(String(16))
    answered_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        UniqueConstraint("run_id", "step_id"),
        Index("ix_answers_flow_step", "flow_id", "step_id"),
    )


class InboundMessage(Base):
    """A raw provider call, stored before we answer it."""

    __tablename__ = "inbound_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    # Twilio MessageSid, Telegram update_id, web message id.
    provider_id: Mapped[str] = mapped_column(String(128))
    address: Mapped[str | None] = mapped_column(String(128))
    text: Mapped[str | None] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|processed|ignored|failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    processed_at: Mapped[datetime | None] = mapped_column()
    error: Mapped[str | None] = mapped_column(Text)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"), index=True)

    __table_args__ = (
        UniqueConstraint("channel", "provider_id"),
        Index("ix_inbound_status", "status", "received_at"),
    )


class OutboxMessage(Base):
    """A message to send. Bulk rows carry a dedupe key so firing twice inserts nothing."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"), index=True)
    address_id: Mapped[int | None] = mapped_column(ForeignKey("addresses.id", ondelete="SET NULL"))
    channel: Mapped[str] = mapped_column(String(16))
    # reply (live conversation), broadcast, reminder, update ("you said, we did"), system
    kind: Mapped[str] = mapped_column(String(32), default="reply")
    # Lower goes first: live replies 0, bulk 10.
    priority: Mapped[int] = mapped_column(Integer, default=0)
    # What to say, channel-neutral: {"type": "question"|"text", "text": ..., "choices": [...], ...}
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    language: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="queued")
    provider_id: Mapped[str | None] = mapped_column(String(128), index=True)
    error_code: Mapped[str | None] = mapped_column(String(32))
    error_message: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[datetime | None] = mapped_column()
    # Retried until this moment, then failed with error_code "expired" (NULL: created_at plus the
    # kind's validity, bot.sender.validity).
    expires_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    sending_at: Mapped[datetime | None] = mapped_column()
    sent_at: Mapped[datetime | None] = mapped_column()
    delivered_at: Mapped[datetime | None] = mapped_column()
    segments: Mapped[int | None] = mapped_column(Integer)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"))
    broadcast_id: Mapped[int | None] = mapped_column(Integer, index=True)
    # e.g. "broadcast:12:contact:5", "reminder:run:9"; unique where set.
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)

    __table_args__ = (
        Index("ix_outbox_due", "status", "priority", "not_before"),
        # The sender's claim walks queued rows in (priority, id) order and stops at a batch: without
        # this it sorts the whole backlog (45 ms per claim at 100k queued; 0.2 ms with it).
        Index("ix_outbox_queued_order", "priority", "id", postgresql_where=text("status = 'queued'"),
              sqlite_where=text("status = 'queued'")),
    )
