"""Find words residents or officers would read that the extraction cannot see.

Babel only extracts strings passed to the keywords in `check_catalogs.KEYWORD_SPECS`. A string
wrapped in any other helper (`tr("Send")`), written straight into a template (`<p>Send</p>`,
`{{ "Send" }}`, `aria-label="Send"`) or hard-coded in a script (`label: "Census %"`) is never in
a catalog, so it stays English on every page. `check_catalogs.check` runs `problems()` so CI fails on
such a string, whichever helper marked it: Jinja templates are read through Jinja's own parser,
scripts through a small tokenizer (no JavaScript parser ships with Python; the scripts only need their
string literals found, which a tokenizer that knows strings, comments and regular expressions does).
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from html.parser import HTMLParser
from pathlib import Path

from jinja2 import Environment, nodes
from jinja2.exceptions import TemplateSyntaxError

from locales.languages import LANGUAGES

# Template folders and scripts that residents or officers see. Vendored libraries are not ours.
TEMPLATE_GLOBS = ("templates/**/*.html", "*/templates/**/*.html", "*/*/templates/**/*.html")
SCRIPT_GLOBS = ("static/**/*.js", "*/static/**/*.js", "*/*/static/**/*.js")
SKIP_PARTS = ("vendor", "node_modules", ".venv", "tests", "bench", "migrations", ".git")
# Calls in templates whose string arguments are names, not words anyone reads.
NOT_WORDS_CALLS = frozenset({
    "url_for", "get", "getlist", "format", "csrf_token", "range", "dict", "join", "replace", "split",
    "startswith", "endswith", "strftime", "selectattr", "rejectattr", "map", "attr", "items", "lower", "upper",
    "include", "import", "extends", "super", "loop", "cycler", "joiner", "namespace", "lipsum", "tojson",
    "dashboard_language", "direction", "long_date", "short_date", "date_time", "number", "percent", "when",
})
# Attributes whose values are read out or shown.
READ_ATTRIBUTES = ("aria-label", "title", "placeholder", "alt", "aria-description", "aria-roledescription")
# Files not yet translated, each with why; the check reads every other template and script.
UNCHECKED = {
    # A developer's stand-in for Twilio: absent (404) wherever real credentials are set.
    "bot/sandbox/templates/sandbox/index.html",
    "bot/sandbox/templates/sandbox/_whatsapp.html",
    "bot/sandbox/templates/sandbox/voice.html",
    "bot/sandbox/templates/sandbox/voice_call.html",
    "bot/sandbox/templates/sandbox/_voice_head.html",
}
# Each language's name for itself is the same on every page ("Cymraeg" in the English switcher too).
NATIVE_NAMES = frozenset(language.native_name for language in LANGUAGES) | {"Outreach"}
# Text that is the same in every language: symbols, numbers, codes such as SMS or CSV, a sample address.
_LETTERS = re.compile(r"[^\W\d_]")
_ALLOWED_WORDS = re.compile(r"^(?:[A-Z0-9]{2,}(?:-\d+)?|[a-z]+://\S+|\S+@\S+|[a-z]{2}(?:-[A-Z]{2})?)$")


def _is_prose(text: str) -> bool:
    """True for words a person reads ("Send", "Census %"), False for names and codes ("text_en", "SMS")."""
    text = text.strip()
    if not _LETTERS.search(text) or text in NATIVE_NAMES:
        return False
    words = [w.strip("()[]{}.,:;!?%–-·•/\"'") for w in text.split()]
    words = [w for w in words if _LETTERS.search(w)]
    if not words or all(_ALLOWED_WORDS.match(w) for w in words):
        return False
    if len(words) == 1:
        # One word: a person's word starts with a capital and goes on in small letters ("Send", "Iaith").
        return bool(re.match(r"^[^\W\d_a-z][^\W\d_A-Z]+$", words[0]))
    # Several words: code names and CSS selectors have none of the spaces prose has between words.
    return not re.search(r"[=<>{};\[\]#]|^\.|\(\)|\w\.\w", text)


class _VisibleText(HTMLParser):
    """Collect the text and readable attribute values of an HTML fragment, skipping scripts and styles."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1
        for name, value in attrs:
            if name in READ_ATTRIBUTES and value and _is_prose(value):
                self.found.append(f'{name}="{value}"')

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip and _is_prose(data):
            self.found.append(data.strip())


def _call_name(node: nodes.Call) -> str | None:
    if isinstance(node.node, nodes.Name):
        return node.node.name
    if isinstance(node.node, nodes.Getattr):
        return node.node.attr
    return None


def _walk(node: nodes.Node, keywords: frozenset[str], inside: str | None = None) -> Iterator[tuple[int, str]]:
    """Yield (line, problem) for prose a template shows without a keyword around it."""
    if isinstance(node, nodes.TemplateData):
        parser = _VisibleText()
        parser.feed(node.data)
        for text in parser.found:
            yield node.lineno, f"{text!r} is shown but not marked for translation: wrap it in _(\"...\")"
        return
    if isinstance(node, nodes.Call):
        name = _call_name(node)
        literal = [a.value for a in node.args[:1] if isinstance(a, nodes.Const) and isinstance(a.value, str)]
        if name in keywords:
            return  # extracted: its arguments are messages, its keyword arguments placeholders
        children = list(node.iter_child_nodes())
        if literal and _is_prose(literal[0]) and name not in NOT_WORDS_CALLS:
            yield node.lineno, (f"{literal[0]!r} is marked with {name}(), which the extraction does not know: "
                                "use _(\"...\") or add the helper to check_catalogs.KEYWORD_SPECS")
            children = [c for c in children if c is not node.args[0]]
        for child in children:
            yield from _walk(child, keywords, name)
        return
    if isinstance(node, (nodes.Compare, nodes.Test)):
        return  # comparing with a value ('message') shows nothing
    if isinstance(node, nodes.Filter) and node.name in ("tojson", "replace", "attr", "map", "selectattr"):
        return  # data for a script, or attribute names
    if isinstance(node, nodes.Const) and isinstance(node.value, str) and inside not in NOT_WORDS_CALLS:
        if _is_prose(node.value):
            yield node.lineno, f"{node.value!r} is shown but not marked for translation: wrap it in _(\"...\")"
        return
    if isinstance(node, (nodes.Getitem, nodes.Include, nodes.Extends, nodes.Import, nodes.FromImport)):
        return
    for child in node.iter_child_nodes():
        yield from _walk(child, keywords, inside)


def template_problems(root: Path, path: Path, keywords: frozenset[str]) -> list[str]:
    """List the prose a template shows that no extraction keyword marks."""
    env = Environment(extensions=["jinja2.ext.i18n"])
    where = path.relative_to(root).as_posix()
    try:
        tree = env.parse(path.read_text(encoding="utf-8"))
    except TemplateSyntaxError as exc:
        return [f"{where}:{exc.lineno}: cannot read the template: {exc.message}"]
    return [f"{where}:{line}: {problem}" for line, problem in _walk(tree, keywords)]


# A JavaScript token: a comment, a string (three quote kinds), or a regular expression after an operator.
_JS_TOKEN = re.compile(r"""
    (?P<comment>//[^\n]*|/\*.*?\*/)
  | (?P<string>"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'|`(?:\\.|[^`\\])*`)
  | (?P<regex>(?<=[=(,:!&|?{};])\s*/(?![/*])(?:\\.|\[(?:\\.|[^\]\\])*\]|[^/\\\n])+/[gimsuy]*)
""", re.S | re.X)


def script_strings(source: str) -> Iterator[tuple[int, str]]:
    """Yield (line, text) for each string literal of a script (template literals without their ${...})."""
    for match in _JS_TOKEN.finditer(source):
        literal = match.group("string")
        if literal is None:
            continue
        text = re.sub(r"\$\{[^}]*\}", " ", literal[1:-1])
        yield source.count("\n", 0, match.start()) + 1, text


_CODE_NAMES = re.compile(r"[a-z][\w-]*(?: [a-z][\w-]*)*")


# Values scripts give the DOM (an input's type, an event's name) that happen to be English words too.
_DOM_VALUES = frozenset({"hidden", "submit", "button", "checkbox", "radio", "text", "click", "change", "input"})


def script_problems(root: Path, path: Path, msgids: set[str]) -> list[str]:
    """List words a script would show that come from no catalog: scripts read them from the page."""
    where = path.relative_to(root).as_posix()
    problems = []
    for line, text in script_strings(path.read_text(encoding="utf-8")):
        words = text.strip()
        # Lower-case names joined by spaces are class names and directives ("use strict"), not words.
        if words in _DOM_VALUES:
            continue
        if (words and words in msgids) or (_is_prose(text) and not _CODE_NAMES.fullmatch(words)):
            problems.append(f"{where}:{line}: {text!r} is hard-coded in a script: put the translated words in the "
                            "page (a data- attribute written with _(\"...\")) and read them from there")
    return problems


# Names a translation helper goes by: _, N_, gettext, ngettext, _ngettext, lazy_gettext, pgettext...
_HELPER_NAME = re.compile(r"^(?:_+[a-z]?_?|N_|_*(?:n|p|np|lazy_|u|ung)?gettext)$")


def python_problems(root: Path, path: Path, keywords: frozenset[str]) -> list[str]:
    """List calls in Python that look like a translation helper but are not an extraction keyword."""
    import ast

    where = path.relative_to(root).as_posix()
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (SyntaxError, UnicodeDecodeError):
        return []
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
        if name is None or name in keywords or not _HELPER_NAME.match(name):
            continue
        literals = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
        if literals and _is_prose(literals[0]):
            found.append(f"{where}:{node.lineno}: {literals[0]!r} is marked with {name}(), which the extraction "
                         "does not know: use one of check_catalogs.KEYWORD_SPECS")
    return found


def _files(root: Path, globs: Iterable[str]) -> list[Path]:
    found = {p for pattern in globs for p in root.glob(pattern) if p.is_file()}
    return sorted(p for p in found if not any(part in SKIP_PARTS for part in p.relative_to(root).parts)
                  and p.relative_to(root).as_posix() not in UNCHECKED)


def problems(root: Path, keywords: Iterable[str], msgids: set[str]) -> list[str]:
    """Every unextracted string in the templates and scripts under root."""
    names = frozenset(k.split(":")[0] for k in keywords)
    found = []
    for path in _files(root, TEMPLATE_GLOBS):
        found.extend(template_problems(root, path, names))
    for path in _files(root, SCRIPT_GLOBS):
        found.extend(script_problems(root, path, msgids))
    for path in _files(root, ("**/*.py",)):
        found.extend(python_problems(root, path, names))
    return found
