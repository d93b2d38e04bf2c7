"""Embedded sandbox: with no token, Telegram runs against the local fake and its updates are polled in."""
from __future__ import annotations

import time

from sqlalchemy import select

from store.models import InboundMessage, Run
from tests.support.telegram_fake import text_update


def test_the_sandbox_polls_the_fake_and_answers_through_it(app_config, db):
    from app import create_app

    app = create_app({**app_config, "testing": False, "sandbox": True, "telegram_token": "",
                      "listen_host": "127.0.0.1", "public_url": "http://127.0.0.1:5000"})
    services = app.extensions["outreach"]
    server = services.extras["telegram_sandbox"]
    try:
        server.fake.queue_update(text_update(1, 5550006666, "SAFE"))
        services.start_loops(["telegram-sandbox-poll", "sender"])
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not server.fake.sent_messages("5550006666"):
            time.sleep(0.05)
    finally:
        services.stop_loops()
        services.extras["telegram"].close()
        server.stop()
        if "twilio_sandbox" in services.extras:
            services.extras["twilio_sandbox"].stop()
    with db.session() as s:
        assert s.scalar(select(InboundMessage.status)) == "processed"
        assert s.scalar(select(Run.flow_id)) == "street-safety"
    assert server.fake.sent_messages("5550006666")[0]["text"].startswith("How safe do you feel")
