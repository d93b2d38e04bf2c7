"""The same question rendered for SMS, Telegram and web chat, side by side."""
from __future__ import annotations

import json

import pytest

from bot.render import (
    CALLBACK_LIMIT,
    callback_data,
    parse_callback_data,
    render_sms,
    render_telegram,
    render_web,
)

CHOICE = {
    "type": "question", "text": "How safe do you feel walking in your area after dark?",
    "intro": [], "question": "How safe do you feel walking in your area after dark?",
    "kind": "choice", "choices": [
        {"number": 1, "value": "safe", "label": "Safe"},
        {"number": 2, "value": "unsafe", "label": "Unsafe"},
        {"number": 3, "value": "unsure", "label": "Not sure"},
    ],
    "optional": False, "hints": {}, "reprompt": False, "lang": "en",
    "run_id": 5, "flow_id": "street-safety", "step_id": "feel_safe",
}


def question(**changes):
    return {**CHOICE, **changes}


def test_a_choice_question_in_all_three_channels():
    sms = render_sms(CHOICE, "en")
    text, markup = render_telegram(CHOICE, "en")
    web = render_web(CHOICE, "en")

    assert sms == ("How safe do you feel walking in your area after dark?\n\n"
                   "1. Safe\n2. Unsafe\n3. Not sure\n\nReply 1, 2 or 3")
    assert text == "How safe do you feel walking in your area after dark?"
    assert markup == {"inline_keyboard": [
        [{"text": "Safe", "callback_data": "a:5:feel_safe:safe"}],
        [{"text": "Unsafe", "callback_data": "a:5:feel_safe:unsafe"}],
        [{"text": "Not sure", "callback_data": "a:5:feel_safe:unsure"}],
    ]}
    assert web["text"] == text
    assert [(b["label"], b["value"]) for b in web["buttons"]] == [
        ("Safe", "safe"), ("Unsafe", "unsafe"), ("Not sure", "unsure")]
    assert (web["kind"], web["multiple"], web["optional"], web["step_id"]) == ("choice", False, False, "feel_safe")


def test_an_optional_yes_no_question_offers_a_skip_everywhere():
    payload = question(kind="yes_no", choices=[], optional=True, text="Do you use the bus?")
    assert render_sms(payload, "en") == "Do you use the bus?\n\nReply YES or NO\nReply SKIP to skip"
    text, markup = render_telegram(payload, "en")
    assert text == "Do you use the bus?"
    assert [row[0]["text"] for row in markup["inline_keyboard"]] == ["Yes", "No", "Skip"]
    answers = [parse_callback_data(row[0]["callback_data"]).as_inbound() for row in markup["inline_keyboard"]]
    assert answers == [{"text": "yes", "choice": "yes"}, {"text": "no", "choice": "no"},
                       {"text": "SKIP", "choice": None}]
    web = render_web(payload, "en")
    assert [b["value"] for b in web["buttons"]] == ["yes", "no"]
    assert web["optional"] is True and web["skip_label"] == "Skip"


def test_a_scale_question_gives_its_range_and_point_labels():
    payload = question(kind="scale", choices=[], text="How would you rate the park?",
                       hints={"min": 1, "max": 5, "labels": {"1": "Very poor", "5": "Very good"}})
    assert render_sms(payload, "en") == ("How would you rate the park?\n\n1 = Very poor\n5 = Very good\n\n"
                                         "Reply a number from 1 to 5")
    _text, markup = render_telegram(payload, "en")
    row = markup["inline_keyboard"][0]
    assert [b["text"] for b in row] == ["1 Very poor", "2", "3", "4", "5 Very good"]
    assert [parse_callback_data(b["callback_data"]).value for b in row] == ["1", "2", "3", "4", "5"]
    assert [b["value"] for b in render_web(payload, "en")["buttons"]] == ["1", "2", "3", "4", "5"]


def test_a_multiple_choice_question_is_answered_by_numbers_on_sms_and_telegram():
    payload = question(kind="multiple", text="Which of these worry you?")
    sms = render_sms(payload, "en")
    assert sms.endswith("1. Safe\n2. Unsafe\n3. Not sure\n\nReply with the numbers of all that apply, for example 1 2")
    text, markup = render_telegram(payload, "en")
    assert "3. Not sure" in text and markup is None
    web = render_web(payload, "en")
    assert web["multiple"] is True and len(web["buttons"]) == 3


def test_free_text_and_plain_messages_have_no_options():
    payload = question(kind="text", choices=[], text="Where?")
    assert render_sms(payload, "en") == "Where?"
    assert render_telegram(payload, "en") == ("Where?", None)
    plain = {"type": "text", "text": "Thank you.", "lang": "en"}
    assert render_sms(plain, "en") == "Thank you."
    assert render_telegram(plain, "en") == ("Thank you.", None)
    assert render_web(plain, "en")["buttons"] == []


def test_the_skip_word_is_the_one_the_engine_gives():
    payload = question(kind="text", choices=[], optional=True, text="Anything else?", lang="cy",
                       hints={"skip_word": "NEIDIO"})
    assert "NEIDIO" in render_sms(payload, "cy").splitlines()[-1]


def test_a_number_question_with_bounds():
    payload = question(kind="number", choices=[], text="How many people live with you?", hints={"min": 0, "max": 20})
    assert render_sms(payload, "en").endswith("Reply with a number from 0 to 20")


def test_welsh_wrapper_words_come_from_the_catalog():
    assert render_sms(CHOICE, "cy").splitlines()[-1] == "Atebwch 1, 2 neu 3"


def test_an_untranslated_wrapper_falls_back_to_english_rather_than_failing():
    assert render_sms(CHOICE, "xx").splitlines()[-1] == "Reply 1, 2 or 3"


# A value that would not fit in 64 bytes, or that looks like a marker of ours ("#" a number, "!" a skip), is
# sent as its number and read back as the resident's reply "2".
@pytest.mark.parametrize("value, fits", [("x" * 80, False), ("ŵ" * 40, False), ("a:b:c", True), ("#3", False),
                                         ("!skip", False)])
def test_callback_data_stays_within_64_bytes_and_reads_back(value, fits):
    choices = [{"number": 1, "value": "short", "label": "Short"}, {"number": 2, "value": value, "label": "Long"}]
    payload = question(choices=choices, step_id="a_rather_long_step_identifier_for_the_question", run_id=123456789)
    _text, markup = render_telegram(payload, "en")
    for row in markup["inline_keyboard"]:
        data = row[0]["callback_data"]
        assert len(data.encode("utf-8")) <= CALLBACK_LIMIT
        answer = parse_callback_data(data)
        assert answer.run_id == 123456789
        assert answer.is_for_step("a_rather_long_step_identifier_for_the_question")
        assert not answer.is_for_step("another_step")
    long_answer = parse_callback_data(markup["inline_keyboard"][1][0]["callback_data"])
    if fits:
        assert (long_answer.value, long_answer.as_inbound()) == (value, {"text": value, "choice": value})
    else:
        assert long_answer.as_inbound() == {"text": "2", "choice": None}


def test_parse_callback_data_refuses_anything_it_did_not_make():
    for data in ["", "a:1:step", "b:1:step:x", "a:x:step:y", "a:1::y", "a:1:s:#x"]:
        assert parse_callback_data(data) is None
    assert parse_callback_data(callback_data(7, "q:1", "yes")).is_for_step("q:1")


def test_renderings_are_json_safe():
    json.dumps(render_telegram(CHOICE, "en"))
    json.dumps(render_web(CHOICE, "en"))
