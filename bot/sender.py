"""The durable outbox sender: claim due rows, send each outside the transaction, record what happened.

A row is marked `sending` (and committed) before the provider is called, so a
worker killed mid-call leaves a row that `recover_stuck_sending` turns into
`unknown`: it is shown to officers and never sent again blindly. A batch's
results are written together when the batch ends, so a worker killed mid-batch
leaves the rows it had sent that way too, never queued again. Several
workers may drain one PostgreSQL outbox (`FOR UPDATE SKIP LOCKED`); on SQLite
one process sends and `BEGIN IMMEDIATE` serialises the claims.
"""
from __future__ import annotations

import contextlib
import inspect
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import bindparam, case, or_, select, text, update
from sqlalchemy.orm import Session

from bot.channel import SendResult
from bot.ratelimit import RateLimiter, limits_from_settings
from engage import metrics
from engage.calling_hours import next_calling_time
from engage.consent import BULK_KINDS, STOP_CONFIRMATION, bases_of, may_send, opt_out_everywhere
from engage.outbox import BULK_VALIDITY, PRIORITY_BULK, REPLY_VALIDITY, bulk_validity, reply_validity
from engage.quiet_hours import next_allowed_time
from engage.whatsapp import CLOSED_KEY, closed_window_check
from store.models import OUTBOX_ORDER, Address, Contact, OutboxMessage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SenderPolicy:
    """How hard the sender tries: attempts, backoff, batch size, when `sending` counts as stuck."""

    # A cap on tries (`sender_max_attempts`); None: a message is tried until its validity ends.
    max_attempts: int | None = None
    backoff_base: float = 10.0  # seconds before the first retry
    backoff_cap: float = 900.0  # never wait longer than this between tries
    # How long a message is retried (from when it was queued) before it fails as "expired": long
    # enough to ride out a real provider outage. Live replies and system messages an hour, bulk a
    # day (a broadcast's rows carry their own `expires_at`).
    reply_validity: timedelta = REPLY_VALIDITY
    bulk_validity: timedelta = BULK_VALIDITY
    # The most rows one claim takes. Fewer when the channels are rate-limited: what their limits let
    # out in `batch_seconds` (Twilio's 10 a second: 20 rows), so a live reply queued behind a bulk
    # batch waits seconds, not minutes. With the limits lifted a large claim costs far less a message.
    batch: int = 200
    batch_seconds: float = 2.0
    # A batch still sending after this many seconds (a provider timing out call after call) hands
    # its untried rows back rather than let them look stuck.
    batch_time_limit: float = 60.0
    # Longer than a batch's time limit plus a provider timeout: a row older than this has lost its worker.
    stuck_after: timedelta = timedelta(minutes=5)
    idle_wait: float = 0.25
    # While a batch of bulk rows goes out, how often (seconds) the sender looks for live replies queued
    # since the claim; when there are, it hands the rest of the batch back so the next claim takes the
    # replies first (a resident answering during a broadcast does not wait for the batch to end).
    reply_check_seconds: float = 0.25


@dataclass(frozen=True)
class ClaimedMessage:
    """An outbox row marked `sending`, with what the channel needs to send it."""

    id: int
    channel: str
    address: str
    payload: dict[str, Any]
    language: str | None
    kind: str
    attempts: int
    # What the check just before the provider call reads again (bot.sender.OutboxSender.refusal).
    address_id: int | None = None
    contact_id: int | None = None
    queued_at: datetime | None = None


def validity(kind: str, policy: "SenderPolicy") -> timedelta:
    """Return how long a message of this kind is retried after it was queued."""
    return policy.bulk_validity if kind in BULK_KINDS else policy.reply_validity


@dataclass(frozen=True)
class QuietHours:
    start: str = "20:00"
    end: str = "09:00"
    timezone: str = "Europe/London"
    # Phone calls keep to stricter hours (engage.calling_hours: never on a Sunday).
    calling_hours: str = "10:00-19:00"

    @classmethod
    def from_settings(cls, settings) -> "QuietHours":
        return cls(settings.quiet_start, settings.quiet_end, settings.timezone,
                   getattr(settings, "calling_hours", "") or "10:00-19:00")


def _lock_due(s: Session, stmt):
    if s.get_bind().dialect.name == "postgresql":
        return stmt.with_for_update(skip_locked=True, of=OutboxMessage)
    return stmt


VOICE = "voice"


def claim_due_messages(db, now: datetime, limit: int, channels: Iterable[str], *,
                       quiet: QuietHours | None = None) -> list[ClaimedMessage]:
    """Mark up to `limit` due rows `sending` in one committed transaction and return them.

    Rows whose consent check now fails become `skipped`; bulk rows due in
    quiet hours get `not_before` moved to the end of the quiet hours. A WhatsApp
    row outside the resident's 24-hour window goes only as its approved template
    (the claimed payload is marked `whatsapp_window_closed`); without one it is
    `skipped` with `whatsapp_no_template`.
    """
    channels = list(channels)
    if not channels or limit <= 0:
        return []
    quiet = quiet or QuietHours()
    claimed: list[ClaimedMessage] = []
    with db.session() as s:
        stmt = (
            select(OutboxMessage.id, OutboxMessage.channel, OutboxMessage.address_id, OutboxMessage.contact_id,
                   OutboxMessage.kind, OutboxMessage.payload, OutboxMessage.language, OutboxMessage.attempts,
                   OutboxMessage.broadcast_id, OutboxMessage.expires_at, OutboxMessage.created_at)
            .where(OutboxMessage.status == "queued",
                   or_(OutboxMessage.not_before.is_(None), OutboxMessage.not_before <= now),
                   OutboxMessage.channel.in_(channels),
                   # On the phone only bulk messages place a call; a caller's replies are spoken in the
                   # call itself by the voice webhook (webhooks/twilio/voice.py).
                   or_(OutboxMessage.channel != VOICE, OutboxMessage.kind.in_(sorted(BULK_KINDS)),
                       OutboxMessage.created_at <= now - REPLY_VALIDITY))
            .order_by(OutboxMessage.priority, OutboxMessage.id)
            .limit(limit)
        )
        rows = s.execute(_lock_due(s, stmt)).all()
        if not rows:
            return []
        addresses = {a.id: a for a in s.scalars(
            select(Address).where(Address.id.in_({r.address_id for r in rows if r.address_id})))}
        contacts = {c.id: c for c in s.scalars(
            select(Contact).where(Contact.id.in_({r.contact_id for r in rows if r.contact_id})))}
        classes, bases = _broadcast_classes(s, rows)
        release = None
        refused: dict[str | None, list[int]] = {}
        deferred: list[int] = []
        calls_deferred: list[int] = []
        call_release = None
        for row in rows:
            if row.channel == VOICE and row.kind not in BULK_KINDS:
                # A reply left over from a call that ended: nobody is on the line to hear it.
                refused.setdefault("expired", []).append(row.id)
                continue
            if row.expires_at is not None and row.expires_at <= now:
                # Queued past its validity (quiet hours, a stopped worker): it would arrive too late.
                refused.setdefault("expired", []).append(row.id)
                continue
            address = addresses.get(row.address_id)
            message_class = classes.get(row.broadcast_id) if row.kind == "broadcast" else None
            allowed, reason = may_send(contacts.get(row.contact_id), address, row.kind, message_class=message_class,
                                       bases=bases.get(row.contact_id, ()))
            if not allowed:
                refused.setdefault(reason, []).append(row.id)
                metrics.send_refused(row.channel, reason)
                continue
            payload = dict(row.payload or {})
            closed, reason = closed_window_check(row.channel, address.last_inbound_at, now, payload)
            if reason is not None:
                # WhatsApp outside its 24-hour window, and no approved template: never sent free-form.
                refused.setdefault(reason, []).append(row.id)
                metrics.send_refused(row.channel, reason)
                continue
            if closed:
                payload[CLOSED_KEY] = True
            if row.kind in BULK_KINDS and row.channel == VOICE:
                if call_release is None:
                    call_release = next_calling_time(now, quiet.timezone, quiet.calling_hours)
                if call_release > now:
                    calls_deferred.append(row.id)
                    continue
            if row.kind in BULK_KINDS:
                if release is None:
                    release = next_allowed_time(now, quiet.timezone, quiet.start, quiet.end)
                if release > now:
                    deferred.append(row.id)
                    continue
            claimed.append(ClaimedMessage(row.id, row.channel, address.address, payload,
                                          row.language, row.kind, row.attempts, row.address_id, row.contact_id,
                                          row.created_at))
        # A few set-based statements rather than one UPDATE a row: the rows are locked (or, on SQLite,
        # the database is) until this transaction ends.
        for reason, ids in refused.items():
            s.execute(update(OutboxMessage).where(OutboxMessage.id.in_(ids))
                      .values(status="failed" if reason == "expired" else "skipped", error_code=reason,
                              error_message=EXPIRED_UNSENT if reason == "expired" else None, updated_at=now))
        if deferred:
            s.execute(update(OutboxMessage).where(OutboxMessage.id.in_(deferred))
                      .values(not_before=release, updated_at=now))
        if calls_deferred:
            s.execute(update(OutboxMessage).where(OutboxMessage.id.in_(calls_deferred))
                      .values(not_before=call_release, updated_at=now))
        if claimed:
            s.execute(update(OutboxMessage).where(OutboxMessage.id.in_([m.id for m in claimed]))
                      .values(status="sending", sending_at=now, updated_at=now))
    return claimed


EXPIRED_UNSENT = "not sent before the end of its validity"
# What may_send reads of one address and its contact, just before the provider call.
_CONSENT_NOW = (select(Address.consent, Address.usable, Contact.erased_at, Contact.do_not_contact)
                .join(Contact, Contact.id == Address.contact_id)
                .where(Address.id == bindparam("address_id")))


# A live reply (anything ahead of bulk) queued and due: the probe a bulk batch makes as it goes.
_REPLY_DUE = (select(OutboxMessage.id)
              .where(OutboxMessage.status == "queued", OutboxMessage.priority < bindparam("bulk"),
                     or_(OutboxMessage.not_before.is_(None), OutboxMessage.not_before <= bindparam("now")),
                     OutboxMessage.channel.in_(bindparam("channels", expanding=True)))
              .limit(1))


def _broadcast_classes(s: Session, rows) -> tuple[dict[int, str], dict[int, set[str]]]:
    """Return the class of each broadcast among claimed rows, and the bases of those rows' contacts."""
    ids = {r.broadcast_id for r in rows if r.kind == "broadcast" and r.broadcast_id is not None}
    if not ids:
        return {}, {}
    from store.models.outreach import Broadcast

    classes = dict(s.execute(select(Broadcast.id, Broadcast.message_class).where(Broadcast.id.in_(ids))).all())
    return classes, bases_of(s, {r.contact_id for r in rows if r.broadcast_id in ids and r.contact_id})


def backoff_delay(attempts: int, policy: SenderPolicy, rng: random.Random,
                  retry_after: float | None = None) -> float:
    """Return seconds to wait before try number `attempts + 1`: exponential, jittered, capped."""
    ceiling = min(policy.backoff_cap, policy.backoff_base * (2 ** max(0, attempts - 1)))
    # "Equal jitter": at least half the ceiling, so retries spread out but never bunch at zero.
    delay = ceiling / 2 + rng.uniform(0, ceiling / 2)
    if retry_after:
        delay = max(delay, min(float(retry_after), policy.backoff_cap))
    return delay


def _moves_forward(current: str, new: str) -> bool:
    return OUTBOX_ORDER.get(new, 0) > OUTBOX_ORDER.get(current, 0)


# States a "sent" result may move a row out of; a status callback may already have moved it further.
BEFORE_SENT = tuple(state for state, order in OUTBOX_ORDER.items() if order < OUTBOX_ORDER["sent"])

# PostgreSQL: every "sent" result of a batch in one statement. The text is the same whatever the batch
# size, so the server plans it once per connection.
_RECORD_SENT_POSTGRES = text("""
    UPDATE outbox AS o
    SET attempts = o.attempts + 1, provider_id = v.provider_id, segments = v.segments,
        sent_at = v.at, updated_at = v.at,
        error_code = CASE WHEN o.status = ANY(CAST(:before_sent AS varchar[])) THEN NULL ELSE o.error_code END,
        error_message = CASE WHEN o.status = ANY(CAST(:before_sent AS varchar[])) THEN NULL
                             ELSE o.error_message END,
        status = CASE WHEN o.status = ANY(CAST(:before_sent AS varchar[])) THEN 'sent' ELSE o.status END
    FROM unnest(CAST(:ids AS bigint[]), CAST(:provider_ids AS varchar[]), CAST(:segments AS integer[]),
                CAST(:ats AS timestamp[])) AS v(id, provider_id, segments, at)
    WHERE o.id = v.id
    RETURNING o.id, o.status
""")


@dataclass(frozen=True)
class Outcome:
    """What the provider said about one claimed row, and when the answer came back."""

    message_id: int
    result: SendResult
    at: datetime


def _naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(timezone.utc).replace(tzinfo=None)


def record_results(db, outcomes: Sequence[Outcome], policy: SenderPolicy, rng: random.Random, *,
                   release: Iterable[int] = (), refused: dict[str, list[int]] | None = None) -> dict[int, str]:
    """Store a batch's results in one transaction and hand `release` back to the queue; return new statuses.

    Rows a status callback has already moved past `sent` stay where they are. A failure that opts an
    address out or marks it unusable is committed together with the release of that address's other
    rows, so the claim that next sees those rows also sees the address closed.
    """
    release = list(release)
    statuses: dict[int, str] = {}
    if not outcomes and not release and not refused:
        return statuses
    with db.session() as s:
        postgres = s.get_bind().dialect.name == "postgresql"
        if postgres:
            # Losing this commit to a database crash leaves the rows `sending`, which later become
            # `unknown`: never a second send. So it need not wait for the disk.
            s.execute(text("SET LOCAL synchronous_commit = off"))
        sent = [o for o in outcomes if o.result.status == "sent"]
        others = [o for o in outcomes if o.result.status != "sent"]
        if sent and postgres:
            statuses.update(s.execute(_RECORD_SENT_POSTGRES, {
                "before_sent": list(BEFORE_SENT),
                "ids": [o.message_id for o in sent],
                "provider_ids": [o.result.provider_id for o in sent],
                "segments": [o.result.segments for o in sent],
                "ats": [_naive_utc(o.at) for o in sent],
            }).all())
        moves_on = OutboxMessage.status.in_(BEFORE_SENT)
        for outcome in sent if not postgres else ():
            # SQLite: one statement a row, all in this one transaction (the commit is what costs).
            status = s.scalar(
                update(OutboxMessage).where(OutboxMessage.id == outcome.message_id)
                .values(attempts=OutboxMessage.attempts + 1, provider_id=outcome.result.provider_id,
                        sent_at=outcome.at, segments=outcome.result.segments, updated_at=outcome.at,
                        error_code=case((moves_on, None), else_=OutboxMessage.error_code),
                        error_message=case((moves_on, None), else_=OutboxMessage.error_message),
                        status=case((moves_on, "sent"), else_=OutboxMessage.status))
                .returning(OutboxMessage.status)
            )
            if status is not None:
                statuses[outcome.message_id] = status
        if others:
            stmt = select(OutboxMessage).where(OutboxMessage.id.in_({o.message_id for o in others}))
            if postgres:
                stmt = stmt.with_for_update()
            rows = {row.id: row for row in s.scalars(stmt)}
            for outcome in others:
                row = rows.get(outcome.message_id)
                if row is not None:
                    statuses[row.id] = _apply_unsent(s, row, outcome, policy, rng)
        if release:
            s.execute(update(OutboxMessage).where(OutboxMessage.id.in_(release), OutboxMessage.status == "sending")
                      .values(status="queued", sending_at=None))
        for reason, ids in (refused or {}).items():
            # Refused by the consent check just before sending: skipped, never sent.
            s.execute(update(OutboxMessage).where(OutboxMessage.id.in_(ids), OutboxMessage.status == "sending")
                      .values(status="skipped", error_code=reason, sending_at=None))
            statuses.update({i: "skipped" for i in ids})
    return statuses


def _apply_unsent(s: Session, row: OutboxMessage, outcome: Outcome, policy: SenderPolicy,
                  rng: random.Random) -> str:
    """Apply a retry, failed or unknown result to a locked row; return its new status."""
    result, now = outcome.result, outcome.at
    row.updated_at = now
    row.attempts += 1
    row.error_code = result.error_code
    row.error_message = result.error_message
    if result.status == "retry":
        if row.status != "sending":
            return row.status
        if policy.max_attempts and row.attempts >= policy.max_attempts:
            row.status = "failed"
            row.error_message = f"gave up after {row.attempts} attempts: {result.error_message or ''}".strip()
            return row.status
        deadline = row.expires_at or (row.created_at or now) + validity(row.kind, policy)
        if now >= deadline:
            # Tried for its whole validity (the last try at its very end): fail where officers see it.
            row.status = "failed"
            row.error_code = "expired"
            row.error_message = (f"not sent within its validity after {row.attempts} attempts; last error "
                                 f"{result.error_code or ''} {result.error_message or ''}").strip()
            return row.status
        row.status = "queued"
        row.sending_at = None
        retry_at = now + timedelta(seconds=backoff_delay(row.attempts, policy, rng, result.retry_after))
        row.not_before = min(retry_at, deadline)
        return row.status
    if result.status == "failed":
        if _moves_forward(row.status, "failed"):
            row.status = "failed"
        address = s.get(Address, row.address_id) if row.address_id else None
        if address is not None:
            mark_address(s, address, result, now)
        return row.status
    # unknown: the request may have reached the provider; never re-queued.
    row.error_code = result.error_code or "unknown"
    if _moves_forward(row.status, "unknown"):
        row.status = "unknown"
    return row.status


def mark_address(s: Session, address: Address, result: SendResult, now: datetime) -> None:
    """Mark an address opted out (carrier STOP) or unusable (landline, unknown number)."""
    if result.opted_out and address.consent != "opted_out":
        # The resident said STOP to the carrier: that stops every message to them, on every channel.
        opt_out_everywhere(s, address, "provider", now, wording=f"provider error {result.error_code}")
    if result.address_unusable and address.usable:
        address.usable = False
        address.unusable_reason = f"{address.channel} error {result.error_code}"


def recover_stuck_sending(db, now: datetime, older_than: timedelta) -> int:
    """Turn rows left `sending` longer than `older_than` (their worker died) into `unknown`."""
    with db.session() as s:
        result = s.execute(
            update(OutboxMessage)
            .where(OutboxMessage.status == "sending", OutboxMessage.sending_at < now - older_than)
            .values(status="unknown", error_code="interrupted",
                    error_message="the sender stopped while this was being sent; it may or may not have gone",
                    updated_at=now)
        )
        count = result.rowcount or 0
    if count:
        log.warning("%d outbox rows were left sending by a stopped worker and are now unknown", count)
    return count


@dataclass
class OutboxSender:
    """Drain the outbox through the configured channels, within their rate limits."""

    db: Any
    clock: Any
    channels: dict[str, Any]
    limiter: RateLimiter = field(default_factory=RateLimiter)
    policy: SenderPolicy = field(default_factory=SenderPolicy)
    quiet: QuietHours = field(default_factory=QuietHours)
    rng: random.Random = field(default_factory=random.Random)
    # Seconds for the batch time limit; a test drives it from its clock.
    timer: Callable[[], float] = time.monotonic
    _takes_id: dict[str, bool] = field(default_factory=dict, init=False, repr=False)

    @classmethod
    def from_services(cls, services, channels: dict[str, Any], **kwargs) -> "OutboxSender":
        settings = services.settings
        kwargs.setdefault("limiter", RateLimiter(limits_from_settings(settings)))
        kwargs.setdefault("quiet", QuietHours.from_settings(settings))
        extra = settings.extra or {}
        if "policy" not in kwargs:
            chosen = {"max_attempts": int(extra["sender_max_attempts"])} if "sender_max_attempts" in extra else {}
            if "sender_batch" in extra:
                chosen["batch"] = int(extra["sender_batch"])
            if reply_validity(settings) != REPLY_VALIDITY:
                chosen["reply_validity"] = reply_validity(settings)
            if bulk_validity(settings) != BULK_VALIDITY:
                chosen["bulk_validity"] = bulk_validity(settings)
            if chosen:
                kwargs["policy"] = SenderPolicy(**chosen)
        return cls(services.db, services.clock, channels, **kwargs)

    def batch_size(self) -> int:
        """Return how many rows to claim: the policy's batch, or what the rate limits send in `batch_seconds`."""
        limits = getattr(self.limiter, "limits", None) or {}
        rates = [limit.overall for name in self.channels
                 if (limit := limits.get(name)) is not None and limit.overall]
        if not rates:
            return self.policy.batch
        return max(1, min(self.policy.batch, int(min(rates) * self.policy.batch_seconds)))

    def send_due(self, stop: threading.Event | None = None, limit: int | None = None) -> int:
        """Claim one batch, send it and record the results; return how many rows were claimed.

        Results are written together when the batch ends (or the sender stops, or something raises),
        not one transaction a message. Until then the sent rows stay `sending`: a worker that dies
        mid-batch leaves them to become `unknown`, never to be sent again.
        """
        claimed = claim_due_messages(self.db, self.clock.now(), limit or self.batch_size(), self.channels,
                                     quiet=self.quiet)
        outcomes: list[Outcome] = []
        release: list[int] = []
        refused: dict[str, list[int]] = {}
        refused_to: dict[tuple[str, str], str] = {}
        closed: set[tuple[str, str]] = set()
        began = self.timer()
        next_look = began + self.policy.reply_check_seconds
        stack = contextlib.ExitStack()
        check = None  # the connection the consent checks read on, opened at the first message
        try:
            for position, message in enumerate(claimed):
                if position and self.timer() - began > self.policy.batch_time_limit:
                    # Slow going: hand the untried rows back for the next claim.
                    release.extend(m.id for m in claimed[position:])
                    break
                if position and message.kind in BULK_KINDS and self.timer() >= next_look:
                    next_look = self.timer() + self.policy.reply_check_seconds
                    if check is None:
                        check = stack.enter_context(self._check_connection())
                    if self.replies_waiting(check):
                        # Replies go ahead of bulk: the rest of this bulk batch waits for the next claim.
                        release.extend(m.id for m in claimed[position:])
                        break
                if (message.channel, message.address) in refused_to:
                    refused.setdefault(refused_to[(message.channel, message.address)], []).append(message.id)
                    metrics.send_refused(message.channel, refused_to[(message.channel, message.address)])
                    continue
                if (message.channel, message.address) in closed:
                    # The address opted out or proved unusable earlier in this batch: the next claim skips it.
                    release.append(message.id)
                    continue
                self._wait_for_token(message, stop)
                if stop is not None and stop.is_set():
                    # Stopping: hand the rest back untouched rather than leave them to become unknown.
                    release.extend(m.id for m in claimed[position:])
                    break
                if check is None:
                    check = stack.enter_context(self._check_connection())
                reason = self.refusal(message, check)
                if reason is not None:
                    # A STOP, an erasure or an objection committed since the claim: never sent.
                    refused.setdefault(reason, []).append(message.id)
                    refused_to[(message.channel, message.address)] = reason
                    metrics.send_refused(message.channel, reason)
                    continue
                result = self._call(message)
                outcomes.append(Outcome(message.id, result, self.clock.now()))
                metrics.send_result(message.channel, message.kind, result, message.queued_at, outcomes[-1].at)
                if result.opted_out or result.address_unusable:
                    closed.add((message.channel, message.address))
                    # Rare: write it now, so other workers' claims skip this address from now on.
                    self._record(outcomes, release, refused)
        finally:
            stack.close()
            self._record(outcomes, release, refused)
        return len(claimed)

    def refusal(self, message: ClaimedMessage, conn=None) -> str | None:
        """Run the consent check again just before the provider call; return why not, or None.

        One primary-key read of the address and its contact per message, on the connection the batch
        holds (`conn`), each in its own short transaction that is rolled back (a read: nothing to commit,
        and no pool checkout or ping a message): a STOP, an erasure or an objection that commits after the
        claim stops the messages of the batch that have not gone yet. A broadcast's class and the
        residents' bases were checked at the claim.
        """
        if message.address_id is None:
            return None if message.kind == STOP_CONFIRMATION else "no_contact"
        if conn is None:
            with self._check_connection() as own:
                return self.refusal(message, own)
        try:
            now = conn.execute(_CONSENT_NOW, {"address_id": message.address_id}).first()
        finally:
            conn.rollback()
        # One row carries both the address's and the contact's columns may_send reads.
        return may_send(now, now, message.kind)[1]

    def replies_waiting(self, conn) -> bool:
        """Return True when a message that goes ahead of bulk is queued and due on this sender's channels.

        One probe of the queued rows' (priority, id) index, in its own short transaction like `refusal`.
        """
        try:
            return conn.execute(_REPLY_DUE, {"bulk": PRIORITY_BULK, "now": self.clock.now(),
                                             "channels": list(self.channels)}).first() is not None
        finally:
            conn.rollback()

    def _check_connection(self):
        """A connection for the consent checks: on PostgreSQL in autocommit (one round trip a check, no
        BEGIN or ROLLBACK); SQLite keeps its own transactions (BEGIN IMMEDIATE) and is rolled back."""
        conn = self.db.engine.connect()
        if self.db.is_postgres:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        return conn

    def _record(self, outcomes: list[Outcome], release: list[int], refused: dict[str, list[int]] | None = None) -> None:
        """Write what is pending and forget it (so a later flush does not write it twice)."""
        if outcomes or release or refused:
            pending, handed_back, not_sent = outcomes[:], release[:], dict(refused or {})
            outcomes.clear()
            release.clear()
            if refused:
                refused.clear()
            record_results(self.db, pending, self.policy, self.rng, release=handed_back, refused=not_sent)

    def _wait_for_token(self, message: ClaimedMessage, stop: threading.Event | None) -> None:
        if not self._limited(message.channel):
            return  # nothing to wait for, so no need to price the message
        channel = self.channels[message.channel]
        cost_of = getattr(channel, "cost", None)
        cost = cost_of(message.payload, message.language) if cost_of else 1
        self.limiter.acquire(message.channel, message.address, cost, stop)

    def _limited(self, channel: str) -> bool:
        limits = getattr(self.limiter, "limits", None)
        if limits is None:
            return True  # a limiter we cannot see into: ask it every time
        limit = limits.get(channel)
        return limit is not None and bool(limit.overall or limit.per_address)

    def _call(self, message: ClaimedMessage) -> SendResult:
        """Call the channel for one claimed row and return what it said (nothing is recorded)."""
        channel = self.channels[message.channel]
        if message.channel not in self._takes_id:
            self._takes_id[message.channel] = _takes_outbox_id(channel)
        try:
            if self._takes_id[message.channel]:
                return channel.send(message.address, message.payload, message.language, outbox_id=message.id)
            return channel.send(message.address, message.payload, message.language)
        except Exception as exc:
            # The call may have gone out before the adapter failed: unknown, not retried.
            log.exception("channel %s raised while sending outbox row %s", message.channel, message.id)
            return SendResult("unknown", error_code="adapter_error", error_message=type(exc).__name__)

    def recover_stuck(self) -> int:
        return recover_stuck_sending(self.db, self.clock.now(), self.policy.stuck_after)

    def drain(self, stop: threading.Event | None = None, max_batches: int = 1000) -> int:
        """Send everything due now (tests and the simulator); return how many rows were claimed."""
        total = 0
        for _ in range(max_batches):
            n = self.send_due(stop)
            total += n
            if n == 0:
                break
        return total


def _takes_outbox_id(channel) -> bool:
    """Return True when the adapter's send accepts the outbox id (for status callbacks)."""
    try:
        return "outbox_id" in inspect.signature(channel.send).parameters
    except (TypeError, ValueError):
        return False


def sender_loop(services, stop: threading.Event) -> None:
    """Drain the outbox until `stop` is set, through the channels `bot.init_app` built."""
    channels = services.extras.get("channels") or {}
    if not channels:
        log.warning("sender: no channel is configured; nothing will be sent")
        stop.wait()
        return
    sender = services.extras.get("sender") or OutboxSender.from_services(services, channels)
    log.info("sender: draining the outbox for %s", ", ".join(sorted(channels)))
    last_recovery = None
    while not stop.is_set():
        now = services.clock.now()
        if last_recovery is None or (now - last_recovery).total_seconds() >= 30:
            sender.recover_stuck()
            last_recovery = now
        if sender.send_due(stop) == 0:
            stop.wait(sender.policy.idle_wait)


def init_app(app, services) -> None:
    """Register the sender loop; `python app.py worker` (or embedded mode) runs it."""
    services.loops["sender"] = sender_loop
