"""POST /webhooks/telegram: the secret, storing once, and one test per Update fixture."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from store.models import (
    CONSENT_OPTED_OUT,
    Address,
    Answer,
    Contact,
    InboundMessage,
    OutboxMessage,
    Run,
)
from tests.support.statements import selects_while
from tests.support.telegram_fake import (
    SECRET,
    button_press,
    drain_outbox,
    fixture,
    post_update,
    text_update,
)

RHIAN = "5550001111"
DAFYDD = "5550002222"


def inbound_rows(db):
    with db.session() as s:
        return s.scalars(select(InboundMessage).order_by(InboundMessage.id)).all()


def outbox_rows(db):
    with db.session() as s:
        return s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()


def count(db, model) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(model))


def start_street_safety(client, services, chat_id: int = int(RHIAN)):
    """Start the flow by keyword from a chat and send the first question through the fake."""
    assert post_update(client, text_update(700001, chat_id, "SAFE")).status_code == 200
    drain_outbox(services)


# ----- the secret ----------------------------------------------------------------------------------


def test_a_request_without_the_secret_is_refused_and_stores_nothing(client, db):
    response = post_update(client, fixture("text_message"), secret=None)
    assert response.status_code == 403
    assert count(db, InboundMessage) == 0


def test_a_forged_secret_is_refused_and_stores_nothing(client, db):
    response = post_update(client, fixture("text_message"), secret=SECRET + "x")
    assert response.status_code == 403
    assert count(db, InboundMessage) == 0
    assert count(db, Contact) == 0


def test_with_no_secret_configured_everything_is_refused(app_config, db):
    from app import create_app

    app = create_app({**app_config, "telegram_secret": ""})
    response = post_update(app.test_client(), fixture("text_message"), secret="")
    assert response.status_code == 403
    assert count(db, InboundMessage) == 0


def test_a_body_that_is_not_an_update_is_a_clear_400(client, db):
    response = client.post("/webhooks/telegram", data="[1, 2]", content_type="application/json",
                           headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
    assert response.status_code == 400
    assert "update_id" in response.get_json()["error"]
    assert count(db, InboundMessage) == 0


# ----- one test per fixture ------------------------------------------------------------------------


def test_text_message_is_stored_and_starts_the_flow(client, services, db, fake_telegram):
    assert post_update(client, fixture("text_message")).status_code == 200
    [row] = inbound_rows(db)
    assert (row.channel, row.provider_id, row.address, row.text, row.status) == (
        "telegram", "815290001", RHIAN, "SAFE", "processed")
    assert row.payload["language_hint"] == "en"
    drain_outbox(services)
    [sent] = fake_telegram.fake.sent_messages(RHIAN)
    assert sent["text"].startswith("How safe do you feel")
    labels = [b["text"] for r in sent["reply_markup"]["inline_keyboard"] for b in r]
    assert labels == ["Safe", "Unsafe", "Not sure"]
    assert outbox_rows(db)[0].provider_id == str(sent["message_id"])


def test_callback_query_records_the_choice_and_clears_the_keyboard(client, services, db, fake_telegram):
    start_street_safety(client, services)
    with db.session() as s:
        run_id = s.scalar(select(Run.id))
    # The fixture's buttons belong to run 1; point them at this test's run.
    update = json.loads(json.dumps(fixture("callback_query")).replace("a:1:", f"a:{run_id}:"))
    response = post_update(client, update)
    assert response.status_code == 200
    with db.session() as s:
        answer = s.scalar(select(Answer))
        assert (answer.step_id, answer.value, answer.raw_text, answer.channel) == (
            "feel_safe", "unsafe", "Unsafe", "telegram")
        assert s.scalar(select(Run.current_step)) == "where"
    # The press is answered in the webhook's own response (Telegram makes that call), not by a call of ours.
    assert response.get_json() == {"method": "answerCallbackQuery", "callback_query_id": "4382bfdwdsb323b2d9",
                                   "text": "✓ Unsafe"}
    assert fake_telegram.fake.calls_of("answerCallbackQuery") == []
    [edit] = fake_telegram.fake.calls_for(RHIAN, "editMessageReplyMarkup")
    assert edit.params["message_id"] == 1
    assert "reply_markup" not in fake_telegram.fake.sent_messages(RHIAN)[0]


def test_edited_message_is_ignored_and_stores_nothing(client, db):
    response = post_update(client, fixture("edited_message"))
    assert response.status_code == 200
    assert count(db, InboundMessage) == 0


def test_sticker_gets_a_polite_request_for_text(client, services, db, fake_telegram):
    assert post_update(client, fixture("sticker")).status_code == 200
    [row] = inbound_rows(db)
    assert (row.text, row.payload["non_text"], row.status) == (None, "sticker", "processed")
    drain_outbox(services)
    [sent] = fake_telegram.fake.sent_messages(RHIAN)
    assert "type your answer" in sent["text"]


def test_photo_without_a_caption_gets_a_polite_request_for_text(client, services, db, fake_telegram):
    assert post_update(client, fixture("photo")).status_code == 200
    [row] = inbound_rows(db)
    assert row.payload["non_text"] == "photo"
    drain_outbox(services)
    assert "type your answer" in fake_telegram.fake.sent_messages(RHIAN)[0]["text"]


def test_group_message_is_ignored(client, db):
    assert post_update(client, fixture("group_message")).status_code == 200
    assert count(db, InboundMessage) == 0
    assert count(db, Contact) == 0


def test_bot_blocked_marks_the_chat_unusable_and_nothing_more_is_sent(client, services, db, fake_telegram):
    start_street_safety(client, services)
    assert post_update(client, fixture("bot_blocked")).status_code == 200
    with db.session() as s:
        address = s.scalar(select(Address))
        assert (address.usable, address.unusable_reason) == (False, "telegram: the resident blocked the bot")
    # A reply queued later is refused by the consent check, never sent.
    post_update(client, text_update(700002, int(RHIAN), "1"))
    drain_outbox(services)
    assert len(fake_telegram.fake.sent_messages(RHIAN)) == 1
    assert count(db, InboundMessage) == 2


def test_unblocking_makes_the_chat_usable_again(client, services, db):
    start_street_safety(client, services)
    post_update(client, fixture("bot_blocked"))
    unblocked = fixture("bot_blocked")
    unblocked["update_id"] += 100
    change = unblocked["my_chat_member"]
    change["old_chat_member"]["status"], change["new_chat_member"]["status"] = "kicked", "member"
    post_update(client, unblocked)
    with db.session() as s:
        assert s.scalar(select(Address.usable)) is True


def test_start_with_payload_starts_that_flow_in_the_residents_language(client, services, db, fake_telegram):
    assert post_update(client, fixture("start_with_payload")).status_code == 200
    [row] = inbound_rows(db)
    assert (row.text, row.payload["start_flow"], row.payload["language_hint"]) == (
        "/start street-safety", "street-safety", "cy")
    with db.session() as s:
        run = s.scalar(select(Run))
        assert (run.flow_id, run.language, run.started_by) == ("street-safety", "cy", "telegram")
        assert s.scalar(select(Contact.language)) == "cy"
    drain_outbox(services)
    [sent] = fake_telegram.fake.sent_messages(DAFYDD)
    assert sent["text"].startswith("Pa mor ddiogel")
    assert [b["text"] for r in sent["reply_markup"]["inline_keyboard"] for b in r] == [
        "Diogel", "Anniogel", "Ddim yn siŵr"]


def test_stop_command_opts_the_chat_out(client, services, db, fake_telegram):
    start_street_safety(client, services)
    assert post_update(client, fixture("stop_command")).status_code == 200
    with db.session() as s:
        assert s.scalar(select(Address.consent)) == CONSENT_OPTED_OUT
        assert s.scalar(select(Run.status)) == "ended"
    drain_outbox(services)
    assert "no more messages" in fake_telegram.fake.sent_messages(RHIAN)[-1]["text"]


def test_help_command_answers_with_help(client, services, db, fake_telegram):
    assert post_update(client, fixture("help_command")).status_code == 200
    drain_outbox(services)
    [sent] = fake_telegram.fake.sent_messages(RHIAN)
    assert "Harlow Council" in sent["text"]


def test_language_command_shows_a_keyboard_of_every_language(client, services, db, fake_telegram):
    assert post_update(client, fixture("language_command")).status_code == 200
    drain_outbox(services)
    [sent] = fake_telegram.fake.sent_messages(RHIAN)
    buttons = [b for r in sent["reply_markup"]["inline_keyboard"] for b in r]
    assert [b["callback_data"] for b in buttons] == [
        f"lang:{c}" for c in ("en", "cy", "pl", "ro", "pa", "ur", "bn", "pt", "ar", "so")]
    assert buttons[1]["text"] == "Cymraeg"


def test_language_choice_sets_the_contacts_language(client, services, db, fake_telegram):
    response = post_update(client, fixture("language_choice"))
    assert response.status_code == 200
    [row] = inbound_rows(db)
    assert (row.text, row.payload["set_language"]) == ("Cymraeg", "cy")
    with db.session() as s:
        assert s.scalar(select(Contact.language)) == "cy"
    assert response.get_json()["method"] == "answerCallbackQuery"
    drain_outbox(services)
    assert "Cymraeg" in fake_telegram.fake.sent_messages(RHIAN)[-1]["text"]
    # A keyword now starts the flow in Welsh.
    post_update(client, text_update(700003, int(RHIAN), "SAFE"))
    with db.session() as s:
        assert s.scalar(select(Run.language)) == "cy"


def test_channel_post_is_ignored(client, db):
    assert post_update(client, fixture("channel_post")).status_code == 200
    assert count(db, InboundMessage) == 0


def test_unknown_update_type_is_answered_200_and_logged_without_its_content(client, db, caplog):
    response = post_update(client, fixture("unknown_update"))
    assert response.status_code == 200
    assert count(db, InboundMessage) == 0
    assert "paid_media_purchase_future_type" in caplog.text
    assert "Rhian" not in caplog.text


# ----- exactly once ----------------------------------------------------------------------------------


def test_a_repeated_button_press_delivery_stores_and_answers_once(client, services, db, fake_telegram):
    start_street_safety(client, services)
    [question] = fake_telegram.fake.sent_messages(RHIAN)
    press = button_press(900001, int(RHIAN), question, "Safe")
    responses = [post_update(client, press) for _ in range(2)]
    assert [r.status_code for r in responses] == [200, 200]
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Answer)) == 1
        assert s.scalar(select(Answer.value)) == "safe"
        assert s.scalar(select(Run.current_step)) == "age"
    assert count(db, InboundMessage) == 2
    # Answered once: by the first delivery's response; the repeat is only acknowledged.
    assert [r.get_json().get("method") for r in responses] == ["answerCallbackQuery", None]
    assert fake_telegram.fake.calls_of("answerCallbackQuery") == []
    drain_outbox(services)
    assert fake_telegram.fake.sent_messages(RHIAN)[-1]["text"].startswith("How old are you?")


def test_a_press_on_an_earlier_questions_keyboard_is_not_taken_as_the_current_answer(client, services, db,
                                                                                      fake_telegram):
    start_street_safety(client, services)
    [question] = fake_telegram.fake.sent_messages(RHIAN)
    post_update(client, text_update(700010, int(RHIAN), "1"))  # typed instead of pressing
    post_update(client, button_press(900002, int(RHIAN), question, "Unsafe", query_id="cbq-2"))
    with db.session() as s:
        assert {a.step_id: a.value for a in s.scalars(select(Answer))} == {"feel_safe": "safe"}
        assert s.scalar(select(Run.current_step)) == "age"
    drain_outbox(services)
    assert "earlier question" in fake_telegram.fake.sent_messages(RHIAN)[-1]["text"]


def test_a_welsh_speaker_gets_welsh_without_asking(client, services, db, fake_telegram):
    post_update(client, text_update(700020, 5550003333, "SAFE", language_code="cy"))
    drain_outbox(services)
    [sent] = fake_telegram.fake.sent_messages("5550003333")
    assert sent["text"].startswith("Pa mor ddiogel")


def test_outside_tests_the_update_is_processed_after_the_response(app_config, db, fake_telegram):
    from app import create_app

    app = create_app({**app_config, "testing": False, "sandbox": False})
    try:
        response = post_update(app.test_client(), fixture("text_message"))
        assert response.status_code == 200
        with db.session() as s:
            assert s.scalar(select(InboundMessage.status)) == "pending"
        response.close()  # the WSGI server closes the response once it is sent
        with db.session() as s:
            assert s.scalar(select(InboundMessage.status)) == "processed"
            assert s.scalar(select(Run.flow_id)) == "street-safety"
    finally:
        app.extensions["outreach"].extras["telegram"].close()


def test_a_new_chats_start_button_gets_a_welcome_that_lists_what_to_text(client, services, db, fake_telegram):
    assert post_update(client, text_update(700030, 5550005555, "/start")).status_code == 200
    with db.session() as s:
        row = s.scalar(select(InboundMessage))
        assert (row.text, row.payload["command"], row.payload["welcome"]) == (None, "start", True)
        assert s.scalar(select(Address.consent)) == "opted_in"
    drain_outbox(services)
    [sent] = fake_telegram.fake.sent_messages("5550005555")
    assert "Harlow Council" in sent["text"]
    assert "SAFE" in sent["text"]
    assert "Welcome back" not in sent["text"]


def test_a_poster_link_after_stop_opts_back_in_and_starts_the_flow(client, services, db, fake_telegram):
    post_update(client, text_update(700040, int(DAFYDD), "/stop", language_code="cy"))
    update = fixture("start_with_payload")
    for _ in range(2):  # Telegram's retry stores nothing new
        assert post_update(client, update).status_code == 200
    with db.session() as s:
        assert [r.provider_id for r in s.scalars(select(InboundMessage).order_by(InboundMessage.id))] == [
            "700040", "815290002-start", "815290002"]
        assert s.scalar(select(Address.consent)) == "opted_in"
        assert s.scalar(select(Run.status).where(Run.flow_id == "street-safety")) == "active"
    drain_outbox(services)
    assert fake_telegram.fake.sent_messages(DAFYDD)[-1]["text"].startswith("Pa mor ddiogel")


# ----- scaled mode: a worker acts on the update ----------------------------------------------------


@pytest.mark.parametrize("app_config", [{"inbound_processing": "worker"}], indirect=True)
def test_in_scaled_mode_the_button_is_acknowledged_at_once_and_a_worker_records_the_choice(
        client, services, db, fake_telegram):
    assert post_update(client, text_update(700001, int(RHIAN), "SAFE")).status_code == 200
    assert count(db, Run) == 0  # stored, left for a worker
    assert services.conversations.process_waiting() == 1
    drain_outbox(services)
    with db.session() as s:
        run_id = s.scalar(select(Run.id))
    update = json.loads(json.dumps(fixture("callback_query")).replace("a:1:", f"a:{run_id}:"))
    response = post_update(client, update)
    # The spinner on the resident's button stops straight away; the answer waits for the worker.
    assert response.get_json()["method"] == "answerCallbackQuery"
    assert count(db, Answer) == 0
    assert services.conversations.process_waiting() == 1
    with db.session() as s:
        assert s.scalar(select(Answer.value)) == "unsafe"


@pytest.mark.parametrize("app_config", [{"inbound_processing": "worker"}], indirect=True)
def test_in_scaled_mode_the_web_makes_no_bot_call_and_the_sender_clears_the_pressed_keyboard(
        client, services, db, fake_telegram):
    """The web only checks, stores and answers: the keyboard of the pressed message is taken away by the
    sender, queued by the worker's turn beside the next question (one Bot API call a press, as before)."""
    assert post_update(client, text_update(700001, int(RHIAN), "SAFE")).status_code == 200
    assert services.conversations.process_waiting() == 1
    drain_outbox(services)
    with db.session() as s:
        run_id = s.scalar(select(Run.id))
    update = json.loads(json.dumps(fixture("callback_query")).replace("a:1:", f"a:{run_id}:"))
    assert post_update(client, update).get_json()["method"] == "answerCallbackQuery"
    assert fake_telegram.fake.calls_for(RHIAN, "editMessageReplyMarkup") == []
    assert services.conversations.process_waiting() == 1
    with db.session() as s:
        kinds = [(r.kind, r.payload.get("type"), r.payload.get("message_id")) for r in
                 s.scalars(select(OutboxMessage).where(OutboxMessage.status == "queued").order_by(OutboxMessage.id))]
    assert kinds == [("keyboard", "clear_keyboard", 1), ("reply", "question", None)]
    drain_outbox(services)
    [edit] = fake_telegram.fake.calls_for(RHIAN, "editMessageReplyMarkup")
    assert edit.params["message_id"] == 1
    assert fake_telegram.fake.sent_messages(RHIAN)[-1]["text"].startswith("Which street")
    # A repeated delivery of the same press stores nothing and queues nothing more.
    post_update(client, update)
    assert services.conversations.process_waiting() == 0
    drain_outbox(services)
    assert len(fake_telegram.fake.calls_for(RHIAN, "editMessageReplyMarkup")) == 1


@pytest.mark.parametrize("app_config", [{"inbound_processing": "worker"}], indirect=True)
def test_a_worker_batch_of_button_presses_finds_the_chats_runs_in_one_query(client, services, db, fake_telegram):
    """A press is checked against the chat's active run, then answers it: one lookup for the whole
    batch, not one more per press."""
    chats = [5550003000 + n for n in range(4)]
    for n, chat in enumerate(chats):
        post_update(client, text_update(700100 + n, chat, "SAFE"))
    assert services.conversations.process_waiting() == len(chats)
    drain_outbox(services)
    for n, chat in enumerate(chats):
        [question] = fake_telegram.fake.sent_messages(str(chat))
        post_update(client, button_press(700200 + n, chat, question, "Unsafe", query_id=f"cbq-{n}"))
    services.conversations.batch_seconds = 600
    acted, reads = selects_while(db, "FROM runs", services.conversations.process_waiting)
    assert acted == len(chats)
    assert len(reads) == 1, reads
    with db.session() as s:
        assert sorted(s.scalars(select(Answer.value))) == ["unsafe"] * len(chats)
        assert set(s.scalars(select(Run.current_step))) == {"where"}
