"""What SMS costs: segments per message per language, and a broadcast's total for its audience's languages.

Counting is flows/sms.py's (GSM-7 with its extension table, UCS-2, parts never splitting a
character); this module adds the 10-part limit, optional smart punctuation, and prices.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from babel.numbers import format_currency

from engage.language_choice import choose_text
from flows.sms import count_segments, smart_encode

# Twilio sends at most 10 parts (1,600 characters); longer messages are refused.
MAX_SEGMENTS = 10


@dataclass(frozen=True)
class MessageCost:
    """One text as an SMS: encoding, units, parts, and the characters that made it UCS-2."""

    lang: str | None
    text: str  # as it would be sent (after smart punctuation, when asked for)
    encoding: str
    units: int
    characters: int
    segments: int
    non_gsm: tuple[str, ...] = ()
    smart: bool = False

    @property
    def too_long(self) -> bool:
        return self.segments > MAX_SEGMENTS


def message_cost(text: str, lang: str | None = None, *, smart: bool = False) -> MessageCost:
    """Count a text's SMS parts; with smart, typographic punctuation is swapped for GSM-7 first."""
    sent = smart_encode(text) if smart else text
    info = count_segments(sent)
    return MessageCost(lang, sent, info.encoding, info.units, info.characters, info.segments, info.non_gsm, smart)


def costs_by_language(texts_by_lang: Mapping[str, str], *, smart: bool = False) -> dict[str, MessageCost]:
    """Count every language's version of a message."""
    return {lang: message_cost(text, lang, smart=smart) for lang, text in texts_by_lang.items() if text}


@dataclass(frozen=True)
class EstimateLine:
    """The residents who get one version of a message, and what their messages cost."""

    text_lang: str  # a language code, or "cy+en" for Welsh and English together
    recipients: int
    segments_each: int
    segments: int
    cost: Decimal
    encoding: str
    # The residents' own languages served by this version, with how many of each (None: unknown).
    audience: dict[str | None, int] = field(default_factory=dict)


@dataclass(frozen=True)
class BroadcastEstimate:
    """A broadcast's cost: one line per version sent, totals, and who falls back to another language."""

    lines: tuple[EstimateLine, ...]
    recipients: int
    segments: int
    cost: Decimal
    price_per_segment: Decimal
    # Residents whose language the message lacks, by that language: they get the base (or bilingual) text.
    fallbacks: dict[str, int]
    too_long: tuple[str, ...]

    def cost_text(self, lang: str | None = "en", currency: str = "GBP") -> str:
        """Format the total in the officer's language ("£7.80", "7,80 £")."""
        locale = "en_GB" if lang in (None, "en") else lang
        return format_currency(self.cost, currency, locale=locale)


def _price(settings) -> Decimal:
    # Through str: Decimal(0.04) would carry the float's binary error into every total.
    return Decimal(str(getattr(settings, "sms_price_per_segment", 0) or 0))


def estimate_broadcast(texts_by_lang: Mapping[str, str], audience: Mapping[str | None, int], settings, *,
                       base: str | None = None, smart: bool = False) -> BroadcastEstimate:
    """Estimate a broadcast: each resident gets their language, else the base (Wales mode: Welsh and English).

    :param texts_by_lang: the message as sent by SMS (hints included) per language, base language first.
    :param audience: how many SMS recipients have each language (None for unknown).
    :param settings: Settings: `sms_price_per_segment` and `welsh_first`.
    """
    price = _price(settings)
    groups: dict[str, dict] = {}
    fallbacks: dict[str, int] = {}
    for lang, count in audience.items():
        if count <= 0:
            continue
        which, text = choose_text(texts_by_lang, lang, settings, base)
        if which is None:
            raise ValueError("the message has no text in any language")
        if lang is not None and which != lang:
            fallbacks[lang] = fallbacks.get(lang, 0) + count
        group = groups.setdefault(which, {"text": text, "audience": {}})
        group["audience"][lang] = group["audience"].get(lang, 0) + count
    lines = []
    for which, group in groups.items():
        cost = message_cost(group["text"], which, smart=smart)
        recipients = sum(group["audience"].values())
        segments = recipients * cost.segments
        lines.append(EstimateLine(which, recipients, cost.segments, segments, segments * price, cost.encoding,
                                  dict(group["audience"])))
    lines.sort(key=lambda line: (-line.recipients, line.text_lang))
    total_segments = sum(line.segments for line in lines)
    too_long = tuple(line.text_lang for line in lines if line.segments_each > MAX_SEGMENTS)
    return BroadcastEstimate(tuple(lines), sum(line.recipients for line in lines), total_segments,
                             total_segments * price, price, fallbacks, too_long)


# ----- a flow's questions as sent ------------------------------------------------------------------
# One counting for lint, the flow page, the broadcast form and the outbox: flows/sms_text.py renders a
# question as its SMS (question, numbered choices, the reply line in the resident's language), and
# flows/sms.py counts it.

WARN_ABOVE = 3  # the broadcast form warns when a message is more parts than this
CONFIRM_ABOVE = 6  # ... and asks the officer to confirm one longer than this


def sms_of(payload: dict, lang: str | None = None) -> str:
    """An outbox payload's SMS text as the sender sends it (bot/render.py renders with the same function)."""
    from flows.sms_text import render_sms
    from locales import i18n

    return render_sms(payload, lang or payload.get("lang"), i18n.gettext)


def step_cost(flow, step, lang: str, *, easy_read: bool = False) -> MessageCost:
    """What one step of a flow costs as an SMS in `lang`, counted on the message as sent."""
    from flows.sms_text import step_sms
    from locales import i18n

    return message_cost(step_sms(flow, step, lang, i18n.gettext, easy_read=easy_read), lang)


def flow_step_costs(flow) -> list[dict]:
    """Per step (questions and messages) and language of the flow, what its SMS costs (the flow page)."""
    rows = []
    for step in flow.steps:
        # A language a step lacks is sent in the flow's base language: counted as sent.
        rows.append({"step": step.id, "languages": {lang: step_cost(flow, step, lang) for lang in flow.languages}})
    return rows


def flow_broadcast_messages(flow, council: str, now, tz: str) -> dict[str, str]:
    """The first SMS a broadcast of `flow` sends in each of its languages, as sent: its opening messages,
    the line saying who it is from and how to stop, then the first question with its choices and reply line
    (as engage.conversations queues it for a broadcast)."""
    from engage.first_question import first_message
    from engage.unsolicited import stop_line

    out = {}
    for lang in flow.languages:
        payload = first_message(flow, lang, now, tz, preview=True)
        intro = list(payload.get("intro") or [])
        if payload.get("type") == "question":
            payload["text"] = "\n\n".join([*intro, stop_line(lang, council), payload.get("question") or ""])
        else:
            payload["text"] = "\n\n".join([payload.get("text") or "", stop_line(lang, council)])
        out[lang] = sms_of(payload, lang)
    return out


def length_warning(costs: Mapping[str, MessageCost]) -> tuple[int, bool, bool]:
    """The longest message's parts, and whether the form warns (over 3) and asks to confirm (over 6)."""
    most = max((c.segments for c in costs.values()), default=0)
    return most, most > WARN_ABOVE, most > CONFIRM_ABOVE
