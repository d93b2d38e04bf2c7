"""Consent and help keywords residents can text in any supported language."""
from __future__ import annotations

import re
import unicodedata

from locales.languages import BASE_LANGUAGE

# Matching ignores case, spaces and punctuation: "Stop!", " s t o p " and "STOP." are all STOP.
# Indic vowel signs are kept (\W alone would drop them, and "ਬੰਦ", stop, would become "ਬਦ", bad);
# optional Arabic-script diacritics are still dropped.
_NOT_LETTERS = re.compile(r"[^\w\u0900-\u0963\u0966-\u0dff]+|_+", re.UNICODE)

STOP_WORDS = {
    "en": ["STOP", "STOPALL", "UNSUBSCRIBE", "END", "QUIT", "CANCEL", "OPTOUT", "REVOKE"],
    "cy": ["STOPIO", "DIWEDD", "DADDANYSGRIFIO", "GORFFEN", "CANSLO"],
}
START_WORDS = {
    "en": ["START", "UNSTOP", "YES START", "OPTIN"],
    "cy": ["DECHRAU", "AILDDECHRAU"],
}
HELP_WORDS = {
    "en": ["HELP", "INFO"],
    "cy": ["HELP", "CYMORTH", "GWYBODAETH"],
}


def normalise(text: str | None) -> str:
    """Upper-case a reply and drop everything but letters and digits."""
    return _NOT_LETTERS.sub("", unicodedata.normalize("NFC", text or "")).upper()


def _index(table: dict[str, list[str]]) -> dict[str, list[str]]:
    index: dict[str, list[str]] = {}
    for lang, words in table.items():
        for word in words:
            langs = index.setdefault(normalise(word), [])
            if lang not in langs:
                langs.append(lang)
    return index


class KeywordTable:
    """Which system keyword a reply is, and in which language it was said."""

    def __init__(self, stop=STOP_WORDS, start=START_WORDS, help=HELP_WORDS):
        self.tables = {"stop": _index(stop), "start": _index(start), "help": _index(help)}

    def classify(self, text: str | None, prefer: str | None = None) -> tuple[str | None, str | None]:
        """Return (kind, language) for a system keyword, or (None, None).

        A word that is the same in several languages ("HELP" is English and Welsh) is taken in
        `prefer` (the contact's language) when it is one of them, else in the base language, else
        in the first language that has it.
        """
        word = normalise(text)
        if not word:
            return None, None
        for kind, table in self.tables.items():
            langs = table.get(word)
            if langs:
                if prefer in langs:
                    return kind, prefer
                return kind, BASE_LANGUAGE if BASE_LANGUAGE in langs else langs[0]
        return None, None

    def extend(self, kind: str, lang: str, words: list[str]) -> None:
        """Add words of another language (the language catalogs call this)."""
        for word in words:
            langs = self.tables[kind].setdefault(normalise(word), [])
            if lang not in langs:
                langs.append(lang)


KEYWORDS = KeywordTable()
