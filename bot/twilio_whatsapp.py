"""The WhatsApp channel: Twilio's Messages API from the council's WhatsApp sender.

Inside WhatsApp's 24-hour window a question goes with its options as quick-reply buttons (up to 3)
or a list picker (up to 10): a Twilio Content resource made once per question wording and language
(per sending process) through the Content API, the option ids passed as its variables. Where the
options do not fit, or the Content API refuses, the numbered text goes instead, as by SMS.

Outside the window the sender hands over a message (marked `whatsapp_window_closed`) only when it
carries an approved template (`whatsapp_template`, a ContentSid). That template is sent with the
message's text on one line as its variable {{1}} (a question with its numbered options); anything
else was skipped before it got here (engage.whatsapp).
"""
from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
from typing import Any

import requests
from twilio.base.exceptions import TwilioException
from twilio.rest.content.v1.content import ContentList

from bot.channel import SendResult
from bot.render import parse_callback_data, render_sms, render_whatsapp
from bot.twilio_sms import DEFAULT_TIMEOUT, TwilioSMS, create_on_twilio
from engage.whatsapp import CHANNEL, CLOSED_KEY, TEMPLATE_KEY, template_variables, whatsapp_address

log = logging.getLogger(__name__)

# Twilio's error for a free-form WhatsApp message outside the 24-hour window.
OUTSIDE_WINDOW = 63016
_VARIABLE = re.compile(r"\{\{")


def content_template(types: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Split rendered content into a reusable template and its variables: each option's id becomes a
    variable ({{1}}, {{2}}...), so one Content resource serves every run that asks the same question."""
    types = json.loads(json.dumps(types))
    variables: dict[str, str] = {}
    for kind in ("twilio/quick-reply", "twilio/list-picker"):
        options = (types.get(kind) or {}).get("actions") or (types.get(kind) or {}).get("items") or []
        for option in options:
            key = str(len(variables) + 1)
            variables[key] = option["id"]
            option["id"] = "{{" + key + "}}"
    return types, variables


class TwilioWhatsApp(TwilioSMS):
    """Send WhatsApp messages through Twilio (or anything that speaks its REST API at `api_url`)."""

    name = CHANNEL

    def __init__(self, account_sid: str, auth_token: str, *, from_number: str, public_url: str = "",
                 api_url: str = "", timeout: float = DEFAULT_TIMEOUT, content_api: bool = True):
        if not from_number:
            raise ValueError("WhatsApp needs the council's WhatsApp sender (OUTREACH_TWILIO_WHATSAPP_FROM)")
        super().__init__(account_sid, auth_token, from_number=whatsapp_address(from_number),
                         public_url=public_url, api_url=api_url, timeout=timeout)
        if api_url:
            # The Content API lives on its own domain (content.twilio.com); the fake answers both.
            self.client.content.base_url = api_url.rstrip("/")
        self.content_api = content_api
        # Content SIDs made for question templates, by the template's digest (made once per process).
        self._contents: dict[str, str] = {}
        self._contents_lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings, **overrides) -> "TwilioWhatsApp":
        """Build the adapter from OUTREACH_TWILIO_* settings and OUTREACH_TWILIO_WHATSAPP_FROM."""
        values: dict[str, Any] = dict(
            account_sid=settings.twilio_account_sid, auth_token=settings.twilio_auth_token,
            from_number=settings.twilio_whatsapp_from, public_url=settings.public_url,
            api_url=settings.twilio_api_url,
            timeout=float((settings.extra or {}).get("twilio_timeout", DEFAULT_TIMEOUT)),
        )
        values.update(overrides)
        return cls(values.pop("account_sid"), values.pop("auth_token"), **values)

    def cost(self, payload: dict[str, Any], lang: str | None) -> int:
        """One message: WhatsApp has no segments."""
        return 1

    def send(self, address: str, payload: dict[str, Any], lang: str | None, *,
             outbox_id: int | None = None) -> SendResult:
        """Send the template outside the window; inside it, buttons or a list where they fit, else text."""
        params: dict[str, Any] = {"to": whatsapp_address(address), "from_": self.from_number}
        if self.status_callback:
            params["status_callback"] = self.status_callback + (f"?o={outbox_id}" if outbox_id else "")
        if payload.get(CLOSED_KEY):
            params["content_sid"] = payload[TEMPLATE_KEY]
            params["content_variables"] = json.dumps(template_variables(render_sms(payload, lang)),
                                                     ensure_ascii=False)
        else:
            text, content = render_whatsapp(payload, lang)
            sid, variables = self._content_for(content, lang or payload.get("lang") or "en") if content else (None, {})
            if sid:
                params["content_sid"] = sid
                params["content_variables"] = json.dumps(variables, ensure_ascii=False)
            else:
                params["body"] = text
        message, failure = create_on_twilio(lambda: self.client.messages.create(**params), self._from_error)
        if failure is not None:
            return failure
        return SendResult("sent", provider_id=message.sid, segments=1)

    def _content_for(self, content: dict[str, Any], lang: str = "en") -> tuple[str | None, dict[str, str]]:
        """Return (ContentSid, variables) for rendered buttons, making the Content resource once; (None, {})
        when the Content API is off or refuses (the numbered text goes instead)."""
        if not self.content_api:
            return None, {}
        template, variables = content_template(content)
        if any(_VARIABLE.search(str(v)) for v in _texts(template)
               if not re.fullmatch(r"\{\{\d+\}\}", str(v))):
            # A resident-facing text that itself contains "{{" would be read as a variable.
            return None, {}
        digest = hashlib.sha256(json.dumps([lang, template], sort_keys=True, ensure_ascii=False).encode()).hexdigest()
        with self._contents_lock:
            sid = self._contents.get(digest)
        if sid is None:
            try:
                made = self.client.content.v1.contents.create(ContentList.ContentCreateRequest({
                    "friendly_name": f"outreach_{digest[:24]}", "language": lang,
                    "variables": dict(variables), "types": template}))
            except (TwilioException, requests.exceptions.RequestException) as exc:
                # Nothing was sent to the resident yet: numbered text still answers the question.
                log.warning("WhatsApp buttons unavailable (Content API: %s); sending numbered text",
                            type(exc).__name__)
                return None, {}
            sid = made.sid
            with self._contents_lock:
                self._contents[digest] = sid
        return sid, variables


def _texts(node: Any):
    """Yield every string inside a content template."""
    if isinstance(node, dict):
        for value in node.values():
            yield from _texts(value)
    elif isinstance(node, list):
        for value in node:
            yield from _texts(value)
    elif isinstance(node, str):
        yield node


def inbound_message(form: dict[str, Any], number: str) -> tuple[str, dict[str, Any]]:
    """Return (text, payload) for a WhatsApp message as Twilio posts it; `number` is its sender in E.164.

    A quick-reply button or list item our own messages carry (`ButtonPayload`, `ListId`: the run, step
    and option) is the same answer as typing the option's number (yes/no and scale points: their value);
    its run and step come too, so a press on an earlier question is refused like a stale Telegram button.
    Any other button (an approved template's) is taken as the words on it (`ButtonText`)."""
    payload = dict(form)
    text = form.get("Body", "") or ""
    pressed = form.get("ButtonPayload") or form.get("ListId")
    answer = parse_callback_data(pressed) if pressed else None
    if answer is not None:
        given = answer.as_inbound()
        text = given["text"]
        if given["choice"] is not None:
            payload["choice"] = given["choice"]
        payload.update(button_run_id=answer.run_id, button_step=answer.step)
    elif pressed or form.get("ButtonText") or form.get("ListTitle"):
        text = form.get("ButtonText") or form.get("ListTitle") or text
    elif not text.strip() and str(form.get("NumMedia") or "0") not in ("", "0"):
        # A voice note, photo or sticker without words: asked to type, as on Telegram.
        payload["non_text"] = True
    return text, payload


def init_app(app, services) -> None:
    """Build the WhatsApp channel from Twilio settings and OUTREACH_TWILIO_WHATSAPP_FROM, or on the local
    sandbox's fake Twilio when there are no credentials."""
    settings = services.settings
    channels = services.extras.setdefault("channels", {})
    if settings.twilio_account_sid and settings.twilio_auth_token:
        if settings.twilio_whatsapp_from:
            channels[CHANNEL] = TwilioWhatsApp.from_settings(settings)
            log.info("WhatsApp channel on: Twilio")
        return
    server = services.extras.get("twilio_sandbox")
    if settings.sandbox and server is not None:
        from bot.sandbox.twilio_server import SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN, SANDBOX_WHATSAPP_FROM

        channels[CHANNEL] = TwilioWhatsApp.from_settings(
            settings, account_sid=SANDBOX_ACCOUNT_SID, auth_token=SANDBOX_AUTH_TOKEN,
            from_number=SANDBOX_WHATSAPP_FROM, api_url=server.url)
        log.info("WhatsApp channel on the sandbox: the local fake Twilio; see /sandbox/")
