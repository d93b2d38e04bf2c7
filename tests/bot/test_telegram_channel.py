"""The Telegram channel: the real python-telegram-bot against the fake Bot API, and every error mapped."""
from __future__ import annotations

import socket

import pytest
from sqlalchemy import select

from bot.render import parse_callback_data
from bot.telegram import TelegramChannel, bot_base_url, deep_link, language_menu_payload
from store.models import Address, OutboxMessage
from tests.support.telegram_fake import TOKEN, drain_outbox, running_fake_telegram
from tests.support.timeouts import SEND_TIMEOUT, SHORT_TIMEOUT, TOO_LATE

CHAT = "5550009999"
QUESTION = {
    "type": "question", "text": "How safe do you feel walking in your area after dark?",
    "question": "How safe do you feel walking in your area after dark?", "kind": "choice",
    "choices": [{"number": 1, "value": "safe", "label": "Safe"}, {"number": 2, "value": "unsafe", "label": "Unsafe"}],
    "optional": False, "hints": {}, "lang": "en", "run_id": 5, "flow_id": "street-safety", "step_id": "feel_safe",
    "intro": [],
}
HELLO = {"type": "text", "text": "Hello from Harlow Council", "lang": "en"}


@pytest.fixture
def fake():
    with running_fake_telegram() as server:
        yield server


@pytest.fixture
def channel(fake):
    channel = TelegramChannel(TOKEN, fake.url, connect_timeout=SEND_TIMEOUT, read_timeout=SEND_TIMEOUT)
    yield channel
    channel.close()


def test_the_base_url_is_the_api_root_plus_bot():
    assert bot_base_url("") == "https://api.telegram.org/bot"
    assert bot_base_url("http://127.0.0.1:8081/") == "http://127.0.0.1:8081/bot"


def test_a_question_goes_out_with_its_keyboard_and_the_message_id_as_provider_id(channel, fake):
    result = channel.send(CHAT, QUESTION, "en")
    assert result.status == "sent"
    [message] = fake.fake.sent_messages(CHAT)
    assert result.provider_id == str(message["message_id"])
    assert message["text"] == QUESTION["text"]
    buttons = [b for row in message["reply_markup"]["inline_keyboard"] for b in row]
    assert [b["text"] for b in buttons] == ["Safe", "Unsafe"]
    pressed = parse_callback_data(buttons[1]["callback_data"])
    assert (pressed.run_id, pressed.step, pressed.value) == (5, "feel_safe", "unsafe")
    # The SDK identified itself first (getMe) at the token's own URL.
    assert [c.method for c in fake.fake.calls] == ["getMe", "sendMessage"]


def test_a_plain_text_has_no_keyboard(channel, fake):
    assert channel.send(CHAT, HELLO, "en").status == "sent"
    assert "reply_markup" not in fake.fake.sent_messages(CHAT)[0]


def test_the_language_menu_offers_every_language_by_its_own_name(channel, fake):
    channel.send(CHAT, language_menu_payload("en"), "en")
    buttons = [b for row in fake.fake.sent_messages(CHAT)[0]["reply_markup"]["inline_keyboard"] for b in row]
    assert {b["text"]: b["callback_data"] for b in buttons}["اردو"] == "lang:ur"
    assert len(buttons) == 10


def test_flood_control_is_retried_after_the_time_telegram_gives(channel, fake):
    fake.fake.fail("sendMessage", 429, "Too Many Requests: retry after 7", retry_after=7)
    result = channel.send(CHAT, HELLO, "en")
    assert (result.status, result.error_code, result.retry_after) == ("retry", "429", 7.0)


def test_a_blocked_bot_fails_and_marks_the_address_unusable(channel, fake):
    fake.fake.block(CHAT)
    result = channel.send(CHAT, HELLO, "en")
    assert (result.status, result.error_code, result.address_unusable) == ("failed", "403", True)
    assert "blocked" in result.error_message


def test_an_unknown_chat_fails_and_marks_the_address_unusable(channel, fake):
    fake.fake.forget_chat(CHAT)
    result = channel.send(CHAT, HELLO, "en")
    assert (result.status, result.error_code, result.address_unusable) == ("failed", "400", True)


def test_another_bad_request_fails_without_blaming_the_address(channel, fake):
    result = channel.send(CHAT, {"type": "text", "text": "x" * 5000, "lang": "en"}, "en")
    assert (result.status, result.error_code, result.address_unusable) == ("failed", "400", False)


def test_a_telegram_server_error_is_retried(channel, fake):
    fake.fake.fail("sendMessage", 500, "Internal Server Error")
    assert channel.send(CHAT, HELLO, "en").status == "retry"


def test_a_connection_dropped_after_sending_is_unknown_not_retried(channel, fake):
    channel.send(CHAT, HELLO, "en")  # connect and identify first
    fake.fake.fail("sendMessage", mode="drop")
    result = channel.send(CHAT, HELLO, "en")
    assert result.status == "unknown"


def test_a_reply_slower_than_the_read_timeout_is_unknown(fake):
    channel = TelegramChannel(TOKEN, fake.url, connect_timeout=SEND_TIMEOUT, read_timeout=SHORT_TIMEOUT)
    try:
        channel.send(CHAT, HELLO, "en")
        fake.fake.fail("sendMessage", mode="delay", delay=TOO_LATE)
        result = channel.send(CHAT, HELLO, "en")
    finally:
        channel.close()
    assert (result.status, result.error_code) == ("unknown", "timeout")
    # It did reach "Telegram": that is exactly why it must not be sent again blindly.
    assert len(fake.fake.sent_messages(CHAT)) == 2


def test_a_refused_connection_is_retried_because_nothing_left():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    channel = TelegramChannel(TOKEN, f"http://127.0.0.1:{port}", connect_timeout=0.5, read_timeout=0.5)
    try:
        result = channel.send(CHAT, HELLO, "en")
    finally:
        channel.close()
    assert (result.status, result.error_code) == ("retry", "network")


def test_a_wrong_token_keeps_the_message_queued(fake):
    channel = TelegramChannel("999:wrong", fake.url)
    try:
        result = channel.send(CHAT, HELLO, "en")
    finally:
        channel.close()
    # A configuration error: held for five minutes, not hammered.
    assert (result.status, result.error_code, result.retry_after) == ("retry", "401", 300.0)


def test_acknowledging_a_button_stops_the_spinner_and_clears_the_keyboard(channel, fake):
    sent = channel.send(CHAT, QUESTION, "en")
    channel.acknowledge_button("cbq-9", CHAT, int(sent.provider_id), "Unsafe")
    [answer] = fake.fake.calls_of("answerCallbackQuery")
    assert answer.params == {"callback_query_id": "cbq-9", "text": "✓ Unsafe"}
    assert "reply_markup" not in fake.fake.sent_messages(CHAT)[0]
    # A second acknowledgement (a retried webhook) is harmless: Telegram's errors are only logged.
    channel.acknowledge_button("cbq-9", CHAT, int(sent.provider_id), "Unsafe")


def test_the_channel_works_from_two_threads(channel, fake):
    import threading

    results = []
    threads = [threading.Thread(target=lambda: results.append(channel.send(CHAT, HELLO, "en"))) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [r.status for r in results] == ["sent"] * 3
    assert len({r.provider_id for r in results}) == 3


def test_webhook_and_polling_calls(channel, fake):
    assert channel.set_webhook("https://outreach.example.gov.uk/webhooks/telegram", "s3cret") is True
    assert fake.fake.webhook["secret_token"] == "s3cret"
    assert channel.delete_webhook() is True
    fake.fake.queue_update({"update_id": 41, "message": {
        "message_id": 1, "date": 1796205600, "chat": {"id": int(CHAT), "type": "private"},
        "from": {"id": int(CHAT), "is_bot": False, "first_name": "R"}, "text": "SAFE"}})
    [update] = channel.get_updates(None, 0)
    assert (update["update_id"], update["message"]["text"], update["message"]["from"]["id"]) == (41, "SAFE", int(CHAT))
    assert channel.get_updates(42, 0) == []


def test_deep_links_open_the_bot_with_a_start_parameter():
    assert deep_link("@harlow_bot", "street-safety") == "https://t.me/harlow_bot?start=street-safety"


# ----- through the sender -----------------------------------------------------------------------------


@pytest.fixture
def app_config(app_config, fake):
    from tests.support.telegram_fake import telegram_settings

    return {**app_config, **telegram_settings(fake)}


def test_the_sender_marks_a_blocked_chat_unusable(services, db, fake, clock):
    from tests.support.outreach import make_contact

    with db.session() as s:
        contact = make_contact(s, channel="telegram")
        address = s.scalar(select(Address).where(Address.contact_id == contact.id))
        address.address = CHAT
        s.add(OutboxMessage(contact_id=contact.id, address_id=address.id, channel="telegram", kind="reply",
                            payload=HELLO, language="en", status="queued", created_at=clock.now(),
                            updated_at=clock.now()))
    fake.fake.block(CHAT)
    drain_outbox(services)
    with db.session() as s:
        row = s.scalar(select(OutboxMessage))
        assert (row.status, row.error_code) == ("failed", "403")
        assert s.scalar(select(Address.usable)) is False
    services.extras["telegram"].close()
