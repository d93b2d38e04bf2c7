"""/sandbox/call/: the call simulator. An officer "phones" the service, reads what it would say, presses
keys or types what they would say; each step posts the signed voice webhook exactly as Twilio would
(the same form fields, the sandbox's auth token, the action URL the last TwiML named).

Calls the service placed (broadcasts to voice contacts) are listed from the fake Calls API and can be
answered as a person or as an answering machine. Like the rest of /sandbox/, this exists only on a
laptop setup (security.sandbox_enabled) and for signed-in officers.
"""
from __future__ import annotations

import itertools
import re
import secrets
import threading
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_wtf.csrf import generate_csrf, validate_csrf
from twilio.request_validator import RequestValidator
from wtforms import ValidationError

from bot.sandbox.views import _officers_only

bp = Blueprint("sandbox_voice", __name__, url_prefix="/sandbox/call", template_folder="templates")
bp.before_request(_officers_only)

VOICE_PATH = "/webhooks/twilio/voice"
PHONE = re.compile(r"^\+[1-9]\d{7,14}$")
KEYS = re.compile(r"^[0-9*#]{0,20}$")
# Calls kept in this process (the sandbox runs in one process on a laptop); the oldest go first.
MAX_CALLS = 50
_sids = itertools.count(1)
_lock = threading.Lock()


@dataclass
class SimulatedCall:
    """One call in the simulator: who called whom, what was heard, and where the next keys go."""

    id: str
    sid: str
    caller: str
    service_number: str
    direction: str = "inbound"
    answered_by: str | None = None
    lines: list[dict[str, Any]] = field(default_factory=list)
    gather: dict[str, str] | None = None
    redirect: str | None = None
    ended: bool = False

    def form(self, **extra: str) -> dict[str, str]:
        outbound = self.direction.startswith("outbound")
        form = {"CallSid": self.sid, "AccountSid": "", "ApiVersion": "2010-04-01", "CallStatus": "in-progress",
                "Direction": self.direction, "From": self.service_number if outbound else self.caller,
                "To": self.caller if outbound else self.service_number,
                "Caller": self.service_number if outbound else self.caller}
        if self.answered_by:
            form["AnsweredBy"] = self.answered_by
        form.update({k: v for k, v in extra.items() if v is not None})
        return form


def _services():
    return current_app.extensions["outreach"]


def _calls() -> dict[str, SimulatedCall]:
    return _services().extras.setdefault("sandbox_voice_calls", {})


def _fake():
    server = _services().extras.get("twilio_sandbox")
    return getattr(server, "fake", None)


def _token() -> str | None:
    from bot.twilio_sms import webhook_auth_token

    services = _services()
    return webhook_auth_token(services.settings, services.extras.get("twilio_sandbox"))


def post_webhook(call: SimulatedCall, url: str, form: dict[str, str]) -> None:
    """Post the voice webhook as Twilio would (signed with the account's token) and follow its TwiML."""
    token = _token()
    if not token:
        abort(503, "The sandbox's fake Twilio is not running in this process.")
    form = {**form, "AccountSid": getattr(_fake(), "account_sid", "")}
    signature = RequestValidator(token).compute_signature(
        _services().settings.public_url.rstrip("/") + url, form)
    response = current_app.test_client().post(url, data=form, headers={"X-Twilio-Signature": signature})
    if response.status_code != 200:
        call.lines.append({"who": "system", "text": f"The webhook answered {response.status_code}."})
        call.ended = True
        return
    heard(call, response.get_data(as_text=True))


def heard(call: SimulatedCall, twiml: str) -> None:
    """Read one TwiML answer into the call: the words said, and where keys or silence go next."""
    call.gather, call.redirect = None, None
    root = ET.fromstring(twiml)
    for element in root:
        says = [element] if element.tag == "Say" else list(element.iter("Say")) if element.tag == "Gather" else []
        for say in says:
            call.lines.append({"who": "service", "text": say.text or "", "lang": say.get("language"),
                               "voice": say.get("voice")})
        if element.tag == "Gather":
            call.gather = dict(element.attrib)
        elif element.tag == "Redirect":
            call.redirect = element.text
        elif element.tag == "Hangup":
            call.ended = True
    if call.gather is None and call.redirect is None:
        call.ended = True


def _new_call(caller: str, service_number: str, **kwargs: Any) -> SimulatedCall:
    call = SimulatedCall(id=secrets.token_urlsafe(8), sid=kwargs.pop("sid", None)
                         or f"CAsandbox{time.time_ns():x}{next(_sids):04x}"[:34],
                         caller=caller, service_number=service_number, **kwargs)
    with _lock:
        calls = _calls()
        calls[call.id] = call
        while len(calls) > MAX_CALLS:
            calls.pop(next(iter(calls)))
    return call


def _check_csrf() -> None:
    try:
        validate_csrf(request.form.get("csrf_token"))
    except ValidationError:
        abort(400, "The form expired; reload the page and try again.")


def _get(call_id: str) -> SimulatedCall:
    call = _calls().get(call_id)
    if call is None:
        abort(404)
    return call


@bp.get("/")
def index():
    """Start a call, and list the calls the service placed (from the fake Calls API)."""
    fake = _fake()
    settings = _services().settings
    numbers = [f.voice_number for f in _services().registry.all() if f.voice_number]
    placed = list(reversed(fake.calls)) if fake is not None else []
    return render_template("sandbox/voice.html", placed=placed, calls=list(reversed(_calls().values())),
                           service_number=(numbers[0] if numbers else settings.twilio_voice_from
                                           or settings.twilio_from or "+447700900000"),
                           running=fake is not None, csrf_token=generate_csrf())


@bp.post("/start")
def start():
    """Phone the service from a number."""
    _check_csrf()
    caller = (request.form.get("caller") or "").replace(" ", "")
    service_number = (request.form.get("to") or "").replace(" ", "")
    if not PHONE.match(caller) or not PHONE.match(service_number):
        flash("Enter both numbers in international format, like +447400123456.")
        return redirect(url_for("sandbox_voice.index"))
    call = _new_call(caller, service_number)
    post_webhook(call, VOICE_PATH, call.form())
    return redirect(url_for("sandbox_voice.show", call_id=call.id))


@bp.post("/answer")
def answer():
    """Answer a call the service placed, as a person or as an answering machine."""
    _check_csrf()
    fake = _fake()
    sid = request.form.get("sid") or ""
    placed = next((c for c in (fake.calls if fake else []) if c.sid == sid), None)
    if placed is None:
        abort(404)
    machine = request.form.get("as") == "machine"
    call = _new_call(placed.to, placed.from_, sid=placed.sid, direction="outbound-api",
                     answered_by="machine_end_beep" if machine else "human")
    public = _services().settings.public_url.rstrip("/")
    post_webhook(call, placed.url.removeprefix(public), call.form())
    return redirect(url_for("sandbox_voice.show", call_id=call.id))


@bp.get("/<call_id>")
def show(call_id: str):
    """The call so far, with a keypad and a box for what the caller would say."""
    return render_template("sandbox/voice_call.html", call=_get(call_id), csrf_token=generate_csrf())


@bp.post("/<call_id>")
def act(call_id: str):
    """Press keys, say words, or stay silent, then hear the answer."""
    _check_csrf()
    call = _get(call_id)
    if call.ended:
        return redirect(url_for("sandbox_voice.show", call_id=call.id))
    keys = (request.form.get("keys") or "").strip()
    words = (request.form.get("words") or "").strip()
    if not KEYS.match(keys):
        flash("Keys are 0-9, * and #.")
        return redirect(url_for("sandbox_voice.show", call_id=call.id))
    if request.form.get("action") == "hang_up":
        call.ended = True
        post_webhook(call, VOICE_PATH + "?m=status", call.form(CallStatus="completed"))
        return redirect(url_for("sandbox_voice.show", call_id=call.id))
    if request.form.get("action") == "silence" and call.redirect is not None:
        call.lines.append({"who": "caller", "text": "…"})
        post_webhook(call, call.redirect, call.form())
    elif call.gather is not None and (keys or words):
        finish = call.gather.get("finishOnKey", "#")
        if keys.endswith(finish) and finish:
            keys = keys[: -len(finish)]
        call.lines.append({"who": "caller", "text": keys or words})
        extra = {"Digits": keys} if keys else {"SpeechResult": words, "Confidence": "0.9"}
        post_webhook(call, call.gather["action"], call.form(**extra))
    elif call.redirect is not None:
        call.lines.append({"who": "caller", "text": "…"})
        post_webhook(call, call.redirect, call.form())
    return redirect(url_for("sandbox_voice.show", call_id=call.id) + "#last")


def init_app(app, services) -> None:
    """Register the simulator beside the sandbox page (bot.sandbox.views.init_app decides whether)."""
    app.register_blueprint(bp)
