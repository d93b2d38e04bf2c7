"""CSV files and conversation history for the contacts and privacy tests, made in the test itself."""
from __future__ import annotations

import csv
import io
import itertools
from datetime import datetime

from sqlalchemy import select

from store.models import Address, Contact

_provider_ids = itertools.count(1)


def csv_text(header: list[str], rows: list[list[str]]) -> str:
    """Write a header and rows as CSV text."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def mobile(n: int) -> str:
    """Return a distinct UK mobile number in E.164 that phonenumbers accepts as valid."""
    # Ofcom's drama range 07700 900xxx is not a valid mobile to phonenumbers.
    return f"+447911{n:06d}"


def text_in(services, text: str, address: str, channel: str = "sms", **payload):
    """Store and process one inbound message as a webhook would; return the inbound row id."""
    provider_id = f"SM{next(_provider_ids):032d}"
    row_id, _created = services.conversations.store_inbound(channel, provider_id, address, text, payload)
    services.conversations.process_inbound(row_id)
    return row_id


def contact_at(db, channel: str, address: str) -> Contact | None:
    with db.session() as s:
        return s.scalar(select(Contact).join(Address).where(Address.channel == channel, Address.address == address))


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)
