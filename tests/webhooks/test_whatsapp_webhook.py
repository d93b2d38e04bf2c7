"""The Messaging webhook with WhatsApp posts: signature, dedupe, one contact per number, STOP, status callbacks."""
from __future__ import annotations

from sqlalchemy import func, select

from engage.outbox import enqueue
from store.models import Address, ConsentRecord, Contact, InboundMessage, OutboxMessage
from tests.support import twilio_fake
from tests.support.twilio_fake import load_fixture, post_signed, sign
from tests.support.whatsapp import (  # noqa: F401  (fixture)
    SMS_WEBHOOK,
    app_config_with_whatsapp,
    press,
    received,
    whatsapp_form,
    whatsapp_in,
)

# The fake Twilio and the sender, as fixtures of this module.
fake_twilio = twilio_fake.fake_twilio
sender = twilio_fake.sender

PHONE = "+447700900456"


def sms_in(client, body, number=PHONE, sid="SM" + "5" * 32):
    form = {**load_fixture("sms_keyword.json"), "Body": body, "MessageSid": sid, "SmsMessageSid": sid,
            "SmsSid": sid, "From": number}
    assert post_signed(client, SMS_WEBHOOK, form).status_code == 200


def test_an_unsigned_or_wrongly_signed_whatsapp_post_is_refused_and_stores_nothing(client, db):
    form = whatsapp_form(PHONE, "SAFE")
    assert client.post(SMS_WEBHOOK, data=form).status_code == 403
    assert client.post(SMS_WEBHOOK, data=form, headers={"X-Twilio-Signature": sign(SMS_WEBHOOK, form, "0" * 32)}
                       ).status_code == 403
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(InboundMessage)) == 0


def test_a_repeated_whatsapp_post_is_stored_and_answered_once(client, db, fake_twilio, sender):
    form = whatsapp_form(PHONE, "SAFE")
    fake_twilio.fake.whatsapp_inbound(PHONE)
    assert post_signed(client, SMS_WEBHOOK, form).status_code == 200
    assert post_signed(client, SMS_WEBHOOK, form).status_code == 200
    sender.drain()
    assert len(received(fake_twilio, PHONE)) == 1
    with db.session() as s:
        [row] = s.scalars(select(InboundMessage)).all()
        assert (row.channel, row.address, row.text) == ("whatsapp", PHONE, "SAFE")


def test_the_sms_and_whatsapp_addresses_of_one_number_are_one_contact(client, db, fake_twilio, sender):
    sms_in(client, "HELP")
    whatsapp_in(client, fake_twilio, PHONE, "HELP")
    sms_in(client, "HELP", number="+447700900999", sid="SM" + "6" * 32)
    with db.session() as s:
        addresses = {(a.channel, a.address): a.contact_id for a in s.scalars(select(Address))}
        assert addresses[("sms", PHONE)] == addresses[("whatsapp", PHONE)]
        assert addresses[("sms", "+447700900999")] != addresses[("sms", PHONE)]
        assert s.scalar(select(func.count()).select_from(Contact)) == 2


def test_stop_on_whatsapp_opts_out_every_address_of_the_number_and_confirms_once(client, db, services, fake_twilio,
                                                                                 sender):
    sms_in(client, "HELP")
    whatsapp_in(client, fake_twilio, PHONE, "SAFE")
    sender.drain()
    whatsapp_in(client, fake_twilio, PHONE, "STOP")
    sender.drain()
    messages = received(fake_twilio, PHONE)
    assert len(messages) == 2
    assert "no more messages from Harlow Council" in messages[1].body
    with db.session() as s:
        assert {a.channel: a.consent for a in s.scalars(select(Address))} == {"sms": "opted_out",
                                                                               "whatsapp": "opted_out"}
        assert s.scalar(select(func.count()).select_from(ConsentRecord).where(
            ConsentRecord.action == "opt_out", ConsentRecord.channel == "whatsapp")) == 1
        address = s.scalar(select(Address).where(Address.channel == "whatsapp"))
        row, reason = enqueue(s, contact=s.get(Contact, address.contact_id), address=address, kind="broadcast",
                              now=services.clock.now(), payload={"type": "text", "text": "News", "lang": "en"})
        assert (row, reason) == (None, "opted_out")
    whatsapp_in(client, fake_twilio, PHONE, "SAFE")
    sender.drain()
    assert len(received(fake_twilio, PHONE)) == 2


def test_a_button_of_an_earlier_question_is_not_taken_as_the_answer_to_this_one(client, db, fake_twilio, sender):
    whatsapp_in(client, fake_twilio, PHONE, "SAFE")
    sender.drain()
    [question] = received(fake_twilio, PHONE)
    press(client, fake_twilio, PHONE, question, "Safe")
    sender.drain()
    age = received(fake_twilio, PHONE)[-1]
    assert age.body.startswith("How old are you?")
    # The first question's "Not sure" button pressed again: not an answer to the age question.
    press(client, fake_twilio, PHONE, question, "Not sure")
    sender.drain()
    assert received(fake_twilio, PHONE)[-1].body == ("That button belongs to an earlier question. "
                                                     "Please answer the latest message.")
    with db.session() as s:
        from store.models import Answer

        assert {a.step_id: a.value for a in s.scalars(select(Answer))} == {"feel_safe": "safe"}


def test_whatsapp_status_callbacks_including_read_move_the_state_forward_only(client, db, fake_twilio, sender):
    whatsapp_in(client, fake_twilio, PHONE, "SAFE")
    sender.drain()
    [message] = received(fake_twilio, PHONE)
    with db.session() as s:
        row = s.scalar(select(OutboxMessage).where(OutboxMessage.provider_id == message.sid))
        outbox_id = row.id

    def status(value):
        path = f"/webhooks/twilio/status?o={outbox_id}"
        form = {"MessageSid": message.sid, "MessageStatus": value, "ChannelPrefix": "whatsapp",
                "To": f"whatsapp:{PHONE}", "From": "whatsapp:+447700900000", "AccountSid": "AC" + "5a" * 16,
                "ApiVersion": "2010-04-01"}
        response = post_signed(client, path, form)
        assert response.status_code == 200
        return response.get_json()["status"]

    assert status("sent") == "sent"
    assert status("read") == "delivered"
    # A late "delivered" or "sent" never moves a read message back.
    assert status("sent") == "delivered"
    assert status("delivered") == "delivered"
    with db.session() as s:
        row = s.get(OutboxMessage, outbox_id)
        assert (row.status, row.channel) == ("delivered", "whatsapp")
        assert row.delivered_at is not None


def test_a_voice_note_without_words_is_asked_to_be_typed_and_is_no_answer(client, db, fake_twilio, sender):
    whatsapp_in(client, fake_twilio, PHONE, "SAFE")
    sender.drain()
    whatsapp_in(client, fake_twilio, PHONE, "", NumMedia="1", MediaContentType0="audio/ogg", MessageType="audio",
                MediaUrl0="https://api.twilio.com/2010-04-01/Accounts/AC/Messages/MM/Media/ME")
    sender.drain()
    assert received(fake_twilio, PHONE)[-1].body == "Sorry, we can only read text messages. Please type your answer."
    with db.session() as s:
        from store.models import Answer

        assert s.scalars(select(Answer)).all() == []


def test_start_on_whatsapp_opens_only_the_whatsapp_address(client, db, fake_twilio, sender):
    sms_in(client, "HELP")
    whatsapp_in(client, fake_twilio, PHONE, "STOP")
    whatsapp_in(client, fake_twilio, PHONE, "START")
    sender.drain()
    assert received(fake_twilio, PHONE)[-1].body.startswith("Welcome back. You will get messages from Harlow Council")
    with db.session() as s:
        assert {a.channel: a.consent for a in s.scalars(select(Address))} == {"sms": "opted_out",
                                                                               "whatsapp": "opted_in"}
