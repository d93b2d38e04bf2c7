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


# A laptop setup: listening on loopback, a loopback public URL, no provider credentials.
LAPTOP = {"listen_host": "127.0.0.1", "public_url": "http://127.0.0.1:5000"}
PASSWORD = "a long enough password"


def test_outside_tests_the_sandbox_starts_a_local_twilio(app_config):
    app = make_app(app_config, testing=False, sandbox=True, **LAPTOP)
    services = app.extensions["outreach"]
    server = services.extras["twilio_sandbox"]
    try:
        assert server.url.startswith("http://127.0.0.1:")
        result = services.extras["channels"]["sms"].send("+447700900123", {"type": "text", "text": "Hi"}, "en")
        assert result.status == "sent"
        assert server.fake.messages_to("+447700900123")[0].body == "Hi"
    finally:
        server.stop()


def signed_in(app, db):
    """A browser signed in as an officer through the real form."""
    from engage.officers import create_officer

    with db.session() as s:
        create_officer(s, "officer@harlow.gov.uk", PASSWORD, "officer", now=app.extensions["outreach"].clock.now())
    client = app.test_client()
    token = csrf_token(client.get("/login").get_data(as_text=True))
    assert client.post("/login", data={"email": "officer@harlow.gov.uk", "password": PASSWORD,
                                       "csrf_token": token}).status_code == 302
    return client


@pytest.fixture
def sandbox_app(app_config, fake_twilio):
    app = make_app(app_config, sandbox=True, **LAPTOP)
    app.extensions["outreach"].extras["twilio_sandbox"] = fake_twilio
    return app


def csrf_token(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def test_the_sandbox_page_lists_phones_and_their_messages(sandbox_app, fake_twilio, db):
    channel = sandbox_app.extensions["outreach"].extras.get("channels", {}).get("sms")
    assert channel is None  # tests start no sandbox server of their own
    fake_twilio.fake.messages.clear()
    from tests.support.twilio_fake import sms_channel

    sms_channel(fake_twilio).send("+447700900123", {"type": "text", "text": "Hello <b>there</b>"}, "en")
    page = signed_in(sandbox_app, db).get("/sandbox/").get_data(as_text=True)
    assert "+447700900123" in page
    assert "Hello &lt;b&gt;there&lt;/b&gt;" in page


def test_replying_on_the_sandbox_page_stores_and_processes_the_text(sandbox_app, db):
    client = signed_in(sandbox_app, db)
    token = csrf_token(client.get("/sandbox/").get_data(as_text=True))
    response = client.post("/sandbox/reply", data={"csrf_token": token, "phone": "+447700900555", "text": "SAFE"})
    assert response.status_code == 302
    with db.session() as s:
        row = s.scalar(select(InboundMessage))
    assert (row.channel, row.address, row.text, row.status) == ("sms", "+447700900555", "SAFE", "processed")


def test_the_sandbox_form_refuses_a_bad_number_and_a_missing_token(sandbox_app, db):
    client = signed_in(sandbox_app, db)
    assert client.post("/sandbox/reply", data={"phone": "+447700900555", "text": "SAFE"}).status_code == 400
    token = csrf_token(client.get("/sandbox/").get_data(as_text=True))
    response = client.post("/sandbox/reply", data={"csrf_token": token, "phone": "07700", "text": "SAFE"},
                           follow_redirects=True)
    assert "international format" in response.get_data(as_text=True)
    with db.session() as s:
        assert s.scalar(select(InboundMessage)) is None


def test_the_sandbox_needs_an_officers_sign_in(sandbox_app, db):
    anonymous = sandbox_app.test_client()
    page = anonymous.get("/sandbox/")
    assert page.status_code == 302 and page.headers["Location"].startswith("/login?next=/sandbox/")
    assert anonymous.post("/sandbox/reply", data={"phone": "+447700900555", "text": "FORGET YES"}).status_code == 401
    with db.session() as s:
        assert s.scalar(select(InboundMessage)) is None
    # Signing in from the sandbox's link comes back to the sandbox.
    from engage.officers import create_officer

    with db.session() as s:
        create_officer(s, "officer@harlow.gov.uk", PASSWORD, "officer",
                       now=sandbox_app.extensions["outreach"].clock.now())
    token = csrf_token(anonymous.get(page.headers["Location"]).get_data(as_text=True))
    response = anonymous.post("/login", data={"email": "officer@harlow.gov.uk", "password": PASSWORD,
                                              "csrf_token": token, "next": "/sandbox/"})
    assert response.headers["Location"] == "/sandbox/"
    assert anonymous.get("/sandbox/").status_code == 200


@pytest.mark.parametrize("setting", [
    {"twilio_account_sid": "AC" + "1" * 32}, {"twilio_auth_token": "f" * 32},
    {"twilio_messaging_service_sid": "MG" + "1" * 32}, {"telegram_token": "123:abc"}, {"telegram_secret": "s" * 20},
    {"listen_host": "0.0.0.0"}, {"listen_host": ""}, {"public_url": "https://outreach.harlow.example"},
    {"public_url": "http://outreach.harlow.example"}, {"mode": "scaled"}, {"trusted_proxies": 1},
])
def test_the_sandbox_does_not_exist_with_a_credential_or_a_public_address(app_config, db, setting):
    app = make_app(app_config, sandbox=True, **{**LAPTOP, **setting})
    assert app.extensions["outreach"].settings.sandbox is False
    client = app.test_client()
    for path in ("/sandbox/", "/sandbox/reply", "/sandbox/anything"):
        assert client.get(path).status_code == 404
    assert client.post("/sandbox/reply", data={"phone": "+447700900555", "text": "STOP"}).status_code == 404
    with db.session() as s:
        assert s.scalar(select(InboundMessage)) is None


def test_outside_tests_a_credential_keeps_both_sandboxes_off(app_config):
    app = make_app(app_config, testing=False, sandbox=True, telegram_token="", **LAPTOP,
                   twilio_account_sid="AC" + "1" * 32)
    services = app.extensions["outreach"]
    assert "twilio_sandbox" not in services.extras and "telegram_sandbox" not in services.extras
    assert app.test_client().get("/sandbox/").status_code == 404
