""""You said, we did": tell everyone who took part what the council decided and why.

Gunning principles: residents' answers must be conscientiously considered, and
showing what was said, what was done and why is how a council shows it. An
update goes once to every resident who answered (optionally those who only
started), on the channel they answered on, in their language, respecting
quiet hours and opt-outs; it appears on the public page with no personal data
and stays recorded with the consultation.
"""
from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

from babel.numbers import format_percent
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engage.calendar import entry_answered
from engage.consent import may_send
from engage.outbox import PRIORITY_BULK, insert_ignoring_duplicates
from engage.quiet_hours import next_allowed_time
from engage.sms_cost import MAX_SEGMENTS, message_cost
from engage.unsolicited import MORE, with_stop_line
from engage.whatsapp import with_template
from locales import i18n, languages
from store.models import Address, Answer, Contact, OutboxMessage, Run
from store.models.outreach import Consultation, Update

log = logging.getLogger(__name__)

PARTS = ("said", "did", "why")
BATCH_SIZE = 1000

_ = i18n.N_
YOU_SAID = _("You said")
WE_DID = _("We did")
WHY = _("Why")
NEWSLETTER_ASKED = _("What we asked: %(question)s")
NEWSLETTER_ANSWERED = _("How many answered: %(count)s")
NEWSLETTER_TOLD = _("Residents who took part were told on %(date)s.")
PERCENT_SAID = _("%(percent)s of you said “%(answer)s”.")


class UpdateError(ValueError):
    """An update cannot be created or sent as asked; the message says why."""


def update_key(update_id: int, contact_id: int) -> str:
    return f"update:{update_id}:contact:{contact_id}"


# ----- live results in a sentence --------------------------------------------------------


def result_share(session: Session, flow_id: str, step_id: str, value: Any) -> tuple[int, int]:
    """Return (answers with `value`, all answers) to a step in completed runs; multiple choice counts each pick."""
    rows = session.execute(
        select(Answer.value).join(Run, Run.id == Answer.run_id)
        .where(Answer.flow_id == flow_id, Answer.step_id == step_id, Answer.skipped.is_(False),
               Run.status == "completed")
    ).scalars()
    total = matching = 0
    for answer in rows:
        total += 1
        if answer == value or (isinstance(answer, list) and value in answer):
            matching += 1
    return matching, total


def result_summary(session: Session, flow, step_id: str, value: Any, lang: str | None = None) -> str:
    """Return e.g. "62% of you said “Unsafe”." from live results, in `lang` with its number format."""
    lang = lang or flow.base_language
    _refuse_hidden_share(session, flow, step_id, value)
    matching, total = result_share(session, flow.id, step_id, value)
    share = matching / total if total else 0
    label = str(value)
    if flow.has_step(step_id):
        for choice in flow.step(step_id).choices:
            if choice.value == value:
                label = flow.text(choice.labels, lang)
    try:
        percent = format_percent(share, locale=lang)
    except Exception:
        percent = format_percent(share, locale="en_GB")
    return i18n.gettext(lang, PERCENT_SAID, percent=percent, answer=label)


def suggested_quotes(session: Session, flow) -> list[dict[str, str]]:
    """Return, for each choice question, its most chosen answer as a sentence per language, ready to quote.

    What the update form offers an officer writing "you said": figures from live results, never a share the
    small-number rule hides.
    """
    quotes = []
    for step in flow.steps:
        if not step.choices or step.kind == "multiple":
            continue
        shares = {choice.value: result_share(session, flow.id, step.id, choice.value)[0] for choice in step.choices}
        best = max(shares, key=shares.get)
        if not shares[best]:
            continue
        try:
            quotes.append({"step": step.id, **{lang: result_summary(session, flow, step.id, best, lang)
                                               for lang in flow.languages}})
        except UpdateError:
            continue
    return quotes


def _refuse_hidden_share(session: Session, flow, step_id: str, value: Any) -> None:
    """A special-category answer's share is published only where the small-number rule shows its count."""
    from engage.results import question_result, steps_of

    step = next((st for st in steps_of(flow) if st.id == step_id), None)
    if step is None or not step.special_category:
        return
    shown = {c.value: c.count for c in question_result(session, flow.id, step).counts}
    key = ("true" if value else "false") if isinstance(value, bool) else str(value)
    if shown.get(key) is None:
        raise UpdateError(f"too few answered “{key}” to {step_id} to publish its share (special-category data)")


# ----- creating -------------------------------------------------------------------------


def create_update(session: Session, flow, texts: dict[str, dict[str, str]], now: datetime, *,
                  title: str | None = None, include_started: bool = False,
                  created_by: str | None = None, tz: str = "Europe/London") -> Update:
    """Save a draft update; the flow's base language must have all of said, did and why."""
    base = flow.base_language
    texts = {lang: {k: (v or "").strip() for k, v in parts.items() if k in PARTS}
             for lang, parts in texts.items()}
    missing = [p for p in PARTS if not texts.get(base, {}).get(p)]
    if missing:
        raise UpdateError(f"the update needs {', '.join(missing)} in {base} (the flow's first language)")
    unknown = sorted(set(texts) - set(flow.languages))
    if unknown:
        raise UpdateError(f"the flow has no language {', '.join(unknown)}; it has {', '.join(flow.languages)}")
    # The calendar entry residents answered in, never a later round still planned.
    consultation = entry_answered(session, flow.id, now, tz)
    update = Update(
        flow_id=flow.id, consultation_id=consultation.id if consultation else None,
        title=title or flow.title, texts=texts, include_started=include_started, status="draft",
        asked=(flow.consultation.purpose if flow.consultation and flow.consultation.purpose else flow.title),
        created_at=now, created_by=created_by,
    )
    session.add(update)
    session.flush()
    return update


def update_title(update: Update, flow, lang: str | None) -> str:
    """The update's title in `lang`: the flow's title in that language when the update kept the flow's title,
    else the title the officer wrote (one text for every language)."""
    if flow is None:
        return update.title or update.flow_id
    if not update.title or update.title in (flow.title, *(flow.title_texts or {}).values()):
        return flow.title_in(lang) or update.title or flow.title
    return update.title


def update_asked(update: Update, flow, lang: str | None) -> str | None:
    """What the consultation asked, in `lang` where the flow translates it: the purpose (or title) recorded
    with the update, read in the reader's language while the flow still says the same in its base language."""
    asked = update.asked
    if flow is None or not asked or not lang:
        return asked
    consultation = flow.consultation
    if consultation is not None and consultation.purpose_texts and asked == consultation.purpose:
        return flow.text(consultation.purpose_texts, lang) or asked
    if flow.title_texts and asked == flow.title:
        return flow.title_in(lang) or asked
    return asked


def update_text(update: Update, flow, lang: str, *, labels: bool = True) -> str:
    """Return the update as a resident reads it, in `lang` (falling back to the flow's first language)."""
    parts = update.texts.get(lang) or {}
    base = update.texts.get(flow.base_language, {})
    lines = []
    for part, label in zip(PARTS, (YOU_SAID, WE_DID, WHY), strict=True):
        body = parts.get(part) or base.get(part, "")
        lines.append(f"{i18n.gettext(lang, label)}: {body}" if labels else body)
    return "\n\n".join(lines)


def resident_text(update: Update, flow, lang: str, council: str) -> str:
    """Return the update as a resident's message: who it is from and about what, said, did and why, the
    consultation's page, and how to stop. Weeks after they answered, nobody should have to guess."""
    lines = [f"{council}: {update_title(update, flow, lang)}", update_text(update, flow, lang)]
    info_url = flow.consultation.info_url if flow.consultation is not None else None
    if info_url:
        lines.append(i18n.gettext(lang, MORE, url=info_url))
    return with_stop_line("\n\n".join(lines), lang, council)


def _budget_problem(update: Update, flow, council: str) -> str | None:
    """Say which language's message would pass the SMS limit, or None when every one fits."""
    for lang in dict.fromkeys([flow.base_language, *update.texts]):
        cost = message_cost(resident_text(update, flow, lang, council), lang)
        if cost.too_long:
            return (f"the update in {lang} would be {cost.segments} SMS parts with the council's name, the link "
                    f"and the STOP line; the most a text message can be is {MAX_SEGMENTS}: shorten it")
    return None


def newsletter_text(session: Session, update: Update, flow, lang: str | None = None, tz: str = "Europe/London") -> str:
    """Return newsletter-ready plain text in a language: asked, how many answered, said, did, why, when told."""
    lang = lang or flow.base_language
    answered = update.answered_count if update.answered_count is not None else participants_count(session, flow.id)
    lines = [update_title(update, flow, lang), "",
             i18n.gettext(lang, NEWSLETTER_ASKED, question=update_asked(update, flow, lang) or ""),
             i18n.gettext(lang, NEWSLETTER_ANSWERED, count=languages.number(answered, lang)), "",
             update_text(update, flow, lang)]
    if update.sent_at is not None:
        told = update.sent_at.replace(tzinfo=update.sent_at.tzinfo or timezone.utc).astimezone(ZoneInfo(tz))
        lines += ["", i18n.gettext(lang, NEWSLETTER_TOLD, date=languages.long_date(told, lang))]
    if flow.consultation is not None and flow.consultation.info_url:
        lines += ["", i18n.gettext(lang, MORE, url=flow.consultation.info_url)]
    return "\n".join(lines)


def participants_count(session: Session, flow_id: str, include_started: bool = False) -> int:
    """Count the residents who answered (completed a run of) the flow."""
    query = select(func.count(func.distinct(Run.contact_id))).where(Run.flow_id == flow_id,
                                                                    Run.contact_id.is_not(None))
    if not include_started:
        query = query.where(Run.status == "completed")
    return session.scalar(query) or 0


# ----- publishing and sending -------------------------------------------------------------


def publish_update(session: Session, update: Update, now: datetime) -> None:
    """Show the update on the public page."""
    if update.published_at is None:
        update.published_at = now
    if update.status == "draft":
        update.status = "published"
    if update.answered_count is None:
        update.answered_count = participants_count(session, update.flow_id)


def _latest_runs(flow_id: str, include_started: bool):
    """Select each participant's latest qualifying run: the channel and language they answered in."""
    query = select(func.max(Run.id).label("run_id")).where(Run.flow_id == flow_id, Run.contact_id.is_not(None))
    if not include_started:
        query = query.where(Run.status == "completed")
    return query.group_by(Run.contact_id)


def send_update(services, update_id: int) -> dict[str, Any]:
    """Queue the update once to every participant; return eligible, queued and skipped counts."""
    settings = services.settings
    now = services.clock.now()
    not_before = next_allowed_time(now, settings.timezone, settings.quiet_start, settings.quiet_end)
    with services.db.session() as s:
        update = s.get(Update, update_id)
        if update is None:
            raise UpdateError(f"no update {update_id}")
        flow = services.registry.get(update.flow_id)
        if flow is None:
            raise UpdateError(f"flow '{update.flow_id}' is not published")
        problem = _budget_problem(update, flow, settings.council_name)
        if problem:
            raise UpdateError(problem)
        publish_update(s, update, now)
        include_started = update.include_started
    counts: Counter = Counter()
    last = 0
    while True:
        with services.db.session() as s:
            update = s.get(Update, update_id)
            latest = _latest_runs(flow.id, include_started).subquery()
            runs = list(s.scalars(select(Run).join(latest, latest.c.run_id == Run.id)
                                  .where(Run.id > last).order_by(Run.id).limit(BATCH_SIZE)))
            if not runs:
                break
            last = runs[-1].id
            _queue_batch(s, update, flow, runs, now, not_before, counts, settings.council_name)
    with services.db.session() as s:
        update = s.get(Update, update_id)
        update.status = "sent"
        update.sent_at = update.sent_at or now
        update.recipients = {"participants": counts["participants"], "queued": counts["queued"],
                             "skipped": {k: v for k, v in counts.items() if k not in ("participants", "queued")}}
        if update.consultation_id is None:
            # The calendar entry may have been added after the update was written.
            entry = entry_answered(s, update.flow_id, now, settings.timezone)
            update.consultation_id = entry.id if entry is not None else None
        if update.consultation_id:
            consultation = s.get(Consultation, update.consultation_id)
            consultation.status = "reported"
            consultation.reported_at = consultation.reported_at or now
        result = dict(update.recipients)
    log.info("update %s: %s participants, %s queued", update_id, result["participants"], result["queued"])
    return result


def _queue_batch(s: Session, update: Update, flow, runs: list[Run], now: datetime, not_before: datetime,
                 counts: Counter, council: str) -> None:
    contact_ids = [r.contact_id for r in runs]
    contacts = {c.id: c for c in s.scalars(select(Contact).where(Contact.id.in_(contact_ids)))}
    addresses = {a.id: a for a in s.scalars(select(Address).where(
        Address.id.in_([r.address_id for r in runs if r.address_id])))}
    keys = {r.contact_id: update_key(update.id, r.contact_id) for r in runs}
    already = set(s.scalars(select(OutboxMessage.contact_id).where(OutboxMessage.dedupe_key.in_(keys.values()))))
    rows = []
    for run in runs:
        counts["participants"] += 1
        if run.contact_id in already:
            counts["queued"] += 1
            continue
        contact = contacts.get(run.contact_id)
        address = addresses.get(run.address_id)
        # Their own channel only: someone who said STOP there is not chased on another.
        allowed, reason = may_send(contact, address, "update")
        if not allowed:
            counts[reason] += 1
            continue
        lang = run.language if run.language in update.texts else flow.base_language
        payload = {"type": "text", "text": resident_text(update, flow, lang, council), "lang": lang,
                   "update_id": update.id, "flow_id": flow.id}
        # WhatsApp outside its 24-hour window: only as the flow's approved template for the language.
        payload, reason = with_template(payload, address.channel, address.last_inbound_at, not_before or now,
                                        getattr(flow, "whatsapp_templates", None), lang, flow.base_language)
        if reason is not None:
            counts[reason] += 1
            continue
        rows.append(dict(
            contact_id=contact.id, address_id=address.id, channel=address.channel, kind="update",
            priority=PRIORITY_BULK,
            payload=payload,
            language=lang, status="queued", created_at=now, updated_at=now, not_before=not_before,
            dedupe_key=keys[run.contact_id], attempts=0,
        ))
    if rows:
        counts["queued"] += insert_ignoring_duplicates(s, OutboxMessage, rows, "dedupe_key")


def delivery_counts(session: Session, update_id: int) -> dict[str, int]:
    """Return how the update's messages fared: queued, sent, delivered, failed, skipped..."""
    prefix = f"update:{update_id}:contact:"
    rows = session.execute(select(OutboxMessage.status, func.count())
                           .where(OutboxMessage.kind == "update", OutboxMessage.dedupe_key.like(prefix + "%"))
                           .group_by(OutboxMessage.status)).all()
    return {status: count for status, count in rows}


def published_updates(session: Session) -> list[Update]:
    """Return the updates on the public page, newest first."""
    return list(session.scalars(select(Update).where(Update.published_at.is_not(None))
                                .order_by(Update.published_at.desc(), Update.id.desc())))
