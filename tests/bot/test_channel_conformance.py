"""Every channel adapter, run through the same cases against its provider's fake (bot.channel.Channel)."""
from __future__ import annotations

import contextlib

import pytest

from bot.channel import SendResult
from tests.support.timeouts import SEND_TIMEOUT
from tests.support.twilio_fake import running_fake_twilio, sms_channel

TEXT = {"type": "text", "text": "Hello from Harlow Council.", "lang": "en"}
QUESTION = {"type": "question", "text": "Tea or coffee?", "question": "Tea or coffee?", "kind": "choice",
            "choices": [{"number": 1, "value": "tea", "label": "Tea"}, {"number": 2, "value": "coffee",
                                                                        "label": "Coffee"}],
            "optional": False, "hints": {}, "lang": "en", "run_id": 1, "step_id": "drink"}


class SmsHarness:
    address = "+447700900123"

    def __init__(self, server):
        self.server = server
        self.channel = sms_channel(server)

    # What a refused address reports: (error code, address unusable, opted out).
    refusal = ("30006", True, False)

    def delivered(self) -> int:
        return len(self.server.fake.messages_to(self.address))

    def last_provider_id(self) -> str:
        return self.server.fake.messages_to(self.address)[-1].sid

    def fail_server(self):
        self.server.fake.fail(status=500)

    def refuse_address(self):
        self.server.fake.reject_number(self.address, 30006)

    def drop_after_sending(self):
        self.server.fake.fail("reset")


class VoiceHarness(SmsHarness):
    """Calls through the fake Calls API: a call placed is a message sent (its words are served by the webhook)."""

    address = "+441279000111"

    def __init__(self, server):
        from bot.sandbox.twilio_server import SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN
        from bot.twilio_voice import TwilioVoice

        self.server = server
        self.channel = TwilioVoice(SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN, from_number="+447700900000",
                                   public_url="http://testserver", api_url=server.url, timeout=SEND_TIMEOUT)

    refusal = ("21211", True, False)

    def delivered(self) -> int:
        return len(self.server.fake.calls_to(self.address))

    def last_provider_id(self) -> str:
        return self.server.fake.calls_to(self.address)[-1].sid

    def refuse_address(self):
        self.server.fake.reject_number(self.address, 21211)


class TelegramHarness:
    address = "424242"

    def __init__(self, server):
        from bot.telegram import TelegramChannel

        self.server = server
        self.channel = TelegramChannel(server.fake.token, server.url, connect_timeout=SEND_TIMEOUT,
                                       read_timeout=SEND_TIMEOUT)

    refusal = ("403", True, False)

    def delivered(self) -> int:
        return len(self.server.fake.calls_for(self.address, "sendMessage"))

    def last_provider_id(self) -> str:
        return str(self.server.fake.sent_messages(self.address)[-1]["message_id"])

    def fail_server(self):
        self.server.fake.fail("sendMessage", 500, "Internal Server Error")

    def refuse_address(self):
        self.server.fake.block(self.address)

    def drop_after_sending(self):
        self.server.fake.fail("sendMessage", mode="drop")


@contextlib.contextmanager
def sms():
    with running_fake_twilio() as server:
        yield SmsHarness(server)


@contextlib.contextmanager
def telegram():
    from tests.support.telegram_fake import running_fake_telegram

    with running_fake_telegram() as server:
        harness = TelegramHarness(server)
        try:
            yield harness
        finally:
            harness.channel.close()


@contextlib.contextmanager
def voice():
    with running_fake_twilio() as server:
        yield VoiceHarness(server)


@pytest.fixture(params=[sms, telegram, voice], ids=["sms", "telegram", "voice"])
def harness(request):
    with request.param() as h:
        yield h


@pytest.mark.parametrize("payload", [TEXT, QUESTION], ids=["text", "question"])
def test_a_message_is_sent_and_named(harness, payload):
    result = harness.channel.send(harness.address, payload, "en")
    assert isinstance(result, SendResult)
    assert (result.status, result.provider_id) == ("sent", harness.last_provider_id())
    assert harness.delivered() == 1


def test_a_server_error_may_be_retried(harness):
    harness.fail_server()
    assert harness.channel.send(harness.address, TEXT, "en").status == "retry"


def test_a_refused_address_fails_for_good_and_is_marked(harness):
    harness.refuse_address()
    result = harness.channel.send(harness.address, TEXT, "en")
    assert (result.status, (result.error_code, result.address_unusable, result.opted_out)) == (
        "failed", harness.refusal)


def test_a_connection_dropped_after_sending_is_unknown(harness):
    harness.drop_after_sending()
    assert harness.channel.send(harness.address, TEXT, "en").status == "unknown"


def test_the_channel_has_a_name(harness):
    assert harness.channel.name in {"sms", "telegram", "voice"}
