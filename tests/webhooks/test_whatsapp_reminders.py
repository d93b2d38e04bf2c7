"""Reminders and "you said, we did" updates to WhatsApp residents outside the 24-hour window: the flow's
approved template, else skipped and counted; through the webhooks, the sender and the fake Twilio."""
from __future__ import annotations

import time

import pytest

from engage.reminders import send_reminders
from engage.updates import create_update, send_update
from tests.support import twilio_fake
from tests.support.whatsapp import app_config_with_whatsapp, received, whatsapp_in  # noqa: F401  (fixture)

fake_twilio = twilio_fake.fake_twilio
sender = twilio_fake.sender

PHONE = "+447700900801"
SID = "HX" + "5e" * 16
FLOW = """id: parks
title: Parks
languages: [en]
keywords: [PARKS]
expires_after: 72h
reminder: {{after: 30h, en: Our parks survey is still open.}}
{templates}
steps:
  - id: visits
    ask: {{en: How often do you visit a park?}}
    choices:
      - {{value: weekly, en: Every week}}
      - {{value: rarely, en: Rarely}}
  - id: better
    ask: {{en: What would make parks better?}}
    text: {{max_length: 200}}
  - id: thanks
    say: {{en: Thank you.}}
"""


@pytest.fixture(params=["with a template", "without one"])
def templated(request):
    return request.param == "with a template"


@pytest.fixture
def app_config(app_config, tmp_path, templated):
    folder = tmp_path / "flows"
    folder.mkdir()
    (folder / "parks.yaml").write_text(FLOW.format(templates=f"whatsapp_templates: {{en: {SID}}}" if templated
                                                   else ""), encoding="utf-8")
    return {**app_config, "flows_dir": str(folder)}


def test_a_reminder_outside_the_window_goes_as_the_flows_template_or_not_at_all(client, services, clock, fake_twilio,
                                                                                sender, templated):
    if templated:
        fake_twilio.fake.contents[SID] = {"sid": SID, "types": {"twilio/text": {
            "body": "Harlow Council: {{1}} Reply to this message to answer."}}, "variables": {}, "approved": True}
    whatsapp_in(client, fake_twilio, PHONE, "PARKS")
    sender.drain()
    assert received(fake_twilio, PHONE)[-1].body == "How often do you visit a park?"
    # 31 hours pass for the service and for Twilio alike.
    clock.advance(hours=31)
    fake_twilio.fake.whatsapp_inbound(PHONE, at=time.time() - 31 * 3600)
    counts = send_reminders(services)
    sender.drain()
    messages = received(fake_twilio, PHONE)
    if templated:
        assert counts == {"queued": 1}
        assert messages[-1].content_sid == SID
        assert messages[-1].body.startswith("Harlow Council: Our parks survey is still open. Reply STOP")
        assert "How often do you visit a park? 1. Every week 2. Rarely Reply 1 or 2" in messages[-1].body
    else:
        assert counts == {"queued": 0, "whatsapp_no_template": 1}
        assert len(messages) == 1 and messages[0].buttons


def test_an_update_outside_the_window_goes_as_the_flows_template_or_is_counted_as_skipped(
        client, services, clock, fake_twilio, sender, templated):
    if templated:
        fake_twilio.fake.contents[SID] = {"sid": SID, "types": {"twilio/text": {"body": "Harlow Council: {{1}}"}},
                                          "variables": {}, "approved": True}
    for text in ("PARKS", "1", "More benches"):
        whatsapp_in(client, fake_twilio, PHONE, text)
        sender.drain()
    assert received(fake_twilio, PHONE)[-1].body == "Thank you."
    # Three days pass for the service and for Twilio alike.
    clock.advance(days=3)
    fake_twilio.fake.whatsapp_inbound(PHONE, at=time.time() - 3 * 86400)
    with services.db.session() as s:
        update = create_update(s, services.registry.get("parks"), {"en": {
            "said": "You asked for more benches.", "did": "We are adding twenty.", "why": "Most of you asked."}},
            clock.now())
        update_id = update.id
    result = send_update(services, update_id)
    sender.drain()
    last = received(fake_twilio, PHONE)[-1]
    if templated:
        assert result["queued"] == 1
        assert last.content_sid == SID and "You asked for more benches." in last.body
    else:
        assert (result["queued"], result["skipped"]) == (0, {"whatsapp_no_template": 1})
        assert last.body.startswith("Thank you.")
