"""Segments, broadcasts and their occurrences, consultations (the engagement calendar), "you said, we did" updates."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from store.models.base import Base
from store.types import utcnow


class Segment(Base):
    """A saved, readable query over contacts: place, identity, interest, channel, behaviour."""

    __tablename__ = "segments"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    # {"all": [{"field": "ward", "in": ["Netteswell"]}, {"group": "tenants"}, ...]}
    rules: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(200))


class Broadcast(Base):
    """A message or a flow start, to a segment, now, once at a time, or on a recurring schedule."""

    __tablename__ = "broadcasts"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    segment_id: Mapped[int] = mapped_column(ForeignKey("segments.id"), index=True)
    # "message": send `texts`; "flow": start `flow_id` for each resident.
    content: Mapped[str] = mapped_column(String(16), default="message")
    flow_id: Mapped[str | None] = mapped_column(String(100))
    # {"en": "...", "cy": "..."}; the first language is the fallback.
    texts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    base_language: Mapped[str] = mapped_column(String(16), default="en")
    # "service" (about a consultation or a service the resident uses) or "promotional" (events, paid
    # services): each goes only to residents with a recorded basis for it (engage.consent.BASES).
    message_class: Mapped[str] = mapped_column(String(16), default="service", server_default="service")
    # {"en": "HX...", "cy": "HX..."}: the approved WhatsApp template (Twilio Content SID) per language that
    # reaches a WhatsApp resident outside the 24-hour window; without one such a resident is skipped.
    whatsapp_templates: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default="{}")
    # "now", "once" (at send_at) or "cron" (recurring, `cron` in crontab form, council time zone).
    schedule: Mapped[str] = mapped_column(String(16), default="now")
    send_at: Mapped[datetime | None] = mapped_column()
    cron: Mapped[str | None] = mapped_column(String(100))
    # draft | scheduled | sent | cancelled
    status: Mapped[str] = mapped_column(String(16), default="scheduled")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(200))
    last_fired_at: Mapped[datetime | None] = mapped_column()
    cancelled_at: Mapped[datetime | None] = mapped_column()


class BroadcastOccurrence(Base):
    """What one firing of a broadcast did: how many were eligible, queued, and skipped for which reason."""

    __tablename__ = "broadcast_occurrences"

    id: Mapped[int] = mapped_column(primary_key=True)
    broadcast_id: Mapped[int] = mapped_column(ForeignKey("broadcasts.id", ondelete="CASCADE"))
    # "once" for one-off broadcasts, the local date and time of the scheduled firing (2026-12-07T10:00)
    # for recurring ones.
    occurrence: Mapped[str] = mapped_column(String(32))
    fired_at: Mapped[datetime] = mapped_column(default=utcnow)
    in_segment: Mapped[int] = mapped_column(Integer, default=0)
    eligible: Mapped[int] = mapped_column(Integer, default=0)
    queued: Mapped[int] = mapped_column(Integer, default=0)
    # {"opted_out": 3, "fatigue": 1, ...}
    skipped: Mapped[dict[str, Any]] = mapped_column(default=dict)
    language_fallbacks: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[datetime | None] = mapped_column()

    __table_args__ = (UniqueConstraint("broadcast_id", "occurrence"),)


class Consultation(Base):
    """An entry in the engagement calendar: a flow, who owns it, whom it asks, and when."""

    __tablename__ = "consultations"

    id: Mapped[int] = mapped_column(primary_key=True)
    flow_id: Mapped[str] = mapped_column(String(100), index=True)
    title: Mapped[str | None] = mapped_column(String(300))
    owner_service: Mapped[str | None] = mapped_column(String(200))
    officer: Mapped[str | None] = mapped_column(String(200))
    purpose: Mapped[str | None] = mapped_column(Text)
    segment_id: Mapped[int | None] = mapped_column(ForeignKey("segments.id", ondelete="SET NULL"))
    # Dates on the council's calendar; `closes` is the last day answers are taken.
    opens: Mapped[date] = mapped_column(Date)
    closes: Mapped[date] = mapped_column(Date)
    # planned | open | closed | reported ("reported" once its update has gone out).
    status: Mapped[str] = mapped_column(String(16), default="planned")
    reported_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_consultations_dates", "opens", "closes"),)


class Update(Base):
    """A "you said, we did" update: what residents said, what the council did, and why."""

    __tablename__ = "updates"

    id: Mapped[int] = mapped_column(primary_key=True)
    flow_id: Mapped[str] = mapped_column(String(100), index=True)
    consultation_id: Mapped[int | None] = mapped_column(ForeignKey("consultations.id", ondelete="SET NULL"))
    title: Mapped[str | None] = mapped_column(String(300))
    # {"en": {"said": ..., "did": ..., "why": ...}, "cy": {...}}; the flow's base language is the fallback.
    texts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Also tell residents who started but did not finish.
    include_started: Mapped[bool] = mapped_column(Boolean, default=False)
    # draft | published (on the public page) | sent (residents told)
    status: Mapped[str] = mapped_column(String(16), default="draft")
    # Recorded with the consultation forever: what was asked and how many answered.
    asked: Mapped[str | None] = mapped_column(Text)
    answered_count: Mapped[int | None] = mapped_column(Integer)
    recipients: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(200))
    published_at: Mapped[datetime | None] = mapped_column()
    sent_at: Mapped[datetime | None] = mapped_column()
