"""The WhatsApp sandbox phone on /sandbox/: a developer writes and presses buttons, the real SDK sends to the
fake Twilio; with real credentials there is no sandbox and no fake."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from bot.ratelimit import RateLimiter
from bot.sender import OutboxSender
from bot.twilio_whatsapp import TwilioWhatsApp
from engage.officers import create_officer
from store.models import Answer, Run
from tests.support.dashboard import cheap_password_hashing

_cheap_hashing = pytest.fixture(autouse=True)(cheap_password_hashing)
PASSWORD = "correct horse battery staple"
LAPTOP = {"testing": False, "sandbox": True, "listen_host": "127.0.0.1", "public_url": "http://127.0.0.1:5000",
          "telegram_token": ""}


def token_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def signed_in(app, services, clock):
    with services.db.session() as s:
        create_officer(s, "dev@harlow.gov.uk", PASSWORD, "officer", now=clock.now())
    client = app.test_client()
    form = {"email": "dev@harlow.gov.uk", "password": PASSWORD,
            "csrf_token": token_of(client.get("/login").get_data(as_text=True))}
    assert client.post("/login", data=form).status_code == 302
    return client


@pytest.fixture
def laptop(app_config, clock):
    from app import create_app

    app = create_app({**app_config, **LAPTOP})
    services = app.extensions["outreach"]
    try:
        yield app, services, signed_in(app, services, clock)
    finally:
        services.stop_loops()
        for name in ("twilio_sandbox", "telegram_sandbox"):
            if name in services.extras:
                services.extras[name].stop()
        if "telegram" in services.extras:
            services.extras["telegram"].close()


def test_a_developer_takes_part_on_the_whatsapp_sandbox_phone_pressing_buttons(laptop, db):
    app, services, client = laptop
    assert isinstance(services.extras["channels"]["whatsapp"], TwilioWhatsApp)
    sender = OutboxSender.from_services(services, services.extras["channels"], limiter=RateLimiter({}))
    page = client.get("/sandbox/").get_data(as_text=True)
    assert "WhatsApp sandbox phone" in page
    token = token_of(page)
    assert client.post("/sandbox/whatsapp", data={"csrf_token": token, "phone": "+447700900124",
                                                  "text": "SAFE"}).status_code == 302
    sender.drain()
    page = client.get("/sandbox/").get_data(as_text=True)
    section = page[page.index('id="whatsapp-447700900124"'):]
    assert "How safe do you feel walking in your area after dark?" in section
    buttons = re.findall(r'<button type="submit" name="button" value="(\d+)">([^<]+)</button>', section)
    assert [title for _, title in buttons] == ["Safe", "Unsafe", "Not sure"]
    hidden = dict(re.findall(r'<input type="hidden" name="(button_\d+|title_\d+)" value="([^"]*)">', section))
    client.post("/sandbox/whatsapp", data={"csrf_token": token, "phone": "+447700900124", "button": "0",
                                           **hidden})
    sender.drain()
    with db.session() as s:
        assert {a.step_id: a.value for a in s.scalars(select(Answer))} == {"feel_safe": "safe"}
        assert s.scalar(select(Run.channel)) == "whatsapp"
    assert "How old are you?" in client.get("/sandbox/").get_data(as_text=True)


def test_with_real_twilio_credentials_there_is_no_whatsapp_sandbox(app_config, clock):
    from app import create_app

    app = create_app({**app_config, **LAPTOP, "twilio_account_sid": "AC" + "1" * 32, "twilio_auth_token": "t" * 32,
                      "twilio_from": "+447700900000", "twilio_whatsapp_from": "whatsapp:+447700900000"})
    services = app.extensions["outreach"]
    try:
        assert "twilio_sandbox" not in services.extras
        channel = services.extras["channels"]["whatsapp"]
        assert channel.client.api.base_url == "https://api.twilio.com"
        client = signed_in(app, services, clock)
        assert client.get("/sandbox/").status_code == 404
        assert client.post("/sandbox/whatsapp", data={"phone": "+447700900124", "text": "SAFE"}).status_code == 404
    finally:
        services.stop_loops()
        if "telegram" in services.extras:
            services.extras["telegram"].close()
