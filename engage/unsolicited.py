"""Messages a resident did not ask for say who is speaking and how to stop.

Broadcasts, reminders and "you said, we did" updates reach residents days or
weeks after they last wrote to us. Each one carries the council's name and the
STOP line, in the resident's language, so nobody has to guess who sent it. The
line counts towards the message's SMS cost like any other text: what an officer
is shown is the whole message, and `whole_message_problem` refuses one that no
longer fits the segment budget once the line is added.
"""
from __future__ import annotations

from collections.abc import Mapping

from engage.language_choice import BILINGUAL
from engage.sms_cost import MAX_SEGMENTS, message_cost
from locales import i18n

_ = i18n.N_
# Translators: ends every message a resident did not ask for (broadcasts, reminders, updates). Keep it short
# and, where the language allows, in plain letters: one character outside the basic SMS alphabet makes the
# whole message cost more.
STOP_LINE = _("Reply STOP to stop messages from %(council)s.")
# Translators: the link to read more about a consultation, at the end of a "you said, we did" update.
MORE = _("More: %(url)s")


def stop_line(lang: str | None, council: str) -> str:
    """Return "Reply STOP to stop messages from <council>." in `lang` (Welsh then English for cy+en)."""
    languages = BILINGUAL.split("+") if lang == BILINGUAL else [lang]
    return "\n".join(i18n.gettext(code, STOP_LINE, council=council) for code in languages)


def with_stop_line(text: str, lang: str | None, council: str) -> str:
    """Return the text as the resident gets it: the message, a blank line, then who sent it and how to stop."""
    return f"{text.rstrip()}\n\n{stop_line(lang, council)}"


def whole_messages(texts_by_lang: Mapping[str, str], council: str) -> dict[str, str]:
    """Return each language's message as residents get it, the STOP line included."""
    return {lang: with_stop_line(text, lang, council) for lang, text in texts_by_lang.items()
            if text and text.strip()}


def whole_message_problem(texts_by_lang: Mapping[str, str], council: str) -> str | None:
    """Say which language's whole message is over the SMS limit of 10 parts, or None when all fit."""
    for lang, text in whole_messages(texts_by_lang, council).items():
        cost = message_cost(text, lang)
        if cost.too_long:
            return (f"the {lang} message is {cost.segments} SMS parts with the line saying who it is from and "
                    f"how to stop; the most a text message can be is {MAX_SEGMENTS}: shorten it")
    return None
