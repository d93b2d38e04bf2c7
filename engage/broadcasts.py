"""Broadcasts: a message or a flow start to a segment, queued in batches, keyed so firing twice sends nothing twice.

Each firing streams the segment 1,000 contact ids at a time, decides for each
resident whether they may be messaged (consent, right to object, fatigue cap,
a recent answer to the same flow), picks their preferred usable channel and
their language, and bulk-inserts outbox rows with the dedupe key
`broadcast:<id>:contact:<id>` (recurring: `broadcast:<id>:<local time of the firing>:contact:<id>`,
so a schedule firing twice a day sends twice, and a firing repeated sends nothing new).
What happened is stored per firing as a BroadcastOccurrence.
"""
from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, selectinload

from engage import segments
from engage.consent import MESSAGE_CLASSES, SERVICE, bases_of, may_send
from engage.fatigue import recent_bulk_counts
from engage.language_choice import BILINGUAL, choose_text
from engage.outbox import PRIORITY_BULK, bulk_validity, insert_ignoring_duplicates
from engage.quiet_hours import next_allowed_time
from engage.results import counted_runs
from engage.unsolicited import whole_message_problem, with_stop_line
from engage.whatsapp import TEMPLATE_KEY, valid_templates, with_template
from store.models import CONSENT_OPTED_IN, CONSENT_OPTED_OUT, Address, Contact, OutboxMessage, Run
from store.models.outreach import Broadcast, BroadcastOccurrence, Segment

log = logging.getLogger(__name__)

SCHEDULES = ("now", "once", "cron")
# Channels a broadcast can reach: an assisted contact is phoned by an officer, not messaged.
# Phone calls (bot/twilio_voice.py) reach contacts whose preferred way is a call, landlines above all.
BROADCAST_CHANNELS = ("sms", "telegram", "web", "whatsapp", "voice")
DAY_NAMES = {"mon": "Monday", "tue": "Tuesday", "wed": "Wednesday", "thu": "Thursday", "fri": "Friday",
             "sat": "Saturday", "sun": "Sunday", "0": "Sunday", "1": "Monday", "2": "Tuesday", "3": "Wednesday",
             "4": "Thursday", "5": "Friday", "6": "Saturday", "7": "Sunday"}
# A resident who answered another flow this recently is mid-conversation; a re-send reaches them later.
IN_CONVERSATION = timedelta(hours=2)
ORDINALS = {"1-7": "first", "8-14": "second", "15-21": "third", "22-28": "fourth"}


class BroadcastError(ValueError):
    """A broadcast cannot be created or sent as asked; the message says why."""


# ----- creating ---------------------------------------------------------------------


def create_broadcast(session: Session, *, name: str, segment: Segment, now: datetime, tz: str,
                     texts: dict[str, str] | None = None, flow=None, schedule: str = "now",
                     send_at: datetime | None = None, cron: str | None = None,
                     created_by: str | None = None, council: str | None = None,
                     message_class: str = SERVICE, whatsapp_templates: dict[str, str] | None = None) -> Broadcast:
    """Check and save a broadcast of `texts` (per language) or of a flow start.

    With `council` (the name residents see), a message that would pass the SMS limit once the line
    saying who it is from and how to stop is added is refused. `message_class` is "service" (about a
    consultation or a service the resident uses) or "promotional" (events, paid services); it goes only
    to residents with a recorded basis for it. `whatsapp_templates` ({lang: ContentSid}) are the approved
    WhatsApp templates for residents outside WhatsApp's 24-hour window (a flow start falls back on the
    flow's own); without one for their language such residents are skipped.
    """
    try:
        whatsapp_templates = valid_templates(whatsapp_templates)
    except ValueError as exc:
        raise BroadcastError(str(exc)) from None
    if schedule not in SCHEDULES:
        raise BroadcastError(f"schedule must be one of {', '.join(SCHEDULES)}")
    if message_class not in MESSAGE_CLASSES:
        raise BroadcastError(f"the class of message must be {' or '.join(MESSAGE_CLASSES)}, not '{message_class}'")
    if (texts is None) == (flow is None):
        raise BroadcastError("give either message texts or a flow to start, not both")
    if texts is not None:
        texts = {lang: text for lang, text in texts.items() if text and text.strip()}
        if not texts:
            raise BroadcastError("the message is empty")
        problem = whole_message_problem(texts, council) if council is not None else None
        if problem:
            raise BroadcastError(problem)
    if schedule == "once":
        if send_at is None or send_at.tzinfo is None:
            raise BroadcastError("a one-off broadcast needs a date and time (--at)")
        if send_at <= now:
            raise BroadcastError("the time to send is in the past")
    if schedule == "cron":
        if not cron:
            raise BroadcastError("a recurring broadcast needs a schedule such as '0 10 1-7 * mon'")
        cron_trigger(cron, tz)
    broadcast = Broadcast(
        name=name, segment_id=segment.id, content="flow" if flow is not None else "message",
        flow_id=flow.id if flow is not None else None, texts=texts or {},
        base_language=(next(iter(texts)) if texts else flow.languages[0]),
        schedule=schedule, send_at=send_at, cron=cron, status="scheduled", created_at=now, created_by=created_by,
        message_class=message_class, whatsapp_templates=whatsapp_templates,
    )
    session.add(broadcast)
    session.flush()
    return broadcast


def cancel_broadcast(session: Session, broadcast: Broadcast, now: datetime) -> int:
    """Stop a broadcast from firing again; messages still waiting are taken back. Return how many."""
    broadcast.status = "cancelled"
    broadcast.cancelled_at = now
    withdrawn = 0
    for row in session.scalars(select(OutboxMessage).where(OutboxMessage.broadcast_id == broadcast.id,
                                                           OutboxMessage.status == "queued")):
        row.status = "skipped"
        row.error_message = "broadcast cancelled"
        row.updated_at = now
        withdrawn += 1
    return withdrawn


def progress(session: Session, broadcast: Broadcast, now: datetime) -> tuple[str, int, datetime | None]:
    """Say where a broadcast is: (status, messages still waiting, the time the held ones may go).

    A broadcast that has fired is "sending" while any of its messages waits in the outbox (held for
    quiet hours, or queued behind others), and "sent" only once none is left waiting.
    """
    if broadcast.status != "sent" and broadcast.schedule != "cron":
        return broadcast.status, 0, None
    waiting, held_until = session.execute(
        select(func.count(), func.max(OutboxMessage.not_before)).where(
            OutboxMessage.broadcast_id == broadcast.id, OutboxMessage.status.in_(("queued", "sending")))).one()
    if broadcast.status == "sent" and waiting:
        status = "sending"
    else:
        status = broadcast.status
    return status, waiting or 0, held_until if held_until is not None and held_until > now else None


# ----- schedules in words ---------------------------------------------------------------


def cron_trigger(cron: str, tz: str):
    """Return the APScheduler trigger for a crontab line, or raise BroadcastError saying what is wrong."""
    from apscheduler.triggers.cron import CronTrigger

    try:
        return CronTrigger.from_crontab(cron, timezone=ZoneInfo(tz))
    except ValueError as exc:
        raise BroadcastError(f"schedule '{cron}' not understood ({exc}); "
                             "use minute hour day month weekday, e.g. '0 10 1-7 * mon'") from None


def describe_cron(cron: str) -> str:
    """Say a crontab line in words: '0 10 1-7 * mon' is "every first Monday at 10:00"."""
    parts = cron.split()
    if len(parts) != 5:
        return f"on the schedule '{cron}'"
    minute, hour, day, month, weekday = parts
    if not (minute.isdigit() and hour.isdigit()) or month != "*":
        return f"on the schedule '{cron}'"
    at = f"at {int(hour):02d}:{int(minute):02d}"
    days = [DAY_NAMES.get(d.lower()) for d in weekday.split(",")] if weekday != "*" else []
    if weekday != "*" and not all(days):
        return f"on the schedule '{cron}'"
    if day == "*" and not days:
        return f"every day {at}"
    if day == "*":
        return f"every {_and(days)} {at}"
    if day in ORDINALS and len(days) == 1:
        return f"every {ORDINALS[day]} {days[0]} {at}"
    if day.isdigit() and not days:
        return f"on day {int(day)} of every month {at}"
    return f"on the schedule '{cron}'"


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def describe_schedule(broadcast: Broadcast, tz: str) -> str:
    """Say when a broadcast goes out, on the council's clock."""
    if broadcast.schedule == "cron":
        return describe_cron(broadcast.cron or "")
    if broadcast.schedule == "once" and broadcast.send_at is not None:
        local = broadcast.send_at.astimezone(ZoneInfo(tz))
        return f"once, on {local:%A %d %B %Y at %H:%M}"
    return "now"


def occurrence_for(broadcast: Broadcast, now: datetime, tz: str) -> str:
    """Name the firing due at `now`: "once", or the local date and time of the latest scheduled time.

    A recurring broadcast may fire several times a day (`0 10,14 * * *`): each scheduled time is its
    own occurrence ("2026-12-07T10:00", "2026-12-07T14:00"), and firing late or twice keeps the name.
    """
    if broadcast.schedule != "cron":
        return "once"
    trigger = cron_trigger(broadcast.cron, tz)
    latest = None
    # Look back a day first, then further: a frequent schedule never walks far, a monthly one still finds its day.
    for days in (1, 32, 400):
        fire = trigger.get_next_fire_time(None, now - timedelta(days=days))
        while fire is not None and fire <= now:
            latest = fire
            fire = trigger.get_next_fire_time(fire, fire + timedelta(seconds=1))
        if latest is not None:
            break
    when = latest or now
    return when.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%dT%H:%M")


def dedupe_key(broadcast_id: int, occurrence: str, contact_id: int) -> str:
    """Return the outbox key for one resident's copy of one firing."""
    if occurrence == "once":
        return f"broadcast:{broadcast_id}:contact:{contact_id}"
    return f"broadcast:{broadcast_id}:{occurrence}:contact:{contact_id}"


# ----- firing ---------------------------------------------------------------------------


@dataclass
class FiringResult:
    """What one firing did: numbers an officer reads, never who."""

    broadcast_id: int
    occurrence: str
    in_segment: int = 0
    eligible: int = 0
    queued: int = 0  # everyone who has this occurrence queued, by this firing or an earlier one
    newly_queued: int = 0  # those this firing added
    skipped: Counter = field(default_factory=Counter)
    language_fallbacks: int = 0
    not_before: datetime | None = None


def choose_address(addresses: list[Address]) -> tuple[Address | None, str | None]:
    """Pick the preferred usable opted-in address (else the most recently used); or say why there is none."""
    reachable = [a for a in addresses if a.channel in BROADCAST_CHANNELS and a.usable
                 and a.consent == CONSENT_OPTED_IN]
    if reachable:
        reachable.sort(key=lambda a: (a.preferred, a.last_inbound_at is not None,
                                      a.last_inbound_at or a.created_at, a.id), reverse=True)
        return reachable[0], None
    if any(a.consent == CONSENT_OPTED_OUT for a in addresses):
        return None, "opted_out"
    if any(not a.usable for a in addresses):
        return None, "unusable"
    return None, "no_consent"


def fire_broadcast(services, broadcast_id: int, *, occurrence: str | None = None,
                   batch_size: int = segments.BATCH_SIZE) -> FiringResult | None:
    """Queue one firing of a broadcast; safe to call twice (the second queues nothing new)."""
    settings = services.settings
    now = services.clock.now()
    with services.db.session() as s:
        broadcast = s.get(Broadcast, broadcast_id)
        if broadcast is None or broadcast.status == "cancelled":
            return None
        segment = s.get(Segment, broadcast.segment_id)
        rules = dict(segment.rules)
        occurrence = occurrence or occurrence_for(broadcast, now, settings.timezone)
        content, texts, base = broadcast.content, dict(broadcast.texts), broadcast.base_language
        flow_id, message_class = broadcast.flow_id, broadcast.message_class or SERVICE
        whatsapp_templates = dict(broadcast.whatsapp_templates or {})
    flow = services.registry.get(flow_id) if content == "flow" else None
    if content == "flow" and flow is None:
        raise BroadcastError(f"flow '{flow_id}' is not published")
    if flow is not None:
        # The broadcast's own templates first, then those the flow's file names.
        whatsapp_templates = {**dict(getattr(flow, "whatsapp_templates", None) or {}), **whatsapp_templates}

    result = FiringResult(broadcast_id, occurrence)
    result.not_before = next_allowed_time(now, settings.timezone, settings.quiet_start, settings.quiet_end)
    window = _window_problem(flow, now, settings.timezone) if flow is not None else None

    if window:
        with services.db.session() as s:
            result.in_segment = segments.segment_size(s, rules, now)
        result.skipped[window] = result.in_segment
    else:
        # Each batch commits on its own: a crash part-way leaves keyed rows that the next firing skips.
        for ids in segments.contact_id_batches(services.db, rules, now, batch_size):
            with services.db.session() as s:
                _queue_batch(services, s, broadcast_id, occurrence, ids, texts, base, flow, now, result,
                             message_class, whatsapp_templates)

    with services.db.session() as s:
        _store_occurrence(s, result, now)
        broadcast = s.get(Broadcast, broadcast_id)
        broadcast.last_fired_at = now
        if broadcast.schedule != "cron":
            broadcast.status = "sent"
    log.info("broadcast %s (%s): %s in segment, %s queued, skipped %s", broadcast_id, occurrence,
             result.in_segment, result.queued, dict(result.skipped))
    return result


def _window_problem(flow, now: datetime, tz: str) -> str | None:
    consultation = getattr(flow, "consultation", None)
    if consultation is None:
        return None
    opens, closes = consultation.opens_at(tz), consultation.closes_at(tz)
    if opens is not None and now < opens:
        return "consultation_not_open"
    if closes is not None and now > closes:
        return "consultation_closed"
    return None


def _queue_batch(services, s: Session, broadcast_id: int, occurrence: str, ids: list[int],
                 texts: dict[str, str], base: str, flow, now: datetime, result: FiringResult,
                 message_class: str = SERVICE, whatsapp_templates: dict[str, str] | None = None) -> None:
    settings = services.settings
    result.in_segment += len(ids)
    keys = {cid: dedupe_key(broadcast_id, occurrence, cid) for cid in ids}
    wanted = set(ids)
    already = _already_queued(s, broadcast_id, ids, keys)
    # Plain rows, not ORM objects: a batch is 1,000 residents and most need only these columns.
    contacts = {c.id: c for c in s.execute(
        select(Contact.id, Contact.language, Contact.do_not_contact, Contact.erased_at)
        .where(_batch(Contact.id, ids)))
        if c.id in wanted}
    addresses: dict[int, list] = {}
    for address in s.execute(select(Address.id, Address.contact_id, Address.channel, Address.consent,
                                    Address.usable, Address.preferred, Address.last_inbound_at,
                                    Address.created_at).where(_batch(Address.contact_id, ids))):
        if address.contact_id in wanted:
            addresses.setdefault(address.contact_id, []).append(address)
    fatigue = recent_bulk_counts(s, [cid for cid in ids if cid not in already], now, settings.fatigue_days)
    bases = bases_of(s, [cid for cid in ids if cid not in already])
    recently_done: set[int] = set()
    if flow is not None:
        # One answer per resident per consultation (per period for a repeated survey): never ask again.
        done = [Run.contact_id.in_(ids), Run.flow_id == flow.id, Run.status == "completed", counted_runs()]
        if getattr(flow, "restart_after_days", None):
            done.append(Run.finished_at >= now - timedelta(days=flow.restart_after_days))
        recently_done = set(s.scalars(select(Run.contact_id).where(*done)))
    done_reason = "recently_answered" if flow is not None and getattr(flow, "restart_after_days", None) \
        else "already_answered"
    in_flow: set[int] = set()
    chatting: set[int] = set()
    if flow is not None:
        in_flow = set(s.scalars(select(Run.contact_id).where(
            Run.contact_id.in_(ids), Run.flow_id == flow.id, Run.status == "active")))
        # Starting a flow ends the resident's other run: never cut into a conversation happening now.
        chatting = set(s.scalars(select(Run.contact_id).where(
            Run.contact_id.in_(ids), Run.flow_id != flow.id, Run.status == "active",
            Run.updated_at >= now - IN_CONVERSATION)))

    rows: list[dict[str, Any]] = []
    starts: list[tuple[int, int]] = []
    # The approved WhatsApp template each flow start's first question goes as (outside the window).
    start_templates: dict[int, str] = {}
    validity = bulk_validity(settings)
    languages = flow.languages if flow is not None else list(texts)
    for cid in ids:
        if cid in already:
            result.eligible += 1
            result.queued += 1
            continue
        contact = contacts.get(cid)
        if contact is None:  # erased between the segment query and now
            result.skipped["no_contact"] += 1
            continue
        address, reason = choose_address(addresses.get(cid, []))
        if reason is None:
            # The one consent check every send path passes (it runs again at send time).
            reason = may_send(contact, address, "broadcast", message_class=message_class,
                              bases=bases.get(cid, ()))[1]
        if reason is None and fatigue.get(cid, 0) >= settings.fatigue_cap:
            reason = "fatigue"
        if reason is None and cid in recently_done:
            reason = done_reason
        if reason is None and cid in in_flow:
            reason = "already_in_flow"
        if reason is None and cid in chatting:
            reason = "in_conversation"
        # WhatsApp outside its 24-hour window (when the message is due to leave): an approved template only.
        sending_at = result.not_before or now
        if reason is None and flow is not None:
            run_lang = contact.language if contact.language in languages else base
            template, reason = with_template({}, address.channel, address.last_inbound_at, sending_at,
                                             whatsapp_templates, run_lang, base)
        if reason is not None:
            result.skipped[reason] += 1
            continue
        if flow is not None:
            result.eligible += 1
            if contact.language and contact.language not in languages:
                result.language_fallbacks += 1
            starts.append((cid, address.id))
            if template:
                start_templates[cid] = template[TEMPLATE_KEY]
            continue
        # Their language, else the base; in Wales mode Welsh then English when we do not know theirs.
        which, body = choose_text(texts, contact.language, settings, base)
        lang = "cy" if which == BILINGUAL else which
        # Who is speaking and how to stop: the resident did not ask for this message.
        body = with_stop_line(body, which, settings.council_name)
        payload = {"type": "text", "text": body, "lang": lang, "broadcast_id": broadcast_id}
        payload, reason = with_template(payload, address.channel, address.last_inbound_at, sending_at,
                                        whatsapp_templates, lang, base)
        if reason is not None:
            result.skipped[reason] += 1
            continue
        result.eligible += 1
        if contact.language and contact.language not in languages:
            result.language_fallbacks += 1
        if contact.language and contact.language != which:
            payload["fallback_from"] = contact.language
        rows.append(dict(
            contact_id=cid, address_id=address.id, channel=address.channel, kind="broadcast",
            priority=PRIORITY_BULK, payload=payload,
            language=lang, status="queued", created_at=now, updated_at=now, not_before=result.not_before,
            expires_at=(result.not_before or now) + validity, broadcast_id=broadcast_id, dedupe_key=keys[cid],
            attempts=0,
        ))
    if rows:
        s.execute(_insert_ignoring_keys(s), rows)
        inserted = len(_already_queued(s, broadcast_id, ids, keys)) - len(already)
        result.queued += inserted
        result.newly_queued += inserted
    if starts:
        _start_runs(services, s, broadcast_id, starts, keys, flow, result, start_templates)


def _batch(column, ids: list[int]):
    """Select a batch by id range when it is dense (short SQL), else by an IN list."""
    if ids[-1] - ids[0] < 4 * len(ids):
        return column.between(ids[0], ids[-1])
    return column.in_(ids)


def _already_queued(s: Session, broadcast_id: int, ids: list[int], keys: dict[int, str]) -> set[int]:
    found = s.execute(select(OutboxMessage.contact_id, OutboxMessage.dedupe_key).where(
        OutboxMessage.broadcast_id == broadcast_id, _batch(OutboxMessage.contact_id, ids)))
    return {cid for cid, key in found if keys.get(cid) == key}


def _insert_ignoring_keys(s: Session):
    """Return an INSERT into the outbox that skips rows whose dedupe key exists (run as executemany)."""
    module = postgresql if s.get_bind().dialect.name == "postgresql" else sqlite
    return module.insert(OutboxMessage.__table__).on_conflict_do_nothing(index_elements=["dedupe_key"])


def _start_runs(services, s: Session, broadcast_id: int, starts: list[tuple[int, int]], keys: dict[int, str],
                flow, result: FiringResult, templates: dict[int, str] | None = None) -> None:
    """Start the flow for each chosen resident through the conversation service (first question queued)."""
    contacts = {c.id: c for c in s.scalars(select(Contact).where(Contact.id.in_([c for c, _ in starts]))
                                           .options(selectinload(Contact.groups)))}
    addresses = {a.id: a for a in s.scalars(select(Address).where(Address.id.in_([a for _, a in starts])))}
    for cid, address_id in starts:
        run = services.conversations.start_run(
            s, contacts[cid], addresses[address_id], flow, started_by="broadcast", kind="broadcast",
            broadcast_id=broadcast_id, dedupe_key=keys[cid], not_before=result.not_before)
        if run is not None:
            result.queued += 1
            result.newly_queued += 1
            if templates and cid in templates:
                # A WhatsApp resident: the first question goes as the approved template if the window is shut.
                for row in s.scalars(select(OutboxMessage).where(OutboxMessage.run_id == run.id,
                                                                 OutboxMessage.status == "queued")):
                    row.payload = {**(row.payload or {}), TEMPLATE_KEY: templates[cid]}
        else:
            result.skipped["not_started"] += 1
            result.eligible -= 1


def _store_occurrence(s: Session, result: FiringResult, now: datetime) -> None:
    """Record a firing's numbers; a repeat of the same occurrence adds to what was counted, never wipes it."""
    # Insert-or-nothing first, so a firing from the CLI racing the scheduler cannot trip the unique key.
    first = insert_ignoring_duplicates(s, BroadcastOccurrence, [dict(
        broadcast_id=result.broadcast_id, occurrence=result.occurrence, fired_at=now, in_segment=0, eligible=0,
        queued=0, skipped={}, language_fallbacks=0)], "broadcast_id", "occurrence")
    row = s.scalar(select(BroadcastOccurrence).where(BroadcastOccurrence.broadcast_id == result.broadcast_id,
                                                     BroadcastOccurrence.occurrence == result.occurrence)
                   .with_for_update())
    if not first and result.newly_queued == 0:
        # A repeat that reached nobody new (send-now again, the scheduler catching up): the numbers of
        # the send that did the work stay as they were counted.
        return
    row.fired_at = now
    row.in_segment = result.in_segment
    row.eligible = result.eligible
    row.queued = result.queued
    row.skipped = dict(result.skipped)
    # Fallbacks are counted as rows are queued: a repeat adds those it queued to the earlier count.
    row.language_fallbacks = (0 if first else row.language_fallbacks or 0) + result.language_fallbacks
    if first or row.not_before is None:
        row.not_before = result.not_before


def broadcast_report(s: Session, broadcast: Broadcast) -> dict[str, Any]:
    """Return the numbers for each firing and the delivery states of the rows it queued."""
    occurrences = s.scalars(select(BroadcastOccurrence).where(BroadcastOccurrence.broadcast_id == broadcast.id)
                            .order_by(BroadcastOccurrence.fired_at)).all()
    states = dict(s.execute(select(OutboxMessage.status, func.count()).where(
        OutboxMessage.broadcast_id == broadcast.id, OutboxMessage.kind == "broadcast")
        .group_by(OutboxMessage.status)).all())
    # Rows that will not go, by state and reason ("expired" after an outage, "opted_out" at send time...).
    not_sent = [{"status": state, "reason": reason or "unknown", "count": n} for state, reason, n in s.execute(
        select(OutboxMessage.status, OutboxMessage.error_code, func.count()).where(
            OutboxMessage.broadcast_id == broadcast.id, OutboxMessage.status.in_(("failed", "skipped", "undelivered")))
        .group_by(OutboxMessage.status, OutboxMessage.error_code).order_by(OutboxMessage.status,
                                                                           OutboxMessage.error_code)).all()]
    return {
        "not_sent": not_sent,
        "occurrences": [
            {"occurrence": o.occurrence, "fired_at": o.fired_at, "in_segment": o.in_segment,
             "eligible": o.eligible, "queued": o.queued, "skipped": dict(o.skipped or {}),
             "language_fallbacks": o.language_fallbacks, "not_before": o.not_before}
            for o in occurrences
        ],
        "delivery": states,
    }
