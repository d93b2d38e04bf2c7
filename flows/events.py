"""What the engine says happened in a turn: small, named in the past tense, JSON-friendly."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar


@dataclass(frozen=True)
class Event:
    type: ClassVar[str] = "event"

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict with the event's type name first."""
        return {"type": self.type, **asdict(self)}


@dataclass(frozen=True)
class ChoiceOption:
    """One option of a question as shown to a resident: 1-based number, stored value, label."""

    number: int
    value: str
    label: str


@dataclass(frozen=True)
class QuestionAsked(Event):
    """A question to put to the resident (also sent again after a rejected answer)."""

    type: ClassVar[str] = "question_asked"
    step_id: str
    lang: str
    text: str
    # choice | multiple | yes_no | number | scale | text
    kind: str
    choices: tuple[ChoiceOption, ...] = ()
    optional: bool = False
    reprompt: bool = False
    # Bounds for number/scale (min, max), max_length for text, yes/no labels...
    hints: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class MessageSaid(Event):
    """A `say` step: text with no answer expected."""

    type: ClassVar[str] = "message_said"
    step_id: str
    lang: str
    text: str


@dataclass(frozen=True)
class AnswerRejected(Event):
    """The reply did not fit; `reason` is a code the caller turns into words in the resident's language."""

    type: ClassVar[str] = "answer_rejected"
    step_id: str
    lang: str
    raw_text: str
    # not_a_choice | not_yes_no | not_a_number | too_small | too_large | too_long | empty
    reason: str
    params: dict[str, Any] = field(default_factory=dict)
    attempts: int = 1


@dataclass(frozen=True)
class AnswerRecorded(Event):
    """A reply matched; `value` is str, list[str], int/float or bool."""

    type: ClassVar[str] = "answer_recorded"
    step_id: str
    value: Any
    raw_text: str
    confidence: float = 1.0


@dataclass(frozen=True)
class StepSkipped(Event):
    """A step was passed over: the resident said SKIP, or the attempts ran out."""

    type: ClassVar[str] = "step_skipped"
    step_id: str
    # skip_word | too_many_attempts
    reason: str
    raw_text: str = ""


@dataclass(frozen=True)
class ContactFieldChanged(Event):
    """An answer was saved to a contact field (ward, age_band, language...)."""

    type: ClassVar[str] = "contact_field_changed"
    field: str
    value: Any


@dataclass(frozen=True)
class RunEnded(Event):
    """The run reached its end."""

    type: ClassVar[str] = "run_ended"
    # completed | step_limit
    reason: str = "completed"


@dataclass(frozen=True)
class RunExpired(Event):
    """The run sat unfinished past the flow's `expires_after`."""

    type: ClassVar[str] = "run_expired"
    step_id: str | None = None
