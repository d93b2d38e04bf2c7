"""WhatsApp's rules, kept by the service: the 24-hour window, approved templates, one contact per number.

WhatsApp lets a business send free-form messages only within 24 hours of the resident's last
message to it. Outside that window only an approved template (a Twilio Content `ContentSid`
with its variables) may be sent. A flow names its templates per language
(`whatsapp_templates: {en: HX..., cy: HX...}`), and so may a broadcast; a message that would
leave outside the window without one is not sent: it is skipped with `whatsapp_no_template`
and counted.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.models import Address

CHANNEL = "whatsapp"
# The prefix Twilio puts on WhatsApp addresses (From=whatsapp:+447700900123).
PREFIX = "whatsapp:"
WINDOW = timedelta(hours=24)
# The reason a WhatsApp message outside the window was not sent: no approved template for it.
NO_TEMPLATE = "whatsapp_no_template"
# Channels whose address is a phone number: one person's number on each is one contact.
PHONE_CHANNELS = ("sms", "whatsapp", "voice")
# A Twilio Content SID: HX and 32 hex digits.
CONTENT_SID = re.compile(r"^HX[0-9a-fA-F]{32}$")
# Payload key: the approved template (ContentSid) to send when the window is closed.
TEMPLATE_KEY = "whatsapp_template"
# Payload key set on a claimed row (never stored) when the window is closed: send the template.
CLOSED_KEY = "whatsapp_window_closed"


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def in_window(last_inbound_at: datetime | None, now: datetime) -> bool:
    """Return True while free-form messages may go: within 24 hours of the resident's last message."""
    return last_inbound_at is not None and _aware(now) - _aware(last_inbound_at) < WINDOW


def template_for(templates: Mapping[str, str] | None, lang: str | None, base: str | None = None) -> str | None:
    """Return the approved template for the message's language (else the base language's), or None."""
    templates = templates or {}
    for code in (lang, base):
        if code and templates.get(code):
            return str(templates[code])
    return None


def valid_templates(value: Any) -> dict[str, str]:
    """Return {lang: ContentSid} from an officer's or API's input; raise ValueError naming a bad one."""
    if not value:
        return {}
    if not isinstance(value, Mapping):
        raise ValueError("WhatsApp templates are given per language, e.g. {en: HX...}")
    result = {}
    for lang, sid in value.items():
        sid = str(sid or "").strip()
        if not sid:
            continue
        if not CONTENT_SID.match(sid):
            raise ValueError(f"the WhatsApp template for {lang} should be a Content SID (HX and 32 hex digits)")
        result[str(lang)] = sid
    return result


def closed_window_check(channel: str, last_inbound_at: datetime | None, now: datetime,
                        payload: dict[str, Any]) -> tuple[bool, str | None]:
    """Return (window closed, reason not to send): a WhatsApp message outside the window goes only as a
    template; without one its reason is NO_TEMPLATE. Other channels are never held."""
    if channel != CHANNEL or in_window(last_inbound_at, now):
        return False, None
    if payload.get(TEMPLATE_KEY):
        return True, None
    return True, NO_TEMPLATE


def with_template(payload: dict[str, Any], channel: str, last_inbound_at: datetime | None, now: datetime,
                  templates: Mapping[str, str] | None, lang: str | None,
                  base: str | None = None) -> tuple[dict[str, Any], str | None]:
    """Give a bulk payload (broadcast, reminder, update) the template it needs outside the window.

    Return (payload, None), or (payload, NO_TEMPLATE) when the message may not go: a WhatsApp resident
    outside the window and no approved template for their language.
    """
    if channel != CHANNEL:
        return payload, None
    sid = template_for(templates, lang, base)
    if sid:
        # Kept even inside the window: the window may close before the message leaves (quiet hours).
        payload = {**payload, TEMPLATE_KEY: sid}
    if in_window(last_inbound_at, now) or sid:
        return payload, None
    return payload, NO_TEMPLATE


def template_variables(text: str) -> dict[str, str]:
    """Return the template's variables: {{1}} is the message's whole text (a question with its numbered
    options and how to reply) on one line.

    WhatsApp refuses variables with new lines, tabs or more than four spaces in a row.
    """
    return {"1": re.sub(r"\s+", " ", text or "").strip()[:1024]}


def whatsapp_address(number: str) -> str:
    """Return the address Twilio sends WhatsApp messages to (whatsapp:+44...)."""
    return number if number.startswith(PREFIX) else PREFIX + number


def phone_owner(s: Session, channel: str, value: str) -> int | None:
    """Return the contact that already has this phone number on another phone channel, if any.

    The SMS and WhatsApp (and phone call) addresses of one number belong to one contact.
    """
    if channel not in PHONE_CHANNELS or not value:
        return None
    others = [c for c in PHONE_CHANNELS if c != channel]
    return s.scalar(select(Address.contact_id).where(Address.channel.in_(others), Address.address == value)
                    .order_by(Address.id).limit(1))


def outside_window(s: Session, rules: dict[str, Any], now: datetime) -> dict[str | None, int]:
    """Count a segment's residents whom a broadcast would reach on WhatsApp outside its 24-hour window, by
    their preferred language (None: not known): they get the broadcast only as an approved template."""
    from engage import segments
    from engage.broadcasts import choose_address
    from store.models import Contact

    ids = segments.contacts_query(rules, now).subquery()
    rows = s.execute(
        select(Address.contact_id, Address.id, Address.channel, Address.consent, Address.usable, Address.preferred,
               Address.last_inbound_at, Address.created_at, Contact.language)
        .join(Contact, Contact.id == Address.contact_id)
        .where(Address.contact_id.in_(select(ids.c.id)),
               Address.contact_id.in_(select(Address.contact_id).where(Address.channel == CHANNEL))))
    by_contact: dict[int, list] = {}
    for row in rows:
        by_contact.setdefault(row.contact_id, []).append(row)
    counts: dict[str | None, int] = {}
    for addresses in by_contact.values():
        chosen, _reason = choose_address(addresses)
        if chosen is not None and chosen.channel == CHANNEL and not in_window(chosen.last_inbound_at, now):
            counts[chosen.language] = counts.get(chosen.language, 0) + 1
    return counts


def skipped_without_template(counts: Mapping[str | None, int], templates: Mapping[str, str] | None,
                             languages: list[str] | tuple[str, ...], base: str) -> int:
    """Return how many of `counts` (from `outside_window`) no template reaches: their message's language
    (theirs when the broadcast has it, else the base language) has no approved template, nor has the base."""
    missing = 0
    for lang, count in counts.items():
        message_lang = lang if lang in languages else base
        if template_for(templates, message_lang, base) is None:
            missing += count
    return missing
