"""A local stand-in for the Telegram Bot API at /bot<token>/<method>, for tests and the sandbox.

It speaks the Bot API's wire format (form or JSON parameters in,
`{"ok": true, "result": ...}` or `{"ok": false, "error_code": ..., "description": ...}`
out), so the real python-telegram-bot SDK can be pointed at it with
`Bot(token, base_url=server.url + "/bot")`. It records every call, per chat,
and can be told to fail the way Telegram does (blocked bot, unknown chat,
flood control, a dropped connection, a slow answer).
"""
from __future__ import annotations

import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from bot.sandbox.local_server import LocalHandler, LocalServer

# Parameters whose form value is JSON (python-telegram-bot JSON-encodes non-string values).
_JSON_PARAMS = frozenset({"reply_markup", "allowed_updates", "entities", "link_preview_options", "reply_parameters"})
_INT_PARAMS = frozenset({"message_id", "offset", "limit", "timeout", "max_connections", "cache_time"})
_BOOL_PARAMS = frozenset({"drop_pending_updates", "show_alert", "disable_notification", "protect_content"})

BLOCKED = "Forbidden: bot was blocked by the user"
CHAT_NOT_FOUND = "Bad Request: chat not found"
GETUPDATES_CONFLICT = ("Conflict: can't use getUpdates method while webhook is active; "
                       "use deleteWebhook to delete the webhook first")
# A long poll is cut short so tests and a stopping sandbox never wait long.
MAX_POLL_WAIT = 1.0


@dataclass
class Call:
    """One Bot API request as the fake received it."""

    method: str
    params: dict[str, Any]
    at: float = field(default_factory=time.time)

    @property
    def chat_id(self) -> str | None:
        value = self.params.get("chat_id")
        return None if value is None else str(value)


@dataclass
class Failure:
    """A scripted failure: an error reply, a dropped connection, or a slow reply."""

    method: str
    error_code: int | None = None
    description: str = ""
    retry_after: int | None = None
    chat_id: str | None = None
    # "reply" answers with the error; "drop" closes the connection after reading
    # the request; "delay" sleeps `delay` seconds and then answers normally.
    mode: str = "reply"
    delay: float = 0.0
    times: int = 1


class FakeTelegram:
    """The fake Bot API's state: bot identity, chats, sent messages, queued updates, webhook, calls."""

    def __init__(self, token: str = "123456:TEST-token", username: str = "outreach_test_bot",
                 first_name: str = "Outreach"):
        self.token = token
        self.bot_user = {"id": int(token.split(":", 1)[0]) if token.split(":", 1)[0].isdigit() else 1,
                         "is_bot": True, "first_name": first_name, "username": username,
                         "can_join_groups": False, "can_read_all_group_messages": False,
                         "supports_inline_queries": False}
        self.calls: list[Call] = []
        self.webhook: dict[str, Any] = {}
        # What getWebhookInfo reports as the last failed delivery: (unix time, message), or None.
        self.webhook_error: tuple[int, str] | None = None
        self.blocked: set[str] = set()
        self.unknown_chats: set[str] = set()
        self._failures: list[Failure] = []
        self._messages: dict[tuple[str, int], dict[str, Any]] = {}
        self._message_ids = itertools.count(1)
        self._update_ids = itertools.count(1)
        self._updates: list[dict[str, Any]] = []
        self._lock = threading.Condition()

    # ----- what tests and the sandbox tell it ------------------------------------------

    def fail(self, method: str, error_code: int | None = None, description: str = "", *,
             retry_after: int | None = None, chat_id: Any = None, mode: str = "reply", delay: float = 0.0,
             times: int = 1) -> None:
        """Make the next `times` calls of a method fail (optionally only for one chat)."""
        with self._lock:
            self._failures.append(Failure(method, error_code, description, retry_after,
                                          None if chat_id is None else str(chat_id), mode, delay, times))

    def block(self, chat_id: Any) -> None:
        """Behave as if the resident blocked the bot: sends to the chat get 403."""
        with self._lock:
            self.blocked.add(str(chat_id))

    def forget_chat(self, chat_id: Any) -> None:
        """Behave as if the chat does not exist: sends to it get 400 chat not found."""
        with self._lock:
            self.unknown_chats.add(str(chat_id))

    def queue_update(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue an Update for getUpdates, numbering it when it has no update_id."""
        with self._lock:
            update = dict(update)
            if "update_id" not in update:
                update["update_id"] = next(self._update_ids)
            self._updates.append(update)
            self._lock.notify_all()
            return update

    def calls_for(self, chat_id: Any, method: str | None = None) -> list[Call]:
        """Return the calls made about one chat, optionally of one method."""
        with self._lock:
            return [c for c in self.calls if c.chat_id == str(chat_id) and (method is None or c.method == method)]

    def calls_of(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def sent_messages(self, chat_id: Any) -> list[dict[str, Any]]:
        """Return the messages the bot sent to a chat, as they stand now (keyboards edited or not)."""
        with self._lock:
            return [dict(m) for (chat, _), m in sorted(self._messages.items(), key=lambda item: item[0][1])
                    if chat == str(chat_id)]

    def pending_updates(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._updates)

    # ----- the Bot API -----------------------------------------------------------------------

    def _take_failure(self, method: str, params: dict[str, Any]) -> Failure | None:
        chat = params.get("chat_id")
        for failure in self._failures:
            if failure.method == method and (failure.chat_id is None or failure.chat_id == str(chat)):
                failure.times -= 1
                if failure.times <= 0:
                    self._failures.remove(failure)
                return failure
        return None

    def handle(self, token: str, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any] | None, float]:
        """Answer one call: (HTTP status, JSON body or None to drop the connection, delay before answering)."""
        if token != self.token:
            return 401, _error(401, "Unauthorized"), 0.0
        with self._lock:
            self.calls.append(Call(method, params))
            failure = self._take_failure(method, params)
        if failure is not None:
            if failure.mode == "drop":
                return 0, None, 0.0
            if failure.mode == "reply":
                body = _error(failure.error_code or 500, failure.description or "Internal Server Error")
                if failure.retry_after is not None:
                    body["parameters"] = {"retry_after": failure.retry_after}
                return failure.error_code or 500, body, 0.0
        delay = failure.delay if failure is not None else 0.0
        handler = getattr(self, f"_api_{method}", None)
        if handler is None:
            return 404, _error(404, "Not Found"), delay
        status, body = handler(params)
        return status, body, delay

    def _chat_error(self, chat_id: Any) -> tuple[int, dict[str, Any]] | None:
        if chat_id is None or str(chat_id).strip() == "":
            return 400, _error(400, "Bad Request: chat_id is empty")
        if str(chat_id) in self.unknown_chats:
            return 400, _error(400, CHAT_NOT_FOUND)
        if str(chat_id) in self.blocked:
            return 403, _error(403, BLOCKED)
        return None

    def _api_getMe(self, params):
        return 200, _ok(self.bot_user)

    def _api_sendMessage(self, params):
        chat_id = params.get("chat_id")
        with self._lock:
            error = self._chat_error(chat_id)
            if error:
                return error
            text = params.get("text")
            if not text:
                return 400, _error(400, "Bad Request: message text is empty")
            if len(text) > 4096:
                return 400, _error(400, "Bad Request: message is too long")
            message = {
                "message_id": next(self._message_ids),
                "from": self.bot_user,
                "chat": {"id": _as_int(chat_id), "type": "private"},
                "date": int(time.time()),
                "text": text,
            }
            if params.get("reply_markup"):
                message["reply_markup"] = params["reply_markup"]
            self._messages[(str(chat_id), message["message_id"])] = message
        return 200, _ok(message)

    def _api_answerCallbackQuery(self, params):
        if not params.get("callback_query_id"):
            return 400, _error(400, "Bad Request: query is too old and response timeout expired or query ID is invalid")
        return 200, _ok(True)

    def _api_editMessageReplyMarkup(self, params):
        chat_id = params.get("chat_id")
        with self._lock:
            error = self._chat_error(chat_id)
            if error:
                return error
            message = self._messages.get((str(chat_id), params.get("message_id")))
            if message is None:
                return 400, _error(400, "Bad Request: message to edit not found")
            markup = params.get("reply_markup")
            if markup == message.get("reply_markup") or (not markup and "reply_markup" not in message):
                return 400, _error(400, "Bad Request: message is not modified: specified new message content and "
                                        "reply markup are exactly the same as a current content and reply markup "
                                        "of the message")
            if markup:
                message["reply_markup"] = markup
            else:
                message.pop("reply_markup", None)
            return 200, _ok(dict(message))

    def _api_setWebhook(self, params):
        if not str(params.get("url", "")).startswith("https://") and params.get("url"):
            return 400, _error(400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook")
        with self._lock:
            self.webhook = {k: v for k, v in params.items() if k != "certificate"}
            if params.get("drop_pending_updates"):
                self._updates.clear()
        return 200, {"ok": True, "result": True, "description": "Webhook was set"}

    def _api_deleteWebhook(self, params):
        with self._lock:
            existed = bool(self.webhook.get("url"))
            self.webhook = {}
            if params.get("drop_pending_updates"):
                self._updates.clear()
        return 200, {"ok": True, "result": True,
                     "description": "Webhook was deleted" if existed else "Webhook is already deleted"}

    def _api_getWebhookInfo(self, params):
        with self._lock:
            info = {"url": self.webhook.get("url", ""), "has_custom_certificate": False,
                    "pending_update_count": len(self._updates)}
            if self.webhook.get("url") and self.webhook_error is not None:
                info["last_error_date"], info["last_error_message"] = self.webhook_error
        return 200, _ok(info)

    def _api_getUpdates(self, params):
        offset = params.get("offset")
        limit = min(int(params.get("limit") or 100), 100)
        deadline = time.monotonic() + min(float(params.get("timeout") or 0), MAX_POLL_WAIT)
        with self._lock:
            if self.webhook.get("url"):
                return 409, _error(409, GETUPDATES_CONFLICT)
            if offset is not None:
                # Telegram forgets every update below the offset once it is asked for it.
                self._updates = [u for u in self._updates if u["update_id"] >= int(offset)]
            while not self._updates and time.monotonic() < deadline:
                self._lock.wait(max(0.0, deadline - time.monotonic()))
            return 200, _ok(self._updates[:limit])


def _ok(result: Any) -> dict[str, Any]:
    return {"ok": True, "result": result}


def _error(code: int, description: str) -> dict[str, Any]:
    return {"ok": False, "error_code": code, "description": description}


def _as_int(value: Any) -> Any:
    text = str(value)
    return int(text) if text.lstrip("-").isdigit() else value


def _decode_params(raw: dict[str, str]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for key, value in raw.items():
        if key in _JSON_PARAMS:
            try:
                params[key] = json.loads(value)
            except ValueError:
                params[key] = value
        elif key in _INT_PARAMS and str(value).lstrip("-").isdigit():
            params[key] = int(value)
        elif key in _BOOL_PARAMS:
            params[key] = str(value).lower() in {"true", "1"}
        elif key == "chat_id":
            params[key] = _as_int(value)
        else:
            params[key] = value
    return params


class _Handler(LocalHandler):
    server: "TelegramServer"

    def do_GET(self):
        self._serve({})

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        if ctype == "application/json":
            try:
                raw = json.loads(body or b"{}")
            except ValueError:
                self._answer(400, _error(400, "Bad Request: can't parse JSON"))
                return
            params = {k: v for k, v in raw.items()} if isinstance(raw, dict) else {}
            if "chat_id" in params:
                params["chat_id"] = _as_int(params["chat_id"])
        else:
            params = _decode_params(dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True)))
        self._serve(params)

    def _serve(self, params: dict[str, Any]) -> None:
        path = self.path.split("?", 1)[0]
        if self.command == "GET" and "?" in self.path:
            params = {**_decode_params(dict(parse_qsl(self.path.split("?", 1)[1]))), **params}
        parts = path.strip("/").split("/")
        if len(parts) != 2 or not parts[0].startswith("bot"):
            self._answer(404, _error(404, "Not Found"))
            return
        status, body, delay = self.server.fake.handle(parts[0][3:], parts[1], params)
        if body is None:
            # Read the request, then hang up without answering: the caller cannot know if it worked.
            self.close_connection = True
            self.connection.shutdown(2)
            return
        if delay:
            time.sleep(delay)
        self._answer(status, body)

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up (its own timeout); nothing to tell it.
            pass


class TelegramServer(LocalServer):
    """The fake Bot API served over HTTP in a background thread."""

    handler = _Handler
    thread_name = "fake-telegram"

    def __init__(self, fake: FakeTelegram | None = None, host: str = "127.0.0.1", port: int = 0):
        super().__init__(fake or FakeTelegram(), host, port)
