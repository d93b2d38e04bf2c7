"""Turn stored inbound messages into runs, answers and replies, one transaction per message.

Messages from the same resident are processed in the order they arrived:
processing locks the resident's address row first (PostgreSQL FOR UPDATE;
SQLite serialises writers with BEGIN IMMEDIATE), then takes that address's
oldest pending message. A crash before commit leaves the message pending, and
the sweep picks it up again.
"""
from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, inspect, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, contains_eager
from sqlalchemy.orm.attributes import set_committed_value

from engage import metrics
from engage.consent import MESSAGE_CLASSES, STOP_CONFIRMATION, opt_out_everywhere, record_basis, record_consent
from engage.field_values import GROUPS, join_groups
from engage.keyboards import clear_answered_keyboards, clear_pressed_keyboard
from engage.keywords import KEYWORDS, normalise
from engage.outbox import enqueue, upsert_insert
from engage.unsolicited import stop_line
from engage.whatsapp import phone_owner
from flows import engine
from flows.events import (
    AnswerRecorded,
    AnswerRejected,
    ContactFieldChanged,
    MessageSaid,
    QuestionAsked,
    RunEnded,
    RunExpired,
    StepSkipped,
)
from locales import i18n
from locales.languages import supported_code
from store.models import (
    CONSENT_OPTED_IN,
    CONSENT_OPTED_OUT,
    Address,
    Answer,
    Contact,
    InboundMessage,
    OutboxMessage,
    Run,
)

log = logging.getLogger(__name__)

_ = i18n.N_
REASONS = {
    "not_a_choice": _("Sorry, please reply with one of the numbers shown."),
    "not_yes_no": _("Sorry, please reply YES or NO."),
    "not_a_number": _("Sorry, please reply with a number."),
    "too_small": _("Sorry, the smallest answer is %(min)s."),
    "too_large": _("Sorry, the largest answer is %(max)s."),
    "too_long": _("Sorry, please keep your answer under %(max_length)s characters."),
    "empty": _("Sorry, we did not get an answer."),
    "too_few": _("Sorry, please choose at least %(min)s."),
    "too_many": _("Sorry, please choose no more than %(max)s."),
    "required": _("Sorry, this question can't be skipped. Please answer it."),
    "unsure": _("That's all right. If you are not sure, please choose the answer closest to what you think."),
}
MOVING_ON = _("Let's move on to the next question.")
STOPPED = _("You will get no more messages from %(council)s, by text, Telegram or web chat. "
            "Reply START to join again.")
STARTED = _("Welcome back. You will get messages from %(council)s again. Reply STOP at any time to stop.")
HELP = _("This is %(council)s asking residents short questions and telling you what happened next. "
         "Reply STOP to stop messages.")
HELP_KEYWORDS = _("To take part, reply with one of: %(keywords)s")
HELP_IN_RUN = _("You are answering one of our surveys, so your messages are taken as answers to it. "
                "To start another survey, finish this one or wait until it ends.")
WELCOME = _("Welcome.")
RUN_EXPIRED = _("Sorry, this survey has ended because we had not heard from you for a while. "
                "To start again, reply %(keyword)s.")
RUN_EXPIRED_NO_KEYWORD = _("Sorry, this survey has ended because we had not heard from you for a while. "
                           "Reply HELP to see what you can take part in.")
NOT_UNDERSTOOD = _("Sorry, we did not understand. Reply HELP for help or STOP to stop.")
NOT_OPEN_YET = _("Thank you. This consultation opens on %(date)s. Please message us again then.")
CLOSED = _("This consultation closed on %(date)s. Thank you.")
ALREADY_DONE = _("Thank you, you have already answered this recently.")
ALREADY_TOOK_PART = _("Thank you, you have already taken part in this consultation and your answers are counted.")
CHANGING_ANSWERS = _("You have already taken part. Your new answers will replace the ones you gave before.")
# A run whose answers a later run of the same flow by the same resident took over: results skip it.
REPLACED = "replaced"


def describe_reason(code: str, params: dict[str, Any], lang: str | None) -> str:
    """Put a rejected answer's reason into words in the resident's language."""
    template = REASONS.get(code, REASONS["not_a_choice"])
    try:
        return i18n.gettext(lang, template, **params) if params else i18n.gettext(lang, template)
    except (KeyError, TypeError, ValueError):
        return i18n.gettext(lang, REASONS["empty"] if code == "empty" else REASONS["not_a_choice"])


@dataclass
class Incoming:
    """A resident's message as the conversation service sees it."""

    channel: str
    address: str
    text: str | None
    # The exact option value from a button press (Telegram callback, web chat button).
    choice: str | None = None
    # A flow to start regardless of the text (Telegram /start payload, web chat page).
    start_flow: str | None = None
    language_hint: str | None = None
    # The language of the keyword or link that starts a flow (DIOGEL: Welsh): it starts the run.
    start_lang: str | None = None
    # True when start_lang is only assumed (Wales mode's Welsh first): it is not recorded as a preference.
    start_lang_assumed: bool = False
    inbound_id: int | None = None
    preview: bool = False
    # The stored message's payload as the webhook kept it (word handlers and keyboards read the channel's
    # extras from it; a turn never loads its message again).
    payload: dict[str, Any] = field(default_factory=dict)


class ConversationService:
    """Find or start the right run for a message, call the engine, store what happened."""

    def __init__(self, db, registry, clock, settings, keywords=KEYWORDS):
        self.db = db
        self.registry = registry
        self.clock = clock
        self.settings = settings
        self.keywords = keywords
        # Extra handlers for words other capabilities own (FORGET, language names).
        self.word_handlers: list[Callable[[Session, "Turn"], bool]] = []
        # Asked before a contact field is stored; False drops it (special-category data without consent).
        self.field_guard: Callable[[Session, Contact, str], bool] | None = None
        # The contact a new address belongs to when one already has it on another channel (the SMS and
        # WhatsApp addresses of one phone number are one contact); None makes a new contact.
        self.address_owner: Callable[[Session, str, str], int | None] | None = phone_owner
        # How long a worker's batch of turns may go on starting turns (process_waiting).
        self.batch_seconds = BATCH_SECONDS

    # ----- inbound rows -------------------------------------------------------

    def store_inbound(self, channel: str, provider_id: str, address: str | None, text: str | None,
                      payload: dict[str, Any]) -> tuple[int | None, bool]:
        """Commit the raw inbound row; return (row id, True when new). A repeat stores nothing."""
        now = self.clock.now()
        with self.db.engine.begin() as conn:
            # One INSERT ... ON CONFLICT DO NOTHING RETURNING id, built once per engine, on a plain
            # connection (no ORM session): the web's whole share of a turn before it answers.
            new_id = conn.execute(_store_inbound_statement(conn), dict(
                channel=channel, provider_id=str(provider_id), address=address, text=text, payload=payload,
                received_at=now, status="pending", attempts=0)).scalar()
            if new_id is not None:
                return new_id, True
            row_id = conn.scalar(select(InboundMessage.id).where(
                InboundMessage.channel == channel, InboundMessage.provider_id == str(provider_id)))
        return row_id, False

    def process_inbound(self, inbound_id: int, skip_busy: bool = False) -> bool:
        """Process a stored message, and any older pending ones from the same resident first.

        With `skip_busy` (workers), a resident another worker is already on is left for later:
        return False then, True otherwise.
        """
        # The message being worked on: an older pending one from the same resident goes first, and if
        # that one fails it is the one counted (and in the end marked failed), not the newer message.
        working = [inbound_id]
        clashes = 0
        while True:
            try:
                return self._process_inbound(inbound_id, working, skip_busy)
            except IntegrityError:
                # Another process created the same contact or answer first; try again. Forget the flow
                # version ids this process remembers too, in case the database was restored under it.
                self.registry.forget_versions()
                clashes += 1
                if clashes < 3:
                    continue
                log.error("processing inbound message %s kept clashing with other writes", working[0])
            except Exception:
                log.exception("processing inbound message %s failed", working[0])
            gave_up = self._mark_failed(working[0])
            if not (gave_up and working[0] != inbound_id):
                return True
            # An older message was given up: this resident's later messages go on (a STOP behind it).
            working[0], clashes = inbound_id, 0

    def _process_inbound(self, inbound_id: int, working: list[int], skip_busy: bool = False) -> bool:
        while True:
            with self.db.session() as s:
                if self.db.is_postgres:
                    # Safe not to wait for the disk: a lost commit leaves the inbound row pending, so it is
                    # processed again; and a reply cannot be sent first, as the sender's claim commits
                    # synchronously, which flushes this earlier commit with it.
                    s.execute(text("SET LOCAL synchronous_commit = off"))
                row = s.get(InboundMessage, inbound_id)
                if row is None or row.status != "pending":
                    return True
                if skip_busy and self.db.is_postgres and not s.scalar(
                        text("SELECT pg_try_advisory_xact_lock(hashtext(:key))"),
                        {"key": _resident_key(row.channel, row.address)}):
                    # Another worker is on this resident's messages; it takes this one too, or we do later.
                    return False
                address = self._lock_address(s, row.channel, row.address)
                oldest = s.scalar(
                    select(InboundMessage)
                    .where(InboundMessage.channel == row.channel, InboundMessage.address == row.address,
                           InboundMessage.status == "pending")
                    .order_by(InboundMessage.received_at, InboundMessage.id)
                    .limit(1)
                    .with_for_update(skip_locked=False)
                )
                if oldest is None:
                    return True
                working[0] = oldest.id
                payload = oldest.payload or {}
                incoming = Incoming(
                    channel=oldest.channel, address=oldest.address, text=oldest.text,
                    choice=payload.get("choice"), start_flow=payload.get("start_flow"),
                    language_hint=payload.get("language_hint"), start_lang=payload.get("start_lang"),
                    start_lang_assumed=bool(payload.get("start_lang_assumed")),
                    inbound_id=oldest.id,
                    preview=bool(payload.get("preview")), payload=payload,
                )
                self.handle(s, incoming, address=address)
                # Counted with the outcome, in one UPDATE: a failed try rolls back and _mark_failed counts it.
                oldest.attempts += 1
                oldest.status = "processed"
                oldest.processed_at = self.clock.now()
                oldest.contact_id = address.contact_id if address else None
                done = oldest.id == inbound_id
                acted = (oldest.channel, oldest.received_at, oldest.processed_at)
            metrics.inbound_acted_on(*acted)
            if done:
                return True

    def _mark_failed(self, inbound_id: int) -> bool:
        """Count a failed try; return True when this one gave the message up (failed five times)."""
        with self.db.session() as s:
            row = s.get(InboundMessage, inbound_id)
            if row is not None and row.status == "pending":
                row.attempts += 1
                if row.attempts >= 5:
                    row.status = "failed"
                    row.error = "processing failed five times; see the service log"
                    return True
        return False

    def process_pending(self, older_than_seconds: float = 0, limit: int = 200) -> int:
        """Process messages left pending (after a crash, or by the webhook); return how many."""
        cutoff = self.clock.now() - timedelta(seconds=older_than_seconds)
        with self.db.session() as s:
            ids = s.scalars(
                select(InboundMessage.id)
                .where(InboundMessage.status == "pending", InboundMessage.received_at <= cutoff)
                .order_by(InboundMessage.id)
                .limit(limit)
            ).all()
        for inbound_id in ids:
            self.process_inbound(inbound_id)
        return len(ids)

    def process_waiting(self, limit: int = 100) -> int:
        """Act on messages the web stored for workers (scaled mode); return how many were acted on.

        Several workers walk the same pending rows; each resident's messages are taken by one worker
        at a time and in order, and a worker skips residents another is on. A worker acts on a batch
        of residents' turns in one transaction, so they share its commit; when one turn fails the
        batch is rolled back and its messages are acted on one at a time, each in its own
        transaction, so the failing one is counted (and in the end given up) and the others are
        not lost.
        """
        try:
            return self._process_batch(limit)
        except IntegrityError:
            # Another process created the same contact or answer first: the one-by-one path retries.
            self.registry.forget_versions()
        except Exception:
            log.exception("acting on a batch of inbound messages failed; acting on them one at a time")
        return self._process_one_by_one(limit)

    def _process_one_by_one(self, limit: int) -> int:
        with self.db.session() as s:
            ids = list(s.scalars(
                select(InboundMessage.id).where(InboundMessage.status == "pending")
                .order_by(InboundMessage.id).limit(limit)
            ))
        # Each worker walks the oldest rows in its own order, so two rarely reach for the same resident
        # at once. Order per resident still holds: a message is only acted on after its older ones.
        random.shuffle(ids)
        return sum(1 for inbound_id in ids if self.process_inbound(inbound_id, skip_busy=True))

    def _process_batch(self, limit: int) -> int:
        """Act on the waiting messages of up to `limit` oldest rows' residents in one transaction."""
        inbound = InboundMessage.__table__
        pg = self.db.is_postgres
        if not pg:
            limit = min(limit, SQLITE_BATCH)
        with self.db.session() as s:
            if pg:
                # As in _process_inbound: a lost commit leaves the rows pending, to be acted on again.
                s.execute(text("SET LOCAL synchronous_commit = off"))
            claim = (select(inbound.c.id, inbound.c.channel, inbound.c.address)
                     .where(inbound.c.status == "pending").order_by(inbound.c.id).limit(limit))
            if pg:
                # Rows another worker's batch holds are left to it; the next worker takes the next rows.
                claim = claim.with_for_update(skip_locked=True)
            claimed = s.execute(claim).all()
            if not claimed:
                return 0
            residents = list(dict.fromkeys((row.channel, row.address) for row in claimed if row.address is not None))
            if pg and residents:
                # The same per-resident lock as process_inbound(skip_busy=True), all taken in one statement;
                # a resident another worker is on is left for later.
                keys = [_resident_key(channel, value) for channel, value in residents]
                locked = set(s.scalars(_TRY_LOCKS, {"keys": keys}))
                residents = [r for r, key in zip(residents, keys, strict=True) if key in locked]
            addresses = self._lock_addresses(s, residents)
            waiting = s.execute(
                select(inbound.c.id, inbound.c.channel, inbound.c.address, inbound.c.text, inbound.c.payload,
                       inbound.c.received_at)
                .where(inbound.c.status == "pending", inbound.c.address.in_({value for _c, value in residents}))
                .order_by(inbound.c.received_at, inbound.c.id)
                .with_for_update()
            ).all()
            s.info["active_runs"] = self._active_runs(s, addresses.values())
            s.info["last_inbound"] = last_inbound = []
            s.info["writes"] = writes = _Writes()
            done: list[dict[str, Any]] = []
            acted: list[tuple[str, datetime | None, datetime]] = []
            deadline = time.monotonic() + self.batch_seconds
            for row in waiting:
                if done and time.monotonic() > deadline:
                    # The batch holds its residents (on SQLite, the one write lock the web's stores wait
                    # for): what is left stays pending, in order, for the next batch.
                    break
                key = (row.channel, row.address)
                address = addresses.get(key)
                if address is None:
                    continue  # the same number on a channel this batch did not lock
                if _gone(address):
                    # The turn before erased this resident (FORGET): their next message meets a new contact.
                    address = addresses[key] = self._lock_address(s, row.channel, row.address)
                payload = row.payload or {}
                self.handle(s, Incoming(
                    channel=row.channel, address=row.address, text=row.text,
                    choice=payload.get("choice"), start_flow=payload.get("start_flow"),
                    language_hint=payload.get("language_hint"), start_lang=payload.get("start_lang"),
                    start_lang_assumed=bool(payload.get("start_lang_assumed")),
                    inbound_id=row.id, preview=bool(payload.get("preview")), payload=payload,
                ), address=address)
                done.append({"row_id": row.id, "at": self.clock.now(),
                             "contact": None if _gone(address) else address.contact_id})
                acted.append((row.channel, row.received_at, done[-1]["at"]))
            writes.flush(s)
            s.info.pop("writes", None)
            s.info.pop("active_runs", None)
            s.info.pop("last_inbound", None)
            times = {address.id: at for address, at in last_inbound
                     if not _gone(address) and address.last_inbound_at == at}  # (an erasure cleared it)
            if times:
                s.execute(_MARK_ADDRESSES, [{"address_id": k, "at": v} for k, v in times.items()])
            if done:
                s.execute(_MARK_PROCESSED, done)
        # Counted once the batch is committed, as _process_inbound counts one message.
        metrics.inbound_acted_on_many(acted)
        # Rows without an address are acted on alone (their failure is counted there).
        for row in claimed:
            if row.address is None:
                self.process_inbound(row.id)
        return len(done)

    # ----- contacts ----------------------------------------------------------------

    def _lock_addresses(self, s: Session, residents: list[tuple[str, str]]) -> dict[tuple[str, str], Address]:
        """Lock the addresses of a batch's residents (with their contacts) in one statement, in id order;
        create the missing ones."""
        found: dict[tuple[str, str], Address] = {}
        if residents:
            wanted = set(residents)
            stmt = (select(Address).join(Address.contact).options(contains_eager(Address.contact))
                    .where(Address.address.in_({value for _c, value in residents}))
                    .order_by(Address.id).with_for_update(of=Address))
            for address in s.scalars(stmt):
                if (address.channel, address.address) in wanted:
                    found[(address.channel, address.address)] = address
        for channel, value in residents:
            if (channel, value) not in found:
                found[(channel, value)] = self._lock_address(s, channel, value)
        return found

    @staticmethod
    def _active_runs(s: Session, addresses) -> dict[int, Run | None]:
        """Each contact's newest active run, in one statement for a batch (Turn.active_run takes it once)."""
        contact_ids = {address.contact_id for address in addresses}
        runs: dict[int, Run | None] = dict.fromkeys(contact_ids)
        if contact_ids:
            for run in s.scalars(select(Run).where(Run.contact_id.in_(contact_ids), Run.status == "active")
                                 .order_by(Run.id)):
                runs[run.contact_id] = run
        return runs

    def _lock_address(self, s: Session, channel: str, value: str | None) -> Address | None:
        if value is None:
            return None
        # The contact comes in the same query (only the address row is locked): the turn needs both.
        stmt = (select(Address).join(Address.contact).options(contains_eager(Address.contact))
                .where(Address.channel == channel, Address.address == value).with_for_update(of=Address))
        address = s.scalar(stmt)
        if address is None:
            owner = self.address_owner(s, channel, value) if self.address_owner else None
            if owner is None:
                contact = Contact(fields={}, created_at=self.clock.now(), updated_at=self.clock.now())
                s.add(contact)
                s.flush()
                owner = contact.id
            address = Address(contact_id=owner, channel=channel, address=value, preferred=True,
                              created_at=self.clock.now())
            s.add(address)
            s.flush()
            address = s.scalar(stmt)
        return address

    # ----- one message ---------------------------------------------------------

    def handle(self, s: Session, incoming: Incoming, address: Address | None = None) -> "Turn":
        """Act on one message inside the caller's transaction and queue the replies."""
        now = self.clock.now()
        if address is None:
            address = self._lock_address(s, incoming.channel, incoming.address)
        buffer: _Writes | None = s.info.get("writes")
        if buffer is not None and address.contact_id in buffer.contacts:
            # This resident's earlier turn in the batch left writes to send: each turn sees its own past.
            buffer.flush(s)
        contact = s.get(Contact, address.contact_id)
        deferred = s.info.get("last_inbound")
        if deferred is not None:
            # A batch writes its addresses' times together when its turns are done (one executemany).
            set_committed_value(address, "last_inbound_at", now)
            deferred.append((address, now))
        else:
            address.last_inbound_at = now
        keyword_lang = self._keyword_language(incoming)
        if contact.language is None and keyword_lang and not incoming.start_lang_assumed:
            # A keyword belongs to a language: texting DIOGEL says the resident reads Welsh.
            contact.language = keyword_lang
        if contact.language is None and incoming.language_hint:
            # Telegram says "pt-br" or "en-GB"; keep only a language we speak, as its plain code.
            contact.language = supported_code(incoming.language_hint)
        turn = Turn(self, s, contact, address, incoming, now)

        kind, word_lang = (None, None) if incoming.choice else self.keywords.classify(incoming.text,
                                                                                     prefer=contact.language)
        if kind == "stop":
            turn.stop(word_lang)
            return turn
        if kind == "start":
            turn.restart(word_lang)
            return turn
        if address.consent == CONSENT_OPTED_OUT:
            # Stored, never answered: nothing more goes to an address that said STOP.
            return turn
        if address.consent != CONSENT_OPTED_IN:
            # The resident wrote to us first: that is their consent to a reply.
            record_consent(s, address, "opt_in", "inbound", now)
        clear_pressed_keyboard(turn)
        if kind == "help":
            turn.help(word_lang)
            return turn
        if self.word_handlers and buffer is not None:
            # A word (FORGET's confirmation, a language's name) may need its reply's row at once (an erasure
            # keeps the confirmation's row by id): its writes are not held back for the batch.
            del s.info["writes"]
        try:
            for handler in self.word_handlers:
                if handler(s, turn):
                    return turn
        finally:
            if buffer is not None:
                s.info["writes"] = buffer

        flow = self.registry.get(incoming.start_flow) if incoming.start_flow else None
        run = turn.active_run()
        if flow is None and run is None and incoming.text and not incoming.choice:
            # While a run waits for an answer only the global words above (STOP, HELP, a language,
            # FORGET) are commands: "Crime" or "panel" is an answer to the question asked, never
            # another flow's keyword. A resident who wants another survey finishes this one or lets it
            # expire (HELP says so). A link or page that names a flow (start_flow) still starts it.
            flow = self.registry.by_keyword(normalise(incoming.text))
        if flow is not None:
            turn.start(flow, started_by="keyword" if not incoming.start_flow else incoming.channel,
                       lang=keyword_lang)
        elif run is not None:
            turn.resume(run)
        elif not turn.say_run_ended():
            turn.say(i18n.gettext(turn.lang, NOT_UNDERSTOOD))
        return turn

    def _keyword_language(self, incoming: Incoming) -> str | None:
        """Return the language of the keyword (or the link's) this message starts a flow with, if given."""
        if incoming.start_flow:
            return supported_code(incoming.start_lang)
        if incoming.choice or not incoming.text:
            return None
        return supported_code(self.registry.keyword_language(normalise(incoming.text)))

    def start_run(self, s: Session, contact: Contact, address: Address, flow, *, started_by: str,
                  kind: str = "reply", broadcast_id: int | None = None, dedupe_key: str | None = None,
                  not_before: datetime | None = None, preview: bool = False) -> Run | None:
        """Start a flow for a contact (a broadcast, an officer) and queue its first question."""
        incoming = Incoming(channel=address.channel, address=address.address, text=None, preview=preview)
        turn = Turn(self, s, contact, address, incoming, self.clock.now(), kind=kind, broadcast_id=broadcast_id,
                    dedupe_key=dedupe_key, not_before=not_before)
        return turn.start(flow, started_by=started_by)


class Turn:
    """One message's worth of work for one contact, inside one transaction."""

    def __init__(self, service: ConversationService, s: Session, contact: Contact, address: Address,
                 incoming: Incoming, now: datetime, kind: str = "reply", broadcast_id: int | None = None,
                 dedupe_key: str | None = None, not_before: datetime | None = None):
        self.service = service
        self.s = s
        self.contact = contact
        self.address = address
        self.incoming = incoming
        self.now = now
        self.kind = kind
        self.broadcast_id = broadcast_id
        self.dedupe_key = dedupe_key
        self.not_before = not_before
        self.queued: list = []
        self.run: Run | None = None
        # The active run as this turn found it (active_run), or _UNASKED.
        self._active: Run | None | object = _UNASKED

    @property
    def lang(self) -> str:
        return self.contact.language or "en"

    @property
    def council(self) -> str:
        return self.service.settings.council_name

    # ----- replies -----------------------------------------------------------------

    def queue(self, payload: dict[str, Any], kind: str | None = None, lang: str | None = None):
        buffer: _Writes | None = self.s.info.get("writes")
        if buffer is not None:
            buffer.contacts.add(self.contact.id)
        row, reason = enqueue(
            self.s, contact=self.contact, address=self.address, kind=kind or self.kind, payload=payload,
            now=self.now, language=lang or self.lang, run_id=self.run.id if self.run else None,
            broadcast_id=self.broadcast_id, dedupe_key=self.dedupe_key, not_before=self.not_before,
            into=buffer.outbox if buffer is not None else None,
        )
        if row is not None:
            self.queued.append(row)
        return row, reason

    def say(self, text: str, kind: str | None = None):
        return self.queue({"type": "text", "text": text, "lang": self.lang}, kind=kind)

    def stop(self, word_lang: str | None) -> None:
        lang = self.contact.language or word_lang
        already = self.address.consent == CONSENT_OPTED_OUT
        # Every message to this person stops, on every channel they use with us.
        opt_out_everywhere(self.s, self.address, "keyword", self.now,
                           wording=self.incoming.text and normalise(self.incoming.text))
        for run in self.s.scalars(select(Run).where(Run.contact_id == self.contact.id, Run.status == "active")):
            self._finish(run, "ended")
        if not already:
            self.queue({"type": "text", "text": i18n.gettext(lang, STOPPED, council=self.council), "lang": lang},
                       kind=STOP_CONFIRMATION, lang=lang)

    def restart(self, word_lang: str | None) -> None:
        lang = self.contact.language or word_lang
        if self.address.consent != CONSENT_OPTED_OUT:
            # Nothing to welcome back to: a stranger gets the welcome and HELP, someone already in HELP.
            stranger = self.address.consent != CONSENT_OPTED_IN
            if stranger:
                record_consent(self.s, self.address, "opt_in", "keyword", self.now,
                               wording=self.incoming.text and normalise(self.incoming.text))
            self.help(word_lang, welcome=stranger)
            return
        wording = i18n.gettext(lang, STARTED, council=self.council)
        record_consent(self.s, self.address, "opt_in", "keyword", self.now, wording=wording)
        self.queue({"type": "text", "text": wording, "lang": lang}, kind="system", lang=lang)

    def help(self, word_lang: str | None, welcome: bool = False, before: str | None = None) -> None:
        """HELP: who is writing, how to stop, what is open; a stranger's first message is welcomed."""
        lang = self.contact.language or word_lang
        text = i18n.gettext(lang, HELP, council=self.council)
        if welcome:
            text = i18n.gettext(lang, WELCOME) + " " + text
        if before:
            text = before + " " + text
        if self.service.settings.help_contact:
            text += " " + self.service.settings.help_contact
        # Each open flow's keyword in the resident's language (its base language's when it has none).
        open_keywords = [f.keywords_in(lang)[0] for f in self.service.registry.all()
                         if f.keywords and self._window(f) is None]
        if open_keywords:
            text += "\n" + i18n.gettext(lang, HELP_KEYWORDS, keywords=", ".join(open_keywords))
        if self.s.scalar(select(Run.id).where(Run.contact_id == self.contact.id, Run.status == "active").limit(1)):
            text += "\n" + i18n.gettext(lang, HELP_IN_RUN)
        self.queue({"type": "text", "text": text, "lang": lang}, kind="system", lang=lang)

    def say_run_ended(self) -> bool:
        """Tell a resident whose last run expired that it ended and how to start again; False if it had not."""
        last = self.s.scalar(select(Run).where(Run.contact_id == self.contact.id)
                             .order_by(Run.id.desc()).limit(1))
        if last is None or last.status != "expired":
            return False
        flow = self.service.registry.get(last.flow_id)
        lang = self.contact.language or last.language
        if flow is not None and self._window(flow) == "closed":
            when = self._date_words(flow.consultation.closes_at(self.service.settings.timezone))
            text = i18n.gettext(lang, CLOSED, date=when)
        elif flow is not None and flow.keywords and self._window(flow) is None:
            text = i18n.gettext(lang, RUN_EXPIRED, keyword=(flow.keywords_in(lang) or flow.keywords)[0])
        else:
            text = i18n.gettext(lang, RUN_EXPIRED_NO_KEYWORD)
        self.queue({"type": "text", "text": text, "lang": lang}, lang=lang)
        return True

    # ----- runs ----------------------------------------------------------------------

    def active_run(self) -> Run | None:
        # Asked twice in one turn (a button press is checked against it, then answers it), it is found once:
        # only Turn.start makes a run active, and it forgets this; a run finished since is asked for again.
        known = self._active
        if known is not _UNASKED and (known is None or known.status == "active"):
            return known
        self._active = run = self._find_active_run()
        return run

    def _find_active_run(self) -> Run | None:
        # A batch of turns loads its contacts' active runs in one statement; each contact's first turn in
        # the batch takes its own (a later turn of the same contact asks again, as its runs may have moved).
        prefetched = self.s.info.get("active_runs")
        if prefetched is not None and self.contact.id in prefetched:
            run = prefetched.pop(self.contact.id)
            if run is not None and run.status != "active":
                run = None
        else:
            run = self.s.scalar(
                select(Run).where(Run.contact_id == self.contact.id, Run.status == "active")
                .order_by(Run.id.desc()).limit(1)
            )
        if run is None:
            return None
        flow = self.service.registry.flow_for_version(self.s, run.flow_version_id)
        if flow is None:
            self._finish(run, "ended")
            return None
        if engine.is_expired(flow, run.state, self.now) and self._window(flow) != "closed":
            state, events = engine.expire(flow, run.state, self.now)
            self._apply(run, flow, state, events)
            return None
        return run

    def _window(self, flow) -> str | None:
        """Return "early" or "closed" when a consultation is outside its dates, else None."""
        consultation = getattr(flow, "consultation", None)
        if consultation is None:
            return None
        tz = self.service.settings.timezone
        opens, closes = consultation.opens_at(tz), consultation.closes_at(tz)
        if opens is not None and self.now < opens:
            return "early"
        if closes is not None and self.now > closes:
            return "closed"
        return None

    def _date_words(self, when: datetime) -> str:
        from zoneinfo import ZoneInfo

        from babel.dates import format_date

        local = when.astimezone(ZoneInfo(self.service.settings.timezone)).date()
        # British English dates ("1 December 2026"), not Babel's default US English.
        locale = "en_GB" if self.lang == "en" else self.lang
        try:
            return format_date(local, format="long", locale=locale)
        except (ValueError, LookupError):
            return format_date(local, format="long", locale="en_GB")

    def _refuse_outside_window(self, flow) -> bool:
        if self.incoming.preview:
            return False
        window = self._window(flow)
        if window is None:
            return False
        tz = self.service.settings.timezone
        if window == "early":
            self.say(i18n.gettext(self.lang, NOT_OPEN_YET, date=self._date_words(flow.consultation.opens_at(tz))))
        else:
            self.say(i18n.gettext(self.lang, CLOSED, date=self._date_words(flow.consultation.closes_at(tz))))
        return True

    def start(self, flow, started_by: str, lang: str | None = None) -> Run | None:
        """Start a flow: in `lang` (a keyword's language) when given, else in the resident's language."""
        self._active = _UNASKED
        if self._refuse_outside_window(flow):
            return None
        intro: list[str] = []
        if not self.incoming.preview:
            previous = self._previous_answers(flow)
            if previous is not None and previous.status == "completed":
                # In the language the resident answered in (a Welsh keyword gives a Welsh run).
                lang = self.contact.language or previous.language or self.lang
                if not getattr(flow, "allow_change", False):
                    restart = getattr(flow, "restart_after_days", None)
                    # One answer per resident per consultation (per period, for a flow that may be answered
                    # again after restart_after_days: the engine's may_start_again is the one rule for that).
                    if not restart or not engine.may_start_again(flow, previous.finished_at, self.now):
                        message = ALREADY_DONE if restart else ALREADY_TOOK_PART
                        self.queue({"type": "text", "text": i18n.gettext(lang, message), "lang": lang}, lang=lang)
                        return None
                else:
                    intro.append(i18n.gettext(lang, CHANGING_ANSWERS))
            # Otherwise an unfinished earlier run is taken over by this one once it has an answer.
        for old in self.s.scalars(select(Run).where(Run.contact_id == self.contact.id, Run.status == "active")):
            self._finish(old, "ended")
        version_id = self.service.registry.version_id(self.s, flow)
        if lang not in flow.languages:
            lang = self.contact.language if self.contact.language in flow.languages else None
        state, events = engine.start(flow, self._contact_view(flow), self.now, lang=lang)
        run = Run(
            contact_id=self.contact.id, flow_id=flow.id, flow_version_id=version_id, address_id=self.address.id,
            channel=self.address.channel, language=state.get("lang"), status="active", state=state,
            started_at=self.now, updated_at=self.now,
            # An officer's preview is marked so results never count it (engage.results.PREVIEW_STARTED_BY).
            started_by="preview" if self.incoming.preview else started_by, broadcast_id=self.broadcast_id,
            expires_at=(self.now + flow.expires_after) if flow.expires_after else None,
        )
        self.s.add(run)
        self.s.flush()
        self.run = run
        self._apply(run, flow, state, events, intro=intro)
        return run

    def _period_start(self, flow) -> datetime | None:
        """The start of the period in which a resident answers a flow once (None: ever)."""
        days = getattr(flow, "restart_after_days", None)
        return self.now - timedelta(days=days) if days else None

    def _previous_answers(self, flow) -> Run | None:
        """The resident's latest counted run of this flow with an answer, in the current period."""
        from engage.results import counted_runs

        conditions = [Run.contact_id == self.contact.id, Run.flow_id == flow.id, Run.status != "active",
                      Run.answered_at.isnot(None), counted_runs()]
        since = self._period_start(flow)
        if since is not None:
            conditions.append(Run.updated_at >= since)
        return self.s.scalar(select(Run).where(*conditions).order_by(Run.id.desc()).limit(1))

    def _replace_earlier_runs(self, run: Run) -> None:
        """The resident's earlier answers to this flow (in this period) give way to this run's."""
        flow = self.service.registry.get(run.flow_id)
        since = self._period_start(flow) if flow is not None else None
        values = {"contact": run.contact_id, "flow": run.flow_id, "run": run.id, "now": self.now, "since": since}
        buffer: _Writes | None = self.s.info.get("writes")
        if buffer is not None:
            # A batch replaces its residents' earlier runs together (the contact's later turns flush it first).
            buffer.contacts.add(self.contact.id)
            buffer.replaced.append(values)
            return
        # Runs this turn changed (a run ended by this one) are written first, as the batch's flush does.
        self.s.flush()
        self.s.execute(_replace_runs(since is not None), values)

    def resume(self, run: Run) -> None:
        flow = self.service.registry.flow_for_version(self.s, run.flow_version_id)
        self.run = run
        if self._refuse_outside_window(flow):
            self._finish(run, "ended")
            return
        reply = engine.Reply(text=self.incoming.text or "", choice=self.incoming.choice)
        state, events = engine.resume(flow, run.state, reply, self._contact_view(flow), self.now)
        self._apply(run, flow, state, events)

    def _contact_view(self, flow) -> dict[str, Any]:
        """What the engine may read of the contact. Groups cost a query, so they are loaded only
        for a flow whose conditions test them; the engine gets plain data either way."""
        view = dict(self.contact.fields or {})
        view["language"] = self.contact.language
        view["groups"] = [g.name for g in self.contact.groups] if reads_groups(flow) else []
        view["channel"] = self.address.channel
        return view

    def _finish(self, run: Run, status: str) -> None:
        run.status = status
        run.finished_at = self.now
        run.updated_at = self.now
        run.current_step = None

    def _apply(self, run: Run, flow, state: dict[str, Any], events: list, intro: list[str] | None = None) -> None:
        """Store what the engine said happened and queue one message for the turn."""
        self.run = run
        texts: list[str] = list(intro or [])
        question: QuestionAsked | None = None
        for event in events:
            if isinstance(event, AnswerRecorded):
                self._store_answer(run, event.step_id, event.value, event.raw_text, skipped=False)
                self._record_consent_answer(flow, run, event)
            elif isinstance(event, StepSkipped):
                self._store_answer(run, event.step_id, None, event.raw_text or None, skipped=True)
                if event.reason == "too_many_attempts":
                    texts.append(i18n.gettext(state.get("lang"), MOVING_ON))
            elif isinstance(event, ContactFieldChanged):
                self._set_field(event.field, event.value)
            elif isinstance(event, AnswerRejected):
                texts.append(describe_reason(event.reason, event.params, event.lang))
            elif isinstance(event, MessageSaid):
                texts.append(event.text)
            elif isinstance(event, QuestionAsked):
                question = event
            elif isinstance(event, RunEnded):
                self._finish(run, "completed")
            elif isinstance(event, RunExpired):
                self._finish(run, "expired")
        run.state = state
        run.language = state.get("lang", run.language)
        run.updated_at = self.now
        if run.status == "active":
            run.current_step = state.get("step")
        if question is None and not texts:
            self._clear_answered_keyboards(run)
            return
        if self.kind == "broadcast":
            # A flow the resident did not ask for: say who is speaking and how to stop.
            texts.append(stop_line(run.language, self.council))
        payload: dict[str, Any] = {"type": "text", "lang": run.language, "run_id": run.id, "flow_id": run.flow_id}
        if question is not None:
            payload.update(
                type="question", step_id=question.step_id, question=question.text, kind=question.kind,
                choices=[{"number": c.number, "value": c.value, "label": c.label} for c in question.choices],
                optional=question.optional, hints=dict(question.hints), reprompt=question.reprompt,
            )
        payload["intro"] = texts
        payload["text"] = "\n\n".join(texts + ([question.text] if question else []))
        if self.contact.language and self.contact.language not in flow.languages:
            # The flow lacks the resident's language: the dashboard counts these per flow and language.
            payload["fallback_from"] = self.contact.language
        self.queue(payload, lang=run.language)
        # Buttons of questions no longer waiting (answered by typing, skipped, expired, asked again) go.
        self._clear_answered_keyboards(run)

    def _clear_answered_keyboards(self, run: Run) -> None:
        # The keyboards are found from the run's questions: those written, and this turn's in the batch.
        clear_answered_keyboards(self, run)

    def _record_consent_answer(self, flow, run: Run, event: AnswerRecorded) -> None:
        """Keep a consent record when the step's yes/no is consent (special-category data, a broadcast basis)."""
        step = flow.step(event.step_id) if flow.has_step(event.step_id) else None
        if step is None or step.consent_for is None or not isinstance(event.value, bool):
            return
        if step.consent_for in MESSAGE_CLASSES:
            # "May we text you about future consultations?": a yes is the basis for that class of
            # broadcast, a no withdraws it. Preview answers are an officer's test, not consent.
            if not self.incoming.preview:
                record_basis(self.s, self.contact, step.consent_for, self.now, source="flow",
                             wording=flow.text(step, run.language), action="opt_in" if event.value else "opt_out")
            return
        if step.consent_for != "special_category":
            return
        from engage.contacts import has_special_category_consent, record_special_category_consent

        if not event.value and not has_special_category_consent(self.s, self.contact.id):
            return
        record_special_category_consent(self.s, self.contact, self.now, source="flow",
                                        wording=flow.text(step, run.language),
                                        action="opt_in" if event.value else "opt_out")

    def _store_answer(self, run: Run, step_id: str, value: Any, raw: str | None, skipped: bool) -> None:
        # One statement whether or not the step was answered before (a resident going back changes it).
        values = dict(
            run_id=run.id, flow_id=run.flow_id, step_id=step_id, contact_id=run.contact_id, value=value,
            raw_text=raw, skipped=skipped, language=run.language, channel=self.address.channel,
            answered_at=self.now)
        buffer: _Writes | None = self.s.info.get("writes")
        if buffer is not None:
            buffer.contacts.add(self.contact.id)
            buffer.answers[(run.id, step_id)] = values
        else:
            self.s.execute(_answer_upsert(self.s), values)
        if not skipped and run.answered_at is None:
            # Results count respondents from runs; a run keeps the time of its first real answer.
            run.answered_at = self.now
            if run.started_by != "preview" and run.contact_id is not None:
                self._replace_earlier_runs(run)

    def _set_field(self, field: str, value: Any) -> None:
        guard = self.service.field_guard
        if guard is not None and not guard(self.s, self.contact, field):
            return
        if field == GROUPS:
            # `save_to: groups` makes the resident a member of the groups they chose, so segments find them.
            join_groups(self.contact, value if isinstance(value, list) else [value])
        elif field == "language":
            self.contact.language = str(value)
        elif field == "name":
            self.contact.name = str(value)
        else:
            # Reassign so SQLAlchemy sees the JSON column change.
            self.contact.fields = {**(self.contact.fields or {}), field: value}
        self.contact.updated_at = self.now


# Turn.active_run not asked yet in this turn.
_UNASKED = object()
# How long a worker's batch may go on starting turns, and how many rows it claims on SQLite, where the
# batch holds the database's one write lock (the web's stores wait for it).
BATCH_SECONDS = 1.0
SQLITE_BATCH = 20


class _Writes:
    """The answers and replies of a worker's batch of turns, sent together (one executemany each).

    A turn's writes wait here until the batch ends, or until a later turn of the same contact (or
    a keyboard check) needs to see them, so every turn still sees everything its resident did before.
    Replies keyed for deduplication are not kept here (enqueue inserts those at once)."""

    def __init__(self) -> None:
        # Keyed by (run, step): a step answered twice in a batch keeps its last answer, as the upsert would.
        self.answers: dict[tuple[int, str], dict[str, Any]] = {}
        self.outbox: list[dict[str, Any]] = []
        # Runs whose first answer replaces the resident's earlier runs of the flow (Turn._replace_earlier_runs).
        self.replaced: list[dict[str, Any]] = []
        self.contacts: set[int] = set()

    def flush(self, s: Session) -> None:
        if self.answers:
            s.execute(_answer_upsert(s), list(self.answers.values()))
            self.answers.clear()
        if self.outbox:
            s.execute(_INSERT_REPLIES, self.outbox)
            self.outbox.clear()
        if self.replaced:
            # The turns' own changes to runs (one ended by a new one) are written before the runs they
            # replace are chosen; the ORM sends the batch's run updates together.
            s.flush()
            for bounded in (False, True):
                rows = [values for values in self.replaced if (values["since"] is not None) == bounded]
                if rows:
                    s.execute(_replace_runs(bounded), rows)
            self.replaced.clear()
        self.contacts.clear()


_INSERT_REPLIES = OutboxMessage.__table__.insert()
_ANSWER_UPSERTS: dict[str, Any] = {}
_STORE_INBOUND: dict[str, Any] = {}


def _store_inbound_statement(conn):
    """INSERT ... ON CONFLICT (channel, provider_id) DO NOTHING RETURNING id for inbound rows, built once."""
    dialect = conn.dialect.name
    stmt = _STORE_INBOUND.get(dialect)
    if stmt is None:
        table = InboundMessage.__table__
        module = postgresql if dialect == "postgresql" else sqlite
        stmt = _STORE_INBOUND[dialect] = (module.insert(table)
                                          .on_conflict_do_nothing(index_elements=["channel", "provider_id"])
                                          .returning(table.c.id))
    return stmt


# Try each resident's lock of a batch at once; the keys whose lock this transaction now holds come back.
_TRY_LOCKS = text("SELECT k FROM unnest(CAST(:keys AS text[])) AS k WHERE pg_try_advisory_xact_lock(hashtext(k))")
# A batch's acted-on rows, marked in one executemany; counted with the outcome as in _process_inbound.
_MARK_PROCESSED = (
    update(InboundMessage.__table__)
    .where(InboundMessage.__table__.c.id == bindparam("row_id"))
    .values(status="processed", attempts=InboundMessage.__table__.c.attempts + 1,
            processed_at=bindparam("at"), contact_id=bindparam("contact"))
)

_MARK_ADDRESSES = (
    update(Address.__table__).where(Address.__table__.c.id == bindparam("address_id"))
    .values(last_inbound_at=bindparam("at"))
)


def _replace_runs(bounded: bool):
    """UPDATE runs SET status = 'replaced': a contact's earlier counted, answered runs of a flow (since
    the period's start when `bounded`); Core, so it neither flushes the session nor loads the runs."""
    statement = _REPLACE_RUNS.get(bounded)
    if statement is None:
        from engage.results import PREVIEW_STARTED_BY

        runs = Run.__table__.c
        conditions = [runs.contact_id == bindparam("contact"), runs.flow_id == bindparam("flow"),
                      runs.id != bindparam("run"), runs.status != "active", runs.status != REPLACED,
                      runs.answered_at.isnot(None),
                      or_(runs.started_by.is_(None), runs.started_by != PREVIEW_STARTED_BY)]
        if bounded:
            conditions.append(runs.updated_at >= bindparam("since", type_=runs.updated_at.type))
        statement = _REPLACE_RUNS[bounded] = (update(Run.__table__).where(*conditions)
                                              .values(status=REPLACED, updated_at=bindparam("now")))
    return statement


_REPLACE_RUNS: dict[bool, Any] = {}


def _resident_key(channel: str, address: str | None) -> str:
    """The advisory lock key of one resident's messages (PostgreSQL)."""
    return f"inbound:{channel}:{address}"


def _gone(address: Address) -> bool:
    """True when this turn deleted the address (an erasure) or it left the session."""
    state = inspect(address)
    return state.deleted or state.was_deleted or state.detached


def _answer_upsert(session: Session):
    """INSERT ... ON CONFLICT (run, step) DO UPDATE for answers, built once per engine and run with parameters."""
    dialect = session.get_bind().dialect.name
    stmt = _ANSWER_UPSERTS.get(dialect)
    if stmt is None:
        insert = upsert_insert(session, Answer)
        stmt = _ANSWER_UPSERTS[dialect] = insert.on_conflict_do_update(
            index_elements=["run_id", "step_id"],
            set_={k: insert.excluded[k] for k in ("value", "raw_text", "skipped", "language", "channel",
                                                   "answered_at")},
        )
    return stmt


def reads_groups(flow) -> bool:
    """Return True when one of the flow's conditions tests the contact's groups (few do)."""

    def reads(cond) -> bool:
        return cond is not None and ((cond.subject == "field" and cond.name == "groups")
                                     or any(reads(part) for part in cond.parts))

    return any(reads(route.when) for step in flow.steps for route in step.routes)
