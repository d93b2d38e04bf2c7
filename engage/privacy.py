"""Residents' rights: subject access, erasure (also by texting FORGET), objection, and retention.

Erasure keeps results true: answers stay as anonymous rows (value kept, contact
removed; free-text wording removed), so counts per answer do not change.
"""
from __future__ import annotations

import logging
import os
import secrets
import threading
from calendar import monthrange
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.orm import Session

from engage.consent import STOP_CONFIRMATION, record_consent
from engage.contacts import special_category_guard
from engage.keywords import normalise
from engage.results import IN_ALL, IN_FLOW, flow_steps
from locales import i18n
from locales.languages import BY_CODE, LANGUAGES
from store.models import (
    CONSENT_OPTED_OUT,
    Address,
    Answer,
    ConsentRecord,
    Contact,
    ContactGroup,
    FlowVersion,
    InboundMessage,
    OutboxMessage,
    Run,
)
from store.models.contacts import ErasureRecord

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
_ = i18n.N_
YES, NO = _("Yes"), _("No")
FORGET_ASK = _("Reply %(confirm)s to delete everything %(council)s holds about you. Your answers are kept "
               "only as anonymous numbers. This cannot be undone.")
FORGET_DONE = _("Everything %(council)s held about you has been deleted. You will get no more messages from us.")
# The words that ask (-> their language and the words that confirm) and that confirm, in every
# language (locales/languages.py): FORGET / FORGET YES, ANGHOFIO / ANGHOFIO IE, ZAPOMNIJ / ZAPOMNIJ TAK...
FORGET_WORDS = {normalise(word): (language.code, language.forget_confirm[0])
                for language in LANGUAGES for word in language.forget_words}
CONFIRM_WORDS = {normalise(word): language.code for language in LANGUAGES for word in language.forget_confirm}
# How long FORGET's question waits for its confirmation (Address.awaiting).
AWAITING_FORGET = "forget"
FORGET_CONFIRM_WINDOW = timedelta(minutes=15)
# Outbox states after which the final confirmation has left (or never will).
_SETTLED = {"sent", "delivered", "undelivered", "failed", "skipped", "unknown"}
CONFIRMATION_GRACE = timedelta(hours=24)
ERASED_PAYLOAD = {"type": "erased"}


# ----- subject access ----------------------------------------------------------------------


def _iso(when: datetime | None) -> str | None:
    return when.isoformat() if when else None


def subject_access(session: Session, contact_id: int, now: datetime) -> dict[str, Any]:
    """Gather everything held on one person, as plain JSON-ready data."""
    contact = session.get(Contact, contact_id)
    if contact is None:
        raise LookupError(f"no contact {contact_id}")
    addresses = session.scalars(select(Address).where(Address.contact_id == contact_id).order_by(Address.id)).all()
    pairs = [(a.channel, a.address) for a in addresses]
    inbound_where = InboundMessage.contact_id == contact_id
    if pairs:
        inbound_where = or_(inbound_where, *[and_(InboundMessage.channel == c, InboundMessage.address == v)
                                             for c, v in pairs])
    inbound = session.scalars(select(InboundMessage).where(inbound_where).order_by(InboundMessage.received_at,
                                                                                   InboundMessage.id)).all()
    outbox = session.scalars(select(OutboxMessage).where(OutboxMessage.contact_id == contact_id)
                             .order_by(OutboxMessage.created_at, OutboxMessage.id)).all()
    address_of = {a.id: a for a in addresses}
    messages = [
        {"direction": "in", "at": _iso(m.received_at), "channel": m.channel, "from": m.address, "text": m.text,
         "state": m.status, "processed_at": _iso(m.processed_at)}
        for m in inbound
    ] + [
        {"direction": "out", "at": _iso(m.created_at), "channel": m.channel, "kind": m.kind,
         "to": address_of[m.address_id].address if m.address_id in address_of else None,
         "text": (m.payload or {}).get("text"), "as_sent": _as_sent(m.payload or {}, m.channel),
         "state": m.status, "sent_at": _iso(m.sent_at),
         "delivered_at": _iso(m.delivered_at), "error_code": m.error_code}
        for m in outbox
    ]
    messages.sort(key=lambda m: (m["at"] or "", m["direction"]))
    runs = session.scalars(select(Run).where(Run.contact_id == contact_id).order_by(Run.started_at, Run.id)).all()
    answers_by_run: dict[int, list[Answer]] = {}
    if runs:
        for answer in session.scalars(select(Answer).where(Answer.run_id.in_([r.id for r in runs]))
                                      .order_by(Answer.answered_at, Answer.id)):
            answers_by_run.setdefault(answer.run_id, []).append(answer)
    titles = dict(session.execute(select(FlowVersion.id, FlowVersion.title)
                                  .where(FlowVersion.id.in_({r.flow_version_id for r in runs}))).all()) if runs else {}
    flows = {version_id: _readable_flow(source) for version_id, source in session.execute(
        select(FlowVersion.id, FlowVersion.source).where(FlowVersion.id.in_({r.flow_version_id for r in runs})))
    } if runs else {}
    consents = session.scalars(select(ConsentRecord).where(ConsentRecord.contact_id == contact_id)
                               .order_by(ConsentRecord.at, ConsentRecord.id)).all()
    return {
        "generated_at": now.isoformat(),
        "contact": {
            "id": contact.id, "name": contact.name, "language": contact.language,
            "organisation": contact.organisation, "role": contact.role, "fields": dict(contact.fields or {}),
            "do_not_contact": contact.do_not_contact, "created_at": _iso(contact.created_at),
            "updated_at": _iso(contact.updated_at), "erased_at": _iso(contact.erased_at),
        },
        "addresses": [
            {"channel": a.channel, "address": a.address, "consent": a.consent, "usable": a.usable,
             "unusable_reason": a.unusable_reason, "added_at": _iso(a.created_at),
             "last_message_at": _iso(a.last_inbound_at)}
            for a in addresses
        ],
        "groups": sorted(g.name for g in contact.groups),
        "consent_history": [
            {"at": _iso(c.at), "scope": c.scope, "channel": c.channel, "action": c.action, "source": c.source,
             "wording": c.wording}
            for c in consents
        ],
        "messages": messages,
        "runs": [
            {"flow_id": r.flow_id, "flow_title": _flow_title(flows.get(r.flow_version_id), r.language)
             or titles.get(r.flow_version_id), "channel": r.channel,
             "language": r.language, "status": r.status, "started_at": _iso(r.started_at),
             "finished_at": _iso(r.finished_at), "started_by": r.started_by,
             "answers": [{"step_id": a.step_id, "value": a.value, "text": a.raw_text, "skipped": a.skipped,
                          "answered_at": _iso(a.answered_at),
                          **_answer_words(flows.get(r.flow_version_id), a, r.language or contact.language)}
                         for a in answers_by_run.get(r.id, [])]}
            for r in runs
        ],
    }


def _readable_flow(source: str):
    """A stored flow version, loaded, to word its questions and answers (None when it no longer loads)."""
    from flows.loader import load_flow_text

    try:
        return load_flow_text(source, "<subject access>")
    except Exception:  # an old version the loader no longer accepts: its step ids are shown instead
        return None


def _flow_title(flow, lang: str | None) -> str | None:
    return flow.title_in(lang) if flow is not None else None


def _answer_words(flow, answer: Answer, lang: str | None) -> dict[str, Any]:
    """The question as the person was asked it and their answer's label, in their language."""
    lang = lang or (flow.base_language if flow is not None else "en")
    if flow is None or not flow.has_step(answer.step_id):
        return {"question": None, "answer": None if answer.skipped else _plain(answer.value)}
    step = flow.step(answer.step_id)
    question = flow.text(step, lang)
    if answer.skipped:
        return {"question": question, "answer": None}
    labels = {c.value: flow.text(c.labels, lang) for c in step.choices}

    def word(value: Any) -> str:
        if isinstance(value, bool):
            texts = step.yes_no_labels.get("yes" if value else "no")
            return flow.text(texts, lang) if texts else i18n.gettext(lang, YES if value else NO)
        if step.kind == "scale" and step.labels:
            point = step.labels.get(int(value)) if isinstance(value, (int, float)) else None
            return f"{_plain(value)} ({flow.text(point, lang)})" if point else _plain(value)
        return labels.get(str(value), _plain(value))

    value = answer.value
    return {"question": question, "answer": "; ".join(word(v) for v in value) if isinstance(value, list)
            else word(value)}


def _plain(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _as_sent(payload: dict[str, Any], channel: str | None) -> str | None:
    """A message to the person as it was sent: by SMS the text with its numbered choices and reply line
    (flows/sms_text.py, as the sender renders it); elsewhere the text and the answers offered as buttons."""
    from flows.sms_text import render_sms

    if payload.get("type") != "question":
        return payload.get("text")
    lang = payload.get("lang")
    if channel == "sms":
        return render_sms(payload, lang, i18n.gettext)
    buttons = [str(c.get("label", "")) for c in payload.get("choices") or [] if isinstance(c, dict)]
    return "\n\n".join(part for part in (payload.get("text") or "", "\n".join(buttons)) if part)


def _environment(lang: str, tz: str) -> Environment:
    from babel.dates import format_datetime

    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(default=True),
                      extensions=["jinja2.ext.i18n"])
    env.install_gettext_translations(i18n.translations(lang), newstyle=True)
    language = BY_CODE.get(lang) or BY_CODE["en"]
    zone = ZoneInfo(tz)

    def when(value: Any) -> str:
        """An ISO time as the person reads dates (2 December 2026, 10:05), in the council's zone."""
        if not value:
            return ""
        moment = datetime.fromisoformat(value) if isinstance(value, str) else value
        return format_datetime(moment.astimezone(zone), "d MMMM y, HH:mm", locale=language.locale)

    env.filters["when"] = when
    return env


def subject_access_html(data: dict[str, Any], council: str = "Your council", tz: str = "Europe/London",
                        lang: str | None = None) -> str:
    """Render subject-access data as a readable page in the person's language (else `lang`, else English):
    the questions as asked, answers by their labels, messages as sent, dates in the council's zone.
    Resident text is escaped."""
    lang = lang or data.get("contact", {}).get("language") or "en"
    if lang not in BY_CODE:
        lang = "en"
    language = BY_CODE[lang]
    return _environment(lang, tz).get_template("privacy/subject_access.html").render(
        data=data, council=council, lang=lang, direction=getattr(language, "direction", "ltr"))


# ----- erasure ----------------------------------------------------------------------------------


def _token() -> str:
    # Random, not a hash: a hash of a phone number can be reversed by trying every number.
    return "erased:" + secrets.token_hex(16)


def _text_steps(session: Session, flow_version_ids: set[int]) -> set[tuple[str, str]]:
    """Return (flow id, step id) of free-text questions in these flow versions."""
    found: set[tuple[str, str]] = set()
    if not flow_version_ids:
        return found
    for flow_id, source in session.execute(select(FlowVersion.flow_id, FlowVersion.source)
                                           .where(FlowVersion.id.in_(flow_version_ids))):
        found.update((flow_id, step.id) for step in flow_steps(source) if step.kind == "text")
    return found


def _erase_contact_data(session: Session, contact: Contact, now: datetime, *, keep: Address | None = None,
                        keep_outbox_id: int | None = None) -> dict[str, int]:
    """Erase identity and texts of a contact, except the one address (and message) still needed."""
    counts: dict[str, int] = {}
    cid = contact.id
    addresses = session.scalars(select(Address).where(Address.contact_id == cid)).all()
    pairs = [(a.channel, a.address) for a in addresses]
    # Inbound: texts go; rows not yet processed are never processed now.
    inbound_where = InboundMessage.contact_id == cid
    if pairs:
        inbound_where = or_(inbound_where, *[and_(InboundMessage.channel == c, InboundMessage.address == v)
                                             for c, v in pairs])
    inbound = session.scalars(select(InboundMessage).where(inbound_where)).all()
    tokens = {a.id: _token() for a in addresses if keep is None or a.id != keep.id}
    token_of = {(a.channel, a.address): tokens[a.id] for a in addresses if a.id in tokens}
    for row in inbound:
        row.text = None
        row.payload = {}
        row.error = None
        row.contact_id = None
        if (row.channel, row.address) in token_of:
            row.address = token_of[(row.channel, row.address)]
        elif row.address is not None and (keep is None or (row.channel, row.address) != (keep.channel, keep.address)):
            row.address = None
        if row.status == "pending" and (keep is None or row.address != keep.address):
            row.status = "ignored"
    counts["inbound"] = len(inbound)
    # Outbox: texts go; anything still queued is never sent.
    outbox = session.scalars(select(OutboxMessage).where(OutboxMessage.contact_id == cid)).all()
    for row in outbox:
        if row.id == keep_outbox_id:
            continue
        if row.status == "queued":
            row.status, row.error_code, row.updated_at = "skipped", "erased", now
        row.payload = dict(ERASED_PAYLOAD)
        row.error_message = None
        row.contact_id = None
        row.address_id = None
    counts["outbox"] = len(outbox) - (1 if keep_outbox_id else 0)
    # Runs and answers: kept as anonymous rows so results stay the same.
    runs = session.scalars(select(Run).where(Run.contact_id == cid)).all()
    _keep_as_anonymous_respondent(session, runs)
    text_steps = _text_steps(session, {r.flow_version_id for r in runs})
    answers = session.scalars(select(Answer).where(or_(Answer.contact_id == cid,
                                                       Answer.run_id.in_([r.id for r in runs] or [0])))).all()
    for answer in answers:
        answer.contact_id = None
        answer.raw_text = None
        if (answer.flow_id, answer.step_id) in text_steps:
            answer.value = None
    counts["answers"] = len(answers)
    for run in runs:
        if run.status == "active":
            run.status, run.finished_at, run.current_step = "ended", now, None
        run.contact_id = None
        run.address_id = None
        run.state = {}
        run.updated_at = now
    counts["runs"] = len(runs)
    for record in session.scalars(select(ConsentRecord).where(ConsentRecord.contact_id == cid)):
        record.wording = None
    session.execute(delete(ContactGroup).where(ContactGroup.contact_id == cid))
    session.expire(contact, ["groups"])
    for address in addresses:
        if address.id in tokens:
            address.address = tokens[address.id]
            address.consent = CONSENT_OPTED_OUT
            address.usable = False
            address.unusable_reason = "erased"
            address.last_inbound_at = None
    contact.name = None
    contact.organisation = None
    contact.role = None
    contact.fields = {}
    contact.do_not_contact = True
    contact.updated_at = now
    if keep is None:
        contact.language = None
        contact.erased_at = now
    session.flush()
    return counts





def _keep_as_anonymous_respondent(session: Session, runs: list[Run]) -> None:
    """Mark one of an erased person's runs per flow (and one overall) to count as the person they were.

    "People answered" and "who answered" count people; once a run has no contact they would
    drop by one. The mark is a number on an anonymous run, not a link to anyone: it says only
    "one person" (the run that answered, when one did, so respondents stay right too).
    """
    counted = [r for r in runs if r.started_by != "preview"]
    if not counted:
        return
    answered = {run_id for (run_id,) in session.execute(
        select(Answer.run_id).where(Answer.run_id.in_([r.id for r in counted]), Answer.skipped.is_(False))
        .distinct())}

    def best(candidates: list[Run]) -> Run:
        return min(candidates, key=lambda r: (r.id not in answered, r.answered_at is None, r.started_at, r.id))

    by_flow: dict[str, list[Run]] = {}
    for run in counted:
        by_flow.setdefault(run.flow_id, []).append(run)
    for flow_runs in by_flow.values():
        chosen = best(flow_runs)
        chosen.erased_respondent = (chosen.erased_respondent or 0) | IN_FLOW
    chosen = best(counted)
    chosen.erased_respondent = (chosen.erased_respondent or 0) | IN_ALL


def erase_contact(session: Session, contact_id: int, now: datetime, *, source: str = "officer") -> ErasureRecord:
    """Erase a contact at once (an officer's or the API's request); return the record that it happened."""
    contact = session.get(Contact, contact_id)
    if contact is None:
        raise LookupError(f"no contact {contact_id}")
    counts = _erase_contact_data(session, contact, now)
    record = ErasureRecord(requested_at=now, completed_at=now, source=source, status="completed", counts=counts)
    session.add(record)
    session.flush()
    log.info("erasure %s completed (%s)", record.id, source)
    return record


def erase_on_request(session: Session, turn) -> ErasureRecord:
    """Erase the resident behind a conversation turn, queueing one final confirmation first.

    The confirmation needs the resident's address to be sent, so that one address
    is kept until the confirmation has left; complete_erasures finishes the job.
    """
    lang = turn.contact.language or CONFIRM_WORDS.get(normalise(turn.incoming.text), "en")
    record_consent(session, turn.address, "opt_out", "keyword", turn.now)
    row, _reason = turn.queue({"type": "text", "text": i18n.gettext(lang, FORGET_DONE, council=turn.council),
                               "lang": lang}, kind=STOP_CONFIRMATION, lang=lang)
    counts = _erase_contact_data(session, turn.contact, turn.now, keep=turn.address,
                                 keep_outbox_id=row.id if row is not None else None)
    record = ErasureRecord(requested_at=turn.now, source="keyword", status="pending", counts=counts,
                           pending_contact_id=turn.contact.id, pending_address_id=turn.address.id,
                           confirmation_outbox_id=row.id if row is not None else None)
    session.add(record)
    session.flush()
    log.info("erasure %s requested by keyword", record.id)
    return record


def complete_erasures(db, now: datetime, grace: timedelta = CONFIRMATION_GRACE) -> int:
    """Finish erasures whose final confirmation has left (or waited too long); return how many."""
    done = 0
    with db.session() as s:
        stmt = select(ErasureRecord).where(ErasureRecord.status == "pending").order_by(ErasureRecord.id)
        if db.is_postgres:
            stmt = stmt.with_for_update(skip_locked=True)
        for record in s.scalars(stmt).all():
            row = s.get(OutboxMessage, record.confirmation_outbox_id) if record.confirmation_outbox_id else None
            settled = row is None or row.status in _SETTLED
            if not settled and record.requested_at + grace > now:
                continue
            if row is not None:
                if row.status == "queued":
                    row.status, row.error_code = "skipped", "erased"
                row.payload = dict(ERASED_PAYLOAD)
                row.contact_id = None
                row.address_id = None
                row.updated_at = now
            contact = s.get(Contact, record.pending_contact_id) if record.pending_contact_id else None
            if contact is not None:
                counts = _erase_contact_data(s, contact, now)
                record.counts = {k: max(v, counts.get(k, 0)) for k, v in (record.counts or {}).items()}
            record.status = "completed"
            record.completed_at = now
            record.pending_contact_id = None
            record.pending_address_id = None
            record.confirmation_outbox_id = None
            done += 1
    if done:
        log.info("completed %d erasure(s)", done)
    return done


# ----- FORGET by text message -----------------------------------------------------------------------


def _awaiting_forget(turn) -> bool:
    address = turn.address
    return (address.awaiting == AWAITING_FORGET and address.awaiting_until is not None
            and address.awaiting_until > turn.now)


def forget_word_handler(session: Session, turn) -> bool:
    """FORGET asks to confirm; only the confirmation, sent while that question is open, erases.

    Two steps and no other way: a cold "FORGET YES" (a mistyped or forwarded text, someone else's
    phone) is answered like FORGET, with the question. The question stays open for
    FORGET_CONFIRM_WINDOW; any other message closes it.
    """
    if turn.incoming.choice or turn.incoming.preview:
        return False
    word = normalise(turn.incoming.text)
    if word in CONFIRM_WORDS and _awaiting_forget(turn):
        turn.address.awaiting = turn.address.awaiting_until = None
        erase_on_request(session, turn)
        return True
    if word in FORGET_WORDS or word in CONFIRM_WORDS:
        if word in FORGET_WORDS:
            word_lang, confirm = FORGET_WORDS[word]
        else:
            word_lang = CONFIRM_WORDS[word]
            confirm = next(phrase for lang_of, phrase in FORGET_WORDS.values() if lang_of == word_lang)
        lang = turn.contact.language or word_lang
        # The confirming words of the language the request is answered in.
        confirm = BY_CODE[lang].forget_confirm[0] if lang in BY_CODE and BY_CODE[lang].forget_confirm else confirm
        turn.queue({"type": "text", "text": i18n.gettext(lang, FORGET_ASK, confirm=confirm, council=turn.council),
                    "lang": lang}, kind="system", lang=lang)
        turn.address.awaiting = AWAITING_FORGET
        turn.address.awaiting_until = turn.now + FORGET_CONFIRM_WINDOW
        return True
    if turn.address.awaiting == AWAITING_FORGET:
        # The resident moved on: the question is closed, and a later "FORGET YES" asks again.
        turn.address.awaiting = turn.address.awaiting_until = None
    return False


# ----- retention -----------------------------------------------------------------------------------------


def months_before(when: datetime, months: int) -> datetime:
    """Return the same moment `months` calendar months earlier (day clamped to the month's end)."""
    total = when.year * 12 + (when.month - 1) - months
    year, month = divmod(total, 12)
    day = min(when.day, monthrange(year, month + 1)[1])
    return when.replace(year=year, month=month + 1, day=day)


def kept_until(closes: date, months: int) -> date:
    """The day a consultation's answers are unlinked from residents and their typed answers removed
    (unless the flow keeps them): `months` calendar months after the day it closes."""
    total = closes.year * 12 + (closes.month - 1) + months
    year, month = divmod(total, 12)
    return date(year, month + 1, min(closes.day, monthrange(year, month + 1)[1]))


def flow_kept_until(flow, months: int, tz: str) -> date | None:
    """The retention date of a flow's consultation (its closing day in the council's zone, plus `months`), or
    None for a flow without a closing date (its answers are kept `months` from each answer)."""
    consultation = getattr(flow, "consultation", None)
    closes = consultation.closes_at(tz) if consultation is not None else None
    if closes is None:
        return None
    return kept_until(closes.astimezone(ZoneInfo(tz)).date(), months)


@dataclass
class RetentionReport:
    """How many rows were (or, in a dry run, would be) anonymised."""

    answers: int = 0
    runs: int = 0
    inbound: int = 0
    outbox: int = 0
    flows: dict[str, int] = field(default_factory=dict)
    dry_run: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"answers": self.answers, "runs": self.runs, "inbound": self.inbound, "outbox": self.outbox,
                "flows": dict(self.flows), "dry_run": self.dry_run}


def _flow_policy(session: Session, flow_id: str, registry, tz: str) -> tuple[datetime | None, bool]:
    """Return (consultation close in UTC or None, keep_free_text) from the newest version of a flow."""
    flow = registry.get(flow_id) if registry is not None else None
    if flow is None:
        source = session.scalar(select(FlowVersion.source).where(FlowVersion.flow_id == flow_id)
                                .order_by(FlowVersion.created_at.desc(), FlowVersion.id.desc()).limit(1))
        if source is None:
            return None, False
        from flows.loader import FlowError, load_flow_text

        try:
            flow = load_flow_text(source, f"<{flow_id}>")
        except FlowError:
            log.warning("retention: flow %s cannot be read; using answer dates", flow_id)
            return None, False
    consultation = getattr(flow, "consultation", None)
    closes = consultation.closes_at(tz) if consultation is not None else None
    return closes, bool(getattr(flow, "keep_free_text", False))


def _apply(session: Session, model, where, values: dict[str, Any], dry_run: bool) -> int:
    if dry_run:
        return session.scalar(select(func.count()).select_from(model).where(where)) or 0
    result = session.execute(update(model).where(where).values(**values).execution_options(synchronize_session=False))
    return result.rowcount or 0


def apply_retention(db, now: datetime, months: int = 24, *, dry_run: bool = False, registry=None,
                    tz: str = "Europe/London") -> RetentionReport:
    """Anonymise answers, runs and messages kept longer than `months` after their consultation closed.

    Flows without a consultation count from each answer's own date. Free text
    is removed unless the flow says `keep_free_text: true`. Messages not tied to
    a run count from when they were sent or received.
    """
    cutoff = months_before(now, months)
    report = RetentionReport(dry_run=dry_run)
    with db.session() as s:
        flow_ids = s.scalars(select(Run.flow_id).distinct()).all()
        for flow_id in flow_ids:
            closes, keep_text = _flow_policy(s, flow_id, registry, tz)
            if closes is not None and closes > cutoff:
                continue
            due_runs = Run.flow_id == flow_id
            due_answers = Answer.flow_id == flow_id
            if closes is None:
                due_answers = and_(due_answers, Answer.answered_at <= cutoff)
                due_runs = and_(due_runs, Run.status != "active", func.coalesce(Run.finished_at, Run.updated_at)
                                <= cutoff, ~Run.id.in_(select(Answer.run_id).where(Answer.flow_id == flow_id,
                                                                                  Answer.answered_at > cutoff)))
            versions = set(s.scalars(select(FlowVersion.id).where(FlowVersion.flow_id == flow_id)).all())
            text_steps = [step for _f, step in _text_steps(s, versions)]
            changed = Answer.contact_id.isnot(None)
            if not keep_text:
                changed = or_(changed, Answer.raw_text.isnot(None))
            n = _apply(s, Answer, and_(due_answers, changed), {"contact_id": None}
                       | ({} if keep_text else {"raw_text": None}), dry_run)
            if not keep_text and text_steps and not dry_run:
                s.execute(update(Answer).where(due_answers, Answer.step_id.in_(text_steps))
                          .values(value=None).execution_options(synchronize_session=False))
            report.answers += n
            report.flows[flow_id] = n
            run_ids = select(Run.id).where(due_runs).scalar_subquery()
            report.outbox += _apply(s, OutboxMessage, and_(OutboxMessage.run_id.in_(run_ids),
                                                           OutboxMessage.contact_id.isnot(None)),
                                    {"contact_id": None, "address_id": None, "payload": dict(ERASED_PAYLOAD),
                                     "error_message": None}, dry_run)
            report.runs += _apply(s, Run, and_(due_runs, or_(Run.contact_id.isnot(None), Run.address_id.isnot(None))),
                                  {"contact_id": None, "address_id": None, "state": {}}, dry_run)
        report.outbox += _apply(s, OutboxMessage, and_(OutboxMessage.run_id.is_(None),
                                                       OutboxMessage.created_at <= cutoff,
                                                       OutboxMessage.contact_id.isnot(None)),
                                {"contact_id": None, "address_id": None, "payload": dict(ERASED_PAYLOAD),
                                 "error_message": None}, dry_run)
        report.inbound += _apply(s, InboundMessage, and_(InboundMessage.received_at <= cutoff,
                                                         InboundMessage.status != "pending",
                                                         or_(InboundMessage.address.isnot(None),
                                                             InboundMessage.text.isnot(None))),
                                 {"address": None, "text": None, "payload": {}, "contact_id": None, "error": None},
                                 dry_run)
        if dry_run:
            s.rollback()
    log.info("retention (%s months%s): %s", months, ", dry run" if dry_run else "", report.as_dict())
    return report


def retention_months(settings) -> int:
    """Return the retention period: setting `retention_months`, else OUTREACH_RETENTION_MONTHS, else 24."""
    raw = (settings.extra or {}).get("retention_months") or os.environ.get("OUTREACH_RETENTION_MONTHS") or 24
    months = int(raw)
    if months < 1:
        raise ValueError("the retention period must be at least one month")
    return months


def run_retention(services, *, dry_run: bool = False, months: int | None = None) -> RetentionReport:
    """Apply retention with the service's clock, flows and settings (the daily scheduled job calls this)."""
    return apply_retention(services.db, services.clock.now(), months or retention_months(services.settings),
                           dry_run=dry_run, registry=services.registry, tz=services.settings.timezone)


# ----- wiring --------------------------------------------------------------------------------------------


def privacy_loop(services, stop: threading.Event, interval: float = 60.0) -> None:
    """Finish keyword erasures once their final confirmation has gone."""
    while not stop.wait(interval):
        complete_erasures(services.db, services.clock.now())


def init_app(app, services) -> None:
    """Mask phone numbers in logs, answer FORGET, guard special-category fields, finish erasures."""
    from engage import disclosure
    from engage.logmask import install_phone_mask

    install_phone_mask()
    disclosure.configure(services.settings)
    conversations = services.conversations
    if forget_word_handler not in conversations.word_handlers:
        conversations.word_handlers.append(forget_word_handler)
    conversations.field_guard = special_category_guard
    services.loops["privacy"] = privacy_loop
    services.extras["run_retention"] = run_retention
