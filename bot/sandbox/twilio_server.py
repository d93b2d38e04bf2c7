"""A local stand-in for Twilio's Messages REST API, for tests and the sandbox.

Besides Messages it answers the two read calls a deployment check makes: the account
(`GET /2010-04-01/Accounts/{sid}.json`) and its phone numbers
(`GET .../IncomingPhoneNumbers.json?PhoneNumber=...`), and the Calls API's create
(`POST .../Calls.json`): calls are recorded, never rung; the call simulator on `/sandbox/`
answers them by posting signed voice webhooks.

It speaks Twilio's wire format (`POST /2010-04-01/Accounts/{sid}/Messages.json`
with a form body and HTTP basic auth in, Twilio-shaped JSON out, including its
error bodies `{"code", "message", "more_info", "status"}`), so the real
`twilio.rest.Client` can be pointed at it with `client.api.base_url = server.url`.
It also takes WhatsApp sends (`From`/`To` as `whatsapp:+44...`, `ContentSid` with
`ContentVariables`), makes Content API resources (`POST /v1/Content`), and keeps
WhatsApp's 24-hour window: a free-form message to a number that has not written in
the last 24 hours (`whatsapp_inbound`) gets Twilio's error 63016, as an approved
template (`add_template`) does not.
It records every message it accepted, per phone number, and can be told to
fail the way Twilio does (429, 500, a given error code, a slow answer, a
dropped connection).
"""
from __future__ import annotations

import base64
import itertools
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qsl

from bot.sandbox.local_server import LocalHandler, LocalServer

# The sandbox's credentials: the app signs and checks sandbox webhooks with this token.
SANDBOX_ACCOUNT_SID = "AC" + "5a" * 16
SANDBOX_AUTH_TOKEN = "5a4db0c0ffee" + "0" * 20
SANDBOX_FROM = "+447700900000"
# The council's WhatsApp sender on the sandbox.
SANDBOX_WHATSAPP_FROM = "whatsapp:+447700900000"
WHATSAPP_PREFIX = "whatsapp:"
# WhatsApp's customer service window: free-form messages only this long after the resident's last message.
WHATSAPP_WINDOW_SECONDS = 24 * 3600

API_VERSION = "2010-04-01"

# What Twilio says for the errors the sender has to tell apart.
ERROR_MESSAGES = {
    20003: "Authenticate",
    20404: "The requested resource was not found",
    20429: "Too Many Requests",
    20500: "An internal server error has occurred",
    21211: "The 'To' number is not a valid phone number.",
    21602: "Message body is required.",
    21603: "A 'From' phone number is required.",
    21604: "A 'To' phone number is required.",
    21610: "Attempt to send to unsubscribed recipient",
    21614: "'To' number is not a valid mobile number",
    30004: "Message blocked",
    30005: "Unknown destination handset",
    30006: "Landline or unreachable carrier",
    21654: "ContentSid Required",
    21655: "The ContentSid is Invalid",
    63016: ("Failed to send freeform message because you are outside the allowed window. "
            "If you are using WhatsApp, please use a Message Template."),
    # Calls API
    21201: "No 'To' number is specified",
    21205: "Url parameter is required",
    21213: "No 'From' number is specified",
    21215: "Geo Permission configuration is not permitting call",
}


@dataclass
class PlacedCall:
    """One call the fake accepted through the Calls API (`Calls.json`), as Twilio would hold it."""

    sid: str
    to: str
    from_: str
    url: str
    method: str
    machine_detection: str | None
    status_callback: str | None
    at: float = field(default_factory=time.time)


@dataclass
class SentMessage:
    """One message the fake accepted, as Twilio would hold it."""

    sid: str
    to: str
    body: str
    from_: str | None
    messaging_service_sid: str | None
    status_callback: str | None
    num_segments: int
    at: float = field(default_factory=time.time)
    # WhatsApp: the Content template sent (ContentSid), its variables, and the buttons or list items the
    # resident sees as (title, id) once the variables are filled in.
    content_sid: str | None = None
    content_variables: dict[str, str] = field(default_factory=dict)
    buttons: list[tuple[str, str]] = field(default_factory=list)

    @property
    def whatsapp(self) -> bool:
        return self.to.startswith(WHATSAPP_PREFIX)


@dataclass
class Failure:
    """A scripted failure for the next `times` calls (optionally only to one number).

    mode:
      reply  answer with `status` and Twilio error `code`
      slow   accept and record the message, but answer only after `delay` seconds
      reset  read the request, then drop the connection without answering
    """

    mode: str = "reply"
    status: int = 500
    code: int | None = None
    delay: float = 0.0
    to: str | None = None
    times: int = 1
    retry_after: int | None = None


def error_body(code: int, status: int, message: str | None = None) -> dict[str, Any]:
    """Return an error body shaped like Twilio's."""
    return {
        "code": code,
        "message": message or ERROR_MESSAGES.get(code, "Error"),
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


def count_parts(body: str) -> int:
    """Count SMS segments the way the sender does, falling back to a rough count."""
    try:
        from flows.sms import count_segments

        return max(1, count_segments(body).segments)
    except Exception:  # the fake must answer even if the counter is unavailable
        return max(1, -(-len(body) // 153))


class FakeTwilio:
    """The fake Messages API's state: credentials, accepted messages, scripted failures."""

    def __init__(self, account_sid: str = SANDBOX_ACCOUNT_SID, auth_token: str = SANDBOX_AUTH_TOKEN):
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.messages: list[SentMessage] = []
        # Every request that reached the Messages endpoint, accepted or not.
        self.requests: list[dict[str, str]] = []
        self._failures: list[Failure] = []
        self._permanent: dict[str, int] = {}
        self._sids = itertools.count(1)
        self._lock = threading.Lock()
        # The account and the phone numbers it owns, as `python app.py check` reads them.
        self.account: dict[str, Any] = {"friendly_name": "Outreach test account", "status": "active", "type": "Full"}
        self.phone_numbers: list[dict[str, Any]] = []
        # Content API resources (HX sids): {"types", "variables", "approved"}; WhatsApp approves templates.
        self.contents: dict[str, dict[str, Any]] = {}
        # When each WhatsApp number last wrote to the council (opens WhatsApp's 24-hour window).
        self.whatsapp_last_inbound: dict[str, float] = {}
        # Calls placed through the Calls API, oldest first (the call simulator answers them).
        self.calls: list[PlacedCall] = []

    # ----- what tests and the sandbox tell it ---------------------------------------------

    def fail(self, mode: str = "reply", *, status: int = 500, code: int | None = None, delay: float = 0.0,
             to: str | None = None, times: int = 1, retry_after: int | None = None) -> None:
        """Make the next `times` calls fail (optionally only calls to one number)."""
        if mode == "reply" and code is None:
            code = {429: 20429, 500: 20500}.get(status, 20500)
        with self._lock:
            self._failures.append(Failure(mode, status, code, delay, to, times, retry_after))

    def reject_number(self, to: str, code: int) -> None:
        """Answer every send to this number with a permanent error (21610, 21614, 30006...)."""
        with self._lock:
            self._permanent[to] = code

    def messages_to(self, number: str) -> list[SentMessage]:
        """Return the messages accepted for one phone number, oldest first."""
        with self._lock:
            return [m for m in self.messages if m.to == number]

    def numbers(self) -> list[str]:
        """Return every number that was sent a message, in order of first message."""
        with self._lock:
            return list(dict.fromkeys(m.to for m in self.messages))

    def calls_to(self, number: str) -> list[PlacedCall]:
        """Return the calls placed to one phone number, oldest first."""
        with self._lock:
            return [c for c in self.calls if c.to == number]

    def clear(self) -> None:
        with self._lock:
            self.calls.clear()
            self.messages.clear()
            self.requests.clear()
            self._failures.clear()
            self._permanent.clear()
            self.whatsapp_last_inbound.clear()

    # ----- WhatsApp ----------------------------------------------------------------------------------

    def whatsapp_inbound(self, number: str, at: float | None = None) -> None:
        """Note that a WhatsApp user wrote in (Twilio sees every inbound message): their window opens."""
        with self._lock:
            self.whatsapp_last_inbound[_whatsapp(number)] = time.time() if at is None else at

    def whatsapp_window_open(self, number: str) -> bool:
        last = self.whatsapp_last_inbound.get(_whatsapp(number))
        return last is not None and time.time() - last < WHATSAPP_WINDOW_SECONDS

    def add_template(self, body: str, *, approved: bool = True, language: str = "en",
                     actions: list[dict[str, str]] | None = None) -> str:
        """Create an approved WhatsApp template (as a council would in Twilio's console); return its sid."""
        types: dict[str, Any] = {"twilio/text": {"body": body}}
        if actions:
            types = {"twilio/quick-reply": {"body": body, "actions": actions}}
        return self._store_content({"friendly_name": "template", "language": language, "types": types,
                                    "variables": {}}, approved)["sid"]

    def _store_content(self, request: dict[str, Any], approved: bool = False) -> dict[str, Any]:
        with self._lock:
            sid = "HX" + uuid.UUID(int=len(self.contents) + 1 + 0x5a000000).hex
            now = format_datetime(datetime.now(timezone.utc), usegmt=False)
            resource = {"sid": sid, "account_sid": self.account_sid, "friendly_name": request.get("friendly_name"),
                        "language": request.get("language") or "en", "variables": request.get("variables") or {},
                        "types": request.get("types") or {}, "url": f"https://content.twilio.com/v1/Content/{sid}",
                        "date_created": now, "date_updated": now, "links": {}}
            self.contents[sid] = {**resource, "approved": approved}
            return resource

    def create_content(self, auth: str | None, body: bytes) -> tuple[int, dict[str, Any]]:
        """POST /v1/Content (Twilio's Content API): store a content template, not approved for WhatsApp."""
        if not self._authorised(auth):
            return 401, error_body(20003, 401)
        try:
            request = json.loads(body.decode("utf-8") or "{}")
        except (ValueError, UnicodeDecodeError):
            return 400, error_body(20001, 400, "Invalid JSON")
        types = request.get("types") or {}
        if not isinstance(types, dict) or not types:
            return 400, error_body(20001, 400, "Types is required")
        return 201, self._store_content(request)

    def _render_content(self, sid: str, variables: dict[str, str]) -> tuple[str, list[tuple[str, str]]]:
        """Return the text and (title, id) buttons a resident sees for a Content template."""
        content = self.contents[sid]
        values = {**(content.get("variables") or {}), **variables}

        def fill(text: Any) -> str:
            text = str(text or "")
            for key, value in values.items():
                text = text.replace("{{" + str(key) + "}}", str(value))
            return text

        types = content["types"]
        for kind in ("twilio/quick-reply", "twilio/list-picker"):
            if kind in types:
                part = types[kind]
                options = part.get("actions") or part.get("items") or []
                return fill(part.get("body")), [(fill(o.get("title") or o.get("item")), fill(o.get("id")))
                                                 for o in options]
        part = types.get("twilio/text") or next(iter(types.values()), {})
        return fill(part.get("body")), []

    def add_number(self, phone_number: str, sms_url: str = "", sms_method: str = "POST", *, voice_url: str = "",
                   voice_method: str = "POST") -> dict[str, Any]:
        """Give the account a phone number whose incoming SMS go to `sms_url` and calls to `voice_url`."""
        with self._lock:
            sid = "PN" + uuid.UUID(int=len(self.phone_numbers) + 1).hex
            number = {"sid": sid, "phone_number": phone_number, "friendly_name": phone_number,
                      "sms_url": sms_url, "sms_method": sms_method, "voice_url": voice_url,
                      "voice_method": voice_method}
            self.phone_numbers.append(number)
            return number

    # ----- the REST API --------------------------------------------------------------------------

    def fetch_account(self, account_sid: str, auth: str | None) -> tuple[int, dict[str, Any]]:
        """GET /2010-04-01/Accounts/{sid}.json: the account, as Twilio describes it."""
        if not self._authorised(auth):
            return 401, error_body(20003, 401)
        if account_sid != self.account_sid:
            return 404, error_body(20404, 404)
        now = format_datetime(datetime.now(timezone.utc), usegmt=False)
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}"
        return 200, {**self.account, "auth_token": self.auth_token, "date_created": now, "date_updated": now,
                     "owner_account_sid": self.account_sid, "sid": self.account_sid, "uri": uri + ".json",
                     "subresource_uris": {"incoming_phone_numbers": uri + "/IncomingPhoneNumbers.json",
                                          "messages": uri + "/Messages.json"}}

    def list_numbers(self, account_sid: str, auth: str | None, query: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """GET /2010-04-01/Accounts/{sid}/IncomingPhoneNumbers.json, filtered by PhoneNumber as Twilio does."""
        if not self._authorised(auth) or account_sid != self.account_sid:
            return 401, error_body(20003, 401)
        wanted = query.get("PhoneNumber")
        page_size = int(query.get("PageSize") or 50)
        now = format_datetime(datetime.now(timezone.utc), usegmt=False)
        base = f"/{API_VERSION}/Accounts/{self.account_sid}/IncomingPhoneNumbers"
        with self._lock:
            found = [n for n in self.phone_numbers if wanted is None or n["phone_number"] == wanted][:page_size]
        numbers = [{
            "account_sid": self.account_sid, "address_requirements": "none", "api_version": API_VERSION,
            "beta": False, "capabilities": {"voice": True, "sms": True, "mms": False, "fax": False},
            "date_created": now, "date_updated": now, "identity_sid": None, "origin": "twilio",
            "sms_application_sid": "", "sms_fallback_method": "POST", "sms_fallback_url": "",
            "status_callback": "", "status_callback_method": "POST", "trunk_sid": None, "status": "in-use",
            "voice_url": "", "voice_method": "POST", "uri": f"{base}/{n['sid']}.json", **n,
        } for n in found]
        page_uri = f"{base}.json?PageSize={page_size}&Page=0"
        return 200, {"end": max(len(numbers) - 1, 0), "first_page_uri": page_uri, "incoming_phone_numbers": numbers,
                     "next_page_uri": None, "page": 0, "page_size": page_size, "previous_page_uri": None,
                     "start": 0, "uri": page_uri}

    def _authorised(self, header: str | None) -> bool:
        if not header or not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        return user == self.account_sid and password == self.auth_token

    def _take_failure(self, to: str | None) -> Failure | None:
        for failure in self._failures:
            if failure.to is None or failure.to == to:
                failure.times -= 1
                if failure.times <= 0:
                    self._failures.remove(failure)
                return failure
        return None

    def _record_request(self, account_sid: str, auth: str | None, form: dict[str, str]):
        """Check a create request's credentials, keep it and take the failure a test set up for its number
        (the lock is held): return (the failure or None, the reply made instead of the resource, or None)."""
        if account_sid != self.account_sid or not self._authorised(auth):
            return None, (401, error_body(20003, 401), 0.0, {})
        self.requests.append(dict(form))
        failure = self._take_failure(form.get("To"))
        if failure is not None and failure.mode == "reset":
            return failure, (0, None, 0.0, {})
        if failure is not None and failure.mode == "reply":
            headers = {"Retry-After": str(failure.retry_after)} if failure.retry_after is not None else {}
            return failure, (failure.status, error_body(failure.code or 20500, failure.status), 0.0, headers)
        return failure, None

    def create_message(self, account_sid: str, auth: str | None,
                       form: dict[str, str]) -> tuple[int, dict[str, Any] | None, float, dict[str, str]]:
        """Answer one create call: (HTTP status, JSON body or None to drop, delay, extra headers)."""
        to = form.get("To")
        with self._lock:
            failure, refused = self._record_request(account_sid, auth, form)
            if refused is not None:
                return refused
            if not to:
                return 400, error_body(21604, 400), 0.0, {}
            if not form.get("From") and not form.get("MessagingServiceSid"):
                return 400, error_body(21603, 400), 0.0, {}
            content_sid = form.get("ContentSid")
            if form.get("ContentVariables") and not content_sid:
                return 400, error_body(21654, 400), 0.0, {}
            if not form.get("Body") and not content_sid:
                return 400, error_body(21602, 400), 0.0, {}
            number = to[len(WHATSAPP_PREFIX):] if to.startswith(WHATSAPP_PREFIX) else to
            if not number.startswith("+") or not number[1:].isdigit() or not 8 <= len(number) <= 16:
                return 400, error_body(21211, 400, f"The 'To' number {to} is not a valid phone number."), 0.0, {}
            if to in self._permanent:
                return 400, error_body(self._permanent[to], 400), 0.0, {}
            body, buttons, variables = form.get("Body") or "", [], {}
            if content_sid:
                if content_sid not in self.contents:
                    return 400, error_body(21655, 400), 0.0, {}
                try:
                    variables = json.loads(form.get("ContentVariables") or "{}")
                except ValueError:
                    return 400, error_body(21656, 400, "The ContentVariables Parameter is invalid"), 0.0, {}
                body, buttons = self._render_content(content_sid, {str(k): str(v) for k, v in variables.items()})
            if to.startswith(WHATSAPP_PREFIX) and not self.whatsapp_window_open(to) and not (
                    content_sid and self.contents[content_sid].get("approved")):
                # WhatsApp: outside the 24-hour window only an approved template may go.
                return 400, error_body(63016, 400), 0.0, {}
            message = SentMessage(
                sid="SM" + uuid.UUID(int=next(self._sids)).hex,
                to=to,
                body=body,
                from_=form.get("From"),
                messaging_service_sid=form.get("MessagingServiceSid"),
                status_callback=form.get("StatusCallback"),
                num_segments=1 if to.startswith(WHATSAPP_PREFIX) else count_parts(body),
                content_sid=content_sid,
                content_variables=variables,
                buttons=buttons,
            )
            self.messages.append(message)
        delay = failure.delay if failure is not None else 0.0
        return 201, self._resource(message), delay, {}

    def create_call(self, account_sid: str, auth: str | None,
                    form: dict[str, str]) -> tuple[int, dict[str, Any] | None, float, dict[str, str]]:
        """POST /2010-04-01/Accounts/{sid}/Calls.json: place a call (nothing rings; the simulator answers it)."""
        to = form.get("To")
        with self._lock:
            failure, refused = self._record_request(account_sid, auth, form)
            if refused is not None:
                return refused
            if not to:
                return 400, error_body(21201, 400), 0.0, {}
            if not form.get("From"):
                return 400, error_body(21213, 400), 0.0, {}
            if not (form.get("Url") or form.get("Twiml") or form.get("ApplicationSid")):
                return 400, error_body(21205, 400), 0.0, {}
            if not to.startswith("+") or not to[1:].isdigit() or not 8 <= len(to) <= 16:
                return 400, error_body(21211, 400, f"Invalid 'To' Phone Number: {to}"), 0.0, {}
            if to in self._permanent:
                return 400, error_body(self._permanent[to], 400), 0.0, {}
            call = PlacedCall(sid="CA" + uuid.UUID(int=next(self._sids)).hex, to=to, from_=form["From"],
                              url=form.get("Url", ""), method=form.get("Method", "POST"),
                              machine_detection=form.get("MachineDetection"),
                              status_callback=form.get("StatusCallback"))
            self.calls.append(call)
        delay = failure.delay if failure is not None else 0.0
        return 201, self._call_resource(call), delay, {}

    def _call_resource(self, c: PlacedCall) -> dict[str, Any]:
        now = format_datetime(datetime.now(timezone.utc), usegmt=False)
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Calls/{c.sid}.json"
        return {
            "account_sid": self.account_sid, "annotation": None, "answered_by": None, "api_version": API_VERSION,
            "caller_name": None, "date_created": now, "date_updated": now, "direction": "outbound-api",
            "duration": None, "end_time": None, "forwarded_from": None, "from": c.from_, "from_formatted": c.from_,
            "group_sid": None, "parent_call_sid": None, "phone_number_sid": None, "price": None,
            "price_unit": "GBP", "queue_time": "0", "sid": c.sid, "start_time": None, "status": "queued",
            "subresource_uris": {"recordings": uri.replace(".json", "/Recordings.json")},
            "to": c.to, "to_formatted": c.to, "trunk_sid": None, "uri": uri,
        }

    def _resource(self, m: SentMessage) -> dict[str, Any]:
        now = format_datetime(datetime.now(timezone.utc), usegmt=False)
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{m.sid}.json"
        return {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": m.body,
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": m.from_,
            "messaging_service_sid": m.messaging_service_sid,
            "num_media": "0",
            "num_segments": str(m.num_segments),
            "price": None,
            "price_unit": "GBP",
            "sid": m.sid,
            "status": "queued" if m.messaging_service_sid is None else "accepted",
            "subresource_uris": {"media": uri.replace(".json", "/Media.json")},
            "to": m.to,
            "uri": uri,
        }


def _whatsapp(number: str) -> str:
    return number if number.startswith(WHATSAPP_PREFIX) else WHATSAPP_PREFIX + number


class _Handler(LocalHandler):
    server: "TwilioServer"

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = self.path.split("?", 1)[0].strip("/").split("/")
        if parts == ["v1", "Content"]:
            # Twilio's Content API (content.twilio.com), which the SDK reaches at this server's address.
            status, reply = self.server.fake.create_content(self.headers.get("Authorization"), body)
            self._answer(status, reply, {})
            return
        if (len(parts) != 4 or parts[0] != API_VERSION or parts[1] != "Accounts"
                or parts[3] not in ("Messages.json", "Calls.json")):
            self._answer(404, error_body(20404, 404), {})
            return
        form = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        create = self.server.fake.create_call if parts[3] == "Calls.json" else self.server.fake.create_message
        status, reply, delay, headers = create(parts[2], self.headers.get("Authorization"), form)
        if reply is None:
            # Hang up without answering: the caller cannot know whether it worked.
            self.close_connection = True
            try:
                self.connection.shutdown(2)
            except OSError:
                pass
            return
        if delay:
            time.sleep(delay)
        self._answer(status, reply, headers)

    def do_GET(self):
        path, _, query = self.path.partition("?")
        parts = path.strip("/").split("/")
        auth = self.headers.get("Authorization")
        if len(parts) == 3 and parts[:2] == [API_VERSION, "Accounts"] and parts[2].endswith(".json"):
            status, reply = self.server.fake.fetch_account(parts[2][:-len(".json")], auth)
        elif len(parts) == 4 and parts[:2] == [API_VERSION, "Accounts"] and parts[3] == "IncomingPhoneNumbers.json":
            status, reply = self.server.fake.list_numbers(parts[2], auth, dict(parse_qsl(query)))
        else:
            status, reply = 404, error_body(20404, 404)
        self._answer(status, reply, {})

    def _answer(self, status: int, body: dict[str, Any], headers: dict[str, str]) -> None:
        data = json.dumps(body).encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up (its own timeout); nothing to tell it.
            pass


class TwilioServer(LocalServer):
    """The fake Messages API served over HTTP on 127.0.0.1 in a background thread."""

    handler = _Handler
    thread_name = "fake-twilio"

    def __init__(self, fake: FakeTwilio | None = None, host: str = "127.0.0.1", port: int = 0):
        super().__init__(fake or FakeTwilio(), host, port)
