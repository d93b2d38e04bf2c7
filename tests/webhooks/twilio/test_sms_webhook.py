"""POST /webhooks/twilio/sms: one test per real-shaped fixture, then signatures and repeats."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from store.models import Address, Answer, ConsentRecord, InboundMessage, OutboxMessage, Run
from tests.support.twilio_fake import load_fixture, post_signed, sign

SMS = "/webhooks/twilio/sms"


def inbound_rows(db):
    with db.session() as s:
        return s.scalars(select(InboundMessage).order_by(InboundMessage.id)).all()


def outbox(db):
    with db.session() as s:
        return s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()


def answers(db):
    with db.session() as s:
        return {a.step_id: a.value for a in s.scalars(select(Answer))}


def text_in(client, body, sid, sender="+447700900123"):
    form = {**load_fixture("sms_answer_number.json"), "Body": body, "MessageSid": sid, "SmsMessageSid": sid,
            "SmsSid": sid, "From": sender}
    return post_signed(client, SMS, form)


def assert_empty_twiml(response):
    assert response.status_code == 200
    assert response.mimetype == "text/xml"
    assert response.get_data(as_text=True) == '<?xml version="1.0" encoding="UTF-8"?><Response />'


def test_sms_keyword_starts_the_flow(client, db):
    form = load_fixture("sms_keyword.json")
    assert_empty_twiml(post_signed(client, SMS, form))
    [row] = inbound_rows(db)
    assert (row.channel, row.provider_id, row.address, row.text, row.status) == (
        "sms", form["MessageSid"], "+447700900123", "Safe", "processed")
    assert row.payload["AccountSid"] == form["AccountSid"]
    [reply] = outbox(db)
    assert (reply.channel, reply.kind, reply.payload["step_id"]) == ("sms", "reply", "feel_safe")


def test_sms_answer_number_moves_the_run_forward(client, db):
    text_in(client, "SAFE", "SM" + "a" * 32)
    assert_empty_twiml(post_signed(client, SMS, load_fixture("sms_answer_number.json")))
    assert answers(db) == {"feel_safe": "unsafe"}
    assert outbox(db)[-1].payload["step_id"] == "where"


def test_sms_stop_opts_out_with_one_confirmation(client, db):
    text_in(client, "SAFE", "SM" + "b" * 32)
    assert_empty_twiml(post_signed(client, SMS, load_fixture("sms_stop.json")))
    with db.session() as s:
        assert s.scalar(select(Address)).consent == "opted_out"
        assert s.scalar(select(Run)).status == "ended"
        assert s.scalar(select(ConsentRecord).order_by(ConsentRecord.id.desc())).source == "keyword"
    assert [m.kind for m in outbox(db)] == ["reply", "stop_confirmation"]


def test_sms_stopio_welsh_opts_out_in_welsh(client, db):
    assert_empty_twiml(post_signed(client, SMS, load_fixture("sms_stopio_welsh.json")))
    with db.session() as s:
        assert s.scalar(select(Address)).consent == "opted_out"
    [confirmation] = outbox(db)
    assert (confirmation.kind, confirmation.language) == ("stop_confirmation", "cy")


def test_sms_unicode_is_stored_exactly_as_received(client, db):
    form = load_fixture("sms_unicode.json")
    assert_empty_twiml(post_signed(client, SMS, form))
    [row] = inbound_rows(db)
    assert row.text == form["Body"] == "مرحبا 👋🏽 the lights on Station Road are out"
    assert row.status == "processed"


def test_sms_with_media_keeps_the_media_fields(client, db):
    form = load_fixture("sms_with_media.json")
    assert_empty_twiml(post_signed(client, SMS, form))
    [row] = inbound_rows(db)
    assert (row.text, row.payload["NumMedia"], row.payload["MediaContentType0"]) == ("", "1", "image/jpeg")
    assert row.status == "processed"


def test_sms_messaging_service_help_gets_a_help_reply(client, db):
    assert_empty_twiml(post_signed(client, SMS, load_fixture("sms_messaging_service.json")))
    [reply] = outbox(db)
    assert reply.kind == "system"
    assert "Harlow Council" in reply.payload["text"]


def test_the_same_webhook_twice_stores_the_answer_once(client, db):
    text_in(client, "SAFE", "SM" + "c" * 32)
    form = load_fixture("sms_answer_number.json")
    for _ in range(2):
        assert_empty_twiml(post_signed(client, SMS, form))
    assert len(inbound_rows(db)) == 2
    assert answers(db) == {"feel_safe": "unsafe"}
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Answer)) == 1
    assert [m.payload.get("step_id") for m in outbox(db)] == ["feel_safe", "where"]


@pytest.mark.parametrize("headers", [{}, {"X-Twilio-Signature": "forged"},
                                     {"X-Twilio-Signature": sign(SMS, {"Body": "other"})}])
def test_unsigned_or_forged_posts_are_refused_and_store_nothing(client, db, headers):
    response = client.post(SMS, data=load_fixture("sms_keyword.json"), headers=headers)
    assert response.status_code == 403
    assert inbound_rows(db) == [] and outbox(db) == []


def test_a_post_signed_with_another_token_is_refused(client, db):
    response = post_signed(client, SMS, load_fixture("sms_keyword.json"), token="f" * 32)
    assert response.status_code == 403
    assert inbound_rows(db) == []


@pytest.mark.parametrize("missing,fields", [("MessageSid", ("MessageSid", "SmsMessageSid", "SmsSid")),
                                            ("From", ("From",))])
def test_a_post_without_a_sid_or_sender_is_a_clear_error(client, db, missing, fields):
    form = {k: v for k, v in load_fixture("sms_keyword.json").items() if k not in fields}
    response = post_signed(client, SMS, form)
    assert response.status_code == 400
    assert missing in response.get_json()["error"]
    assert inbound_rows(db) == []


@pytest.mark.parametrize("sandbox", [False, True])
def test_without_an_auth_token_the_sandbox_token_is_refused_unless_the_sandbox_runs(app_config, db, sandbox):
    from app import create_app

    # Tests start no sandbox: the setting alone, with no fake Twilio running, opens nothing.
    app = create_app({**app_config, "twilio_auth_token": "", "sandbox": sandbox})
    response = post_signed(app.test_client(), SMS, load_fixture("sms_keyword.json"))
    assert response.status_code == 403
    assert inbound_rows(db) == []


def test_the_sandbox_token_is_accepted_only_while_its_fake_twilio_runs(app_config, db):
    from app import create_app

    laptop = {"listen_host": "127.0.0.1", "public_url": "http://127.0.0.1:5000"}
    no_credentials = {"twilio_account_sid": "", "twilio_auth_token": "", "twilio_from": "", "telegram_token": "",
                      "telegram_secret": ""}
    app = create_app({**app_config, **laptop, **no_credentials, "testing": False, "sandbox": True})
    services = app.extensions["outreach"]
    server = services.extras["twilio_sandbox"]
    try:
        client = app.test_client()
        form = load_fixture("sms_keyword.json")
        signature = sign(SMS, form, public_url=laptop["public_url"])
        assert client.post(SMS, data=form, headers={"X-Twilio-Signature": signature}).status_code == 200
        server.stop()
        later = {**form, "MessageSid": "SM" + "e" * 32}
        signature = sign(SMS, later, public_url=laptop["public_url"])
        assert client.post(SMS, data=later, headers={"X-Twilio-Signature": signature}).status_code == 403
    finally:
        services.extras["telegram"].close()
        services.extras["telegram_sandbox"].stop()
        if server.running:
            server.stop()
    assert len(inbound_rows(db)) == 1


def test_the_signature_is_checked_against_the_public_url_behind_a_proxy(app_config, db):
    from app import create_app

    app = create_app({**app_config, "public_url": "https://outreach.harlow.example/"})
    form = load_fixture("sms_keyword.json")
    signature = sign(SMS, form, public_url="https://outreach.harlow.example")
    client = app.test_client()
    # The app itself is reached over plain HTTP from the TLS proxy.
    assert client.post(SMS, data=form, headers={"X-Twilio-Signature": signature},
                       base_url="http://10.0.0.5:8000").status_code == 200
    assert client.post(SMS, data=form, headers={"X-Twilio-Signature": sign(SMS, form)}).status_code == 403


def test_embedded_mode_acts_on_a_message_once_twilio_has_its_answer(app, client, db):
    # Outside tests the webhook answers first and acts on the message when the response is closed.
    app.testing = False
    response = text_in(client, "SAFE", "SM" + "e" * 32)
    assert_empty_twiml(response)
    assert [row.status for row in inbound_rows(db)] == ["pending"]
    assert outbox(db) == []
    response.close()
    assert [row.status for row in inbound_rows(db)] == ["processed"]
    assert [row.payload.get("step_id") for row in outbox(db)] == ["feel_safe"]
