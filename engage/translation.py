"""Translators' round trip: a flow's texts out to PO or XLSX, and their translations back into the YAML.

The YAML is edited with ruamel.yaml's round-trip mode, so comments, key order and quoting stay as
the officer wrote them; only translation keys are added or changed, and the flow's `languages`
list gains the new language. Each text is named by where it sits (`feel_safe.ask`,
`feel_safe.choices.unsafe`, `reminder`): that name is the PO msgctxt and the sheet's first column.
"""
from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError
from ruamel.yaml.util import load_yaml_guess_indent

from locales.languages import CODES

# Step keys that are structure, never a place a text sits.
_SKIP_KEYS = frozenset({"id", "next", "save_to", "if", "goto", "when", "keywords", "languages"})
MAX_SHEET_TITLE = 31  # Excel's limit on a sheet name


class TranslationError(ValueError):
    """A translation file or flow file cannot be used as given; the message says why."""


# Keys whose value may be one plain string, the base-language text (`ask: How old are you?`).
_TEXT_KEYS = frozenset({"ask", "say", "easy_read"})
# Mappings whose plain-string values are texts: yes_no: {yes: ..., no: ...}, labels: {1: ..., 5: ...}.
_TEXT_MAPS = frozenset({"yes_no", "labels"})
# Flow-level texts that may be written once for every language: (where, key).
_PLAIN_FLOW_TEXTS = (([], "title"), (["consultation"], "purpose"))


@dataclass
class FlowText:
    """One translatable text of a flow: where it sits, its line, and the mapping holding its languages.

    A text written as one plain string has no mapping yet: `parent[key]` is the base text, and the
    first translation turns it into `{base: ..., lang: ...}`.
    """

    context: str
    line: int
    holder: CommentedMap | None
    parent: CommentedMap | None = None
    key: object = None
    base: str = ""
    # A flow's title or consultation purpose written once as a plain string: exported so that it can be
    # translated, but not "missing" in a language until the flow gives it per language.
    optional: bool = False

    def get(self, lang: str) -> str | None:
        if self.holder is None:
            value = self.parent[self.key] if lang == self.base else None
        else:
            value = self.holder.get(lang)
        return value if isinstance(value, str) and value.strip() else None


@dataclass
class ImportReport:
    """What an import changed and what it could not use."""

    lang: str | list[str]
    changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    empty: list[str] = field(default_factory=list)
    # The base text changed since export: the translation is of an older text.
    stale: list[str] = field(default_factory=list)
    fuzzy: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    # Texts of the flow still without a translation after the import, per language.
    missing: dict[str, list[str]] = field(default_factory=dict)

    def lines(self) -> list[str]:
        """Describe the import for a terminal, one finding per line."""
        out = [f"{len(self.changed)} translation(s) written, {len(self.unchanged)} already there."]
        for label, items in (("left empty", self.empty), ("marked fuzzy, not used", self.fuzzy),
                             ("not used: the English changed since export", self.stale),
                             ("not used: no such text in the flow", self.unknown)):
            out.extend(f"{label}: {context}" for context in items)
        for lang, contexts in self.missing.items():
            if contexts:
                out.append(f"still missing in {lang} ({len(contexts)}): {', '.join(contexts)}")
            else:
                out.append(f"every text has a {lang} translation.")
        return out


class FlowDocument:
    """A flow file loaded for editing, written back with its comments, order and indentation kept."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        try:
            source = self.path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise TranslationError(f"{self.path} is not UTF-8 text") from exc
        try:
            _data, indent, block_seq_indent = load_yaml_guess_indent(source)
        except YAMLError as exc:
            raise TranslationError(f"{self.path} is not valid YAML: {exc}") from exc
        self.yaml = YAML()
        self.yaml.preserve_quotes = True
        self.yaml.width = 4096  # never re-wrap the officer's lines
        # ruamel guesses the sequence indent and the dash's offset; mappings indent by the rest.
        sequence = indent or 2
        offset = block_seq_indent or 0
        self.yaml.indent(mapping=sequence - offset if sequence > offset else sequence, sequence=sequence,
                         offset=offset)
        self.data = self.yaml.load(source)
        if not isinstance(self.data, CommentedMap) or not isinstance(self.data.get("steps"), CommentedSeq):
            raise TranslationError(f"{self.path} is not a flow: it has no list of steps")
        languages = self.data.get("languages")
        if not isinstance(languages, list) or not languages:
            raise TranslationError(f"{self.path} has no `languages` list; the first is the base language")
        self.source = source

    @property
    def id(self) -> str:
        return str(self.data.get("id") or self.path.stem)

    @property
    def languages(self) -> list[str]:
        return [str(lang) for lang in self.data["languages"]]

    @property
    def base_language(self) -> str:
        return self.languages[0]

    def texts(self) -> list[FlowText]:
        """Return every translatable text in file order."""
        known = set(self.languages) | set(CODES)
        return list(_walk(self.data, [], self.base_language, known))

    def set_translation(self, text: FlowText, lang: str, value: str) -> None:
        """Put a translation in its place: replaced where it was, else after the holder's last language."""
        if text.holder is None:
            plain = text.parent[text.key]
            pairs = [(self.base_language, plain)]
            if text.optional:
                # A title or purpose written once was shown in every language: the flow's other languages
                # keep the text they were shown, so translating it into one language takes it from none.
                pairs += [(other, plain) for other in self.languages[1:] if other != lang]
            text.holder = CommentedMap([*pairs, (lang, value)])
            text.parent[text.key] = text.holder
            return
        if lang in text.holder:
            text.holder[lang] = value
            return
        known = set(self.languages) | set(CODES)
        keys = list(text.holder.keys())
        last = max((i for i, key in enumerate(keys) if key in known), default=len(keys) - 1)
        text.holder.insert(last + 1, lang, value)

    def add_language(self, lang: str) -> None:
        if lang not in self.languages:
            self.data["languages"].append(lang)

    def missing(self, lang: str) -> list[str]:
        """Return the contexts of texts with no translation in this language (a plain title or purpose the
        flow never gave per language is not missing: one text for every language is what it asked for)."""
        return [text.context for text in self.texts()
                if text.get(lang) is None and not (text.optional and text.holder is None)]

    def dumps(self) -> str:
        out = io.StringIO()
        self.yaml.dump(self.data, out)
        return out.getvalue()

    def save(self) -> None:
        text = self.dumps()
        # Write beside, then replace: a crash mid-write never leaves half a flow.
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(self.path)


def _walk(node, path: list[str], base: str, known: set[str]) -> Iterator[FlowText]:
    if isinstance(node, CommentedMap):
        if isinstance(node.get(base), str):
            # A mapping made by an earlier translation in this session has no line yet.
            yield FlowText(".".join(path), node.lc.line + 1 if node.lc.line is not None else 0, node)
        for key, value in node.items():
            if key in known or key in _SKIP_KEYS:
                continue
            if isinstance(value, str) and path and (key in _TEXT_KEYS or (path[-1] in _TEXT_MAPS)):
                line = node.lc.value(key)[0] + 1
                yield FlowText(".".join([*path, str(key)]), line, None, parent=node, key=key, base=base)
                continue
            if isinstance(value, str) and value.strip() and (path, key) in _PLAIN_FLOW_TEXTS:
                line = node.lc.value(key)[0] + 1
                yield FlowText(".".join([*path, str(key)]), line, None, parent=node, key=key, base=base,
                               optional=True)
                continue
            # Steps are named by their id alone: `feel_safe.ask`, not `steps.0.ask`.
            sub = path if key == "steps" and not path else [*path, str(key)]
            yield from _walk(value, sub, base, known)
    elif isinstance(node, CommentedSeq):
        for index, item in enumerate(node):
            name = str(index)
            if isinstance(item, CommentedMap):
                name = _scalar_text(item.get("id") if path == [] and "id" in item else item.get("value", index))
            yield from _walk(item, [*path, name], base, known)


def _scalar_text(value) -> str:
    """Return a scalar as written in the file: a choice value 18_64 is "18_64", not the number 1864."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        out = io.StringIO()
        YAML().dump(value, out)
        return out.getvalue().split("\n", 1)[0]
    return str(value)


def resolve_flow_path(flow: str, flows_dir: str | Path | None) -> Path:
    """Find a flow file from a path, or from a flow id in the flows folder."""
    candidate = Path(flow)
    if candidate.is_file():
        return candidate
    if flows_dir:
        folder = Path(flows_dir)
        for name in (f"{flow}.yaml", f"{flow}.yml"):
            if (folder / name).is_file():
                return folder / name
        for path in sorted(folder.glob("*.y*ml")):
            try:
                if FlowDocument(path).id == flow:
                    return path
            except TranslationError:
                continue
    raise TranslationError(f"no flow file or flow id {flow!r}" + (f" in {flows_dir}" if flows_dir else ""))


def _check_lang(lang: str) -> str:
    lang = (lang or "").strip()
    if not lang or not lang.replace("_", "").replace("-", "").isalnum() or len(lang) > 16:
        raise TranslationError(f"{lang!r} is not a language code (e.g. pl, cy)")
    return lang


# ----- PO ------------------------------------------------------------------------------------------------


def export_po(flow_path: str | Path, lang: str) -> Catalog:
    """Return a catalog of the flow's texts: msgctxt where it sits, msgid the base text, msgstr the translation."""
    lang = _check_lang(lang)
    doc = FlowDocument(flow_path)
    if lang == doc.base_language:
        raise TranslationError(f"{lang} is the flow's base language; export another language")
    try:
        catalog = Catalog(locale=lang, project=doc.id, charset="utf-8", fuzzy=False)
    except ValueError:
        catalog = Catalog(project=doc.id, charset="utf-8", fuzzy=False)
        catalog.locale = None
    for text in doc.texts():
        catalog.add(text.get(doc.base_language), text.get(lang) or "", locations=[(doc.path.name, text.line)],
                    context=text.context, flags=())
    return catalog


def po_bytes(catalog: Catalog) -> bytes:
    out = io.BytesIO()
    write_po(out, catalog, width=100, omit_header=False)
    return out.getvalue()


def _read_po(po_path: str | Path) -> Catalog:
    try:
        with open(po_path, "rb") as fh:
            return read_po(fh, abort_invalid=True)
    except Exception as exc:  # Babel raises several kinds for a malformed file
        raise TranslationError(f"{po_path} is not a readable PO file: {exc}") from exc


def _po_language(catalog: Catalog, po_path: str | Path, lang: str | None) -> str:
    if lang:
        return _check_lang(lang)
    if catalog.locale is not None:
        return str(catalog.locale.language)
    raise TranslationError(f"{po_path} does not say its language (the Language header); pass --lang")


def import_po(flow_path: str | Path, po_path: str | Path, lang: str | None = None, *,
              save: bool = True) -> ImportReport:
    """Write a PO file's translations into the flow file and report what is still missing."""
    doc = FlowDocument(flow_path)
    catalog = _read_po(po_path)
    lang = _po_language(catalog, po_path, lang)
    if lang == doc.base_language:
        raise TranslationError(f"{po_path} is in {lang}, the flow's base language; nothing to import")
    by_context = {text.context: text for text in doc.texts()}
    report = ImportReport(lang=lang)
    for message in catalog:
        if not message.id:
            continue
        context = message.context or ""
        text = by_context.get(context)
        value = message.string if isinstance(message.string, str) else None
        if text is None:
            report.unknown.append(context or str(message.id))
        elif not value or not value.strip():
            report.empty.append(context)
        elif message.fuzzy:
            report.fuzzy.append(context)
        elif message.id != text.get(doc.base_language):
            report.stale.append(context)
        elif text.get(lang) == value:
            report.unchanged.append(context)
        else:
            doc.set_translation(text, lang, value)
            report.changed.append(context)
    if report.changed:
        doc.add_language(lang)
        if save:
            doc.save()
    report.missing[lang] = doc.missing(lang)
    return report


# ----- XLSX -----------------------------------------------------------------------------------------------


def export_xlsx(flow_path: str | Path, out_path: str | Path, langs: list[str] | None = None) -> list[str]:
    """Write one sheet for the flow: a row per text, a column per language; return the columns written."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    doc = FlowDocument(flow_path)
    columns = list(dict.fromkeys([*doc.languages, *[_check_lang(lang) for lang in langs or []]]))
    book = Workbook()
    sheet = book.active
    sheet.title = doc.id[:MAX_SHEET_TITLE]
    sheet.append(["text", *columns])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for text in doc.texts():
        sheet.append([text.context, *[text.get(lang) or "" for lang in columns]])
    sheet.column_dimensions["A"].width = 28
    for index in range(len(columns)):
        sheet.column_dimensions[chr(ord("B") + index)].width = 50
    for row in sheet.iter_rows(min_row=2):
        for cell in row[1:]:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    sheet.freeze_panes = "B2"
    book.save(out_path)
    return columns


def import_xlsx(flow_path: str | Path, xlsx_path: str | Path, *, save: bool = True) -> ImportReport:
    """Write the translations from a sheet (as export_xlsx made it) into the flow file."""
    from openpyxl import load_workbook

    doc = FlowDocument(flow_path)
    try:
        book = load_workbook(xlsx_path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises several kinds for a file that is not a workbook
        raise TranslationError(f"{xlsx_path} is not a readable XLSX workbook: {exc}") from exc
    title = doc.id[:MAX_SHEET_TITLE]
    sheet = book[title] if title in book.sheetnames else book.worksheets[0]
    rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    book.close()
    if not rows or not rows[0] or str(rows[0][0]).strip().lower() != "text":
        raise TranslationError(f"{xlsx_path}: the first row must be `text` then one language code per column")
    header = [str(cell).strip() if cell is not None else "" for cell in rows[0]]
    base = doc.base_language
    if base not in header:
        raise TranslationError(f"{xlsx_path}: no {base} column, the flow's base language")
    langs = [_check_lang(lang) for lang in header[1:] if lang and lang != base]
    by_context = {text.context: text for text in doc.texts()}
    report = ImportReport(lang=langs)
    base_col = header.index(base)
    added: set[str] = set()
    for row in rows[1:]:
        cells = [("" if cell is None else str(cell)) for cell in row] + [""] * len(header)
        context = cells[0].strip()
        if not context:
            continue
        text = by_context.get(context)
        if text is None:
            report.unknown.append(context)
            continue
        for lang in langs:
            value = cells[header.index(lang)]
            label = f"{context} [{lang}]"
            if not value.strip():
                if text.get(lang) is None:
                    report.empty.append(label)
            elif cells[base_col] != text.get(base):
                report.stale.append(label)
            elif text.get(lang) == value:
                report.unchanged.append(label)
            else:
                doc.set_translation(text, lang, value)
                report.changed.append(label)
                added.add(lang)
    for lang in langs:
        if lang in added:
            doc.add_language(lang)
    if report.changed and save:
        doc.save()
    report.missing = {lang: doc.missing(lang) for lang in langs}
    return report
