"""GET /sandbox/: each sandbox phone and the texts it got; POST /sandbox/reply: answer as that resident by SMS;
POST /sandbox/whatsapp: write or press a button as that resident on WhatsApp (the WhatsApp sandbox phone)."""
from __future__ import annotations

import itertools
import re
import time

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_wtf.csrf import generate_csrf, validate_csrf
from wtforms import ValidationError

bp = Blueprint("sandbox", __name__, url_prefix="/sandbox", template_folder="templates")

PHONE = re.compile(r"^\+[1-9]\d{7,14}$")
WHATSAPP_PREFIX = "whatsapp:"
_sids = itertools.count(1)


def _services():
    return current_app.extensions["outreach"]


def _fake():
    server = _services().extras.get("twilio_sandbox")
    return getattr(server, "fake", None)


@bp.before_request
def _officers_only():
    """The sandbox acts as any phone number and shows what residents got: signed-in officers only.

    The dashboard lends its sign-in check (app.extensions["outreach_signed_in_officer"]); without
    it nobody gets in."""
    signed_in = current_app.extensions.get("outreach_signed_in_officer")
    if signed_in is not None and signed_in() is not None:
        return None
    if request.method == "GET":
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    abort(401)


def sandbox_inbound_sid() -> str:
    """Return a MessageSid for a message typed on the sandbox page (unique across restarts)."""
    return f"SMsandbox{time.time_ns():x}{next(_sids):04x}"


@bp.get("/")
def index():
    """List each sandbox phone with the messages it received, newest last."""
    fake = _fake()
    phones, whatsapp_phones = [], []
    if fake is not None:
        for number in fake.numbers():
            if number.startswith(WHATSAPP_PREFIX):
                whatsapp_phones.append({"number": number[len(WHATSAPP_PREFIX):], "messages": fake.messages_to(number)})
            else:
                phones.append({"number": number, "messages": fake.messages_to(number)})
    return render_template("sandbox/index.html", phones=phones, whatsapp_phones=whatsapp_phones,
                           whatsapp_on="whatsapp" in (_services().extras.get("channels") or {}),
                           running=fake is not None, csrf_token=generate_csrf())


def _phone_form() -> tuple[str, str]:
    """The sandbox phone's form, its CSRF token checked: (the number without spaces, the text typed)."""
    try:
        validate_csrf(request.form.get("csrf_token"))
    except ValidationError:
        abort(400, "The form expired; reload the page and try again.")
    return (request.form.get("phone") or "").strip().replace(" ", ""), request.form.get("text") or ""


@bp.post("/reply")
def reply():
    """Store and process a text as if the resident had sent it by SMS."""
    number, text = _phone_form()
    if not PHONE.match(number):
        flash("Enter the phone number in international format, like +447700900123.")
        return redirect(url_for("sandbox.index"))
    if not text.strip():
        flash("Type a message to send.")
        return redirect(url_for("sandbox.index"))
    services = _services()
    sid = sandbox_inbound_sid()
    form = {"MessageSid": sid, "SmsMessageSid": sid, "SmsSid": sid, "From": number, "To": "+447700900000",
            "Body": text, "NumMedia": "0", "NumSegments": "1", "ApiVersion": "2010-04-01", "SmsStatus": "received"}
    # The same store-then-process path as the signed webhook.
    row_id, _created = services.conversations.store_inbound("sms", sid, number, text, form)
    services.conversations.process_inbound(row_id)
    flash("Sent. The reply appears below once the sender has sent it; reload the page.")
    return redirect(url_for("sandbox.index") + f"#phone-{number.lstrip('+')}")


@bp.post("/whatsapp")
def whatsapp():
    """Store and process a WhatsApp message (typed, or a button or list item pressed) as Twilio would post it."""
    from bot.sandbox.twilio_server import SANDBOX_WHATSAPP_FROM
    from bot.twilio_whatsapp import inbound_message
    from engage.whatsapp import CHANNEL

    number, text = _phone_form()
    button = ""
    pressed = request.form.get("button")
    if pressed is not None and pressed.isdigit():
        # A button of a message: its id and its words, as WhatsApp sends them back.
        button = request.form.get(f"button_{pressed}") or ""
        text = request.form.get(f"title_{pressed}") or ""
    if not PHONE.match(number):
        flash("Enter the phone number in international format, like +447700900123.")
        return redirect(url_for("sandbox.index"))
    if not text.strip():
        flash("Type a message to send.")
        return redirect(url_for("sandbox.index"))
    fake = _fake()
    if fake is not None:
        # Twilio sees every message a resident writes: WhatsApp's 24-hour window opens.
        fake.whatsapp_inbound(number)
    services = _services()
    sid = sandbox_inbound_sid()
    form = {"MessageSid": sid, "SmsMessageSid": sid, "SmsSid": sid, "From": WHATSAPP_PREFIX + number,
            "To": SANDBOX_WHATSAPP_FROM, "Body": text, "NumMedia": "0", "NumSegments": "1",
            "ProfileName": "Sandbox resident", "WaId": number.lstrip("+"), "ApiVersion": "2010-04-01",
            "SmsStatus": "received", "MessageType": "button" if button else "text"}
    if button:
        form.update(ButtonText=text, ButtonPayload=button)
    body, payload = inbound_message(form, number)
    row_id, _created = services.conversations.store_inbound(CHANNEL, sid, number, body, payload)
    services.conversations.process_inbound(row_id)
    flash("Sent. The reply appears below once the sender has sent it; reload the page.")
    return redirect(url_for("sandbox.index") + f"#whatsapp-{number.lstrip('+')}")


def init_app(app, services) -> None:
    """Show the sandbox page when the sandbox is on (a laptop setup: security.sandbox_enabled); else
    none of its routes exist."""
    if services.settings.sandbox:
        from bot.sandbox import voice_views

        app.register_blueprint(bp)
        voice_views.init_app(app, services)
