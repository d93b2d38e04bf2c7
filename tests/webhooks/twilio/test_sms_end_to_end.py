"""SMS in through the signed webhook, out through the sender and the fake Twilio: consent keywords end to end."""
from __future__ import annotations

from sqlalchemy import select

from engage.outbox import enqueue
from store.models import Address, Contact, OutboxMessage
from tests.support.twilio_fake import load_fixture, post_signed

SMS = "/webhooks/twilio/sms"
PHONE = "+447700900123"
_sids = iter(range(1, 10_000))


def text_in(client, body, sender=PHONE):
    sid = f"SM{next(_sids):032x}"
    form = {**load_fixture("sms_keyword.json"), "Body": body, "MessageSid": sid, "SmsMessageSid": sid,
            "SmsSid": sid, "From": sender}
    response = post_signed(client, SMS, form)
    assert response.status_code == 200
    return response


def received(fake_twilio, number=PHONE):
    return [m.body for m in fake_twilio.fake.messages_to(number)]


def queue_broadcast(services, number=PHONE, text="The consultation on the park closes on Friday."):
    with services.db.session() as s:
        address = s.scalar(select(Address).where(Address.address == number))
        contact = s.get(Contact, address.contact_id)
        row, reason = enqueue(s, contact=contact, address=address, kind="broadcast", now=services.clock.now(),
                              payload={"type": "text", "text": text, "lang": "en"}, dedupe_key=f"broadcast:1:{number}")
        return row.id if row else reason


def test_a_resident_answers_a_poll_by_sms_and_gets_each_question_once(client, fake_twilio, sender):
    text_in(client, "SAFE")
    sender.drain()
    [question] = received(fake_twilio)
    assert question.startswith("How safe do you feel walking in your area after dark?")
    assert question.endswith("1. Safe\n2. Unsafe\n3. Not sure\n\nReply 1, 2 or 3")
    text_in(client, "2")
    sender.drain()
    sender.drain()
    assert len(received(fake_twilio)) == 2


def test_stop_opts_out_with_one_confirmation_and_a_queued_broadcast_is_skipped(client, db, services, fake_twilio,
                                                                                sender):
    text_in(client, "SAFE")
    sender.drain()
    broadcast_id = queue_broadcast(services)
    assert isinstance(broadcast_id, int)
    text_in(client, "STOP")
    text_in(client, "stop")
    sender.drain()
    texts = received(fake_twilio)
    assert len(texts) == 2
    assert "no more messages from Harlow Council" in texts[1]
    with db.session() as s:
        row = s.get(OutboxMessage, broadcast_id)
        assert (row.status, row.error_code) == ("skipped", "opted_out")
    # Afterwards nothing goes to that number, whatever is tried.
    text_in(client, "SAFE")
    assert queue_broadcast(services, text="Another update") == "opted_out"
    sender.drain()
    assert len(received(fake_twilio)) == 2


def test_stopio_in_welsh_opts_out_with_one_welsh_confirmation(client, db, services, fake_twilio, sender):
    number = "+447700900124"
    text_in(client, "SAFE", sender=number)
    sender.drain()
    broadcast_id = queue_broadcast(services, number=number)
    text_in(client, "Stopio", sender=number)
    sender.drain()
    texts = received(fake_twilio, number)
    assert len(texts) == 2
    with db.session() as s:
        confirmation = s.scalar(select(OutboxMessage).where(OutboxMessage.kind == "stop_confirmation"))
        assert (confirmation.language, confirmation.status) == ("cy", "sent")
        assert s.get(OutboxMessage, broadcast_id).status == "skipped"
        assert s.scalar(select(Address).where(Address.address == number)).consent == "opted_out"


def test_start_after_stop_lets_messages_through_again(client, fake_twilio, sender):
    text_in(client, "STOP")
    text_in(client, "START")
    text_in(client, "SAFE")
    sender.drain()
    texts = received(fake_twilio)
    assert len(texts) == 3
    assert texts[2].startswith("How safe do you feel")
