"""Turn a channel-neutral outbox payload into SMS text, a Telegram message, or web chat buttons.

The payload format is described in docs/internals.md. SMS residents answer by
number or word; Telegram and web chat residents press buttons that carry the
option's exact value back (see `callback_data` / `parse_callback_data`).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from flows import sms_text
from locales import i18n

_ = i18n.N_
# The SMS wording (reply lines) and its rendering live in flows/sms_text.py, so that everything that
# counts an SMS counts the same text; the names stay importable from here.
REPLY_ONE, REPLY_LIST, LIST_OR = sms_text.REPLY_ONE, sms_text.REPLY_LIST, sms_text.LIST_OR
REPLY_MULTIPLE, REPLY_YES_NO, REPLY_SCALE = sms_text.REPLY_MULTIPLE, sms_text.REPLY_YES_NO, sms_text.REPLY_SCALE
REPLY_NUMBER, REPLY_NUMBER_RANGE, REPLY_SKIP = (sms_text.REPLY_NUMBER, sms_text.REPLY_NUMBER_RANGE,
                                                sms_text.REPLY_SKIP)
YES = _("Yes")
NO = _("No")
SKIP = _("Skip")
CHOOSE_ALL = _("Choose all that apply")

# Telegram refuses callback_data longer than this many bytes.
CALLBACK_LIMIT = 64
CALLBACK_PREFIX = "a"
# Marks a callback that carries the option's number instead of its (too long) value.
BY_NUMBER = "#"
SKIP_VALUE = "!skip"


# ----- reading the payload ------------------------------------------------------------------

_choices = sms_text.choices_of
_number = sms_text.number_text
_bounds = sms_text.bounds
_scale_labels = sms_text.scale_labels
DEFAULT_SCALE = sms_text.DEFAULT_SCALE


def _yes_no_labels(payload: dict[str, Any], lang: str | None) -> tuple[str, str]:
    hints = payload.get("hints") or {}
    labels = hints.get("yes_no_labels") or hints.get("labels") or {}
    yes = labels.get("yes") if isinstance(labels, dict) else None
    no = labels.get("no") if isinstance(labels, dict) else None
    return yes or i18n.gettext(lang, YES), no or i18n.gettext(lang, NO)


def _scale_points(payload: dict[str, Any]) -> list[str]:
    low, high = _bounds(payload, DEFAULT_SCALE)
    try:
        low_i, high_i = int(low), int(high)
    except (TypeError, ValueError):
        low_i, high_i = DEFAULT_SCALE
    if high_i - low_i > 10 or high_i < low_i:
        return []
    return [str(n) for n in range(low_i, high_i + 1)]


def reply_hint(payload: dict[str, Any], lang: str | None) -> str:
    """Return the line telling an SMS resident how to answer ("Reply 1, 2 or 3"), or ""."""
    return sms_text.reply_hint(payload, lang, i18n.gettext)


def _lang(payload: dict[str, Any], lang: str | None) -> str | None:
    return lang or payload.get("lang")


def _is_question(payload: dict[str, Any]) -> bool:
    return payload.get("type") == "question"


# ----- SMS ------------------------------------------------------------------------------------------


def render_sms(payload: dict[str, Any], lang: str | None = None) -> str:
    """Return the SMS text: the message, numbered options, and how to reply (flows/sms_text.py, in the
    resident's language)."""
    return sms_text.render_sms(payload, _lang(payload, lang), i18n.gettext)


# ----- Telegram ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CallbackAnswer:
    """What a pressed button said: which run and step, and the option's value, number or a skip."""

    run_id: int
    step: str
    value: str | None = None
    number: int | None = None
    skip: bool = False

    def is_for_step(self, step_id: str) -> bool:
        """Return True when the button belongs to this step (a stale keyboard's press does not)."""
        return self.step == step_id or self.step == _step_digest(step_id)

    def as_inbound(self) -> dict[str, Any]:
        """Return `text` and `choice` for `store_inbound`: the exact value, or the number or SKIP as text."""
        if self.skip:
            return {"text": "SKIP", "choice": None}
        if self.value is not None:
            return {"text": self.value, "choice": self.value}
        return {"text": str(self.number), "choice": None}


def _step_digest(step_id: str) -> str:
    return "~" + hashlib.sha256(step_id.encode("utf-8")).hexdigest()[:10]


def callback_data(run_id: Any, step_id: str, value: str | None, number: int | None = None,
                  skip: bool = False) -> str:
    """Return callback data within Telegram's 64 bytes: `a:<run>:<step>:<value>`, shortened safely when long."""
    step = step_id if ":" not in step_id and not step_id.startswith("~") else _step_digest(step_id)
    if not skip and value is not None and not str(value).startswith((BY_NUMBER, "!")):
        full = f"{CALLBACK_PREFIX}:{run_id}:{step}:{value}"
        if len(full.encode("utf-8")) <= CALLBACK_LIMIT:
            return full
    # Too long (or a value that looks like our markers): the option by its number, the step as a digest if need be.
    tail = SKIP_VALUE if skip else f"{BY_NUMBER}{number}"
    short = f"{CALLBACK_PREFIX}:{run_id}:{step}:{tail}"
    if len(short.encode("utf-8")) > CALLBACK_LIMIT:
        short = f"{CALLBACK_PREFIX}:{run_id}:{_step_digest(step_id)}:{tail}"
    return short


def parse_callback_data(data: str) -> CallbackAnswer | None:
    """Read callback data made by `callback_data`; return None for anything else."""
    parts = (data or "").split(":", 3)
    if len(parts) != 4 or parts[0] != CALLBACK_PREFIX or not parts[1].isdigit() or not parts[2]:
        return None
    run_id, step, tail = int(parts[1]), parts[2], parts[3]
    if tail == SKIP_VALUE:
        return CallbackAnswer(run_id, step, skip=True)
    if tail.startswith(BY_NUMBER):
        digits = tail[len(BY_NUMBER):]
        return CallbackAnswer(run_id, step, number=int(digits)) if digits.isdigit() else None
    return CallbackAnswer(run_id, step, value=tail)


def _buttons(payload: dict[str, Any], lang: str | None) -> list[dict[str, Any]]:
    """Return the answer buttons as {label, value, number} for the kinds that have them."""
    kind = payload.get("kind")
    if kind == "choice":
        return [{"label": str(c.get("label", "")), "value": str(c.get("value")), "number": c.get("number", i + 1)}
                for i, c in enumerate(_choices(payload))]
    if kind == "yes_no":
        yes, no = _yes_no_labels(payload, lang)
        return [{"label": yes, "value": "yes", "number": 1}, {"label": no, "value": "no", "number": 2}]
    if kind == "scale":
        labels = _scale_labels(payload)
        return [{"label": f"{point} {labels[point]}" if point in labels else point, "value": point,
                 "number": i + 1} for i, point in enumerate(_scale_points(payload))]
    return []


def render_telegram(payload: dict[str, Any], lang: str | None = None) -> tuple[str, dict[str, Any] | None]:
    """Return (text, reply_markup) with an inline keyboard for the options, or None when there are none."""
    lang = _lang(payload, lang)
    text = str(payload.get("text") or "")
    if not _is_question(payload):
        return text, None
    run_id, step_id = payload.get("run_id", 0), str(payload.get("step_id") or "")
    kind = payload.get("kind")
    rows: list[list[dict[str, str]]] = []
    buttons = _buttons(payload, lang)
    if kind == "scale":
        rows = [[{"text": b["label"], "callback_data": callback_data(run_id, step_id, b["value"], b["number"])}
                 for b in buttons]] if buttons else []
    else:
        rows = [[{"text": b["label"], "callback_data": callback_data(run_id, step_id, b["value"], b["number"])}]
                for b in buttons]
    lines = [text] if text else []
    if kind == "multiple":
        # Several picks do not fit one press: list the options and let the resident type the numbers.
        lines.append("\n".join(f"{c.get('number', i + 1)}. {c.get('label', '')}"
                               for i, c in enumerate(_choices(payload))))
        lines.append(reply_hint(payload, lang))
    elif kind == "number":
        lines.append(reply_hint(payload, lang))
    if payload.get("optional"):
        rows.append([{"text": i18n.gettext(lang, SKIP), "callback_data": callback_data(run_id, step_id, None,
                                                                                        skip=True)}])
    text = "\n\n".join(line for line in lines if line)
    return text, ({"inline_keyboard": rows} if rows else None)


# ----- web chat -----------------------------------------------------------------------------------------


def render_web(payload: dict[str, Any], lang: str | None = None) -> dict[str, Any]:
    """Return {text, buttons, hint, kind, multiple, optional, step_id, run_id} for the web chat page."""
    lang = _lang(payload, lang)
    text = str(payload.get("text") or "")
    if not _is_question(payload):
        return {"text": text, "buttons": [], "hint": "", "kind": None, "multiple": False, "optional": False,
                "step_id": None, "run_id": payload.get("run_id")}
    kind = payload.get("kind")
    buttons = _buttons(payload, lang)
    if kind == "multiple":
        buttons = [{"label": str(c.get("label", "")), "value": str(c.get("value")), "number": c.get("number", i + 1)}
                   for i, c in enumerate(_choices(payload))]
    hint = ""
    if kind == "multiple":
        hint = i18n.gettext(lang, CHOOSE_ALL)
    elif kind == "number":
        hint = reply_hint(payload, lang)
    result = {
        "text": text,
        "buttons": buttons,
        "hint": hint,
        "kind": kind,
        "multiple": kind == "multiple",
        "optional": bool(payload.get("optional")),
        "step_id": payload.get("step_id"),
        "run_id": payload.get("run_id"),
    }
    if payload.get("optional"):
        result["skip_label"] = i18n.gettext(lang, SKIP)
    return result


# ----- WhatsApp -------------------------------------------------------------------------------------------

# WhatsApp's limits for the content types the service sends in a conversation (Twilio's Content API):
# quick-reply buttons up to 3 (in a session, without approval), titles up to 20 characters; a list
# picker up to 10 items of up to 24 characters, its button up to 20; bodies up to 1,024 characters.
WHATSAPP_MAX_BUTTONS = 3
WHATSAPP_MAX_LIST = 10
WHATSAPP_BUTTON_TITLE = 20
WHATSAPP_LIST_ITEM = 24
WHATSAPP_BODY = 1024
CHOOSE = _("Choose")


def _fits(label: str, limit: int) -> bool:
    return 0 < len(label) <= limit


def whatsapp_option_id(payload: dict[str, Any], button: dict[str, Any]) -> str:
    """Return the id a WhatsApp button or list item carries back (ButtonPayload / ListId).

    A choice is answered by its number (a press is the same answer as typing it); yes/no and scale
    points by their value. The run and step come too, so a press on an earlier question is refused.
    """
    run_id, step_id = payload.get("run_id", 0), str(payload.get("step_id") or "")
    if payload.get("kind") == "choice":
        return callback_data(run_id, step_id, None, button["number"])
    return callback_data(run_id, step_id, str(button["value"]), button["number"])


def render_whatsapp(payload: dict[str, Any], lang: str | None = None) -> tuple[str, dict[str, Any] | None]:
    """Return (text, content) for WhatsApp: `text` is the numbered SMS text, always a correct message on its
    own; `content` is a Twilio Content `types` mapping with quick-reply buttons (up to 3) or a list
    picker (up to 10) for the question's options, or None when they do not fit (numbered text then)."""
    lang = _lang(payload, lang)
    text = render_sms(payload, lang)
    if not _is_question(payload) or payload.get("kind") in ("multiple", "number", "text"):
        return text, None
    buttons = _buttons(payload, lang)
    if not buttons or payload.get("optional"):
        # A skip would be a fourth button or an eleventh item; the numbered text says how to skip.
        return text, None
    body = str(payload.get("text") or "")
    if not body or len(body) > WHATSAPP_BODY:
        return text, None
    fallback = {"twilio/text": {"body": text[:1600]}}
    if len(buttons) <= WHATSAPP_MAX_BUTTONS and all(_fits(b["label"], WHATSAPP_BUTTON_TITLE) for b in buttons):
        actions = [{"type": "QUICK_REPLY", "title": b["label"], "id": whatsapp_option_id(payload, b)}
                   for b in buttons]
        return text, {"twilio/quick-reply": {"body": body, "actions": actions}, **fallback}
    choose = i18n.gettext(lang, CHOOSE)
    if len(buttons) <= WHATSAPP_MAX_LIST and _fits(choose, WHATSAPP_BUTTON_TITLE) \
            and all(_fits(b["label"], WHATSAPP_LIST_ITEM) for b in buttons):
        items = [{"item": b["label"], "id": whatsapp_option_id(payload, b), "description": str(b["number"])}
                 for b in buttons]
        return text, {"twilio/list-picker": {"body": body, "button": choose, "items": items}, **fallback}
    return text, None
