"""The one check that decides whether a message may go to an address, and consent changes."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
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

# Classes of broadcast, each needing its own recorded basis (a ConsentRecord of that scope, latest
# action opt_in): taking part in a consultation is consent to that conversation and its "you said,
# we did", nothing more. "service": about a consultation or a service the resident uses;
# "promotional": events, paid services.
SERVICE = "service"
PROMOTIONAL = "promotional"
MESSAGE_CLASSES = (SERVICE, PROMOTIONAL)
# How a basis is recorded: a contact import (or officer, API) with a stated source, the citizens'
# panel sign-up, a YES to "may we text you about future consultations?" (a flow step with
# `consent_for: service`).
BASIS_SOURCES = ("import", "officer", "api", "web_form", "flow", "carried_over")


def may_send(contact: Contact | None, address: Address | None, kind: str, *, message_class: str | None = None,
             bases: Iterable[str] = ()) -> tuple[bool, str | None]:
    """Return (allowed, reason refused); run at enqueue time and again just before sending.

    `message_class` (a broadcast's class) needs that class among the contact's recorded `bases`
    (`bases_of`). `contact` and `address` may be any objects with these models' attributes (the
    sender passes one result row for both).
    """
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
    if message_class is not None and message_class not in bases:
        return False, f"no_{message_class}_basis"
    return True, None


def bases_of(session: Session, contact_ids: Iterable[int]) -> dict[int, set[str]]:
    """Return each contact's current broadcast bases ({"service", "promotional"}): the latest record wins."""
    ids = list(set(contact_ids))
    found: dict[int, set[str]] = {}
    if not ids:
        return found
    latest: dict[tuple[int, str], str] = {}
    for start in range(0, len(ids), 1000):
        rows = session.execute(
            select(ConsentRecord.contact_id, ConsentRecord.scope, ConsentRecord.action)
            .where(ConsentRecord.contact_id.in_(ids[start:start + 1000]),
                   ConsentRecord.scope.in_(MESSAGE_CLASSES))
            .order_by(ConsentRecord.at, ConsentRecord.id))
        for contact_id, scope, action in rows:
            latest[(contact_id, scope)] = action
    for (contact_id, scope), action in latest.items():
        if action == "opt_in":
            found.setdefault(contact_id, set()).add(scope)
    return found


def record_basis(session: Session, contact: Contact, message_class: str, now: datetime, *, source: str,
                 wording: str | None = None, action: str = "opt_in") -> ConsentRecord:
    """Record (or withdraw, action "opt_out") a resident's basis for broadcasts of one class."""
    if message_class not in MESSAGE_CLASSES:
        raise ValueError(f"message class must be one of {', '.join(MESSAGE_CLASSES)}")
    record = ConsentRecord(contact_id=contact.id, scope=message_class, action=action, source=source,
                           wording=wording, at=now)
    session.add(record)
    return record


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


def opt_out_everywhere(session: Session, address: Address, source: str, now: datetime,
                       wording: str | None = None) -> list[ConsentRecord]:
    """Opt out the address a STOP came from and every other address of the same person.

    STOP stops every message to that person on every channel (SMS, Telegram, web chat); START later
    opens only the address it comes from.
    """
    records = [record_consent(session, address, "opt_out", source, now, wording=wording)]
    others = session.scalars(select(Address).where(Address.contact_id == address.contact_id,
                                                   Address.id != address.id,
                                                   Address.consent != CONSENT_OPTED_OUT)).all()
    for other in others:
        records.append(record_consent(session, other, "opt_out", source, now, wording=wording))
    return records
