"""What the service is doing, for operators: Prometheus metrics at `GET /metrics`, and the figures the
dashboard's "Service health" page shows.

Counts and latencies are kept in-process by `prometheus_client` (the web counts messages received, the
workers what they acted on and sent, the scheduler its leadership). Under gunicorn, or with workers on
one machine, set `PROMETHEUS_MULTIPROC_DIR` to an empty folder the processes share (before they start):
each process then writes its figures there and a scrape of any web process adds them up. The outbox's
depth and age are read from the database at scrape time, one grouped query over queued rows (the
partial index the sender's claim uses), so every process reports the same queue.

`/metrics` is for operators only: a bearer token (`OUTREACH_METRICS_TOKEN`) or an admin network
(`OUTREACH_METRICS_ALLOW`, CIDR list) opens it. With neither it answers only on a laptop setup (nothing
exposed, asked from this machine); anywhere else it is 404.
"""
from __future__ import annotations

import hmac
import ipaddress
import logging
import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import generate_latest
from sqlalchemy import and_, func, select, text

from store.models import InboundMessage, OutboxMessage

log = logging.getLogger(__name__)

# Seconds: fast answers are the point, so the small end is finely cut; a backlog shows at the top.
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0)
# The delivery target: a reply leaves within this many seconds.
REPLY_TARGET_SECONDS = 10.0
# A row `sending` longer than this has lost its worker (bot.sender.SenderPolicy.stuck_after).
STUCK_AFTER = timedelta(minutes=5)
REPLY_BUCKETS = (0.5, 1.0, 2.0, 5.0, REPLY_TARGET_SECONDS, 30.0, 60.0, 300.0)

INBOUND_RECEIVED = Counter(
    "outreach_inbound_received", "Residents' messages stored (a provider's repeat is not counted), by channel",
    ["channel"])
INBOUND_ACTED_ON = Counter(
    "outreach_inbound_acted_on", "Residents' messages acted on (answer stored, next message queued), by channel",
    ["channel"])
INBOUND_LATENCY = Histogram(
    "outreach_inbound_acted_on_seconds", "From a resident's message stored to acted on, by channel",
    ["channel"], buckets=LATENCY_BUCKETS)
SENDS = Counter(
    "outreach_sends", "Provider calls by outcome (sent, retry, failed, unknown) and provider error code",
    ["channel", "outcome", "error_code"])
RETRIES = Counter(
    "outreach_send_retries", "Provider calls that will be tried again (throttled, server errors), by error code",
    ["channel", "error_code"])
REFUSALS = Counter(
    "outreach_send_refusals", "Messages the consent check refused at send time (STOP, erasure, objection...)",
    ["channel", "reason"])
REPLY_SEND = Histogram(
    "outreach_reply_send_seconds", "From a live reply queued (the answer acted on) to the provider accepting it",
    ["channel"], buckets=REPLY_BUCKETS)
# livesum: across the processes alive, how many hold the scheduler lock (1 is right; 0 or 2 is not).
SCHEDULER_LEADER = Gauge(
    "outreach_scheduler_leader", "1 while this process is the elected scheduler", multiprocess_mode="livesum")


# ----- recording (one call at each place something happens) -----------------------------------------


def inbound_received(channel: str) -> None:
    INBOUND_RECEIVED.labels(channel).inc()


def inbound_acted_on(channel: str, received_at: datetime | None, acted_at: datetime | None) -> None:
    """Count a message acted on, and how long it waited since it was stored."""
    INBOUND_ACTED_ON.labels(channel).inc()
    if received_at is not None and acted_at is not None:
        INBOUND_LATENCY.labels(channel).observe(max(0.0, (acted_at - received_at).total_seconds()))


def inbound_acted_on_many(rows) -> None:
    """Count a batch of messages acted on together: (channel, received_at, acted_at) each, after the commit."""
    for channel, received_at, acted_at in rows:
        inbound_acted_on(channel, received_at, acted_at)


def send_result(channel: str, kind: str, result, queued_at: datetime | None = None,
                at: datetime | None = None) -> None:
    """Count one provider call by its outcome; a live reply's wait since it was queued is timed."""
    code = str(result.error_code or "none")
    SENDS.labels(channel, result.status, code).inc()
    if result.status == "retry":
        RETRIES.labels(channel, code).inc()
    if result.status == "sent" and kind == "reply" and queued_at is not None and at is not None:
        REPLY_SEND.labels(channel).observe(max(0.0, (at - queued_at).total_seconds()))


def send_refused(channel: str, reason: str | None, count: int = 1) -> None:
    if count:
        REFUSALS.labels(channel, str(reason or "refused")).inc(count)


def scheduler_leader(leading: bool) -> None:
    SCHEDULER_LEADER.set(1 if leading else 0)


def instrument_store(conversations) -> None:
    """Count every message stored, whatever the channel (the webhooks all store through this one call)."""
    store = conversations.store_inbound
    if getattr(store, "_counted", False):
        return

    def store_inbound(channel, *args, **kwargs):
        stored = store(channel, *args, **kwargs)
        # (row id, True when new): a provider's repeat stores nothing and is not counted.
        if isinstance(stored, tuple) and len(stored) == 2 and stored[1]:
            inbound_received(channel)
        return stored

    store_inbound._counted = True
    conversations.store_inbound = store_inbound


# ----- figures read from the database ---------------------------------------------------------------


@dataclass(frozen=True)
class QueueLine:
    channel: str
    priority: int
    queued: int
    oldest_seconds: float


def outbox_queue(db, now: datetime) -> list[QueueLine]:
    """Queued rows per channel and priority, and the age of the oldest: one grouped query."""
    with db.session() as s:
        rows = s.execute(
            select(OutboxMessage.channel, OutboxMessage.priority, func.count(), func.min(OutboxMessage.created_at))
            .where(OutboxMessage.status == "queued")
            .group_by(OutboxMessage.channel, OutboxMessage.priority)
            .order_by(OutboxMessage.channel, OutboxMessage.priority)).all()
    lines = []
    for channel, priority, count, oldest in rows:
        oldest = _aware(oldest)
        lines.append(QueueLine(channel, int(priority or 0), int(count),
                               max(0.0, (now - oldest).total_seconds()) if oldest else 0.0))
    return lines


def needs_attention_counts(db, now: datetime, stuck_after: timedelta) -> dict[tuple[str, str], int]:
    """Rows an officer should look at, per (channel, state): `unknown`, and `sending` for too long ("stuck")."""
    with db.session() as s:
        rows = s.execute(
            select(OutboxMessage.channel, OutboxMessage.status, func.count())
            .where((OutboxMessage.status == "unknown")
                   | and_(OutboxMessage.status == "sending", OutboxMessage.sending_at < now - stuck_after))
            .group_by(OutboxMessage.channel, OutboxMessage.status)).all()
    return {(channel, "stuck" if status == "sending" else status): int(n) for channel, status, n in rows}


@dataclass
class LastHour:
    """What the service did in the hour before `now`, for the Service health page."""

    now: datetime
    # channel -> {"received", "acted_on", "waiting", "oldest_waiting_seconds"}
    inbound: dict[str, dict[str, float]] = field(default_factory=dict)
    # channel -> {state: messages whose state changed to it in the hour}
    outcomes: dict[str, dict[str, int]] = field(default_factory=dict)
    # (channel, error code) -> failed or retried messages in the hour
    errors: dict[tuple[str, str], int] = field(default_factory=dict)
    # Live replies queued in the hour (up to 10 s ago) and how many left within 10 s.
    replies: int = 0
    replies_in_time: int = 0
    # One bucket a minute, oldest first: (minutes ago, messages received, messages sent).
    minutes: list[tuple[int, int, int]] = field(default_factory=list)

    @property
    def reply_share(self) -> float | None:
        return self.replies_in_time / self.replies if self.replies else None


def _minute(s, column):
    """A column truncated to its minute, as the database spells it (text on SQLite, a timestamp on PostgreSQL)."""
    if s.get_bind().dialect.name == "postgresql":
        return func.date_trunc("minute", column)
    return func.strftime("%Y-%m-%d %H:%M", column)


def _seconds_between(s, start, end):
    if s.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", end - start)
    return (func.julianday(end) - func.julianday(start)) * 86400.0


def _minute_index(value, now: datetime) -> int | None:
    """How many whole minutes before `now`'s minute a bucket is (0: this minute)."""
    if isinstance(value, str):
        value = datetime.strptime(value, "%Y-%m-%d %H:%M")
    if value is None:
        return None
    value = _aware(value)
    this_minute = now.replace(second=0, microsecond=0)
    return int((this_minute - value).total_seconds() // 60)


def last_hour(db, now: datetime) -> LastHour:
    """Read the last hour's figures: a handful of grouped queries over the hour's rows."""
    since = now - timedelta(hours=1)
    figures = LastHour(now=now)
    with db.session() as s:
        for channel, count in s.execute(select(InboundMessage.channel, func.count())
                                        .where(InboundMessage.received_at >= since)
                                        .group_by(InboundMessage.channel)):
            figures.inbound.setdefault(channel, {})["received"] = count
        for channel, count in s.execute(select(InboundMessage.channel, func.count())
                                        .where(InboundMessage.status == "processed",
                                               InboundMessage.processed_at >= since)
                                        .group_by(InboundMessage.channel)):
            figures.inbound.setdefault(channel, {})["acted_on"] = count
        for channel, count, oldest in s.execute(
                select(InboundMessage.channel, func.count(), func.min(InboundMessage.received_at))
                .where(InboundMessage.status == "pending").group_by(InboundMessage.channel)):
            line = figures.inbound.setdefault(channel, {})
            line["waiting"] = count
            line["oldest_waiting_seconds"] = max(0.0, (now - _aware(oldest)).total_seconds()) if oldest else 0.0
        for channel, status, count in s.execute(
                select(OutboxMessage.channel, OutboxMessage.status, func.count())
                .where(OutboxMessage.updated_at >= since, OutboxMessage.status != "queued")
                .group_by(OutboxMessage.channel, OutboxMessage.status)):
            figures.outcomes.setdefault(channel, {})[status] = count
        for channel, code, count in s.execute(
                select(OutboxMessage.channel, OutboxMessage.error_code, func.count())
                .where(OutboxMessage.updated_at >= since, OutboxMessage.error_code.is_not(None),
                       OutboxMessage.status.in_(("failed", "undelivered", "queued", "unknown")))
                .group_by(OutboxMessage.channel, OutboxMessage.error_code)):
            figures.errors[(channel, code)] = count
        waited = _seconds_between(s, OutboxMessage.created_at, OutboxMessage.sent_at)
        replies, in_time = s.execute(
            select(func.count(), func.count().filter(waited <= REPLY_TARGET_SECONDS))
            .where(OutboxMessage.kind == "reply", OutboxMessage.created_at >= since,
                   OutboxMessage.created_at <= now - timedelta(seconds=REPLY_TARGET_SECONDS))).one()
        figures.replies, figures.replies_in_time = int(replies or 0), int(in_time or 0)
        minute_in, minute_out = _minute(s, InboundMessage.received_at), _minute(s, OutboxMessage.sent_at)
        received = dict(s.execute(select(minute_in, func.count())
                                  .where(InboundMessage.received_at >= since).group_by(minute_in)).all())
        sent = dict(s.execute(select(minute_out, func.count())
                              .where(OutboxMessage.sent_at >= since).group_by(minute_out)).all())
    per_minute_in = {_minute_index(k, now): v for k, v in received.items()}
    per_minute_out = {_minute_index(k, now): v for k, v in sent.items()}
    figures.minutes = [(ago, per_minute_in.get(ago, 0), per_minute_out.get(ago, 0)) for ago in range(59, -1, -1)]
    return figures


def scheduler_state(services) -> str:
    """"elected" when a process holds the scheduler's lock (PostgreSQL) or runs it here (SQLite), else "none"."""
    from engage.scheduling import LEADER_LOCK_KEY

    if services.db.is_postgres:
        with services.db.session() as s:
            # A bigint advisory key is held as (classid = high 32 bits, objid = low 32 bits).
            held = s.execute(text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                "AND classid = :high AND objid = :low AND objsubid = 1"),
                {"high": LEADER_LOCK_KEY >> 32, "low": LEADER_LOCK_KEY & 0xFFFFFFFF}).scalar()
        return "elected" if held else "none"
    return "elected" if services.extras.get("scheduler") is not None else "none"


@dataclass(frozen=True)
class Doubtful:
    """An outbox row whose sending is in doubt."""

    id: int
    channel: str
    kind: str
    state: str  # "unknown", or "stuck" (sending too long)
    since: datetime | None
    attempts: int
    error_code: str | None
    contact_id: int | None


def doubtful_messages(db, now: datetime, stuck_after: timedelta = STUCK_AFTER, limit: int = 100) -> list[Doubtful]:
    """The newest rows that are `unknown` or stuck `sending`, for an officer to check with the provider."""
    with db.session() as s:
        rows = s.execute(
            select(OutboxMessage.id, OutboxMessage.channel, OutboxMessage.kind, OutboxMessage.status,
                   OutboxMessage.sending_at, OutboxMessage.updated_at, OutboxMessage.attempts,
                   OutboxMessage.error_code, OutboxMessage.contact_id)
            .where((OutboxMessage.status == "unknown")
                   | and_(OutboxMessage.status == "sending", OutboxMessage.sending_at < now - stuck_after))
            .order_by(OutboxMessage.id.desc()).limit(limit)).all()
    return [Doubtful(r.id, r.channel, r.kind, "stuck" if r.status == "sending" else "unknown",
                     r.sending_at or r.updated_at, r.attempts, r.error_code, r.contact_id) for r in rows]


def resolve_unknown(s, message_id: int, outcome: str, now: datetime) -> OutboxMessage | None:
    """Record what an officer found in the provider's console for an `unknown` row: it went, or it did not.

    Only an `unknown` row changes (a status callback may have settled it meanwhile); return it, or None.
    """
    if outcome not in ("sent", "failed"):
        raise ValueError(outcome)
    row = s.get(OutboxMessage, message_id, with_for_update=True)
    if row is None or row.status != "unknown":
        return None
    row.status = outcome
    row.updated_at = now
    if outcome == "sent":
        row.sent_at = row.sent_at or now
        row.error_message = "marked sent by an officer after checking the provider"
    else:
        row.error_message = "marked not sent by an officer after checking the provider"
    return row


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=timezone.utc)


class DatabaseCollector:
    """The queue as it stands, read at scrape time."""

    def __init__(self, services, stuck_after: timedelta):
        self.services = services
        self.stuck_after = stuck_after

    def collect(self):
        now = self.services.clock.now()
        depth = GaugeMetricFamily("outreach_outbox_queued", "Messages waiting in the outbox, by channel and "
                                  "priority (0 live replies, 10 bulk)", labels=["channel", "priority"])
        age = GaugeMetricFamily("outreach_outbox_oldest_queued_seconds", "Age of the oldest queued message, by "
                                "channel and priority", labels=["channel", "priority"])
        attention = GaugeMetricFamily("outreach_outbox_needs_attention", "Messages whose sending is in doubt: "
                                      "unknown, or stuck sending", labels=["channel", "state"])
        try:
            for line in outbox_queue(self.services.db, now):
                depth.add_metric([line.channel, str(line.priority)], line.queued)
                age.add_metric([line.channel, str(line.priority)], line.oldest_seconds)
            for (channel, state), n in needs_attention_counts(self.services.db, now, self.stuck_after).items():
                attention.add_metric([channel, state], n)
        except Exception:  # a scrape still reports the process's own figures when the database is away
            log.warning("metrics: could not read the outbox", exc_info=True)
            return
        yield depth
        yield age
        yield attention


class ReplyShareCollector:
    """The share of replies sent within the target, worked out from the reply histogram's buckets."""

    def __init__(self, source):
        self.source = source

    def collect(self):
        within: dict[str, float] = {}
        total: dict[str, float] = {}
        for family in self.source.collect():
            if family.name != "outreach_reply_send_seconds":
                continue
            for sample in family.samples:
                channel = sample.labels.get("channel", "")
                if sample.name.endswith("_bucket") and float(sample.labels.get("le", "0")) == REPLY_TARGET_SECONDS:
                    within[channel] = within.get(channel, 0.0) + sample.value
                elif sample.name.endswith("_count"):
                    total[channel] = total.get(channel, 0.0) + sample.value
        share = GaugeMetricFamily("outreach_replies_within_10s_ratio", "Share of live replies the provider "
                                  "accepted within 10 s of being queued, since the processes started",
                                  labels=["channel"])
        for channel, count in sorted(total.items()):
            if count:
                share.add_metric([channel], within.get(channel, 0.0) / count)
        yield share


def process_source():
    """Where the in-process figures come from: this process, or every process's files (multiprocess mode)."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or os.environ.get("prometheus_multiproc_dir")
    if not folder:
        return REGISTRY
    from prometheus_client import multiprocess

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=folder)
    return registry


def render(services, stuck_after: timedelta) -> bytes:
    """The text a scrape gets: every process's figures, the reply share, and the queue from the database."""
    source = process_source()
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Forward(source))
    registry.register(ReplyShareCollector(source))
    registry.register(DatabaseCollector(services, stuck_after))
    return generate_latest(registry)


class _Forward:
    def __init__(self, source):
        self.source = source

    def collect(self):
        yield from self.source.collect()


# ----- who may read it -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Access:
    token: str = ""
    networks: tuple = field(default_factory=tuple)
    laptop: bool = False

    def allows(self, authorization: str | None, client: str | None) -> bool:
        if self.token and authorization:
            scheme, _, presented = authorization.partition(" ")
            if scheme.lower() == "bearer" and hmac.compare_digest(presented.strip().encode(), self.token.encode()):
                return True
        address = _address(client)
        if address is not None and any(address in network for network in self.networks):
            return True
        # Nothing configured: a developer's own machine only.
        return self.laptop and not self.token and not self.networks and address is not None and address.is_loopback


def _address(client: str | None):
    try:
        return ipaddress.ip_address((client or "").strip())
    except ValueError:
        return None


def parse_networks(value: str) -> tuple:
    """Read `10.0.0.0/8, 127.0.0.1/32` into networks; raise ValueError naming a bad entry."""
    networks = []
    for part in (value or "").replace(";", ",").split(","):
        part = part.strip()
        if part:
            try:
                networks.append(ipaddress.ip_network(part, strict=False))
            except ValueError as exc:
                raise ValueError(f"OUTREACH_METRICS_ALLOW: {part!r} is not an address or network") from exc
    return tuple(networks)


def access_from_settings(settings) -> Access:
    import security

    return Access(token=settings.metrics_token or "", networks=parse_networks(settings.metrics_allow),
                  laptop=not security.exposure_reasons(settings))


def init_app(app, services) -> None:
    """Serve `GET /metrics` to operators; count what every channel stores."""
    from flask import Response, abort, request

    instrument_store(services.conversations)
    access = access_from_settings(services.settings)
    stuck_after = STUCK_AFTER

    @app.get("/metrics")
    def metrics():
        if not access.allows(request.headers.get("Authorization"), request.remote_addr):
            abort(404)
        response = Response(render(services, stuck_after), mimetype=CONTENT_TYPE_LATEST.split(";")[0])
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        response.headers["Cache-Control"] = "no-store"
        return response
