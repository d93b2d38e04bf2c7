""""You said, we did": once to every participant on their own channel and language, on the public page."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from engage.calendar import create_consultation
from engage.updates import (
    UpdateError,
    create_update,
    delivery_counts,
    newsletter_text,
    result_summary,
    send_update,
)
from store.models import CONSENT_OPTED_OUT, Answer, OutboxMessage
from store.models.outreach import Consultation, Update
from tests.conftest import DEFAULT_NOW
from tests.support.outreach import engage_services, make_contact, make_run

UTC = timezone.utc
TEXTS = {
    "en": {"said": "62% of you said Town Park feels unsafe after dark.",
           "did": "We are putting 12 new lights in Town Park in March.",
           "why": "It was the place named most often, by residents of every age."},
    "cy": {"said": "Dywedodd 62% ohonoch fod Parc y Dref yn teimlo'n anniogel ar ôl iddi dywyllu.",
           "did": "Rydym yn gosod 12 golau newydd ym Mharc y Dref ym mis Mawrth.",
           "why": "Dyma'r lle a enwyd amlaf, gan drigolion o bob oed."},
}


@pytest.fixture
def services(db, clock, app_config):
    return engage_services(db, clock, app_config)


@pytest.fixture
def took_part(db):
    """Who answered street-safety: English on SMS, Welsh on Telegram, one who then said STOP; and others."""
    at = DEFAULT_NOW - timedelta(days=5)
    with db.session() as s:
        en = make_contact(s, extra_addresses=({"channel": "telegram", "consent": "opted_in", "preferred": True},))
        # They answered by SMS, though Telegram is their preferred channel: the update follows the answer.
        make_run(s, en, "street-safety", "completed", at, address=en.addresses[0])
        cy = make_contact(s, language="cy", channel="telegram")
        make_run(s, cy, "street-safety", "completed", at, language="cy")
        stopped = make_contact(s, consent=CONSENT_OPTED_OUT)
        make_run(s, stopped, "street-safety", "completed", at)
        started = make_contact(s)
        make_run(s, started, "street-safety", "expired", at)
        twice = make_contact(s)
        make_run(s, twice, "street-safety", "completed", at - timedelta(days=1))
        make_run(s, twice, "street-safety", "completed", at)
        other = make_contact(s)
        make_run(s, other, "climate-pulse", "completed", at)
        return {"en": en.id, "cy": cy.id, "stopped": stopped.id, "started": started.id, "twice": twice.id}


def new_update(services, **kwargs) -> int:
    with services.db.session() as s:
        return create_update(s, services.registry.get("street-safety"), TEXTS, services.clock.now(), **kwargs).id


def updates_sent(db):
    with db.session() as s:
        return s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "update")
                         .order_by(OutboxMessage.contact_id)).all()


def test_update_reaches_every_participant_once_on_their_channel_in_their_language(services, db, took_part):
    update_id = new_update(services)
    result = send_update(services, update_id)
    assert result == {"participants": 4, "queued": 3, "skipped": {"opted_out": 1}}
    rows = updates_sent(db)
    assert [(r.contact_id, r.channel, r.language) for r in rows] == [
        (took_part["en"], "sms", "en"), (took_part["cy"], "telegram", "cy"), (took_part["twice"], "sms", "en")]
    # Weeks later a resident can still tell who wrote, about what, where to read more and how to stop.
    assert rows[0].payload["text"].startswith("Harlow Council: Feeling safe in your neighbourhood\n\n"
                                              "You said: 62% of you said Town Park")
    assert rows[0].payload["text"].endswith("\n\nMore: https://example.gov.uk/street-lights\n\n"
                                            "Reply STOP to stop messages from Harlow Council.")
    assert f"\n\nDywedoch chi: {TEXTS['cy']['said']}" in rows[1].payload["text"]
    assert rows[1].payload["text"].endswith("\n\nMwy: https://example.gov.uk/street-lights\n\n"
                                            "Atebwch STOP i atal negeseuon gan Harlow Council.")
    assert f"Fe wnaethon ni: {TEXTS['cy']['did']}" in rows[1].payload["text"]
    assert rows[0].dedupe_key == f"update:{update_id}:contact:{took_part['en']}"
    assert {r.priority for r in rows} == {10}
    send_update(services, update_id)
    assert len(updates_sent(db)) == 3


def test_update_can_include_those_who_only_started(services, db, took_part):
    result = send_update(services, new_update(services, include_started=True))
    assert (result["participants"], result["queued"]) == (5, 4)


def test_update_waits_for_the_morning(services, db, took_part, clock):
    clock.set(datetime(2027, 2, 1, 20, 30, tzinfo=UTC))
    send_update(services, new_update(services))
    assert {r.not_before for r in updates_sent(db)} == {datetime(2027, 2, 2, 9, 0, tzinfo=UTC)}


@pytest.mark.parametrize("calendar_first", [True, False])
def test_update_is_recorded_with_the_consultation(services, db, took_part, calendar_first):
    def add_to_calendar():
        with db.session() as s:
            return create_consultation(s, flow_id="street-safety", opens=datetime(2026, 12, 1).date(),
                                       closes=datetime(2026, 12, 31).date(), now=DEFAULT_NOW).id

    consultation_id = add_to_calendar() if calendar_first else None
    update_id = new_update(services)
    consultation_id = consultation_id or add_to_calendar()
    send_update(services, update_id)
    with db.session() as s:
        update = s.get(Update, update_id)
        assert (update.consultation_id, update.status, update.sent_at, update.answered_count) == (
            consultation_id, "sent", DEFAULT_NOW, 4)
        assert update.asked == "Decide where 40 new street lights go in 2027"
        consultation = s.get(Consultation, consultation_id)
        assert (consultation.status, consultation.reported_at) == ("reported", DEFAULT_NOW)


def test_delivery_is_tracked_per_resident(services, db, took_part):
    update_id = new_update(services)
    send_update(services, update_id)
    with db.session() as s:
        rows = s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "update")
                         .order_by(OutboxMessage.id)).all()
        rows[0].status, rows[1].status = "delivered", "failed"
    with db.session() as s:
        assert delivery_counts(s, update_id) == {"delivered": 1, "failed": 1, "queued": 1}


def test_update_needs_all_three_parts_in_the_base_language(services, db):
    with db.session() as s, pytest.raises(UpdateError, match="needs why in en"):
        create_update(s, services.registry.get("street-safety"), {"en": {"said": "x", "did": "y"}}, DEFAULT_NOW)
    with db.session() as s, pytest.raises(UpdateError, match="no language fr"):
        create_update(s, services.registry.get("street-safety"), {**TEXTS, "fr": {"said": "x"}}, DEFAULT_NOW)


def test_result_summary_fills_a_sentence_from_live_results(services, db, took_part):
    flow = services.registry.get("street-safety")
    with db.session() as s:
        from store.models import Run

        completed = s.scalars(select(Run).where(Run.flow_id == "street-safety", Run.status == "completed")
                              .order_by(Run.id)).all()
        values = ["unsafe", "unsafe", "safe", "unsure", "unsafe"]
        for run, value in zip(completed, values, strict=True):
            s.add(Answer(run_id=run.id, flow_id=run.flow_id, step_id="feel_safe", contact_id=run.contact_id,
                         value=value))
        expired = s.scalar(select(Run).where(Run.status == "expired"))
        s.add(Answer(run_id=expired.id, flow_id="street-safety", step_id="feel_safe", value="safe"))
    with db.session() as s:
        assert result_summary(s, flow, "feel_safe", "unsafe", "en") == "60% of you said “Unsafe”."
        assert "Anniogel" in result_summary(s, flow, "feel_safe", "unsafe", "cy")
        assert "60%" in result_summary(s, flow, "feel_safe", "unsafe", "cy")


def test_newsletter_text_is_plain_and_complete(services, db, took_part):
    update_id = new_update(services)
    send_update(services, update_id)
    with db.session() as s:
        text = newsletter_text(s, s.get(Update, update_id), services.registry.get("street-safety"))
    assert text.splitlines()[0] == "Feeling safe in your neighbourhood"
    assert "What we asked: Decide where 40 new street lights go in 2027" in text
    assert "How many answered: 4" in text
    assert "We did: We are putting 12 new lights in Town Park in March." in text
    assert "Residents who took part were told on 2 December 2026." in text
    assert "<" not in text


def test_public_page_shows_published_updates_without_personal_data(services, db, took_part, client):
    draft = new_update(services, title="Not yet")
    update_id = new_update(services)
    send_update(services, update_id)
    page = client.get("/you-said-we-did")
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Feeling safe in your neighbourhood" in body
    assert TEXTS["en"]["did"] in body and "4 residents answered" in body
    assert "Not yet" not in body
    with db.session() as s:
        from store.models import Address

        numbers = s.scalars(select(Address.address)).all()
    assert not any(number in body for number in numbers)
    welsh = client.get("/you-said-we-did?lang=cy").get_data(as_text=True)
    assert "Parc y Dref" in welsh.replace("&#39;", "'")
    assert "<h1>Dywedoch chi, fe wnaethon ni</h1>" in welsh and "<dt>Pam</dt>" in welsh
    text = client.get(f"/you-said-we-did/{update_id}.txt")
    assert text.mimetype == "text/plain" and "How many answered: 4" in text.get_data(as_text=True)
    assert client.get(f"/you-said-we-did/{draft}.txt").status_code == 404


def test_public_page_escapes_what_officers_wrote(services, db, took_part, client):
    with db.session() as s:
        texts = {"en": {"said": "<script>alert(1)</script>", "did": "d", "why": "w"}}
        update_id = create_update(s, services.registry.get("street-safety"), texts, DEFAULT_NOW).id
    send_update(services, update_id)
    body = client.get("/you-said-we-did").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in body and "&lt;script&gt;" in body


def test_an_update_too_long_for_sms_with_its_heading_link_and_stop_line_is_refused(services, db, took_part):
    with services.db.session() as s:
        texts = {"en": {"said": "a" * 700, "did": "b" * 700, "why": "c" * 100}}
        update_id = create_update(s, services.registry.get("street-safety"), texts, services.clock.now()).id
    with pytest.raises(UpdateError, match="would be 11 SMS parts"):
        send_update(services, update_id)
    assert updates_sent(db) == []


def test_sending_marks_the_calendar_entry_residents_answered_not_a_later_planned_one(services, db, clock):
    with db.session() as s:
        december = create_consultation(s, flow_id="street-safety", opens=datetime(2026, 12, 1).date(),
                                       closes=datetime(2026, 12, 31).date(), now=DEFAULT_NOW).id
        # A second round, planned for 2027 (entered before the calendar kept to the flow's dates).
        planned = create_consultation(s, flow_id="street-safety", opens=datetime(2027, 3, 1).date(),
                                      closes=datetime(2027, 3, 31).date(), now=DEFAULT_NOW).id
        make_run(s, make_contact(s), "street-safety", "completed", datetime(2026, 12, 10, 12, 0, tzinfo=UTC))
    clock.set(datetime(2027, 1, 20, 10, 0, tzinfo=UTC))
    update_id = new_update(services)
    send_update(services, update_id)
    with db.session() as s:
        assert s.get(Update, update_id).consultation_id == december
        assert (s.get(Consultation, december).status, s.get(Consultation, planned).status) == (
            "reported", "planned")
