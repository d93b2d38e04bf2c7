"""Retention: answers and messages are anonymised exactly when their time is up, and no sooner."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from engage.privacy import apply_retention, months_before
from store.models import Address, Answer, Contact, FlowVersion, InboundMessage, OutboxMessage, Run
from tests.support.contacts import consultation_flow, mobile

UTC = timezone.utc


def when(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def add_run(s, flow_id: str, source: str, answered: datetime, n: int) -> int:
    version = s.scalar(select(FlowVersion).where(FlowVersion.flow_id == flow_id))
    if version is None:
        version = FlowVersion(flow_id=flow_id, version=f"v-{flow_id}", source=source, title=flow_id)
        s.add(version)
        s.flush()
    contact = Contact(fields={"ward": "Netteswell"})
    s.add(contact)
    s.flush()
    address = Address(contact_id=contact.id, channel="sms", address=mobile(n), consent="opted_in")
    s.add(address)
    s.flush()
    run = Run(contact_id=contact.id, flow_id=flow_id, flow_version_id=version.id, address_id=address.id,
              channel="sms", status="completed", state={"answers": {"why": f"words {n}"}}, started_at=answered,
              updated_at=answered, finished_at=answered)
    s.add(run)
    s.flush()
    s.add_all([
        Answer(run_id=run.id, flow_id=flow_id, step_id="rating", contact_id=contact.id, value="good", raw_text="1",
               answered_at=answered),
        Answer(run_id=run.id, flow_id=flow_id, step_id="why", contact_id=contact.id, value=f"words {n}",
               raw_text=f"words {n}", answered_at=answered),
        OutboxMessage(contact_id=contact.id, address_id=address.id, channel="sms", kind="reply", run_id=run.id,
                      payload={"type": "text", "text": "Thank you."}, status="delivered", created_at=answered,
                      updated_at=answered),
    ])
    s.flush()
    return run.id


@pytest.fixture
def history(db):
    """Runs of flows closed long ago, recently, on the boundary, kept-text, and without a consultation."""
    runs = {}
    with db.session() as s:
        for n, (flow_id, closes, keep, answered) in enumerate([
            ("old", "2024-10-31", False, "2024-10-01"),
            ("recent", "2025-01-31", False, "2024-10-01"),
            ("edge-due", "2024-12-01", False, "2024-11-20"),
            ("edge-not-due", "2024-12-02", False, "2024-11-20"),
            ("kept", "2024-06-30", True, "2024-06-01"),
            ("open", None, False, "2024-11-01"),
            ("open", None, False, "2025-06-01"),
        ]):
            source = consultation_flow(flow_id, f"K{n}", opens="2024-01-01", closes=closes, keep_free_text=keep)
            runs[(flow_id, answered)] = add_run(s, flow_id, source, when(answered), n)
        contact_id = s.scalar(select(Contact.id).limit(1))
        s.add_all([
            InboundMessage(channel="sms", provider_id="SMold", address=mobile(900), text="old words",
                           received_at=when("2024-11-01"), status="processed", contact_id=contact_id),
            InboundMessage(channel="sms", provider_id="SMnew", address=mobile(901), text="new words",
                           received_at=when("2025-06-01"), status="processed", contact_id=contact_id),
            OutboxMessage(contact_id=contact_id, channel="sms", kind="broadcast", payload={"text": "old news"},
                          status="delivered", created_at=when("2024-06-01"), updated_at=when("2024-06-01")),
            OutboxMessage(contact_id=contact_id, channel="sms", kind="broadcast", payload={"text": "new news"},
                          status="delivered", created_at=when("2026-01-01"), updated_at=when("2026-01-01")),
        ])
    return runs


def test_months_before_clamps_to_the_end_of_the_month():
    assert months_before(when("2026-12-02T10:00:00"), 24) == when("2024-12-02T10:00:00")
    assert months_before(when("2026-03-31T00:00:00"), 1) == when("2026-02-28T00:00:00")


def test_a_dry_run_counts_what_is_due_and_changes_nothing(db, clock, history):
    report = apply_retention(db, clock.now(), 24, dry_run=True)
    assert (report.answers, report.runs, report.outbox, report.inbound) == (8, 4, 5, 1)
    assert report.flows == {"old": 2, "edge-due": 2, "kept": 2, "open": 2}
    with db.session() as s:
        assert s.scalar(select(Answer).where(Answer.contact_id.is_(None))) is None


def test_retention_anonymises_exactly_what_is_due(db, clock, history):
    report = apply_retention(db, clock.now(), 24)
    assert (report.answers, report.runs, report.outbox, report.inbound) == (8, 4, 5, 1)
    due = {history[k] for k in [("old", "2024-10-01"), ("edge-due", "2024-11-20"), ("kept", "2024-06-01"),
                                ("open", "2024-11-01")]}
    with db.session() as s:
        for run in s.scalars(select(Run)):
            answers = {a.step_id: a for a in s.scalars(select(Answer).where(Answer.run_id == run.id))}
            outbox = s.scalar(select(OutboxMessage).where(OutboxMessage.run_id == run.id))
            if run.id not in due:
                assert run.contact_id is not None and run.state
                assert answers["why"].raw_text and answers["why"].contact_id is not None
                assert outbox.payload["text"] == "Thank you."
                continue
            assert (run.contact_id, run.address_id, run.state) == (None, None, {})
            assert answers["rating"].value == "good" and answers["rating"].contact_id is None
            assert outbox.contact_id is None and "text" not in outbox.payload
            if run.flow_id == "kept":
                assert answers["why"].raw_text == answers["why"].value == f"words {run.id - 1}"
            else:
                assert (answers["why"].raw_text, answers["why"].value, answers["rating"].raw_text) == (None, None, None)
        inbound = {m.provider_id: m for m in s.scalars(select(InboundMessage))}
        assert (inbound["SMold"].text, inbound["SMold"].address, inbound["SMold"].contact_id) == (None, None, None)
        assert inbound["SMnew"].text == "new words"
        news = sorted((m.created_at, m.payload.get("text")) for m in s.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "broadcast")))
        assert [text for _at, text in news] == [None, "new news"]
    again = apply_retention(db, clock.now(), 24)
    assert (again.answers, again.runs, again.outbox, again.inbound) == (0, 0, 0, 0)


def test_a_shorter_period_reaches_further(db, clock, history):
    report = apply_retention(db, clock.now(), 12, dry_run=True)
    assert set(report.flows) == {"old", "recent", "edge-due", "edge-not-due", "kept", "open"}
    assert report.flows["open"] == 4


def test_the_service_job_reads_the_period_from_the_environment(services, history, monkeypatch):
    from engage.privacy import retention_months, run_retention

    monkeypatch.setenv("OUTREACH_RETENTION_MONTHS", "12")
    assert retention_months(services.settings) == 12
    assert run_retention(services, dry_run=True).flows["open"] == 4
    monkeypatch.setenv("OUTREACH_RETENTION_MONTHS", "0")
    with pytest.raises(ValueError):
        retention_months(services.settings)
