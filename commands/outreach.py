"""`python app.py segments|broadcasts|updates|consultations ...`: reaching residents and telling them what happened."""
from __future__ import annotations

import json
from datetime import date, datetime
from zoneinfo import ZoneInfo

import click
from sqlalchemy import select

from commands.context import current_services


def _rules(text: str) -> dict:
    try:
        rules = json.loads(text)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not valid JSON ({exc.msg} at character {exc.pos})", param_hint="RULES") from None
    return rules


def _local_datetime(value: str, tz: str, hint: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter("use the form 2026-12-07T10:00 (council time)", param_hint=hint) from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=ZoneInfo(tz))).astimezone(ZoneInfo("UTC"))


def _date(value: str, hint: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter("use the form 2026-12-31", param_hint=hint) from None


# ----- segments ----------------------------------------------------------------------------


@click.group()
def segments() -> None:
    """Groups of residents to send to: by place, identity, interest, channel or what they did.

    \b
    Rules are JSON. Examples:
      {"field": "ward", "in": ["Netteswell", "Mark Hall"]}      place
      {"field": "age_band", "in": ["65_plus"]}                  identity
      {"group": "tenants"}                                      interest
      {"opted_in": "sms"}                                       channel
      {"answered": "street-safety"}                             finished a flow
      {"started_not_finished": "crime-perception"}              started, did not finish
      {"not_contacted_days": 30}                                nothing sent for 30 days
    Combine with {"all": [...]}, {"any": [...]}, {"not": {...}}.
    """


@segments.command("create")
@click.argument("name")
@click.argument("rules")
@click.option("--description", default=None, help="A note for other officers.")
@click.option("--by", "created_by", default=None, help="Your name, kept with the segment.")
def segments_create(name: str, rules: str, description: str | None, created_by: str | None) -> None:
    """Save a segment called NAME with RULES (JSON), and show its size.

    \b
    Example:
      python app.py segments create "Netteswell tenants" \\
        '{"all": [{"field": "ward", "in": ["Netteswell"]}, {"group": "tenants"}]}'
    """
    from engage.segments import SegmentError, create_segment, describe, segment_size

    services = current_services()
    parsed = _rules(rules)
    try:
        with services.db.session() as s:
            segment = create_segment(s, name, parsed, services.clock.now(), description=description,
                                     created_by=created_by)
            size = segment_size(s, parsed, services.clock.now())
            segment_id = segment.id
    except SegmentError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Saved segment {segment_id} “{name}”: {describe(parsed)}.")
    click.echo(f"It matches {size} resident(s) today.")


@segments.command("list")
def segments_list() -> None:
    """List saved segments with their size today."""
    from engage.segments import describe, segment_size
    from store.models.outreach import Segment

    services = current_services()
    with services.db.session() as s:
        rows = s.scalars(select(Segment).order_by(Segment.id)).all()
        if not rows:
            click.echo("No segments yet. Create one with: python app.py segments create NAME RULES")
        for segment in rows:
            size = segment_size(s, segment.rules, services.clock.now())
            click.echo(f"{segment.id:>4}  {segment.name}  ({size} residents)\n      {describe(segment.rules)}")


@segments.command("show")
@click.argument("segment")
def segments_show(segment: str) -> None:
    """Show one segment (by id or name): its rules, in words, and its size."""
    from engage.segments import describe, find_segment, segment_size

    services = current_services()
    with services.db.session() as s:
        found = find_segment(s, segment)
        if found is None:
            raise click.ClickException(f"no segment '{segment}'; see: python app.py segments list")
        click.echo(f"Segment {found.id}: {found.name}")
        click.echo(describe(found.rules) + ".")
        click.echo(f"Rules: {json.dumps(found.rules, ensure_ascii=False)}")
        click.echo(f"Size today: {segment_size(s, found.rules, services.clock.now())}")


@segments.command("size")
@click.argument("rules")
def segments_size(rules: str) -> None:
    """Count the residents RULES (JSON) match, without saving anything.

    \b
    Example:
      python app.py segments size '{"group": "tenants"}'
    """
    from engage.segments import SegmentError, describe, segment_size

    services = current_services()
    parsed = _rules(rules)
    try:
        with services.db.session() as s:
            size = segment_size(s, parsed, services.clock.now())
        click.echo(f"{describe(parsed)}: {size}")
    except SegmentError as exc:
        raise click.ClickException(str(exc)) from None


# ----- broadcasts -----------------------------------------------------------------------------


@click.group()
def broadcasts() -> None:
    """Messages and flow starts sent to a segment, now, at a time, or on a schedule.

    Everyone is checked before sending: opted out, asked not to be contacted,
    or already sent too much lately (the fatigue cap) are skipped and counted.
    Nothing is sent during quiet hours; it waits for the morning.
    """


@broadcasts.command("create")
@click.argument("name")
@click.option("--segment", required=True, help="Segment id or name to send to.")
@click.option("--text", "texts", multiple=True, metavar="LANG=TEXT",
              help="The message in one language, e.g. --text 'en=Bins go out Tuesday' --text 'cy=...'. "
                   "The first language is used for anyone whose language is missing.")
@click.option("--flow", "flow_id", default=None, help="Start this flow for each resident instead of a message.")
@click.option("--at", "send_at", default=None, help="Send once at this council time, e.g. 2026-12-07T10:00.")
@click.option("--cron", default=None,
              help="Send on a schedule: minute hour day month weekday, e.g. '0 10 1-7 * mon' "
                   "(every first Monday at 10:00).")
@click.option("--now", "send_now", is_flag=True, help="Send straight away.")
@click.option("--by", "created_by", default=None, help="Your name, kept with the broadcast.")
@click.option("--class", "message_class", type=click.Choice(["service", "promotional"]), default="service",
              metavar="CLASS", show_default=True,
              help="service: about a consultation or a service residents use; promotional: events, paid "
                   "services. Each reaches only residents with a recorded basis for it.")
@click.option("--whatsapp", "whatsapp_templates", multiple=True, metavar="L=SID",
              help="The approved WhatsApp template (Twilio Content SID) for a language, e.g. "
                   "--whatsapp en=HX0123...: how WhatsApp residents who have not written in 24 hours are "
                   "reached; without one they are skipped.")
def broadcasts_create(name, segment, texts, flow_id, send_at, cron, send_now, created_by, message_class,
                      whatsapp_templates=()) -> None:
    """Create a broadcast called NAME.

    \b
    Examples:
      python app.py broadcasts create "Bin day" --segment "Netteswell tenants" \\
        --text "en=Bins go out on Tuesday this week." --text "cy=Bydd biniau'n mynd allan ddydd Mawrth." --now
      python app.py broadcasts create "Safety poll" --segment 3 --flow street-safety --at 2026-12-07T10:00
      python app.py broadcasts create "Monthly pulse" --segment 3 --flow climate-pulse --cron "0 10 1-7 * mon"
    """
    from engage.broadcasts import BroadcastError, create_broadcast, describe_schedule, fire_broadcast
    from engage.segments import find_segment

    services = current_services()
    tz = services.settings.timezone
    chosen = [x for x in (send_at, cron, send_now) if x]
    if len(chosen) != 1:
        raise click.UsageError("say when: exactly one of --now, --at or --cron")
    message = None
    if texts:
        message = {}
        for item in texts:
            lang, sep, body = item.partition("=")
            if not sep or not lang.strip():
                raise click.BadParameter(f"'{item}' should look like en=Your message", param_hint="--text")
            message[lang.strip()] = body
    templates = {}
    for item in whatsapp_templates:
        lang, sep, sid = item.partition("=")
        if not sep or not lang.strip():
            raise click.BadParameter(f"'{item}' should look like en=HX0123...", param_hint="--whatsapp")
        templates[lang.strip()] = sid.strip()
    flow = None
    if flow_id:
        flow = services.registry.get(flow_id)
        if flow is None:
            raise click.ClickException(f"no published flow '{flow_id}'")
    schedule = "now" if send_now else ("once" if send_at else "cron")
    when = _local_datetime(send_at, tz, "--at") if send_at else None
    try:
        with services.db.session() as s:
            target = find_segment(s, segment)
            if target is None:
                raise click.ClickException(f"no segment '{segment}'; see: python app.py segments list")
            broadcast = create_broadcast(s, name=name, segment=target, now=services.clock.now(), tz=tz,
                                         texts=message, flow=flow, schedule=schedule, send_at=when, cron=cron,
                                         created_by=created_by, council=services.settings.council_name,
                                         message_class=message_class, whatsapp_templates=templates)
            broadcast_id = broadcast.id
            words = describe_schedule(broadcast, tz)
    except BroadcastError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Broadcast {broadcast_id} “{name}” will go out {words}.")
    if send_now:
        _echo_result(fire_broadcast(services, broadcast_id), services.settings.timezone)


def _echo_result(result, tz: str) -> None:
    if result is None:
        click.echo("Nothing sent: the broadcast was cancelled.")
        return
    already = result.queued - result.newly_queued
    click.echo(f"In the segment: {result.in_segment}. Queued: {result.newly_queued}.")
    if already:
        click.echo(f"Already queued by an earlier send: {already} (nobody gets it twice).")
    for reason, count in sorted(result.skipped.items()):
        click.echo(f"  skipped, {REASON_WORDS.get(reason, reason)}: {count}")
    if result.language_fallbacks:
        click.echo(f"  sent in the fallback language (theirs was missing): {result.language_fallbacks}")
    if result.not_before is not None:
        click.echo(f"Sending from {result.not_before.astimezone(ZoneInfo(tz)):%d %B %Y %H:%M} "
                   "(quiet hours are respected).")


REASON_WORDS = {
    "opted_out": "opted out",
    "no_consent": "never opted in",
    "no_service_basis": "no basis for service messages (no import source, panel or yes to future messages)",
    "no_promotional_basis": "no basis for promotional messages",
    "unusable": "number or chat no longer works",
    "objected": "asked not to be contacted",
    "fatigue": "already messaged enough this week (fatigue cap)",
    "recently_answered": "answered this flow recently",
    "already_answered": "already answered this consultation",
    "already_in_flow": "already answering this flow",
    "in_conversation": "in the middle of another survey (send again later to reach them)",
    "consultation_closed": "the consultation has closed",
    "consultation_not_open": "the consultation is not open yet",
    "not_started": "the flow could not start",
    "erased": "erased",
    "no_contact": "no contact",
    "no_address": "no address",
}


@broadcasts.command("list")
def broadcasts_list() -> None:
    """List broadcasts, their schedule and status."""
    from engage.broadcasts import describe_schedule, progress
    from store.models.outreach import Broadcast

    services = current_services()
    tz = services.settings.timezone
    with services.db.session() as s:
        rows = s.scalars(select(Broadcast).order_by(Broadcast.id)).all()
        if not rows:
            click.echo("No broadcasts yet. See: python app.py broadcasts create --help")
        for b in rows:
            what = f"flow {b.flow_id}" if b.content == "flow" else "message"
            status, waiting, held_until = progress(s, b, services.clock.now())
            line = f"{b.id:>4}  {b.name}  [{status}]  {what}, {describe_schedule(b, tz)}"
            if waiting:
                line += f"; {waiting} message(s) waiting to go"
                if held_until is not None:
                    line += f", held for quiet hours until {held_until.astimezone(ZoneInfo(tz)):%d %B %Y %H:%M}"
            click.echo(line)


@broadcasts.command("show")
@click.argument("broadcast_id", type=int)
def broadcasts_show(broadcast_id: int) -> None:
    """Show a broadcast: what, to whom, when, and for each sending how many were queued or skipped and why."""
    from engage.broadcasts import broadcast_report, describe_schedule
    from engage.segments import describe
    from store.models.outreach import Broadcast, Segment

    services = current_services()
    with services.db.session() as s:
        b = s.get(Broadcast, broadcast_id)
        if b is None:
            raise click.ClickException(f"no broadcast {broadcast_id}")
        segment = s.get(Segment, b.segment_id)
        click.echo(f"Broadcast {b.id}: {b.name} [{b.status}]")
        click.echo(f"To: {segment.name}: {describe(segment.rules)}")
        click.echo(f"When: {describe_schedule(b, services.settings.timezone)}")
        if b.content == "flow":
            click.echo(f"Starts the flow: {b.flow_id}")
        for lang, body in b.texts.items():
            click.echo(f"[{lang}] {body}")
        report = broadcast_report(s, b)
    for o in report["occurrences"]:
        click.echo(f"Sending {o['occurrence']}: in the segment {o['in_segment']}, eligible {o['eligible']}, "
                   f"queued {o['queued']}")
        for reason, count in sorted(o["skipped"].items()):
            click.echo(f"  skipped, {REASON_WORDS.get(reason, reason)}: {count}")
        if o["language_fallbacks"]:
            click.echo(f"  in the fallback language: {o['language_fallbacks']}")
    if report["delivery"]:
        click.echo("Delivery: " + ", ".join(f"{k} {v}" for k, v in sorted(report["delivery"].items())))


@broadcasts.command("send-now")
@click.argument("broadcast_id", type=int)
def broadcasts_send_now(broadcast_id: int) -> None:
    """Send a broadcast straight away (safe to repeat: nobody gets it twice)."""
    from engage.broadcasts import BroadcastError, fire_broadcast

    services = current_services()
    try:
        _echo_result(fire_broadcast(services, broadcast_id), services.settings.timezone)
    except BroadcastError as exc:
        raise click.ClickException(str(exc)) from None


@broadcasts.command("cancel")
@click.argument("broadcast_id", type=int)
def broadcasts_cancel(broadcast_id: int) -> None:
    """Stop a broadcast: it will not fire again, and messages still waiting are taken back."""
    from engage.broadcasts import cancel_broadcast
    from store.models.outreach import Broadcast

    services = current_services()
    with services.db.session() as s:
        b = s.get(Broadcast, broadcast_id)
        if b is None:
            raise click.ClickException(f"no broadcast {broadcast_id}")
        withdrawn = cancel_broadcast(s, b, services.clock.now())
    click.echo(f"Broadcast {broadcast_id} cancelled: it will not go out again; {withdrawn} waiting message(s) "
               "withdrawn.")


# ----- updates ("you said, we did") ------------------------------------------------------------


@click.group()
def updates() -> None:
    """"You said, we did": tell everyone who took part what was decided and why.

    An update goes once to every resident who answered a consultation, on the
    channel they answered on and in their language, and appears on the public
    page /you-said-we-did.
    """


@updates.command("create")
@click.argument("flow_id")
@click.option("--said", "said", multiple=True, required=True, metavar="LANG=TEXT",
              help="What residents said, e.g. --said 'en=62% of you said the park feels unsafe after dark.'")
@click.option("--did", "did", multiple=True, required=True, metavar="LANG=TEXT",
              help="What the council did or decided.")
@click.option("--why", "why", multiple=True, required=True, metavar="LANG=TEXT",
              help="Why: how residents' answers were weighed (Gunning: conscientious consideration).")
@click.option("--title", default=None, help="Heading on the public page (default: the flow's title).")
@click.option("--include-started", is_flag=True, help="Also tell residents who started but did not finish.")
@click.option("--by", "created_by", default=None, help="Your name.")
def updates_create(flow_id, said, did, why, title, include_started, created_by) -> None:
    """Write a draft update for the consultation FLOW_ID; nothing is sent yet.

    \b
    Example:
      python app.py updates create street-safety \\
        --said "en=62% of you said Town Park feels unsafe after dark." \\
        --did "en=We are putting 12 new lights in Town Park in March." \\
        --why "en=It was the place named most often, by residents of every age." \\
        --said "cy=..." --did "cy=..." --why "cy=..."
    Then: python app.py updates preview ID, and python app.py updates send ID.
    """
    from engage.updates import UpdateError, create_update

    services = current_services()
    flow = services.registry.get(flow_id)
    if flow is None:
        raise click.ClickException(f"no published flow '{flow_id}'")
    texts: dict[str, dict[str, str]] = {}
    for part, items in (("said", said), ("did", did), ("why", why)):
        for item in items:
            lang, sep, body = item.partition("=")
            if not sep:
                raise click.BadParameter(f"'{item}' should look like en=Your words", param_hint=f"--{part}")
            texts.setdefault(lang.strip(), {})[part] = body
    try:
        with services.db.session() as s:
            update = create_update(s, flow, texts, services.clock.now(), title=title,
                                   include_started=include_started, created_by=created_by,
                                   tz=services.settings.timezone)
            update_id = update.id
    except UpdateError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Draft update {update_id} saved. Check it with: python app.py updates preview {update_id}")


@updates.command("preview")
@click.argument("update_id", type=int)
@click.option("--lang", default=None, help="Language to show (default: the flow's first).")
def updates_preview(update_id: int, lang: str | None) -> None:
    """Show the update as newsletter-ready text, and how many residents it would reach."""
    from engage.updates import newsletter_text, participants_count
    from store.models.outreach import Update

    services = current_services()
    with services.db.session() as s:
        update = s.get(Update, update_id)
        if update is None:
            raise click.ClickException(f"no update {update_id}")
        flow = services.registry.get(update.flow_id)
        if flow is None:
            raise click.ClickException(f"flow '{update.flow_id}' is not published")
        click.echo(newsletter_text(s, update, flow, lang))
        click.echo("")
        click.echo(f"Would go to {participants_count(s, flow.id, update.include_started)} resident(s) who "
                   f"{'took part' if update.include_started else 'answered'} (less anyone who has opted out).")


@updates.command("send")
@click.argument("update_id", type=int)
def updates_send(update_id: int) -> None:
    """Publish the update on /you-said-we-did and send it to everyone who took part (once each)."""
    from engage.quiet_hours import next_allowed_time
    from engage.updates import UpdateError, send_update

    services = current_services()
    try:
        result = send_update(services, update_id)
    except UpdateError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Update {update_id}: {result['participants']} took part, {result['queued']} queued.")
    for reason, count in sorted(result["skipped"].items()):
        click.echo(f"  skipped, {REASON_WORDS.get(reason, reason)}: {count}")
    settings, now = services.settings, services.clock.now()
    # The same rule send_update held the messages by.
    not_before = next_allowed_time(now, settings.timezone, settings.quiet_start, settings.quiet_end)
    if result["queued"] and not_before > now:
        local = not_before.astimezone(ZoneInfo(settings.timezone))
        click.echo(f"It is quiet hours now: the messages will go from {local:%d %B %Y %H:%M}.")


@updates.command("list")
def updates_list() -> None:
    """List updates with their status and delivery so far."""
    from engage.updates import delivery_counts
    from store.models.outreach import Update

    services = current_services()
    with services.db.session() as s:
        rows = s.scalars(select(Update).order_by(Update.id)).all()
        if not rows:
            click.echo("No updates yet. See: python app.py updates create --help")
        for u in rows:
            delivery = delivery_counts(s, u.id)
            told = f", told {u.sent_at:%d %B %Y}" if u.sent_at else ""
            click.echo(f"{u.id:>4}  {u.title}  [{u.status}{told}]  "
                       + (", ".join(f"{k} {v}" for k, v in sorted(delivery.items())) or "not sent"))


# ----- consultations (the engagement calendar) -----------------------------------------------


@click.group()
def consultations() -> None:
    """The engagement calendar: what is being asked, of whom, and when."""


@consultations.command("add")
@click.argument("flow_id")
@click.option("--opens", required=True, help="First day, e.g. 2027-01-04.")
@click.option("--closes", required=True, help="Last day answers are taken, e.g. 2027-02-14.")
@click.option("--service", "owner_service", default=None, help="The service that owns it, e.g. Housing.")
@click.option("--officer", default=None, help="The officer responsible.")
@click.option("--purpose", default=None, help="What the council will decide with the answers.")
@click.option("--segment", default=None, help="Segment id or name it asks (default: everyone).")
def consultations_add(flow_id, opens, closes, owner_service, officer, purpose, segment) -> None:
    """Put a consultation in the calendar and show any warnings it raises.

    \b
    Example:
      python app.py consultations add tenant-feedback --opens 2027-01-04 --closes 2027-02-14 \\
        --service Housing --officer "A. Khan" --segment "Netteswell tenants"
    """
    from engage.calendar import CalendarError, plan, warnings
    from engage.segments import find_segment

    services = current_services()
    try:
        with services.db.session() as s:
            target = None
            if segment:
                target = find_segment(s, segment)
                if target is None:
                    raise click.ClickException(f"no segment '{segment}'")
            c = plan(s, services.registry, flow_id=flow_id, opens=_date(opens, "--opens"),
                     closes=_date(closes, "--closes"), now=services.clock.now(), tz=services.settings.timezone,
                     owner_service=owner_service, officer=officer, purpose=purpose, segment=target)
            cid = c.id
            found = [w for w in warnings(s, services.clock.now(), services.settings.min_consultation_days,
                                         services.settings.timezone)
                     if cid in w.consultation_ids]
    except CalendarError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Consultation {cid} added to the calendar.")
    for w in found:
        click.echo(f"Warning: {w.message}")


@consultations.command("edit")
@click.argument("consultation_id", type=int)
@click.option("--opens", default=None, help="New first day, e.g. 2027-01-04.")
@click.option("--closes", default=None, help="New last day answers are taken.")
@click.option("--title", default=None, help="New title.")
@click.option("--service", "owner_service", default=None, help="The service that owns it.")
@click.option("--officer", default=None, help="The officer responsible.")
@click.option("--purpose", default=None, help="What the council will decide with the answers.")
@click.option("--segment", default=None, help="Segment id or name it asks.")
def consultations_edit(consultation_id, opens, closes, title, owner_service, officer, purpose, segment) -> None:
    """Change a calendar entry (see the ids with: consultations list).

    A flow whose file sets the consultation's dates keeps them: change the dates in the flow.
    """
    from engage.calendar import CalendarError, edit_consultation, window_days
    from engage.segments import find_segment
    from store.models.outreach import Consultation

    services = current_services()
    details = {k: v for k, v in (("title", title), ("owner_service", owner_service), ("officer", officer),
                                 ("purpose", purpose)) if v is not None}
    try:
        with services.db.session() as s:
            c = s.get(Consultation, consultation_id)
            if c is None:
                raise click.ClickException(f"no consultation {consultation_id}; see: python app.py consultations list")
            if segment:
                target = find_segment(s, segment)
                if target is None:
                    raise click.ClickException(f"no segment '{segment}'")
                details["segment_id"] = target.id
            if not details and opens is None and closes is None:
                raise click.UsageError("say what to change: --opens, --closes, --title, --service, --officer, "
                                       "--purpose or --segment")
            edit_consultation(s, services.registry, c, services.clock.now(), services.settings.timezone,
                              opens=_date(opens, "--opens") if opens else None,
                              closes=_date(closes, "--closes") if closes else None, **details)
            who = ", ".join(x for x in (c.owner_service, c.officer) if x) or "no owner set"
            words = (f"Consultation {c.id} “{c.title or c.flow_id}”: {c.opens:%d %b %Y} – {c.closes:%d %b %Y} "
                     f"({window_days(c)} days), {who}.")
    except CalendarError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(words)


@consultations.command("delete")
@click.argument("consultation_id", type=int)
def consultations_delete(consultation_id: int) -> None:
    """Take an entry off the calendar (an entry showing a flow's own dates stays while the flow has them)."""
    from engage.calendar import CalendarError, delete_consultation
    from store.models.outreach import Consultation

    services = current_services()
    try:
        with services.db.session() as s:
            c = s.get(Consultation, consultation_id)
            if c is None:
                raise click.ClickException(f"no consultation {consultation_id}; see: python app.py consultations list")
            name = c.title or c.flow_id
            delete_consultation(s, services.registry, c)
    except CalendarError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Consultation {consultation_id} “{name}” taken off the calendar.")


@consultations.command("list")
@click.option("--sync/--no-sync", default=True, show_default=True,
              help="First add any published flow with consultation dates that is not in the calendar.")
def consultations_list(sync: bool) -> None:
    """List consultations with their dates, owner and status."""
    from engage.calendar import local_today, status_on, sync_from_flows, window_days
    from store.models.outreach import Consultation

    services = current_services()
    tz = services.settings.timezone
    with services.db.session() as s:
        if sync:
            sync_from_flows(s, services.registry, services.clock.now(), tz)
        today = local_today(services.clock.now(), tz)
        rows = s.scalars(select(Consultation).order_by(Consultation.opens, Consultation.id)).all()
        if not rows:
            click.echo("The calendar is empty.")
        for c in rows:
            who = ", ".join(x for x in (c.owner_service, c.officer) if x) or "no owner set"
            click.echo(f"{c.id:>4}  {c.opens:%d %b %Y} – {c.closes:%d %b %Y} ({window_days(c)} days)  "
                       f"{c.title or c.flow_id}  [{status_on(c, today)}]  {who}")


@consultations.command("calendar")
@click.option("--month", default=None, help="Month to show, e.g. 2026-12 (default: this month).")
def consultations_calendar(month: str | None) -> None:
    """Show one month: which consultations are open on which days."""
    from engage.calendar import local_today, month_view

    services = current_services()
    today = local_today(services.clock.now(), services.settings.timezone)
    year, number = today.year, today.month
    if month:
        try:
            year, number = (int(x) for x in month.split("-"))
            date(year, number, 1)
        except ValueError:
            raise click.BadParameter("use the form 2026-12", param_hint="--month") from None
    with services.db.session() as s:
        view = month_view(s, year, number, today)
    click.echo(view["title"])
    for entry in view["consultations"]:
        click.echo(f"  [{entry['id']}] {entry['title']}: {entry['opens']:%d %b} – {entry['closes']:%d %b} "
                   f"({entry['status']})")
    click.echo("  Mo Tu We Th Fr Sa Su")
    for week in view["weeks"]:
        cells = []
        for day in week:
            mark = "*" if day["consultations"] and day["in_month"] else " "
            cells.append(f"{day['date'].day:>2}{mark}" if day["in_month"] else "   ")
        click.echo("  " + "".join(cells))
    if not view["consultations"]:
        click.echo("  Nothing open this month.")
    else:
        click.echo("  * a consultation is open that day")


@consultations.command("warnings")
def consultations_warnings() -> None:
    """List windows that are too short and consultations asking the same residents at the same time."""
    from engage.calendar import warnings

    services = current_services()
    with services.db.session() as s:
        found = warnings(s, services.clock.now(), services.settings.min_consultation_days,
                         services.settings.timezone)
    if not found:
        click.echo("No warnings.")
    for w in found:
        click.echo(f"{w.kind}: {w.message}")
