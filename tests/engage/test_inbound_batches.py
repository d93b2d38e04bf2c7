"""Workers act on several residents' turns in one transaction, each resident still in order.

`process_waiting` (a scaled-mode worker's loop) takes a batch of waiting messages, locks their
residents and acts on every waiting message of each, oldest first, sharing one commit; a turn
that fails rolls the batch back and the messages are acted on one at a time instead, so the
failing one is counted (and in the end given up) and no other is lost.
"""
from __future__ import annotations

import itertools

from sqlalchemy import event, select

from store.models import CONSENT_OPTED_OUT, Address, Answer, InboundMessage, OutboxMessage, Run
from tests.support.statements import selects_while

SCRIPT = ["SAFE", "2", "Station Road by the underpass", "65 or over"]
ANSWERS = {"feel_safe": "unsafe", "where": "Station Road by the underpass", "age": "65_plus"}
_ids = itertools.count(1)


def store(services, body, phone):
    return services.conversations.store_inbound("sms", f"SMb{next(_ids):031d}", phone, body, {})[0]


def store_scripts(services, residents):
    """Each resident's script, interleaved across residents as they would arrive."""
    for body in SCRIPT:
        for phone in residents:
            store(services, body, phone)


def answers_by_phone(db):
    with db.session() as s:
        rows = s.execute(select(Address.address, Answer.step_id, Answer.value)
                         .join(Run, Run.id == Answer.run_id).join(Address, Address.id == Run.address_id)).all()
    out: dict[str, dict] = {}
    for phone, step, value in rows:
        out.setdefault(phone, {})[step] = value
    return out


def statuses(db):
    with db.session() as s:
        return {r.id: (r.status, r.attempts) for r in s.scalars(select(InboundMessage))}


def test_one_batch_acts_on_several_residents_in_order_with_one_commit(services, db):
    residents = [f"+4477009{n:05d}" for n in range(4)]
    store_scripts(services, residents)
    # However slow the machine, this batch is not cut short by its time limit.
    services.conversations.batch_seconds = 600
    commits = []

    def count(_conn):
        commits.append(1)

    event.listen(db.engine, "commit", count)
    try:
        assert services.conversations.process_waiting() == len(residents) * len(SCRIPT)
    finally:
        event.remove(db.engine, "commit", count)
    # All 16 turns shared one transaction (a worker commits once per batch, not once per answer).
    assert len(commits) == 1
    assert set(statuses(db).values()) == {("processed", 1)}
    # Any other order would have left other answers (the keyword first, then the script's answers).
    assert answers_by_phone(db) == {phone: ANSWERS for phone in residents}
    with db.session() as s:
        assert {r.status for r in s.scalars(select(Run))} == {"completed"}
        assert len(s.scalars(select(OutboxMessage)).all()) == len(residents) * len(SCRIPT)
    assert services.conversations.process_waiting() == 0


def test_a_resident_is_acted_on_in_order_beyond_the_rows_a_batch_claims(services, db):
    services.conversations.batch_seconds = 600
    phone = "+447700900101"
    for body in SCRIPT:
        store(services, body, phone)
    # The batch claims two rows, but locks the resident and takes all four of their waiting messages in order.
    assert services.conversations.process_waiting(limit=2) == 4
    assert answers_by_phone(db) == {phone: ANSWERS}


def test_a_failing_turn_does_not_lose_the_rest_of_its_batch(services, db):
    def breaks_on_boom(s, turn):
        if turn.incoming.text == "BOOM":
            raise RuntimeError("a bug in a word handler")
        return False

    services.conversations.word_handlers.append(breaks_on_boom)
    residents = [f"+4477008{n:05d}" for n in range(4)]
    unlucky = "+447700899999"
    store(services, "SAFE", unlucky)
    boom = store(services, "BOOM", unlucky)
    stop = store(services, "STOP", unlucky)
    store_scripts(services, residents)
    conversations = services.conversations
    conversations.batch_seconds = 600
    # The batch fails on BOOM and rolls back; the messages are then acted on one at a time: everyone
    # else's are acted on once, BOOM is counted as one failed try, and the STOP behind it waits.
    conversations.process_waiting()
    rows = statuses(db)
    # (Counted once or twice: the one-by-one walk reaches it from itself and from the STOP behind it.)
    assert rows[boom][0] == "pending" and rows[boom][1] >= 1
    assert rows[stop] == ("pending", 0)
    assert answers_by_phone(db) == {phone: ANSWERS for phone in residents}
    for _ in range(5):  # a worker's next rounds, until BOOM is given up
        if statuses(db)[boom][0] == "failed":
            break
        conversations.process_waiting()
    rows = statuses(db)
    assert rows[boom] == ("failed", 5)
    assert rows[stop][0] == "processed"
    assert {status for row_id, (status, _n) in rows.items() if row_id != boom} == {"processed"}
    with db.session() as s:
        assert s.scalar(select(Address.consent).where(Address.address == unlucky)) == CONSENT_OPTED_OUT
        # One reply per acted-on message, never two: 16 for the residents, SAFE's question and STOP's confirmation.
        assert len(s.scalars(select(OutboxMessage)).all()) == len(residents) * len(SCRIPT) + 2
    assert answers_by_phone(db) == {phone: ANSWERS for phone in residents}


def test_a_batch_stops_starting_turns_at_its_time_limit_and_leaves_the_rest_in_order(services, db):
    residents = [f"+4477007{n:05d}" for n in range(3)]
    store_scripts(services, residents)
    # A batch with no time to spare still acts on one turn, and the rest wait, in order, for the next ones.
    services.conversations.batch_seconds = 0
    assert services.conversations.process_waiting() == 1
    rounds = 1
    while services.conversations.process_waiting():
        rounds += 1
    assert rounds == len(residents) * len(SCRIPT)
    assert answers_by_phone(db) == {phone: ANSWERS for phone in residents}
    assert set(statuses(db).values()) == {("processed", 1)}


def test_forget_confirmed_inside_a_batch_keeps_its_confirmation_row(services, db):
    from store.models.contacts import ErasureRecord

    services.conversations.batch_seconds = 600
    phone = "+447700900202"
    others = [f"+4477006{n:05d}" for n in range(2)]
    for body in ("SAFE", "2", "FORGET", "FORGET YES"):
        store(services, body, phone)
        for other in others:
            store(services, body if body in ("SAFE", "2") else "Market Square", other)
    # One batch: the erasure's confirmation is queued with its id, so the erasure keeps it and it is sent.
    assert services.conversations.process_waiting() == 4 * (1 + len(others))
    with db.session() as s:
        record = s.scalar(select(ErasureRecord))
        assert record is not None and record.status == "pending"
        confirmation = s.get(OutboxMessage, record.confirmation_outbox_id)
        assert (confirmation.kind, confirmation.status) == ("stop_confirmation", "queued")
        waiting = s.scalars(select(OutboxMessage).where(OutboxMessage.address_id == record.pending_address_id,
                                                        OutboxMessage.status == "queued")).all()
        assert [m.id for m in waiting] == [confirmation.id]
    by_phone = answers_by_phone(db)
    assert phone not in by_phone  # erased
    assert all(by_phone[other]["where"] == "Market Square" for other in others)


def test_a_batch_reads_its_messages_once_however_many_word_handlers_look_at_them(services, db):
    """The word handlers (Telegram's, the web chat's, FORGET, a language's name) read each message's
    payload from the turn: a batch reads the inbound rows in its claim and its waiting rows only, not
    once more per handler per turn."""
    assert len(services.conversations.word_handlers) >= 5
    residents = [f"+4477008{n:05d}" for n in range(5)]
    store_scripts(services, residents)
    services.conversations.batch_seconds = 600
    acted, reads = selects_while(db, "inbound_messages", services.conversations.process_waiting)
    assert acted == len(residents) * len(SCRIPT)
    assert len(reads) == 2, reads
    assert answers_by_phone(db) == {phone: ANSWERS for phone in residents}
