"""POST /webhooks/twilio/status: delivery state only moves forward; errors mark the address."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from store.models import Address, ConsentRecord, Contact, OutboxMessage
from tests.support.twilio_fake import load_fixture, post_signed

STATUS = "/webhooks/twilio/status"
SID = "SM00000000000000000000000000000001"


@pytest.fixture
def sent_row(db, clock):
    """An outbox row the sender handed to Twilio as SID."""
    with db.session() as s:
        contact = Contact(fields={}, created_at=clock.now(), updated_at=clock.now())
        s.add(contact)
        s.flush()
        address = Address(contact_id=contact.id, channel="sms", address="+447700900123", consent="opted_in")
        s.add(address)
        s.flush()
        row = OutboxMessage(contact_id=contact.id, address_id=address.id, channel="sms", kind="reply",
                            payload={"type": "text", "text": "Hi"}, status="sent", provider_id=SID,
                            sent_at=clock.now(), created_at=clock.now(), updated_at=clock.now())
        s.add(row)
        s.flush()
        return row.id


def row(db, row_id):
    with db.session() as s:
        return s.get(OutboxMessage, row_id)


def address(db):
    with db.session() as s:
        return s.scalar(select(Address))


def test_status_sent_keeps_a_sent_row_sent(client, db, sent_row):
    response = post_signed(client, STATUS, load_fixture("status_sent.json"))
    assert response.status_code == 200 and response.get_json()["status"] == "sent"
    assert row(db, sent_row).status == "sent"


def test_status_delivered_records_when(client, db, clock, sent_row):
    clock.advance(seconds=4)
    post_signed(client, STATUS, load_fixture("status_delivered.json"))
    stored = row(db, sent_row)
    assert (stored.status, stored.delivered_at) == ("delivered", clock.now())


def test_status_undelivered_30006_marks_a_landline_unusable(client, db, sent_row):
    post_signed(client, STATUS, load_fixture("status_undelivered_30006.json"))
    stored = row(db, sent_row)
    assert (stored.status, stored.error_code) == ("undelivered", "30006")
    assert (address(db).usable, address(db).unusable_reason) == (False, "sms error 30006")


def test_status_undelivered_30005_marks_an_unknown_handset_unusable(client, db, sent_row):
    post_signed(client, STATUS, load_fixture("status_undelivered_30005.json"))
    assert (row(db, sent_row).status, address(db).usable) == ("undelivered", False)


def test_status_failed_21610_opts_the_address_out(client, db, sent_row):
    post_signed(client, STATUS, load_fixture("status_failed_21610.json"))
    assert row(db, sent_row).status == "failed"
    assert address(db).consent == "opted_out"
    with db.session() as s:
        record = s.scalar(select(ConsentRecord))
    assert (record.action, record.source) == ("opt_out", "provider")


def test_callbacks_out_of_order_never_move_state_back(client, db, clock, sent_row):
    post_signed(client, STATUS, load_fixture("status_delivered.json"))
    delivered_at = row(db, sent_row).delivered_at
    clock.advance(seconds=10)
    for name in ("status_sent.json", "status_undelivered_30006.json", "status_delivered.json"):
        assert post_signed(client, STATUS, load_fixture(name)).status_code == 200
    stored = row(db, sent_row)
    assert (stored.status, stored.delivered_at) == ("delivered", delivered_at)


def test_a_callback_that_beats_the_sender_finds_its_row_by_outbox_id(client, db, sent_row):
    with db.session() as s:
        stored = s.get(OutboxMessage, sent_row)
        stored.status, stored.provider_id, stored.sent_at = "sending", None, None
    path = f"{STATUS}?o={sent_row}"
    post_signed(client, path, load_fixture("status_delivered.json"))
    stored = row(db, sent_row)
    assert (stored.status, stored.provider_id) == ("delivered", SID)


def test_a_sent_callback_resolves_an_unknown_row(client, db, sent_row):
    with db.session() as s:
        s.get(OutboxMessage, sent_row).status = "unknown"
    post_signed(client, STATUS, load_fixture("status_sent.json"))
    assert row(db, sent_row).status == "sent"


def test_a_callback_for_a_message_we_do_not_know_is_acknowledged(client, db, sent_row):
    form = {**load_fixture("status_delivered.json"), "MessageSid": "SM" + "9" * 32, "SmsSid": "SM" + "9" * 32}
    response = post_signed(client, STATUS, form)
    assert response.status_code == 200 and response.get_json()["status"] is None
    assert row(db, sent_row).status == "sent"


def test_an_unknown_message_status_is_a_clear_error(client, db, sent_row):
    form = {**load_fixture("status_sent.json"), "MessageStatus": "teleported", "SmsStatus": "teleported"}
    response = post_signed(client, STATUS, form)
    assert response.status_code == 400 and "teleported" in response.get_json()["error"]


def test_a_forged_callback_changes_nothing(client, db, sent_row):
    response = client.post(STATUS, data=load_fixture("status_failed_21610.json"),
                           headers={"X-Twilio-Signature": "bm9wZQ=="})
    assert response.status_code == 403
    assert (row(db, sent_row).status, address(db).consent) == ("sent", "opted_in")


def test_delivered_after_a_long_wait_is_still_recorded(client, db, clock, sent_row):
    clock.advance(days=2) and timedelta()
    post_signed(client, STATUS, load_fixture("status_delivered.json"))
    assert row(db, sent_row).delivered_at == clock.now()
