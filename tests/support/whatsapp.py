"""WhatsApp through the fake Twilio: the app's settings, and a resident writing in the way Twilio posts it."""
from __future__ import annotations

import itertools
from typing import Any

import pytest

from bot.sandbox.twilio_server import SANDBOX_WHATSAPP_FROM, TwilioServer
from tests.support.twilio_fake import load_fixture, post_signed, twilio_settings

SMS_WEBHOOK = "/webhooks/twilio/sms"
_sids = itertools.count(1)


def whatsapp_settings(server: TwilioServer) -> dict[str, Any]:
    """The app's settings with SMS and WhatsApp pointed at the fake Twilio."""
    return {**twilio_settings(server), "twilio_whatsapp_from": SANDBOX_WHATSAPP_FROM}


@pytest.fixture(name="app_config")
def app_config_with_whatsapp(app_config, fake_twilio):
    return {**app_config, **whatsapp_settings(fake_twilio)}


def whatsapp_form(number: str, body: str = "", **fields: str) -> dict[str, str]:
    """A WhatsApp message as Twilio posts it to the Messaging webhook (no button unless given)."""
    sid = f"SM{next(_sids) + 0x7a000000:032x}"
    form = {**load_fixture("whatsapp_button.json"), "Body": body, "MessageSid": sid, "SmsMessageSid": sid,
            "SmsSid": sid, "From": f"whatsapp:{number}", "WaId": number.lstrip("+"), "MessageType": "text"}
    for key in ("ButtonText", "ButtonPayload", "OriginalRepliedMessageSender", "OriginalRepliedMessageSid"):
        form.pop(key)
    form.update(fields)
    return form


def whatsapp_in(client, fake_twilio, number: str, body: str = "", at: float | None = None, **fields: str):
    """The resident writes on WhatsApp: Twilio notes it (their window opens; `at` in the fake's own time)
    and posts it to us, signed."""
    fake_twilio.fake.whatsapp_inbound(number, at=at)
    form = whatsapp_form(number, body, **fields)
    response = post_signed(client, SMS_WEBHOOK, form)
    assert response.status_code == 200, response.data
    return form


def press(client, fake_twilio, number: str, message, title: str):
    """Press the button (or list item) titled `title` on a message the fake delivered."""
    [(text, payload)] = [(t, p) for t, p in message.buttons if t == title]
    fields = {"ButtonText": text, "ButtonPayload": payload, "MessageType": "button",
              "OriginalRepliedMessageSid": message.sid}
    return whatsapp_in(client, fake_twilio, number, text, **fields)


def received(fake_twilio, number: str):
    """The WhatsApp messages the fake delivered to a number, oldest first."""
    return fake_twilio.fake.messages_to(f"whatsapp:{number}")
