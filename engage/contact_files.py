"""Contact files from the dashboard: XLSX read as the CSV the importer takes, and what an import would change.

The importer itself is `engage.contact_import` (the command line and the API use
it too); this module only feeds it a spreadsheet and, for the dry-run report,
splits the rows that match an existing contact into "updated" and "unchanged".
"""
from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import select

from engage.contact_import import ImportRow, _match
from store.models import CONSENT_UNKNOWN, Contact, ContactGroup


class FileError(ValueError):
    """The upload is not a file the importer can read."""


def is_xlsx(filename: str, data: bytes) -> bool:
    """An Excel workbook: named .xlsx, or a zip file (what an .xlsx is) whatever its name."""
    return filename.lower().endswith(".xlsx") or data[:4] == b"PK\x03\x04"


def upload_text(filename: str, data: bytes) -> str | bytes:
    """Return what `contact_import` reads: CSV bytes as they are, an XLSX's first sheet as CSV text."""
    if not is_xlsx(filename, data):
        return data
    return xlsx_to_csv(data)


def xlsx_to_csv(data: bytes) -> str:
    """Write the first sheet of a workbook as CSV, one line per spreadsheet row.

    Spreadsheet row N becomes CSV line N, so the importer's "line 7" is row 7 in
    Excel: empty rows are kept (the importer skips them), and line breaks inside
    a cell become spaces (a contact field has no use for them).
    """
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise FileError("the file is not an Excel workbook (.xlsx) that can be read") from exc
    try:
        sheet = workbook.worksheets[0]
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        for row in sheet.iter_rows(values_only=True):
            cells = [_cell_text(v) for v in row]
            while cells and cells[-1] == "":
                cells.pop()
            writer.writerow(cells)
        return out.getvalue()
    finally:
        workbook.close()


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        # Excel keeps 07700 900123 typed as a number as 7700900123.0.
        return str(int(value))
    if isinstance(value, datetime):
        return value.isoformat(sep="T") if value.time() != time() else value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return " ".join(str(value).splitlines())


@dataclass
class Changes:
    """What an import would do: new contacts, existing contacts changed, existing contacts left as they are."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0


def changes(db, rows: list[ImportRow]) -> Changes:
    """Compare checked rows with the contacts they match, without writing anything."""
    result = Changes()
    with db.session() as s:
        phones, chats, _conflicts = _match(s, rows)
        matched: dict[int, int] = {}
        for index, row in enumerate(rows):
            existing = (phones.get(row.phone) if row.phone else None) or (
                chats.get(row.telegram_id) if row.telegram_id else None)
            if existing is None:
                result.created += 1
            else:
                matched[index] = existing.contact_id
        ids = sorted(set(matched.values()))
        contacts: dict[int, Contact] = {}
        groups: dict[int, set[str]] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            for contact in s.scalars(select(Contact).where(Contact.id.in_(chunk))):
                contacts[contact.id] = contact
            for contact_id, name in s.execute(select(ContactGroup.contact_id, ContactGroup.name)
                                              .where(ContactGroup.contact_id.in_(chunk))):
                groups.setdefault(contact_id, set()).add(name)
        for index, contact_id in matched.items():
            row = rows[index]
            contact = contacts[contact_id]
            if _differs(row, contact, groups.get(contact_id, set()), phones, chats):
                result.updated += 1
            else:
                result.unchanged += 1
    return result


def _differs(row: ImportRow, contact: Contact, groups: set[str], phones: dict, chats: dict) -> bool:
    for value, current in ((row.name, contact.name), (row.language, contact.language),
                           (row.organisation, contact.organisation), (row.role, contact.role)):
        if value and value != current:
            return True
    fields = contact.fields or {}
    if any(str(fields.get(k)) != v for k, v in row.fields.items()):
        return True
    if set(row.groups) - groups:
        return True
    if row.special_category_consent:
        return True
    for value, known in ((row.phone, phones), (row.telegram_id, chats)):
        if not value:
            continue
        existing = known.get(value)
        if existing is None:
            return True  # a new way to reach them
        if row.consent_source and existing.consent == CONSENT_UNKNOWN:
            return True  # consent given at last
    return False
