"""Answers given on WhatsApp are counted like any other: results by channel, the channel filter, the export."""
from __future__ import annotations

import csv
import io
import re

import pytest

from engage.officers import create_officer
from tests.support import twilio_fake
from tests.support.dashboard import cheap_password_hashing
from tests.support.twilio_fake import load_fixture, post_signed
from tests.support.whatsapp import SMS_WEBHOOK, app_config_with_whatsapp, press, received, whatsapp_in  # noqa: F401

fake_twilio = twilio_fake.fake_twilio
sender = twilio_fake.sender
_cheap_hashing = pytest.fixture(autouse=True)(cheap_password_hashing)
PASSWORD = "correct horse battery staple"


def token_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def sms_in(client, number, body, n):
    sid = f"SM{n:032x}"
    form = {**load_fixture("sms_keyword.json"), "Body": body, "From": number, "MessageSid": sid,
            "SmsMessageSid": sid, "SmsSid": sid}
    assert post_signed(client, SMS_WEBHOOK, form).status_code == 200


def test_results_break_answers_down_by_channel_with_whatsapp_and_export_it(client, services, clock, fake_twilio,
                                                                            sender):
    whatsapp_in(client, fake_twilio, "+447700900701", "SAFE")
    sender.drain()
    press(client, fake_twilio, "+447700900701", received(fake_twilio, "+447700900701")[-1], "Safe")
    sms_in(client, "+447700900702", "SAFE", 1)
    sms_in(client, "+447700900702", "2", 2)
    sender.drain()
    with services.db.session() as s:
        create_officer(s, "officer@harlow.gov.uk", PASSWORD, "officer", now=clock.now())
    assert client.post("/login", data={"email": "officer@harlow.gov.uk", "password": PASSWORD, "csrf_token": token_of(
        client.get("/login").get_data(as_text=True))}).status_code == 302

    page = client.get("/dashboard/results/street-safety?by=channel").get_data(as_text=True)
    assert re.findall(r'<select id="f-channel" name="channel">(.*?)</select>', page, re.S)
    options = re.findall(r'<option value="(\w+)"', re.search(r'<select id="f-channel".*?</select>', page, re.S)[0])
    assert options == ["sms", "whatsapp", "voice", "telegram", "web", "assisted"]
    breakdown = re.search(r'<table class="data compact breakdown">.*?</table>', page, re.S).group(0)
    assert re.findall(r'<th scope="row">([^<]+)</th>', breakdown) == ["SMS", "WhatsApp"]

    only = client.get("/dashboard/results/street-safety?channel=whatsapp").get_data(as_text=True)
    assert '<option value="whatsapp" selected>' in only

    export = client.get("/dashboard/results/street-safety/export.csv").get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(export.lstrip("\ufeff"))))
    assert sorted(r["channel"] for r in rows) == ["sms", "whatsapp"]
    assert {r["channel"]: r["feel_safe"] for r in rows} == {"sms": "unsafe", "whatsapp": "safe"}
