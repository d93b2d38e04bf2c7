"""Which languages a bulk message's audience prefers, and who will get the base language instead, and why.

The broadcast, update and assisted-entry forms show this before anything is sent: a box per language
the audience prefers, with how many residents prefer it, and a plain warning for every resident who
will get the base language because the message (or the flow) has no text in theirs. After sending,
`fallbacks_sent` counts a broadcast's from the outbox (payload `fallback_from`), per language.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engage import segments
from store.models import Contact, OutboxMessage, Run


@dataclass(frozen=True)
class Fallback:
    """Residents who prefer `lang` and will get `base` instead; `reason` is "no_text" or "flow_lacks"."""

    lang: str
    count: int
    base: str
    reason: str


def segment_languages(s: Session, rules: dict[str, Any], now: datetime) -> dict[str | None, int]:
    """Count a segment's residents by preferred language (None: not known)."""
    ids = segments.contacts_query(rules, now).subquery()
    rows = s.execute(select(Contact.language, func.count()).where(Contact.id.in_(select(ids.c.id)))
                     .group_by(Contact.language))
    return {lang: n for lang, n in rows}


def participant_languages(s: Session, flow_id: str, include_started: bool = False) -> dict[str | None, int]:
    """Count an update's audience (each participant's latest qualifying run) by the language they answered in."""
    latest = select(func.max(Run.id).label("run_id")).where(Run.flow_id == flow_id, Run.contact_id.is_not(None))
    if not include_started:
        latest = latest.where(Run.status == "completed")
    latest = latest.group_by(Run.contact_id).subquery()
    rows = s.execute(select(Run.language, func.count()).join(latest, latest.c.run_id == Run.id)
                     .group_by(Run.language))
    return {lang: n for lang, n in rows}


def fallbacks(counts: Mapping[str | None, int], offered: Iterable[str], with_text: Iterable[str], base: str,
              ) -> list[Fallback]:
    """Who will get `base` instead of their language: the languages with residents but no text, largest first.

    :param counts: residents per preferred language (None: not known, never a fallback).
    :param offered: the languages a text can be written in (a flow's languages; every language for a message).
    :param with_text: the languages a text was written in.
    """
    offered, with_text = set(offered), set(with_text)
    found = []
    for lang, n in counts.items():
        if not lang or not n or lang == base or lang in with_text:
            continue
        found.append(Fallback(lang, n, base, "no_text" if lang in offered else "flow_lacks"))
    return sorted(found, key=lambda f: (-f.count, f.lang))


def fallbacks_sent(s: Session, broadcast_id: int) -> dict[str, int]:
    """Count the messages a broadcast sent in the base language to residents who wanted another, per language."""
    wanted = OutboxMessage.payload["fallback_from"].as_string()
    stmt = (select(wanted, func.count()).where(OutboxMessage.broadcast_id == broadcast_id, wanted.is_not(None))
            .group_by(wanted))
    return {lang: n for lang, n in s.execute(stmt) if lang}
