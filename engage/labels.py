"""Words for stored codes: `bush_fair` -> "Bush Fair", `18_64` -> "18 to 64".

Answers and contact fields are stored as the codes a flow's choices give (`value:`), so that
figures stay comparable whatever language a resident answered in. Officers and the public read
labels instead: the census file's group labels (`labels:` under a dimension), the flows' own
choice texts (in the reader's language where the flow has it), and, where neither names a
code, the code made readable.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

_RANGE = re.compile(r"^(\d+)_(\d+)$")
_PLUS = re.compile(r"^(\d+)_?plus$")
_UNDER = re.compile(r"^under_?(\d+)$")


def humanise(code: Any) -> str:
    """Make a code readable when nothing names it: bush_fair -> Bush Fair, 18_64 -> 18 to 64, 65_plus -> 65 or over."""
    text = "" if code is None else str(code).strip()
    if not text or " " in text or not re.fullmatch(r"[\w-]+", text):
        return text  # already words (or not a code): shown as stored
    if m := _RANGE.match(text):
        return f"{m.group(1)} to {m.group(2)}"
    if m := _PLUS.match(text):
        return f"{m.group(1)} or over"
    if m := _UNDER.match(text):
        return f"Under {m.group(1)}"
    words = [w for w in re.split(r"[_-]+", text) if w]
    return " ".join(w if w.isupper() or not w.isalpha() else w.capitalize() for w in words)


def _texts(value: Any) -> dict[str, str]:
    """A label written as one string (English) or as {language: text}."""
    if isinstance(value, Mapping):
        return {str(k): str(v) for k, v in value.items() if v not in (None, "")}
    return {"en": str(value)} if value not in (None, "") else {}


@dataclass
class ValueLabels:
    """Labels of the codes of each contact field (and of each flow step's answers), per language."""

    # field -> code -> {language: text}; the first source to name a code in a language wins.
    fields: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)

    def add(self, field_name: str, code: str, texts: Mapping[str, str]) -> None:
        known = self.fields.setdefault(field_name, {}).setdefault(str(code), {})
        for lang, text in texts.items():
            known.setdefault(lang, text)

    def label(self, field_name: str | None, code: Any, lang: str | None = None, default: str | None = None) -> str:
        """The code's label in `lang` (else English, else any language given, else `default`, else the code
        made readable)."""
        if code is None:
            return ""
        texts = self.fields.get(field_name or "", {}).get(str(code))
        if texts:
            return texts.get(lang or "en") or texts.get("en") or next(iter(texts.values()))
        return default if default is not None else humanise(code)

    def for_field(self, field_name: str, codes: Iterable[Any], lang: str | None = None) -> dict[str, str]:
        return {str(c): self.label(field_name, c, lang) for c in codes}


def census_labels(baseline: Mapping[str, Any] | None, labels: ValueLabels | None = None) -> ValueLabels:
    """Add the census file's group labels (`labels:` under each dimension) to `labels`."""
    labels = labels if labels is not None else ValueLabels()
    for name, spec in ((baseline or {}).get("dimensions") or {}).items():
        if not isinstance(spec, Mapping):
            continue
        field_name = str(spec.get("field", name))
        for code, value in (spec.get("labels") or {}).items():
            labels.add(field_name, str(code), _texts(value))
    return labels


def flow_labels(flows: Iterable[Any], labels: ValueLabels | None = None) -> ValueLabels:
    """Add the flows' choice texts of every step that saves to a contact field (by the field's name),
    and of every step's answers (by `<flow id>:<step id>`)."""
    labels = labels if labels is not None else ValueLabels()
    for flow in flows:
        for step in getattr(flow, "steps", ()):
            named = [(choice.value, choice.labels) for choice in step.choices]
            # A yes/no answer is stored as true or false, named by the flow's own yes and no words.
            named += [(value, step.yes_no_labels[word]) for word, value in (("yes", "true"), ("no", "false"))
                      if word in (getattr(step, "yes_no_labels", None) or {})]
            for value, texts in named:
                texts = {str(k): str(v) for k, v in texts.items() if v}
                labels.add(f"{flow.id}:{step.id}", value, texts)
                if step.save_to:
                    labels.add(step.save_to, value, texts)
    return labels


def value_labels(flows: Iterable[Any] = (), baseline: Mapping[str, Any] | None = None) -> ValueLabels:
    """Labels from the census file first (written for officers), then from the flows' choices."""
    return flow_labels(flows, census_labels(baseline))
