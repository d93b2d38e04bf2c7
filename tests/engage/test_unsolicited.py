"""Messages residents did not ask for say who is speaking and how to stop, in every language, within budget."""
from __future__ import annotations

import pytest

from engage.sms_cost import message_cost
from engage.unsolicited import stop_line, whole_message_problem, with_stop_line
from locales.languages import LANGUAGES

# Languages whose messages are usually written in the basic SMS alphabet: their STOP line must not
# turn a plain message into Unicode (70 characters a part instead of 160).
PLAIN_ALPHABET = ("en", "cy", "pt", "so")


@pytest.mark.parametrize("lang", [language.code for language in LANGUAGES])
def test_the_stop_line_names_the_council_in_every_language_in_one_part(lang):
    line = stop_line(lang, "Harlow Council")
    assert "Harlow Council" in line and "STOP" in line
    if lang != "en":
        assert line != stop_line("en", "Harlow Council")  # translated, not the English fallback
    cost = message_cost(line, lang)
    assert cost.segments == 1
    if lang in PLAIN_ALPHABET:
        assert cost.encoding == "GSM-7", cost.non_gsm


def test_a_plain_message_stays_plain_with_its_stop_line():
    whole = with_stop_line("Bins go out on Tuesday this week.", "cy", "Harlow Council")
    assert whole == "Bins go out on Tuesday this week.\n\nAtebwch STOP i atal negeseuon gan Harlow Council."
    assert message_cost(whole, "cy").encoding == "GSM-7"


def test_the_budget_counts_the_whole_message():
    assert whole_message_problem({"en": "a" * 1480}, "Harlow Council") is None
    assert "11 SMS parts" in whole_message_problem({"en": "a" * 1525}, "Harlow Council")
