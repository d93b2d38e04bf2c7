"""Try a flow in a terminal or a test: a transcript of what the resident would see, rendered as SMS."""
from __future__ import annotations

import string
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from .engine import expire, is_expired, remind, reminder_due, resume, start
from .events import (
    AnswerRecorded,
    AnswerRejected,
    ContactFieldChanged,
    Event,
    MessageSaid,
    QuestionAsked,
    RunEnded,
    RunExpired,
    StepSkipped,
)
from .loader import parse_duration
from .matching import REASONS
from .model import CHOICE, MULTIPLE, NUMBER, SCALE, TEXT, YES_NO, Flow

DescribeReason = Callable[[str, Mapping[str, Any], str], str]

# Just enough wording to read a transcript in English or Welsh; the channels own the real wording.
_WORDS = {
    "en": {"reply": "Reply {options}", "or": "or", "several": "You can pick more than one, e.g. {example}",
           "and": "and", "number": "Reply with a number", "between": "Reply with a number from {min} to {max}",
           "scale": "Reply {min} to {max}", "length": "(up to {max_length} characters)",
           "skip": "Reply {word} to skip this question"},
    "cy": {"reply": "Atebwch {options}", "or": "neu", "several": "Gallwch ddewis mwy nag un, e.e. {example}",
           "and": "a", "number": "Atebwch gyda rhif", "between": "Atebwch gyda rhif rhwng {min} a {max}",
           "scale": "Atebwch {min} i {max}", "length": "(hyd at {max_length} nod)",
           "skip": "Atebwch {word} i neidio'r cwestiwn hwn"},
}


def _list_or(items: Sequence[str], word: str) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} {word} {items[-1]}"


def _number(value: Any) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def render_question(event: QuestionAsked) -> str:
    """Return a question as an SMS would show it: the text, numbered options and how to reply."""
    words = _WORDS.get(event.lang, _WORDS["en"])
    hints = event.hints
    lines = [event.text]
    if event.kind in (CHOICE, MULTIPLE):
        lines += [f"{o.number}) {o.label}" for o in event.choices]
        lines.append(words["reply"].format(options=_list_or([str(o.number) for o in event.choices], words["or"])))
        if event.kind == MULTIPLE and len(event.choices) > 1:
            lines.append(words["several"].format(example=f"1 {words['and']} {len(event.choices)}"))
    elif event.kind == YES_NO:
        labels = hints["yes_no_labels"]
        lines.append(words["reply"].format(options=f"{labels['yes'].upper()} {words['or']} {labels['no'].upper()}"))
    elif event.kind == NUMBER:
        if "min" in hints and "max" in hints:
            lines.append(words["between"].format(min=_number(hints["min"]), max=_number(hints["max"])))
        else:
            lines.append(words["number"])
    elif event.kind == SCALE:
        line = words["scale"].format(min=_number(hints["min"]), max=_number(hints["max"]))
        labels = hints.get("labels") or {}
        if labels:
            line += " (" + ", ".join(f"{point} = {label}" for point, label in labels.items()) + ")"
        lines.append(line)
    elif event.kind == TEXT and hints.get("max_length"):
        lines.append(words["length"].format(max_length=hints["max_length"]))
    if event.optional:
        lines.append(words["skip"].format(word=hints.get("skip_word", "SKIP")))
    return "\n".join(lines)


def describe_reason_en(code: str, params: Mapping[str, Any], lang: str) -> str:
    """Return the short English wording of a reason code (the default for transcripts)."""
    shown = {k: _number(v) for k, v in params.items()}
    return string.Formatter().vformat(REASONS.get(code, code), (), _Missing(shown))


class _Missing(dict):
    def __missing__(self, key: str) -> str:
        return "?"


def render_events(events: Iterable[Event], describe_reason: DescribeReason | None = None,
                  notes: bool = True) -> list[str]:
    """Return transcript lines for a turn's events: "BOT: ..." for messages, "-- ..." for notes."""
    describe = describe_reason or describe_reason_en
    lines = []
    for event in events:
        if isinstance(event, QuestionAsked):
            lines.append(f"BOT: {render_question(event)}")
        elif isinstance(event, MessageSaid):
            lines.append(f"BOT: {event.text}")
        elif isinstance(event, AnswerRejected):
            lines.append(f"BOT: {describe(event.reason, event.params, event.lang)}")
        elif not notes:
            continue
        elif isinstance(event, AnswerRecorded):
            lines.append(f"-- {event.step_id} = {event.value!r}")
        elif isinstance(event, StepSkipped):
            lines.append(f"-- {event.step_id} skipped ({event.reason})")
        elif isinstance(event, ContactFieldChanged):
            lines.append(f"-- contact {event.field} set to {event.value!r}")
        elif isinstance(event, RunEnded):
            lines.append(f"-- run ended ({event.reason})")
        elif isinstance(event, RunExpired):
            lines.append("-- run expired")
    return lines


def _apply_fields(contact: dict[str, Any], events: Iterable[Event]) -> None:
    for event in events:
        if isinstance(event, ContactFieldChanged):
            contact[event.field] = event.value


def simulate(flow: Flow, answers: Sequence[str], lang: str | None = None, contact: Mapping[str, Any] | None = None,
             now: datetime | None = None, describe_reason: DescribeReason | None = None,
             notes: bool = True) -> list[str]:
    """Run a flow through the given replies and return the transcript ("BOT: ...", "YOU: ...", "-- note")."""
    contact = dict(contact or {})
    now = now or datetime.now(timezone.utc)
    state, events = start(flow, contact, now, lang)
    lines = render_events(events, describe_reason, notes)
    for answer in answers:
        if state["status"] != "active":
            break
        lines.append(f"YOU: {answer}")
        state, events = resume(flow, state, answer, contact, now)
        _apply_fields(contact, events)
        lines += render_events(events, describe_reason, notes)
    return lines


def interactive(flow: Flow, read: Callable[[str], str] = input, write: Callable[[str], Any] = print,
                    lang: str | None = None, contact: Mapping[str, Any] | None = None, now: datetime | None = None,
                    describe_reason: DescribeReason | None = None) -> dict[str, Any]:
    """Chat with a flow: `/wait 24h` lets time pass (reminders, expiry), `/quit` stops; return the final state."""
    contact = dict(contact or {})
    now = now or datetime.now(timezone.utc)
    write(f"Trying '{flow.title}' ({flow.id}). Type replies; /wait 24h lets time pass; /quit stops.")
    state, events = start(flow, contact, now, lang)
    for line in render_events(events, describe_reason):
        write(line)
    while state["status"] == "active":
        try:
            text = read("YOU: ")
        except EOFError:
            break
        command = text.strip()
        if command in ("/quit", "/exit"):
            break
        if command.startswith("/wait"):
            wait = parse_duration(command[len("/wait"):].strip())
            if wait is None:
                write("-- say how long, e.g. /wait 24h")
                continue
            now += wait
            if is_expired(flow, state, now):
                state, events = expire(flow, state, now)
            elif reminder_due(flow, state, now):
                state, events = remind(flow, state, now)
            else:
                events = []
            for line in render_events(events, describe_reason) or ["-- nothing happens"]:
                write(line)
            continue
        state, events = resume(flow, state, text, contact, now)
        _apply_fields(contact, events)
        for line in render_events(events, describe_reason):
            write(line)
    return state
