"""Themes of a flow's free-text step, the answers in each, and the officer's marks on answers."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from store.models.base import Base
from store.types import utcnow


class Theme(Base):
    """One theme of one step: found by the analysis, or made by an officer (a split, the "to look at" group)."""

    __tablename__ = "themes"

    id: Mapped[int] = mapped_column(primary_key=True)
    flow_id: Mapped[str] = mapped_column(String(100))
    step_id: Mapped[str] = mapped_column(String(100))
    # The label shown: the analysis's words until an officer renames it.
    label: Mapped[str] = mapped_column(String(200))
    # The theme's most distinctive words, as the analysis found them (kept when renamed).
    words: Mapped[list[Any]] = mapped_column(JSON, default=list)
    # found (by the analysis), split (from another theme), new (answers that fit no theme: "to look at")
    origin: Mapped[str] = mapped_column(String(16), default="found")
    renamed_by: Mapped[str | None] = mapped_column(String(254))
    # active, or merged (its answers moved to merged_into_id)
    status: Mapped[str] = mapped_column(String(16), default="active")
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("themes.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_themes_flow_step", "flow_id", "step_id"),)


class ThemeAnswer(Base):
    """Which theme an answer is in, who put it there, and the officer's marks on it."""

    __tablename__ = "theme_answers"

    answer_id: Mapped[int] = mapped_column(ForeignKey("answers.id", ondelete="CASCADE"), primary_key=True)
    theme_id: Mapped[int] = mapped_column(ForeignKey("themes.id", ondelete="CASCADE"), index=True)
    flow_id: Mapped[str] = mapped_column(String(100))
    step_id: Mapped[str] = mapped_column(String(100))
    # analysis (found with the themes), assigned (a new answer put in the nearest theme), officer (moved)
    placed_by: Mapped[str] = mapped_column(String(16), default="analysis")
    similarity: Mapped[float | None] = mapped_column(Float)
    # The first answer of its group of near-identical texts (a campaign, copy-paste); None when alone.
    copy_of: Mapped[int | None] = mapped_column(Integer)
    needs_reply: Mapped[bool] = mapped_column(Boolean, default=False)
    out_of_scope: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_theme_answers_flow_step", "flow_id", "step_id"),)
