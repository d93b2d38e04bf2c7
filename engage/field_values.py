"""One form for what we know about residents: contact fields and groups compared and stored the same way.

A ward comes in as "Netteswell" from a council spreadsheet and as `netteswell` from the citizens'
panel; a group as "Tenants" from one import and "tenants" from another. Targeting must find them all:

- `fold(text)` is the comparison form: lower case, accents and the separators `_`, `-` and spaces
  made alike ("Bush Fair", "bush_fair" and "BUSH-FAIR" are all "bush fair"). Segments compare with
  it in SQL (`folded(column)`), so existing records match whatever their spelling.
- `Vocabulary.canonical(field, value)` is the stored form: the value the flows' own choices save
  to that field (matched by value, label in any language, or `also` word) or the census file's key;
  a value nobody defines is kept as written. Imports and `save_to` store through it.

Accent folding is a fixed table (Latin letters with diacritics, as Welsh, Polish, Romanian,
Portuguese and Somali names use them): the same table runs in Python, in SQLite (a registered
function) and in PostgreSQL (`translate`), so the three always agree. No extension or collation is
needed on the database, which is why this is written here rather than using `unaccent`.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import String
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from store.db import SQLITE_FUNCTIONS

GROUPS = "groups"
SQLITE_FUNCTION = "outreach_fold"


def _accent_table() -> dict[str, str]:
    """Map each Latin letter with a diacritic (U+00C0 to U+024F, and Welsh ŵ ŷ) to its plain lower-case letter."""
    table = {}
    for code in range(0xC0, 0x250):
        char = chr(code)
        base = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c)).lower()
        if len(base) == 1 and base.isascii() and base.isalpha() and base != char:
            table[char] = base
    return table


ACCENTS = _accent_table()
_ACCENT_FROM = "".join(ACCENTS)
_ACCENT_TO = "".join(ACCENTS.values())
_TRANSLATE = str.maketrans(ACCENTS)
_SEPARATORS = re.compile(r"[\s_\-]+")


def fold(value: Any) -> str:
    """Return the comparison form of a value: lower case, no accents, `_`, `-` and runs of spaces as one space."""
    text = str(value).lower().translate(_TRANSLATE)
    return _SEPARATORS.sub(" ", text).strip()


class folded(FunctionElement):
    """SQL: the `fold` of a text column, the same on SQLite and PostgreSQL."""

    type = String()
    inherit_cache = True
    name = "folded"


@compiles(folded, "sqlite")
def _folded_sqlite(element, compiler, **kw):
    return f"{SQLITE_FUNCTION}({compiler.process(element.clauses, **kw)})"


@compiles(folded, "postgresql")
def _folded_postgresql(element, compiler, **kw):
    inner = compiler.process(element.clauses, **kw)
    # translate() maps upper- and lower-case accented letters to plain ones whatever the database's locale.
    accents_from = _ACCENT_FROM.replace("'", "''")
    return (f"btrim(regexp_replace(translate(lower({inner}), '{accents_from}', '{_ACCENT_TO}'), "
            f"'[[:space:]_-]+', ' ', 'g'))")


@compiles(folded)
def _folded_default(element, compiler, **kw):
    return f"lower({compiler.process(element.clauses, **kw)})"


def _fold_or_null(value: Any) -> str | None:
    return None if value is None else fold(value)


# Every SQLite connection gets the fold function segments compare with.
SQLITE_FUNCTIONS[SQLITE_FUNCTION] = (1, _fold_or_null)


# ----- the stored form ---------------------------------------------------------------------------


@dataclass
class Vocabulary:
    """The values the council defines per field (from the flows' choices and the census file), by folded form."""

    values: dict[str, dict[str, str]] = field(default_factory=dict)

    def add(self, field_name: str, canonical: str, *spellings: Any) -> None:
        known = self.values.setdefault(field_name, {})
        for spelling in (canonical, *spellings):
            if spelling is not None and str(spelling).strip():
                known.setdefault(fold(spelling), canonical)

    def canonical(self, field_name: str, value: Any) -> Any:
        """Return the stored form of a field's value: the defined value it folds to, else the value as written."""
        if not isinstance(value, str):
            return value
        text = value.strip()
        return self.values.get(field_name, {}).get(fold(text), text)

    def canonical_group(self, name: str) -> str:
        return self.canonical(GROUPS, name)


def vocabulary(flows: Iterable, census_dir: str | Path | None = None) -> Vocabulary:
    """Build the vocabulary from published flows' `save_to` choices and the census baseline files."""
    found = Vocabulary()
    for flow in flows:
        for step in flow.steps:
            if not step.save_to:
                continue
            for choice in step.choices:
                words = [word for words in (choice.synonyms or {}).values() for word in words]
                found.add(step.save_to, choice.value, *choice.labels.values(), *words)
    for path in sorted(Path(census_dir).glob("*.yaml")) if census_dir and Path(census_dir).is_dir() else []:
        _add_census(found, path)
    return found


def _add_census(found: Vocabulary, path: Path) -> None:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        data = YAML(typ="safe").load(path.read_text(encoding="utf-8")) or {}
    except (OSError, YAMLError):
        return
    for name, dimension in (data.get("dimensions") or {}).items():
        if not isinstance(dimension, dict):
            continue
        for key in (dimension.get("shares") or {}):
            found.add(str(dimension.get("field") or name), str(key))


def registry_vocabulary(registry) -> Vocabulary:
    """The vocabulary of the flows a service has published, with the census files shipped beside them."""
    from config import ROOT

    return vocabulary(registry.all(), ROOT / "census")


def join_groups(contact, names: Iterable[Any], vocabulary: Vocabulary | None = None) -> list[str]:
    """Add the contact to these groups (stored in their canonical form); return the names newly joined.

    A group the contact is already in under another spelling ("Tenants", "tenants") is not added twice.
    """
    from store.models import ContactGroup

    have = {fold(group.name) for group in contact.groups}
    joined = []
    for name in names:
        if name is None or not str(name).strip():
            continue
        stored = vocabulary.canonical_group(str(name)) if vocabulary is not None else str(name).strip()
        if fold(stored) in have:
            continue
        contact.groups.append(ContactGroup(name=stored[:100]))
        have.add(fold(stored))
        joined.append(stored)
    return joined
