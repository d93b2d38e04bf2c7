"""Telegram: old links say they are out of date, and answer buttons go once their question is answered."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from store.models import Answer, InboundMessage, OutboxMessage, Run
from tests.support.telegram_fake import button_press, drain_outbox, post_update, text_update

CHAT = 5550007777


def sent(fake_telegram, chat: int = CHAT) -> list[dict]:
    return fake_telegram.fake.sent_messages(str(chat))


def keyboards(fake_telegram, chat: int = CHAT) -> list[bool]:
    """For each message sent to the chat, whether it still shows buttons."""
    return ["reply_markup" in m for m in sent(fake_telegram, chat)]


def answers(db) -> dict:
    with db.session() as s:
        return {a.step_id: a.value for a in s.scalars(select(Answer))}


# ----- 3. /start with a link that names nothing ------------------------------------------------------------


def test_an_unknown_link_from_a_new_chat_says_it_is_out_of_date_and_lists_what_is_open(
        client, services, db, fake_telegram):
    assert post_update(client, text_update(710001, CHAT, "/start old-poster-2025")).status_code == 200
    drain_outbox(services)
    [message] = sent(fake_telegram)
    text = message["text"]
    assert "out of date" in text
    assert "SAFE" in text and "Harlow Council" in text
    assert "Welcome back" not in text
    with db.session() as s:
        assert s.scalar(select(Run.id)) is None


def test_an_unknown_link_from_a_chat_we_know_says_the_same_in_their_language(client, services, db, fake_telegram):
    post_update(client, text_update(710010, CHAT, "hello", language_code="cy"))
    post_update(client, text_update(710011, CHAT, "/start hen-boster", language_code="cy"))
    drain_outbox(services)
    text = sent(fake_telegram)[-1]["text"]
    assert "wedi dyddio" in text and "DIOGEL" in text and "SAFE" not in text  # the Welsh keyword
    assert "Croeso nôl" not in text  # not Welsh "welcome back"


def test_a_new_chats_plain_start_is_welcomed_not_welcomed_back(client, services, db, fake_telegram):
    post_update(client, text_update(710020, CHAT, "/start"))
    drain_outbox(services)
    [message] = sent(fake_telegram)
    assert message["text"].startswith("Welcome.") and "out of date" not in message["text"]


# ----- 5. keyboards go once the question is answered ------------------------------------------------------
# Each in both modes: the web acting on the update (embedded), and a worker acting on a batch (scaled), where
# the worker's turn queues the pressed keyboard's removal and this turn's question waits in the batch.
BOTH_MODES = pytest.mark.parametrize("app_config", [{}, {"inbound_processing": "worker"}], indirect=True,
                                     ids=["web", "worker"])


def deliver(client, services, update) -> None:
    """Post an Update as Telegram does; in scaled mode, let a worker act on what is waiting."""
    assert post_update(client, update).status_code == 200
    if not services.settings.inbound_in_web:
        services.conversations.process_waiting()
    drain_outbox(services)


def start(client, services, fake_telegram) -> None:
    deliver(client, services, text_update(720001, CHAT, "SAFE"))
    assert keyboards(fake_telegram) == [True]


@BOTH_MODES
def test_typing_the_answer_takes_the_buttons_away(client, services, db, fake_telegram):
    start(client, services, fake_telegram)
    deliver(client, services, text_update(720002, CHAT, "I feel unsafe at night"))
    assert answers(db) == {"feel_safe": "unsafe"}
    assert keyboards(fake_telegram) == [False, False]  # the answered question, then the text question
    deliver(client, services, text_update(720003, CHAT, "Harlow Road"))
    assert keyboards(fake_telegram) == [False, False, True]  # only the waiting question has buttons
    with db.session() as s:
        rows = s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "keyboard")).all()
    assert [(r.status, r.payload["message_id"]) for r in rows] == [("sent", sent(fake_telegram)[0]["message_id"])]


@BOTH_MODES
def test_a_question_asked_again_keeps_only_the_newest_buttons(client, services, db, fake_telegram):
    start(client, services, fake_telegram)
    deliver(client, services, text_update(720012, CHAT, "purple"))
    assert keyboards(fake_telegram) == [False, True]
    deliver(client, services, text_update(720013, CHAT, "1"))
    assert keyboards(fake_telegram) == [False, False, True]  # on to the age question


@BOTH_MODES
def test_a_press_still_clears_its_own_keyboard_once(client, services, db, fake_telegram):
    start(client, services, fake_telegram)
    [question] = sent(fake_telegram)
    deliver(client, services, button_press(720021, CHAT, question, "Safe"))
    assert keyboards(fake_telegram) == [False, True]
    assert len(fake_telegram.fake.calls_for(str(CHAT), "editMessageReplyMarkup")) == 1
    with db.session() as s:
        assert s.scalar(select(OutboxMessage.id).where(OutboxMessage.status != "sent")) is None


@pytest.mark.parametrize("app_config", [{"inbound_processing": "worker"}], indirect=True)
def test_answers_typed_ahead_into_one_worker_batch_clear_each_keyboard_once(client, services, db, fake_telegram):
    """Several answers of one chat acted on in one batch: each earlier keyboard is queued for clearing
    once, and only the question left waiting keeps its buttons."""
    start(client, services, fake_telegram)
    for update_id, text in ((720041, "purple"), (720042, "1")):
        assert post_update(client, text_update(update_id, CHAT, text)).status_code == 200
    services.conversations.batch_seconds = 600
    assert services.conversations.process_waiting() == 2
    with db.session() as s:
        rows = s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "keyboard")).all()
    assert [r.payload["message_id"] for r in rows] == [sent(fake_telegram)[0]["message_id"]]
    drain_outbox(services)
    assert answers(db)["feel_safe"] == "safe"
    # The re-asked question was written in the batch, unsent, so it is cleared by the next turn; the
    # age question waits with its buttons.
    assert keyboards(fake_telegram) == [False, True, True]
    deliver(client, services, text_update(720043, CHAT, "2"))
    assert keyboards(fake_telegram)[:3] == [False, False, False]


def test_a_late_reply_to_an_expired_run_takes_the_buttons_away(client, services, db, fake_telegram, clock):
    start(client, services, fake_telegram)
    clock.advance(hours=49)
    post_update(client, text_update(720031, CHAT, "2"))
    drain_outbox(services)
    assert keyboards(fake_telegram) == [False, False]
    assert "reply SAFE" in sent(fake_telegram)[-1]["text"]
    with db.session() as s:
        assert s.scalar(select(InboundMessage.status).order_by(InboundMessage.id.desc()).limit(1)) == "processed"
