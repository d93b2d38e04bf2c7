"""The fake Twilio server for tests: start one, point the app at it, sign webhooks like Twilio does."""
from __future__ import annotations

import contextlib
import json
import random
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from twilio.request_validator import RequestValidator

from bot.sandbox.twilio_server import (
    SANDBOX_ACCOUNT_SID,
    SANDBOX_AUTH_TOKEN,
    FakeTwilio,
    TwilioServer,
    error_body,
)
from bot.twilio_sms import TwilioSMS
from tests.support.timeouts import SEND_TIMEOUT, SHORT_TIMEOUT

TEST_FROM = "+447700900000"
PUBLIC_URL = "http://testserver"
FIXTURES = Path(__file__).resolve().parents[2] / "webhooks" / "twilio" / "fixtures"


class ControllableTwilio(FakeTwilio):
    """The fake Twilio, plus what fault tests need: hold one number's request until told, or be down."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._holds: dict[str, tuple[threading.Event, threading.Event]] = {}
        self.is_down = False

    def hold(self, to: str) -> tuple[threading.Event, threading.Event]:
        """Hold the next request to `to` before answering it; return (arrived, release) events."""
        arrived, release = threading.Event(), threading.Event()
        self._holds[to] = (arrived, release)
        return arrived, release

    def down(self) -> None:
        """Answer every request 503, as Twilio does in an outage, until `up()`."""
        self.is_down = True

    def up(self) -> None:
        self.is_down = False

    def create_message(self, account_sid, auth, form):
        held = self._holds.pop(form.get("To"), None)
        if held is not None:
            arrived, release = held
            arrived.set()
            release.wait(10)
        if self.is_down:
            with self._lock:
                self.requests.append(dict(form))
            return 503, error_body(20503, 503, "Service Unavailable"), 0.0, {}
        return super().create_message(account_sid, auth, form)


@contextlib.contextmanager
def running_fake_twilio() -> Iterator[TwilioServer]:
    """Run a fake Twilio on 127.0.0.1 for the length of the block."""
    server = TwilioServer(ControllableTwilio()).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def fake_twilio():
    """A fake Twilio for the length of one test (import into a conftest to use it)."""
    with running_fake_twilio() as server:
        yield server


@pytest.fixture(name="app_config")
def app_config_with_fake_twilio(app_config, fake_twilio):
    """The app's settings with its SMS channel pointed at the fake Twilio."""
    return {**app_config, **twilio_settings(fake_twilio)}


@pytest.fixture
def sender(services):
    """The sender a worker would run, without rate limits and with seeded jitter, drained by hand."""
    from bot.ratelimit import RateLimiter
    from bot.sender import OutboxSender

    return OutboxSender.from_services(services, services.extras["channels"], limiter=RateLimiter({}),
                                      rng=random.Random(7))


def twilio_settings(server: TwilioServer) -> dict[str, Any]:
    """Return app settings that point the real Twilio client at the fake."""
    return {
        "twilio_account_sid": SANDBOX_ACCOUNT_SID,
        "twilio_auth_token": SANDBOX_AUTH_TOKEN,
        "twilio_from": TEST_FROM,
        "twilio_api_url": server.url,
        # Short, so a fault test can make an answer come too late; still ample for a local answer.
        "twilio_timeout": SHORT_TIMEOUT,
    }


def sms_channel(server: TwilioServer, timeout: float = SEND_TIMEOUT, public_url: str = PUBLIC_URL) -> TwilioSMS:
    """Return the real SMS adapter pointed at the fake."""
    return TwilioSMS(SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN, from_number=TEST_FROM, public_url=public_url,
                     api_url=server.url, timeout=timeout)


def load_fixture(name: str) -> dict[str, str]:
    """Return a fixture's form fields (a real-shaped Twilio form post)."""
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def sign(path: str, form: dict[str, str], token: str = SANDBOX_AUTH_TOKEN, public_url: str = PUBLIC_URL) -> str:
    """Return the X-Twilio-Signature Twilio would send for this form posted to public_url + path."""
    return RequestValidator(token).compute_signature(public_url + path, form)


def post_signed(client, path: str, form: dict[str, str], token: str = SANDBOX_AUTH_TOKEN):
    """Post a form the way Twilio does, signed with `token`."""
    return client.post(path, data=form, headers={"X-Twilio-Signature": sign(path, form, token)})
