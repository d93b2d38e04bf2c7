"""SMS segments per language, counted by hand, with smart punctuation and broadcast estimates."""
from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from config import Settings
from engage.sms_cost import MAX_SEGMENTS, estimate_broadcast, message_cost

# Each text's units were counted by hand: GSM-7 septets (extension characters count two), or
# UTF-16 units for UCS-2. One part holds 160 septets / 70 units; longer texts go in parts of 153 / 67.
HAND_COUNTED = [
    # English: plain GSM-7.
    ("en", "Reply 1, 2 or 3", "GSM-7", 15, 1),
    ("en", "You will get no more messages from Harlow Council on this number. Reply START to join again.",
     "GSM-7", 92, 1),
    # English with extension characters: € [ ] { } ~ ^ \ | each take two septets.
    ("en", "Cost: €5 [approx]", "GSM-7", 20, 1),
    ("en", "{a} ~b^ c\\d|", "GSM-7", 18, 1),
    # Welsh: plain letters are GSM-7; ŵ, ŷ and ô are not, so one of them makes the whole text UCS-2.
    ("cy", "Ni fyddwch yn cael rhagor o negeseuon gan Harlow Council ar y rhif hwn. Atebwch DECHRAU i ymuno eto.",
     "GSM-7", 100, 1),
    ("cy", "Ddim yn siŵr", "UCS-2", 12, 1),
    ("cy", "Ydych chi'n hŷn na 65?", "UCS-2", 22, 1),
    ("cy", "Pa mor ddiogel ydych chi'n teimlo yn cerdded yn eich ardal ar ôl iddi dywyllu?", "UCS-2", 78, 2),
    # Polish: ę ż ć ą ł are not GSM-7.
    ("pl", "Tak, dziekuje", "GSM-7", 13, 1),
    ("pl", "Nie będziesz już otrzymywać wiadomości od Harlow Council na ten numer. Odpowiedz START, aby dołączyć "
           "ponownie.", "UCS-2", 110, 2),
    # Romanian: ă ț ș â î are not GSM-7.
    ("ro", "Vă mulțumim!", "UCS-2", 12, 1),
    ("ro", "Nu veți mai primi mesaje de la Harlow Council pe acest număr. Răspundeți START pentru a vă abona din "
           "nou.", "UCS-2", 105, 2),
    # Panjabi (Gurmukhi): every vowel sign and nasal mark is its own unit.
    ("pa", "ਧੰਨਵਾਦ", "UCS-2", 6, 1),
    ("pa", "ਤੁਹਾਨੂੰ ਇਸ ਨੰਬਰ 'ਤੇ Harlow Council ਵੱਲੋਂ ਹੋਰ ਸੁਨੇਹੇ ਨਹੀਂ ਮਿਲਣਗੇ। ਦੁਬਾਰਾ ਜੁੜਨ ਲਈ START ਲਿਖ ਕੇ ਭੇਜੋ।",
     "UCS-2", 98, 2),
    # Urdu.
    ("ur", "شکریہ", "UCS-2", 5, 1),
    ("ur", "آپ کو اس نمبر پر Harlow Council کی طرف سے مزید پیغامات نہیں ملیں گے۔ دوبارہ شامل ہونے کے لیے START لکھ "
           "کر بھیجیں۔", "UCS-2", 113, 2),
    # Bengali: the virama (্) joining ন and য is a unit of its own.
    ("bn", "ধন্যবাদ", "UCS-2", 7, 1),
    ("bn", "এই নম্বরে আপনি Harlow Council থেকে আর কোনো বার্তা পাবেন না। আবার যোগ দিতে START লিখে পাঠান।",
     "UCS-2", 91, 2),
    # Portuguese: é is GSM-7, ã and ú are not, and neither is a lower-case ç.
    ("pt", "Obrigado, é tudo", "GSM-7", 16, 1),
    ("pt", "Não", "UCS-2", 3, 1),
    ("pt", "Começar", "UCS-2", 7, 1),
    ("pt", "Não vai receber mais mensagens de Harlow Council neste número. Responda START para voltar a participar.",
     "UCS-2", 103, 2),
    # Arabic: the tanwin (ً) is a unit too.
    ("ar", "شكرا", "UCS-2", 4, 1),
    ("ar", "لن تصلك رسائل أخرى من Harlow Council على هذا الرقم. أرسل START للانضمام مجددًا.", "UCS-2", 79, 2),
    # Somali: Latin letters and the apostrophe, all GSM-7.
    ("so", "Mahadsanid", "GSM-7", 10, 1),
    ("so", "Mar dambe fariimo kaagama iman doonaan Harlow Council lambarkan. Ku jawaab START si aad mar kale ugu "
           "biirto.", "GSM-7", 108, 1),
]


@pytest.mark.parametrize("lang, text, encoding, units, segments", HAND_COUNTED,
                         ids=[f"{row[0]}-{i}" for i, row in enumerate(HAND_COUNTED)])
def test_segments_match_hand_counts(lang, text, encoding, units, segments):
    cost = message_cost(text, lang)
    assert (cost.encoding, cost.units, cost.segments) == (encoding, units, segments)
    assert cost.lang == lang
    assert not cost.too_long


def test_all_ten_languages_are_hand_counted():
    assert {row[0] for row in HAND_COUNTED} == {"en", "cy", "pl", "ro", "pa", "ur", "bn", "pt", "ar", "so"}


@pytest.mark.parametrize("text, units, segments", [
    ("a" * 160, 160, 1),
    ("a" * 161, 161, 2),
    ("a" * 159 + "€", 161, 2),
    ("a" * 306, 306, 2),
    # An escape pair is never split across parts: 152 + [€ would not fit] -> 152 | 2 + 151 | 1 = three parts.
    ("a" * 152 + "€" + "a" * 152, 306, 3),
    ("ŵ" * 70, 70, 1),
    ("ŵ" * 71, 71, 2),
    ("ŵ" * 134, 134, 2),
    ("ŵ" * 135, 135, 3),
])
def test_part_boundaries(text, units, segments):
    cost = message_cost(text)
    assert (cost.units, cost.segments) == (units, segments)


def test_an_emoji_outside_the_basic_plane_takes_two_units():
    cost = message_cost("Diolch 👍")
    assert (cost.encoding, cost.units, cost.characters, cost.segments) == ("UCS-2", 9, 8, 1)


def test_more_than_ten_parts_is_too_long_to_send():
    assert MAX_SEGMENTS == 10
    assert not message_cost("a" * 1530).too_long  # 10 x 153
    assert message_cost("a" * 1531).too_long
    assert not message_cost("ŵ" * 670).too_long  # 10 x 67
    assert message_cost("ŵ" * 671).segments == 11


def test_smart_encoding_swaps_punctuation_only():
    text = "It’s “fine” – honestly…"
    plain = message_cost(text)
    smart = message_cost(text, smart=True)
    assert plain.encoding == "UCS-2"
    assert (smart.encoding, smart.text, smart.units) == ("GSM-7", 'It\'s "fine" - honestly...', 25)
    # Letters are never replaced: Welsh ŵ keeps the text in UCS-2.
    welsh = message_cost("Ddim yn siŵr – diolch", smart=True)
    assert (welsh.encoding, welsh.text) == ("UCS-2", "Ddim yn siŵr - diolch")


def test_smart_encoding_can_save_a_part():
    text = "Thank you – we’ll tell you what we did. " * 4  # 160 characters with two curly quotes per sentence
    assert message_cost(text).segments == 3
    assert message_cost(text, smart=True).segments == 1


ENGLISH = "The park reopens on Monday. Reply STOP to stop."  # GSM-7, 1 part
WELSH = "Mae'r parc yn ailagor ddydd Llun. Atebwch STOPIO i roi'r gorau iddi, diolch yn fawr iawn ŵ."  # UCS-2, 2


def test_broadcast_estimate_prices_each_language_and_counts_fallbacks():
    settings = replace(Settings(), sms_price_per_segment=0.04)
    estimate = estimate_broadcast({"en": ENGLISH, "cy": WELSH}, {"en": 100, "cy": 20, "pl": 5, None: 50}, settings)
    lines = {line.text_lang: line for line in estimate.lines}
    assert (lines["en"].recipients, lines["en"].segments_each, lines["en"].segments) == (155, 1, 155)
    assert lines["en"].audience == {"en": 100, "pl": 5, None: 50}
    assert (lines["cy"].recipients, lines["cy"].segments_each, lines["cy"].segments) == (20, 2, 40)
    assert (estimate.recipients, estimate.segments) == (175, 195)
    assert estimate.cost == Decimal("7.80")
    assert estimate.fallbacks == {"pl": 5}
    assert estimate.cost_text() == "£7.80"


def test_wales_mode_sends_unknown_residents_both_languages_and_costs_them():
    settings = replace(Settings(), sms_price_per_segment=0.05, welsh_first=True)
    estimate = estimate_broadcast({"en": ENGLISH, "cy": WELSH}, {"en": 10, None: 4}, settings)
    lines = {line.text_lang: line for line in estimate.lines}
    # Welsh (91 units) + blank line (2) + English (47) = 140 UCS-2 units: three parts of 67.
    assert lines["cy+en"].segments_each == 3
    assert lines["cy+en"].encoding == "UCS-2"
    assert estimate.segments == 10 * 1 + 4 * 3
    assert estimate.cost == Decimal("1.10")


def test_a_broadcast_with_no_text_is_refused():
    with pytest.raises(ValueError, match="no text"):
        estimate_broadcast({"en": "  "}, {"en": 3}, Settings())


def test_a_version_over_ten_parts_is_flagged():
    estimate = estimate_broadcast({"en": "a" * 1600}, {"en": 1}, Settings())
    assert estimate.too_long == ("en",)
