"""bot.init_app: which SMS channel a configuration gets, the sender loop, and the sandbox page."""
from __future__ import annotations

import logging
import re

import pytest
from sqlalchemy import select

from store.models import InboundMessage
from tests.support.twilio_fake import twilio_settings


def make_app(app_config, **overrides):
    from app import create_app

    return create_app({**app_config, **overrides})


def test_twilio_settings_give_an_sms_channel_and_the_sender_loop(app_config, fake_twilio):
    app = make_app(app_config, **twilio_settings(fake_twilio))
    services = app.extensions["outreach"]
    assert "sender" in services.loops
    result = services.extras["channels"]["sms"].send("+447700900123", {"type": "text", "text": "Hi"}, "en")
    assert result.status == "sent"
    assert [m.body for m in fake_twilio.fake.messages] == ["Hi"]


def test_without_credentials_or_sandbox_sms_is_off_and_says_so(app_config, caplog):
    with caplog.at_level(logging.INFO):
        app = make_app(app_config, sandbox=False)
    assert "sms" not in app.extensions["outreach"].extras.get("channels", {})
    assert "SMS channel off" in caplog.text
    assert app.test_client().get("/sandbox/").status_code == 404


def test_outside_tests_the_sandbox_starts_a_local_twilio(app_config):
    app = make_app(app_config, testing=False, sandbox=True)
    services = app.extensions["outreach"]
    server = services.extras["twilio_sandbox"]
    try:
        assert server.url.startswith("http://127.0.0.1:")
        result = services.extras["channels"]["sms"].send("+447700900123", {"type": "text", "text": "Hi"}, "en")
        assert result.status == "sent"
        assert server.fake.messages_to("+447700900123")[0].body == "Hi"
    finally:
        server.stop()


@pytest.fixture
def sandbox_app(app_config, fake_twilio):
    app = make_app(app_config, sandbox=True)
    app.extensions["outreach"].extras["twilio_sandbox"] = fake_twilio
    return app


def csrf_token(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def test_the_sandbox_page_lists_phones_and_their_messages(sandbox_app, fake_twilio):
    channel = sandbox_app.extensions["outreach"].extras.get("channels", {}).get("sms")
    assert channel is None  # tests start no sandbox server of their own
    fake_twilio.fake.messages.clear()
    from tests.support.twilio_fake import sms_channel

    sms_channel(fake_twilio).send("+447700900123", {"type": "text", "text": "Hello <b>there</b>"}, "en")
    page = sandbox_app.test_client().get("/sandbox/").get_data(as_text=True)
    assert "+447700900123" in page
    assert "Hello &lt;b&gt;there&lt;/b&gt;" in page


def test_replying_on_the_sandbox_page_stores_and_processes_the_text(sandbox_app, db):
    client = sandbox_app.test_client()
    token = csrf_token(client.get("/sandbox/").get_data(as_text=True))
    response = client.post("/sandbox/reply", data={"csrf_token": token, "phone": "+447700900555", "text": "SAFE"})
    assert response.status_code == 302
    with db.session() as s:
        row = s.scalar(select(InboundMessage))
    assert (row.channel, row.address, row.text, row.status) == ("sms", "+447700900555", "SAFE", "processed")


def test_the_sandbox_form_refuses_a_bad_number_and_a_missing_token(sandbox_app, db):
    client = sandbox_app.test_client()
    assert client.post("/sandbox/reply", data={"phone": "+447700900555", "text": "SAFE"}).status_code == 400
    token = csrf_token(client.get("/sandbox/").get_data(as_text=True))
    response = client.post("/sandbox/reply", data={"csrf_token": token, "phone": "07700", "text": "SAFE"},
                           follow_redirects=True)
    assert "international format" in response.get_data(as_text=True)
    with db.session() as s:
        assert s.scalar(select(InboundMessage)) is None
