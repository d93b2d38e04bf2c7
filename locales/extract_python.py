"""A Babel extractor for Python that reads the syntax tree, so only real string literals become messages.

Babel's token-based extractor glues together every string inside a call's argument, so
`i18n.gettext(lang, REASONS["empty"] if bad else REASONS["not_a_choice"])` became the message
"emptyemptynot_a_choice". Here an argument is a message only when it is a literal string.
babel.cfg maps `**.py` to this function; the output has the shape Babel's own extractors give.
"""
from __future__ import annotations

import ast
from collections.abc import Collection, Iterator, Mapping
from typing import IO, Any


def _name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _comments(lines: list[str], lineno: int, comment_tags: Collection[str]) -> list[str]:
    """Return the tagged comment block right above a line ("# Translators: ...")."""
    block: list[str] = []
    index = lineno - 2
    while index >= 0 and lines[index].strip().startswith("#"):
        block.insert(0, lines[index].strip().lstrip("#").strip())
        index -= 1
    for start, text in enumerate(block):
        if any(text.startswith(tag) for tag in comment_tags):
            return block[start:]
    return []


def extract_python(fileobj: IO[bytes], keywords: Mapping[str, Any], comment_tags: Collection[str],
                   options: Mapping[str, Any]) -> Iterator[tuple[int, str, tuple[str | None, ...], list[str]]]:
    """Yield (line, function name, arguments with None for non-literals, comments) for each keyword call."""
    source = fileobj.read().decode(options.get("encoding", "utf-8"))
    tree = ast.parse(source)
    lines = source.splitlines()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = _name(node.func)
        if name is None or name not in keywords:
            continue
        args = tuple(
            arg.value if isinstance(arg, ast.Constant) and isinstance(arg.value, str) else None
            for arg in node.args
        )
        # Keyword arguments count towards the total, as they do for Babel's own extractor and its "t" specs.
        args += (None,) * len(node.keywords)
        if not any(args):
            continue
        yield node.lineno, name, args, _comments(lines, node.lineno, comment_tags)
