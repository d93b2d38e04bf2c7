"""Calls that start a flow by the number rung, and questions the phone cannot take by keypad."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from flows.loader import FlowError, load_flow_text
from store.models import Address, Answer, InboundMessage, Run
from tests.support.twilio_fake import load_fixture, post_signed
from tests.support.voice_phone import Phone

LIBRARY = Path(__file__).resolve().parents[3] / "flows" / "library"
MOBILE = "+447400123456"
LANDLINE = "+441279000111"
HOTLINE = "+441279446099"
HOTLINE_FLOW = """
id: bins-hotline
title: Bin collections
languages: [en]
voice_number: "01279 446099"
steps:
  - id: rating
    ask: {en: How happy are you with your bin collections?}
    scale: {min: 1, max: 5}
  - id: thanks
    say: {en: Thank you.}
"""


@pytest.fixture
def app_config(app_config, tmp_path):
    folder = tmp_path / "flows"
    folder.mkdir()
    shutil.copy(LIBRARY / "street-safety.yaml", folder / "street-safety.yaml")
    (folder / "bins-hotline.yaml").write_text(HOTLINE_FLOW, encoding="utf-8")
    return {**app_config, "flows_dir": str(folder)}


def test_a_call_to_a_flows_voice_number_starts_it_and_a_scale_is_keyed_with_hash(client, db):
    phone = Phone(client, MOBILE, to=HOTLINE)
    question = phone.dial()
    assert "How happy are you with your bin collections?" in question.text
    assert "Key in a number from 1 to 5, then press the hash key." in question.text
    assert "Press star 9 to hear this again" in question.text
    assert question.gather["finishOnKey"] == "#" and "numDigits" not in question.gather
    again = phone.press("*9")
    assert "How happy are you" in again.text
    too_big = phone.press("7")
    assert "Sorry, the largest answer is 5." in too_big.text
    end = phone.press("4")
    assert "Thank you." in end.text and end.hangup
    with db.session() as s:
        assert s.scalar(select(Answer)).value == 4
        assert s.scalar(select(Run)).flow_id == "bins-hotline"


def test_a_voice_number_that_is_not_a_phone_number_is_an_error_in_the_flow_file():
    with pytest.raises(FlowError) as raised:
        load_flow_text(HOTLINE_FLOW.replace('"01279 446099"', "call-us"), "bins.yaml")
    assert "'voice_number' should be a phone number such as +441279446000, not 'call-us'" in str(raised.value)
    assert load_flow_text(HOTLINE_FLOW).voice_number == "01279446099"


def welsh_caller_at_the_text_question(client, number):
    phone = Phone(client, number)
    languages = phone.dial()  # the one flow open by keyword starts at once: its language menu
    assert "I gael Cymraeg, pwyswch 2." in languages.text
    phone.press("2")          # Cymraeg
    heard = phone.press("2")  # Anniogel: the next question wants words
    return phone, heard


def test_a_question_in_words_without_welsh_speech_recognition_offers_a_mobile_caller_a_text(
        client, db, fake_twilio, sender):
    phone, heard = welsh_caller_at_the_text_question(client, MOBILE)
    assert "Pa stryd neu le sy'n teimlo leiaf diogel?" in heard.text
    assert "Mae angen ateb mewn geiriau i'r cwestiwn hwn" in heard.text
    assert "Pwyswch 1 i gael y cwestiwn hwn mewn neges destun" in heard.text
    bye = phone.press("1")
    assert bye.hangup and "Rydym wedi anfon y cwestiwn hwn atoch mewn neges destun." in bye.text
    sender.drain()
    [text] = [m.body for m in fake_twilio.fake.messages_to(MOBILE)]
    assert text.startswith("Pa stryd neu le sy'n teimlo leiaf diogel?")
    # The resident answers by text: the same run goes on, by SMS.
    sid = "SM" + "7" * 32
    form = {**load_fixture("sms_keyword.json"), "Body": "Heol yr Orsaf", "MessageSid": sid, "SmsMessageSid": sid,
            "SmsSid": sid, "From": MOBILE}
    assert post_signed(client, "/webhooks/twilio/sms", form).status_code == 200
    sender.drain()
    assert fake_twilio.fake.messages_to(MOBILE)[-1].body.startswith("Faint yw eich oed?")
    with db.session() as s:
        where = s.scalar(select(Answer).where(Answer.step_id == "where"))
        assert (where.value, where.channel) == ("Heol yr Orsaf", "sms")
        assert len(s.scalars(select(Run)).all()) == 1
        voice, sms = (s.scalar(select(Address).where(Address.channel == c)) for c in ("voice", "sms"))
        assert voice.contact_id == sms.contact_id


def test_a_landline_caller_goes_on_without_the_question_in_words(client, db):
    phone, heard = welsh_caller_at_the_text_question(client, LANDLINE)
    assert "Mae angen ateb mewn geiriau i'r cwestiwn hwn" in heard.text
    assert heard.gather is None and heard.redirect is not None
    age = phone.silence()
    assert "Faint yw eich oed?" in age.text
    assert "Mae'n ddrwg gennym, ni chawsom ateb." not in age.text
    end = phone.press("2")
    assert end.hangup
    with db.session() as s:
        got = {a.step_id: (a.value, a.skipped) for a in s.scalars(select(Answer))}
        assert got == {"feel_safe": ("unsafe", False), "where": (None, True), "age": ("18_64", False)}
        assert s.scalar(select(Run)).status == "completed"
        assert all(row.provider_id.startswith(phone.sid) for row in s.scalars(select(InboundMessage)))
