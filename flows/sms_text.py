"""A question as an SMS, and what it costs: the one place that says what a text message holds.

The sender (bot/render.py), the flow linter, the flow page, the broadcast form and the outbox all
count a question's segments here, on the message as it will be sent: the question, its numbered
choices (or scale labels) and the line saying how to reply, in the resident's language.

The words of the reply line are the service's ("Reply 1, 2 or 3"), kept in its catalogs, which
the flows package may not import: callers pass `gettext(lang, message, **params)` (the service's
`locales.i18n.gettext`). Without one the English words are used.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .sms import SegmentInfo, count_segments


def N_(message: str) -> str:
    """Mark a message for the catalogs (the service translates it when the SMS is rendered)."""
    return message


REPLY_ONE = N_("Reply %(number)s")
REPLY_LIST = N_("Reply %(numbers)s")
# Joins the last two numbers of a list: "1, 2 or 3".
LIST_OR = N_("%(items)s or %(last)s")
REPLY_MULTIPLE = N_("Reply with the numbers of all that apply, for example %(example)s")
REPLY_YES_NO = N_("Reply YES or NO")
REPLY_SCALE = N_("Reply a number from %(min)s to %(max)s")
REPLY_NUMBER = N_("Reply with a number")
REPLY_NUMBER_RANGE = N_("Reply with a number from %(min)s to %(max)s")
# The skip word comes from the flow engine's hints ("SKIP", Welsh "NEIDIO").
REPLY_SKIP = N_("Reply %(word)s to skip")

DEFAULT_SCALE = (1, 5)

Gettext = Callable[..., str]


def english(_lang: str | None, message: str, **params: Any) -> str:
    """The messages' own (English) words: what `gettext` does when no catalog is given."""
    return message % params if params else message


# ----- reading the payload ------------------------------------------------------------------


def choices_of(payload: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in payload.get("choices") or [] if isinstance(c, dict)]


def number_text(value: Any) -> str:
    """Show 5.0 as 5 and keep 2.5 as it is."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def bounds(payload: dict[str, Any], default: tuple[int, int] | None) -> tuple[Any, Any] | None:
    hints = payload.get("hints") or {}
    low, high = hints.get("min"), hints.get("max")
    if low is None or high is None:
        return default
    return low, high


def scale_labels(payload: dict[str, Any]) -> dict[str, str]:
    """Return scale point labels keyed by the point as text (JSON turns int keys into strings)."""
    labels = (payload.get("hints") or {}).get("labels") or {}
    return {number_text(k): str(v) for k, v in labels.items()} if isinstance(labels, dict) else {}


def _or_list(numbers: list[str], lang: str | None, gettext: Gettext) -> str:
    if len(numbers) == 1:
        return numbers[0]
    return gettext(lang, LIST_OR, items=", ".join(numbers[:-1]), last=numbers[-1])


def reply_hint(payload: dict[str, Any], lang: str | None, gettext: Gettext | None = None) -> str:
    """Return the line telling an SMS resident how to answer ("Reply 1, 2 or 3"), or ""."""
    gettext = gettext or english
    kind = payload.get("kind")
    numbers = [str(c.get("number", i + 1)) for i, c in enumerate(choices_of(payload))]
    if kind == "choice" and numbers:
        if len(numbers) == 1:
            return gettext(lang, REPLY_ONE, number=numbers[0])
        return gettext(lang, REPLY_LIST, numbers=_or_list(numbers, lang, gettext))
    if kind == "multiple" and numbers:
        return gettext(lang, REPLY_MULTIPLE, example=" ".join(numbers[:2]))
    if kind == "yes_no":
        return gettext(lang, REPLY_YES_NO)
    if kind == "scale":
        low, high = bounds(payload, DEFAULT_SCALE)
        return gettext(lang, REPLY_SCALE, min=number_text(low), max=number_text(high))
    if kind == "number":
        found = bounds(payload, None)
        if found is None:
            return gettext(lang, REPLY_NUMBER)
        return gettext(lang, REPLY_NUMBER_RANGE, min=number_text(found[0]), max=number_text(found[1]))
    return ""


def render_sms(payload: dict[str, Any], lang: str | None = None, gettext: Gettext | None = None) -> str:
    """Return the SMS text of an outbox payload: the message, numbered options, and how to reply."""
    gettext = gettext or english
    lang = lang or payload.get("lang")
    text = str(payload.get("text") or "")
    if payload.get("type") != "question":
        return text
    parts = [text] if text else []
    choices = choices_of(payload)
    if payload.get("kind") in ("choice", "multiple") and choices:
        parts.append("\n".join(f"{c.get('number', i + 1)}. {c.get('label', '')}" for i, c in enumerate(choices)))
    elif payload.get("kind") == "scale":
        labels = scale_labels(payload)
        if labels:
            parts.append("\n".join(f"{point} = {label}" for point, label in labels.items()))
    hint = reply_hint(payload, lang, gettext)
    lines = [hint] if hint else []
    if payload.get("optional"):
        word = (payload.get("hints") or {}).get("skip_word") or "SKIP"
        lines.append(gettext(lang, REPLY_SKIP, word=word))
    if lines:
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


# ----- a flow's question, as the engine asks it -----------------------------------------------


def question_payload(flow, step, lang: str, *, easy_read: bool = False) -> dict[str, Any]:
    """The outbox payload the engine's question for `step` makes, in `lang` (the question alone, no intro)."""
    from .engine import question_for

    asked = question_for(flow, step, {"lang": lang, "easy_read": easy_read})
    return {"type": "question", "lang": asked.lang, "step_id": asked.step_id, "question": asked.text,
            "text": asked.text, "kind": asked.kind, "intro": [],
            "choices": [{"number": c.number, "value": c.value, "label": c.label} for c in asked.choices],
            "optional": asked.optional, "hints": dict(asked.hints), "reprompt": asked.reprompt}


def step_sms(flow, step, lang: str, gettext: Gettext | None = None, *, easy_read: bool = False) -> str:
    """A step as its SMS reads in `lang`: a question with its choices and reply line, or a message."""
    if step.kind == "say":
        return flow.text(step, lang, easy_read)
    return render_sms(question_payload(flow, step, lang, easy_read=easy_read), lang, gettext)


def segments(text: str) -> SegmentInfo:
    """The encoding and number of parts a text costs as SMS (GSM-7 or UCS-2; flows/sms.py counts)."""
    return count_segments(text)


def step_segments(flow, step, lang: str, gettext: Gettext | None = None, *, easy_read: bool = False) -> SegmentInfo:
    """What one step costs as an SMS in `lang`, counted on the message as sent."""
    return count_segments(step_sms(flow, step, lang, gettext, easy_read=easy_read))
