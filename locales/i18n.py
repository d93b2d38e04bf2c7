"""System messages in the resident's language, from the Babel catalogs in locales/."""
from __future__ import annotations

import functools
import io
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

LOCALES_DIR = Path(__file__).resolve().parent
BASE_LANGUAGE = "en"


@functools.lru_cache(maxsize=64)
def translations(lang: str | None) -> NullTranslations:
    """Return the catalog for a language, compiled in memory from its .po file.

    Compiling here rather than shipping .mo files means a translator's edit to
    a .po file takes effect on restart with no build step to forget.
    """
    if not lang or lang == BASE_LANGUAGE:
        return NullTranslations()
    po_path = LOCALES_DIR / lang / "LC_MESSAGES" / "messages.po"
    if not po_path.exists():
        return NullTranslations()
    with po_path.open("rb") as fh:
        catalog = read_po(fh, locale=lang)
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return Translations(fp=buf)


def has_catalog(lang: str | None) -> bool:
    """Return True when system messages exist in this language."""
    return lang == BASE_LANGUAGE or (lang is not None and (LOCALES_DIR / lang / "LC_MESSAGES" / "messages.po").exists())


def gettext(lang: str | None, message: str, **params) -> str:
    """Translate a system message and fill in its %(name)s parameters."""
    text = translations(lang).gettext(message)
    return text % params if params else text


def ngettext(lang: str | None, singular: str, plural: str, n: int, **params) -> str:
    """Translate a message with a count, using the language's plural rules."""
    text = translations(lang).ngettext(singular, plural, n)
    return text % {"num": n, **params}


# Marks a string for extraction without translating it at import time.
def N_(message: str) -> str:
    return message
