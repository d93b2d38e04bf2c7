"""FORGET and its confirmation work in every shipped language: asked in the resident's words, confirmed in them."""
from __future__ import annotations

import itertools

import pytest
from sqlalchemy import select

from locales.languages import LANGUAGES
from store.models import Address, Contact, OutboxMessage
from store.models.contacts import ErasureRecord

_ids = itertools.count(1)


def text_in(services, text, address):
    row_id, _created = services.conversations.store_inbound("sms", f"SMFG{next(_ids):028d}", address, text, {})
    services.conversations.process_inbound(row_id)


def last_payload(db, address):
    with db.session() as s:
        address_id = s.scalar(select(Address.id).where(Address.address == address))
        return s.scalars(select(OutboxMessage.payload).where(OutboxMessage.address_id == address_id)
                         .order_by(OutboxMessage.id.desc())).first()


@pytest.mark.parametrize("language", LANGUAGES, ids=lambda language: language.code)
def test_forget_in_each_language_asks_in_it_and_its_confirmation_erases(services, db, language):
    phone = f"+4477009004{LANGUAGES.index(language):02d}"
    text_in(services, language.forget_words[0].lower(), phone)
    ask = last_payload(db, phone)
    # A new resident is answered in the language of the word they sent, naming that language's confirmation.
    assert ask["lang"] == language.code
    assert language.forget_confirm[0] in ask["text"]
    with db.session() as s:
        assert s.scalar(select(ErasureRecord)) is None
    text_in(services, language.forget_confirm[0], phone)
    with db.session() as s:
        record = s.scalar(select(ErasureRecord))
        assert record is not None and record.source == "keyword"
        contact = s.get(Contact, record.pending_contact_id)
        assert contact.name is None
        confirmation = s.get(OutboxMessage, record.confirmation_outbox_id)
        assert (confirmation.kind, confirmation.language) == ("stop_confirmation", language.code)


def test_a_polish_resident_texting_forget_in_english_is_answered_in_polish(services, db):
    phone = "+447700900499"
    text_in(services, "Polski", phone)
    text_in(services, "FORGET", phone)
    ask = last_payload(db, phone)
    assert ask["lang"] == "pl" and "ZAPOMNIJ TAK" in ask["text"]
    assert ask["text"].startswith("Odpowiedz") or "Harlow Council" in ask["text"]


def test_forget_words_clash_with_no_other_keyword():
    from engage.keywords import KEYWORDS, normalise
    from engage.language_choice import language_for_word

    for language in LANGUAGES:
        for word in (*language.forget_words, *language.forget_confirm):
            assert KEYWORDS.classify(word) == (None, None), word
            assert language_for_word(word) is None, word
            assert normalise(word)
