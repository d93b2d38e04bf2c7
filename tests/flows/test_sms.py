"""SMS segment counting, with examples counted by hand."""
from __future__ import annotations

import pytest

from flows.sms import count_segments, is_gsm7, smart_encode


@pytest.mark.parametrize(
    ("text", "encoding", "units", "segments"),
    [
        ("", "GSM-7", 0, 0),
        ("Hello", "GSM-7", 5, 1),
        ("a" * 160, "GSM-7", 160, 1),
        ("a" * 161, "GSM-7", 161, 2),  # 153 + 8
        ("a" * 306, "GSM-7", 306, 2),  # 153 + 153
        ("a" * 307, "GSM-7", 307, 3),
        ("@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ!\"#¤%&'()*+,-./:;<=>?¡ÄÖÑÜ§¿äöñüà", "GSM-7", 62, 1),
        # Extension table: an escape septet each.
        ("€", "GSM-7", 2, 1),
        ("Price: €5", "GSM-7", 10, 1),  # 9 characters, the euro sign counts twice
        ("^{}\\[~]|€", "GSM-7", 18, 1),
        ("page\fbreak", "GSM-7", 11, 1),
        ("€" * 80, "GSM-7", 160, 1),
        ("€" * 81, "GSM-7", 162, 2),  # 76 per part (152 septets), then 5
        # An escape pair is never split: 152 + (2 + 151) + 1, where 306 / 153 alone would say 2.
        ("a" * 152 + "€" + "a" * 152, "GSM-7", 306, 3),
        # One character outside GSM-7 makes the whole message UCS-2.
        ("ŵ", "UCS-2", 1, 1),
        ("ŵ" * 70, "UCS-2", 70, 1),
        ("ŵ" * 71, "UCS-2", 71, 2),
        ("ŵ" * 134, "UCS-2", 134, 2),  # 67 + 67
        ("ŵ" * 135, "UCS-2", 135, 3),
        ("a" * 69 + "ç", "UCS-2", 70, 1),  # only the capital Ç is in GSM-7
        ("Hi `you`", "UCS-2", 8, 1),
        # Emoji are two UTF-16 code units, and a pair is never split across parts.
        ("😀", "UCS-2", 2, 1),
        ("😀" * 35, "UCS-2", 70, 1),
        ("😀" * 36, "UCS-2", 72, 2),  # 33 per part (66 units), then 3
        ("ŵ" * 66 + "😀" + "ŵ" * 66, "UCS-2", 134, 3),  # 66 | 2 + 65 | 1
    ],
)
def test_count_segments(text: str, encoding: str, units: int, segments: int) -> None:
    info = count_segments(text)
    assert (info.encoding, info.units, info.segments) == (encoding, units, segments)


@pytest.mark.parametrize(
    ("language", "text", "encoding", "units", "segments"),
    [
        ("Welsh", "Diolch yn fawr", "GSM-7", 14, 1),
        ("Welsh", "Ddim yn siŵr", "UCS-2", 12, 1),
        ("Welsh", "65 neu hŷn", "UCS-2", 10, 1),
        ("Welsh", "Pa mor ddiogel ydych chi'n teimlo yn cerdded yn eich ardal ar ôl iddi dywyllu?", "UCS-2", 78, 2),
        ("Polish", "Dziękuję", "UCS-2", 8, 1),
        ("Polish", "Zażółć gęślą jaźń", "UCS-2", 17, 1),
        ("Romanian", "Mulțumesc", "UCS-2", 9, 1),  # ț with comma below
        ("Romanian", "Mulţumesc", "UCS-2", 9, 1),  # ţ with cedilla, as older keyboards type it
        ("Romanian", "Da sau nu", "GSM-7", 9, 1),
        ("Portuguese", "Obrigado", "GSM-7", 8, 1),
        ("Portuguese", "Não", "UCS-2", 3, 1),
        ("Portuguese", "Você", "UCS-2", 4, 1),  # ê is not in GSM-7 (é is)
        ("Somali", "Waad ku mahadsan tahay", "GSM-7", 22, 1),
        ("Panjabi", "ਧੰਨਵਾਦ", "UCS-2", 6, 1),  # ਧ ੰ ਨ ਵ ਾ ਦ
        ("Urdu", "شکریہ", "UCS-2", 5, 1),  # ش ک ر ی ہ
        ("Bengali", "ধন্যবাদ", "UCS-2", 7, 1),  # ধ ন ্ য ব া দ
        ("Bengali", "ধন্যবাদ " * 9, "UCS-2", 72, 2),  # 8 code points nine times
        ("Arabic", "شكرا", "UCS-2", 4, 1),  # ش ك ر ا
    ],
)
def test_languages(language: str, text: str, encoding: str, units: int, segments: int) -> None:
    info = count_segments(text)
    assert (info.encoding, info.units, info.segments) == (encoding, units, segments), language


def test_non_gsm_characters_are_named_once_each() -> None:
    assert count_segments("Ddim yn siŵr, siŵr iawn ô").non_gsm == ("ŵ", "ô")
    assert count_segments("Plain text").non_gsm == ()
    assert count_segments("siŵr").characters == 4


def test_smart_encode_replaces_punctuation_only() -> None:
    text = "\u201cHello\u201d \u2013 it\u2019s\u2026 here\u00a0now \u2014 \u2018ok\u2019\u200b"
    encoded = smart_encode(text)
    assert encoded == "\"Hello\" - it's... here now - 'ok'"
    assert is_gsm7(encoded)
    assert count_segments(text).encoding == "UCS-2"
    assert count_segments(encoded).encoding == "GSM-7"


@pytest.mark.parametrize("text", ["Ddim yn siŵr", "65 neu hŷn", "Zażółć gęślą jaźń", "Mulțumesc", "ধন্যবাদ", "Não"])
def test_smart_encode_keeps_letters(text: str) -> None:
    assert smart_encode(text) == text


def test_smart_encode_can_make_welsh_gsm_when_only_punctuation_was_the_problem() -> None:
    text = "Diolch \u2013 rydych chi\u2019n wych"
    assert count_segments(text).encoding == "UCS-2"
    assert count_segments(smart_encode(text)) == count_segments("Diolch - rydych chi'n wych")
    assert count_segments(smart_encode(text)).encoding == "GSM-7"
