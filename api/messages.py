"""/messages: the delivery state of outbound messages, by our id or the provider's."""
from __future__ import annotations

from sqlalchemy import select

from api.http import bp, check_id, invalid, not_found, page, page_args, services, text_arg
from store.models import OUTBOX_ORDER, OutboxMessage


def _iso(when):
    return when.isoformat() if when else None


def message_as_dict(row: OutboxMessage) -> dict:
    """Describe a message's state; never its text, which is personal data."""
    return {
        "id": row.id, "channel": row.channel, "kind": row.kind, "status": row.status,
        "provider_id": row.provider_id, "error_code": row.error_code, "attempts": row.attempts,
        "segments": row.segments, "contact_id": row.contact_id, "run_id": row.run_id,
        "broadcast_id": row.broadcast_id, "created_at": _iso(row.created_at), "not_before": _iso(row.not_before),
        "sent_at": _iso(row.sent_at), "delivered_at": _iso(row.delivered_at),
    }


@bp.get("/messages/<int:message_id>")
def get_message(message_id: int):
    with services().db.session() as s:
        row = s.get(OutboxMessage, check_id(message_id, "message"))
        if row is None:
            raise not_found("message")
        return message_as_dict(row)


@bp.get("/messages")
def list_messages():
    limit, after = page_args()
    provider_id = text_arg("provider_id", 128)
    status = text_arg("status", 16)
    if status is not None and status not in OUTBOX_ORDER:
        raise invalid("status", f"status must be one of {', '.join(OUTBOX_ORDER)}")
    stmt = select(OutboxMessage).where(OutboxMessage.id > after).order_by(OutboxMessage.id).limit(limit + 1)
    if provider_id is not None:
        stmt = stmt.where(OutboxMessage.provider_id == provider_id)
    if status is not None:
        stmt = stmt.where(OutboxMessage.status == status)
    with services().db.session() as s:
        return page(list(s.scalars(stmt)), limit, message_as_dict)
