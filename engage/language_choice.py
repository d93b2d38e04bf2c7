"""A resident's language: switched by texting its name ("POLSKI"), carried into the open run, and Wales mode.

`init_app` adds each language's STOP/START/HELP words to the conversation service's keyword
table and registers `switch_language_by_word` as a word handler. `switch_to` is the one way to
change a resident's language mid-conversation (a keyword, a Telegram button, the web chat
switcher): it confirms in the new language and asks the current question again in it.
"""
from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engage.keywords import KeywordTable, normalise
from flows import engine
from flows.events import MessageSaid
from locales import i18n
from locales.languages import BASE_LANGUAGE, LANGUAGES, native_name
from store.models import OutboxMessage

_ = i18n.N_
# The same message the Telegram language buttons confirm with.
SWITCHED = _("We will write to you in %(language)s from now on.")

_BY_WORD: dict[str, str] = {
    normalise(word): language.code for language in LANGUAGES for word in (*language.switch_words, language.native_name)
}


def language_for_word(text: str | None) -> str | None:
    """Return the code of the language a reply names ("polski", "Cymraeg!", "ਪੰਜਾਬੀ"), or None."""
    if not text or len(text) > 40:
        return None
    return _BY_WORD.get(normalise(unicodedata.normalize("NFC", text)))


def register_keywords(table: KeywordTable) -> None:
    """Add every language's STOP, START and HELP words to a keyword table."""
    for language in LANGUAGES:
        for kind, words in (("stop", language.stop_words), ("start", language.start_words),
                            ("help", language.help_words)):
            if words:
                table.extend(kind, language.code, list(words))


def _open_question(turn) -> tuple[Any, Any] | tuple[None, None]:
    run = turn.active_run()
    if run is None:
        return None, None
    flow = turn.service.registry.flow_for_version(turn.s, run.flow_version_id)
    return (run, flow) if flow is not None else (None, None)


def switch_to(turn, lang: str) -> None:
    """Set the resident's language, confirm in it, and carry on the open run (if any) in it."""
    turn.contact.language = lang
    turn.contact.updated_at = turn.now
    confirmation = i18n.gettext(lang, SWITCHED, language=native_name(lang))
    run, flow = _open_question(turn)
    if run is None:
        turn.say(confirmation)
        return
    # Reassign rather than mutate, so the JSON column is seen to change.
    state = {**run.state, "lang": lang if lang in flow.languages else flow.base_language}
    step_id = state.get("step")
    events: list = [MessageSaid(step_id or "", lang, confirmation)]
    if step_id and flow.has_step(step_id) and flow.step(step_id).is_question:
        events.append(engine.question_for(flow, flow.step(step_id), state, reprompt=True))
    turn._apply(run, flow, state, events)


def switch_language_by_word(s: Session, turn) -> bool:
    """Word handler: a reply that is only a language's name switches to that language."""
    if turn.incoming.choice or turn.incoming.start_flow:
        return False
    lang = language_for_word(turn.incoming.text)
    if lang is None:
        return False
    run, flow = _open_question(turn)
    if run is not None:
        step_id = run.state.get("step")
        if step_id and flow.has_step(step_id) and flow.step(step_id).save_to == "language":
            # The flow is asking which language: let it record the answer as it asked.
            return False
    switch_to(turn, lang)
    return True


# The text key for a resident who gets Welsh and English together (Wales mode).
BILINGUAL = "cy+en"


def choose_text(texts_by_lang: Mapping[str, str], contact_lang: str | None, settings,
                base: str | None = None) -> tuple[str | None, str]:
    """Return (which text, the text) for a resident: their language, Welsh then English, or the base."""
    texts = {lang: text for lang, text in texts_by_lang.items() if text and text.strip()}
    if not texts:
        return None, ""
    base = base if base in texts else (BASE_LANGUAGE if BASE_LANGUAGE in texts else next(iter(texts)))
    if contact_lang and contact_lang in texts:
        return contact_lang, texts[contact_lang]
    if contact_lang is None and getattr(settings, "welsh_first", False) and "cy" in texts and "en" in texts:
        # The Welsh Language Standards: Welsh must not be treated less favourably, so it comes first.
        return BILINGUAL, f"{texts['cy']}\n\n{texts['en']}"
    return base, texts[base]


def language_fallbacks(session: Session, since: datetime | None = None) -> dict[tuple[str, str], int]:
    """Count messages sent in a flow's base language to residents who wanted another, by (flow, language)."""
    wanted = OutboxMessage.payload["fallback_from"].as_string()
    flow_id = OutboxMessage.payload["flow_id"].as_string()
    stmt = (select(flow_id, wanted, func.count()).where(wanted.is_not(None))
            .group_by(flow_id, wanted))
    if since is not None:
        stmt = stmt.where(OutboxMessage.created_at >= since)
    return {(flow, lang): count for flow, lang, count in session.execute(stmt) if flow and lang}


def init_app(app, services) -> None:
    """Add the languages' keywords and the language word handler to the conversation service."""
    conversations = services.conversations
    register_keywords(conversations.keywords)
    if switch_language_by_word not in conversations.word_handlers:
        conversations.word_handlers.append(switch_language_by_word)
    # A free-text answer in another language gets one offer to switch to it (never a silent switch).
    from engage import language_detection

    language_detection.register(conversations)

