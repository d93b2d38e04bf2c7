"""The languages residents can use: names, the words that switch to them, consent words, direction, formats.

Pure data plus Babel look-ups; nothing here imports the rest of the service, so every room may use it.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date, datetime

from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from babel.numbers import format_decimal, format_percent

BASE_LANGUAGE = "en"


@dataclass(frozen=True)
class Language:
    """One supported language: its code, names, and the words residents text in it."""

    code: str
    english_name: str
    native_name: str
    # Texting one of these (any case, spaces and punctuation ignored) switches a resident to the language.
    switch_words: tuple[str, ...]
    # Consent and help words in this language, added to the English and Welsh ones in engage/keywords.py.
    stop_words: tuple[str, ...] = ()
    start_words: tuple[str, ...] = ()
    help_words: tuple[str, ...] = ()
    # Erasure by text: the word that asks to be forgotten, and the words that confirm it (the first is
    # the one the confirmation request tells the resident to send).
    forget_words: tuple[str, ...] = ()
    forget_confirm: tuple[str, ...] = ()
    # The Babel locale for dates and numbers (British English, European Portuguese: the UK's residents).
    babel_locale: str = ""
    # The officers' dashboard is translated into this language too.
    dashboard: bool = False
    # The gettext Plural-Forms header: CLDR's integer rules (ngettext only ever sees whole counts).
    plural_forms: str = "nplurals=2; plural=(n != 1);"

    @property
    def locale(self) -> Locale:
        return Locale.parse(self.babel_locale or self.code)

    @property
    def direction(self) -> str:
        return self.locale.text_direction


LANGUAGES: tuple[Language, ...] = (
    Language("en", "English", "English", ("ENGLISH", "SAESNEG"),
             forget_words=("FORGET", "FORGET ME"), forget_confirm=("FORGET YES", "FORGET ME YES"), babel_locale="en_GB",
             dashboard=True),
    Language("cy", "Welsh", "Cymraeg", ("CYMRAEG", "WELSH"),
             forget_words=("ANGHOFIO",), forget_confirm=("ANGHOFIO IE", "ANGHOFIO YDW"), dashboard=True,
             plural_forms="nplurals=6; plural=(n==0 ? 0 : n==1 ? 1 : n==2 ? 2 : n==3 ? 3 : n==6 ? 4 : 5);"),
    Language("pl", "Polish", "Polski", ("POLSKI", "POLISH", "PO POLSKU"),
             forget_words=("ZAPOMNIJ",), forget_confirm=("ZAPOMNIJ TAK",),
             stop_words=("KONIEC", "WYPISZ", "REZYGNUJĘ"), start_words=("ZAPISZ",), help_words=("POMOC",),
             plural_forms="nplurals=3; plural=(n==1 ? 0 : n%10>=2 && n%10<=4 && (n%100<12 || n%100>14) ? 1 : 2);"),
    Language("ro", "Romanian", "Română", ("ROMÂNĂ", "ROMANA", "ROMÂNA", "ROMANIAN"),
             forget_words=("ȘTERGE", "STERGE"), forget_confirm=("ȘTERGE DA", "STERGE DA"),
             stop_words=("OPRIRE", "DEZABONARE"), start_words=("PORNIRE", "ABONARE"), help_words=("AJUTOR",),
             plural_forms="nplurals=3; plural=(n==1 ? 0 : (n==0 || (n%100>0 && n%100<20)) ? 1 : 2);"),
    Language("pa", "Panjabi", "ਪੰਜਾਬੀ", ("ਪੰਜਾਬੀ", "PUNJABI", "PANJABI"),
             forget_words=("ਭੁੱਲ ਜਾਓ",), forget_confirm=("ਭੁੱਲ ਜਾਓ ਹਾਂ",),
             stop_words=("ਬੰਦ", "ਰੋਕੋ"), start_words=("ਸ਼ੁਰੂ",), help_words=("ਮਦਦ",),
             plural_forms="nplurals=2; plural=(n > 1);"),
    Language("ur", "Urdu", "اردو", ("اردو", "URDU"),
             forget_words=("بھول جائیں",), forget_confirm=("بھول جائیں ہاں",),
             stop_words=("بند", "روکیں"), start_words=("شروع",), help_words=("مدد",)),
    Language("bn", "Bengali", "বাংলা", ("বাংলা", "BENGALI", "BANGLA"),
             forget_words=("ভুলে যান",), forget_confirm=("ভুলে যান হ্যাঁ",),
             stop_words=("বন্ধ",), start_words=("শুরু",), help_words=("সাহায্য",),
             plural_forms="nplurals=2; plural=(n > 1);"),
    Language("pt", "Portuguese", "Português", ("PORTUGUÊS", "PORTUGUES", "PORTUGUESE"),
             forget_words=("ESQUECER",), forget_confirm=("ESQUECER SIM",),
             stop_words=("PARAR", "SAIR", "CANCELAR"), start_words=("INICIAR", "COMEÇAR"), help_words=("AJUDA",),
             babel_locale="pt_PT"),
    Language("ar", "Arabic", "العربية", ("العربية", "عربي", "ARABIC"),
             forget_words=("انسني",), forget_confirm=("انسني نعم",),
             stop_words=("توقف", "إيقاف"), start_words=("ابدأ", "بدء"), help_words=("مساعدة",),
             plural_forms="nplurals=6; plural=(n==0 ? 0 : n==1 ? 1 : n==2 ? 2 : n%100>=3 && n%100<=10 ? 3 "
                          ": n%100>=11 ? 4 : 5);"),
    Language("so", "Somali", "Soomaali", ("SOOMAALI", "SOMALI", "AF SOOMAALI"),
             forget_words=("I ILOOW",), forget_confirm=("I ILOOW HAA",),
             stop_words=("JOOJI",), start_words=("BILOW",), help_words=("CAAWIN", "CAAWIMAAD")),
)

BY_CODE: dict[str, Language] = {language.code: language for language in LANGUAGES}
CODES: tuple[str, ...] = tuple(BY_CODE)
# Languages the officers' dashboard is translated into; residents' messages are in all of CODES.
DASHBOARD_CODES: tuple[str, ...] = tuple(language.code for language in LANGUAGES if language.dashboard)


def get(code: str | None) -> Language | None:
    """Return the supported language with this code, or None."""
    return BY_CODE.get(code or "")


def supported_code(tag: str | None) -> str | None:
    """Turn a language tag (Telegram's "pt-br", a browser's "en-GB", "CY") into a supported code, or None."""
    if not tag:
        return None
    primary = tag.strip().replace("_", "-").split("-")[0].lower()
    return primary if primary in BY_CODE else None


@functools.cache
def _locale(code: str | None) -> Locale:
    language = get(code)
    if language is not None:
        return language.locale
    try:
        return Locale.parse(code or BASE_LANGUAGE, sep="-" if code and "-" in code else "_")
    except (ValueError, UnknownLocaleError):
        return BY_CODE[BASE_LANGUAGE].locale


def direction(lang: str | None) -> str:
    """Return "rtl" or "ltr", the way the language is written, from Babel's locale data."""
    return _locale(lang).text_direction


def native_name(lang: str | None) -> str:
    """Return the language's own name for itself ("Cymraeg"), for switchers and confirmations."""
    language = get(lang)
    return language.native_name if language else (lang or "")


def long_date(value: date | datetime, lang: str | None) -> str:
    """Format a date the long way in the language ("31 Rhagfyr 2026", "31 grudnia 2026")."""
    return format_date(value, format="long", locale=_locale(lang))


def number(value: float, lang: str | None) -> str:
    """Format a number with the language's separators ("1 234,5" in Polish)."""
    return format_decimal(value, locale=_locale(lang))


def percent(fraction: float, lang: str | None) -> str:
    """Format a fraction as a percentage the language's way ("62%", Romanian "62 %")."""
    return format_percent(fraction, locale=_locale(lang))
