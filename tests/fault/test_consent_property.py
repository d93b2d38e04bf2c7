"""A property: whatever residents and officers do, in whatever order, nothing is ever sent to an
address that was opted out (or erased) at the moment of sending, except the one STOP confirmation."""
from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select

from engage.broadcasts import create_broadcast, fire_broadcast
from engage.contacts import ContactError, create_contact, find_contact
from engage.privacy import erase_contact
from engage.reminders import send_reminders
from engage.segments import create_segment
from store.models import Base, OutboxMessage
from tests.conftest import DEFAULT_NOW

pytestmark = pytest.mark.fault

PHONES = ["+447700800101", "+447700800102", "+447700800103"]
WORDS = ["PANEL", "SAFE", "STOP", "START", "1", "HELP", "Stopio"]
STOP_WORDS = {"STOP", "Stopio"}
_sids = itertools.count(1)

step = st.one_of(
    st.tuples(st.just("text"), st.integers(0, len(PHONES) - 1), st.sampled_from(WORDS)),
    st.tuples(st.just("import"), st.integers(0, len(PHONES) - 1)),
    st.tuples(st.just("erase"), st.integers(0, len(PHONES) - 1)),
    st.tuples(st.just("broadcast")),
    st.tuples(st.just("reminders")),
    st.tuples(st.just("wait"), st.sampled_from([1, 6, 11])),
    # The sender runs only when told: rows queued before a STOP or an erasure are still waiting then.
    st.tuples(st.just("send")),
)


class ConsentModel:
    """What the rules say each phone's consent is, kept apart from the code under test."""

    def __init__(self):
        self.state: dict[str, str] = {}  # phone -> "in" | "out"; absent: unknown or erased

    def text(self, phone: str, word: str) -> None:
        if word in STOP_WORDS:
            self.state[phone] = "out"
        elif word == "START" or self.state.get(phone) != "out":
            # Writing first is consent to a reply; an opted-out resident stays out until START.
            self.state[phone] = "in"

    def may_receive(self, phone: str) -> bool:
        return self.state.get(phone) == "in"


def apply_step(services, model: ConsentModel, op: tuple) -> None:
    clock, now = services.clock, services.clock.now()
    if op[0] == "text":
        phone, word = PHONES[op[1]], op[2]
        row_id, _ = services.conversations.store_inbound("sms", f"SM{next(_sids):032x}", phone, word, {})
        services.conversations.process_inbound(row_id)
        model.text(phone, word)
    elif op[0] == "import":
        phone = PHONES[op[1]]
        try:
            with services.db.session() as s:
                create_contact(s, now, phone=phone, consent_source="paper form", consent_via="officer")
            model.state[phone] = "in"
        except ContactError:
            pass  # already known: the import changes nothing
    elif op[0] == "erase":
        phone = PHONES[op[1]]
        with services.db.session() as s:
            contact = find_contact(s, phone=phone)
            if contact is not None:
                erase_contact(s, contact.id, now)
        model.state.pop(phone, None)
    elif op[0] == "broadcast":
        with services.db.session() as s:
            segment = create_segment(s, f"everyone {next(_sids)}", {"all": []}, now)
            broadcast_id = create_broadcast(s, name="bins", segment=segment, now=now, tz="Europe/London",
                                            texts={"en": "Bins go out on Tuesday."}).id
        fire_broadcast(services, broadcast_id)
    elif op[0] == "reminders":
        clock.advance(hours=25)
        send_reminders(services)
    else:
        clock.advance(hours=op[1])


def delete_all_rows(db) -> None:
    """Empty every table in one transaction; far cheaper than TRUNCATE for a thousand tiny examples."""
    with db.session() as s:
        for table in reversed(Base.metadata.sorted_tables):
            s.execute(delete(table))


def check_new_sends(services, sender, fake, model: ConsentModel, seen: int) -> int:
    """Run the sender; every message the fake accepted since `seen` must have been allowed."""
    sender.drain()
    messages = fake.messages[seen:]
    if messages:
        with services.db.session() as s:
            kinds = dict(s.execute(select(OutboxMessage.provider_id, OutboxMessage.kind)
                                   .where(OutboxMessage.provider_id.in_([m.sid for m in messages]))).all())
        for message in messages:
            kind = kinds.get(message.sid)
            assert kind == "stop_confirmation" or model.may_receive(message.to), (
                f"a {kind} message went to an address that is {model.state.get(message.to, 'unknown/erased')}")
    return len(fake.messages)


@settings(max_examples=1000, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(steps=st.lists(step, min_size=1, max_size=8))
def test_no_message_reaches_an_address_opted_out_at_send_time(services, sender, fake_twilio, db, steps):
    delete_all_rows(db)
    fake_twilio.fake.clear()
    services.clock.set(DEFAULT_NOW)
    model = ConsentModel()
    seen = 0
    for op in [*steps, ("send",)]:
        if op[0] == "send":
            seen = check_new_sends(services, sender, fake_twilio.fake, model, seen)
        else:
            apply_step(services, model, op)
