"""Count how many SMS segments a text costs, and swap typographic punctuation for GSM-7 equivalents.

Hand-written on purpose: no maintained PyPI library counts GSM-7 segments correctly (extension
characters taking two septets, escape pairs and surrogate pairs never split across parts), and
this is small enough to own and test.
"""
from __future__ import annotations

from dataclasses import dataclass

# GSM 03.38 basic character set (the escape character 0x1B is left out: it cannot be typed).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Extension table: each costs an escape septet plus its own.
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")

GSM7_SINGLE, GSM7_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67

# Punctuation only: letters (Welsh ŵ ŷ, Polish ą ł, Romanian ș ț) are never replaced.
_SMART_REPLACEMENTS = {
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "\u2039": "'", "\u203a": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"', "\u00ab": '"', "\u00bb": '"',
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-", "\u2212": "-",
    "\u2026": "...", "\u2022": "-",
    "\u00a0": " ", "\u2002": " ", "\u2003": " ", "\u2004": " ", "\u2005": " ", "\u2006": " ", "\u2007": " ",
    "\u2008": " ", "\u2009": " ", "\u200a": " ", "\u202f": " ", "\u205f": " ", "\u3000": " ", "\t": " ",
    "\u2028": "\n", "\u2029": "\n",
    # Invisible characters that would force UCS-2 for nothing (joiners are kept: scripts need them).
    "\u200b": "", "\u00ad": "", "\ufeff": "", "\u2060": "",
}
_SMART_TABLE = str.maketrans(_SMART_REPLACEMENTS)


@dataclass(frozen=True)
class SegmentInfo:
    """What a text costs as an SMS: its encoding, its length in encoding units, and its parts."""

    encoding: str  # "GSM-7" | "UCS-2"
    units: int  # septets for GSM-7, UTF-16 code units for UCS-2
    characters: int  # code points, as a person would count them
    segments: int
    # The characters that made the text UCS-2 (empty for GSM-7), to show officers what to change.
    non_gsm: tuple[str, ...] = ()


def is_gsm7(text: str) -> bool:
    """Return True when every character of the text is in the GSM-7 basic or extension set."""
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text)


def _pack(sizes: list[int], single: int, part: int) -> int:
    """Count parts for characters of the given unit sizes, never splitting one character across parts."""
    total = sum(sizes)
    if total == 0:
        return 0
    if total <= single:
        return 1
    parts, used = 1, 0
    for size in sizes:
        if used + size > part:
            parts, used = parts + 1, 0
        used += size
    return parts


def count_segments(text: str) -> SegmentInfo:
    """Return the encoding, unit count and number of SMS parts the text costs."""
    non_gsm = tuple(dict.fromkeys(ch for ch in text if ch not in GSM7_BASIC and ch not in GSM7_EXTENSION))
    if not non_gsm:
        sizes = [2 if ch in GSM7_EXTENSION else 1 for ch in text]
        return SegmentInfo("GSM-7", sum(sizes), len(text), _pack(sizes, GSM7_SINGLE, GSM7_PART))
    sizes = [2 if ord(ch) > 0xFFFF else 1 for ch in text]
    return SegmentInfo("UCS-2", sum(sizes), len(text), _pack(sizes, UCS2_SINGLE, UCS2_PART), non_gsm)


def smart_encode(text: str) -> str:
    """Replace typographic punctuation and odd spaces with GSM-7 equivalents; letters are left alone."""
    return text.translate(_SMART_TABLE)

