"""The app with its Telegram channel pointed at a fake Bot API on a local port."""
from __future__ import annotations

import pytest

from tests.support.telegram_fake import running_fake_telegram, telegram_settings


@pytest.fixture
def fake_telegram():
    with running_fake_telegram() as server:
        yield server


@pytest.fixture
def app_config(app_config, fake_telegram):
    return {**app_config, **telegram_settings(fake_telegram)}


@pytest.fixture(autouse=True)
def _close_telegram_channel(app):
    yield
    channel = app.extensions["outreach"].extras.get("telegram")
    if channel is not None:
        channel.close()
