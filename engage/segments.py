"""Segments: saved JSON rules over contacts, compiled to one SQL query, described in plain words.

Rules are small JSON objects an officer can read:

    {"all": [{"field": "ward", "in": ["Netteswell"]},
             {"group": "tenants"},
             {"answered": "street-safety"},
             {"not_contacted_days": 30}]}

Communities of place (ward, estate), identity (age_band, language, and
special-category fields only where the resident consented to them),
interest (groups), channel opt-in, and behaviour (answered a flow, started
but did not finish, not contacted lately).
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, false, func, not_, or_, select, true
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.elements import ColumnElement

from engage.field_values import fold, folded
from engage.results import counted_runs
from store.models import CHANNELS, CONSENT_OPTED_IN, Address, ConsentRecord, Contact, ContactGroup, OutboxMessage, Run
from store.models.outreach import Segment

# Contact.fields keys a segment may use without any further consent.
PLACE_FIELDS = ("ward", "estate", "postcode_district", "parish")
IDENTITY_FIELDS = ("age_band", "gender", "tenure")
# UK GDPR Article 9 data: usable only for contacts with a special_category consent record.
SPECIAL_CATEGORY_FIELDS = ("ethnicity", "disability", "religion", "health", "sexual_orientation")
FIELDS = PLACE_FIELDS + IDENTITY_FIELDS + SPECIAL_CATEGORY_FIELDS + ("language",)

BATCH_SIZE = 1000


class SegmentError(ValueError):
    """The rules cannot be understood; the message says which part and why."""


# ----- checking ------------------------------------------------------------------


# Limits that keep a rule within what one SQL query can hold: nesting, text lengths, days in a century.
MAX_DEPTH = 20
MAX_TEXT = 200
MAX_DAYS = 36_500


def _shown(rule: Any) -> str:
    """The rule as JSON, shortened, so an error can quote the rule it is about."""
    try:
        text = json.dumps(rule, ensure_ascii=False, default=str)
    except (TypeError, ValueError, RecursionError):
        text = repr(rule)
    return text if len(text) <= 80 else text[:77] + "..."


def _is_value(value: Any) -> bool:
    """A value a field may be compared with: text without NUL, or a number; not true/false, lists or objects."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return abs(value) < 10**15
    if isinstance(value, float):
        return value == value and abs(value) < 1e15
    return isinstance(value, str) and 0 < len(value) <= MAX_TEXT and "\x00" not in value


def _is_name(value: Any) -> bool:
    """A group name or flow id: text of 1 to MAX_TEXT characters without NUL."""
    return isinstance(value, str) and 0 < len(value.strip()) and len(value) <= MAX_TEXT and "\x00" not in value


def validate(rules: Any, path: str = "rules", depth: int = 0) -> None:
    """Raise SegmentError naming the first rule that is not understood: where it is, what it says, and why."""

    def bad(where: str, why: str) -> SegmentError:
        return SegmentError(f"{where}: {why} (in the rule {_shown(rules)})")

    if depth > MAX_DEPTH:
        raise bad(path, f"rules are nested more than {MAX_DEPTH} deep")
    if not isinstance(rules, dict) or len(rules) == 0:
        raise bad(path, "expected an object such as {\"all\": [...]}")
    if "all" in rules or "any" in rules:
        key = "all" if "all" in rules else "any"
        if len(rules) != 1:
            raise bad(path, f"'{key}' must be on its own")
        items = rules[key]
        if not isinstance(items, list):
            raise bad(f"{path}.{key}", "expected a list of rules")
        for i, item in enumerate(items):
            validate(item, f"{path}.{key}[{i}]", depth + 1)
        return
    if "not" in rules:
        if len(rules) != 1:
            raise bad(path, "'not' must be on its own")
        validate(rules["not"], f"{path}.not", depth + 1)
        return
    if "field" in rules:
        name = rules["field"]
        if not isinstance(name, str) or name not in FIELDS:
            named = f"'{name}'" if isinstance(name, str) else _shown(name)
            raise bad(f"{path}.field", f"unknown field {named}; use one of {', '.join(FIELDS)}")
        ops = [k for k in rules if k != "field"]
        if len(ops) != 1 or ops[0] not in ("in", "equals", "is_set"):
            raise bad(path, "a field rule needs exactly one of 'in', 'equals', 'is_set'")
        op = ops[0]
        if op == "in":
            values = rules["in"]
            if not (isinstance(values, list) and values):
                raise bad(f"{path}.in", "expected a non-empty list of values")
            for i, value in enumerate(values):
                if not _is_value(value):
                    raise bad(f"{path}.in[{i}]", f"expected text (up to {MAX_TEXT} characters) or a number")
        elif op == "equals" and not _is_value(rules["equals"]):
            raise bad(f"{path}.equals", f"expected text (up to {MAX_TEXT} characters) or a number")
        elif op == "is_set" and not isinstance(rules["is_set"], bool):
            raise bad(f"{path}.is_set", "expected true or false")
        return
    if "group" in rules:
        group = rules["group"]
        names = group if isinstance(group, list) else [group]
        if not names or not all(_is_name(g) for g in names):
            raise bad(f"{path}.group", "expected a group name or a list of names")
        _only(rules, "group", path, bad)
        return
    if "opted_in" in rules:
        if not isinstance(rules["opted_in"], str) or rules["opted_in"] not in CHANNELS:
            raise bad(f"{path}.opted_in", f"expected one of {', '.join(CHANNELS)}")
        _only(rules, "opted_in", path, bad)
        return
    for key in ("answered", "started_not_finished"):
        if key in rules:
            if not _is_name(rules[key]):
                raise bad(f"{path}.{key}", "expected a flow id")
            _only(rules, key, path, bad)
            return
    if "not_contacted_days" in rules:
        days = rules["not_contacted_days"]
        if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= MAX_DAYS:
            raise bad(f"{path}.not_contacted_days", f"expected a whole number of days, 1 to {MAX_DAYS}")
        _only(rules, "not_contacted_days", path, bad)
        return
    raise bad(path, f"not understood ({', '.join(sorted(map(str, rules)))}); use all, any, not, field, group, "
                    "opted_in, answered, started_not_finished or not_contacted_days")


def _only(rules: dict, key: str, path: str, bad) -> None:
    extra = sorted(set(rules) - {key})
    if extra:
        raise bad(path, f"'{key}' does not take {', '.join(extra)}")


# ----- compiling -----------------------------------------------------------------


def condition(rules: dict[str, Any], now: datetime) -> ColumnElement[bool]:
    """Compile rules to one SQL condition on Contact (correlated EXISTS for groups, runs, outbox)."""
    if "all" in rules:
        return and_(true(), *[condition(r, now) for r in rules["all"]])
    if "any" in rules:
        return or_(false(), *[condition(r, now) for r in rules["any"]])
    if "not" in rules:
        return not_(condition(rules["not"], now))
    if "field" in rules:
        return _field_condition(rules)
    if "group" in rules:
        names = rules["group"] if isinstance(rules["group"], list) else [rules["group"]]
        # "Tenants" finds members of "tenants": group names compare without minding case or accents.
        return exists().where(ContactGroup.contact_id == Contact.id,
                              folded(ContactGroup.name).in_(sorted({fold(n) for n in names})))
    if "opted_in" in rules:
        return exists().where(Address.contact_id == Contact.id, Address.channel == rules["opted_in"],
                              Address.consent == CONSENT_OPTED_IN, Address.usable.is_(True))
    if "answered" in rules:
        return exists().where(Run.contact_id == Contact.id, Run.flow_id == rules["answered"],
                              Run.status == "completed", counted_runs())
    if "started_not_finished" in rules:
        flow_id = rules["started_not_finished"]
        return and_(
            exists().where(Run.contact_id == Contact.id, Run.flow_id == flow_id, Run.status != "completed"),
            ~exists().where(Run.contact_id == Contact.id, Run.flow_id == flow_id, Run.status == "completed"),
        )
    if "not_contacted_days" in rules:
        cutoff = now - timedelta(days=rules["not_contacted_days"])
        return ~exists().where(OutboxMessage.contact_id == Contact.id, OutboxMessage.sent_at.is_not(None),
                               OutboxMessage.sent_at >= cutoff)
    raise SegmentError(f"not understood: {rules!r}")


def _field_condition(rule: dict[str, Any]) -> ColumnElement[bool]:
    name = rule["field"]
    column = Contact.language if name == "language" else Contact.fields[name].as_string()
    # "Netteswell" finds residents whose ward was saved as netteswell: values compare without minding
    # case, accents or `_`/`-`/spaces (engage.field_values.fold).
    if "in" in rule:
        cond = folded(column).in_(sorted({fold(v) for v in rule["in"]}))
    elif "equals" in rule:
        cond = folded(column) == fold(rule["equals"])
    else:
        cond = column.is_not(None) if rule["is_set"] else column.is_(None)
    if name in SPECIAL_CATEGORY_FIELDS:
        cond = and_(cond, special_category_consented())
    return cond


def special_category_consented() -> ColumnElement[bool]:
    """Return the condition: the contact opted in to special-category data and has not withdrawn since."""
    later = aliased(ConsentRecord)
    given = (
        select(ConsentRecord.id)
        .where(ConsentRecord.contact_id == Contact.id, ConsentRecord.scope == "special_category",
               ConsentRecord.action == "opt_in",
               ~exists().where(later.contact_id == ConsentRecord.contact_id, later.scope == "special_category",
                               later.action == "opt_out", later.at > ConsentRecord.at))
    )
    return exists(given)


def contacts_query(rules: dict[str, Any], now: datetime):
    """Return a SELECT of the ids of living (not erased) contacts the rules match."""
    validate(rules)
    return select(Contact.id).where(Contact.erased_at.is_(None), condition(rules, now))


def segment_size(session: Session, rules: dict[str, Any], now: datetime) -> int:
    """Count the contacts the rules match, before anything is sent."""
    query = contacts_query(rules, now).subquery()
    return session.scalar(select(func.count()).select_from(query)) or 0


def contact_id_batches(db, rules: dict[str, Any], now: datetime,
                       batch_size: int = BATCH_SIZE) -> Iterator[list[int]]:
    """Yield matching contact ids in ascending batches (keyset pagination), never all at once.

    Each batch is read in a short transaction of its own, so the caller can commit its work batch by batch.
    """
    base = contacts_query(rules, now)
    last = 0
    while True:
        with db.session() as session:
            ids = list(session.scalars(base.where(Contact.id > last).order_by(Contact.id).limit(batch_size)))
        if not ids:
            return
        yield ids
        last = ids[-1]


def overlap_count(session: Session, first: dict[str, Any], second: dict[str, Any], now: datetime) -> int:
    """Count the contacts two segments share, in one query."""
    shared = contacts_query(first, now).where(Contact.id.in_(contacts_query(second, now))).subquery()
    return session.scalar(select(func.count()).select_from(shared)) or 0


# ----- words -----------------------------------------------------------------------

_FIELD_WORDS = {"age_band": "age band", "postcode_district": "postcode district"}


def describe(rules: dict[str, Any]) -> str:
    """Put the rules into words an officer can check: "Residents in ward Netteswell, in the group “tenants”"."""
    validate(rules)
    return "Residents " + _describe(rules)


def _describe(rules: dict[str, Any]) -> str:
    if "all" in rules:
        parts = [_describe(r) for r in rules["all"]]
        return _join(parts, "and") if parts else "(everyone)"
    if "any" in rules:
        parts = [_describe(r) for r in rules["any"]]
        return "who are either " + _join(parts, "or") if parts else "(no one)"
    if "not" in rules:
        return f"except those {_describe(rules['not'])}"
    if "field" in rules:
        name = rules["field"]
        label = _FIELD_WORDS.get(name, name)
        if "in" in rules:
            values = [str(v) for v in rules["in"]]
            words = f"whose {label} is {_join(values, 'or')}"
        elif "equals" in rules:
            words = f"whose {label} is {rules['equals']}"
        else:
            words = f"whose {label} is known" if rules["is_set"] else f"whose {label} is not known"
        if name in SPECIAL_CATEGORY_FIELDS:
            words += " (only those who agreed we may use it)"
        return words
    if "group" in rules:
        names = rules["group"] if isinstance(rules["group"], list) else [rules["group"]]
        return f"in the group {_join([f'“{n}”' for n in names], 'or')}"
    if "opted_in" in rules:
        return f"who opted in on {_channel_words(rules['opted_in'])}"
    if "answered" in rules:
        return f"who answered “{rules['answered']}”"
    if "started_not_finished" in rules:
        return f"who started “{rules['started_not_finished']}” but did not finish"
    days = rules["not_contacted_days"]
    return f"not contacted in the last {days} day{'s' if days != 1 else ''}"


def _channel_words(channel: str) -> str:
    return {"sms": "SMS", "whatsapp": "WhatsApp", "voice": "phone calls", "telegram": "Telegram", "web": "web chat",
            "assisted": "assisted calls"}.get(channel, channel)


def _join(parts: list[str], word: str) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + f" {word} " + parts[-1]


# ----- saved segments -----------------------------------------------------------------


def create_segment(session: Session, name: str, rules: dict[str, Any], now: datetime, *,
                   description: str | None = None, created_by: str | None = None) -> Segment:
    """Save a segment after checking its rules and that its name is free."""
    validate(rules)
    if not name or not name.strip():
        raise SegmentError("a segment needs a name")
    if session.scalar(select(Segment.id).where(Segment.name == name.strip())) is not None:
        raise SegmentError(f"a segment called '{name.strip()}' already exists")
    segment = Segment(name=name.strip(), rules=rules, description=description, created_at=now,
                      created_by=created_by)
    session.add(segment)
    session.flush()
    return segment


def find_segment(session: Session, name_or_id: str | int) -> Segment | None:
    """Return a segment by id or by name."""
    if isinstance(name_or_id, int) or str(name_or_id).isdigit():
        found = session.get(Segment, int(name_or_id))
        if found is not None:
            return found
    return session.scalar(select(Segment).where(Segment.name == str(name_or_id)))
