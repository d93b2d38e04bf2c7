"""The web channel keeps the Channel contract: every payload is 'sent', each with its own provider id."""
from __future__ import annotations

from bot.channel import SendResult
from bot.webchat import WebChatChannel, is_message_id, new_session_token, start_message_id

QUESTION = {"type": "question", "text": "How old are you?", "kind": "choice", "lang": "en", "run_id": 1,
            "step_id": "age", "choices": [{"number": 1, "value": "under_18", "label": "Under 18"}]}


def test_sending_marks_each_message_sent_with_a_fresh_id():
    channel = WebChatChannel()
    results = [channel.send("token", payload, "en") for payload in (QUESTION, {"type": "text", "text": "Hi"})]
    assert all(isinstance(r, SendResult) and r.status == "sent" for r in results)
    assert len({r.provider_id for r in results}) == 2
    assert channel.name == "web"


def test_session_tokens_are_long_random_and_distinct():
    tokens = {new_session_token() for _ in range(50)}
    assert len(tokens) == 50
    assert all(len(t) == 32 for t in tokens)


def test_a_sessions_start_id_is_the_same_every_time_and_differs_per_flow():
    assert start_message_id("t", "street-safety") == start_message_id("t", "street-safety")
    assert start_message_id("t", "street-safety") != start_message_id("t", "climate-pulse")
    assert start_message_id("t", "a") != start_message_id("u", "a")


def test_message_ids_must_be_uuids():
    assert is_message_id("1b4e28ba-2fa1-11d2-883f-0016d3cca427")
    assert not is_message_id("'; drop table inbound_messages; --")
    assert not is_message_id(None)
