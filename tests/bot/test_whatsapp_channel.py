"""The WhatsApp channel: the real Twilio SDK against the fake Twilio, in Twilio's wire format."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest

from bot.sandbox.twilio_server import SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN, SANDBOX_WHATSAPP_FROM
from bot.sender import claim_due_messages
from bot.twilio_whatsapp import TwilioWhatsApp
from commands.check import check_whatsapp
from config import Settings
from engage.whatsapp import CLOSED_KEY, TEMPLATE_KEY
from store.models import OutboxMessage
from tests.bot.conftest import add_resident, outbox_row, queue_message
from tests.support.timeouts import SEND_TIMEOUT
from tests.support.twilio_fake import PUBLIC_URL

PHONE = "+447700900654"
TEXT = {"type": "text", "text": "Hello from Harlow Council.", "lang": "en"}
QUESTION = {"type": "question", "text": "Tea or coffee?", "question": "Tea or coffee?", "kind": "choice",
            "choices": [{"number": 1, "value": "tea", "label": "Tea"}, {"number": 2, "value": "coffee",
                                                                        "label": "Coffee"}],
            "optional": False, "hints": {}, "lang": "en", "run_id": 1, "step_id": "drink"}


@pytest.fixture
def channel(fake_twilio):
    return TwilioWhatsApp(SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN, from_number=SANDBOX_WHATSAPP_FROM,
                          public_url=PUBLIC_URL, api_url=fake_twilio.url, timeout=SEND_TIMEOUT)


def sent(fake_twilio):
    return fake_twilio.fake.messages_to(f"whatsapp:{PHONE}")


def test_inside_the_window_text_goes_free_form_from_the_whatsapp_sender_with_a_status_callback(channel, fake_twilio):
    fake_twilio.fake.whatsapp_inbound(PHONE)
    result = channel.send(PHONE, TEXT, "en", outbox_id=41)
    [message] = sent(fake_twilio)
    assert (result.status, result.provider_id) == ("sent", message.sid)
    assert (message.from_, message.body, message.content_sid) == (SANDBOX_WHATSAPP_FROM, TEXT["text"], None)
    assert message.status_callback == f"{PUBLIC_URL}/webhooks/twilio/status?o=41"
    [request] = fake_twilio.fake.requests
    assert (request["To"], request["From"]) == (f"whatsapp:{PHONE}", SANDBOX_WHATSAPP_FROM)


def test_a_question_is_one_content_resource_reused_with_each_runs_button_ids(channel, fake_twilio):
    fake_twilio.fake.whatsapp_inbound(PHONE)
    channel.send(PHONE, QUESTION, "en")
    channel.send(PHONE, {**QUESTION, "run_id": 2}, "en")
    first, second = sent(fake_twilio)
    assert first.content_sid == second.content_sid and len(fake_twilio.fake.contents) == 1
    assert first.buttons == [("Tea", "a:1:drink:#1"), ("Coffee", "a:1:drink:#2")]
    assert second.buttons == [("Tea", "a:2:drink:#1"), ("Coffee", "a:2:drink:#2")]
    request = fake_twilio.fake.requests[-1]
    assert "Body" not in request and json.loads(request["ContentVariables"]) == {"1": "a:2:drink:#1",
                                                                                "2": "a:2:drink:#2"}


def test_when_the_content_api_fails_the_question_goes_as_numbered_text(fake_twilio):
    channel = TwilioWhatsApp(SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN, from_number=SANDBOX_WHATSAPP_FROM,
                             api_url=fake_twilio.url, timeout=SEND_TIMEOUT)
    fake_twilio.fake.whatsapp_inbound(PHONE)
    fake_twilio.fake.create_content = lambda auth, body: (500, {"code": 20500, "message": "Internal error",
                                                                "status": 500, "more_info": ""})
    assert channel.send(PHONE, QUESTION, "en").status == "sent"
    [message] = sent(fake_twilio)
    assert message.content_sid is None and message.body.endswith("1. Tea\n2. Coffee\n\nReply 1 or 2")


def test_outside_the_window_twilio_refuses_free_form_with_63016_and_it_is_not_retried(channel, fake_twilio):
    result = channel.send(PHONE, TEXT, "en")
    assert (result.status, result.error_code, result.address_unusable) == ("failed", "63016", False)
    assert sent(fake_twilio) == []


def test_outside_the_window_the_approved_template_goes_with_the_text_as_its_variable(channel, fake_twilio):
    sid = fake_twilio.fake.add_template("Harlow Council: {{1}} Reply to answer.")
    result = channel.send(PHONE, {**QUESTION, TEMPLATE_KEY: sid, CLOSED_KEY: True}, "en")
    [message] = sent(fake_twilio)
    assert result.status == "sent"
    assert message.content_sid == sid
    assert message.body == "Harlow Council: Tea or coffee? 1. Tea 2. Coffee Reply 1 or 2 Reply to answer."


def test_the_sender_skips_a_whatsapp_row_outside_the_window_without_a_template_and_marks_one_with_it(db, clock):
    address = add_resident(db, clock, phone=PHONE, channel="whatsapp")
    with db.session() as s:
        s.get(type(address), address.id).last_inbound_at = clock.now() - timedelta(hours=25)
    bare = queue_message(db, clock, address, kind="reply")
    templated = queue_message(db, clock, address, kind="reminder")
    with db.session() as s:
        row = s.get(OutboxMessage, templated)
        row.payload = {**row.payload, TEMPLATE_KEY: "HX" + "0" * 32}
    [claimed] = claim_due_messages(db, clock.now(), 10, ["whatsapp"])
    assert claimed.id == templated and claimed.payload[CLOSED_KEY] is True
    assert (outbox_row(db, bare).status, outbox_row(db, bare).error_code) == ("skipped", "whatsapp_no_template")
    # The mark is for this send only: the stored payload stays as queued.
    assert CLOSED_KEY not in outbox_row(db, templated).payload


def test_inside_the_window_the_sender_claims_a_whatsapp_row_as_it_is(db, clock):
    address = add_resident(db, clock, phone=PHONE, channel="whatsapp")
    with db.session() as s:
        s.get(type(address), address.id).last_inbound_at = clock.now() - timedelta(hours=23)
    queue_message(db, clock, address)
    [claimed] = claim_due_messages(db, clock.now(), 10, ["whatsapp"])
    assert CLOSED_KEY not in claimed.payload


@pytest.mark.parametrize("values, status, words", [
    ({}, "WARN", "not configured"),
    ({"twilio_whatsapp_from": "whatsapp:+447700900000"}, "FAIL", "the Twilio account is not"),
    ({"twilio_whatsapp_from": "+44 12", "twilio_account_sid": "AC1", "twilio_auth_token": "t"}, "FAIL",
     "international form"),
    ({"twilio_whatsapp_from": "+447700900000", "twilio_account_sid": "AC1", "twilio_auth_token": "t"}, "OK",
     "sending from whatsapp:+447700900000"),
])
def test_the_deployment_check_reports_the_whatsapp_sender(values, status, words):
    [line] = check_whatsapp(Settings(**values))
    assert line.status == status and words in line.detail


def test_a_server_error_may_be_retried_and_a_dropped_connection_is_unknown(channel, fake_twilio):
    fake_twilio.fake.whatsapp_inbound(PHONE)
    fake_twilio.fake.fail(status=500)
    assert channel.send(PHONE, TEXT, "en").status == "retry"
    fake_twilio.fake.fail("reset")
    assert channel.send(PHONE, TEXT, "en").status == "unknown"


def test_a_number_twilio_refuses_for_good_fails_and_is_marked_unusable(channel, fake_twilio):
    fake_twilio.fake.whatsapp_inbound(PHONE)
    fake_twilio.fake.reject_number(f"whatsapp:{PHONE}", 21211)
    result = channel.send(PHONE, TEXT, "en")
    assert (result.status, result.error_code, result.address_unusable) == ("failed", "21211", True)
    assert channel.name == "whatsapp" and channel.cost(QUESTION, "en") == 1
