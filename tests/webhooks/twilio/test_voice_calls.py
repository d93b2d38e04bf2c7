"""Phone calls through the real signed voice webhook: the street-safety flow by keypad, in English and Welsh."""
from __future__ import annotations

from sqlalchemy import select

from store.models import Address, Answer, ConsentRecord, Contact, InboundMessage, OutboxMessage, Run
from tests.support.twilio_fake import post_signed
from tests.support.voice_phone import VOICE, Phone

CALLER = "+447400123456"  # a mobile


def menu_key(heard, title):
    """The key the menu gives for a flow's title."""
    for text, _lang, _voice in heard.says:
        if title in text:
            return text.rsplit(" ", 1)[-1].rstrip(".")
    raise AssertionError(f"{title!r} is not in the menu: {heard.text}")


def answers(db):
    with db.session() as s:
        return {a.step_id: (a.value, a.channel, a.language) for a in s.scalars(select(Answer))}


def test_an_english_caller_completes_street_safety_by_keypad(client, db):
    phone = Phone(client, CALLER)
    menu = phone.dial()
    assert menu.gather["numDigits"] == "1"
    languages = phone.press(menu_key(menu, "Feeling safe in your neighbourhood"))
    # Each language offered in its own language and voice.
    assert languages.says[0][:2] == ("For English, press 1.", "en-GB")
    assert languages.says[1][1] == "cy-GB" and languages.says[1][0].endswith("2.")
    assert languages.says[1][2] == "Polly.Gwyneth"
    first = phone.press("1")
    assert "How safe do you feel walking in your area after dark?" in first.text
    assert "Press 1 for Safe." in first.text and "Press 3 for Not sure." in first.text
    assert "To stop these calls, press 8." in first.text
    assert first.gather["numDigits"] == "1" and first.gather["input"] == "dtmf"
    age = phone.press("1")
    assert "How old are you?" in age.text and "Press 2 for 18 to 64." in age.text
    end = phone.press("2")
    assert "Thank you. We will tell you what we did with your answers." in end.text
    assert end.hangup and end.gather is None
    assert answers(db) == {"feel_safe": ("safe", "voice", "en"), "age": ("18_64", "voice", "en")}
    with db.session() as s:
        run = s.scalar(select(Run))
        assert (run.status, run.channel, run.flow_id) == ("completed", "voice", "street-safety")
        contact = s.get(Contact, run.contact_id)
        assert contact.language == "en"
        assert sorted(r.provider_id for r in s.scalars(select(InboundMessage))) == [
            f"{phone.sid}:2", f"{phone.sid}:3", f"{phone.sid}:4"]
        # Every reply was spoken in the call, none left for the sender to place a call with.
        assert {r.status for r in s.scalars(select(OutboxMessage))} == {"sent"}


def test_a_welsh_caller_completes_street_safety_by_keypad_in_welsh(client, db):
    phone = Phone(client, CALLER)
    menu = phone.dial()
    phone.press(menu_key(menu, "Feeling safe in your neighbourhood"))
    first = phone.press("2")
    assert "Pa mor ddiogel ydych chi'n teimlo yn cerdded yn eich ardal ar ôl iddi dywyllu?" in first.text
    assert {lang for _text, lang, _voice in first.says} == {"cy-GB"}
    assert "Diogel" in first.text and "Press" not in first.text
    age = phone.press("3")
    assert "Faint yw eich oed?" in age.text
    end = phone.press("3")
    assert "Diolch. Byddwn yn dweud wrthych beth wnaethom gyda'ch atebion." in end.text and end.hangup
    assert answers(db) == {"feel_safe": ("unsure", "voice", "cy"), "age": ("65_plus", "voice", "cy")}


def test_a_caller_whose_language_is_recorded_gets_no_language_menu(client, db):
    first = Phone(client, CALLER)
    menu = first.dial()
    first.press(menu_key(menu, "Feeling safe"))
    first.press("2")  # Welsh, now recorded
    again = Phone(client, CALLER)
    menu = again.dial()
    question = again.press(menu_key(menu, "Teimlo'n ddiogel"))
    assert "Pa mor ddiogel" in question.text


def test_a_repeated_request_stores_nothing_twice_and_says_the_same(client, db):
    phone = Phone(client, CALLER)
    menu = phone.dial()
    phone.press(menu_key(menu, "Feeling safe"))
    phone.press("1")
    url = phone.last.gather["action"]
    form = phone.form(Digits="2")
    first = post_signed(client, url, form).get_data(as_text=True)
    again = post_signed(client, url, form).get_data(as_text=True)
    assert first == again and "Which street or place feels least safe?" in first
    with db.session() as s:
        assert len(s.scalars(select(InboundMessage)).all()) == 2
        assert len(s.scalars(select(Answer)).all()) == 1


def test_an_unsigned_or_forged_call_is_refused_and_stores_nothing(client, db):
    form = {"CallSid": "CA" + "1" * 32, "From": CALLER, "To": "+441279446000", "Digits": "1"}
    assert client.post(VOICE + "?m=q&t=3", data=form).status_code == 403
    forged = post_signed(client, VOICE + "?m=q&t=3", form, token="not-the-token" * 3)
    assert forged.status_code == 403
    with db.session() as s:
        assert s.scalars(select(InboundMessage)).all() == []


def test_nine_repeats_the_question_and_a_wrong_key_or_silence_reprompts_within_the_attempt_limit(client, db):
    phone = Phone(client, CALLER)
    menu = phone.dial()
    phone.press(menu_key(menu, "Feeling safe"))
    phone.press("1")
    repeated = phone.press("9")
    assert "How safe do you feel" in repeated.text
    wrong = phone.press("5")
    assert "Sorry, please reply with one of the numbers shown." not in wrong.text or "How safe" in wrong.text
    assert "How safe do you feel" in wrong.text
    quiet = phone.silence()
    assert "Sorry, we did not hear an answer." in quiet.text
    # The flow allows three attempts: the third miss moves on, as by SMS.
    moved = phone.silence()
    assert "Let's move on to the next question." in moved.text and "How old are you?" in moved.text
    with db.session() as s:
        skipped = s.scalar(select(Answer).where(Answer.step_id == "feel_safe"))
        assert skipped.skipped


def test_zero_goes_back_to_the_menu(client, db):
    phone = Phone(client, CALLER)
    menu = phone.dial()
    phone.press(menu_key(menu, "Feeling safe"))
    phone.press("1")
    back = phone.press("0")
    assert "For Feeling safe in your neighbourhood" in back.text


def test_press_eight_opts_out_with_a_consent_record_and_nothing_is_sent_afterwards(client, db, services):
    phone = Phone(client, CALLER)
    menu = phone.dial()
    phone.press(menu_key(menu, "Feeling safe"))
    phone.press("1")
    stopped = phone.press("8")
    assert "You will get no more calls or messages from Harlow Council." in stopped.text and stopped.hangup
    with db.session() as s:
        record = s.scalar(select(ConsentRecord).where(ConsentRecord.action == "opt_out"))
        assert (record.channel, record.source, record.scope) == ("voice", "keyword", "channel")
        address = s.scalar(select(Address).where(Address.channel == "voice"))
        assert address.consent == "opted_out"
        assert s.scalar(select(Run)).status == "ended"
    # Calling again: nothing is started, only the way back in is offered.
    again = Phone(client, CALLER)
    heard = again.dial()
    assert "You asked us to stop contacting you." in heard.text
    with db.session() as s:
        assert s.scalar(select(OutboxMessage).where(OutboxMessage.status == "queued")) is None


def test_a_caller_who_had_opted_out_may_press_1_to_take_part_again(client, db):
    phone = Phone(client, CALLER)
    menu = phone.dial()
    phone.press(menu_key(menu, "Feeling safe"))
    phone.press("1")
    phone.press("8")
    again = Phone(client, CALLER)
    assert "To take part again, press 1." in again.dial().text
    back = again.press("1")
    assert "Welcome back. You will get messages from Harlow Council again." in back.text
    assert "For Feeling safe in your neighbourhood" in back.text
    with db.session() as s:
        assert s.scalar(select(Address).where(Address.channel == "voice")).consent == "opted_in"
        assert [r.action for r in s.scalars(select(ConsentRecord).order_by(ConsentRecord.id))
                if r.scope == "channel"] == ["opt_in", "opt_out", "opt_in"]


def test_withheld_numbers_never_share_a_contact(client, db):
    first = Phone(client, "+266696687")
    menu = first.dial()
    first.press(menu_key(menu, "Feeling safe"))
    first.press("2")  # Welsh
    second = Phone(client, "anonymous")
    menu = second.dial()
    languages = second.press(menu_key(menu, "Feeling safe"))
    # The second caller is asked for a language: nothing of the first caller's is theirs.
    assert "For English, press 1." in languages.text
    second.press("1")
    with db.session() as s:
        addresses = sorted(a.address for a in s.scalars(select(Address).where(Address.channel == "voice")))
        assert addresses == sorted([f"withheld:{first.sid}", f"withheld:{second.sid}"])


def test_wales_mode_offers_welsh_first(app, client, db):
    from dataclasses import replace

    services = app.extensions["outreach"]
    services.settings = replace(services.settings, welsh_first=True)
    phone = Phone(client, CALLER)
    menu = phone.dial()
    languages = phone.press(menu_key(menu, "Feeling safe"))
    assert languages.says[0][:2] == ("I gael Cymraeg, pwyswch 1.", "cy-GB")
    assert "Pa mor ddiogel" in phone.press("1").text


def test_a_call_is_a_run_like_any_other_in_the_results_by_channel(client, db, services):
    from engage import results
    from tests.support.twilio_fake import load_fixture

    phone = Phone(client, CALLER)
    menu = phone.dial()
    phone.press(menu_key(menu, "Feeling safe"))
    phone.press("1")
    phone.press("1")
    for n, body in enumerate(("SAFE", "3")):
        sid = f"SM{n:032x}"
        form = {**load_fixture("sms_keyword.json"), "Body": body, "MessageSid": sid, "SmsMessageSid": sid,
                "SmsSid": sid, "From": "+447400999888"}
        assert post_signed(client, "/webhooks/twilio/sms", form).status_code == 200
    flow = services.registry.get("street-safety")
    step = next(step for step in results.steps_of(flow) if step.id == "feel_safe")
    with db.session() as s:
        by_channel = results.breakdown(s, "street-safety", step, "channel")
        voice_only = results.question_result(s, "street-safety", step, results.Filters(channel="voice"))
    assert {row["group"]: row["total"] for row in by_channel["rows"]} == {"sms": 1, "voice": 1}
    assert {c.value: c.count for c in voice_only.counts}["safe"] == 1
    assert {c.value: c.count for c in voice_only.counts}["unsure"] == 0
