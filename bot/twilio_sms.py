"""The SMS channel: Twilio's REST client, its errors sorted into retry, failed and unknown."""
from __future__ import annotations

import logging
import threading
from typing import Any

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from bot.channel import SendResult
from bot.render import render_sms

log = logging.getLogger(__name__)

STATUS_CALLBACK_PATH = "/webhooks/twilio/status"
DEFAULT_TIMEOUT = 10.0

# Twilio error codes and what they mean for the address.
OPTED_OUT_CODES = frozenset({21610})
UNUSABLE_CODES = frozenset({21211, 21614, 30004, 30005, 30006})
RETRY_CODES = frozenset({20429, 20500, 20503})


def classify_error(code: int | str | None) -> str | None:
    """Return "opted_out", "unusable" or None for a Twilio error code (send reply or status callback)."""
    try:
        number = int(code) if code not in (None, "") else None
    except (TypeError, ValueError):
        return None
    if number in OPTED_OUT_CODES:
        return "opted_out"
    if number in UNUSABLE_CODES:
        return "unusable"
    return None


class _RetryAfterHttpClient(TwilioHttpClient):
    """Twilio's HTTP client, also keeping the last reply's Retry-After header (per thread)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._local = threading.local()

    def request(self, *args, **kwargs):
        self._local.retry_after = None
        response = super().request(*args, **kwargs)
        headers = getattr(response, "headers", None) or {}
        self._local.retry_after = headers.get("Retry-After")
        return response

    @property
    def retry_after(self) -> float | None:
        value = getattr(self._local, "retry_after", None)
        try:
            return float(value) if value is not None else None
        except ValueError:
            return None


def _sent_before_failure(exc: requests.exceptions.RequestException) -> bool:
    """Return True when the request may have reached Twilio before the failure."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return False
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return True
    if isinstance(exc, requests.exceptions.ConnectionError):
        text = repr(exc)
        # Refused or unresolvable: no connection, so nothing was sent.
        if "NewConnectionError" in text or "NameResolutionError" in text or "Connection refused" in text:
            return False
        return True
    return True


def twilio_client(account_sid: str, auth_token: str, api_url: str = "",
                  timeout: float = DEFAULT_TIMEOUT) -> tuple[Client, _RetryAfterHttpClient]:
    """Twilio's REST client (or one for anything that speaks its REST API at `api_url`), and its HTTP client."""
    http_logger = logging.getLogger("twilio.http_client")
    # The SDK logs every request at INFO; keep the worker's log to what matters.
    http_logger.setLevel(logging.WARNING)
    http = _RetryAfterHttpClient(timeout=timeout, logger=http_logger)
    client = Client(account_sid, auth_token, http_client=http)
    if api_url:
        # Twilio 9 builds every URL from the domain's base_url (https://api.twilio.com).
        client.api.base_url = api_url.rstrip("/")
    return client, http


def result_from_error(exc: TwilioRestException, retry_after: float | None,
                      retry_codes: frozenset[int] = RETRY_CODES) -> SendResult:
    """Sort Twilio's error reply into what the sender does next: retry, fail, or fail and mark the address."""
    code = str(exc.code) if exc.code is not None else f"http_{exc.status}"
    message = (exc.msg or "")[:500]
    kind = classify_error(exc.code)
    if kind == "opted_out":
        return SendResult("failed", error_code=code, error_message=message, opted_out=True)
    if kind == "unusable":
        return SendResult("failed", error_code=code, error_message=message, address_unusable=True)
    if exc.status == 429 or exc.status >= 500 or exc.code in retry_codes:
        return SendResult("retry", error_code=code, error_message=message, retry_after=retry_after)
    return SendResult("failed", error_code=code, error_message=message)


def create_on_twilio(create, on_error) -> tuple[Any, SendResult | None]:
    """Make one create call to Twilio (a message, a call); return (its resource, None), or (None, the
    SendResult its failure means): `on_error` sorts an error reply; a request that may have reached Twilio
    is "unknown" and never retried blindly."""
    try:
        return create(), None
    except TwilioRestException as exc:
        return None, on_error(exc)
    except requests.exceptions.RequestException as exc:
        if _sent_before_failure(exc):
            return None, SendResult("unknown", error_code="timeout" if isinstance(exc, requests.exceptions.Timeout)
                                    else "connection_lost", error_message=type(exc).__name__)
        return None, SendResult("retry", error_code="connection", error_message=type(exc).__name__)
    except TwilioException as exc:
        # The SDK could not read the reply: the request reached Twilio, the outcome is not known.
        return None, SendResult("unknown", error_code="bad_reply", error_message=str(exc)[:200])


class TwilioSMS:
    """Send SMS through Twilio (or anything that speaks its REST API at `api_url`)."""

    name = "sms"

    def __init__(self, account_sid: str, auth_token: str, *, from_number: str = "",
                 messaging_service_sid: str = "", public_url: str = "", api_url: str = "",
                 timeout: float = DEFAULT_TIMEOUT):
        if not (from_number or messaging_service_sid):
            raise ValueError("Twilio needs a sending number (OUTREACH_TWILIO_FROM) or a messaging service sid")
        self.client, self.http = twilio_client(account_sid, auth_token, api_url, timeout)
        self.from_number = from_number
        self.messaging_service_sid = messaging_service_sid
        self.status_callback = public_url.rstrip("/") + STATUS_CALLBACK_PATH if public_url else ""
        self.sender_id = messaging_service_sid or from_number

    @classmethod
    def from_settings(cls, settings, **overrides) -> "TwilioSMS":
        """Build the adapter from OUTREACH_TWILIO_* settings."""
        values: dict[str, Any] = dict(
            account_sid=settings.twilio_account_sid, auth_token=settings.twilio_auth_token,
            from_number=settings.twilio_from, messaging_service_sid=settings.twilio_messaging_service_sid,
            public_url=settings.public_url, api_url=settings.twilio_api_url,
            timeout=float((settings.extra or {}).get("twilio_timeout", DEFAULT_TIMEOUT)),
        )
        values.update(overrides)
        return cls(values.pop("account_sid"), values.pop("auth_token"), **values)

    def cost(self, payload: dict[str, Any], lang: str | None) -> int:
        """Return the segments the message will cost (what Twilio's rate limit counts)."""
        from flows.sms import count_segments

        return max(1, count_segments(render_sms(payload, lang)).segments)

    def send(self, address: str, payload: dict[str, Any], lang: str | None, *,
             outbox_id: int | None = None) -> SendResult:
        """Render the payload as SMS text and hand it to Twilio."""
        body = render_sms(payload, lang)
        params: dict[str, Any] = {"to": address, "body": body}
        if self.messaging_service_sid:
            params["messaging_service_sid"] = self.messaging_service_sid
        else:
            params["from_"] = self.from_number
        if self.status_callback:
            # The outbox id lets a callback that beats our own bookkeeping find its row.
            params["status_callback"] = self.status_callback + (f"?o={outbox_id}" if outbox_id else "")
        message, failure = create_on_twilio(lambda: self.client.messages.create(**params), self._from_error)
        if failure is not None:
            return failure
        try:
            segments = int(message.num_segments) if message.num_segments else None
        except (TypeError, ValueError):
            segments = None
        return SendResult("sent", provider_id=message.sid, segments=segments or self.cost(payload, lang))

    def _from_error(self, exc: TwilioRestException) -> SendResult:
        return result_from_error(exc, self.http.retry_after)


def init_app(app, services) -> None:
    """Build the SMS channel from Twilio settings, or on the local sandbox when there are none."""
    settings = services.settings
    channels = services.extras.setdefault("channels", {})
    if settings.twilio_enabled:
        channels["sms"] = TwilioSMS.from_settings(settings)
        log.info("SMS channel on: Twilio%s", " (custom API URL)" if settings.twilio_api_url else "")
        return
    if settings.sandbox and not app.testing:
        from bot.sandbox.twilio_server import SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN, SANDBOX_FROM, TwilioServer

        server = TwilioServer().start()
        services.extras["twilio_sandbox"] = server
        channels["sms"] = TwilioSMS.from_settings(
            settings, account_sid=SANDBOX_ACCOUNT_SID, auth_token=SANDBOX_AUTH_TOKEN, from_number=SANDBOX_FROM,
            messaging_service_sid="", api_url=server.url)
        log.info("SMS channel on the sandbox: a local fake Twilio at %s; see /sandbox/", server.url)
        return
    log.info("SMS channel off: set OUTREACH_TWILIO_ACCOUNT_SID, OUTREACH_TWILIO_AUTH_TOKEN and "
             "OUTREACH_TWILIO_FROM (or OUTREACH_TWILIO_MESSAGING_SERVICE_SID)")


def webhook_auth_token(settings, sandbox_server=None) -> str | None:
    """Return the token Twilio signs webhooks with: the configured one; the sandbox's public one only
    while the sandbox's own fake Twilio (`sandbox_server`) is running; else None (refuse all)."""
    if settings.twilio_auth_token:
        return settings.twilio_auth_token
    if settings.sandbox and sandbox_server is not None and getattr(sandbox_server, "running", False):
        from bot.sandbox.twilio_server import SANDBOX_AUTH_TOKEN

        return SANDBOX_AUTH_TOKEN
    return None
