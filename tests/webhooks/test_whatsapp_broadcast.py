"""A broadcast to a mixed audience: SMS, WhatsApp inside the window, WhatsApp outside it with and without an
approved template, through the real webhooks, the sender and the fake Twilio."""
from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from engage.broadcasts import BroadcastError, create_broadcast, fire_broadcast
from engage.consent import record_basis
from engage.segments import create_segment
from store.models import Address, Contact, OutboxMessage, Run
from store.models.outreach import BroadcastOccurrence
from tests.support import twilio_fake
from tests.support.twilio_fake import load_fixture, post_signed
from tests.support.whatsapp import SMS_WEBHOOK, app_config_with_whatsapp, received, whatsapp_in  # noqa: F401

# The fake Twilio and the sender, as fixtures of this module.
fake_twilio = twilio_fake.fake_twilio
sender = twilio_fake.sender

SMS_PHONE = "+447700900501"
IN_WINDOW = "+447700900502"
OUT_OF_WINDOW = "+447700900503"
TEMPLATE = "Harlow Council has news for you: {{1}} Reply to this message to answer."


def audience(client, services, clock, fake_twilio):
    """Three residents who wrote in: one by SMS and one on WhatsApp just now, one on WhatsApp two days ago."""
    whatsapp_in(client, fake_twilio, OUT_OF_WINDOW, "HELP", at=time.time() - 2 * 86400)
    clock.advance(days=2)
    form = {**load_fixture("sms_keyword.json"), "Body": "HELP", "From": SMS_PHONE}
    form.update(MessageSid="SM" + "7" * 32, SmsMessageSid="SM" + "7" * 32, SmsSid="SM" + "7" * 32)
    assert post_signed(client, SMS_WEBHOOK, form).status_code == 200
    whatsapp_in(client, fake_twilio, IN_WINDOW, "HELP")
    with services.db.session() as s:
        # Each has a basis for service broadcasts (as a contact import with a consent source gives).
        for contact in s.scalars(select(Contact)):
            record_basis(s, contact, "service", clock.now(), source="import")


def broadcast(services, **kwargs):
    with services.db.session() as s:
        segment = create_segment(s, f"everyone {kwargs.get('name', '')}", {"all": []}, services.clock.now())
        made = create_broadcast(s, name=kwargs.pop("name", "news"), segment=segment, now=services.clock.now(),
                                tz="Europe/London", **kwargs)
        return made.id


def skipped(services, broadcast_id):
    with services.db.session() as s:
        return s.scalar(select(BroadcastOccurrence.skipped).where(BroadcastOccurrence.broadcast_id == broadcast_id))


def test_outside_the_window_only_an_approved_template_goes_and_without_one_the_resident_is_skipped_and_counted(
        client, db, services, clock, fake_twilio, sender):
    audience(client, services, clock, fake_twilio)
    sender.drain()
    before = {n: len(received(fake_twilio, n)) for n in (IN_WINDOW, OUT_OF_WINDOW)}

    plain = broadcast(services, texts={"en": "The park consultation closes on Friday."})
    fire_broadcast(services, plain)
    sender.drain()
    assert skipped(services, plain) == {"whatsapp_no_template": 1}
    [sms] = fake_twilio.fake.messages_to(SMS_PHONE)[-1:]
    assert sms.body.startswith("The park consultation closes on Friday.")
    free_form = received(fake_twilio, IN_WINDOW)[-1]
    assert free_form.content_sid is None and free_form.body.startswith("The park consultation closes on Friday.")
    assert len(received(fake_twilio, OUT_OF_WINDOW)) == before[OUT_OF_WINDOW]
    with db.session() as s:
        assert not s.scalars(select(OutboxMessage).where(OutboxMessage.broadcast_id == plain,
                                                         OutboxMessage.channel == "whatsapp",
                                                         OutboxMessage.status == "queued")).all()

    sid = fake_twilio.fake.add_template(TEMPLATE)
    templated = broadcast(services, name="with template", texts={"en": "The library opens late on Thursdays."},
                          whatsapp_templates={"en": sid})
    fire_broadcast(services, templated)
    sender.drain()
    assert skipped(services, templated) == {}
    template = received(fake_twilio, OUT_OF_WINDOW)[-1]
    assert template.content_sid == sid
    assert template.body.startswith("Harlow Council has news for you: The library opens late on Thursdays. Reply STOP")
    assert "\n" not in template.content_variables["1"]
    # Inside the window the same broadcast goes free-form, as written.
    assert received(fake_twilio, IN_WINDOW)[-1].body.startswith("The library opens late on Thursdays.\n\n")
    with db.session() as s:
        statuses = {r.channel + ":" + str(r.address_id): r.status for r in s.scalars(
            select(OutboxMessage).where(OutboxMessage.broadcast_id == templated))}
        assert set(statuses.values()) == {"sent"} and len(statuses) == 3


def test_a_flow_broadcast_reaches_a_resident_outside_the_window_by_template_and_the_answer_opens_the_window(
        client, db, services, clock, fake_twilio, sender):
    audience(client, services, clock, fake_twilio)
    sender.drain()
    sid = fake_twilio.fake.add_template(TEMPLATE)
    started = broadcast(services, name="safety", flow=services.registry.get("street-safety"),
                        whatsapp_templates={"en": sid})
    fire_broadcast(services, started)
    sender.drain()
    first = received(fake_twilio, OUT_OF_WINDOW)[-1]
    assert first.content_sid == sid
    assert "How safe do you feel walking in your area after dark? 1. Safe 2. Unsafe 3. Not sure Reply 1, 2 or 3" \
        in first.body
    # Inside the window the question comes with its buttons.
    assert [title for title, _ in received(fake_twilio, IN_WINDOW)[-1].buttons] == ["Safe", "Unsafe", "Not sure"]

    whatsapp_in(client, fake_twilio, OUT_OF_WINDOW, "1")
    sender.drain()
    age = received(fake_twilio, OUT_OF_WINDOW)[-1]
    assert age.content_sid != sid and [t for t, _ in age.buttons] == ["Under 18", "18 to 64", "65 or over"]
    with db.session() as s:
        address = s.scalar(select(Address).where(Address.channel == "whatsapp", Address.address == OUT_OF_WINDOW))
        run = s.scalar(select(Run).where(Run.contact_id == address.contact_id))
        assert (run.channel, run.current_step) == ("whatsapp", "age")


def test_a_broadcast_refuses_a_template_that_is_not_a_content_sid(services, db):
    with pytest.raises(BroadcastError, match="the WhatsApp template for en should be a Content SID"):
        broadcast(services, texts={"en": "News"}, whatsapp_templates={"en": "my-template"})


def test_the_api_and_the_command_line_take_a_broadcasts_whatsapp_templates(client, services, runner):
    from api.tokens import create_api_token
    from app import cli

    with services.db.session() as s:
        _row, token = create_api_token(s, "writer", "write", services.clock.now())
        segment_id = create_segment(s, "all", {"all": []}, services.clock.now()).id
    sid = "HX" + "12" * 16
    headers = {"Authorization": f"Bearer {token}"}
    made = client.post("/api/v1/broadcasts", headers=headers, json={
        "name": "Bins", "segment_id": segment_id, "texts": {"en": "Bins on Tuesday."}, "schedule": "once",
        "send_at": "2026-12-09T10:00:00Z", "whatsapp_templates": {"en": sid}})
    assert made.status_code == 201, made.get_json()
    assert made.get_json()["whatsapp_templates"] == {"en": sid}
    refused = client.post("/api/v1/broadcasts", headers=headers, json={
        "name": "Bins", "segment_id": segment_id, "texts": {"en": "Bins on Tuesday."},
        "whatsapp_templates": {"en": "bins"}})
    assert refused.status_code == 422 and "Content SID" in refused.get_json()["error"]["message"]

    result = runner.invoke(cli, ["broadcasts", "create", "Library", "--segment", str(segment_id), "--text",
                                 "en=The library opens late.", "--whatsapp", f"cy={sid}", "--at", "2026-12-09T10:00"])
    assert result.exit_code == 0, result.output
    with services.db.session() as s:
        from store.models.outreach import Broadcast

        assert s.scalar(select(Broadcast.whatsapp_templates).where(Broadcast.name == "Library")) == {"cy": sid}
