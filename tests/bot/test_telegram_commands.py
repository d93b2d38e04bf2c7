"""`python app.py telegram-poll`, `telegram-webhook set|delete` and `qr`, against the fake Bot API."""
from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from commands.qr import make_code, qr
from commands.telegram import telegram_poll, telegram_webhook
from store.models import Answer, InboundMessage, Run
from tests.support.telegram_fake import (
    BOT_USERNAME,
    SECRET,
    running_fake_telegram,
    telegram_settings,
    text_update,
)

CHAT = 5550004444


@pytest.fixture
def fake():
    with running_fake_telegram() as server:
        yield server


@pytest.fixture
def app_config(app_config, fake):
    return {**app_config, **telegram_settings(fake), "public_url": "https://outreach.example.gov.uk",
            "twilio_from": "+447700900123"}


def test_webhook_set_registers_the_public_url_with_the_secret(runner, fake):
    result = runner.invoke(telegram_webhook, ["set"])
    assert result.exit_code == 0, result.output
    assert "https://outreach.example.gov.uk/webhooks/telegram" in result.output
    assert fake.fake.webhook["url"] == "https://outreach.example.gov.uk/webhooks/telegram"
    assert fake.fake.webhook["secret_token"] == SECRET
    assert fake.fake.webhook["allowed_updates"] == ["message", "callback_query", "my_chat_member"]
    assert runner.invoke(telegram_webhook, ["delete"]).exit_code == 0
    assert fake.fake.webhook == {}


def test_webhook_set_refuses_without_a_secret(app_config, fake):
    from app import create_app

    app = create_app({**app_config, "telegram_secret": ""})
    result = app.test_cli_runner().invoke(telegram_webhook, ["set"])
    assert result.exit_code != 0
    assert "OUTREACH_TELEGRAM_SECRET" in result.output
    assert fake.fake.calls_of("setWebhook") == []


def test_poll_deletes_the_webhook_and_feeds_updates_through_the_same_path(runner, fake, db):
    fake.fake.webhook = {"url": "https://old.example/webhooks/telegram"}
    fake.fake.queue_update(text_update(5001, CHAT, "SAFE", language_code="cy"))
    fake.fake.queue_update({"update_id": 5002, "edited_message": {
        "message_id": 3, "date": 1796205600, "edit_date": 1796205601, "text": "x",
        "chat": {"id": CHAT, "type": "private"}, "from": {"id": CHAT, "is_bot": False, "first_name": "R"}}})
    fake.fake.queue_update(text_update(5003, CHAT, "1", message_id=4))
    result = runner.invoke(telegram_poll, ["--timeout", "0", "--max-polls", "2"])
    assert result.exit_code == 0, result.output
    assert fake.fake.calls_of("deleteWebhook")
    with db.session() as s:
        assert [r.provider_id for r in s.scalars(select(InboundMessage).order_by(InboundMessage.id))] == [
            "5001", "5003"]
        assert s.scalar(select(Run.language)) == "cy"
        assert s.scalar(select(Answer.value)) == "safe"
    # Everything handled was confirmed, so Telegram would not send it again.
    assert fake.fake.pending_updates() == []


def test_poll_without_a_token_says_what_to_set(app_config):
    from app import create_app

    app = create_app({**app_config, "telegram_token": ""})
    result = app.test_cli_runner().invoke(telegram_poll, ["--max-polls", "1"])
    assert result.exit_code != 0
    assert "OUTREACH_TELEGRAM_TOKEN" in result.output


# ----- QR codes ------------------------------------------------------------------------------------


def svg_of(content: str, title: str) -> bytes:
    out = io.BytesIO()
    make_code(content).save(out, kind="svg", scale=10, border=4, title=title)
    return out.getvalue()


def test_qr_writes_png_and_svg_for_the_deep_link_and_each_sms_keyword(runner, tmp_path):
    result = runner.invoke(qr, ["street-safety", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    link = f"https://t.me/{BOT_USERNAME}?start=street-safety"
    assert f"telegram: {link}" in result.output
    assert "sms-safe: SMSTO:+447700900123:SAFE" in result.output
    assert "sms-diogel: SMSTO:+447700900123:DIOGEL" in result.output
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [f"street-safety-{n}.{ext}" for n in ("sms-diogel", "sms-safe", "telegram")
                     for ext in ("png", "svg")]
    assert (tmp_path / "street-safety-telegram.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # The SVG is exactly the code segno makes for the expected content.
    assert (tmp_path / "street-safety-telegram.svg").read_bytes() == svg_of(
        link, f"opens the Telegram bot and starts street-safety: {link}")
    assert (tmp_path / "street-safety-sms-safe.svg").read_bytes() == svg_of(
        "SMSTO:+447700900123:SAFE", "opens a text to +447700900123 saying SAFE")


def test_qr_finds_a_flow_by_keyword_too(runner, tmp_path):
    result = runner.invoke(qr, ["diogel", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "street-safety-telegram.svg").exists()


def test_qr_for_an_unknown_flow_lists_the_flows(runner, tmp_path):
    result = runner.invoke(qr, ["nope", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "street-safety" in result.output
    assert list(tmp_path.iterdir()) == []


def test_qr_with_no_channel_configured_says_what_to_set(app_config, tmp_path):
    from app import create_app

    app = create_app({**app_config, "telegram_bot_username": "", "twilio_from": ""})
    result = app.test_cli_runner().invoke(qr, ["street-safety", "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert "OUTREACH_TELEGRAM_BOT_USERNAME" in result.output


def test_the_qr_code_survives_a_scuffed_poster():
    code = make_code("https://t.me/harlow_bot?start=street-safety")
    # Error correction at least M: segno raises it to Q here, as the version has room.
    assert code.error == "Q"
    assert not code.is_micro
