"""The Telegram channel: python-telegram-bot (async) driven from plain threads, errors mapped for the sender.

The channel owns one private event loop, running in its own thread, and one
`telegram.Bot` on it (an httpx client belongs to the loop it was made on). The
sender thread and the webhook's after-response work hand calls to that loop
and wait for the result, so no thread ever makes a loop or a client of its own.
"""
from __future__ import annotations

import asyncio
import logging
import threading
import warnings
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import (
    BadRequest,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.request import HTTPXRequest

from bot.channel import SendResult
from bot.render import render_telegram
from locales import i18n, languages
from store.models import Address

log = logging.getLogger(__name__)

T = TypeVar("T")

TELEGRAM_API = "https://api.telegram.org"
BLOCKED_REASON = "telegram: the resident blocked the bot"
# Reasons an address was marked unusable that a resident undoes by unblocking the bot
# (the second is what the sender records for a 403 from sendMessage).
UNBLOCKABLE_REASONS = (BLOCKED_REASON, "telegram error 403")
# Telegram's limit on callback_data is 64 bytes; language buttons carry "lang:<code>".
LANGUAGE_CALLBACK_PREFIX = "lang:"
# Updates a webhook or getUpdates should receive; the rest are never sent to us.
ALLOWED_UPDATES = ["message", "callback_query", "my_chat_member"]
# An outbox payload that edits an earlier question's message instead of sending one (engage.keyboards).
CLEAR_KEYBOARD = "clear_keyboard"
# How long a message waits before trying again after Telegram refused our token (a setup mistake).
CONFIG_RETRY_SECONDS = 300.0

_ = i18n.N_
CHOOSE_LANGUAGE = _("Which language would you like us to use?")

# Raised by httpx before any byte of the request left this machine: safe to try again.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


def bot_base_url(api_url: str | None) -> str:
    """Return the SDK's base_url for an API root: the token is appended to it ("<root>/bot<token>")."""
    return (api_url or TELEGRAM_API).rstrip("/") + "/bot"


def deep_link(bot_username: str, start_parameter: str) -> str:
    """Return the t.me link that opens the bot and sends `/start <parameter>`."""
    return f"https://t.me/{bot_username.lstrip('@')}?start={start_parameter}"


def language_menu_payload(lang: str | None) -> dict[str, Any]:
    """Return the outbox payload that shows a keyboard of every supported language."""
    return {
        "type": "language_menu",
        "text": i18n.gettext(lang, CHOOSE_LANGUAGE),
        "lang": lang,
        "choices": [{"value": code, "label": languages.native_name(code)} for code in languages.CODES],
    }


def render_message(payload: dict[str, Any]) -> tuple[str, InlineKeyboardMarkup | None]:
    """Return the text and inline keyboard Telegram should show for an outbox payload."""
    if payload.get("type") == "language_menu":
        rows = [[InlineKeyboardButton(c["label"], callback_data=LANGUAGE_CALLBACK_PREFIX + c["value"])]
                for c in payload.get("choices", [])]
        return payload.get("text") or "", InlineKeyboardMarkup(rows)
    text, markup = render_telegram(payload, payload.get("lang"))
    return text, (InlineKeyboardMarkup.de_json(markup, None) if markup else None)


def _retry_after_seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():
        # v22 warns that retry_after will become a timedelta; accept either.
        warnings.simplefilter("ignore")
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def result_for_error(exc: TelegramError) -> SendResult:
    """Map a python-telegram-bot error from sendMessage to what the sender should do."""
    message = str(exc)[:500]
    if isinstance(exc, RetryAfter):
        return SendResult("retry", error_code="429", error_message=message, retry_after=_retry_after_seconds(exc))
    if isinstance(exc, Forbidden):
        return SendResult("failed", error_code="403", error_message=message, address_unusable=True)
    if isinstance(exc, InvalidToken):
        # Our configuration, not the resident: keep the message until the token is fixed.
        return SendResult("retry", error_code="401", error_message=message, retry_after=CONFIG_RETRY_SECONDS)
    if isinstance(exc, BadRequest):
        unusable = "chat not found" in message.lower()
        return SendResult("failed", error_code="400", error_message=message, address_unusable=unusable)
    if isinstance(exc, NetworkError):
        cause = exc.__cause__
        if cause is None and not isinstance(exc, TimedOut):
            # Telegram answered with a 5xx: it did not take the message.
            return SendResult("retry", error_code="5xx", error_message=message)
        if isinstance(cause, _NOT_SENT):
            return SendResult("retry", error_code="network", error_message=message)
        # A read timeout or a dropped connection after the request went out: it may have arrived.
        return SendResult("unknown", error_code="timeout" if isinstance(exc, TimedOut) else "network",
                          error_message=message)
    return SendResult("failed", error_code=type(exc).__name__, error_message=message)


def button_text(label: str | None) -> str | None:
    """The note shown when a resident's button press is answered: a tick and what they pressed."""
    return label and f"✓ {label}"


def button_answer(callback_query_id: str, label: str | None) -> dict[str, Any]:
    """answerCallbackQuery as a webhook response body: Telegram makes the call itself, saving us one."""
    answer: dict[str, Any] = {"method": "answerCallbackQuery", "callback_query_id": callback_query_id}
    if label:
        answer["text"] = button_text(label)
    return answer


class TelegramChannel:
    """Send outbox payloads to Telegram chats and answer button presses."""

    name = "telegram"

    def __init__(self, token: str, api_url: str = "", *, connect_timeout: float = 5.0, read_timeout: float = 10.0):
        if not token:
            raise ValueError("a Telegram bot token is needed (OUTREACH_TELEGRAM_TOKEN)")
        self.token = token
        self.base_url = bot_base_url(api_url)
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._bot: Bot | None = None
        self._ready = False

    # ----- one private event loop, in its own thread ----------------------------------------------

    def _new_bot(self) -> Bot:
        def request(read_timeout: float) -> HTTPXRequest:
            return HTTPXRequest(connect_timeout=self.connect_timeout, read_timeout=read_timeout,
                                write_timeout=self.read_timeout, pool_timeout=self.connect_timeout)

        # getUpdates long-polls, so its own client waits longer than the poll.
        return Bot(self.token, base_url=self.base_url, request=request(self.read_timeout),
                   get_updates_request=request(self.read_timeout + 60))

    def _start_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name="telegram-loop", daemon=True)
                thread.start()
                self._loop, self._thread = loop, thread
            return self._loop

    async def _ready_bot(self) -> Bot:
        # Runs on the loop's thread only, so no lock is needed around the first getMe.
        if self._bot is None:
            self._bot = self._new_bot()
        if not self._ready:
            await self._bot.initialize()
            self._ready = True
        return self._bot

    def _run(self, call: Callable[[Bot], Awaitable[T]]) -> T:
        """Run one Bot call on the channel's loop and wait for it; any thread may call this."""

        async def run() -> T:
            return await call(await self._ready_bot())

        return asyncio.run_coroutine_threadsafe(run(), self._start_loop()).result()

    def close(self) -> None:
        """Shut the Bot's HTTP clients and stop the loop's thread."""
        with self._lock:
            loop, thread, bot = self._loop, self._thread, self._bot
            self._loop = self._thread = self._bot = None
            self._ready = False
        if loop is None:
            return
        if bot is not None:
            try:
                asyncio.run_coroutine_threadsafe(bot.shutdown(), loop).result(timeout=5)
            except Exception:  # noqa: BLE001 - closing is best effort
                log.debug("closing the Telegram client failed", exc_info=True)
        loop.call_soon_threadsafe(loop.stop)
        if thread is not None:
            thread.join(5)
        loop.close()

    # ----- the Channel protocol -------------------------------------------------------------

    def send(self, address: str, payload: dict[str, Any], lang: str | None) -> SendResult:
        """Send the payload as a message with its inline keyboard; provider id is the message_id.

        A `clear_keyboard` payload (engage.keyboards) sends nothing: it takes the buttons off an
        earlier question whose answer came some other way.
        """
        if payload.get("type") == CLEAR_KEYBOARD:
            return self._clear_keyboard(address, payload.get("message_id"))
        try:
            text, keyboard = render_message(payload)
        except (KeyError, TypeError, ValueError) as exc:
            return SendResult("failed", error_code="render", error_message=f"cannot render payload: {exc}"[:500])
        try:
            self._ensure_ready()
        except TelegramError as exc:
            # getMe failed: sendMessage never went out, so trying again is safe.
            result = result_for_error(exc)
            if result.status == "unknown":
                result = SendResult("retry", error_code=result.error_code, error_message=result.error_message)
            return result
        try:
            message = self._run(lambda bot: bot.send_message(chat_id=address, text=text, reply_markup=keyboard))
        except TelegramError as exc:
            return result_for_error(exc)
        return SendResult("sent", provider_id=str(message.message_id))

    def _clear_keyboard(self, chat_id: str, message_id: Any) -> SendResult:
        if not isinstance(message_id, int):
            return SendResult("failed", error_code="render", error_message="clear_keyboard needs a message_id")
        try:
            self._ensure_ready()
            self._run(lambda bot: bot.edit_message_reply_markup(chat_id=chat_id, message_id=message_id,
                                                                reply_markup=None))
        except BadRequest as exc:
            text = str(exc).lower()
            if "not modified" in text or "message to edit not found" in text:
                # Already without buttons (a press cleared them), or the resident deleted the message.
                return SendResult("sent")
            return result_for_error(exc)
        except TelegramError as exc:
            result = result_for_error(exc)
            if result.status == "unknown":
                # Taking buttons away twice does no harm: try again rather than leave it unknown.
                result = SendResult("retry", error_code=result.error_code, error_message=result.error_message)
            return result
        return SendResult("sent")

    def _ensure_ready(self) -> None:
        if not self._ready:
            self._run(lambda bot: asyncio.sleep(0))

    # ----- other Bot API calls ---------------------------------------------------------------

    def acknowledge_button(self, callback_query_id: str, chat_id: str | int, message_id: int | None,
                           label: str | None = None, *, answered: bool = False,
                           clear_keyboard: bool = True) -> None:
        """Stop the button's spinner and take the keyboard off the answered message.

        `answered`: the webhook's own response already answered the query (see `button_answer`).
        `clear_keyboard=False`: leave the keyboard to the outbox (scaled mode: the worker queues it).
        """
        try:
            if not answered:
                self._run(lambda bot: bot.answer_callback_query(callback_query_id, text=button_text(label)))
        except TelegramError as exc:
            # A query older than 15 s can't be answered any more; the answer itself is already stored.
            log.info("answerCallbackQuery failed: %s", type(exc).__name__)
        if message_id is None or not clear_keyboard:
            return
        try:
            self._run(lambda bot: bot.edit_message_reply_markup(chat_id=chat_id, message_id=message_id,
                                                                reply_markup=None))
        except TelegramError as exc:
            # "message is not modified" when a repeat press already cleared it.
            log.info("editMessageReplyMarkup failed: %s", type(exc).__name__)

    def get_me(self) -> dict[str, Any]:
        return self._run(lambda bot: bot.get_me()).to_dict()

    def set_webhook(self, url: str, secret_token: str) -> bool:
        """Point Telegram at our webhook with the secret it must send back in every call."""
        return self._run(lambda bot: bot.set_webhook(url=url, secret_token=secret_token,
                                                     allowed_updates=ALLOWED_UPDATES))

    def get_webhook_info(self) -> dict[str, Any]:
        """Where Telegram sends this bot's updates, and the last error it met there (getWebhookInfo)."""
        return self._run(lambda bot: bot.get_webhook_info()).to_dict()

    def delete_webhook(self) -> bool:
        return self._run(lambda bot: bot.delete_webhook(drop_pending_updates=False))

    def get_updates(self, offset: int | None, timeout: int) -> list[dict[str, Any]]:
        """Long-poll for updates; return them as the JSON dicts a webhook would have received."""
        updates = self._run(lambda bot: bot.get_updates(offset=offset, timeout=timeout,
                                                        allowed_updates=ALLOWED_UPDATES))
        return [u.to_dict() for u in updates]


# ----- address state ------------------------------------------------------------------------


def record_chat_member_status(s: Session, chat_id: str, status: str) -> bool:
    """Mark a chat unusable when the resident blocks the bot, usable again when they unblock; True if changed."""
    address = s.scalar(select(Address).where(Address.channel == "telegram", Address.address == chat_id))
    if address is None:
        return False
    if status == "kicked" and address.usable:
        address.usable = False
        address.unusable_reason = BLOCKED_REASON
        return True
    if status == "member" and not address.usable and address.unusable_reason in UNBLOCKABLE_REASONS:
        address.usable = True
        address.unusable_reason = None
        return True
    return False


def build_channel(settings) -> TelegramChannel | None:
    """Return the Telegram channel when a token is configured, else None."""
    if not settings.telegram_token:
        return None
    return TelegramChannel(settings.telegram_token, settings.telegram_api_url)


SANDBOX_TOKEN = "100000:sandbox-token-for-the-local-fake"


def init_app(app, services) -> None:
    """Add the Telegram channel: the real Bot API with a token, else the local fake in the sandbox."""
    settings = services.settings
    channel = build_channel(settings)
    if channel is None and settings.sandbox and not app.testing:
        from bot.sandbox.telegram_server import FakeTelegram, TelegramServer

        server = TelegramServer(FakeTelegram(SANDBOX_TOKEN, settings.telegram_bot_username or "outreach_sandbox_bot"))
        services.extras["telegram_sandbox"] = server.start()
        channel = TelegramChannel(SANDBOX_TOKEN, server.url)
        log.info("Telegram channel on the sandbox: a local fake Bot API at %s (updates are polled)", server.url)
    elif channel is None:
        log.info("Telegram channel off: set OUTREACH_TELEGRAM_TOKEN and OUTREACH_TELEGRAM_SECRET")
    if channel is not None:
        services.extras["telegram"] = channel
        services.extras.setdefault("channels", {})["telegram"] = channel
