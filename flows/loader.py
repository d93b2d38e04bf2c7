"""Load flows from YAML, checking everything and reporting each problem at its line and column."""
from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from .model import (
    CHOICE,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_TZ,
    END,
    MULTIPLE,
    NUMBER,
    SAY,
    SCALE,
    TEXT,
    YES_NO,
    Choice,
    Condition,
    Consultation,
    Flow,
    Route,
    Step,
    _to_utc,
)

# A Twilio Content SID (an approved WhatsApp template).
_CONTENT_SID = re.compile(r"^HX[0-9a-fA-F]{32}$")
# A phone number as a flow may give it: +44..., or a UK number starting with 0.
_PHONE = re.compile(r"^(\+[1-9]\d{7,14}|0\d{9,10})$")
Pos = tuple[int, int]  # 0-based (line, column), as ruamel gives them

FLOW_KEYS = ("id", "title", "description", "languages", "keywords", "consultation", "expires_after",
             "restart_after_days", "allow_change", "reminder", "keep_free_text", "max_attempts", "skip_words",
             "steps", "public", "public_results", "whatsapp_templates", "voice_number")
FLOW_REQUIRED = ("id", "title", "languages", "steps")
STEP_KEYS = ("id", "ask", "say", "easy_read", "choices", "multiple", "min", "max", "yes_no", "number", "scale",
             "text", "next", "optional", "max_attempts", "save_to", "skip_words", "special_category", "consent_for",
             "note")
ANSWER_KEYS = ("choices", "yes_no", "number", "scale", "text")
# Keys that only make sense on a question.
QUESTION_ONLY = ("multiple", "min", "max", "optional", "max_attempts", "save_to", "skip_words", "consent_for")
# What a yes/no step's "yes" can be consent for (a consent record is kept for it).
# What a yes/no step's "yes" may be consent for: holding special-category data, or the basis for
# broadcasts of a class ("service": "may we text you about future consultations?"; "promotional").
CONSENT_SCOPES = ("special_category", "service", "promotional")
CHOICE_KEYS = ("value", "also")
CONSULTATION_KEYS = ("purpose", "info_url", "opens", "closes")
OPERATORS = ("equals", "not_equals", "in", "not_in", "at_least", "at_most", "more_than", "less_than", "exists")
# Words carriers and the service keep for themselves: a flow keyword may not take them.
RESERVED_KEYWORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "START", "UNSTOP",
                               "YES", "NO", "HELP", "INFO", "SKIP", "NEIDIO", "STOPIO", "DECHRAU", "CYMORTH"})

LANGUAGE_NAMES = {
    "en": "English", "cy": "Welsh", "gd": "Gaelic", "ga": "Irish", "pl": "Polish", "ro": "Romanian",
    "pt": "Portuguese", "ur": "Urdu", "pa": "Panjabi", "bn": "Bengali", "ar": "Arabic", "so": "Somali",
    "gu": "Gujarati", "ta": "Tamil", "tr": "Turkish", "lt": "Lithuanian", "es": "Spanish", "fr": "French",
    "it": "Italian", "uk": "Ukrainian", "ru": "Russian", "zh": "Chinese", "fa": "Persian", "ps": "Pashto",
    "ku": "Kurdish", "ti": "Tigrinya", "am": "Amharic", "hi": "Hindi", "bg": "Bulgarian", "hu": "Hungarian",
}

_FLOW_ID = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_STEP_ID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]*$")
_FIELD = re.compile(r"^[a-z][a-z0-9_]*$")
_LANG = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
_KEYWORD = re.compile(r"^[^\W_]+$")
_DURATION = re.compile(r"^\s*(?:\d+\s*[smhdw]\s*)+$")
_DURATION_PART = re.compile(r"(\d+)\s*([smhdw])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


@dataclass(frozen=True)
class Problem:
    """Something wrong (or doubtful, when severity is "warning") at a 1-based line and column of a file."""

    path: str
    line: int
    col: int
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        prefix = "warning: " if self.severity == "warning" else ""
        return f"{self.path}:{self.line}:{self.col}: {prefix}{self.message}"


class FlowError(Exception):
    """A flow that could not be loaded, with every problem found in it."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def language_name(code: str) -> str:
    """Return "cy (Welsh)" for a language code, or the bare code when its name is not known."""
    name = LANGUAGE_NAMES.get(code.split("-")[0])
    return f"{code} ({name})" if name else code


def parse_duration(value: Any) -> timedelta | None:
    """Return the timedelta for "48h", "2d", "30m", "1w" or "1d 12h"; None when it is not a duration."""
    if not isinstance(value, str) or not _DURATION.match(value):
        return None
    return sum((timedelta(**{_UNITS[u]: int(n)}) for n, u in _DURATION_PART.findall(value)), timedelta())


def did_you_mean(word: Any, options: Iterable[Any]) -> str:
    """Return "; did you mean 'x'?" for the closest option, or "" when none is close."""
    close = difflib.get_close_matches(str(word), [str(o) for o in options], n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


class _Constructor(RoundTripConstructor):
    """Keep scalars like 18_64, 010 or 0x1F as the text written: they are choice values, not numbers."""

    def construct_yaml_int(self, node):
        if not re.fullmatch(r"[-+]?(0|[1-9][0-9]*)", node.value):
            return self.construct_scalar(node)
        return super().construct_yaml_int(node)


_Constructor.add_constructor("tag:yaml.org,2002:int", _Constructor.construct_yaml_int)


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.Constructor = _Constructor
    return yaml


def _plain(value: Any) -> Any:
    """Return ruamel's scalar subclasses as plain Python values (str, int, float, bool, date, datetime)."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, datetime):
        return datetime(value.year, value.month, value.day, value.hour, value.minute, value.second,
                        value.microsecond, tzinfo=value.tzinfo)
    if isinstance(value, date):
        return date(value.year, value.month, value.day)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _pos(node: Any, fallback: Pos) -> Pos:
    lc = getattr(node, "lc", None)
    return (lc.line, lc.col) if lc is not None and lc.line is not None else fallback


@dataclass
class _Parsed:
    """One file's result: the flow (None when it has errors), its problems, and what cross-flow checks need."""

    path: str
    flow: Flow | None
    problems: list[Problem]
    flow_id: str | None = None
    id_pos: Pos = (0, 0)
    keywords: dict[str, Pos] = field(default_factory=dict)


@dataclass(frozen=True)
class _Outline:
    """One step as far as it could be read: enough to follow the flow's paths when the step has errors."""

    step_id: str | None
    kind: str | None
    routes: tuple[Route, ...]
    pos: Pos


class _Reader:
    """Walk one flow's YAML tree, building the model and noting every problem."""

    def __init__(self, text: str, path: str):
        self.text, self.path = text, path
        self.problems: list[Problem] = []
        self.langs: list[str] = []
        self.step_pos: dict[str, Pos] = {}
        self.targets: list[tuple[str, Pos]] = []  # (goto target, where written)
        self.answer_tests: list[tuple[Condition, Pos, Pos | None]] = []  # (condition, name pos, operand pos)
        self.flow_id: str | None = None
        self.id_pos: Pos = (0, 0)
        self.keywords: dict[str, Pos] = {}
        # Every step as far as it could be read (id, kind, routes), errors or not, in file order: the
        # reachability and loop checks run on it, so one run reports every problem.
        self.outline: list[_Outline] = []
        # A `next` to a missing step, with the step it most likely meant (reachability follows that one).
        self.misspelt: dict[str, str] = {}

    # -- reporting

    def error(self, pos: Pos, message: str) -> None:
        self.problems.append(Problem(self.path, pos[0] + 1, pos[1] + 1, message))

    def warn(self, pos: Pos, message: str) -> None:
        self.problems.append(Problem(self.path, pos[0] + 1, pos[1] + 1, message, "warning"))

    @property
    def failed(self) -> bool:
        return any(p.severity == "error" for p in self.problems)

    # -- generic checks

    def check_keys(self, node: CommentedMap, allowed: Sequence[str], where: str, languages: bool = False) -> None:
        """Report keys that are not allowed; with `languages`, declared language codes are allowed too."""
        for key in node:
            pos = node.lc.key(key)
            if isinstance(key, str) and key in allowed:
                continue
            if languages and key in self.langs:
                continue
            hint = did_you_mean(key, [*allowed, *(self.langs if languages else ())])
            if languages and not hint and isinstance(key, str) and _LANG.match(key):
                self.undeclared(key, pos)
            else:
                self.error(pos, f"unknown key '{key}' in {where}{hint}")

    def undeclared(self, lang: str, pos: Pos) -> None:
        declared = ", ".join(self.langs) or "none"
        self.error(pos, f"text in {language_name(lang)}, which is not in this flow's languages ({declared})")

    def require(self, node: CommentedMap, keys: Sequence[str], where: str) -> bool:
        missing = [k for k in keys if k not in node or node[k] is None]
        for key in missing:
            self.error(_pos(node, (0, 0)), f"{where} is missing '{key}'")
        return not missing

    def string(self, node: CommentedMap, key: str, what: str) -> str | None:
        value = node.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            self.error(node.lc.value(key), f"{what} should be some text")
            return None
        return str(value).strip()

    def boolean(self, node: CommentedMap, key: str, default: bool = False) -> bool:
        value = node.get(key, default)
        if not isinstance(value, bool):
            self.error(node.lc.value(key), f"'{key}' should be true or false, not '{value}'")
            return default
        return value

    def integer(self, node: CommentedMap, key: str, minimum: int) -> int | None:
        value = node.get(key)
        if value is None:
            return None
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            self.error(node.lc.value(key), f"'{key}' should be a whole number of at least {minimum}, not '{value}'")
            return None
        return int(value)

    def duration(self, node: CommentedMap, key: str) -> timedelta | None:
        value = node.get(key)
        if value is None:
            return None
        parsed = parse_duration(value)
        if parsed is None or parsed <= timedelta(0):
            self.error(node.lc.value(key), f"'{key}' should be a duration like 30m, 48h, 2d or 1w, not '{value}'")
            return None
        return parsed

    # -- texts

    def texts(self, node: CommentedMap, key: str, where: str) -> dict[str, str]:
        """Read a text given once (base language) or per language, and check every language is there."""
        value, pos = node[key], node.lc.key(key)
        what = f"'{key}' of {where}"
        result: dict[str, str] = {}
        if isinstance(value, str):
            if value.strip() and self.langs:
                result[self.langs[0]] = str(value).strip()
            elif not value.strip():
                self.error(node.lc.value(key), f"{what} is empty")
                return result
        elif isinstance(value, CommentedMap):
            for lang, text in value.items():
                lpos = value.lc.key(lang)
                if lang not in self.langs:
                    if isinstance(lang, str) and _LANG.match(lang):
                        self.undeclared(lang, lpos)
                    else:
                        self.error(lpos, f"'{lang}' in {what} is not a language code{did_you_mean(lang, self.langs)}")
                    continue
                if not isinstance(text, str) or not text.strip():
                    self.error(value.lc.value(lang), f"the {language_name(lang)} text of {what} is empty")
                    continue
                result[lang] = str(text).strip()
        else:
            self.error(node.lc.value(key), f"{what} should be a text, or one text per language ({{en: ..., cy: ...}})")
            return result
        self.require_languages(result, pos, what)
        return result

    def require_languages(self, texts: dict[str, str], pos: Pos, what: str) -> None:
        missing = [lang for lang in self.langs if lang not in texts]
        if missing and texts:
            names = ", ".join(language_name(lang) for lang in missing)
            self.error(pos, f"{what} has no text in {names}")
        elif missing:
            self.error(pos, f"{what} has no text")

    def inline_texts(self, node: CommentedMap, where: str) -> dict[str, str]:
        """Read the language keys of a mapping that also holds other keys (a choice, a reminder)."""
        result = {}
        for lang in self.langs:
            if lang in node:
                text = node[lang]
                if not isinstance(text, str) or not text.strip():
                    self.error(node.lc.value(lang), f"the {language_name(lang)} text of {where} is empty")
                else:
                    result[lang] = str(text).strip()
        return result

    def words_per_language(self, node: CommentedMap, key: str) -> dict[str, tuple[str, ...]]:
        value = node[key]
        if not isinstance(value, CommentedMap):
            self.error(node.lc.value(key), f"'{key}' should list words per language, e.g. {key}: {{en: [PASS]}}")
            return {}
        result = {}
        for lang, words in value.items():
            if lang not in self.langs:
                self.undeclared(str(lang), value.lc.key(lang))
                continue
            words = [words] if isinstance(words, str) else words
            if not isinstance(words, list) or not all(isinstance(w, str) and w.strip() for w in words):
                self.error(value.lc.value(lang), f"'{key}' in {language_name(lang)} should be a list of words")
                continue
            result[str(lang)] = tuple(str(w).strip() for w in words)
        return result

    # -- the flow

    def read(self) -> Flow | None:
        try:
            data = _yaml().load(self.text)
        except MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            message = " ".join(str(x) for x in (exc.context, exc.problem) if x)
            self.error((mark.line, mark.column) if mark else (0, 0), f"YAML syntax: {message}")
            return None
        except YAMLError as exc:
            self.error((0, 0), f"YAML syntax: {exc}")
            return None
        if data is None:
            self.error((0, 0), "the file is empty")
            return None
        if not isinstance(data, CommentedMap):
            self.error(_pos(data, (0, 0)), "a flow starts with keys such as id:, title:, languages: and steps:")
            return None
        self.check_keys(data, FLOW_KEYS, "the flow")
        self.require(data, FLOW_REQUIRED, "the flow")
        self.read_languages(data)
        flow_id = self.read_flow_id(data)
        title, title_texts = self.read_title(data)
        keywords, keyword_languages = self.read_keywords(data)
        consultation = self.read_consultation(data) if data.get("consultation") is not None else None
        expires_after = self.duration(data, "expires_after")
        reminder = self.read_reminder(data, expires_after) if data.get("reminder") is not None else None
        restart_after_days = self.integer(data, "restart_after_days", 0)
        keep_free_text = self.boolean(data, "keep_free_text")
        public = self.boolean(data, "public")
        public_results = self.boolean(data, "public_results")
        allow_change = self.boolean(data, "allow_change")
        max_attempts = self.integer(data, "max_attempts", 1) or DEFAULT_MAX_ATTEMPTS
        skip_words = self.words_per_language(data, "skip_words") if data.get("skip_words") is not None else {}
        description = self.string(data, "description", "'description'") or ""
        whatsapp_templates = (self.read_whatsapp_templates(data) if data.get("whatsapp_templates") is not None
                              else {})
        voice_number = self.string(data, "voice_number", "'voice_number'")
        if voice_number is not None and not _PHONE.match(voice_number.replace(" ", "")):
            self.error(data.lc.value("voice_number"),
                       f"'voice_number' should be a phone number such as +441279446000, not '{voice_number}'")
            voice_number = None
        steps = self.read_steps(data, max_attempts)
        self.check_references(steps)
        self.check_graph(steps)
        if self.failed:
            return None
        return Flow(
            id=flow_id or "", title=title or "", languages=list(self.langs), steps=tuple(steps), keywords=keywords,
            keyword_languages=keyword_languages, title_texts=title_texts,
            consultation=consultation, expires_after=expires_after, restart_after_days=restart_after_days,
            allow_change=allow_change, reminder=reminder, keep_free_text=keep_free_text, max_attempts=max_attempts,
            skip_words=skip_words, description=description, source=self.text, path=self.path, public=public,
            public_results=public_results, whatsapp_templates=whatsapp_templates,
            voice_number=voice_number.replace(" ", "") if voice_number else None,
        )

    def read_whatsapp_templates(self, data: CommentedMap) -> dict[str, str]:
        """Read the approved WhatsApp template per language (a Twilio Content SID, HX and 32 hex digits): what
        reaches a WhatsApp resident outside the 24-hour window (a broadcast, a reminder, an update)."""
        value = data["whatsapp_templates"]
        if not isinstance(value, CommentedMap):
            self.error(data.lc.value("whatsapp_templates"),
                       "'whatsapp_templates' should give a template per language, e.g. whatsapp_templates: {en: HX...}")
            return {}
        result = {}
        for lang, sid in value.items():
            if lang not in self.langs:
                self.undeclared(str(lang), value.lc.key(lang))
                continue
            if not isinstance(sid, str) or not _CONTENT_SID.match(sid.strip()):
                self.error(value.lc.value(lang), f"the WhatsApp template in {language_name(lang)} should be a "
                                                 f"Content SID: HX and 32 hex digits, not '{sid}'")
                continue
            result[str(lang)] = sid.strip()
        return result

    def read_title(self, data: CommentedMap) -> tuple[str | None, dict[str, str]]:
        """Read the title: one text (shown in every language), or one per language, checked like any text."""
        value = data.get("title")
        if value is None or isinstance(value, str):
            return self.string(data, "title", "'title'"), {}
        texts = self.texts(data, "title", "the flow")
        return (texts.get(self.langs[0]) if self.langs else None), texts

    def read_languages(self, data: CommentedMap) -> None:
        value = data.get("languages")
        if value is None:
            return
        if isinstance(value, str):
            value = [value]
        elif not isinstance(value, CommentedSeq) or not value:
            self.error(data.lc.value("languages"),
                       "'languages' should list language codes, the base one first: [en, cy]")
            return
        for i, lang in enumerate(value):
            pos = value.lc.item(i) if isinstance(value, CommentedSeq) else data.lc.value("languages")
            if not isinstance(lang, str) or not _LANG.match(lang):
                self.error(pos, f"'{lang}' is not a language code such as en, cy, pl or pt-BR")
            elif lang in self.langs:
                self.error(pos, f"language '{lang}' is listed twice")
            else:
                self.langs.append(str(lang))

    def read_flow_id(self, data: CommentedMap) -> str | None:
        value = data.get("id")
        if value is None:
            return None
        self.id_pos = data.lc.value("id")
        if not isinstance(value, str) or not _FLOW_ID.match(value):
            self.error(self.id_pos, f"flow id '{value}' should be lower-case letters, digits, - and _")
            return None
        self.flow_id = str(value)
        return self.flow_id

    def read_keywords(self, data: CommentedMap) -> tuple[list[str], dict[str, str]]:
        """Read `keywords`: a plain list (the base language's words) or words per language.

        Return (every keyword, {keyword: language} for those given per language).
        """
        value = data.get("keywords")
        if value is None:
            return [], {}
        items: list[tuple[Any, Pos, str | None]] = []
        if isinstance(value, str):
            items = [(value, data.lc.value("keywords"), None)]
        elif isinstance(value, CommentedSeq):
            items = [(kw, value.lc.item(i), None) for i, kw in enumerate(value)]
        elif isinstance(value, CommentedMap):
            for lang, words in value.items():
                lpos = value.lc.key(lang)
                if lang not in self.langs:
                    if isinstance(lang, str) and _LANG.match(lang):
                        self.undeclared(lang, lpos)
                    else:
                        self.error(lpos, f"'{lang}' in 'keywords' is not a language code"
                                         f"{did_you_mean(lang, self.langs)}")
                    continue
                if isinstance(words, str):
                    items.append((words, value.lc.value(lang), str(lang)))
                elif isinstance(words, CommentedSeq) and words:
                    items.extend((kw, words.lc.item(i), str(lang)) for i, kw in enumerate(words))
                else:
                    self.error(value.lc.value(lang), f"the {language_name(lang)} keywords should be a list of "
                                                     "words, e.g. cy: [DIOGEL]")
            for lang in self.langs:
                if lang not in value:
                    self.warn(data.lc.key("keywords"), f"no keyword in {language_name(lang)}: residents can start "
                                                       "the flow in it only from a link or by switching language")
        else:
            self.error(data.lc.value("keywords"), "'keywords' should be a list of words, e.g. [SAFE, DIOGEL], "
                                                  "or words per language, e.g. {en: [SAFE], cy: [DIOGEL]}")
            return [], {}
        languages: dict[str, str] = {}
        for word, pos, lang in items:
            word = str(_plain(word)).strip().upper()
            if not _KEYWORD.match(word):
                self.error(pos, f"keyword '{word}' should be one word of letters or digits")
            elif word in RESERVED_KEYWORDS:
                self.error(pos, f"keyword '{word}' is reserved (opt-out, help or skip word); choose another")
            elif word in self.keywords:
                self.error(pos, f"keyword '{word}' is listed twice")
            else:
                self.keywords[word] = pos
                if lang is not None:
                    languages[word] = lang
        return list(self.keywords), languages

    def read_date(self, node: CommentedMap, key: str) -> date | datetime | None:
        value = _plain(node.get(key))
        if value is None or isinstance(value, (date, datetime)):
            return value
        if isinstance(value, str):
            try:
                return datetime.fromisoformat(value.strip())
            except ValueError:
                pass
        self.error(node.lc.value(key), f"'{key}' should be a date like 2026-12-01 (or 2026-12-01T09:00), not '{value}'")
        return None

    def read_consultation(self, data: CommentedMap) -> Consultation | None:
        node = data["consultation"]
        if not isinstance(node, CommentedMap):
            self.error(data.lc.value("consultation"),
                       "'consultation' should hold purpose:, info_url:, opens: and closes:")
            return None
        self.check_keys(node, CONSULTATION_KEYS, "consultation")
        self.require(node, ("purpose",), "consultation")
        # A plain purpose is for officers; given per language it is checked like any text residents read.
        purpose, purpose_texts = node.get("purpose"), {}
        if isinstance(purpose, str):
            purpose = purpose.strip()
        elif purpose is not None:
            purpose_texts = self.texts(node, "purpose", "the consultation")
            purpose = purpose_texts.get(self.langs[0], "") if self.langs else ""
        info_url = self.string(node, "info_url", "'info_url'")
        if info_url and not re.match(r"^https?://\S+$", info_url):
            self.error(node.lc.value("info_url"),
                       f"'info_url' should be a web address starting https://, not '{info_url}'")
        opens, closes = self.read_date(node, "opens"), self.read_date(node, "closes")
        if opens is not None and closes is not None:
            if _to_utc(closes, DEFAULT_TZ, datetime.max.time()) < _to_utc(opens, DEFAULT_TZ, datetime.min.time()):
                self.error(node.lc.value("closes"), f"the consultation closes ({closes}) before it opens ({opens})")
        return Consultation(purpose=purpose or "", info_url=info_url, opens=opens, closes=closes,
                            purpose_texts=purpose_texts)

    def read_reminder(self, data: CommentedMap, expires_after: timedelta | None) -> dict[str, Any] | None:
        node = data["reminder"]
        if not isinstance(node, CommentedMap):
            self.error(data.lc.value("reminder"), "'reminder' should hold after: and the text per language")
            return None
        self.check_keys(node, ("after",), "reminder", languages=True)
        self.require(node, ("after",), "reminder")
        after = self.duration(node, "after")
        text = self.inline_texts(node, "the reminder")
        self.require_languages(text, _pos(node, data.lc.value("reminder")), "the reminder")
        if after and expires_after and after >= expires_after:
            self.warn(node.lc.value("after"), "the reminder would come after the run has expired (expires_after)")
        return {"after": after, "text": text}

    # -- steps

    def read_steps(self, data: CommentedMap, max_attempts: int) -> list[Step]:
        node = data.get("steps")
        if node is None:
            return []
        if not isinstance(node, CommentedSeq) or not node:
            self.error(data.lc.value("steps"), "'steps' should be a list of steps, each starting with '- id:'")
            return []
        steps = [self.read_step(item, i, node.lc.item(i), max_attempts) for i, item in enumerate(node)]
        return [s for s in steps if s is not None]

    def read_step(self, node: Any, index: int, item_pos: Pos, max_attempts: int) -> Step | None:
        if not isinstance(node, CommentedMap):
            self.error(item_pos, "each step should be keys such as id:, ask: or say:, ...")
            return None
        pos = _pos(node, item_pos)
        step_id = node.get("id")
        where = f"step '{step_id}'" if isinstance(step_id, (str, int)) else f"step {index + 1}"
        self.check_keys(node, STEP_KEYS, where)
        if not self.require(node, ("id",), where):
            step_id = None
        else:
            step_id = str(_plain(step_id))
            id_pos = node.lc.value("id")
            if not _STEP_ID.match(step_id):
                self.error(id_pos, f"step id '{step_id}' should be letters, digits, - and _ only")
            elif step_id == END:
                self.error(id_pos, "'end' is kept for finishing a run; give the step another id")
            elif step_id in self.step_pos:
                first = self.step_pos[step_id][0] + 1
                self.error(id_pos, f"step id '{step_id}' is used twice (first on line {first})")
                step_id = None
            else:
                self.step_pos[step_id] = id_pos

        kind = self.step_kind(node, pos, where)
        prompt_key = "say" if kind == SAY else "ask"
        prompt = self.texts(node, prompt_key, where) if node.get(prompt_key) is not None else {}
        if node.get(prompt_key, "") is None:
            self.error(node.lc.key(prompt_key), f"'{prompt_key}' of {where} is empty")
        easy_read = self.texts(node, "easy_read", where) if node.get("easy_read") is not None else {}

        spec: dict[str, Any] = {}
        if kind in (CHOICE, MULTIPLE):
            spec["choices"] = self.read_choices(node, where)
            if kind == MULTIPLE:
                spec.update(self.bounds(node, where, "picks", whole=True))
                self.check_picks(node, spec, len(spec["choices"]))
            if node.get("save_to") == "language":
                for choice in spec["choices"]:
                    if choice.value not in self.langs:
                        self.warn(node.lc.value("save_to"), f"choice '{choice.value}' is saved to language but is "
                                  f"not one of this flow's languages ({', '.join(self.langs)})")
        elif kind == YES_NO:
            spec["yes_no_labels"] = self.read_yes_no(node, where)
        elif kind == NUMBER:
            spec.update(self.read_number(node, where))
        elif kind == SCALE:
            spec.update(self.read_scale(node, where))
        elif kind == TEXT:
            spec.update(self.read_text_spec(node, where))
        if kind not in (MULTIPLE, SAY, None):
            inside = {NUMBER: "; put it inside 'number:'", SCALE: "; put it inside 'scale:'"}.get(kind, "")
            for key in ("min", "max"):
                if key in node:
                    self.error(node.lc.key(key), f"'{key}' on a step counts the picks of a multiple choice "
                               f"(multiple: true){inside}")
        if "multiple" in node and kind not in (CHOICE, MULTIPLE, SAY, None):
            self.error(node.lc.key("multiple"), "'multiple' goes with 'choices'")

        routes = self.read_next(node, step_id or "", kind, spec.get("choices", ())) if "next" in node else ()
        save_to = self.string(node, "save_to", "'save_to'")
        if save_to and not _FIELD.match(save_to):
            self.error(node.lc.value("save_to"), f"'save_to' should name a contact field such as ward or age_band, "
                       f"not '{save_to}'")
        optional = self.boolean(node, "optional")
        attempts = self.integer(node, "max_attempts", 1) or max_attempts
        skip_words = self.words_per_language(node, "skip_words") if node.get("skip_words") is not None else {}
        special_category = self.boolean(node, "special_category")
        consent_for = self.string(node, "consent_for", "'consent_for'")
        if consent_for is not None and consent_for not in CONSENT_SCOPES:
            self.error(node.lc.value("consent_for"), f"'consent_for' can be {', '.join(CONSENT_SCOPES)}, "
                       f"not '{consent_for}'")
            consent_for = None
        if consent_for is not None and kind not in (YES_NO, None):
            self.error(node.lc.key("consent_for"), "'consent_for' goes on a yes/no question: a yes is the consent")
            consent_for = None
        note = self.string(node, "note", "'note'") or ""
        self.outline.append(_Outline(step_id, kind, routes, pos))
        if step_id is None or kind is None:
            return None
        return Step(id=step_id, kind=kind, prompt=prompt, easy_read=easy_read, routes=routes, optional=optional,
                    max_attempts=attempts, save_to=save_to, skip_words=skip_words, special_category=special_category,
                    consent_for=consent_for, note=note, line=pos[0] + 1, **spec)

    def step_kind(self, node: CommentedMap, pos: Pos, where: str) -> str | None:
        answers = [k for k in ANSWER_KEYS if k in node]
        if "say" in node:
            if "ask" in node:
                self.error(node.lc.key("say"), f"{where} has both 'ask' and 'say'; a step does one or the other")
                return None
            for key in [*answers, *(k for k in QUESTION_ONLY if k in node)]:
                self.error(node.lc.key(key), f"{where} is a message ('say') and takes no answer, so '{key}' "
                           "does not belong here")
            return SAY
        if "ask" not in node:
            self.error(pos, f"{where} needs 'ask' (a question) or 'say' (a message)")
            return None
        if not answers:
            if any(did_you_mean(k, ANSWER_KEYS) for k in node if k not in STEP_KEYS):
                return None  # a misspelt answer key, already reported
            self.error(pos, f"{where} asks a question but does not say what answer it takes: add one of "
                       "choices, yes_no, number, scale or text")
            return None
        for key in answers[1:]:
            self.error(node.lc.key(key), f"{where} has both '{answers[0]}' and '{key}'; a question takes one kind "
                       "of answer")
        kind = {"choices": CHOICE, "yes_no": YES_NO, "number": NUMBER, "scale": SCALE, "text": TEXT}[answers[0]]
        if kind == CHOICE and "multiple" in node and self.boolean(node, "multiple"):
            return MULTIPLE
        return kind

    def read_choices(self, node: CommentedMap, where: str) -> tuple[Choice, ...]:
        items = node["choices"]
        if not isinstance(items, CommentedSeq) or not items:
            self.error(node.lc.value("choices") if items is not None else node.lc.key("choices"),
                       f"'choices' of {where} should be a list like - {{value: safe, en: Safe}}")
            return ()
        choices, seen, labels_seen = [], {}, {}
        for i, item in enumerate(items):
            ipos = items.lc.item(i)
            if not isinstance(item, CommentedMap):
                self.error(ipos, f"each choice of {where} needs a value and a label per language, "
                           "e.g. {value: safe, en: Safe}")
                continue
            value = _plain(item.get("value"))
            what = f"choice '{value}' of {where}" if value is not None else f"choice {i + 1} of {where}"
            self.check_keys(item, CHOICE_KEYS, what, languages=True)
            if value is None:
                self.error(_pos(item, ipos), f"{what} is missing 'value'")
            elif isinstance(value, bool) or not str(value).strip():
                self.error(item.lc.value("value"), f"the value of {what} should be a word such as 'safe'")
                value = None
            else:
                value = str(value).strip()
                if value in seen:
                    self.error(item.lc.value("value"),
                               f"choice value '{value}' is used twice in {where} (first on line {seen[value]})")
                else:
                    seen[value] = item.lc.value("value")[0] + 1
            labels = self.inline_texts(item, what)
            self.require_languages(labels, _pos(item, ipos), what)
            for lang, label in labels.items():
                key = (lang, label.casefold())
                if key in labels_seen:
                    self.warn(item.lc.value(lang), f"two choices of {where} have the same label '{label}'")
                labels_seen[key] = True
                if label.strip().isdigit():
                    self.warn(item.lc.value(lang), f"label '{label}' looks like an option number: a reply of "
                              f"'{label}' picks option {label}, not this choice")
            synonyms = self.words_per_language(item, "also") if item.get("also") is not None else {}
            if value is not None:
                choices.append(Choice(value=value, labels=labels, synonyms=synonyms))
        return tuple(choices)

    def bounds(self, node: CommentedMap, where: str, what: str, whole: bool = False) -> dict[str, Any]:
        """Read min and max from `node`, reporting non-numbers and min above max."""
        result: dict[str, Any] = {}
        for key in ("min", "max"):
            if node.get(key) is None:
                continue
            value = _plain(node[key])
            if not _is_number(value) or (whole and not isinstance(value, int)):
                kind = "a whole number" if whole else "a number"
                self.error(node.lc.value(key), f"'{key}' of the {what} in {where} should be {kind}, not '{value}'")
            else:
                result[key] = value
        if "min" in result and "max" in result and result["min"] > result["max"]:
            self.error(node.lc.value("min"), f"'min' ({result['min']}) is more than 'max' ({result['max']}) "
                       f"for the {what} in {where}")
        return result

    def check_picks(self, node: CommentedMap, spec: dict[str, Any], count: int) -> None:
        if spec.get("min") is not None and spec["min"] < 0:
            self.error(node.lc.value("min"), "'min' picks cannot be below 0")
        if count and spec.get("max") is not None and spec["max"] > count:
            self.error(node.lc.value("max"), f"'max' ({spec['max']}) is more than the {count} choices")
        if count and spec.get("min") is not None and spec["min"] > count:
            self.error(node.lc.value("min"), f"'min' ({spec['min']}) is more than the {count} choices")

    def sub_mapping(self, node: CommentedMap, key: str, allowed: Sequence[str], where: str) -> CommentedMap | None:
        """Return the mapping under `key` ({} for true or nothing), reporting anything else."""
        value = node[key]
        if value is None or value is True:
            return CommentedMap()
        if not isinstance(value, CommentedMap):
            self.error(node.lc.value(key), f"'{key}' of {where} should be true or hold {', '.join(allowed)}")
            return None
        self.check_keys(value, allowed, f"'{key}' of {where}")
        return value

    def read_yes_no(self, node: CommentedMap, where: str) -> dict[str, dict[str, str]]:
        spec = self.sub_mapping(node, "yes_no", ("yes", "no"), where)
        if not spec:
            return {}
        return {k: self.texts(spec, k, f"yes_no of {where}") for k in ("yes", "no") if spec.get(k) is not None}

    def read_number(self, node: CommentedMap, where: str) -> dict[str, Any]:
        spec = self.sub_mapping(node, "number", ("min", "max", "integer"), where)
        if spec is None:
            return {}
        result = self.bounds(spec, where, "number")
        if "integer" in spec:
            result["integer"] = self.boolean(spec, "integer")
            for key in ("min", "max"):
                if result["integer"] and isinstance(result.get(key), float) and not result[key].is_integer():
                    self.error(spec.lc.value(key), f"'{key}' should be a whole number when integer is true")
        return result

    def read_scale(self, node: CommentedMap, where: str) -> dict[str, Any]:
        spec = self.sub_mapping(node, "scale", ("min", "max", "labels"), where)
        if spec is None:
            return {}
        result = {"min": 1, "max": 5, "integer": True, **self.bounds(spec, where, "scale", whole=True)}
        if result["max"] - result["min"] > 10 and result["min"] <= result["max"]:
            self.error(_pos(spec, node.lc.value("scale")), f"the scale of {where} has more than 11 points; "
                       "use number: for a wider range")
        labels = spec.get("labels")
        if labels is not None:
            if not isinstance(labels, CommentedMap):
                self.error(spec.lc.value("labels"), "scale 'labels' should map points to texts: {1: {en: Very poor}}")
            else:
                result["labels"] = {}
                for point in labels:
                    ppos = labels.lc.key(point)
                    if not isinstance(point, int) or isinstance(point, bool):
                        self.error(ppos, f"scale label '{point}' should be a point of the scale, a whole number")
                    elif not result["min"] <= point <= result["max"]:
                        self.error(ppos, f"scale label {point} is outside the scale "
                                         f"({result['min']} to {result['max']})")
                    else:
                        result["labels"][int(point)] = self.texts(labels, point, f"scale label {point} of {where}")
        return result

    def read_text_spec(self, node: CommentedMap, where: str) -> dict[str, Any]:
        spec = self.sub_mapping(node, "text", ("max_length",), where)
        if spec is None:
            return {}
        max_length = self.integer(spec, "max_length", 1)
        return {"max_length": max_length} if max_length else {}

    # -- next

    def read_next(self, node: CommentedMap, step_id: str, kind: str | None,
                  choices: tuple[Choice, ...]) -> tuple[Route, ...]:
        value = node["next"]
        if isinstance(value, str):
            self.targets.append((str(value), node.lc.value("next")))
            return (Route(str(value)),)
        if isinstance(value, CommentedMap):
            return self.read_next_mapping(value, step_id, kind, choices)
        if isinstance(value, CommentedSeq):
            return self.read_next_list(value, step_id)
        self.error(node.lc.value("next"), "'next' should be a step id, a mapping of answers to steps, or a list "
                   "of '- if: ... goto: ...'")
        return ()

    def read_next_mapping(self, value: CommentedMap, step_id: str, kind: str | None,
                          choices: tuple[Choice, ...]) -> tuple[Route, ...]:
        routes, default = [], None
        for key, target in value.items():
            kpos, vpos = value.lc.key(key), value.lc.value(key)
            if not isinstance(target, str):
                self.error(vpos, f"'{target}' should be the id of a step to go to")
                continue
            self.targets.append((str(target), vpos))
            if key == "default":
                default = Route(str(target))
                continue
            answer = self.branch_value(_plain(key), kpos, kind, choices, step_id)
            if answer is not None:
                routes.append(Route(str(target), Condition("answer", step_id, "equals", answer)))
        return (*routes, default) if default else tuple(routes)

    def branch_value(self, key: Any, pos: Pos, kind: str | None, choices: tuple[Choice, ...], step_id: str) -> Any:
        """Return the answer a `next:` mapping key stands for, reporting keys the question cannot give."""
        if kind in (CHOICE, MULTIPLE):
            values = [c.value for c in choices]
            if str(key) not in values:
                self.error(pos, f"'{key}' is not a choice of step '{step_id}'{did_you_mean(key, values)}")
                return None
            return str(key)
        if kind == YES_NO:
            if key in (True, "yes"):
                return "yes"
            if key in (False, "no"):
                return "no"
            self.error(pos, f"a yes/no question branches on 'yes', 'no' or 'default', not '{key}'")
            return None
        if kind in (NUMBER, SCALE):
            if not _is_number(key):
                self.error(pos, f"'{key}' is not a number; branch on ranges with the list form (if: at_least ...)")
                return None
            return key
        if kind is not None:
            what = "a message" if kind == SAY else "a free-text question"
            self.error(pos, f"step '{step_id}' is {what}: it can only use 'default' here, or the list form with 'if:'")
        return None

    def read_next_list(self, value: CommentedSeq, step_id: str) -> tuple[Route, ...]:
        routes = []
        for i, item in enumerate(value):
            ipos = value.lc.item(i)
            if not isinstance(item, CommentedMap):
                self.error(ipos, "each route should be '- if: {...}' with 'goto: <step>', or just '- goto: <step>'")
                continue
            self.check_keys(item, ("if", "goto"), "a route")
            if item.get("goto") is None:
                self.error(_pos(item, ipos), "this route is missing 'goto'")
                continue
            target = item["goto"]
            if not isinstance(target, str):
                self.error(item.lc.value("goto"), f"'{target}' should be the id of a step to go to")
                continue
            self.targets.append((str(target), item.lc.value("goto")))
            when = None
            if "if" in item:
                when = self.read_condition(item["if"], item.lc.value("if"))
                if when is None:
                    continue
            elif i < len(value) - 1:
                self.warn(_pos(item, ipos), "this route has no 'if', so the routes after it are never used")
            routes.append(Route(str(target), when))
        return tuple(routes)

    def read_condition(self, node: Any, pos: Pos) -> Condition | None:
        if not isinstance(node, CommentedMap):
            self.error(pos, "'if' should be a test like {answer: feel_safe, equals: unsafe}")
            return None
        for combinator in ("all", "any"):
            if combinator in node:
                self.check_keys(node, (combinator,), f"'{combinator}'")
                parts_node = node[combinator]
                if not isinstance(parts_node, CommentedSeq) or not parts_node:
                    self.error(node.lc.value(combinator), f"'{combinator}' should be a list of tests")
                    return None
                parts = [self.read_condition(p, parts_node.lc.item(i)) for i, p in enumerate(parts_node)]
                if any(p is None for p in parts):
                    return None
                return Condition(combinator, parts=tuple(parts))
        self.check_keys(node, ("answer", "field", *OPERATORS), "'if'")
        subjects = [k for k in ("answer", "field") if k in node]
        operators = [k for k in OPERATORS if k in node]
        if len(subjects) != 1:
            self.error(_pos(node, pos), "a test names one 'answer: <step>' or one 'field: <contact field>'")
            return None
        if len(operators) != 1:
            self.error(_pos(node, pos), f"a test needs exactly one of {', '.join(OPERATORS)}")
            return None
        subject, op = subjects[0], operators[0]
        name, operand, opos = node[subject], _plain(node[op]), node.lc.value(op)
        if not isinstance(name, str) or not name.strip():
            named = "step" if subject == "answer" else "contact field"
            self.error(node.lc.value(subject), f"'{subject}' should name a {named}")
            return None
        if op in ("in", "not_in"):
            if not isinstance(operand, list) or not operand:
                self.error(opos, f"'{op}' needs a list, e.g. {op}: [Bush Fair, Netteswell]")
                return None
            operand = [_plain(v) for v in operand]
        elif op in ("at_least", "at_most", "more_than", "less_than"):
            if not _is_number(operand):
                self.error(opos, f"'{op}' needs a number, not '{operand}'")
                return None
        elif op == "exists":
            if not isinstance(operand, bool):
                self.error(opos, "'exists' should be true or false")
                return None
        elif operand is None or isinstance(operand, (list, dict)):
            self.error(opos, f"'{op}' needs one value; use 'in' for a list")
            return None
        condition = Condition(subject, str(name), op, operand)
        if subject == "answer":
            self.answer_tests.append((condition, node.lc.value("answer"), opos))
        return condition

    # -- whole-flow checks

    def check_references(self, steps: list[Step]) -> None:
        ids = [s.id for s in steps]
        by_id = {s.id: s for s in steps}
        for target, pos in self.targets:
            if target != END and target not in self.step_pos:
                close = difflib.get_close_matches(target, [*self.step_pos, END], n=1, cutoff=0.6)
                if close:
                    self.misspelt[target] = close[0]
                self.error(pos, f"'{target}' is not a step{did_you_mean(target, [*ids, END])} "
                           "(use 'end' to finish the run)")
        for cond, name_pos, operand_pos in self.answer_tests:
            step = by_id.get(cond.name)
            if step is None:
                if cond.name not in self.step_pos:
                    self.error(name_pos, f"there is no step '{cond.name}' to test the answer of"
                               f"{did_you_mean(cond.name, ids)}")
                continue
            if step.kind == SAY:
                self.error(name_pos, f"step '{cond.name}' is a message ('say') and has no answer to test")
                continue
            operands = cond.operand if cond.op in ("in", "not_in") else [cond.operand]
            if step.kind in (CHOICE, MULTIPLE) and cond.op in ("equals", "not_equals", "in", "not_in"):
                values = [c.value for c in step.choices]
                for operand in operands:
                    if str(operand) not in values:
                        self.error(operand_pos, f"'{operand}' is not a choice of step '{step.id}'"
                                   f"{did_you_mean(operand, values)}")
            if step.kind == YES_NO and cond.op in ("equals", "not_equals", "in", "not_in"):
                for operand in operands:
                    if operand not in (True, False, "yes", "no"):
                        self.error(operand_pos, f"step '{step.id}' is a yes/no question: test it against yes or no")
            if cond.op in ("at_least", "at_most", "more_than", "less_than") and step.kind not in (NUMBER, SCALE):
                self.error(operand_pos, f"'{cond.op}' compares numbers, but step '{step.id}' is not a number or scale")

    def check_graph(self, steps: list[Step]) -> None:
        """Report steps nothing leads to, and messages that loop without a question.

        Runs on every step as far as it could be read, so a mistake inside one step does not hide
        these problems elsewhere. A step without a readable id is still a link in the chain (the
        step above falls through to it, and it to the one below); a `next` to a misspelt step is
        followed to the step it most likely meant, so that step is not reported as well.
        """
        outline = self.outline
        if not outline:
            return
        # A step's node: its id, or its place for a step whose id could not be read (or is used twice).
        nodes = [o.step_id if o.step_id in self.step_pos else f"#{i}" for i, o in enumerate(outline)]
        known = set(nodes)

        def successors(i: int) -> list[str]:
            routes = outline[i].routes
            found = [t for t in (self.misspelt.get(r.goto, r.goto) for r in routes) if t in known]
            if all(r.when is not None for r in routes) and i + 1 < len(outline):
                found.append(nodes[i + 1])
            return found

        graph = {nodes[i]: successors(i) for i in range(len(outline))}
        seen, todo = {nodes[0]}, [nodes[0]]
        while todo:
            for nxt in graph[todo.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        order = {node: i for i, node in enumerate(nodes)}
        for node, item in zip(nodes, outline, strict=True):
            if node not in seen and item.step_id is not None and not node.startswith("#"):
                self.error(self.step_pos[node], f"step '{node}' can never be reached: no step leads to it")
        says = {node for node, item in zip(nodes, outline, strict=True) if item.kind == SAY}
        for cycle in _cycles({s: [t for t in graph[s] if t in says] for s in says}):
            first = min(cycle, key=order.__getitem__)
            names = " -> ".join(f"'{s}'" for s in sorted(cycle, key=order.__getitem__) if not s.startswith("#"))
            where = self.step_pos.get(first) or outline[order[first]].pos
            self.error(where, f"steps {names} loop back with no question in between: "
                       "residents would be sent messages without end")


def _cycles(graph: dict[str, list[str]]) -> list[set[str]]:
    """Return the strongly connected parts of the graph that loop (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            part = set()
            while True:
                top = stack.pop()
                on_stack.discard(top)
                part.add(top)
                if top == node:
                    break
            if len(part) > 1 or node in graph[node]:
                found.append(part)

    for node in graph:
        if node not in index:
            visit(node)
    return found


def _parse(text: str, path: str) -> _Parsed:
    reader = _Reader(text, path)
    flow = reader.read()
    problems = sorted(reader.problems, key=lambda p: (p.line, p.col))
    return _Parsed(path, flow, problems, reader.flow_id, reader.id_pos, reader.keywords)


def _read_file(path: Path) -> _Parsed:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return _Parsed(str(path), None, [Problem(str(path), 1, 1, f"cannot read the file: {exc}")])
    return _parse(text, str(path))


def _check_across(parsed: list[_Parsed]) -> list[Problem]:
    """Report what is wrong between flows: one id or one keyword used by two of them."""
    problems = []
    ids: dict[str, _Parsed] = {}
    keywords: dict[str, tuple[_Parsed, Pos]] = {}
    for item in parsed:
        if item.flow_id:
            first = ids.setdefault(item.flow_id, item)
            if first is not item:
                line, col = item.id_pos
                problems.append(Problem(item.path, line + 1, col + 1, f"flow id '{item.flow_id}' is also used by "
                                        f"{first.path}:{first.id_pos[0] + 1}"))
        for word, pos in item.keywords.items():
            first_kw = keywords.setdefault(word, (item, pos))
            if first_kw[0] is not item:
                other, other_pos = first_kw
                problems.append(Problem(item.path, pos[0] + 1, pos[1] + 1, f"keyword '{word}' is also used by flow "
                                        f"'{other.flow_id}' ({other.path}:{other_pos[0] + 1})"))
    return problems


def flow_files(folder: str | Path) -> list[Path]:
    """Return the folder's *.yaml and *.yml files, sorted by name."""
    return sorted(p for p in Path(folder).iterdir() if p.is_file() and p.suffix in (".yaml", ".yml"))


def load_flow_text(text: str, path: str = "<string>") -> Flow:
    """Load one flow from YAML text; raise FlowError listing every error (warnings do not stop it)."""
    parsed = _parse(text, str(path))
    if parsed.flow is None:
        raise FlowError([p for p in parsed.problems if p.severity == "error"])
    return parsed.flow


def load_flow(path: str | Path) -> Flow:
    """Load one flow from a YAML file; raise FlowError listing every error."""
    parsed = _read_file(Path(path))
    if parsed.flow is None:
        raise FlowError([p for p in parsed.problems if p.severity == "error"])
    return parsed.flow


def load_flows_dir(folder: str | Path) -> tuple[dict[str, Flow], list[Problem]]:
    """Load every flow in a folder; a flow with errors, or clashing with an earlier file, is left out."""
    parsed = [_read_file(p) for p in flow_files(folder)]
    across = _check_across(parsed)
    clashing = {p.path for p in across}
    flows = {item.flow.id: item.flow for item in parsed if item.flow is not None and item.path not in clashing}
    problems = [p for item in parsed for p in item.problems] + across
    return flows, sorted(problems, key=lambda p: (p.path, p.line, p.col))
