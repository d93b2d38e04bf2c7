"""Hostile and odd input at the SMS webhook: refused with a clear status, or stored exactly as sent and
shown escaped; the service keeps answering throughout."""
from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest
from sqlalchemy import func, select

from engage.officers import create_officer
from store.models import Answer, InboundMessage
from tests.support.dashboard import cheap_password_hashing
from tests.support.fault_sms import SMS_PATH, new_phone, post_form, sms_form
from tests.support.twilio_fake import sign

pytestmark = pytest.mark.fault
_cheap_hashing = pytest.fixture(autouse=True)(cheap_password_hashing)

HOSTILE = [
    "<script>alert('x')</script> Station Road",
    "'; DROP TABLE answers; --",
    "Robert\"); DELETE FROM contacts WHERE (\"1\"=\"1",
    "🚶‍♀️🌃 dark by the 🅿️ car park 👎🏽",
    "شارع المحطة قرب النفق",  # Arabic, right to left
    "\u202eevil\u202c mixed ‏RTL‏ marks",
    "{{ 7*7 }} ${7*7} %s %(x)s",
]


def inbound_count(db) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(InboundMessage))


def assert_still_answering(client):
    assert client.get("/healthz").status_code == 200
    response = post_form(client, sms_form(new_phone(), "HELP"))
    assert response.status_code == 200


def test_forged_missing_and_misdirected_signatures_are_refused_and_store_nothing(client, db):
    form = sms_form(new_phone(), "SAFE")
    forged = {"X-Twilio-Signature": sign(SMS_PATH, form, token="not-the-auth-token")}
    other_url = {"X-Twilio-Signature": sign("/webhooks/twilio/status", form)}
    tampered = {"X-Twilio-Signature": sign(SMS_PATH, form)}
    assert client.post(SMS_PATH, data=form, headers=forged).status_code == 403
    assert client.post(SMS_PATH, data=form).status_code == 403
    assert client.post(SMS_PATH, data=form, headers={"X-Twilio-Signature": ""}).status_code == 403
    assert client.post(SMS_PATH, data=form, headers=other_url).status_code == 403
    assert client.post(SMS_PATH, data={**form, "Body": "STOP"}, headers=tampered).status_code == 403
    assert inbound_count(db) == 0
    assert_still_answering(client)


def test_a_replayed_signed_request_is_stored_once(client, db):
    form = sms_form(new_phone(), "SAFE")
    assert [post_form(client, form).status_code for _ in range(3)] == [200, 200, 200]
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(InboundMessage)
                        .where(InboundMessage.provider_id == form["MessageSid"])) == 1


def test_wrong_content_types_and_missing_fields_get_clear_statuses(client, db):
    form = sms_form(new_phone(), "SAFE")
    signature = {"X-Twilio-Signature": sign(SMS_PATH, form)}
    assert client.post(SMS_PATH, json=form, headers=signature).status_code == 403
    assert client.post(SMS_PATH, data="Body=SAFE", headers={**signature, "Content-Type": "text/plain"}
                       ).status_code == 403
    no_sid = {k: v for k, v in form.items() if k not in ("MessageSid", "SmsMessageSid", "SmsSid")}
    response = post_form(client, no_sid)
    assert response.status_code == 400 and "MessageSid" in response.get_json()["error"]
    assert inbound_count(db) == 0
    assert_still_answering(client)


def test_a_body_over_the_size_limit_is_refused_with_413(client, db, services):
    limit = services.settings.max_body_bytes
    form = sms_form(new_phone(), "x" * (limit + 10))
    assert post_form(client, form).status_code == 413
    assert inbound_count(db) == 0
    assert_still_answering(client)


def test_invalid_utf8_in_a_signed_request_is_stored_with_those_bytes_percent_encoded(client, db):
    form = sms_form(new_phone(), "placeholder")
    raw = urlencode({k: v for k, v in form.items() if k != "Body"}).encode() + b"&Body=caf%C3%28%FF%FE"
    # The form reader keeps bytes that are not UTF-8 percent-encoded, so this is the Body the signature
    # covers: signed over exactly what was sent, the request passes the signature check and what follows
    # is the webhook's own handling of text that is not UTF-8.
    as_read = {**form, "Body": "caf%C3(%FF%FE"}
    response = client.post(SMS_PATH, data=raw, content_type="application/x-www-form-urlencoded",
                           headers={"X-Twilio-Signature": sign(SMS_PATH, as_read)})
    assert response.status_code == 200
    with db.session() as s:
        row = s.scalar(select(InboundMessage).where(InboundMessage.provider_id == form["MessageSid"]))
        assert (row.text, row.status) == ("caf%C3(%FF%FE", "processed")
    assert_still_answering(client)


def test_a_1600_character_answer_is_stored_whole_and_refused_politely_as_too_long(client, db):
    phone = new_phone()
    long_text = ("Street lights on Station Road are out again. " * 40)[:1600]
    for body in ("SAFE", "2", long_text):
        assert post_form(client, sms_form(phone, body)).status_code == 200
    with db.session() as s:
        stored = s.scalars(select(InboundMessage.text).where(InboundMessage.address == phone)
                           .order_by(InboundMessage.id)).all()
        assert stored[-1] == long_text
        # "where" takes at most 300 characters: the answer is refused and asked again, never cut short.
        assert s.scalar(select(func.count()).select_from(Answer).where(Answer.step_id == "where")) == 0
    assert_still_answering(client)


def test_hostile_answers_are_stored_intact_and_shown_escaped(client, db, services, clock):
    for text in HOSTILE:
        phone = new_phone()
        for body in ("SAFE", "2", text):
            assert post_form(client, sms_form(phone, body)).status_code == 200
    with db.session() as s:
        stored = s.scalars(select(Answer.raw_text).where(Answer.step_id == "where").order_by(Answer.id)).all()
        inbound = set(s.scalars(select(InboundMessage.text)))
    assert stored == HOSTILE
    assert set(HOSTILE) <= inbound

    with db.session() as s:
        create_officer(s, "officer@harlow.gov.uk", "correct horse battery staple", "officer", now=clock.now())
    login = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', login).group(1)
    client.post("/login", data={"email": "officer@harlow.gov.uk", "password": "correct horse battery staple",
                                "csrf_token": token})
    page = client.get("/dashboard/results/street-safety?text_step=where")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; Station Road" in html
    assert "شارع المحطة قرب النفق" in html
    assert "{{ 7*7 }}" in html and "49" not in html.split("{{ 7*7 }}")[1][:20]
    assert_still_answering(client)
