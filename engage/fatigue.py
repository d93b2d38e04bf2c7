"""Contact fatigue: at most `fatigue_cap` bulk messages per resident in any `fatigue_days` days."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engage.consent import BULK_KINDS
from store.models import OutboxMessage

# Rows in these states never reached the resident, so they do not tire anyone.
NOT_COUNTED = ("skipped", "failed")


def recent_bulk_counts(session: Session, contact_ids: list[int], now: datetime, days: int) -> dict[int, int]:
    """Return {contact id: bulk messages queued or sent to them in the last `days` days} for these contacts."""
    if not contact_ids:
        return {}
    cutoff = now - timedelta(days=days)
    ids = sorted(contact_ids)
    # A dense batch is selected by range: 1,000 bound parameters cost more than the extra rows.
    in_batch = (OutboxMessage.contact_id.between(ids[0], ids[-1]) if ids[-1] - ids[0] < 4 * len(ids)
                else OutboxMessage.contact_id.in_(ids))
    rows = session.execute(
        select(OutboxMessage.contact_id, func.count())
        .where(in_batch, OutboxMessage.kind.in_(sorted(BULK_KINDS)),
               OutboxMessage.status.not_in(NOT_COUNTED), OutboxMessage.created_at >= cutoff)
        .group_by(OutboxMessage.contact_id)
    )
    wanted = set(ids)
    return {contact_id: count for contact_id, count in rows if contact_id in wanted}


def over_cap(session: Session, contact_ids: list[int], now: datetime, cap: int, days: int) -> set[int]:
    """Return the contacts who have already had `cap` bulk messages in the window."""
    return {cid for cid, count in recent_bulk_counts(session, contact_ids, now, days).items() if count >= cap}
