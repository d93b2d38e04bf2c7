"""The app with its Telegram channel pointed at a fake Bot API on a local port."""
from __future__ import annotations

import pytest

from tests.support.telegram_fake import running_fake_telegram, telegram_settings


@pytest.fixture
def fake_telegram():
    with running_fake_telegram() as server:
        yield server


@pytest.fixture
def app_config(request, app_config, fake_telegram):
    # A test may add settings with @pytest.mark.parametrize("app_config", [{...}], indirect=True).
    return {**app_config, **telegram_settings(fake_telegram), **getattr(request, "param", {})}


@pytest.fixture(autouse=True)
def _close_telegram_channel(app):
    yield
    channel = app.extensions["outreach"].extras.get("telegram")
    if channel is not None:
        channel.close()
