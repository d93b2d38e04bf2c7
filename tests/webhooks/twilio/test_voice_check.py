"""`python app.py check` with OUTREACH_TWILIO_VOICE_FROM: the number's incoming calls must reach the voice webhook."""
from __future__ import annotations

import pytest

from bot.sandbox.twilio_server import FakeTwilio, TwilioServer
from commands.check import check_twilio
from config import Settings

PUBLIC_URL = "https://outreach.harlow.gov.uk"
ACCOUNT_SID = "AC" + "c0" * 16
AUTH_TOKEN = "0123456789abcdef" * 2
SMS_FROM = "+447700900777"
VOICE = "+441279446000"


@pytest.fixture
def twilio():
    fake = FakeTwilio(ACCOUNT_SID, AUTH_TOKEN)
    fake.add_number(SMS_FROM, sms_url=PUBLIC_URL + "/webhooks/twilio/sms")
    with TwilioServer(fake) as server:
        yield server


def voice_lines(server, **changes):
    settings = Settings.from_env({"public_url": PUBLIC_URL, "twilio_account_sid": ACCOUNT_SID,
                                  "twilio_auth_token": AUTH_TOKEN, "twilio_from": SMS_FROM,
                                  "twilio_api_url": server.url, **changes}, environ={})
    return [(line.status, line.detail) for line in check_twilio(settings) if line.name == "Twilio voice number"]


def test_without_a_voice_number_nothing_is_checked(twilio):
    assert voice_lines(twilio) == []


def test_the_voice_numbers_webhook_is_checked(twilio):
    assert voice_lines(twilio, twilio_voice_from=VOICE) == [
        ("FAIL", f"{VOICE} (OUTREACH_TWILIO_VOICE_FROM) is not a number of this account")]
    twilio.fake.add_number(VOICE, voice_url="https://elsewhere.example/voice")
    [(status, detail)] = voice_lines(twilio, twilio_voice_from=VOICE)
    assert status == "FAIL" and "https://elsewhere.example/voice" in detail
    twilio.fake.phone_numbers.clear()
    twilio.fake.add_number(VOICE, voice_url=PUBLIC_URL + "/webhooks/twilio/voice")
    assert voice_lines(twilio, twilio_voice_from=VOICE) == [
        ("OK", f"{VOICE} sends incoming calls to {PUBLIC_URL}/webhooks/twilio/voice")]
