"""Broadcasts, "you said, we did" updates and the engagement calendar, on top of engage/ outreach modules."""
from __future__ import annotations

import json
from datetime import date, datetime
from zoneinfo import ZoneInfo

from babel.dates import format_date
from flask import abort, flash, g, jsonify, redirect, render_template, request, url_for
from sqlalchemy import select

from dashboard import segment_words
from dashboard.blueprint import bp, client_ip, now, role_required, services
from dashboard.contacts import explain_error
from dashboard.i18n import _gettext as _
from dashboard.i18n import dashboard_language
from engage import audience_languages, calendar, privacy, segments, sms_cost, unsolicited, updates
from engage import broadcasts as broadcasting
from engage import whatsapp as whatsapp_rules
from engage.officers import record
from engage.sms_cost import estimate_broadcast
from flows.sms import count_segments
from locales import i18n
from locales.languages import BASE_LANGUAGE, BY_CODE, CODES, long_date, number, supported_code
from store.models.outreach import Broadcast, Segment, Update

CHANNEL_WORDS = {"sms": "SMS", "whatsapp": "WhatsApp", "voice": "phone call", "telegram": "Telegram", "web": "web chat"}


def _segment_choices(s) -> list[dict]:
    when = now()
    out = []
    for segment in s.scalars(select(Segment).order_by(Segment.name)):
        try:
            size, words = segments.segment_size(s, segment.rules, when), segment_words.describe(segment.rules)
        except segments.SegmentError as error:
            size, words = None, str(error)
        out.append({"id": segment.id, "name": segment.name, "size": size, "words": words})
    return out


def _reminder_rules(args) -> dict | None:
    """Rules for a reminder to an under-reached group, from the representativeness page's link."""
    field, value = args.get("field"), args.get("value")
    if field in segments.FIELDS and value:
        rules: list[dict] = [{"field": field, "in": [value]}]
        flow_id = args.get("flow_id")
        if flow_id and services().registry.get(flow_id) is not None:
            # A reminder about a consultation goes to those in the group who have not answered it yet.
            rules.append({"not": {"answered": flow_id}})
        return {"all": rules}
    return None


def segment_estimate(texts: dict[str, str]) -> dict[str, dict]:
    """Count SMS segments for each language's whole message: the text and the line saying who sent it."""
    council = services().settings.council_name
    return {lang: {**count_segments(text).__dict__, "text": text}
            for lang, text in unsolicited.whole_messages(texts, council).items()}


@bp.post("/sms-count")
@role_required("officer")
def sms_count():
    """Count the SMS segments a text costs, for the message boxes to show as the officer types.

    With `lang` (a broadcast's message box), the count is of the whole message residents get: the
    text and the line saying who it is from and how to stop.
    """
    text = request.form.get("text", "")[:5000]
    lang = request.form.get("lang", "")
    if supported_code(lang) == lang and lang and text.strip():
        text = unsolicited.with_stop_line(text, lang, services().settings.council_name)
    info = count_segments(text)
    shown_in = dashboard_language()
    summary = i18n.ngettext(shown_in, "%(num)s SMS segment (%(encoding)s, %(characters)s characters)",
                            "%(num)s SMS segments (%(encoding)s, %(characters)s characters)", info.segments,
                            encoding=info.encoding, characters=number(info.characters, shown_in))
    if info.non_gsm:
        summary += " – " + _("not GSM-7: %(characters)s", characters=" ".join(info.non_gsm))
    return jsonify(segments=info.segments, encoding=info.encoding, characters=info.characters,
                   non_gsm="".join(info.non_gsm), summary=summary)


@bp.get("/broadcasts")
def broadcasts_index():
    """List broadcasts with their delivery counts."""
    with services().db.session() as s:
        rows = list(s.scalars(select(Broadcast).order_by(Broadcast.created_at.desc(), Broadcast.id.desc())))
        reports = {b.id: broadcasting.broadcast_report(s, b) for b in rows}
        names = {seg.id: seg.name for seg in s.scalars(select(Segment))}
        # "sending" while messages wait (held for quiet hours or queued), "sent" once none is left.
        statuses = {b.id: broadcasting.progress(s, b, now())[0] for b in rows}
    tz = services().settings.timezone
    return render_template("dashboard/broadcasts.html", broadcasts=rows, reports=reports, names=names,
                           schedules={b.id: schedule_words(b, tz) for b in rows}, statuses=statuses)


# Crontab weekday fields as Babel's weekday numbers (Monday 0).
_WEEKDAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6, "0": 6, "1": 0, "2": 1,
             "3": 2, "4": 3, "5": 4, "6": 5, "7": 6}


def schedule_words(broadcast: Broadcast, tz: str) -> str:
    """Say when a broadcast goes out, on the council's clock, in the officer's language (the command line's
    English words are engage.broadcasts.describe_schedule; the two read the same crontab shapes)."""
    from babel.dates import format_datetime, get_day_names
    from babel.lists import format_list

    locale = BY_CODE[dashboard_language()].locale
    if broadcast.schedule == "once" and broadcast.send_at is not None:
        local = broadcast.send_at.astimezone(ZoneInfo(tz))
        return _("once, on %(when)s", when=format_datetime(local, "EEEE d MMMM y HH:mm", locale=locale))
    if broadcast.schedule != "cron":
        return _("now")
    cron = broadcast.cron or ""
    parts = cron.split()
    unreadable = _("on the schedule %(cron)s", cron=cron)
    if len(parts) != 5:
        return unreadable
    minute, hour, day, month, weekday = parts
    if not (minute.isdigit() and hour.isdigit()) or month != "*":
        return unreadable
    at = f"{int(hour):02d}:{int(minute):02d}"
    names = get_day_names("wide", locale=locale)
    numbers = [_WEEKDAYS.get(d.lower()) for d in weekday.split(",")] if weekday != "*" else []
    if weekday != "*" and any(n is None for n in numbers):
        return unreadable
    days = format_list([names[n] for n in numbers], locale=locale) if numbers else ""
    if day == "*" and not numbers:
        return _("every day at %(time)s", time=at)
    if day == "*":
        return _("every %(days)s at %(time)s", days=days, time=at)
    if day in broadcasting.ORDINALS and len(numbers) == 1:
        nth = {"1-7": _("first"), "8-14": _("second"), "15-21": _("third"), "22-28": _("fourth")}[day]
        return _("every %(nth)s %(day)s at %(time)s", nth=nth, day=days, time=at)
    if day.isdigit() and not numbers:
        return _("on day %(day)s of every month at %(time)s", day=int(day), time=at)
    return unreadable


@bp.route("/broadcasts/new", methods=["GET", "POST"])
@role_required("officer")
def broadcasts_new():
    """Choose a segment (with its size), a flow or a message, and now or later; then queue or schedule it."""
    svc = services()
    flows = svc.registry.all()
    form = request.form if request.method == "POST" else request.args
    reminder = _reminder_rules(form)
    rules_error = None
    if reminder is not None:
        try:
            segments.validate(reminder)
        except segments.SegmentError as error:
            rules_error, reminder = str(error), None
    with svc.db.session() as s:
        choices = _segment_choices(s)
        reminder_size = segments.segment_size(s, reminder, now()) if reminder else None
        audience = _audience_languages(s, form, reminder)
    texts = {lang: form.get(f"text_{lang}", "") for lang in CODES}
    with svc.db.session() as s:
        whatsapp = _whatsapp_audience(svc, s, form, reminder, texts)
    chosen_flow = svc.registry.get(form.get("flow_id", "")) if form.get("content") == "flow" else None
    sent = _messages_as_sent(svc, texts, chosen_flow)
    longest, warn_long, confirm_long = sms_cost.length_warning(
        {lang: sms_cost.message_cost(text, lang) for lang, text in sent.items()})
    context = dict(flows=flows, segments=choices, form=form, reminder=reminder, reminder_size=reminder_size,
                   whatsapp=whatsapp,
                   estimate=segment_estimate(texts), error=rules_error,
                   cost=_broadcast_cost(svc, sent, audience, chosen_flow),
                   flow_estimate=({lang: sms_cost.message_cost(text, lang) for lang, text in sent.items()}
                                  if chosen_flow is not None else None),
                   longest=longest, warn_long=warn_long, confirm_long=confirm_long,
                   warn_above=sms_cost.WARN_ABOVE, confirm_above=sms_cost.CONFIRM_ABOVE,
                   stop_line=unsolicited.stop_line("en", svc.settings.council_name),
                   reminder_words=segment_words.describe(reminder) if reminder else None,
                   **_language_choices(audience, texts, svc.registry.get(form.get("flow_id", ""))
                                       if form.get("content") == "flow" else None))
    if rules_error is not None:
        # A reminder whose group cannot be made into a rule: say which rule and why, and change nothing.
        return render_template("dashboard/broadcast_new.html", **context), 400
    if request.method == "GET" or form.get("action") == "check":
        # "Check the languages" shows who gets what before anything is saved or sent.
        return render_template("dashboard/broadcast_new.html", **context)
    if confirm_long and not form.get("confirm_long"):
        # A long message costs every resident that many texts: the officer says they mean it.
        context["error"] = _("The longest message is %(num)s SMS segments. Tick the box to confirm you mean to "
                             "send a message this long, or shorten it.", num=longest)
        return render_template("dashboard/broadcast_new.html", **context), 422
    try:
        broadcast_id = _create_broadcast(svc, form, texts, reminder)
    except (broadcasting.BroadcastError, segments.SegmentError, ValueError) as error:
        context["error"] = str(error)
        return render_template("dashboard/broadcast_new.html", **context), 422
    flash(_("Broadcast saved."), "success")
    return redirect(url_for("dashboard.broadcast_detail", broadcast_id=broadcast_id))


def _whatsapp_templates(form) -> dict[str, str]:
    """The approved WhatsApp templates the form names, per language (Content SIDs, checked when saved)."""
    return {lang: form.get(f"whatsapp_template_{lang}", "").strip() for lang in CODES
            if form.get(f"whatsapp_template_{lang}", "").strip()}


def _whatsapp_audience(svc, s, form, reminder: dict | None, texts: dict[str, str]) -> dict:
    """Who the broadcast would reach on WhatsApp outside its 24-hour window, and how many of them would be
    skipped for lack of an approved template in their message's language."""
    rules = reminder
    if rules is None:
        segment = s.get(Segment, form.get("segment_id", type=int) or 0) or s.scalar(
            select(Segment).order_by(Segment.name).limit(1))
        rules = segment.rules if segment is not None else None
    flow = svc.registry.get(form.get("flow_id", "")) if form.get("content") == "flow" else None
    templates = _whatsapp_templates(form)
    if flow is not None:
        languages, base = list(flow.languages), flow.base_language
        templates = {**dict(getattr(flow, "whatsapp_templates", None) or {}), **templates}
    else:
        languages = [lang for lang, text in texts.items() if text.strip()] or [BASE_LANGUAGE]
        base = BASE_LANGUAGE if BASE_LANGUAGE in languages else languages[0]
    try:
        counts = whatsapp_rules.outside_window(s, rules, now()) if rules is not None else {}
    except segments.SegmentError:
        counts = {}
    on = "whatsapp" in (svc.extras.get("channels") or {}) or bool(counts)
    return {"on": on, "outside": sum(counts.values()), "templates": templates,
            "flow_templates": dict(getattr(flow, "whatsapp_templates", None) or {}) if flow else {},
            "skipped": whatsapp_rules.skipped_without_template(counts, templates, languages, base)}


def _messages_as_sent(svc, texts: dict[str, str], flow) -> dict[str, str]:
    """Each language's first SMS as residents get it: the message with the line saying who sent it, or the
    flow's opening messages, that line and its first question with choices and reply line."""
    if flow is not None:
        return sms_cost.flow_broadcast_messages(flow, svc.settings.council_name, now(), svc.settings.timezone)
    return unsolicited.whole_messages(texts, svc.settings.council_name)


def _broadcast_cost(svc, whole: dict[str, str], audience: dict[str | None, int], flow=None):
    """The most the broadcast can cost: every resident of the audience sent their whole message by SMS."""
    if not whole or not audience:
        return None
    try:
        return estimate_broadcast(whole, audience, svc.settings, base=flow.base_language if flow else None)
    except ValueError:
        return None


def _audience_languages(s, form, reminder: dict | None) -> dict[str | None, int]:
    """Count the chosen audience (the reminder's group, the chosen segment, else the first) by language."""
    rules = reminder
    if rules is None:
        segment = s.get(Segment, form.get("segment_id", type=int) or 0) or s.scalar(
            select(Segment).order_by(Segment.name).limit(1))
        rules = segment.rules if segment is not None else None
    if rules is None:
        return {}
    try:
        return audience_languages.segment_languages(s, rules, now())
    except segments.SegmentError:
        return {}


def _language_choices(audience: dict[str | None, int], texts: dict[str, str], flow) -> dict:
    """The message boxes to offer (English, Welsh and every language of the audience) and who falls back."""
    boxes = [lang for lang in CODES if lang in (BASE_LANGUAGE, "cy") or audience.get(lang) or texts.get(lang)]
    if flow is not None:
        offered, written, base = flow.languages, flow.languages, flow.base_language
    else:
        offered, written, base = CODES, [lang for lang, text in texts.items() if text.strip()], BASE_LANGUAGE
        base = written[0] if written and base not in written else base
    return dict(language_boxes=boxes, audience=audience, unknown_language=audience.get(None, 0),
                fallbacks=audience_languages.fallbacks(audience, offered, written, base))


def _create_broadcast(svc, form, texts: dict[str, str], reminder: dict | None) -> int:
    tz = svc.settings.timezone
    when = now()
    name = (form.get("name") or "").strip() or _("Broadcast")
    schedule = form.get("schedule", "now")
    send_at = None
    if schedule == "once":
        raw = form.get("send_at", "")
        try:
            send_at = datetime.fromisoformat(raw).replace(tzinfo=ZoneInfo(tz))
        except ValueError as error:
            raise ValueError(_("Give the date and time to send, like 2026-12-07 10:00.")) from error
    flow = None
    if form.get("content") == "flow":
        flow = svc.registry.get(form.get("flow_id", ""))
        if flow is None:
            raise ValueError(_("Choose a published flow."))
    with svc.db.session() as s:
        if reminder is not None:
            label = f"Reminder: {segments.describe(reminder)}"[:180] + f" ({when:%Y-%m-%d %H:%M})"
            segment = segments.create_segment(s, label, reminder, when, created_by=g.officer.email,
                                              description="Made from the representativeness page")
        else:
            segment = s.get(Segment, form.get("segment_id", type=int) or 0)
            if segment is None:
                raise ValueError(_("Choose who to send to."))
        broadcast = broadcasting.create_broadcast(
            s, name=name, segment=segment, now=when, tz=tz, texts=None if flow else texts, flow=flow,
            schedule=schedule, send_at=send_at, cron=form.get("cron") or None, created_by=g.officer.email,
            council=svc.settings.council_name, message_class=form.get("message_class") or "service",
            whatsapp_templates=_whatsapp_templates(form))
        record(s, g.officer, "broadcast.created", when, target_type="broadcast", target_id=broadcast.id,
               detail={"segment_id": segment.id, "schedule": schedule, "flow_id": broadcast.flow_id,
                       "message_class": broadcast.message_class},
               summary=f"Created broadcast {broadcast.id} “{name}” ({schedule})", ip=client_ip())
        broadcast_id = broadcast.id
    if schedule == "now":
        result = broadcasting.fire_broadcast(svc, broadcast_id)
        with svc.db.session() as s:
            record(s, g.officer, "broadcast.sent", now(), target_type="broadcast", target_id=broadcast_id,
                   detail={"queued": getattr(result, "queued", 0)},
                   summary=f"Sent broadcast {broadcast_id} to {getattr(result, 'queued', 0)} residents",
                   ip=client_ip())
    return broadcast_id


@bp.get("/broadcasts/<int:broadcast_id>")
def broadcast_detail(broadcast_id: int):
    """Show a broadcast's firings, skip reasons and delivery counts."""
    with services().db.session() as s:
        broadcast = s.get(Broadcast, broadcast_id)
        if broadcast is None:
            abort(404)
        report = broadcasting.broadcast_report(s, broadcast)
        segment = s.get(Segment, broadcast.segment_id)
        fallbacks_sent = audience_languages.fallbacks_sent(s, broadcast.id)
    return render_template("dashboard/broadcast_detail.html", broadcast=broadcast, report=report, segment=segment,
                           fallbacks_sent=fallbacks_sent,
                           schedule=schedule_words(broadcast, services().settings.timezone),
                           estimate=segment_estimate(broadcast.texts or {}), explain=explain_error,
                           stop_lines={lang: unsolicited.stop_line(lang, services().settings.council_name)
                                       for lang in broadcast.texts or {}})


@bp.post("/broadcasts/<int:broadcast_id>/cancel")
@role_required("officer")
def broadcast_cancel(broadcast_id: int):
    """Cancel a scheduled broadcast."""
    with services().db.session() as s:
        broadcast = s.get(Broadcast, broadcast_id)
        if broadcast is None:
            abort(404)
        withdrawn = broadcasting.cancel_broadcast(s, broadcast, now())
        record(s, g.officer, "broadcast.cancelled", now(), target_type="broadcast", target_id=broadcast_id,
               detail={"withdrawn": withdrawn},
               summary=f"Cancelled broadcast {broadcast_id}; {withdrawn} waiting message(s) withdrawn", ip=client_ip())
    flash(_("Broadcast cancelled. Waiting messages withdrawn: %(n)s.", n=withdrawn), "success")
    return redirect(url_for("dashboard.broadcast_detail", broadcast_id=broadcast_id))


@bp.route("/segments/new", methods=["GET", "POST"])
@role_required("officer")
def segment_new():
    """Save a segment from its JSON rules, showing its size and its description in words."""
    error, size, words = None, None, None
    name = request.form.get("name", "")
    rules_text = request.form.get("rules", '{"all": [{"field": "ward", "in": ["netteswell"]}]}')
    if request.method == "POST":
        try:
            rules = json.loads(rules_text)
            segments.validate(rules)
            with services().db.session() as s:
                words = segment_words.describe(rules)
                size = segments.segment_size(s, rules, now())
                if request.form.get("action") == "save":
                    segment = segments.create_segment(s, name, rules, now(), created_by=g.officer.email)
                    record(s, g.officer, "segment.created", now(), target_type="segment", target_id=segment.id,
                           summary=f"Saved segment “{segment.name}”", ip=client_ip())
                    flash(_("Segment saved."), "success")
                    return redirect(url_for("dashboard.broadcasts_new"))
        except json.JSONDecodeError as exc:
            error = _("The rules are not valid JSON (line %(line)s, column %(col)s).", line=exc.lineno, col=exc.colno)
        except RecursionError:
            error = _("The rules are nested too deeply.")
        except segments.SegmentError as exc:
            error = str(exc)
    # Rules that cannot be understood are a bad request (400), with the message naming the rule at fault.
    return render_template("dashboard/segment_new.html", name=name, rules=rules_text, error=error, size=size,
                           words=words), (400 if error else 200)


# ----- "you said, we did" -------------------------------------------------------------------


@bp.get("/updates")
def updates_index():
    """List "you said, we did" updates with their delivery."""
    with services().db.session() as s:
        rows = list(s.scalars(select(Update).order_by(Update.created_at.desc(), Update.id.desc())))
        delivery = {u.id: updates.delivery_counts(s, u.id) for u in rows}
    return render_template("dashboard/updates.html", updates=rows, delivery=delivery)


@bp.route("/updates/new", methods=["GET", "POST"])
@role_required("officer")
def updates_new():
    """Write an update: what residents said, what the council did, and why, per language."""
    svc = services()
    flows = svc.registry.all()
    flow = svc.registry.get(request.values.get("flow_id", "")) or (flows[0] if flows else None)
    error = None
    if request.method == "POST" and flow is not None:
        texts = {lang: {part: request.form.get(f"{part}_{lang}", "") for part in updates.PARTS}
                 for lang in flow.languages}
        texts = {lang: parts for lang, parts in texts.items() if any(v.strip() for v in parts.values())}
        try:
            with svc.db.session() as s:
                update = updates.create_update(s, flow, texts, now(), title=request.form.get("title") or None,
                                               include_started=bool(request.form.get("include_started")),
                                               created_by=g.officer.email, tz=svc.settings.timezone)
                record(s, g.officer, "update.created", now(), target_type="update", target_id=update.id,
                       summary=f"Wrote a “you said, we did” update for {flow.id}", ip=client_ip())
                update_id = update.id
            return redirect(url_for("dashboard.update_detail", update_id=update_id))
        except updates.UpdateError as exc:
            error = str(exc)
    audience, quotes = {}, []
    if flow is not None:
        with svc.db.session() as s:
            audience = audience_languages.participant_languages(s, flow.id)
            quotes = updates.suggested_quotes(s, flow)
    return render_template("dashboard/update_new.html", flows=flows, flow=flow, error=error, form=request.form,
                           parts=updates.PARTS, audience=audience, quotes=quotes), (422 if error else 200)


@bp.get("/updates/<int:update_id>")
def update_detail(update_id: int):
    """Preview an update per language and channel, and follow its delivery."""
    svc = services()
    with svc.db.session() as s:
        update = s.get(Update, update_id)
        if update is None:
            abort(404)
        delivery = updates.delivery_counts(s, update_id)
        participants = updates.participants_count(s, update.flow_id, update.include_started)
        audience = audience_languages.participant_languages(s, update.flow_id, update.include_started)
    flow = svc.registry.get(update.flow_id)
    fallbacks = audience_languages.fallbacks(audience, flow.languages, update.texts or {},
                                             flow.base_language) if flow is not None else []
    previews = []
    if flow is not None:
        for lang in flow.languages:
            # Exactly what residents get: who it is from, the consultation's link and how to stop included.
            text = updates.resident_text(update, flow, lang, svc.settings.council_name)
            previews.append({"lang": lang, "text": text, "sms": count_segments(text)})
    return render_template("dashboard/update_detail.html", update=update, flow=flow, previews=previews,
                           delivery=delivery, participants=participants, audience=audience, fallbacks=fallbacks)


@bp.post("/updates/<int:update_id>/send")
@role_required("officer")
def update_send(update_id: int):
    """Publish the update and queue it to everyone who took part, on their own channel."""
    svc = services()
    try:
        result = updates.send_update(svc, update_id)
    except updates.UpdateError as exc:
        flash(str(exc), "error")
        return redirect(url_for("dashboard.update_detail", update_id=update_id))
    with svc.db.session() as s:
        record(s, g.officer, "update.sent", now(), target_type="update", target_id=update_id,
               detail={"queued": result.get("queued", 0)},
               summary=f"Sent “you said, we did” update {update_id} to {result.get('queued', 0)} residents",
               ip=client_ip())
    flash(_("The update is on its way to %(n)s residents.", n=result.get("queued", 0)), "success")
    return redirect(url_for("dashboard.update_detail", update_id=update_id))


# ----- the engagement calendar ---------------------------------------------------------------


def _warning_words(warning: calendar.Warning) -> dict:
    """Word a calendar warning in the officer's language, dates through Babel."""
    p, lang = warning.params, dashboard_language()
    if warning.kind == "short_window" and p:
        message = i18n.ngettext(lang, "“%(title)s” is open for %(num)s day, fewer than the %(min_days)s residents "
                                "should have to take part.", "“%(title)s” is open for %(num)s days, fewer than the "
                                "%(min_days)s residents should have to take part.", p["days"], title=p["title"],
                                min_days=p["min_days"])
    elif warning.kind == "overlap" and p:
        message = i18n.ngettext(lang, "“%(first)s” and “%(second)s” both ask %(num)s of the same residents between "
                                "%(start)s and %(end)s.", "“%(first)s” and “%(second)s” both ask %(num)s of the same "
                                "residents between %(start)s and %(end)s.", p["shared"],
                                **{"first": p["first"], "second": p["second"], "start": long_date(p["start"], lang),
                                   "end": long_date(p["end"], lang)})
    else:
        message = warning.message
    return {"kind": warning.kind, "consultation_ids": warning.consultation_ids, "message": message}


@bp.get("/calendar")
def calendar_month():
    """Show a month of consultations, with warnings about short windows and overlaps."""
    svc = services()
    today = calendar.local_today(now(), svc.settings.timezone)
    year = request.args.get("year", today.year, type=int)
    month = request.args.get("month", today.month, type=int)
    if not (1 <= month <= 12 and 2000 <= year <= 2100):
        abort(400)
    with svc.db.session() as s:
        calendar.sync_from_flows(s, svc.registry, now(), svc.settings.timezone)
        view = calendar.month_view(s, year, month, today)
        warnings = [_warning_words(w) for w in calendar.warnings(s, now(), svc.settings.min_consultation_days,
                                                                 svc.settings.timezone)]
    view["title"] = format_date(date(year, month, 1), "LLLL y", locale=BY_CODE[dashboard_language()].locale)
    months = privacy.retention_months(svc.settings)
    return render_template("dashboard/calendar.html", view=view, warnings=warnings, today=today, date=date,
                           flows=svc.registry.all(), error=None, form={},
                           kept_until=lambda closes: privacy.kept_until(closes, months) if closes else None)


@bp.post("/calendar")
@role_required("officer")
def calendar_add():
    """Put a planned consultation in the calendar."""
    svc = services()
    form = request.form
    try:
        opens = date.fromisoformat(form.get("opens", ""))
        closes = date.fromisoformat(form.get("closes", ""))
    except ValueError:
        flash(_("Give the opening and closing dates."), "error")
        return redirect(url_for("dashboard.calendar_month"))
    try:
        with svc.db.session() as s:
            consultation = calendar.plan(
                s, svc.registry, flow_id=form.get("flow_id", ""), opens=opens, closes=closes, now=now(),
                title=form.get("title") or None, owner_service=form.get("owner_service") or None,
                officer=g.officer.email, tz=svc.settings.timezone)
            record(s, g.officer, "consultation.created", now(), target_type="consultation",
                   target_id=consultation.id, summary=f"Planned “{consultation.title or consultation.flow_id}” "
                   f"from {opens:%d %B %Y} to {closes:%d %B %Y}", ip=client_ip())
    except calendar.CalendarError as exc:
        flash(str(exc), "error")
        return redirect(url_for("dashboard.calendar_month"))
    flash(_("Added to the calendar."), "success")
    return redirect(url_for("dashboard.calendar_month", year=opens.year, month=opens.month))


@bp.post("/calendar/<int:consultation_id>")
@role_required("officer")
def calendar_edit(consultation_id: int):
    """Change a calendar entry's title, owner or dates (a flow whose file sets its dates keeps them)."""
    svc = services()
    form = request.form
    try:
        opens = date.fromisoformat(form["opens"]) if form.get("opens") else None
        closes = date.fromisoformat(form["closes"]) if form.get("closes") else None
    except ValueError:
        flash(_("Give the opening and closing dates."), "error")
        return redirect(url_for("dashboard.calendar_month"))
    details = {key: form.get(key).strip() or None for key in ("title", "owner_service") if key in form}
    try:
        with svc.db.session() as s:
            consultation = s.get(calendar.Consultation, consultation_id)
            if consultation is None:
                abort(404)
            calendar.edit_consultation(s, svc.registry, consultation, now(), svc.settings.timezone, opens=opens,
                                       closes=closes, **details)
            record(s, g.officer, "consultation.changed", now(), target_type="consultation",
                   target_id=consultation_id, summary=f"Changed “{consultation.title or consultation.flow_id}”: "
                   f"{consultation.opens:%d %B %Y} to {consultation.closes:%d %B %Y}", ip=client_ip())
            when = consultation.opens
    except calendar.CalendarError as exc:
        flash(str(exc), "error")
        return redirect(url_for("dashboard.calendar_month"))
    flash(_("Calendar entry changed."), "success")
    return redirect(url_for("dashboard.calendar_month", year=when.year, month=when.month))


@bp.post("/calendar/<int:consultation_id>/delete")
@role_required("officer")
def calendar_delete(consultation_id: int):
    """Take an entry off the calendar (not one showing the dates a published flow holds residents to)."""
    svc = services()
    try:
        with svc.db.session() as s:
            consultation = s.get(calendar.Consultation, consultation_id)
            if consultation is None:
                abort(404)
            name = consultation.title or consultation.flow_id
            calendar.delete_consultation(s, svc.registry, consultation)
            record(s, g.officer, "consultation.deleted", now(), target_type="consultation",
                   target_id=consultation_id, summary=f"Took “{name}” off the calendar", ip=client_ip())
    except calendar.CalendarError as exc:
        flash(str(exc), "error")
        return redirect(url_for("dashboard.calendar_month"))
    flash(_("Taken off the calendar."), "success")
    return redirect(url_for("dashboard.calendar_month"))
