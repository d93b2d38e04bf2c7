"""The call simulator on /sandbox/call/: an officer phones the service and completes a flow by keypad, through
the signed voice webhook; absent wherever real credentials are set."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from store.models import Answer, InboundMessage

LAPTOP = {"testing": False, "sandbox": True, "listen_host": "127.0.0.1", "public_url": "http://127.0.0.1:5000",
          "telegram_token": ""}
PASSWORD = "correct horse battery staple 42"


def csrf(page) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)


def signed_in(app, db, clock):
    from engage.officers import create_officer

    client = app.test_client()
    with db.session() as s:
        create_officer(s, "admin@harlow.gov.uk", PASSWORD, "admin", now=clock.now())
    token = csrf(client.get("/login"))
    assert client.post("/login", data={"email": "admin@harlow.gov.uk", "password": PASSWORD,
                                       "csrf_token": token}).status_code == 302
    return client


@pytest.fixture
def laptop_app(app_config):
    from app import create_app

    app = create_app({**app_config, **LAPTOP})
    yield app
    services = app.extensions["outreach"]
    services.stop_loops()
    for name in ("twilio_sandbox", "telegram_sandbox"):
        if name in services.extras:
            services.extras[name].stop()
    if "telegram" in services.extras:
        services.extras["telegram"].close()


def press(client, call_url, keys="", action="send"):
    page = client.get(call_url)
    response = client.post(call_url, data={"csrf_token": csrf(page), "keys": keys, "action": action})
    assert response.status_code == 302
    return client.get(call_url).get_data(as_text=True)


def test_an_officer_phones_the_service_and_completes_street_safety_by_keypad(laptop_app, db, clock):
    client = signed_in(laptop_app, db, clock)
    index = client.get("/sandbox/call/")
    assert index.status_code == 200 and "Call simulator" in index.get_data(as_text=True)
    started = client.post("/sandbox/call/start", data={"csrf_token": csrf(index), "caller": "+447400123456",
                                                       "to": "+447700900000"})
    assert started.status_code == 302
    call_url = started.headers["Location"]
    menu = client.get(call_url).get_data(as_text=True)
    key = re.search(r"For Feeling safe in your neighbourhood, press (\d)\.", menu).group(1)
    languages = press(client, call_url, key)
    assert "For English, press 1." in languages
    question = press(client, call_url, "1")
    assert "How safe do you feel walking in your area after dark?" in question and "Press 1 for Safe." in question
    again = press(client, call_url, "9")
    assert again.count("How safe do you feel walking") == 2
    press(client, call_url, "1")
    end = press(client, call_url, "2")
    assert "Thank you. We will tell you what we did with your answers." in end and "The call has ended." in end
    with db.session() as s:
        assert {a.step_id: (a.value, a.channel) for a in s.scalars(select(Answer))} == {
            "feel_safe": ("safe", "voice"), "age": ("18_64", "voice")}
        assert all(row.provider_id.startswith("CAsandbox") for row in s.scalars(select(InboundMessage)))


def test_the_call_simulator_does_not_exist_with_real_credentials(app_config, db, clock):
    from app import create_app

    app = create_app({**app_config, **LAPTOP, "twilio_account_sid": "AC" + "1" * 32, "twilio_auth_token": "f" * 32,
                      "twilio_from": "+447700900000", "secret_key": "k" * 48})
    try:
        client = signed_in(app, db, clock)
        assert client.get("/sandbox/call/").status_code == 404
        assert client.post("/sandbox/call/start", data={}).status_code in (400, 404)
    finally:
        app.extensions["outreach"].stop_loops()
