"""A fake Twilio on a local port, and residents and outbox rows to send to."""
from __future__ import annotations

import itertools

from store.models import Address, Contact, OutboxMessage
from tests.support.twilio_fake import fake_twilio  # noqa: F401  (fixture)

_phones = itertools.count(100)


def add_resident(db, clock, phone=None, consent="opted_in", channel="sms", **contact_fields) -> Address:
    """Store a contact with one address and return the address."""
    phone = phone or f"+4477009{next(_phones):05d}"
    with db.session() as s:
        contact = Contact(fields={}, created_at=clock.now(), updated_at=clock.now(), **contact_fields)
        s.add(contact)
        s.flush()
        address = Address(contact_id=contact.id, channel=channel, address=phone, consent=consent,
                          created_at=clock.now())
        s.add(address)
    return address


def queue_message(db, clock, address: Address, kind="reply", text="Hello from Harlow Council.", **values) -> int:
    """Put one row in the outbox directly and return its id."""
    from engage.outbox import priority_for

    with db.session() as s:
        row = OutboxMessage(contact_id=address.contact_id, address_id=address.id, channel=address.channel,
                            kind=kind, priority=priority_for(kind), payload={"type": "text", "text": text,
                                                                             "lang": "en"},
                            language="en", status="queued", created_at=clock.now(), updated_at=clock.now(),
                            **values)
        s.add(row)
        s.flush()
        return row.id


def outbox_row(db, row_id: int) -> OutboxMessage:
    with db.session() as s:
        return s.get(OutboxMessage, row_id)
