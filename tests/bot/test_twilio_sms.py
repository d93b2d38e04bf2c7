"""The real Twilio client against the fake server: each provider answer becomes the right SendResult."""
from __future__ import annotations

import socket

import pytest

from bot.twilio_sms import TwilioSMS, classify_error
from tests.support.timeouts import SHORT_TIMEOUT, TOO_LATE
from tests.support.twilio_fake import TEST_FROM, sms_channel

TO = "+447700900123"
TEXT = {"type": "text", "text": "Hello", "lang": "en"}


def test_a_sent_message_reaches_the_fake_with_its_callback_and_segments(fake_twilio):
    result = sms_channel(fake_twilio).send(TO, TEXT, "en", outbox_id=42)
    assert (result.status, result.segments) == ("sent", 1)
    [message] = fake_twilio.fake.messages_to(TO)
    assert result.provider_id == message.sid and message.sid.startswith("SM")
    assert (message.body, message.from_) == ("Hello", TEST_FROM)
    assert message.status_callback == "http://testserver/webhooks/twilio/status?o=42"


def test_a_question_is_sent_as_numbered_options(fake_twilio):
    payload = {"type": "question", "text": "Tea or coffee?", "kind": "choice", "lang": "en", "choices": [
        {"number": 1, "value": "tea", "label": "Tea"}, {"number": 2, "value": "coffee", "label": "Coffee"}]}
    sms_channel(fake_twilio).send(TO, payload, "en")
    assert fake_twilio.fake.messages_to(TO)[0].body == "Tea or coffee?\n\n1. Tea\n2. Coffee\n\nReply 1 or 2"


def test_a_messaging_service_is_used_instead_of_a_number_when_set(fake_twilio):
    channel = TwilioSMS(fake_twilio.fake.account_sid, fake_twilio.fake.auth_token,
                        messaging_service_sid="MG" + "0" * 32, api_url=fake_twilio.url)
    assert channel.send(TO, TEXT, "en").status == "sent"
    message = fake_twilio.fake.messages_to(TO)[0]
    assert (message.messaging_service_sid, message.from_, message.status_callback) == ("MG" + "0" * 32, None, None)


@pytest.mark.parametrize("status,code,retry_after", [(429, 20429, 7), (500, 20500, None), (503, 20503, None)])
def test_rate_limits_and_server_errors_are_retried(fake_twilio, status, code, retry_after):
    fake_twilio.fake.fail(status=status, code=code, retry_after=retry_after)
    result = sms_channel(fake_twilio).send(TO, TEXT, "en")
    assert (result.status, result.error_code, result.retry_after) == ("retry", str(code), retry_after)
    assert fake_twilio.fake.messages == []


@pytest.mark.parametrize("code,opted_out,unusable", [
    (21610, True, False), (21211, False, True), (21614, False, True),
    (30004, False, True), (30005, False, True), (30006, False, True),
])
def test_permanent_errors_fail_and_say_what_they_mean_for_the_address(fake_twilio, code, opted_out, unusable):
    fake_twilio.fake.reject_number(TO, code)
    result = sms_channel(fake_twilio).send(TO, TEXT, "en")
    assert (result.status, result.error_code) == ("failed", str(code))
    assert (result.opted_out, result.address_unusable) == (opted_out, unusable)


def test_an_invalid_number_is_refused_by_the_provider(fake_twilio):
    result = sms_channel(fake_twilio).send("07700 900123", TEXT, "en")
    assert (result.status, result.error_code, result.address_unusable) == ("failed", "21211", True)


def test_other_client_errors_fail_without_marking_the_address(fake_twilio):
    fake_twilio.fake.fail(status=400, code=21602)
    result = sms_channel(fake_twilio).send(TO, TEXT, "en")
    assert (result.status, result.error_code, result.address_unusable, result.opted_out) == (
        "failed", "21602", False, False)


def test_a_reply_slower_than_the_timeout_is_unknown_not_retried(fake_twilio):
    fake_twilio.fake.fail("slow", delay=TOO_LATE)
    result = sms_channel(fake_twilio, timeout=SHORT_TIMEOUT).send(TO, TEXT, "en")
    assert (result.status, result.error_code) == ("unknown", "timeout")
    # It did reach the provider: retrying would send it twice.
    assert len(fake_twilio.fake.messages_to(TO)) == 1


def test_a_connection_dropped_after_sending_is_unknown(fake_twilio):
    fake_twilio.fake.fail("reset")
    result = sms_channel(fake_twilio).send(TO, TEXT, "en")
    assert (result.status, result.error_code) == ("unknown", "connection_lost")


def test_a_refused_connection_is_retried():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    channel = TwilioSMS("AC" + "1" * 32, "token", from_number=TEST_FROM, api_url=f"http://127.0.0.1:{port}",
                        timeout=0.5)
    result = channel.send(TO, TEXT, "en")
    assert (result.status, result.error_code) == ("retry", "connection")


def test_wrong_credentials_fail(fake_twilio):
    channel = TwilioSMS(fake_twilio.fake.account_sid, "wrong", from_number=TEST_FROM, api_url=fake_twilio.url)
    result = channel.send(TO, TEXT, "en")
    assert (result.status, result.error_code) == ("failed", "20003")


def test_a_sending_number_is_required():
    with pytest.raises(ValueError, match="sending number"):
        TwilioSMS("AC" + "1" * 32, "token")


def test_error_codes_classify_for_callbacks_too():
    assert [classify_error(c) for c in ("21610", 30006, "30005", "30001", None, "", "x")] == [
        "opted_out", "unusable", "unusable", None, None, None, None]
