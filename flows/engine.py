"""The pure flow engine: (flow, run state, reply, contact, now) -> (new state, events).

No database, network, clock or randomness: the caller passes `now`, stores the returned state (a
JSON-ready dict) and acts on the events. The state passed in is never changed.

State keys: flow_id, flow_version, status ("active" | "completed" | "expired"), step (the question
waiting for an answer, None once ended), attempts (rejected replies to that question), answers
{step_id: value}, skipped {step_id: "skip_word" | "too_many_attempts"}, fields {contact field: value}
saved during the run, lang, easy_read, started_at, last_activity_at, reminded_at, ended_at (ISO
strings or None) and end_reason.
"""
from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from . import matching
from .events import (
    AnswerRecorded,
    AnswerRejected,
    ChoiceOption,
    ContactFieldChanged,
    Event,
    MessageSaid,
    QuestionAsked,
    RunEnded,
    RunExpired,
    StepSkipped,
)
from .matching import Match
from .model import CHOICE, END, MULTIPLE, NUMBER, SAY, SCALE, TEXT, YES_NO, Condition, Flow, Step

ACTIVE, COMPLETED, EXPIRED = "active", "completed", "expired"
# A turn visits at most this many steps, so a loop in a flow cannot run away.
MAX_STEPS_PER_TURN = 50

# Button labels for yes/no questions when the flow gives none.
YES_NO_LABELS: dict[str, tuple[str, str]] = {
    "en": ("Yes", "No"), "cy": ("Ie", "Na"), "pl": ("Tak", "Nie"), "ro": ("Da", "Nu"), "pt": ("Sim", "Não"),
    "ur": ("ہاں", "نہیں"), "pa": ("ਹਾਂ", "ਨਹੀਂ"), "bn": ("হ্যাঁ", "না"), "ar": ("نعم", "لا"), "so": ("Haa", "Maya"),
}
# The skip word shown to residents on optional questions, per language (any known skip word is accepted).
SKIP_WORD_SHOWN = {"en": "SKIP", "cy": "NEIDIO", "pl": "POMIŃ", "ro": "SARI", "pt": "PULAR"}


@dataclass(frozen=True)
class Reply:
    """A resident's reply: typed text, and the exact value of a pressed button when there was one."""

    text: str = ""
    # A button press bypasses fuzzy matching: a choice value, a list of values (multiple), "yes"/"no", a number.
    choice: Any = None


def _iso(now: datetime) -> str:
    if now.tzinfo is None:
        raise ValueError("the engine needs an aware datetime for now")
    return now.isoformat()


_CONTAINERS = (dict, list)


def _copy_json(value: Any) -> Any:
    if type(value) is dict:
        return {k: v if type(v) not in _CONTAINERS else _copy_json(v) for k, v in value.items()}
    if type(value) is list:
        return [v if type(v) not in _CONTAINERS else _copy_json(v) for v in value]
    if isinstance(value, (dict, list)):  # subclasses (rare): take the general road
        return copy.deepcopy(value)
    return value


def _copy_state(state: Mapping[str, Any]) -> dict[str, Any]:
    """Return a copy of a run state that shares nothing mutable with it."""
    # The state is JSON-shaped (it is stored as JSON), so a dict/list walk is enough and far
    # cheaper than copy.deepcopy's memo bookkeeping.
    return {k: v if type(v) not in _CONTAINERS else _copy_json(v) for k, v in state.items()}


def _languages(flow: Flow, state: Mapping[str, Any], contact: Mapping[str, Any] | None = None) -> list[str]:
    """Return the languages to read replies in: the run's, the resident's own, then the flow's base language.

    The resident's own language comes second so that "tak" is a yes from a Polish speaker even in a
    flow written only in English and Welsh.
    """
    own = (contact or {}).get("language")
    return list(dict.fromkeys([lang for lang in (state["lang"], own, flow.base_language) if lang]))


def start(flow: Flow, contact: Mapping[str, Any] | None, now: datetime,
          lang: str | None = None) -> tuple[dict[str, Any], list[Event]]:
    """Start a run: say the opening messages and ask the first question."""
    contact = contact or {}
    if lang not in flow.languages:
        lang = contact.get("language") if contact.get("language") in flow.languages else flow.base_language
    state: dict[str, Any] = {
        "flow_id": flow.id, "flow_version": flow.version, "status": ACTIVE, "step": None, "attempts": 0,
        "answers": {}, "skipped": {}, "fields": {}, "lang": lang, "easy_read": bool(contact.get("easy_read")),
        "started_at": _iso(now), "last_activity_at": _iso(now), "reminded_at": None, "ended_at": None,
        "end_reason": None,
    }
    events: list[Event] = []
    _walk(flow, state, flow.steps[0].id if flow.steps else END, contact, now, events, 0)
    return state, events


def resume(flow: Flow, state: Mapping[str, Any], reply: str | Reply, contact: Mapping[str, Any] | None,
           now: datetime) -> tuple[dict[str, Any], list[Event]]:
    """Take the resident's reply to the waiting question and go on to the next question or the end.

    A run that has ended is returned unchanged with no events; a run past its expiry is expired
    instead, and the reply is not used.
    """
    contact = contact or {}
    reply = Reply(reply) if isinstance(reply, str) else reply
    state = _copy_state(state)
    if state["status"] != ACTIVE:
        return state, []
    if is_expired(flow, state, now):
        return expire(flow, state, now)
    state["last_activity_at"] = _iso(now)
    events: list[Event] = []
    if not state["step"] or not flow.has_step(state["step"]):
        _finish(state, now, events, "flow_changed")
        return state, events
    step = flow.step(state["step"])
    raw = reply.text
    if not raw and reply.choice is not None:
        raw = ",".join(map(str, reply.choice)) if isinstance(reply.choice, (list, tuple)) else str(reply.choice)

    skip = reply.choice is None and matching.is_skip_word(reply.text, _custom_skip_words(flow, step))
    if skip and step.optional:
        events.append(StepSkipped(step.id, "skip_word", raw))
        _mark_skipped(state, step, "skip_word")
        _walk(flow, state, _next_target(flow, step, state, contact), contact, now, events, 1)
        return state, events

    # A skip word on a question that needs an answer is never taken as the answer itself.
    found = Match(reason="required") if skip else _match(flow, step, state, reply, contact)
    if found.ok:
        events.append(AnswerRecorded(step.id, found.value, raw, found.confidence))
        state["answers"][step.id] = found.value
        state["skipped"].pop(step.id, None)
        if step.save_to:
            state["fields"][step.save_to] = found.value
            events.append(ContactFieldChanged(step.save_to, found.value))
            if step.save_to == "language" and isinstance(found.value, str):
                state["lang"] = found.value
        _walk(flow, state, _next_target(flow, step, state, contact), contact, now, events, 1)
        return state, events

    state["attempts"] += 1
    events.append(AnswerRejected(step.id, state["lang"], raw, found.reason or "not_a_choice", dict(found.params),
                                 state["attempts"]))
    if state["attempts"] >= step.max_attempts:
        events.append(StepSkipped(step.id, "too_many_attempts", raw))
        _mark_skipped(state, step, "too_many_attempts")
        _walk(flow, state, _next_target(flow, step, state, contact), contact, now, events, 1)
    else:
        events.append(question_for(flow, step, state, reprompt=True))
    return state, events


def is_expired(flow: Flow, state: Mapping[str, Any], now: datetime) -> bool:
    """Return True when an active run has had no reply for the flow's `expires_after`."""
    if state["status"] != ACTIVE or flow.expires_after is None:
        return False
    return now - datetime.fromisoformat(state["last_activity_at"]) >= flow.expires_after


def expire(flow: Flow, state: Mapping[str, Any], now: datetime) -> tuple[dict[str, Any], list[Event]]:
    """End an unfinished run as expired (whether or not its time is up: the caller decides)."""
    state = _copy_state(state)
    if state["status"] != ACTIVE:
        return state, []
    events: list[Event] = [RunExpired(state["step"])]
    state.update(status=EXPIRED, step=None, ended_at=_iso(now), end_reason=EXPIRED)
    return state, events


def reminder_due(flow: Flow, state: Mapping[str, Any], now: datetime) -> bool:
    """Return True when the flow's reminder should go to this run now (once, before it expires)."""
    if state["status"] != ACTIVE or not flow.reminder or state.get("reminded_at") or not state["step"]:
        return False
    if is_expired(flow, state, now):
        return False
    return now - datetime.fromisoformat(state["last_activity_at"]) >= flow.reminder["after"]


def remind(flow: Flow, state: Mapping[str, Any], now: datetime) -> tuple[dict[str, Any], list[Event]]:
    """Send the reminder and the waiting question again, if a reminder is due."""
    state = _copy_state(state)
    if not reminder_due(flow, state, now):
        return state, []
    step = flow.step(state["step"])
    state["reminded_at"] = _iso(now)
    text = flow.reminder_text(state["lang"]) or ""
    return state, [MessageSaid(step.id, state["lang"], text), question_for(flow, step, state, reprompt=True)]


def may_start_again(flow: Flow, last_completed_at: datetime | None, now: datetime) -> bool:
    """Return True when a contact who last completed this flow then may start it again now."""
    if last_completed_at is None or flow.restart_after_days is None:
        return True
    return now - last_completed_at >= timedelta(days=flow.restart_after_days)


# ---------------------------------------------------------------- walking


def _walk(flow: Flow, state: dict[str, Any], target: str, contact: Mapping[str, Any], now: datetime,
          events: list[Event], taken: int) -> None:
    """Go from `target` through `say` steps to the next question, or to the end."""
    while True:
        if target == END:
            _finish(state, now, events, "completed")
            return
        if taken >= MAX_STEPS_PER_TURN:
            _finish(state, now, events, "step_limit")
            return
        if not flow.has_step(target):
            _finish(state, now, events, "flow_changed")
            return
        taken += 1
        step = flow.step(target)
        if step.kind == SAY:
            events.append(MessageSaid(step.id, state["lang"], flow.text(step, state["lang"], state["easy_read"])))
            target = _next_target(flow, step, state, contact)
            continue
        state.update(step=step.id, attempts=0)
        events.append(question_for(flow, step, state))
        return


def _finish(state: dict[str, Any], now: datetime, events: list[Event], reason: str) -> None:
    state.update(status=COMPLETED, step=None, attempts=0, ended_at=_iso(now), end_reason=reason)
    events.append(RunEnded(reason))


def _mark_skipped(state: dict[str, Any], step: Step, reason: str) -> None:
    state["answers"].pop(step.id, None)
    state["skipped"][step.id] = reason


def _next_target(flow: Flow, step: Step, state: Mapping[str, Any], contact: Mapping[str, Any]) -> str:
    """Return the first route whose test holds, else the next step in the file, else the end."""
    for route in step.routes:
        if route.when is None or _holds(route.when, state, contact):
            return route.goto
    following = flow.step_after(step.id)
    return following.id if following else END


# ---------------------------------------------------------------- conditions


def _truth(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    text = str(value).strip().casefold()
    return True if text in ("yes", "true") else False if text in ("no", "false") else None


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(str(value).strip())
    except ValueError:
        return None


def _same(answer: Any, operand: Any) -> bool:
    """Compare loosely: yes/true with True, "2" with 2, and text without case or accents."""
    if isinstance(answer, bool) or isinstance(operand, bool):
        truth = _truth(answer)
        return truth is not None and truth == _truth(operand)
    a, b = _as_number(answer), _as_number(operand)
    if a is not None and b is not None:
        return a == b
    return matching.fold(str(answer)).strip() == matching.fold(str(operand)).strip()


def _holds(cond: Condition, state: Mapping[str, Any], contact: Mapping[str, Any]) -> bool:
    """Return whether a test holds. A missing answer or field only satisfies not_equals, not_in and exists: false."""
    if cond.subject == "all":
        return all(_holds(part, state, contact) for part in cond.parts)
    if cond.subject == "any":
        return any(_holds(part, state, contact) for part in cond.parts)
    if cond.subject == "answer":
        value = state["answers"].get(cond.name)
    else:
        value = {**contact, **state["fields"]}.get(cond.name)
    present = value is not None and value != "" and value != []
    if cond.op == "exists":
        return present == cond.operand
    values = value if isinstance(value, list) else [value]
    if cond.op in ("equals", "not_equals"):
        hit = present and any(_same(v, cond.operand) for v in values)
        return hit if cond.op == "equals" else not hit
    if cond.op in ("in", "not_in"):
        hit = present and any(_same(v, o) for v in values for o in cond.operand)
        return hit if cond.op == "in" else not hit
    number = _as_number(value) if present and not isinstance(value, list) else None
    if number is None:
        return False
    limit = float(cond.operand)
    return {"at_least": number >= limit, "at_most": number <= limit,
            "more_than": number > limit, "less_than": number < limit}[cond.op]


# ---------------------------------------------------------------- matching and asking


def _custom_skip_words(flow: Flow, step: Step) -> list[str]:
    return [w for words in (*flow.skip_words.values(), *step.skip_words.values()) for w in words]


def _yes_no_texts(flow: Flow, step: Step, lang: str) -> tuple[str, str]:
    default = YES_NO_LABELS.get(lang) or YES_NO_LABELS.get(flow.base_language) or YES_NO_LABELS["en"]
    return tuple(flow.text(step.yes_no_labels[k], lang) if k in step.yes_no_labels else default[i]
                 for i, k in enumerate(("yes", "no")))  # type: ignore[return-value]


def _match_button(step: Step, choice: Any) -> Match | None:
    """Return the answer for a button press, or None when the value does not fit (then the text is used)."""
    values = [c.value for c in step.choices]
    if step.kind == CHOICE and str(choice) in values:
        return Match(str(choice), 1.0)
    if step.kind == MULTIPLE:
        picked = choice if isinstance(choice, (list, tuple)) else str(choice).split(",")
        picked = {str(p).strip() for p in picked}
        if picked and picked <= set(values):
            ordered = [v for v in values if v in picked]
            if step.min is not None and len(ordered) < step.min:
                return Match(reason="too_few", params={"min": step.min, "max": step.max, "count": len(ordered)})
            if step.max is not None and len(ordered) > step.max:
                return Match(reason="too_many", params={"min": step.min, "max": step.max,
                                                                "count": len(ordered)})
            return Match(ordered, 1.0)
    if step.kind == YES_NO and _truth(choice) is not None:
        return Match(_truth(choice), 1.0)
    if step.kind in (NUMBER, SCALE) and _as_number(choice) is not None:
        return matching.match_number(str(choice), step.min, step.max, step.integer)
    return None


def _match(flow: Flow, step: Step, state: Mapping[str, Any], reply: Reply,
           contact: Mapping[str, Any] | None = None) -> Match:
    if reply.choice is not None:
        pressed = _match_button(step, reply.choice)
        if pressed is not None:
            return pressed
    text, langs = reply.text, _languages(flow, state, contact)
    if step.kind == CHOICE:
        return matching.match_choice(text, step.choices, langs)
    if step.kind == MULTIPLE:
        return matching.match_multiple(text, step.choices, langs, step.min, step.max)
    if step.kind == YES_NO:
        found = matching.match_yes_no(text, langs)
        if not found.ok and step.yes_no_labels and found.reason not in ("empty", "unsure"):
            options = [_Option(k, texts) for k, texts in step.yes_no_labels.items()]
            label = matching.match_choice(text, options, langs, numbered=False)
            if label.ok:
                return Match(label.value == "yes", label.confidence)
        return found
    if step.kind == NUMBER:
        return matching.match_number(text, step.min, step.max, step.integer, langs)
    if step.kind == SCALE:
        return matching.match_scale(text, int(step.min or 0), int(step.max or 0), step.labels, langs)
    return matching.match_text(text, step.max_length)


@dataclass(frozen=True)
class _Option:
    value: str
    labels: Mapping[str, str]


def _hints(flow: Flow, step: Step, lang: str) -> dict[str, Any]:
    hints: dict[str, Any] = {}
    if step.kind in (MULTIPLE, NUMBER, SCALE):
        hints.update({k: v for k, v in (("min", step.min), ("max", step.max)) if v is not None})
    if step.kind == NUMBER:
        hints["integer"] = step.integer
    if step.kind == SCALE and step.labels:
        hints["labels"] = {str(point): flow.text(texts, lang) for point, texts in sorted(step.labels.items())}
    if step.kind == TEXT and step.max_length:
        hints["max_length"] = step.max_length
    if step.kind == YES_NO:
        yes, no = _yes_no_texts(flow, step, lang)
        hints["yes_no_labels"] = {"yes": yes, "no": no}
    if step.optional:
        custom = step.skip_words.get(lang) or flow.skip_words.get(lang)
        hints["skip_word"] = SKIP_WORD_SHOWN.get(lang) or (custom[0].upper() if custom else "SKIP")
    if step.special_category:
        hints["special_category"] = True
    return hints


def question_for(flow: Flow, step: Step, state: Mapping[str, Any], reprompt: bool = False) -> QuestionAsked:
    """Return the QuestionAsked event for a step, in the run's language (falling back to the base language)."""
    lang = state["lang"]
    options: Sequence[ChoiceOption] = ()
    if step.kind in (CHOICE, MULTIPLE):
        options = tuple(ChoiceOption(i + 1, c.value, flow.text(c.labels, lang)) for i, c in enumerate(step.choices))
    elif step.kind == YES_NO:
        yes, no = _yes_no_texts(flow, step, lang)
        options = (ChoiceOption(1, "yes", yes), ChoiceOption(2, "no", no))
    return QuestionAsked(step.id, lang, flow.text(step, lang, state.get("easy_read", False)), step.kind,
                         tuple(options), step.optional, reprompt, _hints(flow, step, lang))
