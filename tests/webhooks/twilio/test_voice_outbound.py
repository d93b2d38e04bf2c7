"""Outbound calls: broadcasts to residents reached by phone, through the sender, the real Twilio SDK and the fake
Calls API, answered through the real signed voice webhook."""
from __future__ import annotations

import itertools
from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from engage.broadcasts import create_broadcast, fire_broadcast
from engage.segments import create_segment
from store.models import CONSENT_OPTED_IN, Address, Answer, ConsentRecord, Contact, OutboxMessage, Run
from tests.support.twilio_fake import PUBLIC_URL
from tests.support.voice_phone import Phone

LANDLINE = "+441279000111"
TZ = "Europe/London"
_segments = itertools.count(1)


def resident(services, number=LANDLINE, language=None):
    """A contact reached by phone (a landline), with consent and a basis for service broadcasts."""
    now = services.clock.now()
    with services.db.session() as s:
        contact = Contact(language=language, fields={}, created_at=now, updated_at=now)
        s.add(contact)
        s.flush()
        s.add(Address(contact_id=contact.id, channel="voice", address=number, consent=CONSENT_OPTED_IN,
                      preferred=True, created_at=now))
        s.add(ConsentRecord(contact_id=contact.id, scope="service", action="opt_in", source="import",
                            wording="paper form", at=now))
        return contact.id


def broadcast(services, **kwargs):
    with services.db.session() as s:
        segment = create_segment(s, f"everyone {next(_segments)}", {"all": []}, services.clock.now())
        b = create_broadcast(s, name="calls", segment=segment, now=services.clock.now(), tz=TZ, **kwargs)
        broadcast_id = b.id
    return fire_broadcast(services, broadcast_id)


def answer(client, call, answered_by="human"):
    phone = Phone(client, call.to, to=call.from_, direction="outbound-api", answered_by=answered_by,
                  first_url=call.url.removeprefix(PUBLIC_URL))
    phone.sid = call.sid
    return phone


def test_a_flow_broadcast_calls_a_landline_and_the_resident_answers_by_keypad(client, db, services, fake_twilio,
                                                                               sender):
    resident(services, language="en")
    flow = services.registry.get("street-safety")
    result = broadcast(services, flow=flow)
    assert result.newly_queued == 1
    sender.drain()
    [call] = fake_twilio.fake.calls_to(LANDLINE)
    assert call.machine_detection == "DetectMessageEnd"
    assert call.url.startswith(PUBLIC_URL + "/webhooks/twilio/voice?")
    phone = answer(client, call)
    first = phone.dial()
    assert "How safe do you feel walking in your area after dark?" in first.text
    assert "Reply STOP" not in first.text and "To stop these calls, press 8." in first.text
    phone.press("2")  # Unsafe: the next question wants words
    where = phone.last
    assert "Which street or place feels least safe?" in where.text
    assert where.gather["input"] == "dtmf speech" and where.gather["language"] == "en-GB"
    age = phone.say("Station Road by the underpass")
    assert "How old are you?" in age.text
    end = phone.press("1")
    assert end.hangup
    with db.session() as s:
        got = {a.step_id: (a.value, a.channel) for a in s.scalars(select(Answer))}
        run = s.scalar(select(Run))
        assert run.status == "completed" and run.channel == "voice" and run.started_by == "broadcast"
    assert got == {"feel_safe": ("unsafe", "voice"), "where": ("Station Road by the underpass", "voice"),
                   "age": ("under_18", "voice")}
    # Nothing else was dialled: the answers' replies were spoken in the call.
    sender.drain()
    assert len(fake_twilio.fake.calls) == 1


def test_an_answering_machine_gets_the_number_to_call_back_and_never_the_survey(client, db, services,
                                                                                 fake_twilio, sender):
    resident(services, language="en")
    broadcast(services, flow=services.registry.get("street-safety"))
    sender.drain()
    [call] = fake_twilio.fake.calls_to(LANDLINE)
    heard = answer(client, call, answered_by="machine_end_beep").dial()
    assert "This is Harlow Council with a short survey. Please call us back on 0 7 7 0 0 9 0 0 0 0 0." in heard.text
    assert "How safe" not in heard.text
    assert heard.gather is None and heard.hangup
    with db.session() as s:
        assert s.scalars(select(Answer)).all() == []


@pytest.mark.parametrize("local", [
    datetime(2026, 12, 2, 9, 30),   # Wednesday, before 10:00
    datetime(2026, 12, 2, 19, 0),   # Wednesday, 19:00: closed
    datetime(2026, 12, 6, 12, 0),   # Sunday noon: never
])
def test_no_call_is_placed_outside_calling_hours(client, db, services, fake_twilio, sender, clock, local):
    from zoneinfo import ZoneInfo

    clock.set(local.replace(tzinfo=ZoneInfo(TZ)).astimezone(timezone.utc))
    resident(services, language="en")
    broadcast(services, texts={"en": "The park consultation closes on Friday."})
    sender.drain()
    assert fake_twilio.fake.calls == []
    with db.session() as s:
        row = s.scalar(select(OutboxMessage))
        assert row.status == "queued"
        opens = row.not_before.replace(tzinfo=timezone.utc).astimezone(ZoneInfo(TZ))
    assert (opens.hour, opens.minute) == (10, 0) and opens.weekday() != 6
    # Once the hours open, the call is placed.
    clock.set(opens.astimezone(timezone.utc))
    sender.drain()
    assert len(fake_twilio.fake.calls) == 1


def test_a_spoken_broadcast_offers_8_to_stop_and_after_it_nothing_is_called(client, db, services, fake_twilio,
                                                                             sender):
    resident(services, language="en")
    broadcast(services, texts={"en": "The park consultation closes on Friday."})
    sender.drain()
    [call] = fake_twilio.fake.calls_to(LANDLINE)
    phone = answer(client, call)
    heard = phone.dial()
    assert "The park consultation closes on Friday." in heard.text
    assert "To stop these calls, press 8." in heard.text and "Reply STOP" not in heard.text
    stopped = phone.press("8")
    assert "You will get no more calls or messages from Harlow Council." in stopped.text
    with db.session() as s:
        assert s.scalar(select(Address)).consent == "opted_out"
    broadcast(services, texts={"en": "Another message."})
    sender.drain()
    assert len(fake_twilio.fake.calls) == 1


def test_the_fake_calls_api_answers_errors_as_twilio_does(fake_twilio):
    from bot.sandbox.twilio_server import SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN
    from bot.twilio_voice import TwilioVoice

    channel = TwilioVoice(SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN, from_number="+447700900000",
                          public_url=PUBLIC_URL, api_url=fake_twilio.url)
    assert channel.send("not-a-number", {"type": "text", "text": "x"}, "en", outbox_id=1).error_code == "21211"
    fake_twilio.fake.fail(status=429)
    assert channel.send(LANDLINE, {"type": "text", "text": "x"}, "en", outbox_id=1).status == "retry"
    fake_twilio.fake.fail(status=500)
    assert channel.send(LANDLINE, {"type": "text", "text": "x"}, "en", outbox_id=1).status == "retry"
    sent = channel.send(LANDLINE, {"type": "text", "text": "x"}, "en", outbox_id=1)
    assert sent.status == "sent" and sent.provider_id.startswith("CA")


def test_the_fatigue_cap_applies_to_calls(client, db, services, fake_twilio, sender):
    resident(services, language="en")
    for n in range(services.settings.fatigue_cap):
        broadcast(services, texts={"en": f"Message {n}."})
    result = broadcast(services, texts={"en": "One too many."})
    assert result.skipped["fatigue"] == 1
    sender.drain()
    assert len(fake_twilio.fake.calls) == services.settings.fatigue_cap


@pytest.mark.parametrize("call_status, state", [("completed", "delivered"), ("no-answer", "undelivered"),
                                                 ("busy", "undelivered"), ("failed", "failed")])
def test_the_calls_status_callback_moves_its_message_forward(client, db, services, fake_twilio, sender,
                                                             call_status, state):
    resident(services, language="en")
    broadcast(services, texts={"en": "The park consultation closes on Friday."})
    sender.drain()
    [call] = fake_twilio.fake.calls_to(LANDLINE)
    path = call.status_callback.removeprefix(PUBLIC_URL)
    phone = answer(client, call)
    phone.post(path, phone.form(CallStatus=call_status))
    with db.session() as s:
        assert s.scalar(select(OutboxMessage)).status == state
    # A late "completed" after a final state moves nothing back.
    phone.post(path, phone.form(CallStatus="busy"))
    with db.session() as s:
        assert s.scalar(select(OutboxMessage)).status == state


def test_a_reply_left_over_from_an_ended_call_is_never_dialled_and_expires(client, db, services, fake_twilio,
                                                                           sender, clock):

    from engage.outbox import enqueue

    resident(services, language="en")
    with db.session() as s:
        address = s.scalar(select(Address))
        contact = s.get(Contact, address.contact_id)
        row, _reason = enqueue(s, contact=contact, address=address, kind="reply", now=clock.now(),
                               payload={"type": "text", "text": "Thank you.", "lang": "en"})
        row_id = row.id
    sender.drain()
    assert fake_twilio.fake.calls == []
    with db.session() as s:
        assert s.get(OutboxMessage, row_id).status == "queued"
    clock.advance(hours=2)
    sender.drain()
    assert fake_twilio.fake.calls == []
    with db.session() as s:
        row = s.get(OutboxMessage, row_id)
        assert (row.status, row.error_code) == ("failed", "expired")


def test_a_broadcast_to_a_mixed_audience_texts_the_mobile_and_calls_the_landline(client, db, services, fake_twilio,
                                                                               sender):
    mobile = "+447400123456"
    resident(services, language="en")
    now = services.clock.now()
    with services.db.session() as s:
        contact = Contact(language="en", fields={}, created_at=now, updated_at=now)
        s.add(contact)
        s.flush()
        s.add(Address(contact_id=contact.id, channel="sms", address=mobile, consent=CONSENT_OPTED_IN,
                      preferred=True, created_at=now))
        s.add(ConsentRecord(contact_id=contact.id, scope="service", action="opt_in", source="import",
                            wording="paper form", at=now))
    result = broadcast(services, texts={"en": "The park consultation closes on Friday."})
    assert result.newly_queued == 2
    sender.drain()
    [text] = fake_twilio.fake.messages_to(mobile)
    assert text.body.startswith("The park consultation closes on Friday.")
    assert [c.to for c in fake_twilio.fake.calls] == [LANDLINE]
    assert fake_twilio.fake.messages_to(LANDLINE) == []
