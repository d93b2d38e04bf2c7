"""Factories for results, representativeness and dashboard tests: rows written straight to the database."""
from __future__ import annotations

import hashlib
import itertools
from datetime import datetime, timedelta
from typing import Any

from store.models import Address, Answer, Contact, FlowVersion, OutboxMessage, Run

# A flow an officer uploads with one mistake: its `next` names a step that does not exist (line 13).
BAD_FLOW = """id: bins
title: Bin collections
languages: [en]
keywords: [BINS]
steps:
  - id: happy
    ask:
      en: Are you happy with bin collections?
    choices:
      - {value: happy, en: Happy}
      - {value: unhappy, en: Not happy}
    next:
      default: nowhere
"""

_numbers = itertools.count(1)


def flow_version(s, flow_id: str, source: str = "id: x\nsteps: []\n") -> FlowVersion:
    """Store (or find) a version row for a flow's source."""
    version = hashlib.sha256(source.encode()).hexdigest()
    row = s.query(FlowVersion).filter_by(flow_id=flow_id, version=version).one_or_none()
    if row is None:
        row = FlowVersion(flow_id=flow_id, version=version, title=flow_id, source=source)
        s.add(row)
        s.flush()
    return row


def respondent(s, *, fields: dict[str, Any] | None = None, language: str = "en", channel: str = "sms",
               name: str | None = None) -> tuple[Contact, Address]:
    """Make a contact with one opted-in address."""
    contact = Contact(fields=fields or {}, language=language, name=name)
    s.add(contact)
    s.flush()
    address = Address(contact_id=contact.id, channel=channel, address=f"+4477009{next(_numbers):05d}",
                      consent="opted_in", preferred=True)
    s.add(address)
    s.flush()
    return contact, address


def run_with_answers(s, flow_id: str, contact: Contact, answers: dict[str, Any], *, started: datetime,
                     status: str = "completed", channel: str = "sms", language: str = "en",
                     seconds_apart: int = 60, broadcast_id: int | None = None, started_by: str = "keyword",
                     current_step: str | None = None, raw: dict[str, str] | None = None,
                     skipped: tuple[str, ...] = ()) -> Run:
    """Make a run of a flow for a contact, with an answer per step `seconds_apart` after each other."""
    version = flow_version(s, flow_id)
    run = Run(contact_id=contact.id, flow_id=flow_id, flow_version_id=version.id, channel=channel,
              language=language, status=status, state={"step": current_step} if current_step else {},
              current_step=current_step if status == "active" else None, started_at=started, updated_at=started,
              started_by=started_by, broadcast_id=broadcast_id)
    s.add(run)
    s.flush()
    when = started
    for step_id, value in answers.items():
        when = when + timedelta(seconds=seconds_apart)
        s.add(Answer(run_id=run.id, flow_id=flow_id, step_id=step_id, contact_id=contact.id, value=value,
                     raw_text=(raw or {}).get(step_id, value if isinstance(value, str) else str(value)),
                     skipped=step_id in skipped, language=language, channel=channel, answered_at=when))
        if step_id not in skipped and run.answered_at is None:
            run.answered_at = when  # as the conversation service keeps it
    if status == "completed":
        run.finished_at = when
    s.flush()
    return run


def broadcast_message(s, broadcast_id: int, contact: Contact, address: Address, *, status: str = "delivered",
                      at: datetime, error_code: str | None = None) -> OutboxMessage:
    """Make a broadcast outbox row in a given delivery state."""
    row = OutboxMessage(contact_id=contact.id, address_id=address.id, channel=address.channel, kind="broadcast",
                        priority=10, payload={"type": "text", "text": "Have your say"}, status=status,
                        broadcast_id=broadcast_id, created_at=at, updated_at=at,
                        sent_at=at if status in ("sent", "delivered") else None, error_code=error_code,
                        dedupe_key=f"broadcast:{broadcast_id}:contact:{contact.id}")
    s.add(row)
    s.flush()
    return row


def cheap_password_hashing():
    """Use argon2's cheapest parameters so tests spend no time hashing; yields, then restores the default."""
    from argon2 import PasswordHasher
    from argon2.profiles import CHEAPEST

    from engage import officers

    officers.use_hasher(PasswordHasher.from_parameters(CHEAPEST))
    yield
    officers.use_hasher(PasswordHasher())
