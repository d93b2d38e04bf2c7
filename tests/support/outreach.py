"""Residents, runs and outbox rows for the outreach tests, made directly in the database."""
from __future__ import annotations

import itertools
import json
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import text

from store.models import (
    CONSENT_OPTED_IN,
    Address,
    ConsentRecord,
    Contact,
    ContactGroup,
    FlowVersion,
    OutboxMessage,
    Run,
)

_numbers = itertools.count(1)


def make_contact(s, *, language: str | None = None, groups: tuple[str, ...] = (), channel: str = "sms",
                 consent: str = CONSENT_OPTED_IN, usable: bool = True, do_not_contact: bool = False,
                 extra_addresses: tuple[dict[str, Any], ...] = (), bases: tuple[str, ...] = ("service",),
                 **fields: Any) -> Contact:
    """Add a contact with one address (and any extra ones); fields go into Contact.fields.

    `bases`: the broadcast classes the contact has a recorded basis for (as an import with a source gives).
    """
    contact = Contact(language=language, fields=fields, do_not_contact=do_not_contact)
    s.add(contact)
    s.flush()
    for name in groups:
        s.add(ContactGroup(contact_id=contact.id, name=name))
    s.add(Address(contact_id=contact.id, channel=channel, address=_address(channel), consent=consent,
                  usable=usable))
    for extra in extra_addresses:
        extra = dict(extra)
        s.add(Address(contact_id=contact.id, address=_address(extra.get("channel", "sms")), **extra))
    for scope in bases:
        s.add(ConsentRecord(contact_id=contact.id, scope=scope, action="opt_in", source="import",
                            wording="test list", at=datetime(2026, 1, 1, tzinfo=timezone.utc)))
    s.flush()
    return contact


def _address(channel: str) -> str:
    n = next(_numbers)
    return f"+4477009{n:05d}" if channel == "sms" else f"{channel}-{n}"


def consent_special_category(s, contact: Contact, at: datetime, action: str = "opt_in") -> None:
    s.add(ConsentRecord(contact_id=contact.id, scope="special_category", action=action, source="web_form", at=at))
    s.flush()


def make_run(s, contact: Contact, flow_id: str, status: str, at: datetime, *, language: str | None = None,
             address: Address | None = None) -> Run:
    """Add a run of a flow for a contact, on their first address unless told otherwise."""
    version = s.query(FlowVersion).filter_by(flow_id=flow_id).first()
    if version is None:
        version = FlowVersion(flow_id=flow_id, version="test-" + flow_id, source="", title=flow_id)
        s.add(version)
        s.flush()
    address = address or contact.addresses[0]
    run = Run(contact_id=contact.id, flow_id=flow_id, flow_version_id=version.id, address_id=address.id,
              channel=address.channel, language=language or contact.language, status=status, state={},
              started_at=at, updated_at=at, finished_at=at if status != "active" else None)
    s.add(run)
    s.flush()
    return run


def make_sent(s, contact: Contact, at: datetime, kind: str = "broadcast", status: str = "sent") -> OutboxMessage:
    """Add an outbox row already sent to a contact at `at`."""
    address = contact.addresses[0]
    row = OutboxMessage(contact_id=contact.id, address_id=address.id, channel=address.channel, kind=kind,
                        payload={"type": "text", "text": "earlier"}, status=status, created_at=at, updated_at=at,
                        sent_at=at if status in ("sent", "delivered") else None)
    s.add(row)
    s.flush()
    return row


def bulk_contacts(db, count: int, *, ward: str = "Netteswell") -> None:
    """Insert `count` opted-in SMS contacts in two set-based statements (PostgreSQL)."""
    with db.engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO contacts (fields, do_not_contact, created_at, updated_at) "
            "SELECT CAST(:fields AS json), false, now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC' "
            "FROM generate_series(1, :n)"), {"fields": json.dumps({"ward": ward}), "n": count})
        conn.execute(text(
            "INSERT INTO addresses (contact_id, channel, address, consent, usable, preferred, created_at) "
            "SELECT c.id, 'sms', '+44770' || lpad(c.id::text, 7, '0'), :consent, true, true, c.created_at "
            "FROM contacts c LEFT JOIN addresses a ON a.contact_id = c.id WHERE a.id IS NULL"),
            {"consent": CONSENT_OPTED_IN})
        # On the council's list with a stated source: the basis for service broadcasts.
        conn.execute(text(
            "INSERT INTO consent_records (contact_id, scope, action, source, wording, at) "
            "SELECT c.id, 'service', 'opt_in', 'import', 'test list', c.created_at FROM contacts c "
            "WHERE NOT EXISTS (SELECT 1 FROM consent_records r WHERE r.contact_id = c.id AND r.scope = 'service')"))


def engage_services(db, clock, app_config):
    """Build the engage services alone (no web app, no channels) on the test database and clock."""
    from config import Settings
    from engage.services import build_services

    overrides = {k: v for k, v in app_config.items() if k not in ("database", "clock", "testing")}
    return build_services(Settings.from_env(overrides), database=db, clock=clock)
