"""Word handlers for what chat buttons and commands send: /start, /language, language and stale buttons, stickers.

They run inside the conversation service's transaction (see
`ConversationService.word_handlers`), after the consent checks, and read the
stored inbound row's payload that the Telegram webhook or the web chat wrote.
"""
from __future__ import annotations

from sqlalchemy.orm import Session

from bot.render import CallbackAnswer
from bot.telegram import language_menu_payload
from engage.language_choice import switch_to
from locales import i18n, languages

_ = i18n.N_
STALE_BUTTON = _("That button belongs to an earlier question. Please answer the latest message.")
TEXT_ONLY = _("Sorry, we can only read text messages. Please type your answer.")
STALE_LINK = _("Sorry, the link you followed is out of date.")


def handle_language_command(s: Session, turn) -> bool:
    """Answer `/language` with a keyboard of the supported languages."""
    if turn.incoming.payload.get("command") != "language":
        return False
    turn.queue(language_menu_payload(turn.lang))
    return True


def handle_set_language(s: Session, turn) -> bool:
    """Switch the contact's language from a language button or the web chat's switcher."""
    code = turn.incoming.payload.get("set_language")
    if code is None:
        return False
    if languages.get(code) is not None:
        # Confirms in the new language and asks the open question again in it.
        switch_to(turn, code)
    return True


def handle_stale_button(s: Session, turn) -> bool:
    """Refuse a press on an earlier question's keyboard instead of taking it as the current answer."""
    payload = turn.incoming.payload
    if "button_run_id" not in payload:
        return False
    run = turn.active_run()
    pressed = CallbackAnswer(int(payload["button_run_id"]), str(payload.get("button_step", "")))
    if run is not None and run.id == pressed.run_id and run.current_step and pressed.is_for_step(run.current_step):
        return False
    turn.say(i18n.gettext(turn.lang, STALE_BUTTON))
    return True


def handle_welcome(s: Session, turn) -> bool:
    """Greet a new Telegram chat's first /start with what this is and which words start a flow; a link
    that names no flow (any more) says it is out of date, then what is open."""
    payload = turn.incoming.payload
    if not payload.get("welcome"):
        return False
    stale = i18n.gettext(turn.lang, STALE_LINK) if payload.get("start_param") else None
    turn.help(None, welcome=payload.get("new_chat", True), before=stale)
    return True


def handle_non_text(s: Session, turn) -> bool:
    """Ask for text when a resident sends a sticker, photo or voice note without words."""
    if not turn.incoming.payload.get("non_text"):
        return False
    turn.say(i18n.gettext(turn.lang, TEXT_ONLY))
    return True


WORD_HANDLERS = (handle_welcome, handle_language_command, handle_set_language, handle_stale_button,
                 handle_non_text)


def register_word_handlers(services) -> None:
    """Add the chat word handlers to the conversation service, once."""
    handlers = services.conversations.word_handlers
    for handler in WORD_HANDLERS:
        if handler not in handlers:
            handlers.append(handler)
