"""Check flow files for every problem at once, and report what each text costs as SMS."""
from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .loader import Problem, _check_across, _read_file, flow_files
from .model import Flow
from .sms import count_segments
from .sms_text import Gettext, step_segments


@dataclass(frozen=True)
class SegmentRow:
    """What one text of a flow costs in one language when sent as SMS."""

    step_id: str | None  # None for flow-level texts (reminder, purpose)
    field: str  # ask | say | easy_read | choice:<value> | label:<point> | yes | no | reminder | purpose
    lang: str
    encoding: str  # GSM-7 | UCS-2
    units: int
    characters: int
    segments: int
    non_gsm: tuple[str, ...] = ()

    def __str__(self) -> str:
        why = f"; UCS-2 because of {' '.join(self.non_gsm)}" if self.non_gsm else ""
        return (f"{self.step_id or '(flow)'} {self.field} [{self.lang}]: {self.segments} SMS "
                f"({self.units} {self.encoding} units{why})")


def lint_paths(paths: Sequence[str | Path]) -> list[Problem]:
    """Return every problem in these flow files and folders (errors and warnings), in file and line order."""
    files: list[Path] = []
    problems: list[Problem] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files.extend(flow_files(path))
        elif path.is_file():
            files.append(path)
        else:
            problems.append(Problem(str(path), 1, 1, "no such file or folder"))
    parsed = [_read_file(p) for p in dict.fromkeys(files)]
    problems += [p for item in parsed for p in item.problems] + _check_across(parsed)
    return sorted(problems, key=lambda p: (p.path, p.line, p.col))


def segment_report(flow: Flow, gettext: Gettext | None = None) -> list[SegmentRow]:
    """Return, per text and language, the SMS encoding and segments it costs.

    A question (`ask`, `easy_read`) is counted as its SMS is sent: the question, its numbered
    choices and the reply line in that language (flows/sms_text.py; `gettext` gives the reply
    line's words, the service's `locales.i18n.gettext`; English without it).
    """
    rows = []
    for step_id, field, texts in flow.texts():
        step = flow.step(step_id) if step_id is not None and field in ("ask", "easy_read") else None
        for lang, text in texts.items():
            if step is not None and step.kind != "say":
                info = step_segments(flow, step, lang, gettext, easy_read=field == "easy_read")
            else:
                info = count_segments(text)
            rows.append(SegmentRow(step_id, field, lang, info.encoding, info.units, info.characters, info.segments,
                                   info.non_gsm))
    return rows


def catalog_gettext(folder: str | Path | None = None):
    """The reply lines' words from the service's catalogs (locales/<lang>/LC_MESSAGES/messages.po), read as
    files with Babel: the flows package imports none of the service's code, yet counts an SMS as the service
    words it. None when there are no catalogs (English words are used)."""
    from babel.messages.pofile import read_po

    root = Path(folder) if folder else Path(__file__).resolve().parent.parent / "locales"
    if not root.is_dir():
        return None
    catalogs: dict[str, dict[str, str]] = {}

    def gettext(lang: str | None, message: str, **params) -> str:
        if lang not in catalogs:
            path = root / str(lang) / "LC_MESSAGES" / "messages.po"
            words: dict[str, str] = {}
            if lang and path.is_file():
                with path.open("rb") as fh:
                    words = {m.id: m.string for m in read_po(fh) if isinstance(m.id, str) and m.string
                             and not m.fuzzy}
            catalogs[lang] = words
        text = catalogs[lang].get(message) or message
        return text % params if params else text

    return gettext


def main(argv: Sequence[str] | None = None, out=None) -> int:
    """Lint the given files or folders; print problems (and SMS costs with --segments); 1 when there are errors."""
    parser = argparse.ArgumentParser(prog="flows.lint", description=main.__doc__)
    parser.add_argument("paths", nargs="+")
    parser.add_argument("--segments", action="store_true", help="print the SMS cost of every text")
    args = parser.parse_args(argv)
    out = out or sys.stdout
    problems = lint_paths(args.paths)
    for problem in problems:
        print(problem, file=out)
    if args.segments:
        words = catalog_gettext()
        for path in args.paths:
            for file in flow_files(path) if Path(path).is_dir() else [Path(path)]:
                flow = _read_file(file).flow if file.is_file() else None
                for row in segment_report(flow, words) if flow else []:
                    print(f"{file}: {row}", file=out)
    errors = sum(p.severity == "error" for p in problems)
    print(f"{errors} error(s), {len(problems) - errors} warning(s)", file=out)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
