"""Import contacts from CSV: report every bad row first, then import all rows or none.

Rows merge with existing contacts by phone number or Telegram chat id: fields
are updated, groups added, new addresses attached. Database work is batched
(IN queries of BATCH values, bulk inserts), so 50,000 rows take seconds.
"""
from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timezone
from typing import IO, Any
from zoneinfo import ZoneInfo

from sqlalchemy import JSON, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from engage.consent import MESSAGE_CLASSES, SERVICE
from engage.contacts import (
    LANGUAGES,
    ContactError,
    is_special_category,
    normalise_field_name,
    normalise_phone,
    normalise_telegram_id,
)
from engage.field_values import Vocabulary, fold
from locales import languages
from store.models import (
    CONSENT_OPTED_IN,
    CONSENT_UNKNOWN,
    Address,
    ConsentRecord,
    Contact,
    ContactGroup,
)

# Values per IN query, and rows per bulk insert.
BATCH = 500
IMPORT_BATCH = 5000
KNOWN_COLUMNS = ("phone", "telegram_id", "name", "language", "ward", "groups", "consent_source", "consent_at",
                 "consent_for", "organisation", "role", "special_category_consent")
# Columns that are not contact fields (ward is a field, but a known one).
_NOT_FIELDS = {"phone", "telegram_id", "name", "language", "groups", "consent_source", "consent_at",
               "consent_for", "organisation", "role", "special_category_consent"}
_LANGUAGE_WORDS: dict[str, str] = {}
_LIMITS = {"name": 200, "organisation": 200, "role": 200, "consent_source": 500, "special_category_consent": 500}


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the file, at a line (1 is the header) and column."""

    line: int
    column: str | None
    reason: str

    def __str__(self) -> str:
        where = f"line {self.line}" + (f", column {self.column}" if self.column else "")
        return f"{where}: {self.reason}"

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "column": self.column, "reason": self.reason}


@dataclass
class ImportRow:
    line: int
    phone: str | None = None
    telegram_id: str | None = None
    name: str | None = None
    language: str | None = None
    groups: list[str] = field(default_factory=list)
    fields: dict[str, str] = field(default_factory=dict)
    organisation: str | None = None
    role: str | None = None
    consent_source: str | None = None
    consent_at: datetime | None = None
    # The classes of broadcast the stated consent covers ("service", "promotional"); with a
    # consent_source and no consent_for column, "service".
    consent_for: tuple[str, ...] = ()
    special_category_consent: str | None = None


@dataclass
class ImportReport:
    """What an import found and did."""

    rows: int = 0
    problems: list[Problem] = field(default_factory=list)
    created: int = 0
    merged: int = 0
    consent_recorded: int = 0
    opt_outs_kept: int = 0
    committed: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "problems": [p.as_dict() for p in self.problems], "created": self.created,
                "merged": self.merged, "consent_recorded": self.consent_recorded,
                "opt_outs_kept": self.opt_outs_kept, "committed": self.committed}


Progress = Callable[[int], None]


# ----- reading and checking the file ------------------------------------------------------


def _decode(source: str | bytes | IO) -> str:
    if hasattr(source, "read"):
        source = source.read()
    if isinstance(source, bytes):
        return source.decode("utf-8-sig")
    return source.lstrip("\ufeff")


def parse_consent_date(raw: str, tz: str = "Europe/London") -> datetime:
    """Read 2025-03-01, 2025-03-01T10:30, 2025-03-01T10:30:00Z or 01/03/2025; local times are UK time."""
    text = raw.strip()
    parsed: datetime | None = None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        for pattern in ("%d/%m/%Y", "%d/%m/%Y %H:%M", "%d-%m-%Y"):
            try:
                parsed = datetime.strptime(text, pattern)
                break
            except ValueError:
                continue
    if parsed is None:
        raise ValueError(f"'{raw}' is not a date (use 2025-03-01 or 01/03/2025)")
    if isinstance(parsed, date) and not isinstance(parsed, datetime):
        parsed = datetime.combine(parsed, time())
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=ZoneInfo(tz))
    return parsed.astimezone(timezone.utc)


def read_rows(source: str | bytes | IO, now: datetime, *, region: str = "GB",
              tz: str = "Europe/London", vocabulary: Vocabulary | None = None) -> tuple[list[ImportRow], list[Problem]]:
    """Parse and check every row of a CSV file without touching the database.

    With a `vocabulary`, field values and group names the council defines are stored in their one
    form ("Netteswell" as the citizens' panel's `netteswell`).
    """
    problems: list[Problem] = []
    try:
        text = _decode(source)
    except UnicodeDecodeError:
        return [], [Problem(1, None, "the file is not UTF-8 text; save it as 'CSV UTF-8'")]
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        return [], [Problem(1, None, "the file is empty")]
    except csv.Error as exc:
        return [], [Problem(1, None, f"the file is not readable CSV: {exc}")]
    columns = [normalise_field_name(h) for h in header]
    seen: dict[str, int] = {}
    for index, (raw, name) in enumerate(zip(header, columns, strict=True)):
        if not name:
            problems.append(Problem(1, raw or f"#{index + 1}", "empty or unusable column heading"))
        elif name in seen:
            problems.append(Problem(1, raw, f"column '{name}' appears twice"))
        elif name[0].isdigit():
            problems.append(Problem(1, raw, "a column heading must start with a letter"))
        seen.setdefault(name, index)
    if "phone" not in seen and "telegram_id" not in seen:
        problems.append(Problem(1, None, "the file needs a phone or a telegram_id column"))
    if problems:
        return [], problems

    rows: list[ImportRow] = []
    first_line: dict[tuple[str, str], int] = {}
    while True:
        line = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            problems.append(Problem(line, None, f"not readable CSV: {exc}"))
            break
        if not any(c.strip() for c in cells):
            continue
        if len(cells) > len(columns):
            # Reported, and still checked and counted as a row like any other.
            problems.append(Problem(line, None, f"the row has {len(cells)} values but the header has {len(columns)}"))
            cells = cells[:len(columns)]
        values = {columns[i]: cells[i].strip() for i in range(len(cells))}
        row, row_problems = _check_row(line, values, now, region, tz, vocabulary)
        for key, column in ((row.phone, "phone"), (row.telegram_id, "telegram_id")):
            if key is None:
                continue
            earlier = first_line.setdefault((column, key), line)
            if earlier != line:
                row_problems.append(Problem(line, column, f"duplicate of line {earlier}"))
        problems.extend(row_problems)
        rows.append(row)
    return rows, problems


def _language_words() -> dict[str, str]:
    words: dict[str, str] = {}
    for language in languages.LANGUAGES:
        for word in (language.code, language.english_name, language.native_name, *language.switch_words):
            words[unicodedata.normalize("NFC", word).casefold()] = language.code
    return words


_LANGUAGE_WORDS.update(_language_words())


def language_code(raw: str) -> str | None:
    """A language as a list gives it: a code ("cy"), or its name in English or in itself ("Welsh", "Cymraeg")."""
    word = unicodedata.normalize("NFC", raw.strip()).casefold()
    code = _LANGUAGE_WORDS.get(word)
    return code if code in LANGUAGES else None


def _check_row(line: int, values: dict[str, str], now: datetime, region: str,
               tz: str, vocabulary: Vocabulary | None = None) -> tuple[ImportRow, list[Problem]]:
    problems: list[Problem] = []
    row = ImportRow(line=line)
    for column, value in values.items():
        if "\x00" in value:
            problems.append(Problem(line, column, "contains a NUL character"))
            values[column] = value.replace("\x00", "")
        limit = _LIMITS.get(column)
        if limit and len(value) > limit:
            problems.append(Problem(line, column, f"longer than {limit} characters"))
    if values.get("phone"):
        try:
            row.phone = normalise_phone(values["phone"], region=region)
        except ContactError as exc:
            if exc.code == "landline":
                # A landline takes calls, not texts: it is imported as a voice address (phone_channel).
                row.phone = normalise_phone(values["phone"], region=region, for_sms=False)
            else:
                problems.append(Problem(line, "phone", f"{exc.message}: '{values['phone']}'"))
    if values.get("telegram_id"):
        try:
            row.telegram_id = normalise_telegram_id(values["telegram_id"])
        except ContactError as exc:
            problems.append(Problem(line, "telegram_id", exc.message))
    if not values.get("phone") and not values.get("telegram_id"):
        problems.append(Problem(line, "phone", "neither a phone number nor a Telegram chat id"))
    language = values.get("language", "")
    if language:
        code = language_code(language)
        if code is not None:
            row.language = code
        else:
            problems.append(Problem(line, "language", f"unknown language '{values['language']}' "
                                                      f"(use one of {' '.join(LANGUAGES)})"))
    row.name = values.get("name") or None
    row.organisation = values.get("organisation") or None
    row.role = values.get("role") or None
    row.consent_source = values.get("consent_source") or None
    classes = [c.strip().lower() for c in re.split(r"[;, ]+", values.get("consent_for") or "") if c.strip()]
    unknown = [c for c in classes if c not in MESSAGE_CLASSES]
    if unknown:
        problems.append(Problem(line, "consent_for", f"unknown message class '{unknown[0]}' "
                                                     f"(use {' or '.join(MESSAGE_CLASSES)}, separated by ';')"))
    elif classes and not row.consent_source:
        problems.append(Problem(line, "consent_for", "consent for messages needs a consent_source saying how"))
    elif row.consent_source:
        row.consent_for = tuple(dict.fromkeys(classes)) or (SERVICE,)
    row.special_category_consent = values.get("special_category_consent") or None
    for group in (values.get("groups") or "").split(";"):
        group = group.strip()
        if vocabulary is not None and group:
            group = vocabulary.canonical_group(group)
        if len(group) > 100:
            problems.append(Problem(line, "groups", f"group name longer than 100 characters: '{group[:20]}...'"))
        elif group and fold(group) not in {fold(g) for g in row.groups}:
            row.groups.append(group)
    if values.get("consent_at"):
        try:
            row.consent_at = parse_consent_date(values["consent_at"], tz)
        except ValueError as exc:
            problems.append(Problem(line, "consent_at", str(exc)))
        else:
            if row.consent_at > now:
                problems.append(Problem(line, "consent_at", "consent date is in the future"))
            if not row.consent_source:
                problems.append(Problem(line, "consent_at", "a consent date needs a consent_source saying how"))
    for column, value in values.items():
        if column in _NOT_FIELDS or not value:
            continue
        if len(value) > 500:
            problems.append(Problem(line, column, "longer than 500 characters"))
        if is_special_category(column) and not row.special_category_consent:
            problems.append(Problem(line, column, "special-category data needs the resident's explicit consent "
                                                  "(fill in special_category_consent)"))
        row.fields[column] = vocabulary.canonical(column, value) if vocabulary is not None else value
    return row, problems


# ----- matching with the database ---------------------------------------------------------------


@dataclass
class _Existing:
    address_id: int
    contact_id: int
    consent: str


def phone_channel(number: str | None) -> str:
    """The channel a phone number is reached on: "voice" for a landline (phonenumbers says FIXED_LINE), else "sms"."""
    import phonenumbers

    if not number:
        return "sms"
    try:
        kind = phonenumbers.number_type(phonenumbers.parse(number, "GB"))
    except phonenumbers.NumberParseException:
        return "sms"
    return "voice" if kind == phonenumbers.PhoneNumberType.FIXED_LINE else "sms"


def _existing_addresses(session: Session, channel: str, values: list[str]) -> dict[str, _Existing]:
    found: dict[str, _Existing] = {}
    for start in range(0, len(values), BATCH):
        chunk = values[start:start + BATCH]
        for address_id, value, contact_id, consent in session.execute(
            select(Address.id, Address.address, Address.contact_id, Address.consent)
            .where(Address.channel == channel, Address.address.in_(chunk))
        ):
            found[value] = _Existing(address_id, contact_id, consent)
    return found


def _match(session: Session, rows: list[ImportRow]) -> tuple[dict[str, _Existing], dict[str, _Existing],
                                                              list[Problem]]:
    numbers = [r.phone for r in rows if r.phone]
    # A landline is imported as a voice address (it cannot take a text), so either may be known already.
    phones = {**_existing_addresses(session, "voice", numbers), **_existing_addresses(session, "sms", numbers)}
    chats = _existing_addresses(session, "telegram", [r.telegram_id for r in rows if r.telegram_id])
    problems = []
    for row in rows:
        by_phone = phones.get(row.phone) if row.phone else None
        by_chat = chats.get(row.telegram_id) if row.telegram_id else None
        if by_phone and by_chat and by_phone.contact_id != by_chat.contact_id:
            problems.append(Problem(row.line, "telegram_id", f"the phone number belongs to contact "
                                    f"{by_phone.contact_id} but the Telegram id to contact {by_chat.contact_id}"))
    return phones, chats, problems


# ----- importing ---------------------------------------------------------------------------------


def check_import(db, source: str | bytes | IO, now: datetime, *, region: str = "GB",
                 tz: str = "Europe/London", vocabulary: Vocabulary | None = None
                 ) -> tuple[list[ImportRow], ImportReport]:
    """Read the file and report every problem, changing nothing."""
    rows, problems = read_rows(source, now, region=region, tz=tz, vocabulary=vocabulary)
    report = ImportReport(rows=len(rows))
    with db.session() as s:
        phones, chats, conflicts = _match(s, rows)
    problems.extend(conflicts)
    report.problems = sorted(problems, key=lambda p: (p.line, p.column or ""))
    for row in rows:
        existing = (phones.get(row.phone) if row.phone else None) or (
            chats.get(row.telegram_id) if row.telegram_id else None)
        if existing:
            report.merged += 1
        else:
            report.created += 1
    return rows, report


def import_contacts(db, source: str | bytes | IO, now: datetime, *, commit: bool, region: str = "GB",
                    tz: str = "Europe/London", progress: Progress | None = None,
                    vocabulary: Vocabulary | None = None) -> ImportReport:
    """Check a CSV file and, when `commit` and nothing is wrong, import every row in one transaction."""
    rows, report = check_import(db, source, now, region=region, tz=tz, vocabulary=vocabulary)
    if not commit or report.problems:
        return report
    report.created = report.merged = 0
    with db.session() as s:
        # Match again inside the writing transaction: the file may have been checked earlier.
        phones, chats, conflicts = _match(s, rows)
        if conflicts:
            report.problems = conflicts
            return report
        for start in range(0, len(rows), IMPORT_BATCH):
            chunk = rows[start:start + IMPORT_BATCH]
            _import_batch(s, chunk, phones, chats, now, report)
            if progress is not None:
                progress(len(chunk))
    report.committed = True
    return report


def _opted_in(s: Session, contact_ids: list[int], scopes: set[str]) -> set[tuple[int, str]]:
    """(contact, scope) pairs, of these scopes, whose latest consent record is an opt-in."""
    latest: dict[tuple[int, str], str] = {}
    for start in range(0, len(contact_ids), BATCH):
        for contact_id, scope, action in s.execute(
                select(ConsentRecord.contact_id, ConsentRecord.scope, ConsentRecord.action)
                .where(ConsentRecord.contact_id.in_(contact_ids[start:start + BATCH]),
                       ConsentRecord.scope.in_(sorted(scopes)))
                .order_by(ConsentRecord.at, ConsentRecord.id)):
            latest[(contact_id, scope)] = action
    return {key for key, action in latest.items() if action == "opt_in"}


def _import_batch(s: Session, rows: list[ImportRow], phones: dict[str, _Existing], chats: dict[str, _Existing],
                  now: datetime, report: ImportReport) -> None:
    new_rows: list[ImportRow] = []
    merge_rows: list[tuple[int, ImportRow]] = []
    for row in rows:
        existing = (phones.get(row.phone) if row.phone else None) or (
            chats.get(row.telegram_id) if row.telegram_id else None)
        if existing is None:
            new_rows.append(row)
        else:
            merge_rows.append((existing.contact_id, row))

    contact_of: list[tuple[int, ImportRow]] = []
    if new_rows:
        ids = bulk_insert(s, Contact, [
            dict(name=r.name, language=r.language, fields=dict(r.fields), organisation=r.organisation,
                 role=r.role, do_not_contact=False, created_at=now, updated_at=now) for r in new_rows])
        contact_of.extend(zip(ids, new_rows, strict=True))
        report.created += len(new_rows)
    if merge_rows:
        _merge_contacts(s, merge_rows, now)
        contact_of.extend(merge_rows)
        report.merged += len(merge_rows)

    # Addresses not yet known, and consent for every address the row names.
    new_addresses: list[dict[str, Any]] = []
    new_address_rows: list[tuple[ImportRow, str]] = []
    consent_rows: list[dict[str, Any]] = []
    opt_in_existing: list[int] = []
    is_new = {id(r) for r in new_rows}
    for contact_id, row in contact_of:
        first = id(row) in is_new
        for channel, value, known in ((phone_channel(row.phone), row.phone, phones),
                                      ("telegram", row.telegram_id, chats)):
            if not value:
                continue
            existing = known.get(value)
            if existing is None:
                consent = CONSENT_OPTED_IN if row.consent_source else CONSENT_UNKNOWN
                new_addresses.append(dict(contact_id=contact_id, channel=channel, address=value, consent=consent,
                                          usable=True, preferred=first, created_at=now))
                new_address_rows.append((row, channel))
                first = False
                known[value] = _Existing(0, contact_id, consent)
            elif row.consent_source:
                if existing.consent == CONSENT_UNKNOWN:
                    opt_in_existing.append(existing.address_id)
                    existing.consent = CONSENT_OPTED_IN
                elif existing.consent != CONSENT_OPTED_IN:
                    # An opt-out said by the resident outranks any list.
                    report.opt_outs_kept += 1
                    continue
                else:
                    # Already opted in: a consent record is written only when consent changes.
                    continue
                consent_rows.append(_consent(contact_id, existing.address_id, channel, row, now))
    if new_addresses:
        address_ids = bulk_insert(s, Address, new_addresses)
        for address_id, values, (row, channel) in zip(address_ids, new_addresses, new_address_rows, strict=True):
            known = phones if channel in ("sms", "voice") else chats
            known[values["address"]].address_id = address_id
            if row.consent_source:
                consent_rows.append(_consent(values["contact_id"], address_id, channel, row, now))
    if opt_in_existing:
        s.execute(update(Address).where(Address.id.in_(opt_in_existing)).values(consent=CONSENT_OPTED_IN))
    # Consent (to a message class, or to special-category data) already given is not recorded again.
    scopes = {c for _cid, row in merge_rows for c in row.consent_for}
    scopes |= {"special_category" for _cid, row in merge_rows if row.special_category_consent}
    merged_ids = [cid for cid, row in merge_rows if row.special_category_consent or row.consent_for]
    consented = _opted_in(s, merged_ids, scopes) if merged_ids else set()
    for contact_id, row in contact_of:
        for message_class in row.consent_for:
            if (contact_id, message_class) in consented:
                continue  # already opted in to this class: a record is written only when consent changes
            # The basis for broadcasts of this class (engage.consent.may_send).
            consent_rows.append(dict(contact_id=contact_id, address_id=None, channel=None, scope=message_class,
                                     action="opt_in", source="import", wording=row.consent_source,
                                     at=row.consent_at or now))
        if row.special_category_consent and (contact_id, "special_category") not in consented:
            consent_rows.append(dict(contact_id=contact_id, address_id=None, channel=None, scope="special_category",
                                     action="opt_in", source="import", wording=row.special_category_consent,
                                     at=row.consent_at or now))
    if consent_rows:
        bulk_insert(s, ConsentRecord, consent_rows, ids=False)
        report.consent_recorded += sum(1 for c in consent_rows if c["scope"] == "channel")
    _settle_group_names(s, [row for _, row in contact_of])
    new_groups = [dict(contact_id=cid, name=name)
                  for cid, row in contact_of if id(row) in is_new for name in row.groups]
    if new_groups:
        bulk_insert(s, ContactGroup, new_groups, ids=False)
    merged_groups = [dict(contact_id=cid, name=name) for cid, row in merge_rows for name in row.groups]
    if merged_groups:
        # One statement run for many rows (compiled once), skipping groups the contact is already in.
        dialect = postgresql if s.get_bind().dialect.name == "postgresql" else sqlite
        s.execute(dialect.insert(ContactGroup).on_conflict_do_nothing(index_elements=["contact_id", "name"]),
                  merged_groups)


def _settle_group_names(s: Session, rows: list[ImportRow]) -> None:
    """Spell each group as the database already does ("Tenants" joins "tenants"), so one group has one name."""
    known = {fold(name): name for name in s.scalars(select(ContactGroup.name).distinct())}
    for row in rows:
        row.groups = list(dict.fromkeys(known.setdefault(fold(name), name) for name in row.groups))


def bulk_insert(s: Session, model, rows: list[dict[str, Any]], *, ids: bool = True) -> list[int]:
    """Insert many rows fast; return their new ids in the order given (when `ids`).

    On PostgreSQL the ids are drawn from the table's sequence first and the rows
    go in with COPY: a multi-row INSERT ... RETURNING of a few hundred rows is
    re-parsed by the driver every time and is ten times slower.
    """
    if not rows:
        return []
    if s.get_bind().dialect.name != "postgresql":
        if not ids:
            s.execute(insert(model), rows)
            return []
        primary = model.__table__.primary_key.columns[0]
        return list(s.scalars(insert(model).returning(primary, sort_by_parameter_order=True), rows))
    table = model.__table__
    new_ids: list[int] = []
    if ids:
        new_ids = list(s.scalars(
            select(func.nextval(func.pg_get_serial_sequence(table.name, "id")))
            .select_from(func.generate_series(1, len(rows)))))
        rows = [{**row, "id": new_id} for row, new_id in zip(rows, new_ids, strict=True)]
    columns = list(rows[0])
    json_columns = {c.name for c in table.columns if isinstance(c.type, JSON)}
    quoted = ", ".join(f'"{c}"' for c in columns)
    with s.connection().connection.driver_connection.cursor() as cursor:
        with cursor.copy(f'COPY "{table.name}" ({quoted}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row(tuple(_copy_value(row[c], c in json_columns) for c in columns))
    return new_ids


def _copy_value(value: Any, is_json: bool) -> Any:
    if is_json:
        return json.dumps(value)
    if isinstance(value, datetime) and value.tzinfo is not None:
        # Stored as naive UTC, like store.types.UTCDateTime does.
        return value.astimezone(timezone.utc).replace(tzinfo=None)
    return value


def _consent(contact_id: int, address_id: int, channel: str, row: ImportRow, now: datetime) -> dict[str, Any]:
    return dict(contact_id=contact_id, address_id=address_id, channel=channel, scope="channel", action="opt_in",
                source="import", wording=row.consent_source, at=row.consent_at or now)


def _merge_contacts(s: Session, merge_rows: list[tuple[int, ImportRow]], now: datetime) -> None:
    ids = sorted({contact_id for contact_id, _ in merge_rows})
    current = {
        cid: (name, language, fields, organisation, role)
        for cid, name, language, fields, organisation, role in s.execute(
            select(Contact.id, Contact.name, Contact.language, Contact.fields, Contact.organisation, Contact.role)
            .where(Contact.id.in_(ids)))
    }
    changes: dict[int, dict[str, Any]] = {}
    for contact_id, row in merge_rows:
        name, language, fields, organisation, role = current[contact_id]
        merged_fields = {**(fields or {}), **row.fields}
        new = dict(id=contact_id, name=row.name or name, language=row.language or language, fields=merged_fields,
                   organisation=row.organisation or organisation, role=row.role or role, updated_at=now)
        current[contact_id] = (new["name"], new["language"], merged_fields, new["organisation"], new["role"])
        changes[contact_id] = new
    if changes:
        s.execute(update(Contact), list(changes.values()))
