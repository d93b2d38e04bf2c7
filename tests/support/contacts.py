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


def consultation_flow(flow_id: str, keyword: str, opens: str | None = "2026-12-01", closes: str | None = "2026-12-31",
                      keep_free_text: bool = False) -> str:
    """Return a two-question flow (a choice, then free text) as YAML."""
    consultation = (f"consultation:\n  purpose: Decide about {flow_id}\n  opens: {opens}\n  closes: {closes}\n"
                    if closes else "")
    return f"""id: {flow_id}
title: About {flow_id}
languages: [en]
keywords: [{keyword}]
{consultation}{"keep_free_text: true" if keep_free_text else ""}
steps:
  - id: rating
    ask:
      en: How good is it?
    choices:
      - {{value: good, en: Good}}
      - {{value: poor, en: Poor}}
  - id: why
    ask:
      en: Why do you say that?
    text: {{max_length: 500}}
  - id: thanks
    say:
      en: Thank you.
"""


def publish(services, *sources: str) -> None:
    """Load flows from YAML text and publish them on the running service."""
    from flows.loader import load_flow_text

    for source in sources:
        services.registry.add(load_flow_text(source))


def find_traces(db, needles: list[str]) -> list[str]:
    """Return "table.column: needle" for every stored value, in every table, that contains a needle."""
    import json

    from store.models import Base

    hits = []
    with db.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            for row in conn.execute(table.select()).mappings():
                for column, value in row.items():
                    if value is None:
                        continue
                    text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
                    hits.extend(f"{table.name}.{column}: {needle}" for needle in needles if needle in text)
    return hits
