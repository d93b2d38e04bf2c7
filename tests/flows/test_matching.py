"""Answer matching, one table per kind of answer: reply in, value (or reason code) out."""
from __future__ import annotations

import pytest

from flows.matching import (
    NO_WORDS,
    NUMBER_WORDS,
    SKIP_WORDS,
    YES_WORDS,
    fold,
    is_skip_word,
    match_choice,
    match_multiple,
    match_number,
    match_scale,
    match_text,
    match_yes_no,
    normalize,
    numeric_range,
    words_to_number,
)
from flows.model import Choice

SAFETY = [
    Choice("safe", {"en": "Safe", "cy": "Diogel"}),
    Choice("unsafe", {"en": "Unsafe", "cy": "Anniogel"}),
    Choice("unsure", {"en": "Not sure", "cy": "Ddim yn siŵr"}),
]
NO_OPPOSITE = [Choice("safe", {"en": "Safe"}), Choice("unsure", {"en": "Not sure"})]
AGE = [
    Choice("under_18", {"en": "Under 18", "cy": "O dan 18"}),
    Choice("18_64", {"en": "18 to 64", "cy": "18 i 64"}),
    Choice("65_plus", {"en": "65 or over", "cy": "65 neu hŷn"}),
]
TEN = [Choice(f"v{i}", {"en": f"Option {i}"}) for i in range(1, 11)]
BINS = [
    Choice("weekly", {"en": "Every week"}, synonyms={"en": ("weekly",)}),
    Choice("fortnightly", {"en": "Every two weeks"}, synonyms={"en": ("fortnightly", "biweekly")}),
]


@pytest.mark.parametrize(
    ("text", "langs", "expected"),
    [
        # by number, letter, number word, keycap
        ("2", ["en"], "unsafe"),
        (" 2 ", ["en"], "unsafe"),
        ("2.", ["en"], "unsafe"),
        ("#2", ["en"], "unsafe"),
        ("option 3", ["en"], "unsure"),
        ("number 2", ["en"], "unsafe"),
        ("rhif 2", ["cy", "en"], "unsafe"),
        ("option b", ["en"], "unsafe"),
        ("two", ["en"], "unsafe"),
        ("Three", ["en"], "unsure"),
        ("b", ["en"], "unsafe"),
        ("B)", ["en"], "unsafe"),
        ("(c)", ["en"], "unsure"),
        ("1️⃣", ["en"], "safe"),
        ("2️⃣", ["en"], "unsafe"),
        ("٢", ["en"], "unsafe"),  # Arabic-Indic digit
        ("২", ["en"], "unsafe"),  # Bengali digit
        # Welsh number words in the resident's language first, then the base language
        ("un", ["cy", "en"], "safe"),
        ("dau", ["cy", "en"], "unsafe"),
        ("dwy", ["cy", "en"], "unsafe"),
        ("tri", ["cy", "en"], "unsure"),
        ("tair", ["cy", "en"], "unsure"),
        ("two", ["cy", "en"], "unsafe"),
        ("dau", ["en"], None),  # Welsh words are not read for an English-only run
        ("dwa", ["pl", "en"], "unsafe"),
        ("doi", ["ro", "en"], "unsafe"),
        ("dois", ["pt", "en"], "unsafe"),
        # by label, in any language, ignoring case, punctuation and accents
        ("unsafe", ["en"], "unsafe"),
        ("Unsafe!!", ["en"], "unsafe"),
        ("UNSAFE", ["en"], "unsafe"),
        ("safe", ["en"], "safe"),
        ("Safe.", ["en"], "safe"),
        ("not sure", ["en"], "unsure"),
        ("Not sure?", ["en"], "unsure"),
        ("Diogel", ["en"], "safe"),
        ("anniogel", ["cy", "en"], "unsafe"),
        ("ddim yn siwr", ["cy", "en"], "unsure"),
        ("Ddim yn siŵr", ["cy", "en"], "unsure"),
        ("i feel safe", ["en"], "safe"),
        ("very unsafe", ["en"], "unsafe"),
        # negation: "not safe" is Unsafe, never Safe; "unsafe" never fuzzy-matches Safe
        ("not safe", ["en"], "unsafe"),
        ("NOT SAFE", ["en"], "unsafe"),
        ("I don't feel safe", ["en"], "unsafe"),
        ("unsure", ["en"], "unsure"),
        ("ddim yn ddiogel", ["cy", "en"], "unsafe"),
        # typos
        ("unsaf", ["en"], "unsafe"),
        ("Saef", ["en"], "safe"),
        ("saf", ["en"], "safe"),
        ("not shure", ["en"], "unsure"),
        ("Diogle", ["cy", "en"], "safe"),
        ("anniogl", ["cy", "en"], "unsafe"),
        # no match
        ("5", ["en"], None),
        ("0", ["en"], None),
        ("banana", ["en"], None),
        ("yes", ["en"], None),
        ("sa", ["en"], None),
        ("safe and unsure", ["en"], None),
        ("maybe", ["en"], None),
        ("nob", ["en"], None),
    ],
)
def test_match_choice(text: str, langs: list[str], expected: str | None) -> None:
    found = match_choice(text, SAFETY, langs)
    assert found.value == expected, found
    if expected is None:
        assert found.reason == "not_a_choice" and found.params == {"count": 3}
    else:
        assert found.ok and 0.74 <= found.confidence <= 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("unsafe", None),  # must not fuzzy-match "Safe"
        ("not safe", None),  # contradicts Safe, and there is no opposite option
        ("safe", "safe"),
        ("not sure", "unsure"),
        ("unsure", "unsure"),
    ],
)
def test_match_choice_without_an_opposite(text: str, expected: str | None) -> None:
    assert match_choice(text, NO_OPPOSITE, ["en"]).value == expected


@pytest.mark.parametrize(
    ("text", "choices", "langs", "expected"),
    [
        ("2", AGE, ["en"], "18_64"),
        ("18 to 64", AGE, ["en"], "18_64"),
        ("18-64", AGE, ["en"], "18_64"),
        ("65 or over", AGE, ["en"], "65_plus"),
        ("65 neu hyn", AGE, ["cy", "en"], "65_plus"),
        ("under 18", AGE, ["en"], "under_18"),
        ("18_64", AGE, ["en"], "18_64"),  # the stored value itself
        ("10", TEN, ["en"], "v10"),
        ("ten", TEN, ["en"], "v10"),
        ("deg", TEN, ["cy", "en"], "v10"),
        ("🔟", TEN, ["en"], "v10"),
        ("j", TEN, ["en"], "v10"),
        ("biweekly", BINS, ["en"], "fortnightly"),  # a synonym (`also:`)
        ("weekly", BINS, ["en"], "weekly"),
        ("", SAFETY, ["en"], None),
    ],
)
def test_match_choice_more(text, choices, langs, expected) -> None:
    assert match_choice(text, choices, langs).value == expected


def test_match_choice_empty_reason() -> None:
    assert match_choice("  ", SAFETY, ["en"]).reason == "empty"
    assert match_choice("?!", SAFETY, ["en"]).reason == "empty"


@pytest.mark.parametrize(
    ("text", "langs", "expected"),
    [
        ("1 and 3", ["en"], ["safe", "unsure"]),
        ("1,3", ["en"], ["safe", "unsure"]),
        ("1, 3", ["en"], ["safe", "unsure"]),
        ("1 3", ["en"], ["safe", "unsure"]),
        ("1 & 3", ["en"], ["safe", "unsure"]),
        ("1+3", ["en"], ["safe", "unsure"]),
        ("1;3", ["en"], ["safe", "unsure"]),
        ("13", ["en"], ["safe", "unsure"]),  # run together when there are fewer than ten options
        ("3 and 1", ["en"], ["safe", "unsure"]),  # option order, not reply order
        ("1 and 1", ["en"], ["safe"]),
        ("safe and unsure", ["en"], ["safe", "unsure"]),
        ("safe, not sure", ["en"], ["safe", "unsure"]),
        ("a and c", ["en"], ["safe", "unsure"]),
        ("one and three", ["en"], ["safe", "unsure"]),
        ("1 a 3", ["cy", "en"], ["safe", "unsure"]),
        ("un a tri", ["cy", "en"], ["safe", "unsure"]),
        ("diogel ac anniogel", ["cy", "en"], ["safe", "unsafe"]),
        ("1 i 3", ["pl", "en"], ["safe", "unsure"]),
        ("1 e 3", ["pt", "en"], ["safe", "unsure"]),
        ("1️⃣ 3️⃣", ["en"], ["safe", "unsure"]),
        ("2", ["en"], ["unsafe"]),
        ("not sure", ["en"], ["unsure"]),
        ("all", ["en"], ["safe", "unsafe", "unsure"]),
        ("pob un", ["cy", "en"], ["safe", "unsafe", "unsure"]),
    ],
)
def test_match_multiple(text: str, langs: list[str], expected: list[str]) -> None:
    found = match_multiple(text, SAFETY, langs)
    assert found.ok and found.value == expected, found


def test_match_multiple_keeps_labels_that_contain_and() -> None:
    choices = [Choice("parks", {"en": "Parks and open spaces"}), Choice("roads", {"en": "Roads"})]
    assert match_multiple("parks and open spaces", choices, ["en"]).value == ["parks"]
    assert match_multiple("Parks and open spaces, roads", choices, ["en"]).value == ["parks", "roads"]


@pytest.mark.parametrize(
    ("text", "min_", "max_", "reason", "params"),
    [
        ("1 and 7", None, None, "not_a_choice", {"count": 3, "part": "7"}),
        ("1 and banana", None, None, "not_a_choice", {"count": 3, "part": "banana"}),
        ("", None, None, "empty", {}),
        ("1", 2, None, "too_few", {"min": 2, "max": None, "count": 1}),
        ("1,2,3", None, 2, "too_many", {"min": None, "max": 2, "count": 3}),
        ("all", 1, 2, "too_many", {"min": 1, "max": 2, "count": 3}),
    ],
)
def test_match_multiple_rejects(text, min_, max_, reason, params) -> None:
    found = match_multiple(text, SAFETY, ["en"], min_, max_)
    assert (found.reason, found.params) == (reason, params)


@pytest.mark.parametrize(
    ("text", "langs", "expected"),
    [
        *[(word, ["en"], True) for word in ["y", "Y", "yes", "YES", "Yes!", "yeah", "yep", "yup", "ok", "OK.", "okay",
                                            "sure", "yes please", "yesss", "Yes, I do", "👍", "👍🏽", "✅", "✔️", "1"]],
        *[(word, ["en"], False) for word in ["n", "no", "No.", "NO!", "nah", "nope", "no thanks", "not really",
                                             "nooo", "👎", "❌", "2"]],
        # Welsh
        *[(word, ["cy", "en"], True) for word in ["ie", "Ie", "do", "oes", "ydw", "yndw", "ydy", "hoffwn"]],
        *[(word, ["cy", "en"], False) for word in ["na", "naddo", "nac oes", "nag oes", "nac ydw", "Nac ydw."]],
        # other languages, known in any run
        ("tak", ["pl", "en"], True), ("nie", ["pl", "en"], False),
        ("da", ["ro", "en"], True), ("nu", ["ro", "en"], False),
        ("sim", ["pt", "en"], True), ("não", ["pt", "en"], False), ("nao", ["pt", "en"], False),
        ("haa", ["so", "en"], True), ("maya", ["so", "en"], False),
        ("ہاں", ["ur", "en"], True), ("نہیں", ["ur", "en"], False), ("haan", ["ur", "en"], True),
        ("nahi", ["ur", "en"], False),
        ("ਹਾਂ", ["pa", "en"], True), ("ਨਹੀਂ", ["pa", "en"], False),
        ("হ্যাঁ", ["bn", "en"], True), ("না", ["bn", "en"], False),
        ("نعم", ["ar", "en"], True), ("لا", ["ar", "en"], False),
        ("oes", ["en"], True),  # a Welsh yes still counts in an English run
    ],
)
def test_match_yes_no(text: str, langs: list[str], expected: bool) -> None:
    found = match_yes_no(text, langs)
    assert found.ok and found.value is expected, found


@pytest.mark.parametrize(("text", "reason"), [
    ("maybe", "not_yes_no"), ("yes no", "not_yes_no"), ("no, yes", "not_yes_no"), ("3", "not_yes_no"),
    ("I don't know", "unsure"), ("", "empty"), ("   ", "empty"),
])
def test_match_yes_no_rejects(text: str, reason: str) -> None:
    assert match_yes_no(text, ["en"]).reason == reason


@pytest.mark.parametrize(("text", "langs"), [
    ("no idea", ["en"]), ("No idea!", ["en"]), ("I have no idea", ["en"]), ("not sure", ["en"]),
    ("dunno", ["en"]), ("I really don't know", ["en"]), ("dim syniad", ["cy", "en"]),
    ("Dwi ddim yn gwybod", ["cy", "en"]), ("ddim yn siŵr", ["cy", "en"]), ("nie wiem", ["pl", "en"]),
    ("nu știu", ["ro", "en"]), ("não sei", ["pt", "en"]), ("پتہ نہیں", ["ur", "en"]), ("ਪਤਾ ਨਹੀਂ", ["pa", "en"]),
    ("জানি না", ["bn", "en"]), ("لا أعرف", ["ar", "en"]), ("ma garanayo", ["so", "en"]),
])
def test_dont_know_on_a_yes_no_question_is_neither_yes_nor_no(text: str, langs: list[str]) -> None:
    # "no idea" starts with "no": it was once recorded as a No.
    assert match_yes_no(text, langs).reason == "unsure"


@pytest.mark.parametrize("text", ["no idea", "No idea", "nie wiem", "dim syniad", "I don't know", "não sei", "dunno"])
def test_dont_know_picks_the_dont_know_option_when_there_is_one(text: str) -> None:
    assert match_choice(text, SAFETY, ["en"]).value == "unsure"
    assert match_multiple(text, SAFETY, ["en"]).value == ["unsure"]


def test_dont_know_without_a_dont_know_option_is_asked_again() -> None:
    assert match_choice("no idea", AGE, ["en"]).reason == "unsure"
    assert match_multiple("nie wiem", AGE, ["pl", "en"]).reason == "unsure"
    assert match_number("no idea", 0, 10).reason == "unsure"
    assert match_scale("dim syniad", 1, 5, {1: {"en": "Poor"}, 5: {"en": "Good"}}, ["cy", "en"]).reason == "unsure"
    assert match_number("banana", 0, 10).reason == "not_a_number"


@pytest.mark.parametrize(("text", "langs", "expected"), [
    ("45", ["en"], "18_64"), ("70", ["en"], "65_plus"), ("I'm 70", ["en"], "65_plus"), ("17", ["en"], "under_18"),
    ("18", ["en"], "18_64"), ("64", ["en"], "18_64"), ("65", ["en"], "65_plus"), ("I am 64 years old", ["en"], "18_64"),
    ("seventy", ["en"], "65_plus"), ("about 40", ["en"], "18_64"), ("saith deg", ["cy", "en"], "65_plus"),
    ("Dw i'n 70 oed", ["cy", "en"], "65_plus"), ("mam 70 lat", ["pl", "en"], "65_plus"),
    ("am 45 de ani", ["ro", "en"], "18_64"), ("tenho 70 anos", ["pt", "en"], "65_plus"),
    ("2", ["en"], "18_64"),  # a bare option number is still the option
    ("3 or 4", ["en"], None), ("a hundred and fifty", ["en"], "65_plus"),
])
def test_a_number_answers_a_question_whose_options_are_ranges(text, langs, expected) -> None:
    assert match_choice(text, AGE, langs).value == expected


@pytest.mark.parametrize(("label", "bounds"), [
    ("Under 18", (float("-inf"), 18, False, False)), ("18 to 64", (18, 64, True, True)),
    ("65 or over", (65, float("inf"), True, False)), ("65+", (65, float("inf"), True, False)),
    ("18-24", (18, 24, True, True)), ("25–34", (25, 34, True, True)), ("O dan 18", (float("-inf"), 18, False, False)),
    ("65 neu hŷn", (65, float("inf"), True, False)), ("65 a throsodd", (65, float("inf"), True, False)),
    ("Aged 16 to 24", (16, 24, True, True)), ("powyżej 65", (65, float("inf"), False, False)),
    ("Over 75", (75, float("inf"), False, False)), ("16 or under", (float("-inf"), 16, False, True)),
    ("Very safe", None), ("Within 5 minutes", None), ("1 2 3", None),
])
def test_numeric_range_labels(label, bounds) -> None:
    assert numeric_range(label) == bounds


def test_options_that_are_not_ranges_do_not_take_numbers() -> None:
    assert match_choice("45", SAFETY, ["en"]).reason == "not_a_choice"


@pytest.mark.parametrize(("text", "expected"), [
    ("I feel unsafe at night", "unsafe"),  # "unsafe" contains "safe", but only Unsafe is a word of the reply
    ("safe enough", "safe"),
    ("Safe, mostly", "safe"),
    ("It is unsafe round here", "unsafe"),
    ("I don't feel safe at night", "unsafe"),  # named after a negation: the opposite option
    ("no, I feel safe", "safe"),
    ("I'm not sure to be honest", "unsure"),
    ("Dw i'n teimlo'n anniogel yn y nos", "unsafe"),
    ("safe in the day but unsafe at night", None),  # two options named: asked again
    ("Not sure but probably safe", None),
])
def test_a_reply_naming_exactly_one_option_as_a_word_matches_it(text: str, expected: str | None) -> None:
    assert match_choice(text, SAFETY, ["en"]).value == expected


def test_a_label_inside_a_longer_named_label_does_not_count() -> None:
    crime = [Choice("very_safe", {"en": "Very safe"}), Choice("fairly_safe", {"en": "Fairly safe"}),
             Choice("unsafe", {"en": "Not safe"})]
    assert match_choice("I feel very safe at home", crime, ["en"]).value == "very_safe"
    assert match_choice("honestly not safe at all", crime, ["en"]).value == "unsafe"
    welsh = [Choice("yes", {"cy": "Ydw"}), Choice("no", {"cy": "Nac ydw"})]
    assert match_choice("nac ydw wir", welsh, ["cy"]).value == "no"


def test_match_yes_no_numbers_can_be_turned_off() -> None:
    assert match_yes_no("1", ["en"], numbered=False).reason == "not_yes_no"


@pytest.mark.parametrize(
    ("text", "langs", "expected"),
    [
        ("7", ["en"], 7), (" 7 ", ["en"], 7), ("7.5", ["en"], 7.5), ("7,5", ["pl"], 7.5), ("-3", ["en"], -3),
        ("1,000", ["en"], 1000), ("£20", ["en"], 20), ("20%", ["en"], 20), ("7.0", ["en"], 7),
        ("seven", ["en"], 7), ("Seven!", ["en"], 7), ("twenty one", ["en"], 21), ("twenty-one", ["en"], 21),
        ("two hundred", ["en"], 200), ("zero", ["en"], 0),
        ("saith", ["cy", "en"], 7), ("un", ["cy", "en"], 1), ("dau ddeg", ["cy", "en"], 20),
        ("dau ddeg un", ["cy", "en"], 21), ("un deg un", ["cy", "en"], 11), ("deg", ["cy", "en"], 10),
        ("pedair", ["cy", "en"], 4), ("seven", ["cy", "en"], 7),
        ("siedem", ["pl", "en"], 7), ("pięć", ["pl", "en"], 5), ("piec", ["pl", "en"], 5),
        ("șapte", ["ro", "en"], 7), ("sapte", ["ro", "en"], 7), ("sete", ["pt", "en"], 7), ("três", ["pt", "en"], 3),
        ("I am 45", ["en"], 45), ("45 years old", ["en"], 45), ("about twenty", ["en"], 20),
        ("٧", ["ar", "en"], 7), ("۷", ["ur", "en"], 7), ("৭", ["bn", "en"], 7), ("੭", ["pa", "en"], 7),
        ("7️⃣", ["en"], 7),
    ],
)
def test_match_number(text: str, langs: list[str], expected: float) -> None:
    found = match_number(text, langs=langs)
    assert found.ok and found.value == expected and type(found.value) is type(expected), found


@pytest.mark.parametrize(
    ("text", "kwargs", "reason", "params"),
    [
        ("lots", {}, "not_a_number", {}),
        ("1 or 2", {}, "not_a_number", {}),
        ("saith", {"langs": ["en"]}, "not_a_number", {}),
        ("", {}, "empty", {}),
        ("7.5", {"integer": True}, "not_a_number", {"integer": True, "value": 7.5}),
        ("0", {"min": 1, "max": 10}, "too_small", {"min": 1, "max": 10, "value": 0}),
        ("11", {"min": 1, "max": 10}, "too_large", {"min": 1, "max": 10, "value": 11}),
        ("eleven", {"min": 1, "max": 10}, "too_large", {"min": 1, "max": 10, "value": 11}),
    ],
)
def test_match_number_rejects(text, kwargs, reason, params) -> None:
    found = match_number(text, **kwargs)
    assert (found.reason, found.params) == (reason, params)


LABELS = {1: {"en": "Very poor", "cy": "Gwael iawn"}, 5: {"en": "Very good", "cy": "Da iawn"}}


@pytest.mark.parametrize(
    ("text", "low", "high", "expected"),
    [
        ("4", 1, 5, 4), ("four", 1, 5, 4), ("4/5", 1, 5, 4), ("4 out of 5", 1, 5, 4), ("very good", 1, 5, 5),
        ("Da iawn", 1, 5, 5), ("very poor", 1, 5, 1), ("vry good", 1, 5, 5), ("0", 0, 10, 0), ("10", 0, 10, 10),
        ("9/10", 0, 10, 9),
    ],
)
def test_match_scale(text: str, low: int, high: int, expected: int) -> None:
    assert match_scale(text, low, high, LABELS, ["cy", "en"]).value == expected


@pytest.mark.parametrize(("text", "reason"), [("6", "too_large"), ("0", "too_small"), ("fair", "not_a_number"),
                                              ("3.5", "not_a_number")])
def test_match_scale_rejects(text: str, reason: str) -> None:
    assert match_scale(text, 1, 5, LABELS, ["en"]).reason == reason


@pytest.mark.parametrize(
    ("text", "max_length", "value", "reason"),
    [
        ("  Station Road  ", 300, "Station Road", None),
        ("x" * 300, 300, "x" * 300, None),
        ("x" * 301, 300, None, "too_long"),
        ("", 300, None, "empty"),
        ("   ", None, None, "empty"),
        ("😀 Ffordd yr Orsaf", None, "😀 Ffordd yr Orsaf", None),
    ],
)
def test_match_text(text: str, max_length: int | None, value: str | None, reason: str | None) -> None:
    found = match_text(text, max_length)
    assert (found.value, found.reason) == (value, reason)
    if reason == "too_long":
        assert found.params == {"max_length": 300, "length": 301}


@pytest.mark.parametrize(("text", "extra", "expected"), [
    ("SKIP", (), True), ("skip", (), True), ("Skip.", (), True), ("NEIDIO", (), True), ("neidio", (), True),
    ("pass", (), True), ("pomiń", (), True), ("NEXT", ("next",), True), ("skip this", (), False), ("", (), False),
    ("Station Road", (), False),
])
def test_is_skip_word(text: str, extra: tuple[str, ...], expected: bool) -> None:
    assert is_skip_word(text, extra) is expected


def test_tables_are_exposed_for_reuse() -> None:
    assert "ydw" in YES_WORDS["cy"] and "nac oes" in NO_WORDS["cy"]
    assert NUMBER_WORDS["cy"]["saith"] == 7 and NUMBER_WORDS["en"]["ten"] == 10
    assert {"un", "dau", "dwy", "tri", "tair", "pedwar", "pedair", "pump", "chwech", "saith", "wyth", "naw",
            "deg"} <= set(NUMBER_WORDS["cy"])
    assert "neidio" in SKIP_WORDS["cy"]
    assert words_to_number(["dau", "ddeg"], ["cy"]) == 20


@pytest.mark.parametrize(("text", "expected"), [
    ("Ddim yn SIŴR!", "ddim yn siwr"), ("B)", "b"), ("1️⃣", "1"), ("Mulțumesc", "multumesc"), ("Łódź", "lodz"),
    ("ধন্যবাদ", "ধন্যবাদ"), ("  a   b  ", "a b"), ("don’t", "dont"),
])
def test_normalize(text: str, expected: str) -> None:
    assert normalize(text) == expected


def test_fold_keeps_marks_of_non_latin_scripts() -> None:
    assert fold("ਨਹੀਂ") == "ਨਹੀਂ"
    assert fold("Siŵr") == "siwr"
