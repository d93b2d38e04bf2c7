"""POST /webhooks/twilio/sms and /webhooks/twilio/status: check Twilio's signature, store, answer, then act.

WhatsApp messages arrive on the same Messaging webhook (From=whatsapp:+44...) and are stored on channel
`whatsapp`; their status callbacks come to the same status URL."""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import phonenumbers
from flask import Blueprint, Response, current_app, jsonify, request
from sqlalchemy import select
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from bot.channel import SendResult
from bot.sender import mark_address
from bot.twilio_sms import classify_error, webhook_auth_token
from bot.twilio_whatsapp import inbound_message
from engage.whatsapp import CHANNEL as WHATSAPP
from engage.whatsapp import PREFIX as WHATSAPP_PREFIX
from store.models import OUTBOX_ORDER, Address, OutboxMessage
from webhooks.availability import store_in_time

log = logging.getLogger(__name__)

bp = Blueprint("twilio_webhook", __name__)
SIGNATURE_HEADER = "X-Twilio-Signature"

# Twilio's message states and the outbox state each one means.
STATUS_MAP = {
    "accepted": "sent",
    "scheduled": "sent",
    "queued": "sent",
    "sending": "sent",
    "sent": "sent",
    "delivered": "delivered",
    "read": "delivered",
    "undelivered": "undelivered",
    "failed": "failed",
    "canceled": "failed",
}
# Inbound states Twilio reports on a status URL that say nothing about our outbox.
IGNORED_STATUSES = frozenset({"receiving", "received"})


class UnknownStatus(ValueError):
    """A status callback with a MessageStatus this service does not know."""


def _services():
    return current_app.extensions["outreach"]


def _public_url() -> str:
    """Return the URL Twilio was given for this request: the public URL, this path and the query."""
    query = request.query_string.decode("utf-8")
    base = _services().settings.public_url.rstrip("/")
    return base + request.path + (f"?{query}" if query else "")


def signature_is_valid() -> bool:
    """Return True only when a token is known and the request carries Twilio's signature for it."""
    services = _services()
    token = webhook_auth_token(services.settings, services.extras.get("twilio_sandbox"))
    signature = request.headers.get(SIGNATURE_HEADER)
    if not token or not signature:
        return False
    return RequestValidator(token).validate(_public_url(), request.form, signature)


def e164(number: str | None) -> str | None:
    """Return a phone number in E.164 (UK numbers may arrive without +44); keep anything else as sent."""
    if not number:
        return None
    try:
        parsed = phonenumbers.parse(number, "GB")
    except phonenumbers.NumberParseException:
        return number.strip()
    if not phonenumbers.is_possible_number(parsed):
        return number.strip()
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _twiml() -> Response:
    return Response(str(MessagingResponse()), mimetype="text/xml")


def accept_sms(services, form: dict[str, Any]) -> tuple[int | None, bool]:
    """Store one inbound SMS form (as Twilio posts it); return (inbound row id, True when new)."""
    sid = form.get("MessageSid") or form.get("SmsMessageSid")
    if not sid:
        raise ValueError("MessageSid is missing")
    if not form.get("From"):
        raise ValueError("From is missing")
    payload = {k: v for k, v in form.items()}
    if is_whatsapp(form):
        return accept_whatsapp(services, sid, form, payload)
    return services.conversations.store_inbound("sms", sid, e164(form.get("From")), form.get("Body", ""), payload)


def is_whatsapp(form: dict[str, Any]) -> bool:
    """Return True for a WhatsApp message (Twilio posts it to the same URL, From=whatsapp:+44...)."""
    return str(form.get("From") or "").lower().startswith(WHATSAPP_PREFIX)


def accept_whatsapp(services, sid: str, form: dict[str, Any], payload: dict[str, Any]) -> tuple[int | None, bool]:
    """Store one inbound WhatsApp message on channel `whatsapp`, its address the number in E.164 (the
    same as the number's SMS address, so both are one contact); a button press is read as the answer it
    stands for (bot.twilio_whatsapp.inbound_message)."""
    number = e164(str(form["From"])[len(WHATSAPP_PREFIX):])
    text, payload = inbound_message(payload, number)
    return services.conversations.store_inbound(WHATSAPP, sid, number, text, payload)


@bp.post("/webhooks/twilio/sms")
def receive_sms():
    """Store an inbound SMS and acknowledge it with empty TwiML; it is acted on after the response,
    by this process (embedded mode) or by a worker (scaled mode)."""
    if not signature_is_valid():
        return jsonify(error="forbidden"), 403
    services = _services()
    try:
        row_id, _created = store_in_time(accept_sms, services, request.form.to_dict())
    except ValueError as exc:
        return jsonify(error=str(exc)), 400

    if not services.settings.inbound_in_web:
        # Scaled mode: a worker acts on it (engage.services.inbound_loop); the web only stores and answers.
        return _twiml()

    def after_response() -> None:
        # Also when the row is a repeat: processing an already processed row does nothing.
        services.conversations.process_inbound(row_id)

    if current_app.testing:
        after_response()
        return _twiml()
    response = _twiml()
    # Runs once Twilio has its answer; the inbound sweep retries anything left pending.
    response.call_on_close(after_response)
    return response


def _find_row(s, sid: str, outbox_id: str | None) -> OutboxMessage | None:
    row = s.scalar(select(OutboxMessage).where(OutboxMessage.provider_id == sid).with_for_update())
    if row is None and outbox_id and outbox_id.isdigit():
        # The callback beat the sender's own record of the sid.
        row = s.scalar(select(OutboxMessage).where(OutboxMessage.id == int(outbox_id)).with_for_update())
        if row is not None and row.provider_id not in (None, sid):
            return None
    return row


def record_status(services, sid: str, status: str, error_code: str | None, outbox_id: str | None = None,
                  now: datetime | None = None) -> str | None:
    """Move an outbox row's delivery state forward from a status callback; return its state, None if unknown."""
    if status in IGNORED_STATUSES:
        return None
    if status not in STATUS_MAP:
        raise UnknownStatus(f"unknown MessageStatus {status!r}")
    state = STATUS_MAP[status]
    now = now or services.clock.now()
    with services.db.session() as s:
        row = _find_row(s, sid, outbox_id)
        if row is None:
            return None
        if row.provider_id is None:
            row.provider_id = sid
        if OUTBOX_ORDER.get(state, 0) > OUTBOX_ORDER.get(row.status, 0):
            row.status = state
            row.updated_at = now
            if state == "delivered":
                row.delivered_at = now
            if row.sent_at is None and state != "failed":
                row.sent_at = now
        if error_code:
            row.error_code = str(error_code)
            row.updated_at = now
            kind = classify_error(error_code)
            address = s.get(Address, row.address_id) if row.address_id else None
            if kind and address is not None:
                result = SendResult("failed", error_code=str(error_code), opted_out=kind == "opted_out",
                                    address_unusable=kind == "unusable")
                mark_address(s, address, result, now)
        return row.status


@bp.post("/webhooks/twilio/status")
def receive_status():
    """Record a delivery status callback; state only moves forward."""
    if not signature_is_valid():
        return jsonify(error="forbidden"), 403
    sid = request.form.get("MessageSid") or request.form.get("SmsSid")
    status = (request.form.get("MessageStatus") or request.form.get("SmsStatus") or "").lower()
    if not sid or not status:
        return jsonify(error="MessageSid and MessageStatus are required"), 400
    try:
        state = store_in_time(record_status, _services(), sid, status, request.form.get("ErrorCode") or None,
                              request.args.get("o"))
    except UnknownStatus as exc:
        return jsonify(error=str(exc)), 400
    return jsonify(ok=True, status=state)
