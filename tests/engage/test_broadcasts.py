"""Broadcasts: one message per eligible resident, skips counted by reason, quiet hours, channels, languages."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from engage.broadcasts import (
    BroadcastError,
    cancel_broadcast,
    create_broadcast,
    describe_cron,
    describe_schedule,
    fire_broadcast,
    occurrence_for,
)
from engage.segments import create_segment
from store.models import CONSENT_OPTED_OUT, OutboxMessage, Run
from store.models.outreach import Broadcast, BroadcastOccurrence
from tests.conftest import DEFAULT_NOW
from tests.support.outreach import bulk_contacts, engage_services, make_contact, make_run, make_sent

UTC = timezone.utc
TZ = "Europe/London"
TEXTS = {"en": "Bins go out on Tuesday this week.", "cy": "Bydd biniau'n mynd allan ddydd Mawrth."}
# Every broadcast ends with who sent it and how to stop (the test council is Harlow Council).
STOP = {"en": "Reply STOP to stop messages from Harlow Council.",
        "cy": "Atebwch STOP i atal negeseuon gan Harlow Council."}
SENT = {lang: f"{text}\n\n{STOP[lang]}" for lang, text in TEXTS.items()}


@pytest.fixture
def services(db, clock, app_config):
    return engage_services(db, clock, app_config)


def new_broadcast(services, rules, **kwargs):
    kwargs.setdefault("texts", None if "flow" in kwargs else TEXTS)
    with services.db.session() as s:
        segment = create_segment(s, f"segment {datetime.now().timestamp()}", rules, services.clock.now())
        broadcast = create_broadcast(s, name="test", segment=segment, now=services.clock.now(), tz=TZ, **kwargs)
        return broadcast.id


def rows(db, **where):
    with db.session() as s:
        query = select(OutboxMessage).order_by(OutboxMessage.contact_id)
        for key, value in where.items():
            query = query.where(getattr(OutboxMessage, key) == value)
        return s.scalars(query).all()


@pytest.fixture
def ward(db, services):
    """Netteswell residents: two who may be messaged, and one each opted out, over the cap, objecting."""
    now = services.clock.now()
    with db.session() as s:
        people = {
            "en": make_contact(s, ward="Netteswell"),
            "cy": make_contact(s, ward="Netteswell", language="cy"),
            "stopped": make_contact(s, ward="Netteswell", consent=CONSENT_OPTED_OUT),
            "tired": make_contact(s, ward="Netteswell"),
            "objects": make_contact(s, ward="Netteswell", do_not_contact=True),
            "elsewhere": make_contact(s, ward="Mark Hall"),
        }
        make_sent(s, people["tired"], now - timedelta(days=2))
        make_sent(s, people["tired"], now - timedelta(days=6), kind="update")
        # Old, failed or live-conversation rows do not count towards the cap.
        make_sent(s, people["en"], now - timedelta(days=9))
        make_sent(s, people["en"], now - timedelta(days=1), status="failed")
        make_sent(s, people["en"], now - timedelta(days=1), kind="reply")
        return {k: c.id for k, c in people.items()}


def test_exactly_one_message_per_eligible_resident_and_skips_counted(services, db, ward):
    broadcast_id = new_broadcast(services, {"field": "ward", "in": ["Netteswell"]})
    result = fire_broadcast(services, broadcast_id)
    assert (result.in_segment, result.eligible, result.queued) == (5, 2, 2)
    assert dict(result.skipped) == {"opted_out": 1, "fatigue": 1, "objected": 1}
    queued = rows(db, broadcast_id=broadcast_id)
    assert [r.contact_id for r in queued] == [ward["en"], ward["cy"]]
    assert [(r.kind, r.priority, r.language, r.payload["text"]) for r in queued] == [
        ("broadcast", 10, "en", SENT["en"]), ("broadcast", 10, "cy", SENT["cy"])]
    assert queued[0].dedupe_key == f"broadcast:{broadcast_id}:contact:{ward['en']}"
    with db.session() as s:
        stored = s.scalar(select(BroadcastOccurrence))
        assert (stored.occurrence, stored.in_segment, stored.queued, stored.skipped) == (
            "once", 5, 2, {"opted_out": 1, "fatigue": 1, "objected": 1})
        assert s.get(Broadcast, broadcast_id).status == "sent"


def test_firing_twice_queues_nothing_new(services, db, ward):
    broadcast_id = new_broadcast(services, {"field": "ward", "in": ["Netteswell"]})
    fire_broadcast(services, broadcast_id)
    again = fire_broadcast(services, broadcast_id)
    assert (again.queued, again.newly_queued) == (2, 0)
    assert len(rows(db, broadcast_id=broadcast_id)) == 2
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(BroadcastOccurrence)) == 1


def test_small_batches_give_the_same_result(services, db, ward):
    broadcast_id = new_broadcast(services, {"field": "ward", "in": ["Netteswell"]})
    result = fire_broadcast(services, broadcast_id, batch_size=2)
    assert (result.in_segment, result.queued) == (5, 2)


def test_evening_broadcast_is_held_until_the_morning(services, db, ward, clock):
    clock.set(datetime(2026, 12, 2, 21, 30, tzinfo=UTC))
    broadcast_id = new_broadcast(services, {"field": "ward", "in": ["Netteswell"]})
    fire_broadcast(services, broadcast_id)
    assert {r.not_before for r in rows(db, broadcast_id=broadcast_id)} == {datetime(2026, 12, 3, 9, 0, tzinfo=UTC)}


def test_daytime_broadcast_may_go_at_once(services, db, ward):
    broadcast_id = new_broadcast(services, {"field": "ward", "in": ["Netteswell"]})
    fire_broadcast(services, broadcast_id)
    assert {r.not_before for r in rows(db, broadcast_id=broadcast_id)} == {DEFAULT_NOW}


def test_preferred_channel_then_most_recently_used(services, db):
    with db.session() as s:
        preferred = make_contact(s, extra_addresses=({"channel": "telegram", "consent": "opted_in",
                                                      "preferred": True},))
        recent = make_contact(s, extra_addresses=({"channel": "telegram", "consent": "opted_in",
                                                   "last_inbound_at": DEFAULT_NOW - timedelta(days=1)},))
        only_stopped_telegram = make_contact(s, extra_addresses=({"channel": "telegram", "consent": "opted_out",
                                                                  "preferred": True},))
        ids = (preferred.id, recent.id, only_stopped_telegram.id)
    broadcast_id = new_broadcast(services, {"all": []})
    fire_broadcast(services, broadcast_id)
    assert [(r.contact_id, r.channel) for r in rows(db, broadcast_id=broadcast_id)] == [
        (ids[0], "telegram"), (ids[1], "telegram"), (ids[2], "sms")]


def test_unusable_and_never_opted_in_are_skipped(services, db):
    with db.session() as s:
        make_contact(s, usable=False)
        make_contact(s, consent="unknown")
    result = fire_broadcast(services, new_broadcast(services, {"all": []}))
    assert result.queued == 0
    assert dict(result.skipped) == {"unusable": 1, "no_consent": 1}


def test_missing_language_falls_back_and_is_counted(services, db):
    with db.session() as s:
        polish = make_contact(s, language="pl").id
    result = fire_broadcast(services, new_broadcast(services, {"all": []}))
    assert result.language_fallbacks == 1
    [row] = rows(db, contact_id=polish)
    assert (row.language, row.payload["text"]) == ("en", SENT["en"])


def test_recurring_broadcast_keys_each_occurrence(services, db, clock):
    with db.session() as s:
        contact_id = make_contact(s).id
    clock.set(datetime(2026, 12, 7, 10, 0, 30, tzinfo=UTC))  # first Monday of December, 10:00 GMT
    broadcast_id = new_broadcast(services, {"all": []}, schedule="cron", cron="0 10 1-7 * mon")
    fire_broadcast(services, broadcast_id)
    fire_broadcast(services, broadcast_id)
    clock.set(datetime(2027, 1, 4, 10, 0, tzinfo=UTC))
    fire_broadcast(services, broadcast_id)
    keys = [r.dedupe_key for r in rows(db, broadcast_id=broadcast_id)]
    assert keys == [f"broadcast:{broadcast_id}:2026-12-07T10:00:contact:{contact_id}",
                    f"broadcast:{broadcast_id}:2027-01-04T10:00:contact:{contact_id}"]
    with db.session() as s:
        assert s.get(Broadcast, broadcast_id).status == "scheduled"


def test_occurrence_is_the_latest_scheduled_time_even_when_fired_late(services, db, clock):
    with db.session() as s:
        segment = create_segment(s, "all", {"all": []}, DEFAULT_NOW)
        broadcast = create_broadcast(s, name="x", segment=segment, now=DEFAULT_NOW, tz=TZ, texts=TEXTS,
                                     schedule="cron", cron="0 10 1-7 * mon")
        assert occurrence_for(broadcast, datetime(2026, 12, 8, 3, 0, tzinfo=UTC), TZ) == "2026-12-07T10:00"


def test_a_schedule_firing_twice_a_day_sends_each_time(services, db, clock):
    with db.session() as s:
        contact_id = make_contact(s).id
    clock.set(datetime(2026, 12, 7, 10, 0, 5, tzinfo=UTC))
    broadcast_id = new_broadcast(services, {"all": []}, schedule="cron", cron="0 10,14 * * *")
    morning = fire_broadcast(services, broadcast_id)
    clock.set(datetime(2026, 12, 7, 10, 30, tzinfo=UTC))
    assert fire_broadcast(services, broadcast_id).newly_queued == 0  # the same firing, repeated
    clock.set(datetime(2026, 12, 7, 14, 0, 5, tzinfo=UTC))
    afternoon = fire_broadcast(services, broadcast_id)
    assert (morning.occurrence, afternoon.occurrence) == ("2026-12-07T10:00", "2026-12-07T14:00")
    assert (morning.newly_queued, afternoon.newly_queued) == (1, 1)
    assert [r.dedupe_key for r in rows(db, broadcast_id=broadcast_id)] == [
        f"broadcast:{broadcast_id}:2026-12-07T10:00:contact:{contact_id}",
        f"broadcast:{broadcast_id}:2026-12-07T14:00:contact:{contact_id}"]
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(BroadcastOccurrence)) == 2


def test_repeating_a_firing_keeps_the_numbers_it_counted(services, db, clock):
    with db.session() as s:
        for _ in range(3):
            make_contact(s, language="pl")
        make_contact(s)
    broadcast_id = new_broadcast(services, {"all": []})
    first = fire_broadcast(services, broadcast_id)
    assert (first.queued, first.newly_queued, first.language_fallbacks) == (4, 4, 3)
    clock.set(clock.now() + timedelta(minutes=5))
    again = fire_broadcast(services, broadcast_id)
    assert (again.queued, again.newly_queued) == (4, 0)
    with db.session() as s:
        stored = s.scalar(select(BroadcastOccurrence))
        assert (stored.queued, stored.eligible, stored.language_fallbacks, stored.fired_at) == (4, 4, 3, DEFAULT_NOW)
    # A resident added later is reached by the next send, and only their fallback is added.
    with db.session() as s:
        make_contact(s, language="so")
    third = fire_broadcast(services, broadcast_id)
    assert (third.queued, third.newly_queued) == (5, 1)
    with db.session() as s:
        stored = s.scalar(select(BroadcastOccurrence))
        assert (stored.queued, stored.language_fallbacks) == (5, 4)


@pytest.mark.parametrize(("cron", "words"), [
    ("0 10 1-7 * mon", "every first Monday at 10:00"),
    ("30 9 * * tue,thu", "every Tuesday and Thursday at 09:30"),
    ("0 18 * * *", "every day at 18:00"),
    ("0 12 15 * *", "on day 15 of every month at 12:00"),
    ("*/5 * * * *", "on the schedule '*/5 * * * *'"),
])
def test_schedules_in_words(cron, words):
    assert describe_cron(cron) == words


def test_one_off_schedule_in_words_is_on_the_council_clock(services, db):
    with db.session() as s:
        segment = create_segment(s, "all", {"all": []}, DEFAULT_NOW)
        broadcast = create_broadcast(s, name="x", segment=segment, now=DEFAULT_NOW, tz=TZ, texts=TEXTS,
                                     schedule="once", send_at=datetime(2027, 7, 6, 9, 0, tzinfo=UTC))
        assert describe_schedule(broadcast, TZ) == "once, on Tuesday 06 July 2027 at 10:00"


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"texts": {"en": "  "}}, "the message is empty"),
    ({"texts": TEXTS, "schedule": "once"}, "needs a date and time"),
    ({"texts": TEXTS, "schedule": "once", "send_at": DEFAULT_NOW - timedelta(hours=1)}, "in the past"),
    ({"texts": TEXTS, "schedule": "cron", "cron": "every monday"}, "not understood"),
    ({"texts": TEXTS, "schedule": "weekly"}, "schedule must be one of"),
    ({}, "either message texts or a flow"),
])
def test_bad_broadcasts_get_a_clear_error(db, kwargs, message):
    with db.session() as s:
        segment = create_segment(s, "all", {"all": []}, DEFAULT_NOW)
        with pytest.raises(BroadcastError, match=message):
            create_broadcast(s, name="x", segment=segment, now=DEFAULT_NOW, tz=TZ, **kwargs)


def test_cancelled_broadcast_takes_back_waiting_messages_and_fires_no_more(services, db, ward):
    broadcast_id = new_broadcast(services, {"field": "ward", "in": ["Netteswell"]})
    fire_broadcast(services, broadcast_id)
    with db.session() as s:
        cancel_broadcast(s, s.get(Broadcast, broadcast_id), DEFAULT_NOW)
    assert {r.status for r in rows(db, broadcast_id=broadcast_id)} == {"skipped"}
    assert fire_broadcast(services, broadcast_id) is None


def test_flow_broadcast_starts_one_run_each_and_asks_the_first_question(services, db):
    with db.session() as s:
        en = make_contact(s).id
        cy = make_contact(s, language="cy", channel="telegram").id
    broadcast_id = new_broadcast(services, {"all": []}, flow=services.registry.get("street-safety"))
    result = fire_broadcast(services, broadcast_id)
    fire_broadcast(services, broadcast_id)
    assert result.queued == 2
    with db.session() as s:
        runs = s.scalars(select(Run).order_by(Run.contact_id)).all()
        assert [(r.contact_id, r.started_by, r.broadcast_id, r.language) for r in runs] == [
            (en, "broadcast", broadcast_id, "en"), (cy, "broadcast", broadcast_id, "cy")]
    queued = rows(db, broadcast_id=broadcast_id)
    assert [(r.kind, r.channel, r.payload["step_id"]) for r in queued] == [
        ("broadcast", "sms", "feel_safe"), ("broadcast", "telegram", "feel_safe")]
    assert queued[1].payload["question"].startswith("Pa mor ddiogel")


def test_flow_broadcast_skips_recent_answerers_and_residents_mid_flow(services, db, clock):
    clock.set(datetime(2026, 10, 12, 10, 0, tzinfo=UTC))  # inside climate-pulse's window
    with db.session() as s:
        answered = make_contact(s)
        make_run(s, answered, "climate-pulse", "completed", clock.now() - timedelta(days=3))
        busy = make_contact(s)
        make_run(s, busy, "climate-pulse", "active", clock.now() - timedelta(hours=1))
        fresh = make_contact(s).id
    result = fire_broadcast(services, new_broadcast(services, {"all": []}, flow=services.registry.get("climate-pulse")))
    assert dict(result.skipped) == {"recently_answered": 1, "already_in_flow": 1}
    assert [r.contact_id for r in rows(db, kind="broadcast")] == [fresh]


def test_flow_broadcast_outside_the_consultation_window_sends_nothing(services, db):
    with db.session() as s:
        make_contact(s)
    result = fire_broadcast(services, new_broadcast(services, {"all": []},
                                                    flow=services.registry.get("crime-perception")))
    assert (result.queued, dict(result.skipped)) == (0, {"consultation_closed": 1})
    assert rows(db) == []


def test_hundred_thousand_residents_get_exactly_one_each(services, db):
    if not db.is_postgres:
        pytest.skip("100,000-contact run is for PostgreSQL; SQLite is the one-process embedded engine")
    bulk_contacts(db, 100_000)
    with db.session() as s:
        tired = make_contact(s, ward="Netteswell")
        make_sent(s, tired, DEFAULT_NOW - timedelta(days=1))
        make_sent(s, tired, DEFAULT_NOW - timedelta(days=2))
    broadcast_id = new_broadcast(services, {"field": "ward", "in": ["Netteswell"]})
    result = fire_broadcast(services, broadcast_id)
    assert (result.in_segment, result.queued, dict(result.skipped)) == (100_001, 100_000, {"fatigue": 1})
    with db.session() as s:
        per_contact = (select(OutboxMessage.contact_id, func.count().label("n"))
                       .where(OutboxMessage.broadcast_id == broadcast_id).group_by(OutboxMessage.contact_id)
                       .subquery())
        assert s.execute(select(func.count(), func.max(per_contact.c.n))).one() == (100_000, 1)


def test_wales_mode_sends_welsh_then_english_when_the_language_is_unknown(db, clock, app_config):
    services = engage_services(db, clock, {**app_config, "welsh_first": True})
    with db.session() as s:
        unknown = make_contact(s).id
        english = make_contact(s, language="en").id
    fire_broadcast(services, new_broadcast(services, {"all": []}))
    texts = {r.contact_id: r.payload["text"] for r in rows(db)}
    assert texts == {unknown: f"{TEXTS['cy']}\n\n{TEXTS['en']}\n\n{STOP['cy']}\n{STOP['en']}", english: SENT["en"]}


def test_flow_broadcast_does_not_cut_into_a_conversation_happening_now(services, db, clock):
    with db.session() as s:
        chatting = make_contact(s)
        make_run(s, chatting, "citizens-panel", "active", clock.now() - timedelta(minutes=20))
        stale = make_contact(s)
        make_run(s, stale, "citizens-panel", "active", clock.now() - timedelta(days=2))
        ids = chatting.id, stale.id
    broadcast_id = new_broadcast(services, {"all": []}, flow=services.registry.get("street-safety"))
    result = fire_broadcast(services, broadcast_id)
    assert (result.queued, dict(result.skipped)) == (1, {"in_conversation": 1})
    clock.advance(hours=3)  # sending again later reaches only the one left out
    again = fire_broadcast(services, broadcast_id)
    assert (again.queued, again.newly_queued) == (2, 1)
    assert sorted(r.contact_id for r in rows(db, broadcast_id=broadcast_id)) == sorted(ids)


def test_a_flow_started_by_broadcast_says_who_is_asking_and_how_to_stop(services, db):
    with db.session() as s:
        welsh = make_contact(s, language="cy").id
    fire_broadcast(services, new_broadcast(services, {"all": []}, flow=services.registry.get("street-safety")))
    [row] = rows(db, contact_id=welsh)
    assert row.payload["type"] == "question" and row.payload["intro"] == [STOP["cy"]]
    assert row.payload["text"].startswith(STOP["cy"] + "\n\nPa mor ddiogel")


def test_a_message_too_long_with_its_stop_line_is_refused(services, db):
    # 1,525 plain characters fit ten SMS parts alone, not with the line saying who it is from.
    with pytest.raises(BroadcastError, match="the en message is 11 SMS parts .* shorten it"):
        with db.session() as s:
            segment = create_segment(s, "all", {"all": []}, DEFAULT_NOW)
            create_broadcast(s, name="long", segment=segment, now=DEFAULT_NOW, tz=TZ, texts={"en": "a" * 1525},
                             council="Harlow Council")
