"""`python app.py check`: the deployment self-test an IT team runs before go-live and in monitoring.

One line per check, `OK`, `WARN` or `FAIL`, and exit status 1 when anything fails. The providers are
asked through their real SDKs with read-only calls (Twilio: the account and the sending number's
webhook; Telegram: getWebhookInfo); nothing is changed and nothing is sent.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

import click

from security import KNOWN_KEYS, MIN_SECRET_KEY_BYTES, is_loopback

OK, WARN, FAIL = "OK", "WARN", "FAIL"
SMS_WEBHOOK_PATH = "/webhooks/twilio/sms"
TELEGRAM_WEBHOOK_PATH = "/webhooks/telegram"


@dataclass(frozen=True)
class Line:
    status: str
    name: str
    detail: str


def _default(name: str):
    from config import Settings

    return next(f.default for f in dataclasses.fields(Settings) if f.name == name)


def _current_app():
    """The app this command runs in (the test app under a test runner), or a new one."""
    from flask.cli import ScriptInfo

    info = click.get_current_context().find_object(ScriptInfo)
    if info is not None and info.create_app is not None:
        return info.load_app()
    from app import create_app

    return create_app()


# ----- the checks ----------------------------------------------------------------------------------


def check_secret_key(app, settings) -> list[Line]:
    key = settings.secret_key or (app.secret_key if app is not None else "") or ""
    size = len(key.encode("utf-8")) if isinstance(key, str) else len(key)
    make_one = "make one with: python -c 'import secrets; print(secrets.token_urlsafe(48))'"
    if not key:
        return [Line(FAIL, "secret key", f"OUTREACH_SECRET_KEY is not set; {make_one}")]
    if key in KNOWN_KEYS:
        return [Line(FAIL, "secret key", f"OUTREACH_SECRET_KEY is a publicly known value; {make_one}")]
    if size < MIN_SECRET_KEY_BYTES:
        return [Line(FAIL, "secret key", f"OUTREACH_SECRET_KEY is {size} bytes; it needs {MIN_SECRET_KEY_BYTES} "
                                         f"at least; {make_one}")]
    return [Line(OK, "secret key", f"set, {size} bytes")]


def check_sandbox(app, services) -> list[Line]:
    from bot.sandbox.twilio_server import SANDBOX_AUTH_TOKEN
    from bot.twilio_sms import webhook_auth_token

    settings = services.settings
    open_parts = []
    if any(rule.rule.startswith("/sandbox") for rule in app.url_map.iter_rules()):
        open_parts.append("the /sandbox/ pages are served")
    if services.extras.get("twilio_sandbox") or services.extras.get("telegram_sandbox"):
        open_parts.append("local stand-in providers are running")
    if webhook_auth_token(settings) == SANDBOX_AUTH_TOKEN and settings.twilio_auth_token != SANDBOX_AUTH_TOKEN:
        open_parts.append("the SMS webhook accepts the sandbox's public token")
    if open_parts:
        return [Line(FAIL, "sandbox", f"on: {'; '.join(open_parts)}; set OUTREACH_SANDBOX=false")]
    return [Line(OK, "sandbox", "off")]


def check_database(services) -> tuple[list[Line], bool]:
    """Return the lines and whether the database can be used for the checks that follow."""
    from store.health import HealthCheck

    db = services.db
    where = db.engine.url.render_as_string(hide_password=True)
    timeout = max(5.0, db.timeouts.effective_connect + 2.0)
    health = HealthCheck(db, timeout)()
    lines: list[Line] = []
    if health.status in ("database unreachable", "database not answering"):
        return [Line(FAIL, "database", f"{health.status} at {where} ({health.detail})")], False
    if health.status == "database not migrated":
        lines.append(Line(FAIL, "database", f"reachable at {where}, not migrated: {health.detail}"))
    else:
        revisions = ", ".join(sorted(db.head_revisions()))
        lines.append(Line(OK, "database", f"{db.engine.dialect.name} at {where}, migrated (schema {revisions})"))
    if services.settings.mode == "scaled" and db.is_sqlite:
        lines.append(Line(FAIL, "database", "scaled mode needs PostgreSQL; SQLite serves one process only"))
    return lines, health.status == "ready"


def check_public_url(settings) -> list[Line]:
    url = settings.public_url or ""
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        return [Line(FAIL, "public URL", f"OUTREACH_PUBLIC_URL must be an https address Twilio and Telegram "
                                         f"can reach; it is {url or 'not set'}")]
    if is_loopback(parts.hostname):
        return [Line(FAIL, "public URL", f"OUTREACH_PUBLIC_URL {url} is this machine only; providers cannot reach it")]
    return [Line(OK, "public URL", url)]


def check_twilio(settings) -> list[Line]:
    import requests
    from twilio.base.exceptions import TwilioException, TwilioRestException

    from bot.twilio_sms import TwilioSMS

    given = [settings.twilio_account_sid, settings.twilio_auth_token, settings.twilio_from,
             settings.twilio_messaging_service_sid]
    if not any(given):
        return [Line(WARN, "Twilio", "not configured: no SMS (set OUTREACH_TWILIO_ACCOUNT_SID, "
                                     "OUTREACH_TWILIO_AUTH_TOKEN and OUTREACH_TWILIO_FROM)")]
    if not settings.twilio_enabled:
        return [Line(FAIL, "Twilio", "partly configured: OUTREACH_TWILIO_ACCOUNT_SID, OUTREACH_TWILIO_AUTH_TOKEN "
                                     "and OUTREACH_TWILIO_FROM (or _MESSAGING_SERVICE_SID) are all needed")]
    account_api = TwilioSMS.from_settings(settings).client.api.v2010.accounts(settings.twilio_account_sid)
    try:
        account = account_api.fetch()
    except TwilioRestException as exc:
        return [Line(FAIL, "Twilio", f"the API refused the credentials (HTTP {exc.status}, error {exc.code})")]
    except (TwilioException, requests.RequestException) as exc:
        return [Line(FAIL, "Twilio", f"the API could not be reached ({type(exc).__name__})")]
    if account.status != "active":
        return [Line(FAIL, "Twilio", f"the account {account.friendly_name!r} is {account.status}")]
    lines = [Line(OK, "Twilio", f"credentials accepted (account {account.friendly_name!r}, {account.status})")]
    expected = settings.public_url.rstrip("/") + SMS_WEBHOOK_PATH
    number = settings.twilio_from
    if not number:
        lines.append(Line(WARN, "Twilio number", "sending through a messaging service: check in Twilio's console "
                                                 f"that incoming messages go to {expected}"))
        return lines
    try:
        found = account_api.incoming_phone_numbers.list(phone_number=number, limit=20)
    except TwilioRestException as exc:
        lines.append(Line(FAIL, "Twilio number", f"could not list the account's numbers (HTTP {exc.status})"))
        return lines
    except (TwilioException, requests.RequestException) as exc:
        lines.append(Line(FAIL, "Twilio number", f"the API could not be reached ({type(exc).__name__})"))
        return lines
    if not found:
        lines.append(Line(FAIL, "Twilio number", f"{number} (OUTREACH_TWILIO_FROM) is not a number of this account"))
    elif found[0].sms_url != expected:
        lines.append(Line(FAIL, "Twilio number", f"{number} sends incoming SMS to {found[0].sms_url or 'nowhere'}, "
                                                 f"not {expected}"))
    elif (found[0].sms_method or "POST").upper() != "POST":
        lines.append(Line(FAIL, "Twilio number", f"{number} calls its SMS webhook with {found[0].sms_method}; "
                                                 "it must be POST"))
    else:
        lines.append(Line(OK, "Twilio number", f"{number} sends incoming SMS to {expected}"))
    lines += check_voice_number(settings, account_api)
    return lines


def check_whatsapp(settings) -> list[Line]:
    """The WhatsApp sender: set with the Twilio account, and a phone number in international form."""
    import phonenumbers

    sender = (settings.twilio_whatsapp_from or "").strip()
    if not sender:
        return [Line(WARN, "WhatsApp", "not configured: no WhatsApp (set OUTREACH_TWILIO_WHATSAPP_FROM to the "
                                       "council's WhatsApp sender on Twilio)")]
    if not (settings.twilio_account_sid and settings.twilio_auth_token):
        return [Line(FAIL, "WhatsApp", "OUTREACH_TWILIO_WHATSAPP_FROM is set but the Twilio account is not "
                                       "(OUTREACH_TWILIO_ACCOUNT_SID, OUTREACH_TWILIO_AUTH_TOKEN)")]
    number = sender[len("whatsapp:"):] if sender.lower().startswith("whatsapp:") else sender
    try:
        valid = number.startswith("+") and phonenumbers.is_possible_number(phonenumbers.parse(number, None))
    except phonenumbers.NumberParseException:
        valid = False
    if not valid:
        return [Line(FAIL, "WhatsApp", "OUTREACH_TWILIO_WHATSAPP_FROM should be the sender's number in "
                                       "international form, like whatsapp:+447700900000")]
    return [Line(OK, "WhatsApp", f"sending from whatsapp:{number}; its incoming messages and status callbacks "
                                 f"must go to this service's {SMS_WEBHOOK_PATH} (set in Twilio's console)")]


def check_voice_number(settings, account_api) -> list[Line]:
    """With OUTREACH_TWILIO_VOICE_FROM set, its incoming calls must reach this service's voice webhook."""
    import requests
    from twilio.base.exceptions import TwilioException

    number = getattr(settings, "twilio_voice_from", "")
    if not number:
        return []
    expected = settings.public_url.rstrip("/") + "/webhooks/twilio/voice"
    try:
        found = account_api.incoming_phone_numbers.list(phone_number=number, limit=20)
    except (TwilioException, requests.RequestException) as exc:
        return [Line(FAIL, "Twilio voice number", f"could not list the account's numbers ({type(exc).__name__})")]
    if not found:
        return [Line(FAIL, "Twilio voice number", f"{number} (OUTREACH_TWILIO_VOICE_FROM) is not a number of this "
                                                  "account")]
    if found[0].voice_url != expected or (found[0].voice_method or "POST").upper() != "POST":
        return [Line(FAIL, "Twilio voice number", f"{number} sends incoming calls to {found[0].voice_url or 'nowhere'} "
                                                  f"({found[0].voice_method or 'POST'}), not POST {expected}")]
    return [Line(OK, "Twilio voice number", f"{number} sends incoming calls to {expected}")]


def check_telegram(settings) -> list[Line]:
    from telegram.error import InvalidToken, TelegramError

    from bot.telegram import TelegramChannel

    if not settings.telegram_token:
        return [Line(WARN, "Telegram", "not configured (set OUTREACH_TELEGRAM_TOKEN and OUTREACH_TELEGRAM_SECRET)")]
    lines = []
    if not settings.telegram_secret:
        lines.append(Line(FAIL, "Telegram", "OUTREACH_TELEGRAM_SECRET is not set: the webhook refuses every update"))
    channel = TelegramChannel(settings.telegram_token, settings.telegram_api_url)
    try:
        info = channel.get_webhook_info()
    except InvalidToken:
        return [*lines, Line(FAIL, "Telegram", "the Bot API refused the token (OUTREACH_TELEGRAM_TOKEN)")]
    except TelegramError as exc:
        return [*lines, Line(FAIL, "Telegram", f"the Bot API could not be asked ({type(exc).__name__}: {exc})")]
    finally:
        channel.close()
    expected = settings.public_url.rstrip("/") + TELEGRAM_WEBHOOK_PATH
    url = info.get("url") or ""
    if not url:
        lines.append(Line(WARN, "Telegram webhook", "not set: updates arrive only while `python app.py telegram-poll` "
                                                    "runs; set it with `python app.py telegram-webhook set`"))
    elif url != expected:
        lines.append(Line(FAIL, "Telegram webhook", f"updates go to {url}, not {expected}; run "
                                                    "`python app.py telegram-webhook set`"))
    else:
        lines.append(Line(OK, "Telegram webhook", f"updates go to {expected}"))
        if info.get("last_error_message"):
            lines.append(Line(WARN, "Telegram webhook", f"Telegram's last delivery failed: "
                                                        f"{info['last_error_message']}"))
    return lines


def check_timezone(settings, clock) -> list[Line]:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        zone = ZoneInfo(settings.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return [Line(FAIL, "time zone", f"OUTREACH_TIMEZONE {settings.timezone!r} is not a time zone "
                                        "(for example Europe/London)")]
    local = clock.now().astimezone(zone)
    return [Line(OK, "time zone", f"{settings.timezone} (now {local:%H:%M %Z})")]


def check_outbox(services, max_age: timedelta) -> list[Line]:
    from sqlalchemy import func, select

    from store.deadline import call_within
    from store.models import OutboxMessage

    now = services.clock.now()
    due_since = func.coalesce(OutboxMessage.not_before, OutboxMessage.created_at)

    def oldest():
        with services.db.session() as s:
            return s.execute(select(func.min(due_since), func.count()).where(
                OutboxMessage.status == "queued", due_since <= now)).one()

    try:
        since, count = call_within(max(5.0, services.db.timeouts.statement or 30.0), oldest)
    except Exception as exc:  # a timeout or a database error: either way the outbox cannot be vouched for
        return [Line(FAIL, "outbox", f"could not be read ({type(exc).__name__})")]
    if not count:
        return [Line(OK, "outbox", "nothing waiting to be sent")]
    age = now - since
    minutes = int(age.total_seconds() // 60)
    if age > max_age:
        return [Line(FAIL, "outbox", f"stuck: {count} message(s) due and not sent, the oldest for {minutes} min; "
                                     "is a sender running (`python app.py worker`, or `serve` in embedded mode)?")]
    return [Line(OK, "outbox", f"{count} message(s) due, the oldest for {minutes} min")]


def check_council(settings) -> list[Line]:
    name = (settings.council_name or "").strip()
    if not name or name == _default("council_name"):
        return [Line(FAIL, "council name", f"OUTREACH_COUNCIL_NAME is {name or 'empty'!r}: residents would read "
                                           "that in messages; set it to the council's name")]
    return [Line(OK, "council name", name)]


def check_flows(services) -> list[Line]:
    from engage.flow_registry import flows_with_errors

    problems = flows_with_errors(services.registry)
    if not problems:
        return [Line(OK, "flows", f"{len(services.registry.all())} flow(s) load without errors")]
    return [Line(FAIL, "flows", f"{path}, line {line}: {message}; "
                                + ("its last good version still serves" if serving else "it is not serving"))
            for path, line, message, serving in problems]


def check_wales(settings) -> list[Line]:
    if settings.welsh_first:
        return [Line(OK, "Wales mode", "on (OUTREACH_WELSH_FIRST): residents whose language is unknown get Welsh "
                                       "first, then English")]
    return [Line(OK, "Wales mode", "off: residents whose language is unknown get English "
                                   "(set OUTREACH_WELSH_FIRST=true for a Welsh council)")]


def check_metrics(settings) -> list[Line]:
    """Who may read GET /metrics (OUTREACH_METRICS_TOKEN, OUTREACH_METRICS_ALLOW), and multiprocess mode."""
    import os

    from engage.metrics import parse_networks
    from security import exposure_reasons

    lines: list[Line] = []
    token = settings.metrics_token or ""
    try:
        networks = parse_networks(settings.metrics_allow)
    except ValueError as exc:
        return [Line(FAIL, "metrics", f"{exc}; give addresses or networks such as 127.0.0.1/32,10.0.0.0/8")]
    opened = []
    if token:
        size = len(token.encode("utf-8"))
        if size < 24:
            lines.append(Line(WARN, "metrics", f"OUTREACH_METRICS_TOKEN is {size} bytes; use 24 or more "
                                               "(python -c 'import secrets; print(secrets.token_urlsafe(32))')"))
        opened.append("a bearer token (OUTREACH_METRICS_TOKEN)")
    if networks:
        opened.append("from " + ", ".join(str(n) for n in networks) + " (OUTREACH_METRICS_ALLOW)")
    if opened:
        lines.append(Line(OK, "metrics", "GET /metrics answers with " + " or ".join(opened)))
    elif exposure_reasons(settings):
        lines.append(Line(OK, "metrics", "GET /metrics is off (404); set OUTREACH_METRICS_TOKEN or "
                                         "OUTREACH_METRICS_ALLOW for a monitoring system to read it"))
    else:
        lines.append(Line(OK, "metrics", "GET /metrics answers this machine only (a laptop setup)"))
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder and not (os.path.isdir(folder) and os.access(folder, os.W_OK)):
        lines.append(Line(FAIL, "metrics", f"PROMETHEUS_MULTIPROC_DIR {folder} is not a writable folder"))
    elif folder:
        lines.append(Line(OK, "metrics", f"multiprocess mode: every process's figures are added up from {folder}"))
    return lines


# ----- the command -----------------------------------------------------------------------------------


def run_checks(app, max_outbox_age: timedelta) -> list[Line]:
    """Every check, against a service that started."""
    services = app.extensions["outreach"]
    settings = services.settings
    lines = [*check_secret_key(app, settings), *check_sandbox(app, services)]
    db_lines, usable = check_database(services)
    lines += db_lines
    lines += check_public_url(settings)
    lines += check_twilio(settings)
    lines += check_whatsapp(settings)
    lines += check_telegram(settings)
    lines += check_timezone(settings, services.clock)
    if usable:
        lines += check_outbox(services, max_outbox_age)
    else:
        lines.append(Line(FAIL, "outbox", "not checked: the database is not ready"))
    return [*lines, *check_flows(services), *check_council(settings), *check_wales(settings),
            *check_metrics(settings)]


def settings_checks(settings) -> list[Line]:
    """The checks that need only the settings: what can be said of a service that does not start."""
    from engage.clock import SystemClock

    return [*check_secret_key(None, settings), *check_public_url(settings), *check_twilio(settings),
            *check_whatsapp(settings), *check_telegram(settings), *check_timezone(settings, SystemClock()),
            *check_council(settings), *check_wales(settings), *check_metrics(settings)]


@click.command("check")
@click.option("--outbox-max-age", default=15, show_default=True, type=click.IntRange(1),
              help="Minutes a due message may wait in the outbox before it counts as stuck.")
def check(outbox_max_age: int) -> None:
    """Check this deployment is safe and ready: one line per check (OK, WARN, FAIL); exit 1 on any failure."""
    try:
        app = _current_app()
    except Exception as exc:  # the service refuses to start: report that, and what the settings say
        from config import Settings

        lines = [Line(FAIL, "service", f"does not start: {exc}"), *settings_checks(Settings.from_env())]
    else:
        try:
            lines = run_checks(app, timedelta(minutes=outbox_max_age))
        finally:
            app.extensions["outreach"].stop_loops()
    for line in lines:
        click.echo(f"{line.status:<4}  {line.name}: {line.detail}")
    failures = sum(line.status == FAIL for line in lines)
    warnings = sum(line.status == WARN for line in lines)
    if failures:
        click.echo(f"{failures} check(s) failed, {warnings} warning(s): not ready to run for real.")
        click.get_current_context().exit(1)
    click.echo(f"All checks passed ({warnings} warning(s)).")
