"""Taking answer buttons away once their question is answered, however it was answered.

A Telegram question carries an inline keyboard. Pressing a button clears it at once
(`bot.telegram.TelegramChannel.acknowledge_button`; in scaled mode the worker acting on the press
queues it for the sender instead, `clear_pressed_keyboard`); a resident who types the answer,
skips, runs out of tries or lets the run expire would otherwise be left with buttons
that still look pressable. After each turn the conversation queues one "clear the
keyboard" row per earlier question message of the run that still shows buttons; the
sender hands it to the channel, which edits the message (editMessageReplyMarkup).
A row is keyed on the question's outbox row, so a keyboard is cleared once.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import select

from engage.outbox import enqueue
from store.models import OutboxMessage

# Channels whose sent questions keep buttons on the message itself.
KEYBOARD_CHANNELS = frozenset({"telegram"})
# The outbox kind of these rows: no message reaches the resident, and no count of messages includes them.
KIND = "keyboard"
PAYLOAD_TYPE = "clear_keyboard"
# Question kinds rendered with buttons (bot.render.render_telegram); an optional question has a Skip button too.
_BUTTON_KINDS = frozenset({"choice", "yes_no", "scale"})


def dedupe_key(outbox_id: int) -> str:
    return f"keyboard:{outbox_id}"


def has_buttons(payload: dict[str, Any]) -> bool:
    """Return True for a question payload that is shown with answer buttons."""
    return payload.get("type") == "question" and (payload.get("kind") in _BUTTON_KINDS
                                                  or bool(payload.get("optional")))


def clear_answered_keyboards(turn, run) -> int:
    """Queue the clearing of every keyboard of `run` that no longer asks the waiting question; return how many.

    The keyboard of the newest question, while the run still waits on its step, stays. A press's own
    message was already cleared when the press was acknowledged, and is left alone.
    """
    if turn.address.channel not in KEYBOARD_CHANNELS or run.id is None or turn.kind != "reply":
        return 0  # (a broadcast starting runs has no earlier keyboards to clear)
    # Outbox rows are written when queued (engage.outbox), so the session's pending changes to runs and
    # contacts need not be flushed before reading them: a worker's batch writes those together.
    outbox = OutboxMessage.__table__.c
    with turn.s.no_autoflush:
        rows = turn.s.execute(
            select(outbox.id, outbox.kind, outbox.provider_id, outbox.payload)
            .where(outbox.contact_id == turn.contact.id, outbox.run_id == run.id,
                   outbox.address_id == turn.address.id)
            .order_by(outbox.id)
        ).all()
    # Keyboards already queued for clearing are not queued again (each try would cost two statements).
    cleared = {(r.payload or {}).get("question_outbox_id") for r in rows if r.kind == KIND}
    questions = [r for r in rows if r.kind != KIND and (r.payload or {}).get("type") == "question"]
    newest = questions[-1] if questions else None
    keep = (newest.id if newest is not None and run.status == "active"
            and (newest.payload or {}).get("step_id") == run.current_step else None)
    if _queued_in_batch(turn, run):
        # This turn's question waits in the worker's batch, to be written with it: it is the newest, and
        # has no keyboard on the resident's screen yet, so every earlier one goes.
        keep = None
    pressed = _pressed_message_id(turn)
    queued = 0
    for row in questions:
        if row.id == keep or row.id in cleared or not row.provider_id or not has_buttons(row.payload or {}):
            continue
        if pressed is not None and row.provider_id == pressed:
            continue
        message_id = _message_id(row.provider_id)
        if message_id is None:
            continue
        added, _reason = enqueue(
            turn.s, contact=turn.contact, address=turn.address, kind=KIND, now=turn.now, run_id=run.id,
            payload={"type": PAYLOAD_TYPE, "message_id": message_id, "question_outbox_id": row.id},
            dedupe_key=dedupe_key(row.id))
        queued += added is not None
    return queued


def _queued_in_batch(turn, run) -> bool:
    """True when this turn queued a question of `run` that waits in the worker's batch (engage.conversations)."""
    buffer = turn.s.info.get("writes")
    return buffer is not None and any(
        values["run_id"] == run.id and values["address_id"] == turn.address.id and values["kind"] != KIND
        and (values["payload"] or {}).get("type") == "question" for values in buffer.outbox)


def _message_id(provider_id: str) -> int | None:
    try:
        return int(provider_id)
    except (TypeError, ValueError):
        return None


def clear_pressed_keyboard(turn) -> bool:
    """Queue the removal of the keyboard whose button this turn's message pressed, when the web left it
    (scaled mode: the web only checks, stores and answers); it goes to the sender beside the reply.
    Return True when a row was queued."""
    if turn.service.settings.inbound_in_web or turn.address.channel not in KEYBOARD_CHANNELS:
        return False
    message_id = turn.incoming.payload.get("button_message_id")
    if message_id is None:
        return False
    buffer = turn.s.info.get("writes")  # a worker's batch sends its turns' rows together
    if buffer is not None:
        buffer.contacts.add(turn.contact.id)
    added, _reason = enqueue(turn.s, contact=turn.contact, address=turn.address, kind=KIND, now=turn.now,
                             payload={"type": PAYLOAD_TYPE, "message_id": int(message_id)},
                             into=buffer.outbox if buffer is not None else None)
    return added is not None


def _pressed_message_id(turn) -> str | None:
    """The message whose button this turn's message pressed (its keyboard is cleared on its own:
    by the acknowledgement, or by clear_pressed_keyboard)."""
    payload = turn.incoming.payload
    if "button_run_id" not in payload or payload.get("telegram_message_id") is None:
        return None
    return str(payload["telegram_message_id"])
