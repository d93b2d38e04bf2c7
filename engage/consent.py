"""The one check that decides whether a message may go to an address, and consent changes."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from store.models import (
    CONSENT_OPTED_IN,
    CONSENT_OPTED_OUT,
    Address,
    ConsentRecord,
    Contact,
)

# Outreach the resident did not ask for in this conversation; the right to
# object (Contact.do_not_contact) applies to these.
BULK_KINDS = frozenset({"broadcast", "reminder", "update"})
# The single message confirming an opt-out may go to an address that has just opted out.
STOP_CONFIRMATION = "stop_confirmation"


def may_send(contact: Contact | None, address: Address | None, kind: str) -> tuple[bool, str | None]:
    """Return (allowed, reason refused); run at enqueue time and again just before sending."""
    if contact is None or address is None:
        return False, "no_contact"
    if contact.erased_at is not None:
        return False, "erased"
    if not address.usable:
        return False, "unusable"
    if kind == STOP_CONFIRMATION:
        return True, None
    if address.consent == CONSENT_OPTED_OUT:
        return False, "opted_out"
    if address.consent != CONSENT_OPTED_IN:
        return False, "no_consent"
    if kind in BULK_KINDS and contact.do_not_contact:
        return False, "objected"
    return True, None


def record_consent(
    session: Session,
    address: Address,
    action: str,
    source: str,
    now: datetime,
    wording: str | None = None,
) -> ConsentRecord:
    """Set an address's consent and keep a record of how and when."""
    address.consent = CONSENT_OPTED_IN if action == "opt_in" else CONSENT_OPTED_OUT
    record = ConsentRecord(
        contact_id=address.contact_id,
        address_id=address.id,
        channel=address.channel,
        scope="channel",
        action=action,
        source=source,
        wording=wording,
        at=now,
    )
    session.add(record)
    return record
