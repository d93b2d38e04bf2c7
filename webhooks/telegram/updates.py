"""Classify Bot API `Update`s, store the ones that matter, and act on them after the answer.

One pure function per update type turns an Update into what we keep: a
message to store and process, a change of the bot's membership in a chat, or
a named reason to ignore it. The webhook and `telegram-poll` share this path.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import select

from bot.render import parse_callback_data
from bot.telegram import LANGUAGE_CALLBACK_PREFIX, button_answer, record_chat_member_status
from locales import languages
from store.models import CONSENT_OPTED_OUT, Address

log = logging.getLogger(__name__)

# Update types we never act on, and why. Telegram only sends what setWebhook's
# allowed_updates asks for, but a bot set up by hand may receive any of these.
IGNORED_UPDATES = {
    "edited_message": "an edit of an earlier message; the original was already answered",
    "channel_post": "a post in a channel, not a resident",
    "edited_channel_post": "an edit in a channel, not a resident",
    "business_connection": "business accounts are not used",
    "business_message": "business accounts are not used",
    "edited_business_message": "business accounts are not used",
    "deleted_business_messages": "business accounts are not used",
    "message_reaction": "a reaction is not an answer",
    "message_reaction_count": "a reaction is not an answer",
    "inline_query": "the bot has no inline mode",
    "chosen_inline_result": "the bot has no inline mode",
    "shipping_query": "the bot takes no payments",
    "pre_checkout_query": "the bot takes no payments",
    "purchased_paid_media": "the bot takes no payments",
    "poll": "the bot sends no Telegram polls",
    "poll_answer": "the bot sends no Telegram polls",
    "chat_member": "other members of group chats",
    "chat_join_request": "the bot runs no groups",
    "chat_boost": "the bot runs no channels",
    "removed_chat_boost": "the bot runs no channels",
}
# Message content we cannot read: the resident is asked to type instead.
NON_TEXT_CONTENT = ("sticker", "photo", "voice", "video", "video_note", "audio", "document", "animation",
                    "location", "venue", "contact", "dice", "poll", "game", "story")
COMMANDS_AS_KEYWORDS = {"start", "stop", "help"}


class MalformedUpdate(ValueError):
    """The body is not a Bot API Update."""


class UnknownUpdate(ValueError):
    """An update type this service has never heard of; logged and answered 200."""

    def __init__(self, update_type: str):
        super().__init__(f"unknown Telegram update type {update_type!r}")
        self.update_type = update_type


@dataclass(frozen=True)
class ResidentMessage:
    """A message or button press to store as an inbound row and then process."""

    update_id: int
    chat_id: str
    text: str | None
    payload: dict[str, Any] = field(default_factory=dict)
    # Set for button presses: the query to answer and the message whose keyboard to clear.
    callback_query_id: str | None = None
    keyboard_message_id: int | None = None
    button_label: str | None = None


@dataclass(frozen=True)
class MembershipChanged:
    """The resident blocked ("kicked") or unblocked ("member") the bot in their private chat."""

    update_id: int
    chat_id: str
    status: str


@dataclass(frozen=True)
class Ignored:
    update_id: int
    reason: str


Classified = ResidentMessage | MembershipChanged | Ignored
# Resolves a /start parameter (a flow id or keyword) to a flow id, or None.
FlowResolver = Callable[[str], str | None]


def update_type_of(update: dict[str, Any]) -> str:
    """Return the one optional field of an Update that says what it is."""
    kinds = [key for key in update if key != "update_id"]
    if not kinds:
        raise MalformedUpdate("the update has no content")
    return kinds[0]


def classify_update(update: Any, resolve_flow: FlowResolver) -> Classified:
    """Turn an Update into what to store and do; raise MalformedUpdate or UnknownUpdate."""
    if not isinstance(update, dict) or not isinstance(update.get("update_id"), int):
        raise MalformedUpdate("an Update is a JSON object with an integer update_id")
    update_id = update["update_id"]
    kind = update_type_of(update)
    if kind in IGNORED_UPDATES:
        return Ignored(update_id, IGNORED_UPDATES[kind])
    classify = UPDATE_TYPES.get(kind)
    if classify is None:
        raise UnknownUpdate(kind)
    body = update[kind]
    if not isinstance(body, dict):
        raise MalformedUpdate(f"{kind} is not an object")
    try:
        return classify(update_id, body, resolve_flow)
    except (KeyError, TypeError, AttributeError) as exc:
        raise MalformedUpdate(f"{kind} lacks a field it needs ({exc})") from exc


def _private_chat_id(message: dict[str, Any]) -> str | None:
    chat = message["chat"]
    return str(chat["id"]) if chat.get("type") == "private" else None


def _language_hint(user: dict[str, Any] | None) -> dict[str, Any]:
    code = languages.supported_code((user or {}).get("language_code"))
    return {"language_hint": code} if code else {}


def _split_command(text: str) -> tuple[str | None, str]:
    """Return ("start", "street-safety") for "/start street-safety" (or "/start@bot ..."), else (None, text)."""
    if not text.startswith("/"):
        return None, text
    head, _, rest = text.partition(" ")
    return head[1:].split("@", 1)[0].lower(), rest.strip()


def from_message(update_id: int, message: dict[str, Any], resolve_flow: FlowResolver) -> Classified:
    chat_id = _private_chat_id(message)
    if chat_id is None:
        return Ignored(update_id, "group chats are not answered; only private chats")
    sender = message.get("from") or {}
    if sender.get("is_bot"):
        return Ignored(update_id, "a message from a bot")
    payload: dict[str, Any] = {"telegram_message_id": message.get("message_id"), **_language_hint(sender)}
    text = message.get("text")
    if text is None:
        text = message.get("caption")
    if text is None:
        content = next((k for k in NON_TEXT_CONTENT if k in message), None)
        if content is None:
            return Ignored(update_id, "a service message (pinned, joined...), not something the resident said")
        return ResidentMessage(update_id, chat_id, None, {**payload, "non_text": content})
    command, argument = _split_command(text)
    if command == "start" and argument:
        flow_id = resolve_flow(argument)
        if flow_id is not None:
            return ResidentMessage(update_id, chat_id, text, {**payload, "start_flow": flow_id})
        # An unknown deep link (an old poster, a flow since removed) still opens the chat: a /start that
        # remembers the link, so the reply can say it is out of date.
        return ResidentMessage(update_id, chat_id, "/start",
                               {**payload, "command": "start", "start_param": argument[:64]})
    if command in COMMANDS_AS_KEYWORDS:
        # "/stop" normalises to the STOP keyword, "/help" to HELP, "/start" to START.
        return ResidentMessage(update_id, chat_id, "/" + command, {**payload, "command": command})
    if command == "language":
        return ResidentMessage(update_id, chat_id, text, {**payload, "command": "language"})
    return ResidentMessage(update_id, chat_id, text, payload)


def _pressed_label(message: dict[str, Any], data: str) -> str | None:
    for row in (message.get("reply_markup") or {}).get("inline_keyboard", []):
        for button in row:
            if button.get("callback_data") == data:
                return button.get("text")
    return None


def from_callback_query(update_id: int, query: dict[str, Any], resolve_flow: FlowResolver) -> Classified:
    message = query.get("message")
    if not message or "chat" not in message:
        return Ignored(update_id, "a button on an inline-mode message")
    chat_id = _private_chat_id(message)
    if chat_id is None:
        return Ignored(update_id, "group chats are not answered; only private chats")
    data = query.get("data")
    if data is None:
        return Ignored(update_id, "a game button")
    label = _pressed_label(message, data)
    common = dict(callback_query_id=str(query["id"]), keyboard_message_id=message.get("message_id"),
                  button_label=label)
    payload: dict[str, Any] = {"telegram_message_id": message.get("message_id"), **_language_hint(query.get("from"))}
    # The message whose keyboard was pressed: its buttons are taken away (engage.keyboards.clear_pressed_keyboard).
    payload["button_message_id"] = message.get("message_id")
    if data.startswith(LANGUAGE_CALLBACK_PREFIX):
        code = data[len(LANGUAGE_CALLBACK_PREFIX):]
        return ResidentMessage(update_id, chat_id, label, {**payload, "set_language": code}, **common)
    answer = parse_callback_data(data)
    if answer is None:
        return Ignored(update_id, "a button this service did not make")
    inbound = answer.as_inbound()
    payload.update(button_run_id=answer.run_id, button_step=answer.step)
    if inbound["choice"] is not None:
        payload["choice"] = inbound["choice"]
    # The label is what the resident saw and pressed; numbers and SKIP must stay as text for matching.
    text = label if inbound["choice"] is not None and label else inbound["text"]
    return ResidentMessage(update_id, chat_id, text, payload, **common)


def from_my_chat_member(update_id: int, change: dict[str, Any], resolve_flow: FlowResolver) -> Classified:
    chat_id = _private_chat_id(change)
    if chat_id is None:
        return Ignored(update_id, "the bot's membership of a group")
    return MembershipChanged(update_id, chat_id, change["new_chat_member"]["status"])


UPDATE_TYPES: dict[str, Callable[[int, dict[str, Any], FlowResolver], Classified]] = {
    "message": from_message,
    "callback_query": from_callback_query,
    "my_chat_member": from_my_chat_member,
}


# ----- storing and acting ----------------------------------------------------------------------


@dataclass(frozen=True)
class Accepted:
    """What accepting an update did: the stored row (None when nothing was stored) and whether it was new."""

    classified: Classified
    row_id: int | None = None
    created: bool = False


def flow_resolver(registry) -> FlowResolver:
    """Resolve a deep-link parameter by flow id first, then by keyword."""

    def resolve(parameter: str) -> str | None:
        flow = registry.get(parameter) or registry.by_keyword(parameter)
        return flow.id if flow is not None else None

    return resolve


def accept_update(services, update: Any) -> Accepted:
    """Store what must not be lost, before the update is acknowledged; raise MalformedUpdate/UnknownUpdate."""
    classified = classify_update(update, flow_resolver(services.registry))
    if isinstance(classified, ResidentMessage):
        if classified.payload.get("start_flow"):
            # `/start DIOGEL`: the keyword's language starts the run (and becomes a new resident's language).
            _command, argument = _split_command(classified.text or "")
            start_lang = services.registry.keyword_language(argument)
            if start_lang:
                classified = replace(classified, payload={**classified.payload, "start_lang": start_lang})
        starting = classified.payload.get("command") == "start" or classified.payload.get("start_flow")
        # Only /start depends on whether the chat is new or opted out: ordinary messages skip the query.
        consent = _chat_consent(services, classified.chat_id) if starting else None
        store = services.conversations.store_inbound
        stale_link = "start_param" in classified.payload
        if (classified.payload.get("command") == "start" and classified.text == "/start"
                and (consent is None or stale_link and consent != CONSENT_OPTED_OUT)):
            # A new chat's Start button: a welcome that says what to text, not START's "welcome back".
            # An out-of-date link says so, to a new chat or an old one, and lists what is open.
            classified = replace(classified, text=None,
                                 payload={**classified.payload, "welcome": True, "new_chat": consent is None})
        if classified.payload.get("start_flow") and consent == CONSENT_OPTED_OUT:
            # Opening a poster's link is asking to take part: opt back in first (stored first, processed first).
            store("telegram", f"{classified.update_id}-start", classified.chat_id, "/start",
                  {"command": "start", "telegram_message_id": classified.payload.get("telegram_message_id")})
        row_id, created = store("telegram", str(classified.update_id), classified.chat_id, classified.text,
                                classified.payload)
        return Accepted(classified, row_id, created)
    if isinstance(classified, MembershipChanged):
        with services.db.session() as s:
            changed = record_chat_member_status(s, classified.chat_id, classified.status)
        if changed:
            log.info("telegram update %s: the bot was %s", classified.update_id,
                     "blocked" if classified.status == "kicked" else "unblocked")
    return Accepted(classified)


def _chat_consent(services, chat_id: str) -> str | None:
    """Return the chat's consent state, or None for a chat never seen before."""
    with services.db.session() as s:
        return s.scalar(select(Address.consent).where(Address.channel == "telegram", Address.address == chat_id))


def button_answer_for(accepted: Accepted) -> dict[str, Any] | None:
    """The answer to a new button press, to send back as the webhook's response; None for anything else."""
    classified = accepted.classified
    if not isinstance(classified, ResidentMessage) or not accepted.created or not classified.callback_query_id:
        return None
    return button_answer(classified.callback_query_id, classified.button_label)


def finish_update(services, accepted: Accepted, channel=None, *, button_answered: bool = False) -> None:
    """Do the work that follows the acknowledgement: answer the button (unless the webhook's response
    did), take its keyboard away, then process the message.

    In scaled mode the web only checks, stores and answers: the worker acting on a press queues its
    keyboard's removal for the sender, with the next question (engage.keyboards.clear_pressed_keyboard)."""
    classified = accepted.classified
    if not isinstance(classified, ResidentMessage) or not accepted.created:
        return
    in_web = services.settings.inbound_in_web
    if classified.callback_query_id and channel is not None and (in_web or not button_answered):
        channel.acknowledge_button(classified.callback_query_id, classified.chat_id,
                                   classified.keyboard_message_id, classified.button_label,
                                   answered=button_answered, clear_keyboard=in_web)
    if in_web:
        # Otherwise a worker acts on it (scaled mode: engage.services.inbound_loop).
        services.conversations.process_inbound(accepted.row_id)


def poll_updates(services, channel, *, timeout: int = 30, max_polls: int | None = None, stop=None) -> int:
    """Long-poll getUpdates and feed each update through the webhook's path; return how many were handled.

    The offset that tells Telegram to forget an update is only sent after the
    update has been stored, so stopping at any moment loses nothing.
    """
    offset: int | None = None
    polls = handled = 0
    while (max_polls is None or polls < max_polls) and not (stop is not None and stop.is_set()):
        updates = channel.get_updates(offset, timeout)
        polls += 1
        for update in updates:
            try:
                accepted = accept_update(services, update)
            except (MalformedUpdate, UnknownUpdate) as exc:
                log.warning("skipping a Telegram update: %s", exc)
            else:
                finish_update(services, accepted, channel)
                handled += 1
            if isinstance(update, dict) and isinstance(update.get("update_id"), int):
                offset = update["update_id"] + 1
    if offset is not None:
        # Confirm the last batch so a restart does not fetch it again.
        channel.get_updates(offset, 0)
    return handled
