"""Classifying Updates: pure, no database, one case per shape."""
from __future__ import annotations

import pytest

from tests.support.telegram_fake import fixture, text_update
from webhooks.telegram.updates import (
    Ignored,
    MalformedUpdate,
    MembershipChanged,
    ResidentMessage,
    UnknownUpdate,
    classify_update,
)

FLOWS = {"street-safety": "street-safety", "SAFE": "street-safety"}


def resolve(parameter: str) -> str | None:
    return FLOWS.get(parameter)


def classify(update):
    return classify_update(update, resolve)


def test_a_photo_with_a_caption_is_read_as_its_caption():
    update = fixture("photo")
    update["message"]["caption"] = "The broken light on Station Road"
    result = classify(update)
    assert isinstance(result, ResidentMessage)
    assert (result.text, "non_text" in result.payload) == ("The broken light on Station Road", False)


def test_a_command_addressed_to_the_bot_by_name_is_still_the_command():
    result = classify(text_update(1, 42, "/start@harlow_outreach_bot SAFE"))
    assert result.payload["start_flow"] == "street-safety"


def test_an_unknown_deep_link_is_a_plain_start():
    result = classify(text_update(1, 42, "/start no-such-flow"))
    assert (result.text, result.payload["start_param"]) == ("/start", "no-such-flow")
    assert "start_flow" not in result.payload


def test_an_unsupported_telegram_language_gives_no_hint():
    assert "language_hint" not in classify(text_update(1, 42, "hi", language_code="de")).payload
    assert classify(text_update(1, 42, "hi", language_code="pt-br")).payload["language_hint"] == "pt"


def test_messages_from_bots_are_ignored():
    update = text_update(1, 42, "SAFE")
    update["message"]["from"]["is_bot"] = True
    assert isinstance(classify(update), Ignored)


def test_a_button_this_service_did_not_make_is_ignored():
    update = fixture("callback_query")
    update["callback_query"]["data"] = "something-else"
    assert isinstance(classify(update), Ignored)


def test_a_number_button_is_stored_as_the_number_for_matching():
    update = fixture("callback_query")
    update["callback_query"]["data"] = "a:1:feel_safe:#2"
    result = classify(update)
    assert (result.text, "choice" in result.payload, result.payload["button_step"]) == ("2", False, "feel_safe")


def test_the_bot_being_blocked_is_a_membership_change():
    assert classify(fixture("bot_blocked")) == MembershipChanged(815290008, "5550001111", "kicked")


@pytest.mark.parametrize("body", [[], {"update_id": "7", "message": {}}, {"update_id": 7},
                                  {"update_id": 7, "message": {"text": "no chat"}}])
def test_what_is_not_an_update_is_malformed(body):
    with pytest.raises(MalformedUpdate):
        classify(body)


def test_an_unknown_type_is_named():
    with pytest.raises(UnknownUpdate) as caught:
        classify(fixture("unknown_update"))
    assert caught.value.update_type == "paid_media_purchase_future_type"
