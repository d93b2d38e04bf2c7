"""Contacts and stakeholders: addresses, groups, fields, consent, the right to object, export."""
from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from engage.consent import record_basis, record_consent
from store.models import (
    CONSENT_OPTED_IN,
    CONSENT_UNKNOWN,
    Address,
    ConsentRecord,
    Contact,
    ContactGroup,
)

# The languages the service ships system messages and flows in.
LANGUAGES = ("en", "cy", "pl", "ro", "pa", "ur", "bn", "pt", "ar", "so")
DEFAULT_REGION = "GB"
# UK GDPR article 9: stored only with an explicit "special_category" consent record.
SPECIAL_CATEGORY_FIELDS = frozenset({
    "ethnicity", "ethnic_origin", "race", "disability", "disabled", "health", "religion", "belief",
    "sexual_orientation", "sex_life", "political_opinion", "trade_union", "genetic", "biometric",
})
_SPECIAL_PREFIXES = ("ethnic", "disab", "health", "religio", "sexual_orientation")
_TELEGRAM_ID = re.compile(r"^-?\d{1,20}$")
_FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
# Columns of Contact itself; anything else an importer or the API sends is a field.
CORE_NAMES = frozenset({"name", "language", "organisation", "role", "groups", "phone", "telegram_id"})


class ContactError(ValueError):
    """Input about a contact that cannot be used; names the field at fault."""

    def __init__(self, field: str, message: str, code: str = "invalid"):
        super().__init__(message)
        self.field = field
        self.message = message
        self.code = code


# ----- addresses ----------------------------------------------------------------------


# The number types phonenumbers knows that can receive a text message.
_SMS_TYPES = frozenset({PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE})
_TYPE_WORDS = {
    PhoneNumberType.TOLL_FREE: "freephone", PhoneNumberType.PREMIUM_RATE: "premium-rate",
    PhoneNumberType.SHARED_COST: "shared-cost", PhoneNumberType.VOIP: "internet (VoIP)",
    PhoneNumberType.PERSONAL_NUMBER: "personal (070)", PhoneNumberType.PAGER: "pager",
    PhoneNumberType.UAN: "company (UAN)", PhoneNumberType.VOICEMAIL: "voicemail",
}


def normalise_phone(raw: str, *, region: str = DEFAULT_REGION, for_sms: bool = True) -> str:
    """Return a phone number in E.164, or raise ContactError saying why it cannot be used."""
    text = (raw or "").strip()
    if not text:
        raise ContactError("phone", "no phone number given", "missing")
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException:
        raise ContactError("phone", "invalid phone number") from None
    # number_type is UNKNOWN exactly when the number is not valid; asking once
    # instead of also calling is_valid_number halves the cost of a big import.
    kind = phonenumbers.number_type(number)
    if kind == PhoneNumberType.UNKNOWN:
        raise ContactError("phone", "invalid phone number")
    if for_sms and kind == PhoneNumberType.FIXED_LINE:
        raise ContactError("phone", "landline number: it cannot receive SMS", "landline")
    if for_sms and kind not in _SMS_TYPES:
        # Freephone (0800), premium rate (09), shared cost, personal (070), VoIP and the like take no texts.
        raise ContactError("phone", f"{_TYPE_WORDS.get(kind, 'this kind of')} number: it cannot receive SMS",
                           "not_mobile")
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def normalise_telegram_id(raw: str | int) -> str:
    """Return a Telegram chat id as text, or raise ContactError."""
    text = str(raw).strip()
    if not _TELEGRAM_ID.match(text):
        raise ContactError("telegram_id", "Telegram chat id must be a whole number")
    return str(int(text))


def normalise_field_name(raw: str) -> str:
    """Turn a column heading such as "Post Code" into a field name such as "post_code"."""
    return re.sub(r"[^a-z0-9]+", "_", raw.strip().lower()).strip("_")


def is_special_category(field: str) -> bool:
    """Return True for fields that hold special-category data (ethnicity, disability, health...)."""
    name = normalise_field_name(field)
    return name in SPECIAL_CATEGORY_FIELDS or name.startswith(_SPECIAL_PREFIXES)


# ----- looking up ---------------------------------------------------------------------


def find_by_address(session: Session, channel: str, value: str) -> Contact | None:
    """Return the contact reachable at this exact address, if any."""
    return session.scalar(
        select(Contact).join(Address).where(Address.channel == channel, Address.address == value)
    )


def find_contact(session: Session, *, phone: str | None = None, telegram_id: str | int | None = None,
                 contact_id: int | None = None) -> Contact | None:
    """Return the contact with this id, phone number (any spelling) or Telegram chat id."""
    if contact_id is not None:
        return session.get(Contact, contact_id)
    if phone is not None:
        try:
            e164 = normalise_phone(phone, for_sms=False)
        except ContactError:
            return None
        return find_by_address(session, "sms", e164)
    if telegram_id is not None:
        try:
            return find_by_address(session, "telegram", normalise_telegram_id(telegram_id))
        except ContactError:
            return None
    return None


def resolve_contact(session: Session, reference: str) -> Contact | None:
    """Find a contact from what an officer typed: a phone number, `telegram:ID`, or a contact id."""
    ref = reference.strip()
    if ref.lower().startswith(("telegram:", "tg:")):
        return find_contact(session, telegram_id=ref.split(":", 1)[1])
    if ref.lower().startswith(("id:", "#")):
        digits = ref.split(":", 1)[1] if ":" in ref else ref[1:]
        return session.get(Contact, int(digits)) if digits.strip().isdigit() else None
    if ref.startswith("+") or len(re.sub(r"\D", "", ref)) >= 10:
        found = find_contact(session, phone=ref)
        if found is not None or ref.startswith("+"):
            return found
    if ref.isdigit():
        return session.get(Contact, int(ref)) if len(ref) < 10 else None
    return None


# ----- creating and changing -------------------------------------------------------------


def _check_language(language: str | None) -> str | None:
    if language is None or language == "":
        return None
    code = language.strip().lower()
    if code not in LANGUAGES:
        raise ContactError("language", f"unknown language '{language}'; use one of {', '.join(LANGUAGES)}")
    return code


def _check_text(field: str, value: Any, max_length: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ContactError(field, f"{field} must be text")
    text = value.strip()
    if "\x00" in text:
        raise ContactError(field, f"{field} contains a NUL character")
    if len(text) > max_length:
        raise ContactError(field, f"{field} is longer than {max_length} characters")
    return text or None


def check_fields(fields: dict[str, Any], *, special_category_allowed: bool) -> dict[str, Any]:
    """Validate contact fields; refuse special-category ones without explicit consent."""
    if not isinstance(fields, dict):
        raise ContactError("fields", "fields must be an object")
    clean: dict[str, Any] = {}
    for key, value in fields.items():
        name = normalise_field_name(str(key))
        if not _FIELD_NAME.match(name) or name in CORE_NAMES:
            raise ContactError(f"fields.{key}", f"'{key}' cannot be used as a field name")
        if isinstance(value, (dict, list)):
            raise ContactError(f"fields.{key}", "a field holds text, a number or true/false")
        if isinstance(value, str):
            value = _check_text(f"fields.{key}", value, 500)
        if is_special_category(name) and value is not None and not special_category_allowed:
            raise ContactError(f"fields.{key}", f"'{key}' is special-category data: it is stored only with "
                                                "the resident's explicit consent", "special_category")
        clean[name] = value
    return clean


def add_address(session: Session, contact: Contact, channel: str, value: str, now: datetime) -> Address:
    """Give a contact another address; refuse one that belongs to someone else."""
    existing = session.scalar(select(Address).where(Address.channel == channel, Address.address == value))
    if existing is not None:
        if existing.contact_id != contact.id:
            field = "phone" if channel == "sms" else "telegram_id"
            raise ContactError(field, "this address belongs to another contact", "conflict")
        return existing
    address = Address(contact_id=contact.id, channel=channel, address=value, consent=CONSENT_UNKNOWN,
                      preferred=not contact.addresses, created_at=now)
    session.add(address)
    session.flush()
    contact.addresses.append(address)
    return address


def add_to_groups(session: Session, contact: Contact, names: Iterable[str]) -> list[str]:
    """Add the contact to each named group it is not yet in; return the names added.

    A group is one group whatever the spelling: "Tenants" joins the existing "tenants" (engage.field_values).
    """
    from engage.field_values import fold

    have = {fold(g.name) for g in contact.groups}
    spelling = {fold(name): name for name in session.scalars(select(ContactGroup.name).distinct())}
    added = []
    for raw in names:
        name = _check_text("groups", raw, 100)
        if name and fold(name) not in have:
            name = spelling.setdefault(fold(name), name)
            contact.groups.append(ContactGroup(name=name))
            have.add(fold(name))
            added.append(name)
    session.flush()
    return added


def has_special_category_consent(session: Session, contact_id: int | None) -> bool:
    """Return True when the contact's latest special-category consent record is an opt-in."""
    if contact_id is None:
        return False
    action = session.scalar(
        select(ConsentRecord.action)
        .where(ConsentRecord.contact_id == contact_id, ConsentRecord.scope == "special_category")
        .order_by(ConsentRecord.at.desc(), ConsentRecord.id.desc()).limit(1)
    )
    return action == "opt_in"


def record_special_category_consent(session: Session, contact: Contact, now: datetime, *, source: str,
                                    wording: str | None, action: str = "opt_in") -> ConsentRecord:
    """Record explicit consent (or its withdrawal) to hold special-category fields."""
    record = ConsentRecord(contact_id=contact.id, scope="special_category", action=action, source=source,
                           wording=wording, at=now)
    session.add(record)
    if action == "opt_out":
        # Withdrawn consent: the data goes with it.
        contact.fields = {k: v for k, v in (contact.fields or {}).items() if not is_special_category(k)}
        contact.updated_at = now
    session.flush()
    return record


def special_category_guard(session: Session, contact: Contact, field: str) -> bool:
    """Return True when a field may be stored on this contact (the conversation service asks this)."""
    return not is_special_category(field) or has_special_category_consent(session, contact.id)


def set_do_not_contact(session: Session, contact: Contact, now: datetime, *, objected: bool = True,
                       source: str = "officer", wording: str | None = None) -> ConsentRecord:
    """Record the right to object: no broadcasts, reminders or updates while it is set."""
    contact.do_not_contact = objected
    contact.updated_at = now
    record = ConsentRecord(contact_id=contact.id, scope="consultations", action="opt_out" if objected else "opt_in",
                           source=source, wording=wording, at=now)
    session.add(record)
    session.flush()
    return record


def record_channel_consent(session: Session, address: Address, now: datetime, *, source: str,
                           wording: str | None, at: datetime | None = None) -> ConsentRecord | None:
    """Opt an address in from an outside source (import, officer); never overrides an opt-out."""
    if address.consent not in (CONSENT_UNKNOWN, CONSENT_OPTED_IN):
        return None
    return record_consent(session, address, "opt_in", source, at or now, wording=wording)


def create_contact(session: Session, now: datetime, *, name: str | None = None, phone: str | None = None,
                   telegram_id: str | int | None = None, language: str | None = None,
                   fields: dict[str, Any] | None = None, groups: Iterable[str] = (),
                   organisation: str | None = None, role: str | None = None,
                   consent_source: str | None = None, consent_at: datetime | None = None,
                   consent_via: str = "officer", special_category_consent: str | None = None,
                   consent_for: Iterable[str] = ("service",)) -> Contact:
    """Create a contact with its addresses; without a consent source it may not be messaged yet.

    A consent source is also the recorded basis for broadcasts of the classes in `consent_for`
    (by default "service" only: promotional messages need it said).
    """
    if not phone and telegram_id in (None, ""):
        raise ContactError("phone", "give a phone number or a Telegram chat id", "missing")
    consent_source = _check_text("consent_source", consent_source, 500)
    special_category_consent = _check_text("special_category_consent", special_category_consent, 500)
    e164 = normalise_phone(phone) if phone else None
    tg = normalise_telegram_id(telegram_id) if telegram_id not in (None, "") else None
    for channel, value, field in (("sms", e164, "phone"), ("telegram", tg, "telegram_id")):
        if value and session.scalar(select(Address.id).where(Address.channel == channel, Address.address == value)):
            raise ContactError(field, "a contact with this address already exists", "conflict")
    contact = Contact(
        name=_check_text("name", name, 200), language=_check_language(language), fields={},
        organisation=_check_text("organisation", organisation, 200), role=_check_text("role", role, 200),
        created_at=now, updated_at=now,
    )
    session.add(contact)
    session.flush()
    if special_category_consent:
        record_special_category_consent(session, contact, now, source="officer", wording=special_category_consent)
    contact.fields = check_fields(fields or {}, special_category_allowed=bool(special_category_consent))
    for channel, value in (("sms", e164), ("telegram", tg)):
        if value:
            address = add_address(session, contact, channel, value, now)
            if consent_source:
                record_channel_consent(session, address, now, source=consent_via, wording=consent_source,
                                       at=consent_at)
    if consent_source:
        for message_class in dict.fromkeys(consent_for):
            record_basis(session, contact, message_class, consent_at or now, source=consent_via,
                         wording=consent_source)
    add_to_groups(session, contact, groups)
    return contact


def update_contact(session: Session, contact: Contact, now: datetime, **changes: Any) -> Contact:
    """Change a contact's details; fields are merged, groups added, addresses added."""
    if contact.erased_at is not None:
        raise ContactError("id", "this contact was erased", "erased")
    if "name" in changes:
        contact.name = _check_text("name", changes["name"], 200)
    if "language" in changes:
        contact.language = _check_language(changes["language"])
    for key in ("organisation", "role"):
        if key in changes:
            setattr(contact, key, _check_text(key, changes[key], 200))
    if changes.get("fields"):
        allowed = has_special_category_consent(session, contact.id)
        merged = {**(contact.fields or {}), **check_fields(changes["fields"], special_category_allowed=allowed)}
        contact.fields = {k: v for k, v in merged.items() if v is not None}
    if changes.get("phone"):
        add_address(session, contact, "sms", normalise_phone(changes["phone"]), now)
    if changes.get("telegram_id") not in (None, ""):
        add_address(session, contact, "telegram", normalise_telegram_id(changes["telegram_id"]), now)
    if changes.get("groups"):
        add_to_groups(session, contact, changes["groups"])
    if "do_not_contact" in changes and bool(changes["do_not_contact"]) != contact.do_not_contact:
        set_do_not_contact(session, contact, now, objected=bool(changes["do_not_contact"]))
    contact.updated_at = now
    session.flush()
    return contact


def shareable_fields(fields: dict[str, Any] | None) -> dict[str, Any]:
    """A contact's fields without special-category ones: those leave the service only as counts."""
    return {k: v for k, v in (fields or {}).items() if not is_special_category(k)}


def contact_as_dict(contact: Contact) -> dict[str, Any]:
    """Describe a contact for the API and exports (special-category fields left out: see shareable_fields)."""
    by_channel: dict[str, Address] = {}
    for address in contact.addresses:
        by_channel.setdefault(address.channel, address)
    phone, telegram = by_channel.get("sms"), by_channel.get("telegram")
    return {
        "id": contact.id,
        "name": contact.name,
        "phone": phone.address if phone else None,
        "telegram_id": telegram.address if telegram else None,
        "language": contact.language,
        "organisation": contact.organisation,
        "role": contact.role,
        "groups": sorted(g.name for g in contact.groups),
        "fields": shareable_fields(contact.fields),
        "consent": {a.channel: a.consent for a in contact.addresses},
        "do_not_contact": contact.do_not_contact,
        "erased": contact.erased_at is not None,
        "created_at": contact.created_at.isoformat() if contact.created_at else None,
        "updated_at": contact.updated_at.isoformat() if contact.updated_at else None,
    }


EXPORT_COLUMNS = ["id", "name", "phone", "telegram_id", "language", "groups", "organisation", "role",
                  "sms_consent", "telegram_consent", "do_not_contact"]


def export_contacts_csv(session: Session, out: io.TextIOBase | None = None, batch: int = 1000) -> str | None:
    """Write every contact not erased as CSV (same columns the importer reads); return the text if no stream."""
    target = out if out is not None else io.StringIO()
    rows: list[dict[str, Any]] = []
    field_names: set[str] = set()
    last_id = 0
    while True:
        contacts = session.scalars(
            select(Contact).where(Contact.erased_at.is_(None), Contact.id > last_id).order_by(Contact.id)
            .limit(batch).options(selectinload(Contact.addresses), selectinload(Contact.groups))
        ).all()
        if not contacts:
            break
        last_id = contacts[-1].id
        for contact in contacts:
            data = contact_as_dict(contact)
            row = {k: data[k] for k in ("id", "name", "phone", "telegram_id", "language", "organisation", "role")}
            row["groups"] = ";".join(data["groups"])
            row["sms_consent"] = data["consent"].get("sms", "")
            row["telegram_consent"] = data["consent"].get("telegram", "")
            row["do_not_contact"] = "yes" if contact.do_not_contact else ""
            for key, value in shareable_fields(contact.fields).items():
                row[key] = value
                field_names.add(key)
            rows.append(row)
    writer = csv.DictWriter(target, fieldnames=EXPORT_COLUMNS + sorted(field_names), extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _csv_safe(v) for k, v in row.items()})
    return target.getvalue() if out is None else None


def _csv_safe(value: Any) -> Any:
    # A cell starting with = + - @ is run as a formula by spreadsheets; resident
    # text is data, never code. Phone numbers (+44...) are left as they are.
    if isinstance(value, str) and value[:1] in ("=", "-", "@", "\t", "\r") or (
            isinstance(value, str) and value.startswith("+") and not value[1:].isdigit()):
        return "'" + value
    return "" if value is None else value


__all__ = [
    "CONSENT_OPTED_IN", "LANGUAGES", "ContactError", "add_address", "add_to_groups", "contact_as_dict",
    "create_contact", "export_contacts_csv", "find_by_address", "find_contact", "has_special_category_consent",
    "is_special_category", "normalise_phone", "normalise_telegram_id", "record_channel_consent",
    "record_special_category_consent", "resolve_contact", "set_do_not_contact", "special_category_guard",
    "update_contact",
]
