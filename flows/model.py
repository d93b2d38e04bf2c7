"""A flow as loaded from YAML: frozen dataclasses the engine walks and other rooms read."""
from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

# A text in every language of the flow: {"en": "...", "cy": "..."}.
Texts = Mapping[str, str]

DEFAULT_TZ = "Europe/London"
DEFAULT_MAX_ATTEMPTS = 3
END = "end"  # `goto: end` / `next: end` finishes the run

# Step kinds. `say` expects no answer; the others are questions.
SAY, CHOICE, MULTIPLE, YES_NO, NUMBER, SCALE, TEXT = "say", "choice", "multiple", "yes_no", "number", "scale", "text"
QUESTION_KINDS = (CHOICE, MULTIPLE, YES_NO, NUMBER, SCALE, TEXT)


@dataclass(frozen=True)
class Choice:
    """One option of a choice question: the stored value and its label per language."""

    value: str
    labels: Mapping[str, str]
    # Extra words a resident might type for this option, per language (`also:` in YAML).
    synonyms: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Condition:
    """A test on an earlier answer or a contact field; `all`/`any` combine others."""

    subject: str  # "answer" | "field" | "all" | "any"
    name: str = ""  # the step id (answer) or the contact field name (field)
    op: str = ""  # equals | not_equals | in | not_in | at_least | at_most | more_than | less_than | exists
    operand: Any = None
    parts: tuple[Condition, ...] = ()


@dataclass(frozen=True)
class Route:
    """Where to go next: to `goto` when `when` holds (always, when it is None)."""

    goto: str
    when: Condition | None = None


@dataclass(frozen=True)
class Step:
    """One step of a flow: a message (`say`) or a question of some kind."""

    id: str
    kind: str
    # The `ask` or `say` text.
    prompt: Texts
    easy_read: Texts = field(default_factory=dict)
    choices: tuple[Choice, ...] = ()
    # Bounds of a number or scale answer; least and most picks of a multiple choice.
    min: float | None = None
    max: float | None = None
    integer: bool = False
    # Scale point -> label texts, e.g. {1: {"en": "Very poor"}, 5: {"en": "Very good"}}.
    labels: Mapping[int, Texts] = field(default_factory=dict)
    # yes_no only: button labels, {"yes": Texts, "no": Texts}; empty means the built-in words.
    yes_no_labels: Mapping[str, Texts] = field(default_factory=dict)
    max_length: int | None = None
    # Tried in order; when none applies the run falls through to the next step in the file.
    routes: tuple[Route, ...] = ()
    optional: bool = False
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    save_to: str | None = None
    skip_words: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # Asks about ethnicity, health, religion...: only to be asked after consent (metadata for now).
    special_category: bool = False
    # A yes/no step whose "yes" is consent for a kind of data ("special_category"): the
    # conversation service keeps a consent record for the answer.
    consent_for: str | None = None
    note: str = ""
    line: int = field(default=0, compare=False)  # 1-based line of the step in its file

    @property
    def is_question(self) -> bool:
        return self.kind != SAY


@dataclass(frozen=True)
class Consultation:
    """What a flow consults on, where to read more, and when it is open."""

    purpose: str = ""
    info_url: str | None = None
    opens: date | datetime | None = None
    closes: date | datetime | None = None
    # The purpose per language when given as a mapping; `purpose` is then the base language text.
    purpose_texts: Texts = field(default_factory=dict)

    def opens_at(self, tz: str = DEFAULT_TZ) -> datetime | None:
        """Return the opening moment in UTC: 00:00 local time when only a date was given."""
        return _to_utc(self.opens, tz, time(0, 0, 0))

    def closes_at(self, tz: str = DEFAULT_TZ) -> datetime | None:
        """Return the closing moment in UTC: 23:59:59 local time when only a date was given."""
        return _to_utc(self.closes, tz, time(23, 59, 59))

    def is_open(self, now: datetime, tz: str = DEFAULT_TZ) -> bool:
        """Return True when `now` (aware) falls between opening and closing, both included."""
        opens, closes = self.opens_at(tz), self.closes_at(tz)
        return (opens is None or now >= opens) and (closes is None or now <= closes)


def _to_utc(value: date | datetime | None, tz: str, at: time) -> datetime | None:
    if value is None:
        return None
    zone = ZoneInfo(tz)
    if isinstance(value, datetime):
        local = value if value.tzinfo is not None else value.replace(tzinfo=zone)
    else:
        local = datetime.combine(value, at, tzinfo=zone)
    return local.astimezone(timezone.utc)


@dataclass(frozen=True)
class Flow:
    """A whole flow: metadata, languages, consultation details and steps in file order."""

    id: str
    title: str
    languages: list[str]
    steps: tuple[Step, ...]
    keywords: list[str] = field(default_factory=list)
    # The language each keyword belongs to, when the flow gave its keywords per language
    # (`keywords: {en: [SAFE], cy: [DIOGEL]}`); a keyword from a plain list is not in here.
    keyword_languages: Mapping[str, str] = field(default_factory=dict)
    # The title per language when given as a mapping; `title` is then the base language text.
    title_texts: Texts = field(default_factory=dict)
    consultation: Consultation | None = None
    expires_after: timedelta | None = None
    restart_after_days: int | None = None
    # A resident who finished may text the keyword again to change their answers (the new run
    # replaces the old one in results); without it they are told they have already taken part.
    allow_change: bool = False
    # {"after": timedelta, "text": {lang: text}}: sent once to a run left unanswered that long.
    reminder: dict[str, Any] | None = None
    keep_free_text: bool = False
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    skip_words: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    description: str = ""
    # Listed on the public consultations page even without consultation dates.
    public: bool = False
    # Headline results published at /results/<id> while the consultation is still open.
    public_results: bool = False
    # The approved WhatsApp template (Twilio Content SID) per language, for messages that reach a WhatsApp
    # resident outside the 24-hour window (broadcasts, reminders, "you said, we did").
    whatsapp_templates: Mapping[str, str] = field(default_factory=dict)
    # The council phone number (E.164 or UK national) whose inbound calls start this flow (docs/voice.md).
    voice_number: str | None = None
    source: str = field(default="", repr=False)
    path: str | None = None
    version: str = field(init=False, compare=False)
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "keywords", [k.upper() for k in self.keywords])
        object.__setattr__(self, "keyword_languages", {k.upper(): v for k, v in self.keyword_languages.items()})
        object.__setattr__(self, "version", hashlib.sha256(self.source.encode("utf-8")).hexdigest())
        object.__setattr__(self, "_index", {s.id: i for i, s in enumerate(self.steps)})

    @property
    def base_language(self) -> str:
        return self.languages[0]

    def keyword_language(self, word: str) -> str | None:
        """Return the language a keyword was given in, or None for a keyword of a plain list."""
        return self.keyword_languages.get(word.strip().upper())

    def keywords_in(self, lang: str | None) -> list[str]:
        """Return the keywords a resident of `lang` should text: theirs, else the base language's.

        A plain keyword list belongs to the base language.
        """
        def of(code: str) -> list[str]:
            return [k for k in self.keywords
                    if self.keyword_languages.get(k, self.base_language) == code]

        return (of(lang) if lang else []) or of(self.base_language) or list(self.keywords)

    def title_in(self, lang: str | None) -> str:
        """Return the flow's title in `lang`, falling back to the base language's."""
        return (self.title_texts.get(lang or "") if self.title_texts else None) or self.title

    def step(self, step_id: str) -> Step:
        """Return the step with this id; raise KeyError when there is none."""
        return self.steps[self._index[step_id]]

    def has_step(self, step_id: str) -> bool:
        return step_id in self._index

    def step_after(self, step_id: str) -> Step | None:
        """Return the step following this one in the file, or None after the last."""
        i = self._index[step_id] + 1
        return self.steps[i] if i < len(self.steps) else None

    def text(self, texts: Texts | Step, lang: str, easy_read: bool = False) -> str:
        """Return a text in `lang`, falling back to the base language.

        Given a Step, return its ask/say text; with easy_read, prefer its easy-read variant in
        `lang` (then the normal text in `lang`, then the base easy-read, then the base text).
        """
        if isinstance(texts, Step):
            step = texts
            if easy_read and step.easy_read:
                if step.easy_read.get(lang):
                    return step.easy_read[lang]
                if not step.prompt.get(lang) and step.easy_read.get(self.base_language):
                    return step.easy_read[self.base_language]
            texts = step.prompt
        return texts.get(lang) or texts.get(self.base_language) or next(iter(texts.values()), "")

    def reminder_text(self, lang: str) -> str | None:
        """Return the reminder message in `lang` (with fallback), or None when there is no reminder."""
        return self.text(self.reminder["text"], lang) if self.reminder else None

    def texts(self) -> Iterator[tuple[str | None, str, Texts]]:
        """Yield (step_id or None for flow-level, field, {lang: text}) for every translatable text."""
        if self.title_texts:
            yield None, "title", self.title_texts
        if self.consultation and self.consultation.purpose_texts:
            yield None, "purpose", self.consultation.purpose_texts
        if self.reminder:
            yield None, "reminder", self.reminder["text"]
        for step in self.steps:
            yield step.id, SAY if step.kind == SAY else "ask", step.prompt
            if step.easy_read:
                yield step.id, "easy_read", step.easy_read
            for choice in step.choices:
                yield step.id, f"choice:{choice.value}", choice.labels
            for point, texts in step.labels.items():
                yield step.id, f"label:{point}", texts
            for answer, texts in step.yes_no_labels.items():
                yield step.id, answer, texts
