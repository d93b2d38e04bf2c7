"""Questions as TwiML (pure), keys read back as answers, voices per language, and calling hours."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from twilio.twiml.voice_response import VoiceResponse

from bot import twilio_voice as tv
from engage.calling_hours import in_calling_hours, next_calling_time, parse_hours

VOICES = tv.DEFAULT_VOICE_SETTINGS
LONDON = ZoneInfo("Europe/London")


def question(kind, **extra):
    payload = {"type": "question", "kind": kind, "question": "Q?", "intro": [], "choices": [], "hints": {},
               "lang": "en", "run_id": 1, "step_id": "s"}
    payload.update(extra)
    return payload


def choices(n):
    return [{"number": i, "value": f"v{i}", "label": f"Option {i}"} for i in range(1, n + 1)]


def render(payload, lang="en", voices=VOICES, **kwargs):
    xml = str(tv.question_twiml(VoiceResponse(), payload, lang, "/webhooks/twilio/voice?m=q&t=2", voices, **kwargs))
    return ET.fromstring(xml)


def test_a_short_choice_is_one_key_with_each_option_spoken_and_silence_redirects():
    root = render(question("choice", choices=choices(3)))
    gather = root.find("Gather")
    assert gather.get("numDigits") == "1" and gather.get("input") == "dtmf"
    says = [s.text for s in gather.iter("Say")]
    assert says[:4] == ["Q?", "Press 1 for Option 1.", "Press 2 for Option 2.", "Press 3 for Option 3."]
    assert root.find("Redirect").text == "/webhooks/twilio/voice?m=q&t=2&e=1"


def test_a_long_list_multiple_choice_and_numbers_are_keyed_with_hash_and_commands_take_a_star():
    for payload in (question("choice", choices=choices(8)), question("multiple", choices=choices(3)),
                    question("number", hints={"min": 0, "max": 120})):
        gather = render(payload).find("Gather")
        assert gather.get("finishOnKey") == "#" and gather.get("numDigits") is None
        assert tv.answer_mode(payload, VOICES, "en") == "keys"
        assert tv.command_of("9", "keys") is None and tv.command_of("*9", "keys") == tv.REPEAT


def test_yes_no_and_scale_labels_in_words():
    labels = {"yes_no_labels": {"yes": "Yes", "no": "No"}}
    yes_no = [s.text for s in render(question("yes_no", hints=labels)).iter("Say")]
    assert "Press 1 for Yes, or 2 for No." in yes_no
    scale = [s.text for s in render(question("scale", hints={"min": 1, "max": 5,
                                                             "labels": {"1": "Not at all", "5": "Very"}})).iter("Say")]
    assert "1 means Not at all." in scale and "Key in a number from 1 to 5, then press the hash key." in scale


def test_free_text_is_taken_by_speech_in_the_language_where_twilio_recognises_it():
    gather = render(question("text", lang="pl"), lang="pl").find("Gather")
    assert gather.get("input") == "dtmf speech" and gather.get("language") == "pl-PL"
    assert gather.get("speechTimeout") == "auto"


def test_free_text_without_speech_recognition_is_explained_and_offered_by_text_only_to_a_mobile():
    mobile = render(question("text", lang="cy"), lang="cy", mobile=True, offer_action="/x?m=offer")
    assert mobile.find("Gather").get("action") == "/x?m=offer"
    landline = render(question("text", lang="cy"), lang="cy", mobile=False, offer_action="/x?m=offer")
    assert landline.find("Gather") is None and landline.find("Redirect").text == "/x?m=offer&d=2"


def test_each_language_speaks_in_its_own_voice_and_a_council_may_change_or_add_one():
    assert VOICES.spoken("cy") == ("Polly.Gwyneth", "cy-GB")
    assert not VOICES.has_voice("so")
    custom = tv.VoiceSettings.from_settings(SimpleNamespace(voice_voices="cy=Google.cy-GB-Standard-A,so=X:so-SO,en=",
                                                            voice_speech_languages="cy=cy-GB,pl="))
    assert custom.spoken("cy") == ("Google.cy-GB-Standard-A", "cy-GB")
    assert custom.has_voice("so") and not custom.has_voice("en")
    assert custom.speech["cy"] == "cy-GB" and "pl" not in custom.speech


def test_keys_are_read_back_as_the_options_exact_values_and_wrong_keys_pass_as_typed():
    payload = question("choice", choices=choices(3))
    assert tv.reply_from_keys(payload, "2", None) == {"text": "2", "choice": "v2"}
    assert tv.reply_from_keys(payload, "7", None) == {"text": "7", "choice": None}
    assert tv.reply_from_keys(question("yes_no"), "2", None)["choice"] == "no"
    assert tv.reply_from_keys(question("multiple", choices=choices(3)), "13", None)["choice"] == ["v1", "v3"]
    assert tv.reply_from_keys(question("text"), None, " Station Road ") == {"text": "Station Road", "choice": None}
    assert tv.command_of("8", "key") == tv.STOP and tv.command_of("0", "key") == tv.MENU


def test_the_language_menu_speaks_each_option_in_its_own_language_and_voice():
    root = ET.fromstring(str(tv.language_menu(VoiceResponse(), ["en", "cy", "pl"], "/v?m=lang", VOICES)))
    says = [(s.text, s.get("language"), s.get("voice")) for s in root.iter("Say")]
    assert says == [("For English, press 1.", "en-GB", "Polly.Amy-Neural"),
                    ("I gael Cymraeg, pwyswch 2.", "cy-GB", "Polly.Gwyneth"),
                    ("Po polsku naciśnij 3.", "pl-PL", "Polly.Ola-Neural")]


def test_a_machine_hears_who_called_and_the_number_read_digit_by_digit():
    root = ET.fromstring(str(tv.voicemail_twiml("Harlow Council", "+441279446000", "en", VOICES)))
    assert [s.text for s in root.iter("Say")] == [
        "This is Harlow Council with a short survey. Please call us back on 0 1 2 7 9 4 4 6 0 0 0. Thank you."]
    assert root.find("Gather") is None and root.find("Hangup") is not None


def test_mobiles_and_landlines_are_told_apart():
    assert tv.is_mobile("+447400123456") and not tv.is_mobile("+441279000111")
    assert tv.is_landline("+441279000111") and not tv.is_landline("+447400123456")


def local(*args):
    return datetime(*args, tzinfo=LONDON).astimezone(timezone.utc)


@pytest.mark.parametrize("when, allowed", [
    (local(2026, 12, 2, 9, 59), False), (local(2026, 12, 2, 10, 0), True), (local(2026, 12, 2, 18, 59), True),
    (local(2026, 12, 2, 19, 0), False), (local(2026, 12, 5, 12, 0), True), (local(2026, 12, 6, 12, 0), False),
])
def test_calling_hours_default_to_ten_till_seven_and_never_sunday(when, allowed):
    assert in_calling_hours(when, "Europe/London") is allowed


def test_the_next_opening_skips_sunday_and_keeps_local_time_across_the_clock_change():
    saturday_evening = local(2026, 12, 5, 20, 0)
    assert next_calling_time(saturday_evening, "Europe/London") == local(2026, 12, 7, 10, 0)
    # The night British Summer Time ends (25 October 2026, a Sunday): Monday opens at 10:00 local.
    assert next_calling_time(local(2026, 10, 24, 19, 30), "Europe/London") == local(2026, 10, 26, 10, 0)
    assert next_calling_time(local(2026, 12, 2, 8, 0), "Europe/London", "09:00-12:00") == local(2026, 12, 2, 9, 0)


def test_calling_hours_that_do_not_read_as_hours_are_refused():
    for spec in ("10-19", "19:00-10:00", "ten:00-19:00"):
        with pytest.raises(ValueError):
            parse_hours(spec)
