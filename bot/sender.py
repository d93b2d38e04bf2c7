"""The durable outbox sender: claim due rows, send each outside the transaction, record what happened.

A row is marked `sending` (and committed) before the provider is called, so a
worker killed mid-call leaves a row that `recover_stuck_sending` turns into
`unknown`: it is shown to officers and never sent again blindly. Several
workers may drain one PostgreSQL outbox (`FOR UPDATE SKIP LOCKED`); on SQLite
one process sends and `BEGIN IMMEDIATE` serialises the claims.
"""
from __future__ import annotations

import inspect
import logging
import random
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, or_, select, text, update
from sqlalchemy.orm import Session

from bot.channel import SendResult
from bot.ratelimit import RateLimiter, limits_from_settings
from engage.consent import BULK_KINDS, may_send, record_consent
from engage.quiet_hours import next_allowed_time
from store.models import OUTBOX_ORDER, Address, Contact, OutboxMessage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SenderPolicy:
    """How hard the sender tries: attempts, backoff, batch size, when `sending` counts as stuck."""

    max_attempts: int = 5
    backoff_base: float = 10.0  # seconds before the first retry
    backoff_cap: float = 900.0  # never wait longer than this between tries
    batch: int = 20
    # Longer than a batch of provider timeouts (20 x 10 s): a row older than this has lost its worker.
    stuck_after: timedelta = timedelta(minutes=5)
    idle_wait: float = 0.25


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


@dataclass(frozen=True)
class QuietHours:
    start: str = "20:00"
    end: str = "09:00"
    timezone: str = "Europe/London"

    @classmethod
    def from_settings(cls, settings) -> "QuietHours":
        return cls(settings.quiet_start, settings.quiet_end, settings.timezone)


def _lock_due(s: Session, stmt):
    if s.get_bind().dialect.name == "postgresql":
        return stmt.with_for_update(skip_locked=True, of=OutboxMessage)
    return stmt


def claim_due_messages(db, now: datetime, limit: int, channels: Iterable[str], *,
                       quiet: QuietHours | None = None) -> list[ClaimedMessage]:
    """Mark up to `limit` due rows `sending` in one committed transaction and return them.

    Rows whose consent check now fails become `skipped`; bulk rows due in
    quiet hours get `not_before` moved to the end of the quiet hours.
    """
    channels = list(channels)
    if not channels or limit <= 0:
        return []
    quiet = quiet or QuietHours()
    claimed: list[ClaimedMessage] = []
    with db.session() as s:
        stmt = (
            select(OutboxMessage)
            .where(OutboxMessage.status == "queued",
                   or_(OutboxMessage.not_before.is_(None), OutboxMessage.not_before <= now),
                   OutboxMessage.channel.in_(channels))
            .order_by(OutboxMessage.priority, OutboxMessage.id)
            .limit(limit)
        )
        rows = s.scalars(_lock_due(s, stmt)).all()
        if not rows:
            return []
        addresses = {a.id: a for a in s.scalars(
            select(Address).where(Address.id.in_({r.address_id for r in rows if r.address_id})))}
        contacts = {c.id: c for c in s.scalars(
            select(Contact).where(Contact.id.in_({r.contact_id for r in rows if r.contact_id})))}
        release = None
        for row in rows:
            address = addresses.get(row.address_id)
            allowed, reason = may_send(contacts.get(row.contact_id), address, row.kind)
            if not allowed:
                row.status = "skipped"
                row.error_code = reason
                row.updated_at = now
                continue
            if row.kind in BULK_KINDS:
                if release is None:
                    release = next_allowed_time(now, quiet.timezone, quiet.start, quiet.end)
                if release > now:
                    row.not_before = release
                    row.updated_at = now
                    continue
            row.status = "sending"
            row.sending_at = now
            row.updated_at = now
            claimed.append(ClaimedMessage(row.id, row.channel, address.address, dict(row.payload or {}),
                                          row.language, row.kind, row.attempts))
    return claimed


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


def record_result(db, message_id: int, result: SendResult, now: datetime, policy: SenderPolicy,
                  rng: random.Random) -> str:
    """Store what the provider said about one claimed row; return the row's new status."""
    with db.session() as s:
        postgres = s.get_bind().dialect.name == "postgresql"
        if postgres:
            # Losing this commit to a database crash leaves the row `sending`, which later becomes
            # `unknown`: never a second send. So it need not wait for the disk.
            s.execute(text("SET LOCAL synchronous_commit = off"))
        if result.status == "sent":
            # One statement: a status callback may already have moved the row on (delivered); never move back.
            before_sent = [state for state, order in OUTBOX_ORDER.items() if order < OUTBOX_ORDER["sent"]]
            status = s.scalar(
                update(OutboxMessage).where(OutboxMessage.id == message_id)
                .values(attempts=OutboxMessage.attempts + 1, provider_id=result.provider_id, sent_at=now,
                        segments=result.segments, error_code=None, error_message=None, updated_at=now,
                        status=case((OutboxMessage.status.in_(before_sent), "sent"), else_=OutboxMessage.status))
                .returning(OutboxMessage.status)
            )
            return status or "missing"
        stmt = select(OutboxMessage).where(OutboxMessage.id == message_id)
        if postgres:
            stmt = stmt.with_for_update()
        row = s.scalar(stmt)
        if row is None:
            return "missing"
        row.updated_at = now
        if result.status == "retry":
            row.attempts += 1
            row.error_code = result.error_code
            row.error_message = result.error_message
            if row.status != "sending":
                return row.status
            if row.attempts >= policy.max_attempts:
                row.status = "failed"
                row.error_message = f"gave up after {row.attempts} attempts: {result.error_message or ''}".strip()
                return row.status
            row.status = "queued"
            row.sending_at = None
            row.not_before = now + timedelta(seconds=backoff_delay(row.attempts, policy, rng, result.retry_after))
            return row.status
        if result.status == "failed":
            row.attempts += 1
            row.error_code = result.error_code
            row.error_message = result.error_message
            if _moves_forward(row.status, "failed"):
                row.status = "failed"
            address = s.get(Address, row.address_id) if row.address_id else None
            if address is not None:
                mark_address(s, address, result, now)
            return row.status
        # unknown: the request may have reached the provider; never re-queued.
        row.attempts += 1
        row.error_code = result.error_code or "unknown"
        row.error_message = result.error_message
        if _moves_forward(row.status, "unknown"):
            row.status = "unknown"
        return row.status


def mark_address(s: Session, address: Address, result: SendResult, now: datetime) -> None:
    """Mark an address opted out (carrier STOP) or unusable (landline, unknown number)."""
    if result.opted_out and address.consent != "opted_out":
        record_consent(s, address, "opt_out", "provider", now, wording=f"provider error {result.error_code}")
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

    @classmethod
    def from_services(cls, services, channels: dict[str, Any], **kwargs) -> "OutboxSender":
        settings = services.settings
        kwargs.setdefault("limiter", RateLimiter(limits_from_settings(settings)))
        kwargs.setdefault("quiet", QuietHours.from_settings(settings))
        extra = settings.extra or {}
        if "policy" not in kwargs and "sender_max_attempts" in extra:
            kwargs["policy"] = SenderPolicy(max_attempts=int(extra["sender_max_attempts"]))
        return cls(services.db, services.clock, channels, **kwargs)

    def send_due(self, stop: threading.Event | None = None, limit: int | None = None) -> int:
        """Claim one batch and send it; return how many rows were claimed."""
        claimed = claim_due_messages(self.db, self.clock.now(), limit or self.policy.batch, self.channels,
                                     quiet=self.quiet)
        closed: set[tuple[str, str]] = set()
        for position, message in enumerate(claimed):
            if (message.channel, message.address) in closed:
                # The address opted out or proved unusable earlier in this batch: the next claim skips it.
                self._release([message.id])
                continue
            self._wait_for_token(message, stop)
            if stop is not None and stop.is_set():
                # Stopping: hand the rest back untouched rather than leave them to become unknown.
                self._release([m.id for m in claimed[position:]])
                break
            result = self.send_one(message)
            if result.opted_out or result.address_unusable:
                closed.add((message.channel, message.address))
        return len(claimed)

    def _wait_for_token(self, message: ClaimedMessage, stop: threading.Event | None) -> None:
        channel = self.channels[message.channel]
        cost_of = getattr(channel, "cost", None)
        cost = cost_of(message.payload, message.language) if cost_of else 1
        self.limiter.acquire(message.channel, message.address, cost, stop)

    def send_one(self, message: ClaimedMessage) -> SendResult:
        """Call the channel for one claimed row, record the result and return it."""
        channel = self.channels[message.channel]
        try:
            if _takes_outbox_id(channel):
                result = channel.send(message.address, message.payload, message.language, outbox_id=message.id)
            else:
                result = channel.send(message.address, message.payload, message.language)
        except Exception as exc:
            # The call may have gone out before the adapter failed: unknown, not retried.
            log.exception("channel %s raised while sending outbox row %s", message.channel, message.id)
            result = SendResult("unknown", error_code="adapter_error", error_message=type(exc).__name__)
        record_result(self.db, message.id, result, self.clock.now(), self.policy, self.rng)
        return result

    def _release(self, ids: list[int]) -> None:
        with self.db.session() as s:
            s.execute(update(OutboxMessage).where(OutboxMessage.id.in_(ids), OutboxMessage.status == "sending")
                      .values(status="queued", sending_at=None))

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
