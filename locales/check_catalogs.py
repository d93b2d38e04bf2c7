"""Extract, update and check the Babel catalogs; exit 1 when messages.pot is stale or a catalog is incomplete.

    python locales/check_catalogs.py             check (CI runs this)
    python locales/check_catalogs.py --extract   rewrite locales/messages.pot from the source
    python locales/check_catalogs.py --update    --extract, then merge it into every shipped catalog

The extraction keywords live here, once, so CI, this script and the pybabel command in
locales/README.md agree.
"""
from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from babel.messages.catalog import Catalog, Message  # noqa: E402
from babel.messages.extract import extract_from_dir  # noqa: E402
from babel.messages.frontend import parse_keywords, parse_mapping_cfg  # noqa: E402
from babel.messages.pofile import read_po, write_po  # noqa: E402

from locales import check_marking  # noqa: E402
from locales.languages import BASE_LANGUAGE, BY_CODE, DASHBOARD_CODES  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
# `_`/`N_` mark a message; `i18n.gettext(lang, msg, **params)` and `i18n.ngettext(lang, s, p, n, **params)`
# take the language first, so their message is the 2nd (and 3rd) argument; the "t" specs count the
# arguments (keyword arguments included) so plain one-argument gettext() in templates still works.
KEYWORD_SPECS = (
    "_", "N_", "gettext", "gettext:2,2t", "gettext:2,3t", "gettext:2,4t", "gettext:2,5t",
    "ngettext:1,2", "ngettext:2,3,4t", "ngettext:2,3,5t", "ngettext:2,3,6t", "ngettext:2,3,7t",
    "lazy_gettext", "pgettext:1c,2",
    # The web chat's templates call t("...") (bound to the resident's language by the page).
    "t",
)
# Messages found only in these places are for officers; only DASHBOARD_CODES must translate them.
OFFICER_PATHS = ("dashboard/", "templates/dashboard/", "api/", "commands/")
PROJECT = "outreach"
_PLACEHOLDER = re.compile(r"%\((\w+)\)[-#0 +]*\d*(?:\.\d+)?[sdifr]")


def catalog_path(root: Path, lang: str) -> Path:
    return root / "locales" / lang / "LC_MESSAGES" / "messages.po"


def shipped_languages(root: Path = ROOT) -> list[str]:
    """Return the languages with a catalog: every supported language but the base one."""
    return [code for code in BY_CODE if code != BASE_LANGUAGE]


def extract(root: Path = ROOT) -> Catalog:
    """Extract every marked message under root, as babel.cfg maps files to extractors."""
    with (root / "babel.cfg").open(encoding="utf-8") as fh:
        method_map, options_map = parse_mapping_cfg(fh, str(root / "babel.cfg"))
    catalog = Catalog(project=PROJECT, msgid_bugs_address=None, charset="utf-8",
                      creation_date=datetime(2026, 1, 1, tzinfo=timezone.utc))
    for filename, lineno, message, comments, context in extract_from_dir(
        str(root), method_map, options_map, keywords=parse_keywords(KEYWORD_SPECS),
        comment_tags=("Translators:",), strip_comment_tags=True,
    ):
        catalog.add(message, None, [(Path(filename).as_posix(), lineno)], auto_comments=comments, context=context)
    return catalog


def write_template(root: Path = ROOT) -> Catalog:
    """Rewrite locales/messages.pot from the source and return it."""
    template = extract(root)
    with (root / "locales" / "messages.pot").open("wb") as fh:
        write_po(fh, template, width=100, sort_by_file=True)
    return template


def _read(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as fh:
        return read_po(fh, locale=locale)


def new_catalog(lang: str) -> Catalog:
    """Return an empty catalog for a language with the plural rule it must carry."""
    catalog = Catalog(locale=lang, project=PROJECT, charset="utf-8")
    _set_plural_forms(catalog, lang)
    return catalog


def _set_plural_forms(catalog: Catalog, lang: str) -> None:
    forms = BY_CODE[lang].plural_forms
    catalog._num_plurals = int(re.search(r"nplurals=(\d+)", forms).group(1))
    catalog._plural_expr = re.search(r"plural=(.*?);?$", forms).group(1)


def update_catalogs(root: Path = ROOT, languages: Iterable[str] | None = None) -> None:
    """Merge messages.pot into each shipped catalog, creating missing ones (what `pybabel update` does)."""
    template = _read(root / "locales" / "messages.pot")
    for lang in languages or shipped_languages(root):
        path = catalog_path(root, lang)
        catalog = _read(path, lang) if path.exists() else new_catalog(lang)
        _set_plural_forms(catalog, lang)
        catalog.update(template, no_fuzzy_matching=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as fh:
            write_po(fh, catalog, width=100, omit_header=False, ignore_obsolete=True)


def _key(message: Message) -> tuple:
    return (message.context, message.id if isinstance(message.id, str) else tuple(message.id))


def _is_officer_only(message: Message) -> bool:
    return bool(message.locations) and all(
        any(path.startswith(prefix) for prefix in OFFICER_PATHS) for path, _line in message.locations
    )


def _placeholders(text: str) -> set[str]:
    return set(_PLACEHOLDER.findall(text or ""))


def stale_template_problems(fresh: Catalog, root: Path = ROOT) -> list[str]:
    """Compare the committed template's messages with a fresh extraction (dates and line numbers ignored)."""
    pot = root / "locales" / "messages.pot"
    if not pot.exists():
        return ["locales/messages.pot is missing: run python locales/check_catalogs.py --extract"]
    committed = _read(pot)
    have = {_key(m) for m in committed if m.id}
    want = {_key(m) for m in fresh if m.id}
    problems = [f"messages.pot lacks {key[1]!r} (context {key[0]!r}): re-extract" for key in sorted(
        want - have, key=str)]
    problems += [f"messages.pot still has {key[1]!r}, no longer in the source: re-extract" for key in sorted(
        have - want, key=str)]
    return problems


def catalog_problems(fresh: Catalog, lang: str, root: Path = ROOT) -> list[str]:
    """List what a shipped catalog lacks: messages, translations, plural forms, matching placeholders."""
    path = catalog_path(root, lang)
    where = path.relative_to(root).as_posix()
    if not path.exists():
        return [f"{where} is missing: run python locales/check_catalogs.py --update"]
    catalog = _read(path, lang)
    problems: list[str] = []
    expected = BY_CODE[lang].plural_forms
    if catalog.plural_forms.replace(" ", "") != expected.replace(" ", ""):
        problems.append(f"{where}: Plural-Forms is {catalog.plural_forms!r}, should be {expected!r}")
    for wanted in fresh:
        if not wanted.id or (_is_officer_only(wanted) and lang not in DASHBOARD_CODES):
            continue
        label = f"{where}: {wanted.id if isinstance(wanted.id, str) else wanted.id[0]!r}"
        message = catalog.get(wanted.id, context=wanted.context)
        if message is None:
            problems.append(f"{label} is missing")
            continue
        if message.fuzzy:
            problems.append(f"{label} is marked fuzzy")
        strings = list(message.string) if isinstance(message.string, (list, tuple)) else [message.string]
        if wanted.pluralizable and len(strings) != catalog.num_plurals:
            problems.append(f"{label} has {len(strings)} plural forms, the language has {catalog.num_plurals}")
        if not all(strings):
            problems.append(f"{label} has an empty translation")
            continue
        problems.extend(f"{label}: {problem}" for problem in _placeholder_problems(wanted, strings))
    for message, errors in catalog.check():
        problems.extend(f"{where}: {message.id!r}: {error}" for error in errors)
    return problems


def _placeholder_problems(message: Message, strings: list[str]) -> list[str]:
    ids = [message.id] if isinstance(message.id, str) else list(message.id)
    wanted = set().union(*(_placeholders(i) for i in ids))
    problems = []
    for index, text in enumerate(strings):
        got = _placeholders(text)
        # A plural form may leave the count out ("un afal", not "1 afal"); every other name must stay.
        needed = wanted - ({"num"} if message.pluralizable else set())
        if got - wanted:
            problems.append(f"form {index} uses unknown placeholders {sorted(got - wanted)}")
        if needed - got:
            problems.append(f"form {index} lacks placeholders {sorted(needed - got)}")
    return problems


def check(root: Path = ROOT) -> list[str]:
    """Return every problem with the template and the shipped catalogs; empty when all is well."""
    fresh = extract(root)
    msgids = {m.id for m in fresh if isinstance(m.id, str) and m.id}
    # Words shown but not extracted (another helper, straight in a template, hard-coded in a script).
    problems = check_marking.problems(root, KEYWORD_SPECS, msgids)
    problems += stale_template_problems(fresh, root)
    for lang in shipped_languages(root):
        problems.extend(catalog_problems(fresh, lang, root))
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--extract", action="store_true", help="rewrite locales/messages.pot")
    parser.add_argument("--update", action="store_true", help="extract, then update every catalog")
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.extract or args.update:
        template = write_template(args.root)
        print(f"locales/messages.pot: {sum(1 for m in template if m.id)} messages")
        if args.update:
            update_catalogs(args.root)
            print(f"updated {', '.join(shipped_languages(args.root))}")
        return 0
    problems = check(args.root)
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} catalog problem(s); see locales/README.md", file=sys.stderr)
        return 1
    print("Catalogs are complete and messages.pot is up to date.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
