"""Sending texts through the conversation service and reading what it queued, for the language tests."""
from __future__ import annotations

import itertools
from pathlib import Path

from sqlalchemy import select

from store.models import Contact, OutboxMessage

FLOWS = Path(__file__).resolve().parent.parent / "engage" / "flows"
_ids = itertools.count(1)


def text_in(services, text, address="+447700900123", channel="sms", **payload):
    """Store and process one inbound message as a webhook would."""
    row_id, _created = services.conversations.store_inbound(channel, f"LANG{next(_ids):028d}", address, text,
                                                            payload)
    services.conversations.process_inbound(row_id)


def outbox(db) -> list[OutboxMessage]:
    with db.session() as s:
        return list(s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def last(db) -> OutboxMessage:
    return outbox(db)[-1]


def contact_language(db) -> str | None:
    with db.session() as s:
        return s.scalar(select(Contact.language))


def add_test_flow(services, name: str):
    """Publish a flow from tests/engage/flows/ beside the library's."""
    from flows.loader import load_flow

    flow = load_flow(FLOWS / f"{name}.yaml")
    services.registry.add(flow)
    return flow
