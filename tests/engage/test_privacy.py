"""Residents' rights: subject access, erasure by an officer and by texting FORGET, leaving no trace."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from engage.consent import may_send
from engage.contacts import create_contact
from engage.privacy import complete_erasures, erase_contact, subject_access, subject_access_html
from engage.results import flow_steps, question_result, summary
from store.models import Address, Answer, Contact, FlowVersion, InboundMessage, OutboxMessage, Run
from store.models.contacts import ErasureRecord
from tests.support.contacts import consultation_flow, find_traces, mobile, publish, text_in
from tests.support.twilio_fake import app_config_with_fake_twilio, fake_twilio  # noqa: F401  (fixtures)

PHONE = mobile(1)
OTHER = mobile(2)
CHAT = "918273645"
SECRET = "The broken lamp outside 12 Rowan Way"
MARKUP = "Too few benches <script>alert(1)</script>"
FLOWS = ("bins", "parks", "lights")


@pytest.fixture
def consultations(services):
    publish(services, *(consultation_flow(f, f.upper()) for f in FLOWS))


@pytest.fixture
def resident(services, db, clock, consultations):
    """Ann, on SMS and Telegram, who took part in three consultations; and Bob, who took part in one."""
    with db.session() as s:
        ann = create_contact(s, clock.now(), name="Ann Example", phone=PHONE, telegram_id=CHAT, language="en",
                             fields={"ward": "Netteswell"}, groups=["tenants"], consent_source="Street stall form")
        ann_id = ann.id
    for text in ("BINS", "1", SECRET):
        text_in(services, text, PHONE)
    clock.advance(hours=1)
    for text in ("PARKS", "2", MARKUP):
        text_in(services, text, CHAT, channel="telegram")
    clock.advance(hours=1)
    for text in ("LIGHTS", "1", "Bright enough"):
        text_in(services, text, PHONE)
    for text in ("BINS", "2", "Someone else's words"):
        text_in(services, text, OTHER)
    return ann_id


def results_of(db) -> dict:
    with db.session() as s:
        out = {}
        for flow_id in FLOWS:
            source = s.scalar(select(FlowVersion.source).where(FlowVersion.flow_id == flow_id))
            for step in flow_steps(source):
                if step.is_question:
                    result = question_result(s, flow_id, step)
                    out[(flow_id, step.id)] = (result.answered, result.skipped,
                                               [(c.value, c.count) for c in result.counts])
            figures = summary(s, flow_id)
            out[flow_id] = (figures["started"], figures["completed"])
        return out


def test_subject_access_gathers_everything_on_both_channels_and_three_consultations(db, clock, resident):
    with db.session() as s:
        data = subject_access(s, resident, clock.now())
    json.dumps(data)
    assert data["contact"]["name"] == "Ann Example"
    assert data["contact"]["fields"] == {"ward": "Netteswell"}
    assert data["groups"] == ["tenants"]
    assert sorted((a["channel"], a["address"], a["consent"]) for a in data["addresses"]) == [
        ("sms", PHONE, "opted_in"), ("telegram", CHAT, "opted_in")]
    assert {(c["channel"], c["action"], c["wording"]) for c in data["consent_history"]} == {
        ("sms", "opt_in", "Street stall form"), ("telegram", "opt_in", "Street stall form"),
        (None, "opt_in", "Street stall form")}  # the last: the basis for service broadcasts
    assert [r["flow_id"] for r in data["runs"]] == ["bins", "parks", "lights"]
    assert [r["channel"] for r in data["runs"]] == ["sms", "telegram", "sms"]
    assert all(r["status"] == "completed" and r["finished_at"] for r in data["runs"])
    assert [(a["step_id"], a["value"]) for a in data["runs"][0]["answers"]] == [("rating", "good"), ("why", SECRET)]
    assert data["runs"][1]["answers"][1]["text"] == MARKUP
    incoming = [m for m in data["messages"] if m["direction"] == "in"]
    outgoing = [m for m in data["messages"] if m["direction"] == "out"]
    assert [m["text"] for m in incoming] == ["BINS", "1", SECRET, "PARKS", "2", MARKUP, "LIGHTS", "1",
                                             "Bright enough"]
    assert all(m["state"] == "processed" and m["at"] for m in incoming)
    assert len(outgoing) == 9
    assert {m["to"] for m in outgoing} == {PHONE, CHAT}
    assert all(m["state"] == "queued" and m["text"] for m in outgoing)
    assert "Someone else's words" not in json.dumps(data)


def test_the_subject_access_page_is_readable_and_escapes_resident_text(db, clock, resident):
    with db.session() as s:
        page = subject_access_html(subject_access(s, resident, clock.now()), "Harlow Council")
    assert "Information Harlow Council holds about you" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>" not in page
    assert SECRET in page and PHONE in page and "About lights" in page


def test_erasure_leaves_no_trace_and_the_same_results(db, clock, resident):
    before = results_of(db)
    needles = [PHONE, PHONE[3:], CHAT, SECRET, "Rowan Way", MARKUP, "Bright enough", "Ann Example",
               "Street stall form", "Netteswell"]
    assert len(find_traces(db, needles)) > 10
    with db.session() as s:
        record = erase_contact(s, resident, clock.now())
        record_id = record.id
    assert find_traces(db, needles) == []
    assert results_of(db) == before
    with db.session() as s:
        record = s.get(ErasureRecord, record_id)
        assert (record.status, record.source, record.pending_contact_id) == ("completed", "officer", None)
        assert record.counts["answers"] == 6
        contact = s.get(Contact, resident)
        assert (contact.erased_at, contact.name, contact.fields) == (clock.now(), None, {})
        assert all(a.address.startswith("erased:") and not a.usable for a in contact.addresses)
        assert s.scalar(select(Answer.raw_text).where(Answer.step_id == "why", Answer.contact_id.isnot(None))) \
            == "Someone else's words"
        assert not may_send(contact, contact.addresses[0], "stop_confirmation")[0]
    # The other resident is untouched.
    assert find_traces(db, [OTHER, "Someone else's words"])


def test_a_resident_texting_forget_is_asked_to_confirm(services, db, resident):
    text_in(services, "forget", PHONE)
    with db.session() as s:
        row = s.scalar(select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(1))
        assert row.kind == "system"
        assert "Reply FORGET YES to delete everything Harlow Council holds about you" in row.payload["text"]
        assert s.scalar(select(Contact.erased_at).where(Contact.id == resident)) is None
    text_in(services, "Anghofio", CHAT, channel="telegram")
    with db.session() as s:
        row = s.scalar(select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(1))
        # Ann's language is English: she is answered in it, with its confirming words (ANGHOFIO IE works too).
        assert "Reply FORGET YES" in row.payload["text"]


def _send_all(services):
    from bot.sender import OutboxSender

    return OutboxSender.from_services(services, services.extras["channels"]).drain()




def test_forget_yes_sends_one_confirmation_then_erases_everything(services, db, clock, resident,
                                                                  fake_twilio):  # noqa: F811  (a fixture)
    before = results_of(db)
    with db.session() as s:
        s.execute(OutboxMessage.__table__.update().values(status="sent"))
    with db.session() as s:
        # A broadcast waiting to go must never go.
        ann = s.get(Contact, resident)
        sms = next(a for a in ann.addresses if a.channel == "sms")
        s.add(OutboxMessage(contact_id=resident, address_id=sms.id, channel="sms", kind="broadcast",
                            payload={"type": "text", "text": "Bins go out on Tuesday"}, status="queued",
                            created_at=clock.now(), updated_at=clock.now()))
    text_in(services, "FORGET", PHONE)
    text_in(services, "FORGET YES", PHONE)
    with db.session() as s:
        record = s.scalar(select(ErasureRecord))
        assert record.status == "pending"
        waiting = s.scalars(select(OutboxMessage).where(OutboxMessage.status == "queued")).all()
        assert [(m.kind, m.channel) for m in waiting] == [("stop_confirmation", "sms")]
        assert s.scalar(select(OutboxMessage.status).where(OutboxMessage.kind == "broadcast")) == "skipped"
        address = s.scalar(select(Address).where(Address.address == PHONE))
        assert address.consent == "opted_out"
        ann = s.get(Contact, resident)
        assert not may_send(ann, address, "reply")[0] and not may_send(ann, address, "broadcast")[0]
        assert s.scalar(select(Address.address).where(Address.channel == "telegram")).startswith("erased:")
    # Anything the resident texts before the confirmation has gone gets no answer.
    text_in(services, "BINS", PHONE)
    assert complete_erasures(db, clock.now()) == 0
    assert _send_all(services) == 1
    sent = fake_twilio.fake.messages_to(PHONE)
    assert len(sent) == 1
    assert "Everything Harlow Council held about you has been deleted" in sent[0].body
    assert complete_erasures(db, clock.now()) == 1
    assert find_traces(db, [PHONE, PHONE[3:], CHAT, SECRET, MARKUP, "Ann Example", "FORGET YES", "deleted"]) == []
    assert results_of(db) == before
    with db.session() as s:
        record = s.scalar(select(ErasureRecord))
        assert (record.status, record.pending_contact_id, record.pending_address_id) == ("completed", None, None)
        assert s.scalar(select(InboundMessage).where(InboundMessage.status == "pending")) is None
    assert _send_all(services) == 0
    assert len(fake_twilio.fake.messages_to(PHONE)) == 1


def test_an_erasure_whose_confirmation_never_leaves_completes_after_a_day(services, db, clock, resident):
    text_in(services, "FORGET", PHONE)
    text_in(services, "FORGET YES", PHONE)
    assert complete_erasures(db, clock.now()) == 0
    clock.advance(hours=25)
    assert complete_erasures(db, clock.now()) == 1
    with db.session() as s:
        assert s.scalar(select(OutboxMessage.status).where(OutboxMessage.kind == "stop_confirmation")) == "skipped"
        assert s.scalar(select(Run.contact_id).where(Run.contact_id.isnot(None)).where(Run.flow_id == "lights")) \
            is None
    assert find_traces(db, [PHONE, SECRET]) == []


def test_officers_preview_cannot_erase(services, db, clock, resident):
    text_in(services, "FORGET", PHONE, preview=True)
    text_in(services, "FORGET YES", PHONE, preview=True)
    with db.session() as s:
        assert s.scalar(select(ErasureRecord)) is None


def test_a_welsh_speaker_erases_with_anghofio_ie_and_is_told_in_welsh(services, db, clock, consultations):
    with db.session() as s:
        create_contact(s, clock.now(), phone=PHONE, language="cy", consent_source="Ffurflen")
    for text in ("BINS", "1"):
        text_in(services, text, PHONE)
    text_in(services, "ANGHOFIO", PHONE)
    with db.session() as s:
        ask = s.scalar(select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(1))
        assert ask.payload["text"].startswith("Atebwch ANGHOFIO IE i ddileu popeth sydd gan Harlow Council")
    text_in(services, "Anghofio ie", PHONE)
    with db.session() as s:
        done = s.scalar(select(OutboxMessage).where(OutboxMessage.kind == "stop_confirmation"))
        assert done.payload["text"].startswith("Mae popeth oedd gan Harlow Council amdanoch chi wedi'i ddileu")
        assert done.language == "cy"
        assert s.scalar(select(ErasureRecord.status)) == "pending"


def _erased(db, contact_id) -> bool:
    with db.session() as s:
        return s.scalar(select(Contact.erased_at).where(Contact.id == contact_id)) is not None or \
            s.scalar(select(ErasureRecord)) is not None


def _last_text(db) -> str:
    with db.session() as s:
        return s.scalar(select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(1)).payload["text"]


def test_forget_yes_sent_cold_asks_to_confirm_and_erases_nothing(services, db, clock, resident):
    text_in(services, "FORGET YES", PHONE)
    assert not _erased(db, resident)
    assert "Reply FORGET YES to delete everything" in _last_text(db)
    # Only a YES to that open question erases.
    text_in(services, "forget yes", PHONE)
    assert _erased(db, resident)


def test_the_forget_question_expires_and_closes_when_the_resident_moves_on(services, db, clock, resident):
    text_in(services, "FORGET", PHONE)
    clock.advance(minutes=16)
    text_in(services, "FORGET YES", PHONE)
    assert not _erased(db, resident)
    assert "Reply FORGET YES" in _last_text(db)  # asked again, open for another 15 minutes
    text_in(services, "BINS", PHONE)  # something else: the question is closed
    text_in(services, "FORGET YES", PHONE)
    assert not _erased(db, resident)
    clock.advance(minutes=14)
    text_in(services, "FORGET YES", PHONE)
    assert _erased(db, resident)
