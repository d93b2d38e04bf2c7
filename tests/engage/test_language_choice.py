"""A resident's language: switching by keyword, Telegram's hint, fallback recording, consent words, Wales mode."""
from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import select

from config import Settings
from engage.conversations import STOPPED
from engage.language_choice import BILINGUAL, choose_text, language_for_word
from locales import i18n
from store.models import CONSENT_OPTED_OUT, Address, Answer, Run
from tests.support.languages import add_test_flow, contact_language, last, outbox, text_in


def answers(db) -> dict:
    with db.session() as s:
        return {a.step_id: a.value for a in s.scalars(select(Answer))}


def test_texting_polski_mid_flow_carries_on_in_polish_to_the_stop_confirmation(services, db):
    add_test_flow(services, "park-survey")
    text_in(services, "PARK")
    assert last(db).payload["question"] == "How often do you visit the park?"

    text_in(services, "POLSKI")
    switched = last(db)
    assert switched.language == "pl"
    assert switched.payload["intro"] == ["Od teraz będziemy pisać do Ciebie w języku: Polski."]
    assert switched.payload["question"] == "Jak często odwiedzasz park?"
    assert [c["label"] for c in switched.payload["choices"]] == ["Co tydzień", "Co miesiąc", "Nigdy"]
    assert contact_language(db) == "pl"

    # Polish yes/no and number words are read in the resident's language.
    for reply, question in [("2", "Czy w parku powinny być publiczne toalety?"),
                            ("tak", "Ile nowych ławek powinniśmy dodać?")]:
        text_in(services, reply)
        assert last(db).payload["question"] == question
    text_in(services, "pięć")
    assert last(db).payload["text"] == "Dziękujemy za odpowiedzi."
    assert answers(db) == {"visits": "monthly", "toilets": True, "benches": 5}

    text_in(services, "STOP")
    stop = last(db)
    assert stop.kind == "stop_confirmation"
    assert stop.language == "pl"
    assert stop.payload["text"].startswith("Nie będziesz już otrzymywać wiadomości od Harlow Council")


def test_base_language_words_still_match_in_a_polish_run(services, db):
    add_test_flow(services, "park-survey")
    for reply in ["PARK", "polski", "Every week", "yes", "three"]:
        text_in(services, reply)
    assert answers(db) == {"visits": "weekly", "toilets": True, "benches": 3}


def test_welsh_number_and_yes_no_words_are_understood_in_a_welsh_run(services, db):
    text_in(services, "PANEL", address="+447700900201", language_hint="cy")
    assert last(db).payload["lang"] == "cy"
    text_in(services, "ie", address="+447700900201")  # consent: yes
    text_in(services, "dau", address="+447700900201")  # age: the second choice
    assert answers(db) == {"consent": True, "age": "18_64"}


def test_language_switch_without_a_run_confirms_in_the_new_language(services, db):
    text_in(services, "Cymraeg!")
    message = last(db)
    assert (message.kind, message.language) == ("reply", "cy")
    assert message.payload["text"] == "Byddwn yn ysgrifennu atoch yn Cymraeg o hyn ymlaen."
    assert contact_language(db) == "cy"


def test_a_flow_that_asks_for_the_language_records_the_answer_itself(services, db):
    add_test_flow(services, "language-pick")
    text_in(services, "LANGPICK")
    text_in(services, "Polski")
    assert answers(db) == {"language": "pl"}
    assert contact_language(db) == "pl"
    assert last(db).payload["text"] == "Dziękujemy."


def test_telegram_language_code_gives_welsh_without_asking(services, db):
    text_in(services, "SAFE", channel="telegram", address="4242", language_hint="cy")
    payload = last(db).payload
    assert payload["lang"] == "cy"
    assert payload["question"].startswith("Pa mor ddiogel ydych chi'n teimlo")
    assert "fallback_from" not in payload


@pytest.mark.parametrize("hint, stored", [("pt-br", "pt"), ("en-GB", "en"), ("de", None), ("", None)])
def test_telegram_language_code_is_kept_only_as_a_supported_code(services, db, hint, stored):
    text_in(services, "hello", channel="telegram", address="4343", language_hint=hint)
    assert contact_language(db) == stored


def test_a_flow_without_the_residents_language_falls_back_and_says_so(services, db):
    text_in(services, "POLSKI")
    text_in(services, "SAFE")
    message = last(db)
    assert message.language == "en"
    assert message.payload["question"].startswith("How safe do you feel")
    assert message.payload["fallback_from"] == "pl"
    with db.session() as s:
        assert s.scalar(select(Run.language)) == "en"


def test_switching_mid_run_to_a_language_the_flow_lacks_keeps_the_base_texts(services, db):
    text_in(services, "SAFE")
    text_in(services, "ROMÂNĂ")
    message = last(db)
    assert message.payload["intro"] == ["De acum înainte vă vom scrie în limba: Română."]
    assert message.payload["question"].startswith("How safe do you feel")
    assert message.payload["fallback_from"] == "ro"


@pytest.mark.parametrize("word, lang", [
    ("KONIEC", "pl"), ("OPRIRE", "ro"), ("ਬੰਦ", "pa"), ("بند", "ur"), ("বন্ধ", "bn"), ("PARAR", "pt"),
    ("توقف", "ar"), ("JOOJI", "so"), ("STOPIO", "cy"),
])
def test_stop_words_in_each_language_opt_out_with_a_confirmation_in_that_language(services, db, word, lang):
    text_in(services, word)
    message = last(db)
    assert message.kind == "stop_confirmation"
    assert message.language == lang
    # The confirmation is the catalog's own sentence in that language, never the English one.
    assert message.payload["text"] == i18n.gettext(lang, STOPPED, council="Harlow Council")
    assert message.payload["text"] != i18n.gettext("en", STOPPED, council="Harlow Council")
    assert "Harlow Council" in message.payload["text"]
    with db.session() as s:
        assert s.scalar(select(Address.consent)) == CONSENT_OPTED_OUT


def test_a_word_that_only_looks_like_a_stop_word_without_its_vowel_signs_is_not_one(services, db):
    # "ਬਦ" (bad) is "ਬੰਦ" (stop) without its nasal sign; dropping marks would have opted this resident out.
    text_in(services, "ਬਦ")
    with db.session() as s:
        assert s.scalar(select(Address.consent)) != CONSENT_OPTED_OUT


@pytest.mark.parametrize("word, lang", [("POMOC", "pl"), ("AJUTOR", "ro"), ("مدد", "ur"), ("CAAWIN", "so")])
def test_help_words_answer_in_their_language(services, db, word, lang):
    text_in(services, word)
    message = last(db)
    assert (message.kind, message.language) == ("system", lang)


def test_start_word_in_arabic_rejoins_with_an_arabic_welcome(services, db):
    text_in(services, "توقف")
    text_in(services, "ابدأ")
    assert [m.kind for m in outbox(db)] == ["stop_confirmation", "system"]
    assert last(db).payload["text"].startswith("مرحبًا بعودتك")


@pytest.mark.parametrize("text, lang", [
    ("CYMRAEG", "cy"), ("welsh", "cy"), ("Polski", "pl"), ("romana", "ro"), ("Română", "ro"),
    ("ROMA\u0302NA\u0306", "ro"), ("ਪੰਜਾਬੀ", "pa"), ("Punjabi", "pa"), ("اردو", "ur"), ("URDU", "ur"),
    ("বাংলা", "bn"), ("Bengali", "bn"), ("Português", "pt"), ("العربية", "ar"), ("arabic", "ar"),
    ("Soomaali", "so"), ("somali", "so"), ("English", "en"),
])
def test_language_names_are_recognised_however_they_are_typed(text, lang):
    assert language_for_word(text) == lang


@pytest.mark.parametrize("text", ["Polska jest piękna", "2", "", None, "yes"])
def test_other_replies_are_not_language_names(text):
    assert language_for_word(text) is None


def test_wales_mode_puts_welsh_first_puts_welsh_first_when_the_preference_is_unknown():
    texts = {"en": "The park reopens on Monday.", "cy": "Mae'r parc yn ailagor ddydd Llun."}
    wales = replace(Settings(), welsh_first=True)
    both = "Mae'r parc yn ailagor ddydd Llun.\n\nThe park reopens on Monday."
    assert choose_text(texts, None, wales) == (BILINGUAL, both)
    assert choose_text(texts, "en", wales) == ("en", "The park reopens on Monday.")
    assert choose_text(texts, "cy", wales) == ("cy", "Mae'r parc yn ailagor ddydd Llun.")
    # A known preference the message lacks gets the base language, not both.
    assert choose_text(texts, "pl", wales) == ("en", "The park reopens on Monday.")
    assert choose_text(texts, None, Settings()) == ("en", "The park reopens on Monday.")
    assert choose_text({"en": "Only English."}, None, wales) == ("en", "Only English.")


def test_fallbacks_are_counted_per_flow_and_language(services, db, clock):
    from datetime import timedelta

    from engage.language_choice import language_fallbacks

    add_test_flow(services, "park-survey")
    text_in(services, "POLSKI", address="+447700900301")
    text_in(services, "SAFE", address="+447700900301")  # street-safety has no Polish
    text_in(services, "1", address="+447700900301")
    text_in(services, "ROMANA", address="+447700900302")
    text_in(services, "PARK", address="+447700900302")  # park-survey has no Romanian
    text_in(services, "PARK", address="+447700900303")  # English: no fallback
    with db.session() as s:
        assert language_fallbacks(s) == {("street-safety", "pl"): 2, ("park-survey", "ro"): 1}
        assert language_fallbacks(s, since=clock.now() + timedelta(seconds=1)) == {}
