"""What a flow says first, worked out without storing anything (the web chat's first page).

A web chat visit stores no contact, address, message or run: the page shows the flow's opening
texts and first question from the pure engine, and the rows are created when the resident answers.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from engage.conversations import CLOSED, NOT_OPEN_YET
from flows import engine
from flows.events import MessageSaid, QuestionAsked
from locales import i18n


def _date_words(when: datetime, tz: str, lang: str) -> str:
    from babel.dates import format_date

    local = when.astimezone(ZoneInfo(tz)).date()
    try:
        return format_date(local, format="long", locale="en_GB" if lang == "en" else lang)
    except (ValueError, LookupError):
        return format_date(local, format="long", locale="en_GB")


def first_message(flow, lang: str | None, now: datetime, tz: str, *, preview: bool = False) -> dict[str, Any]:
    """Return the outbox-style payload a new run of `flow` would queue first (nothing is stored)."""
    consultation = getattr(flow, "consultation", None)
    run_lang = lang if lang in flow.languages else flow.base_language
    if consultation is not None and not preview:
        opens, closes = consultation.opens_at(tz), consultation.closes_at(tz)
        if opens is not None and now < opens:
            text = i18n.gettext(lang, NOT_OPEN_YET, date=_date_words(opens, tz, lang or run_lang))
            return {"type": "text", "text": text, "lang": lang or run_lang}
        if closes is not None and now > closes:
            text = i18n.gettext(lang, CLOSED, date=_date_words(closes, tz, lang or run_lang))
            return {"type": "text", "text": text, "lang": lang or run_lang}
    state, events = engine.start(flow, {"language": lang, "groups": [], "channel": "web"}, now, lang=lang)
    texts = [e.text for e in events if isinstance(e, MessageSaid)]
    question = next((e for e in events if isinstance(e, QuestionAsked)), None)
    payload: dict[str, Any] = {"type": "text", "lang": state.get("lang"), "run_id": None, "flow_id": flow.id}
    if question is not None:
        payload.update(
            type="question", step_id=question.step_id, question=question.text, kind=question.kind,
            choices=[{"number": c.number, "value": c.value, "label": c.label} for c in question.choices],
            optional=question.optional, hints=dict(question.hints), reprompt=question.reprompt,
        )
    payload["intro"] = texts
    payload["text"] = "\n\n".join(texts + ([question.text] if question else []))
    return payload
