"""The web chat channel: "sending" marks the outbox row sent, and the chat page reads sent rows for its address.

A resident's browser session is a contact with a `web` address whose value is
a random session token (kept in a signed cookie by the page). Replies go
through the same outbox, sender and consent check as SMS and Telegram.
"""
from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.channel import SendResult
from bot.render import render_web
from locales import languages
from store.models import Address, Contact, InboundMessage, OutboxMessage, Run

CHANNEL = "web"
# Statuses of outbox rows the page shows: what the sender let through. `sending` counts
# too: the web channel cannot fail, and a page read in the instant between claim and
# record should not miss the reply.
SHOWN = ("sending", "sent", "delivered")
MAX_TEXT = 1600


class WebChatChannel:
    """Deliver to the web chat by recording the row as sent; the page polls for it."""

    name = CHANNEL

    def send(self, address: str, payload: dict[str, Any], lang: str | None) -> SendResult:
        """Accept the message for the page; the provider id is a fresh random id."""
        return SendResult("sent", provider_id=f"web-{uuid.uuid4().hex}")


def new_session_token() -> str:
    """Return a random, unguessable session token to use as a web address."""
    return secrets.token_urlsafe(24)


def is_message_id(value: str | None) -> bool:
    """Return True for the UUIDs pages and scripts put on each message (so double submits dedupe)."""
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class ChatEntry:
    """One line of the chat as the page shows it."""

    id: int
    author: str  # "resident" | "council"
    text: str
    lang: str | None
    at: datetime
    # For council questions: render_web's buttons, hint, kind, run and step.
    question: dict[str, Any] | None = None

    @property
    def dir(self) -> str:
        return languages.direction(self.lang)

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "author": self.author, "text": self.text, "lang": self.lang, "dir": self.dir,
                "at": self.at.isoformat(), "question": self.question}


@dataclass
class ChatView:
    """What the page needs: the address's contact, its transcript, and the question awaiting an answer."""

    token: str
    contact_language: str | None = None
    entries: list[ChatEntry] = field(default_factory=list)
    open_question: dict[str, Any] | None = None
    has_run: bool = False
    run_active: bool = False

    @property
    def last_council_id(self) -> int:
        return max((e.id for e in self.entries if e.author == "council"), default=0)


def _address(s: Session, token: str) -> Address | None:
    return s.scalar(select(Address).where(Address.channel == CHANNEL, Address.address == token))


def contact_language(s: Session, token: str) -> str | None:
    """Return the language of the session's contact, or None (new, or not chosen yet)."""
    return s.scalar(select(Contact.language).join(Address, Address.contact_id == Contact.id)
                    .where(Address.channel == CHANNEL, Address.address == token))


def resident_entry(row: InboundMessage) -> ChatEntry:
    """Return what the resident said in one stored message, as the page shows it."""
    return ChatEntry(row.id, "resident", row.text or "", (row.payload or {}).get("lang"), row.received_at)


def resident_entry_for(s: Session, token: str, message_id: str) -> ChatEntry | None:
    """Return the entry of the page's message `message_id` from this session, or None (nothing was said)."""
    row = s.scalar(select(InboundMessage).where(InboundMessage.channel == CHANNEL, InboundMessage.address == token,
                                                InboundMessage.provider_id == str(message_id)))
    return resident_entry(row) if row is not None and row.text is not None else None


def council_entries(s: Session, address_id: int, after: int = 0) -> list[ChatEntry]:
    """Return the messages shown to an address (sent or delivered), oldest first, with id above `after`."""
    rows = s.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.address_id == address_id, OutboxMessage.channel == CHANNEL,
               OutboxMessage.status.in_(SHOWN), OutboxMessage.id > after)
        .order_by(OutboxMessage.id)
    ).all()
    entries = []
    for row in rows:
        payload = dict(row.payload or {})
        lang = payload.get("lang") or row.language
        question = render_web(payload, lang) if payload.get("type") == "question" else None
        entries.append(ChatEntry(row.id, "council", str(payload.get("text") or ""), lang, row.created_at, question))
    return entries


def chat_view(s: Session, token: str, flow_id: str) -> ChatView:
    """Read the transcript of a session and find the question it is waiting on."""
    view = ChatView(token=token)
    address = _address(s, token)
    if address is None:
        return view
    contact = s.get(Contact, address.contact_id)
    view.contact_language = contact.language if contact else None
    said = s.scalars(
        select(InboundMessage)
        .where(InboundMessage.channel == CHANNEL, InboundMessage.address == token, InboundMessage.text.is_not(None))
        .order_by(InboundMessage.id)
    ).all()
    resident = [resident_entry(row) for row in said]
    council = council_entries(s, address.id)
    # A run's opening message is caused by the start, never by a resident's message: the first answer
    # starts the run and is stored in the same moment, so at equal times the opening comes first.
    openings = {}
    for entry in council:
        run_id = (entry.question or {}).get("run_id")
        if run_id is not None:
            openings.setdefault(run_id, entry.id)
    first = set(openings.values())
    # Interleave by time; at equal times a resident's message comes before the reply it caused.
    view.entries = sorted(resident + council, key=lambda e: (
        e.at, 1 if e.author == "resident" else (0 if e.id in first else 2), e.id))
    run = s.scalar(select(Run).where(Run.address_id == address.id, Run.flow_id == flow_id)
                   .order_by(Run.id.desc()).limit(1))
    if run is not None:
        view.has_run = True
        view.run_active = run.status == "active"
    last = next((e for e in reversed(view.entries) if e.author == "council"), None)
    if (last is not None and last.question is not None and run is not None and view.run_active
            and last.question.get("run_id") == run.id and last.question.get("step_id") == run.current_step):
        view.open_question = last.question
    return view


def start_message_id(token: str, flow_id: str) -> str:
    """Return the provider id of a session's first opening of a flow, so reloading the page starts nothing new."""
    return "start-" + uuid.uuid5(uuid.NAMESPACE_URL, f"webchat:{token}:{flow_id}").hex


def label_for(question: dict[str, Any] | None, value: str) -> str | None:
    """Return the label of the button that carries `value` in a rendered question."""
    for button in (question or {}).get("buttons", []):
        if str(button.get("value")) == value:
            return str(button.get("label"))
    return None


def init_app(app, services) -> None:
    """Make the web chat a channel of the sender."""
    services.extras.setdefault("channels", {})[CHANNEL] = WebChatChannel()
