"""The app with its SMS channel pointed at a fake Twilio on a local port."""
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
    """The sender the worker would run, without rate limits, drained by hand."""
    return OutboxSender.from_services(services, services.extras["channels"], limiter=RateLimiter({}),
                                      rng=random.Random(3))
