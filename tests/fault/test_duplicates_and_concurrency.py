"""Twilio retries and races: a message delivered two or three times at once is stored and acted on once;
two answers from one resident at the same moment are taken in order."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from store.models import InboundMessage
from tests.support.fault_sms import deliver_concurrently, new_phone, sms_form, stored_counts

pytestmark = pytest.mark.fault


def replies(counts) -> list[dict]:
    return [row.payload for row in counts["outbox"]]


def test_every_message_of_a_poll_delivered_three_times_at_once_is_stored_and_answered_once(app, db):
    phone = new_phone()
    # SAFE starts the poll; "2" (unsafe) leads to the free-text question; then the age.
    for body in ("SAFE", "2", "Station Road by the underpass", "65 or over"):
        form = sms_form(phone, body)
        assert deliver_concurrently(app, [form, form, form]) == [200, 200, 200]

    counts = stored_counts(db, phone)
    assert all(n == 1 for n in counts["inbound_by_sid"].values())
    assert counts["inbound_status"] == {"processed": 4}
    [run] = counts["runs"]
    assert run.status == "completed"
    assert [(a.step_id, a.value) for a in counts["answers"]] == [
        ("feel_safe", "unsafe"), ("where", "Station Road by the underpass"), ("age", "65_plus")]
    # One message per turn: three questions and the thanks, never a second copy.
    assert [p.get("step_id") for p in replies(counts)] == ["feel_safe", "where", "age", None]


def test_stop_delivered_twice_at_once_sends_one_confirmation(app, db):
    phone = new_phone()
    assert deliver_concurrently(app, [sms_form(phone, "SAFE")]) == [200]
    stop = sms_form(phone, "STOP")
    assert deliver_concurrently(app, [stop, stop]) == [200, 200]
    counts = stored_counts(db, phone)
    kinds = [row.kind for row in counts["outbox"]]
    assert kinds.count("stop_confirmation") == 1
    assert counts["inbound_status"] == {"processed": 2}


def test_two_answers_from_one_resident_at_the_same_moment_are_taken_in_order(app, db):
    phone = new_phone()
    deliver_concurrently(app, [sms_form(phone, "SAFE")])
    # The resident double-taps: both answers land together. The first stored is the answer to
    # the first question; the other is read against the next question, never against the same one.
    statuses = deliver_concurrently(app, [sms_form(phone, "2"), sms_form(phone, "Market Street")])
    assert statuses == [200, 200]

    counts = stored_counts(db, phone)
    assert counts["inbound_status"] == {"processed": 3}
    [run] = counts["runs"]
    with db.session() as s:
        arrived = s.scalars(select(InboundMessage.text).where(InboundMessage.address == phone)
                            .order_by(InboundMessage.id)).all()
    # Each answer is read against the question in front of the resident when it was stored.
    if arrived == ["SAFE", "2", "Market Street"]:
        expected = ("age", {"feel_safe": "unsafe", "where": "Market Street"}, ["feel_safe", "where", "age"])
    else:
        assert arrived == ["SAFE", "Market Street", "2"]
        # "Market Street" is no answer to "do you feel safe": asked again, then "2" answers it.
        expected = ("where", {"feel_safe": "unsafe"}, ["feel_safe", "feel_safe", "where"])
    answered = {a.step_id: a.value for a in counts["answers"]}
    assert (run.state["step"], answered, [p.get("step_id") for p in replies(counts)]) == expected
    assert run.state["answers"] == answered and run.state["attempts"] == 0


def test_many_residents_at_once_each_get_their_own_run(app, db):
    phones = [new_phone() for _ in range(8)]
    deliver_concurrently(app, [sms_form(p, "SAFE") for p in phones])
    deliver_concurrently(app, [sms_form(p, "1") for p in phones])
    for phone in phones:
        counts = stored_counts(db, phone)
        [run] = counts["runs"]
        assert [(a.step_id, a.value) for a in counts["answers"]] == [("feel_safe", "safe")]
        assert run.state["step"] == "age"
