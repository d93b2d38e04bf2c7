"""The language table: names, direction, dates and numbers, plural rules, and the shipped catalogs."""
from __future__ import annotations

import gettext
import io
from datetime import date

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from engage.conversations import STOPPED
from locales import i18n
from locales.check_catalogs import ROOT, catalog_path, shipped_languages
from locales.languages import (
    BY_CODE,
    CODES,
    DASHBOARD_CODES,
    direction,
    long_date,
    native_name,
    number,
    percent,
    supported_code,
)


def test_the_ten_languages_and_the_dashboards_two():
    assert CODES == ("en", "cy", "pl", "ro", "pa", "ur", "bn", "pt", "ar", "so")
    assert DASHBOARD_CODES == ("en", "cy")
    assert native_name("pa") == "ਪੰਜਾਬੀ"
    assert native_name("cy") == "Cymraeg"


@pytest.mark.parametrize("lang, expected", [("ar", "rtl"), ("ur", "rtl"), ("en", "ltr"), ("cy", "ltr"),
                                            ("pa", "ltr"), ("bn", "ltr"), ("so", "ltr"), ("he", "rtl"),
                                            (None, "ltr"), ("xx-nonsense", "ltr")])
def test_direction_comes_from_babels_locale_data(lang, expected):
    assert direction(lang) == expected


@pytest.mark.parametrize("lang, expected", [
    ("en", "31 December 2026"), ("cy", "31 Rhagfyr 2026"), ("pl", "31 grudnia 2026"),
    ("ro", "31 decembrie 2026"), ("pt", "31 de dezembro de 2026"), ("pa", "31 ਦਸੰਬਰ 2026"),
    ("ar", "31 ديسمبر 2026"),
])
def test_long_dates_in_each_language(lang, expected):
    assert long_date(date(2026, 12, 31), lang) == expected


def test_numbers_and_percentages_follow_the_locale():
    assert percent(0.62, "en") == "62%"
    assert percent(0.62, "cy") == "62%"
    assert percent(0.62, "ro") == "62\xa0%"  # Romanian puts a (no-break) space before the sign
    assert number(1234.5, "en") == "1,234.5"
    assert number(1234.5, "pl") == "1\xa0234,5"
    assert number(1234.5, "pt") == "1\xa0234,5"


@pytest.mark.parametrize("tag, code", [("cy", "cy"), ("CY", "cy"), ("pt-br", "pt"), ("pt_PT", "pt"),
                                       ("en-GB", "en"), ("de", None), ("", None), (None, None)])
def test_supported_code(tag, code):
    assert supported_code(tag) == code


@pytest.mark.parametrize("lang", CODES)
def test_plural_forms_agree_with_cldr_for_whole_numbers(lang):
    """Every count CLDR puts in one category gets the same gettext form, and different categories differ."""
    language = BY_CODE[lang]
    expr = language.plural_forms.split("plural=", 1)[1].rstrip(";").strip()
    nplurals = int(language.plural_forms.split("nplurals=", 1)[1].split(";")[0])
    form_of = gettext.c2py(expr)
    rule = language.locale.plural_form
    seen: dict[str, int] = {}
    for n in range(0, 1001):
        index = form_of(n)
        assert 0 <= index < nplurals
        assert seen.setdefault(rule(n), index) == index, (lang, n)
    assert len(set(seen.values())) == len(seen)


def test_welsh_arabic_and_polish_have_six_six_and_three_forms():
    counts = {lang: int(BY_CODE[lang].plural_forms.split("nplurals=")[1].split(";")[0]) for lang in CODES}
    assert (counts["cy"], counts["ar"], counts["pl"], counts["ro"], counts["en"]) == (6, 6, 3, 3, 2)


def compiled(lang: str, forms: tuple[str, ...]) -> Translations:
    """Compile a one-message catalog with the language's Plural-Forms, as locales/i18n.py does."""
    from locales.check_catalogs import new_catalog

    catalog: Catalog = new_catalog(lang)
    catalog.add(("%(num)s answer", "%(num)s answers"), forms)
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return Translations(fp=buf)


def test_welsh_counts_pick_all_six_forms():
    forms = ("%(num)s ateb (zero)", "%(num)s ateb (one)", "%(num)s ateb (two)", "%(num)s ateb (few)",
             "%(num)s ateb (many)", "%(num)s ateb (other)")
    catalog = compiled("cy", forms)
    picked = {n: catalog.ngettext("%(num)s answer", "%(num)s answers", n) % {"num": n} for n in (0, 1, 2, 3, 6, 7)}
    assert picked == {0: "0 ateb (zero)", 1: "1 ateb (one)", 2: "2 ateb (two)", 3: "3 ateb (few)",
                      6: "6 ateb (many)", 7: "7 ateb (other)"}


def test_polish_counts_pick_one_few_many():
    catalog = compiled("pl", ("%(num)s odpowiedź", "%(num)s odpowiedzi", "%(num)s odpowiedzi (many)"))
    pick = [catalog.ngettext("%(num)s answer", "%(num)s answers", n) for n in (1, 2, 5, 12, 22, 25)]
    assert pick == ["%(num)s odpowiedź", "%(num)s odpowiedzi", "%(num)s odpowiedzi (many)",
                    "%(num)s odpowiedzi (many)", "%(num)s odpowiedzi", "%(num)s odpowiedzi (many)"]


@pytest.mark.parametrize("lang", shipped_languages())
def test_shipped_catalogs_carry_the_right_plural_rule_and_compile(lang):
    with catalog_path(ROOT, lang).open("rb") as fh:
        catalog = read_po(fh, locale=lang)
    assert catalog.plural_forms.replace(" ", "") == BY_CODE[lang].plural_forms.replace(" ", "")
    i18n.translations.cache_clear()
    text = i18n.gettext(lang, STOPPED, council="Harlow Council")
    assert "Harlow Council" in text
    assert text != STOPPED % {"council": "Harlow Council"}


def test_consent_and_switch_words_are_never_ordinary_answers():
    """A STOP word that is also a yes/no, number or skip word would opt residents out by accident."""
    from engage.keywords import normalise
    from flows import matching

    answers = set()
    for table in (matching.YES_WORDS, matching.NO_WORDS, matching.SKIP_WORDS):
        answers |= {normalise(word) for words in table.values() for word in words}
    answers |= {normalise(word) for words in matching.NUMBER_WORDS.values() for word in words}
    special = {}
    for language in BY_CODE.values():
        for kind, words in (("stop", language.stop_words), ("start", language.start_words),
                            ("help", language.help_words), ("switch", language.switch_words)):
            for word in words:
                special[normalise(word)] = (kind, language.code)
    assert not answers & set(special), {word: special[word] for word in answers & set(special)}


def test_consent_words_do_not_clash_with_the_library_flows_keywords():
    from engage.keywords import normalise
    from flows.loader import load_flows_dir

    flows, _problems = load_flows_dir(ROOT / "flows" / "library")
    keywords = {normalise(k) for flow in flows.values() for k in flow.keywords}
    words = {normalise(w) for lang in BY_CODE.values()
             for w in (*lang.stop_words, *lang.start_words, *lang.help_words, *lang.switch_words)}
    assert not keywords & words
