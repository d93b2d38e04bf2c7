"""The fake Bot API for tests: a running server, Update fixtures, and posting them to the webhook."""
from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bot.sandbox.telegram_server import FakeTelegram, TelegramServer

FIXTURES = Path(__file__).resolve().parents[2] / "webhooks" / "telegram" / "fixtures"
TOKEN = "123456:TEST-token-for-the-fake"
SECRET = "webhook-secret-for-tests"
BOT_USERNAME = "harlow_outreach_bot"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


@contextmanager
def running_fake_telegram() -> Iterator[TelegramServer]:
    """Serve a fresh fake Bot API on a free local port for the duration of the block."""
    server = TelegramServer(FakeTelegram(token=TOKEN, username=BOT_USERNAME))
    with server:
        yield server


def telegram_settings(server: TelegramServer) -> dict[str, Any]:
    """Settings overrides that point the app's Telegram channel at the fake."""
    return {"telegram_token": TOKEN, "telegram_secret": SECRET, "telegram_api_url": server.url,
            "telegram_bot_username": BOT_USERNAME}


def fixture(name: str) -> dict[str, Any]:
    """Load an Update fixture (a fresh copy each time)."""
    return copy.deepcopy(json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8")))


def post_update(client, update: dict[str, Any], secret: str | None = SECRET):
    """Deliver an Update to the webhook the way Telegram does."""
    headers = {SECRET_HEADER: secret} if secret is not None else {}
    return client.post("/webhooks/telegram", data=json.dumps(update), headers=headers,
                       content_type="application/json")


def text_update(update_id: int, chat_id: int, text: str, language_code: str | None = "en",
                message_id: int = 1) -> dict[str, Any]:
    """Build a private-chat text message Update."""
    sender: dict[str, Any] = {"id": chat_id, "is_bot": False, "first_name": "Resident"}
    if language_code:
        sender["language_code"] = language_code
    return {"update_id": update_id, "message": {
        "message_id": message_id, "from": sender, "chat": {"id": chat_id, "first_name": "Resident", "type": "private"},
        "date": 1796205600, "text": text}}


def button_press(update_id: int, chat_id: int, message: dict[str, Any], label: str,
                 query_id: str = "cbq-1") -> dict[str, Any]:
    """Build the callback_query Update Telegram sends when the button labelled `label` is pressed."""
    data = next(b["callback_data"] for row in message["reply_markup"]["inline_keyboard"] for b in row
                if b["text"] == label)
    return {"update_id": update_id, "callback_query": {
        "id": query_id, "from": {"id": chat_id, "is_bot": False, "first_name": "Resident", "language_code": "en"},
        "message": message, "chat_instance": "-7285093651239958412", "data": data}}


def drain_outbox(services) -> int:
    """Send everything queued through the real sender and channels; return how many rows were claimed."""
    from bot.ratelimit import RateLimiter
    from bot.sender import OutboxSender

    sender = OutboxSender.from_services(services, services.extras.get("channels") or {}, limiter=RateLimiter({}))
    return sender.drain()
