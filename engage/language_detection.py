"""Notice a resident writing in another language than the one we write to them in, and offer once to switch.

A free-text answer in Polish from a resident recorded as English gets, after the answer is taken, one
message in Polish: "Odpisz POLSKI, aby kontynuować w tym języku." The language is never switched
silently: only the resident's own word (engage.language_choice) switches it, and the offer is made once
per resident and language (the outbox keeps the offers made).

Detection is lingua-language-detector (maintained, offline: its models ship inside the package, nothing
is downloaded at run time), restricted to the languages we ship and in its low-accuracy mode, which
loads at once and needs little memory. On the labelled short answers in tests/engage/data it gets
108 of 110 right (high-accuracy mode: 110, but 5 s to load and 230 MB per process); CLD3 (cld3-py)
got 107 and took "Too much traffic near the school" for Welsh. Short texts are where every detector
errs, so answers under MIN_LETTERS letters or two words are not judged, and a guess the detector is not
clearly sure of is dropped.
"""
from __future__ import annotations

import functools
import logging
import unicodedata

from sqlalchemy import select
from sqlalchemy.orm import Session

from flows.model import TEXT
from locales import i18n
from locales.languages import BY_CODE, CODES

log = logging.getLogger(__name__)

_ = i18n.N_
OFFER = _("Reply %(word)s to carry on in this language.")
# Fewer letters than this, or a single word, says too little about a language to act on.
MIN_LETTERS = 12
# How far ahead of the runner-up the detected language must be (lingua's confidence values, 0 to 1).
MIN_LEAD = 0.25


@functools.cache
def _detector():
    from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

    languages = [Language.from_iso_code_639_1(getattr(IsoCode639_1, code.upper())) for code in CODES]
    return LanguageDetectorBuilder.from_languages(*languages).with_low_accuracy_mode().build()


def long_enough(text: str | None) -> bool:
    """True when a text has enough words and letters to say which language it is in."""
    if not text or len(text.split()) < 2:
        return False
    # Letters and the vowel signs of Indic scripts (combining marks, which str.isalpha does not count).
    return sum(unicodedata.category(ch)[0] in "LM" for ch in text) >= MIN_LETTERS


def detect(text: str | None) -> str | None:
    """Return the shipped language a resident's text is written in, or None when it is too short or unclear."""
    if not long_enough(text):
        return None
    ranked = _detector().compute_language_confidence_values(text)
    if not ranked or ranked[0].value <= 0:
        return None
    lead = ranked[0].value - (ranked[1].value if len(ranked) > 1 else 0.0)
    if lead < MIN_LEAD:
        return None
    return ranked[0].language.iso_code_639_1.name.lower()


def switch_word(lang: str) -> str:
    """The word a resident texts to switch to `lang` (POLSKI, CYMRAEG, اردو...)."""
    return BY_CODE[lang].switch_words[0]


def _already_offered(s: Session, contact_id: int, lang: str) -> bool:
    from store.models import OutboxMessage

    offered = OutboxMessage.payload["language_offer"].as_string()
    return s.scalar(select(OutboxMessage.id).where(OutboxMessage.contact_id == contact_id, offered == lang)
                    .limit(1)) is not None


def offer_language_switch(s: Session, turn) -> bool:
    """Word handler that never takes the message: before a free-text answer is taken, offer its language."""
    incoming = turn.incoming
    if incoming.choice or incoming.start_flow or incoming.preview or not long_enough(incoming.text):
        return False  # numbers, YES, a button: nothing to judge, and no query spent on them
    run = turn.active_run()
    if run is None:
        return False
    flow = turn.service.registry.flow_for_version(s, run.flow_version_id)
    step_id = (run.state or {}).get("step")
    if flow is None or not step_id or not flow.has_step(step_id) or flow.step(step_id).kind != TEXT:
        return False
    lang = detect(incoming.text)
    writing_in = turn.contact.language or run.language
    if lang is None or lang == writing_in or lang == run.language:
        return False
    if _already_offered(s, turn.contact.id, lang):
        return False
    log.info("offered a language switch to %s", lang)
    turn.queue({"type": "text", "text": i18n.gettext(lang, OFFER, word=switch_word(lang)), "lang": lang,
                "language_offer": lang}, lang=lang)
    return False


def register(conversations) -> None:
    """Add the offer to the conversation service's word handlers (after the language names)."""
    if offer_language_switch not in conversations.word_handlers:
        conversations.word_handlers.append(offer_language_switch)
