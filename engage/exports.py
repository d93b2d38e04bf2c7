"""Exports for officers: results (one row per run), the representativeness table, the "you said, we did" record.

Every export is written to the audit log with who took it and how many rows.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.styles import Font
from sqlalchemy import select
from sqlalchemy.orm import Session

from engage.labels import ValueLabels, humanise
from engage.officers import may, record
from engage.results import SPECIAL_CATEGORY_FIELDS, StepInfo, counted_runs, special_steps
from store.models import Answer, Contact, Run
from store.models.officers import Officer

DEFAULT_TZ = "Europe/London"
RUN_COLUMNS = ["run_id", "started_at", "finished_at", "status", "channel", "language", "assisted"]
# Place and age: shown to officers and admins; viewers see answers only.
PLACE_FIELDS = ["ward", "age_band", "tenure"]
# Spreadsheet programs run cells starting with these as formulas; a resident's text must stay text.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Written where the small-number rule (engage.disclosure) hides a count.
HIDDEN = "hidden"


def safe_cell(value: Any) -> Any:
    """Stop resident text being read as a spreadsheet formula (CSV injection)."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def visible_fields(officer: Officer, *, special: bool = False) -> list[str]:
    """Contact fields an officer's role may see in an export.

    Special-category fields only in an admin's row-level export with a stated purpose (`special=True`);
    viewers see answers only, never who gave them.
    """
    if special and may(officer, "admin"):
        return ["contact_id", *PLACE_FIELDS, *sorted(SPECIAL_CATEGORY_FIELDS)]
    if may(officer, "officer"):
        return ["contact_id", *PLACE_FIELDS]
    return []


def _code(value: Any) -> str:
    """An answer's stored value as the code its labels are kept under (True -> "true")."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _cell_text(value: Any) -> Any:
    if isinstance(value, list):
        return "; ".join(str(v) for v in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return value


def result_rows(s: Session, flow_id: str, steps: list[StepInfo], officer: Officer, *,
                special: bool = False, labels: ValueLabels | None = None,
                lang: str = "en") -> tuple[list[str], Iterator[list]]:
    """Return the header and a generator of rows: one per run, one column per question.

    Special-category questions are left out (they leave the service as counts only), unless
    `special` is set for an admin's export with a stated purpose (export_special_results).
    Answers and place fields are written as their codes; after every other column come their
    labels (`<column>_label`: the census file's and the flows' words, in `lang` where given), so
    that readers of the code columns find them where they were.
    """
    if special and not may(officer, "admin"):
        raise PermissionError("only an admin may export special-category answers row by row")
    hidden = set() if special else ({st.id for st in steps if st.special_category}
                                     | {step for _f, step in special_steps(s, [flow_id])})
    questions = [step.id for step in steps if step.is_question and step.id not in hidden]
    fields = visible_fields(officer, special=special)
    labels = labels if labels is not None else ValueLabels()
    by_id = {step.id: step for step in steps}
    labelled_fields = [f for f in fields if f != "contact_id"]
    labelled_questions = [q for q in questions if by_id[q].kind in ("choice", "multiple", "yes_no")]

    def answer_label(step_id: str, value: Any) -> Any:
        if value is None or value == "(skipped)":
            return value
        defaults = dict(by_id[step_id].choices)
        codes = value if isinstance(value, list) else [value]
        words = [labels.label(f"{flow_id}:{step_id}", _code(v), lang, defaults.get(_code(v))) for v in codes]
        return "; ".join(words)

    # A theme column per written question whose themes have been found (engage.themes): the theme its
    # answer is in. Questions without themes get no column, so an export's columns stay as they were.
    from engage.themes.service import has_themes, run_themes

    written = [step.id for step in steps if step.kind == "text" and step.id in questions
               and has_themes(s, flow_id, step.id)]
    themes = run_themes(s, flow_id, written)
    header = (RUN_COLUMNS + fields + questions + [f"{f}_label" for f in labelled_fields]
              + [f"{q}_label" for q in labelled_questions] + [f"{step}_theme" for step in written])

    def rows() -> Iterator[list]:
        runs = s.execute(
            select(Run.id, Run.started_at, Run.finished_at, Run.status, Run.channel, Run.language, Run.contact_id,
                   Contact.fields)
            .outerjoin(Contact, Contact.id == Run.contact_id)
            .where(Run.flow_id == flow_id, counted_runs())
            .order_by(Run.id)
            .execution_options(yield_per=500)
        )
        answers = s.execute(
            select(Answer.run_id, Answer.step_id, Answer.value, Answer.raw_text, Answer.skipped)
            .join(Run, Run.id == Answer.run_id)
            .where(Answer.flow_id == flow_id, counted_runs())
            .order_by(Answer.run_id)
            .execution_options(yield_per=500)
        )
        pending = next(answers, None)
        for run in runs:
            by_step: dict[str, Any] = {}
            # Both cursors are ordered by run id: walk them together instead of holding every answer.
            raw: dict[str, Any] = {}
            while pending is not None and pending.run_id <= run.id:
                if pending.run_id == run.id:
                    value = pending.value if pending.value is not None else pending.raw_text
                    by_step[pending.step_id] = "(skipped)" if pending.skipped else _cell_text(value)
                    raw[pending.step_id] = "(skipped)" if pending.skipped else value
                pending = next(answers, None)
            contact_fields = run.fields or {}
            extra = [run.contact_id if f == "contact_id" else contact_fields.get(f) for f in fields]
            field_words = [None if contact_fields.get(f) is None else labels.label(f, contact_fields.get(f), lang)
                           for f in labelled_fields]
            yield [run.id, run.started_at, run.finished_at, run.status, run.channel, run.language,
                   run.channel == "assisted", *extra, *(by_step.get(q) for q in questions), *field_words,
                   *(answer_label(q, raw.get(q)) for q in labelled_questions),
                   *(themes[step].get(run.id) for step in written)]

    return header, rows()


def to_csv(header: list[str], rows) -> str:
    """Write rows as CSV text, resident text guarded against formula injection."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in rows:
        writer.writerow([safe_cell(v.isoformat() if isinstance(v, datetime) else v) for v in row])
    return buffer.getvalue()


def to_xlsx(sheets: list[tuple[str, list[str], Any]], tz: str = DEFAULT_TZ) -> bytes:
    """Write sheets of (title, header, rows) to an XLSX workbook, resident text kept as text.

    Excel has no time zones: times are written in the council's zone, and each time column's
    heading names it ("started_at (Europe/London)").
    """
    zone = ZoneInfo(tz)
    workbook = Workbook(write_only=True)
    for title, header, rows in sheets:
        sheet = workbook.create_sheet(title[:31])
        sheet.append([_bold(workbook, f"{h} ({tz})" if h.endswith("_at") else h) for h in header])
        for row in rows:
            sheet.append([_xlsx_value(v, zone) for v in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _bold(workbook, text: str):
    from openpyxl.cell import WriteOnlyCell

    cell = WriteOnlyCell(workbook.worksheets[-1], value=text)
    cell.font = Font(bold=True)
    return cell


def _xlsx_value(value: Any, zone: ZoneInfo) -> Any:
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)  # stored as UTC
        # Whole seconds: an officer's spreadsheet has no use for microseconds.
        return aware.astimezone(zone).replace(tzinfo=None, microsecond=0)
    return safe_cell(value)


def representativeness_rows(dimensions, label=None) -> tuple[list[str], list[list]]:
    """Turn compared dimensions into a table: group, respondents, share, expected, ratio, flag, and the group's
    label (`label(field, code)`; engage.labels names codes by default). Codes keep their column; the label
    comes last so that readers of the older columns read them where they were."""
    if label is None:
        def label(_field, code):
            return humanise(code)
    header = ["dimension", "group", "respondents", "share_percent", "expected_percent", "ratio", "flag",
              "group_label"]
    rows = []
    for dim in dimensions:
        for g in dim.groups:
            flag = "under-reached" if g.under_reached else ("over-reached" if g.over_reached else "")
            rows.append([dim.name, g.key, HIDDEN if g.respondents is None else g.respondents,
                         None if g.share is None else round(100 * g.share, 1),
                         None if g.expected is None else round(100 * g.expected, 1),
                         None if g.ratio is None else round(g.ratio, 2), flag, label(dim.field, g.key)])
        if dim.protected:
            rows.append([dim.name, "(other)", HIDDEN if dim.other is None else dim.other, None, None, None, "",
                         "other"])
        rows.append([dim.name, "(not given)", HIDDEN if dim.unknown is None else dim.unknown, None, None, None, "",
                     "not given"])
    return header, rows


def audit_export(s: Session, officer: Officer, what: str, *, flow_id: str | None, file_format: str, rows: int,
                 now: datetime, ip: str | None = None) -> None:
    """Record that an officer took an export."""
    record(s, officer, "export.downloaded", now, target_type="flow" if flow_id else None, target_id=flow_id,
           detail={"what": what, "format": file_format, "rows": rows},
           summary=f"Exported {what} ({file_format}, {rows} rows)" + (f" for {flow_id}" if flow_id else ""), ip=ip)


def export_results(s: Session, flow_id: str, steps: list[StepInfo], officer: Officer, file_format: str, *,
                   now: datetime, ip: str | None = None, dimensions=None, tz: str = DEFAULT_TZ,
                   labels: ValueLabels | None = None, lang: str = "en") -> tuple[bytes, str]:
    """Build the results export of a flow in CSV or XLSX and audit it; return (bytes, media type)."""
    header, rows = result_rows(s, flow_id, steps, officer, labels=labels, lang=lang)
    materialised = list(rows)
    if file_format == "csv":
        body = to_csv(header, materialised).encode("utf-8-sig")
        media = "text/csv; charset=utf-8"
    elif file_format == "xlsx":
        sheets = [("Results", header, materialised)]
        if dimensions is not None:
            rep_header, rep_rows = representativeness_rows(
                dimensions, None if labels is None else (lambda f, code: labels.label(f, code, lang)))
            sheets.append(("Representativeness", rep_header, rep_rows))
        body = to_xlsx(sheets, tz)
        media = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    else:
        raise ValueError(f"unknown export format {file_format!r}; use csv or xlsx")
    audit_export(s, officer, "results", flow_id=flow_id, file_format=file_format, rows=len(materialised), now=now,
                 ip=ip)
    return body, media


MIN_PURPOSE = 20


def export_special_results(s: Session, flow_id: str, steps: list[StepInfo], officer: Officer, file_format: str, *,
                           purpose: str, now: datetime, ip: str | None = None,
                           tz: str = DEFAULT_TZ, labels: ValueLabels | None = None,
                           lang: str = "en") -> tuple[bytes, str]:
    """An admin's row-level export including special-category answers, for a stated purpose; audit-logged with it."""
    if not may(officer, "admin"):
        raise PermissionError("only an admin may export special-category answers row by row")
    purpose = " ".join((purpose or "").split())
    if len(purpose) < MIN_PURPOSE:
        raise ValueError(f"say what the export is for (at least {MIN_PURPOSE} characters)")
    header, rows = result_rows(s, flow_id, steps, officer, special=True, labels=labels, lang=lang)
    materialised = list(rows)
    if file_format == "csv":
        body, media = to_csv(header, materialised).encode("utf-8-sig"), "text/csv; charset=utf-8"
    elif file_format == "xlsx":
        body = to_xlsx([("Results", header, materialised)], tz)
        media = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    else:
        raise ValueError(f"unknown export format {file_format!r}; use csv or xlsx")
    record(s, officer, "export.special_category", now, target_type="flow", target_id=flow_id,
           detail={"what": "results with special-category answers", "format": file_format,
                   "rows": len(materialised), "purpose": purpose[:1000]},
           summary=f"Exported results with special-category answers for {flow_id} ({file_format}, "
                   f"{len(materialised)} rows). Purpose: {purpose[:300]}", ip=ip)
    return body, media


def update_rows(s: Session) -> tuple[list[str], list[list]]:
    """The "you said, we did" record: one row per update and language, with who was told and when."""
    from store.models.outreach import Update

    header = ["update_id", "flow_id", "title", "status", "what_we_asked", "answered", "language", "you_said",
              "we_did", "why", "published_at", "sent_at", "told", "created_by"]
    rows = []
    for update in s.scalars(select(Update).order_by(Update.created_at, Update.id)):
        told = (update.recipients or {}).get("queued")
        for lang, parts in (update.texts or {}).items():
            rows.append([update.id, update.flow_id, update.title, update.status, update.asked, update.answered_count,
                         lang, parts.get("said"), parts.get("did"), parts.get("why"), update.published_at,
                         update.sent_at, told, update.created_by])
    return header, rows


def export_table(s: Session, officer: Officer, what: str, header: list[str], rows: list[list], file_format: str, *,
                 now: datetime, flow_id: str | None = None, ip: str | None = None,
                 tz: str = DEFAULT_TZ) -> tuple[bytes, str]:
    """Write one table as CSV or XLSX and audit the export; return (bytes, media type)."""
    if file_format == "csv":
        body, media = to_csv(header, rows).encode("utf-8-sig"), "text/csv; charset=utf-8"
    elif file_format == "xlsx":
        body = to_xlsx([(what.replace("_", " ").capitalize(), header, rows)], tz)
        media = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    else:
        raise ValueError(f"unknown export format {file_format!r}; use csv or xlsx")
    audit_export(s, officer, what, flow_id=flow_id, file_format=file_format, rows=len(rows), now=now, ip=ip)
    return body, media
