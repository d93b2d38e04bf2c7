"""The app with SMS pointed at a fake Twilio; a sender without rate limits, drained by hand."""
from __future__ import annotations

import random

import pytest

from bot.ratelimit import RateLimiter
from bot.sender import OutboxSender
from tests.support.twilio_fake import running_fake_twilio, twilio_settings


@pytest.fixture
def fake_twilio():
    with running_fake_twilio() as server:
        yield server


@pytest.fixture
def app_config(app_config, fake_twilio):
    return {**app_config, **twilio_settings(fake_twilio)}


@pytest.fixture
def sender(services):
    return OutboxSender.from_services(services, services.extras["channels"], limiter=RateLimiter({}),
                                      rng=random.Random(7))
