"""One answer per resident per consultation: a finished resident is counted once, whatever they text again."""
from __future__ import annotations

import itertools

import pytest
from sqlalchemy import func, select

from engage import results
from engage.reminders import send_reminders
from store.models import Address, Answer, ConsentRecord, OutboxMessage, Run
from tests.conftest import LIBRARY

PHONE = "+447700900101"
_ids = itertools.count(1)
STEPS = results.flow_steps((LIBRARY / "street-safety.yaml").read_text(encoding="utf-8"))
FEEL = next(s for s in STEPS if s.id == "feel_safe")
AGE = next(s for s in STEPS if s.id == "age")


def text_in(services, text, address=PHONE):
    row_id, _ = services.conversations.store_inbound("sms", f"SMONE{next(_ids):028d}", address, text, {})
    services.conversations.process_inbound(row_id)


def last_text(db, address=PHONE) -> str:
    with db.session() as s:
        row = s.scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc())).first()
    return row.payload["text"]


def counts(db, step=FEEL) -> dict[str, int]:
    with db.session() as s:
        result = results.question_result(s, "street-safety", step)
    return {c.value: c.count for c in result.counts if c.count}


def flows_with(app_config, tmp_path, extra: str):
    """The library's street-safety flow with extra top-level keys, in a folder of its own."""
    from app import create_app

    folder = tmp_path / "flows"
    folder.mkdir()
    source = (LIBRARY / "street-safety.yaml").read_text(encoding="utf-8")
    (folder / "street-safety.yaml").write_text(source.replace("expires_after: 48h\n", f"expires_after: 48h\n{extra}"),
                                               encoding="utf-8")
    app = create_app({**app_config, "flows_dir": str(folder)})
    return app.extensions["outreach"]


def test_a_finished_resident_who_texts_the_keyword_again_is_counted_once(services, db):
    for reply in ["SAFE", "1", "2"]:
        text_in(services, reply)
    text_in(services, "SAFE")
    assert "already taken part" in last_text(db)
    text_in(services, "2")  # not an answer to anything now
    with db.session() as s:
        assert s.scalar(select(func.count(Run.id))) == 1
        assert s.scalar(select(func.count(Answer.id)).where(Answer.step_id == "feel_safe")) == 1
        figures = results.summary(s, "street-safety")
    assert (figures["started"], figures["completed"], figures["respondents"]) == (1, 1, 1)
    assert counts(db) == {"safe": 1}


def test_a_welsh_resident_is_told_in_welsh(services, db):
    from locales import i18n
    from store.models import CONSENT_OPTED_IN, Address, Contact

    with db.session() as s:
        contact = Contact(fields={}, language="cy")
        s.add(contact)
        s.flush()
        s.add(Address(contact_id=contact.id, channel="sms", address=PHONE, consent=CONSENT_OPTED_IN))
    for reply in ["DIOGEL", "1", "2"]:
        text_in(services, reply)
    text_in(services, "DIOGEL")
    expected = i18n.gettext("cy", "Thank you, you have already taken part in this consultation and your answers "
                                  "are counted.")
    assert expected != "Thank you, you have already taken part in this consultation and your answers are counted."
    assert last_text(db) == expected


def test_allow_change_replaces_the_earlier_answers_instead_of_adding(app_config, tmp_path, db, clock):
    services = flows_with(app_config, tmp_path, "allow_change: true\n")
    for reply in ["SAFE", "1", "2"]:
        text_in(services, reply)
    clock.advance(minutes=10)
    text_in(services, "SAFE")
    text = last_text(db)
    assert "replace the ones you gave before" in text and "How safe do you feel" in text
    # Until a new answer comes, the earlier ones still count.
    assert counts(db) == {"safe": 1}
    text_in(services, "3")
    assert counts(db) == {"unsure": 1}
    # The age question was not answered again yet: the earlier run's answers gave way as a whole.
    assert counts(db, AGE) == {}
    text_in(services, "3")
    assert counts(db, AGE) == {"65_plus": 1}
    with db.session() as s:
        figures = results.summary(s, "street-safety")
        statuses = sorted(s.scalars(select(Run.status)))
    assert (figures["started"], figures["completed"], figures["respondents"]) == (1, 1, 1)
    assert statuses == ["completed", "replaced"]


def test_an_unfinished_resident_can_start_again_and_is_still_counted_once(services, db, clock):
    text_in(services, "SAFE")
    text_in(services, "2")  # unsafe; then silence until the run expires
    clock.advance(hours=49)
    text_in(services, "SAFE")
    assert "How safe do you feel" in last_text(db)
    assert counts(db) == {"unsafe": 1}
    text_in(services, "1")
    text_in(services, "2")
    assert counts(db) == {"safe": 1}
    with db.session() as s:
        figures = results.summary(s, "street-safety")
    assert (figures["started"], figures["completed"], figures["respondents"]) == (1, 1, 1)


def test_an_officer_preview_never_blocks_the_resident_nor_is_replaced(services, db):
    from engage.conversations import Incoming

    with services.db.session() as s:
        services.conversations.handle(s, Incoming(channel="sms", address=PHONE, text="SAFE", preview=True))
    text_in(services, "1")
    text_in(services, "2")
    text_in(services, "SAFE")
    assert "How safe do you feel" in last_text(db)  # the preview was not taking part
    with db.session() as s:
        assert sorted(s.scalars(select(Run.started_by))) == ["keyword", "preview"]


def test_a_broadcast_of_the_flow_skips_residents_who_already_answered(app_config, db, clock):
    from engage.broadcasts import create_broadcast, fire_broadcast
    from engage.segments import create_segment
    from tests.support.outreach import engage_services, make_contact

    services = engage_services(db, clock, app_config)
    for reply in ["SAFE", "1", "2"]:
        text_in(services, reply)
    with db.session() as s:
        # The resident who answered is on the council's list too (a service basis), like the other one.
        s.add(ConsentRecord(contact_id=s.scalar(select(Run.contact_id)), scope="service", action="opt_in",
                            source="import", wording="residents' list", at=clock.now()))
        make_contact(s, ward="Netteswell")
        segment = create_segment(s, "Everyone", {"any": [{"opted_in": "sms"}]}, clock.now())
        broadcast = create_broadcast(s, name="Street lights", segment=segment, now=clock.now(), tz="Europe/London",
                                     flow=services.registry.get("street-safety"), schedule="now")
        broadcast_id = broadcast.id
    result = fire_broadcast(services, broadcast_id)
    assert result.queued == 1
    assert dict(result.skipped) == {"already_answered": 1}


def test_no_reminder_for_a_resident_whose_answers_are_already_counted(app_config, tmp_path, db, clock):
    services = flows_with(app_config, tmp_path,
                          "allow_change: true\nreminder: {after: 24h, en: Still open., cy: Dal ar agor.}\n")
    for reply in ["SAFE", "1", "2"]:
        text_in(services, reply)
    text_in(services, "SAFE")  # starts changing their answers, then goes quiet
    text_in(services, "SAFE", address="+447700900102")  # never answered, goes quiet
    clock.advance(hours=25)
    assert send_reminders(services)["queued"] == 1
    with db.session() as s:
        [row] = s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "reminder")).all()
        assert row.payload["text"].startswith("Still open.")  # then the STOP line and the waiting question
        assert s.get(Run, row.run_id).contact_id != s.scalar(
            select(Run.contact_id).where(Run.status == "completed"))



@pytest.mark.parametrize("extra", ["allow_change: true\n", "allow_change: true\nrestart_after_days: 30\n"])
def test_a_worker_batch_replaces_earlier_answers_as_one_message_at_a_time_does(app_config, tmp_path, db, extra):
    """A scaled-mode worker acts on many turns in one transaction and writes the replacement of earlier
    runs together at the end: the outcome is the same as acting on each message alone, with and without
    a period (restart_after_days) bounding which earlier runs give way."""
    services = flows_with(app_config, tmp_path, extra)
    services.conversations.batch_seconds = 600
    # One resident answers twice, and a second resident once, all waiting for the same batch.
    for reply in ["SAFE", "1", "2", "SAFE", "3", "3"]:
        services.conversations.store_inbound("sms", f"SMRB{next(_ids):028d}", PHONE, reply, {})
    for reply in ["SAFE", "1", "1"]:
        services.conversations.store_inbound("sms", f"SMRB{next(_ids):028d}", PHONE + "9", reply, {})
    assert services.conversations.process_waiting() == 9
    with db.session() as s:
        figures = results.summary(s, "street-safety")
        by_phone: dict[str, list[str]] = {}
        for phone, status in s.execute(select(Address.address, Run.status).join(Address, Address.id == Run.address_id)
                                       .order_by(Run.id)):
            by_phone.setdefault(phone, []).append(status)
    assert by_phone == {PHONE: ["replaced", "completed"], PHONE + "9": ["completed"]}
    assert (figures["completed"], figures["respondents"]) == (2, 2)
    assert counts(db) == {"unsure": 1, "safe": 1}
