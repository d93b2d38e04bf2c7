"""The scheduler: jobs in our database, a restart sends nothing twice, periodic jobs, one leader on PostgreSQL."""
from __future__ import annotations

import os
import time
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import inspect, select, text

from engage import scheduling
from engage.broadcasts import create_broadcast
from engage.scheduling import (
    Leadership,
    end_runs_of_closed_consultations,
    expire_runs,
    start_scheduler,
    sync_broadcast_jobs,
)
from engage.segments import create_segment
from store.models import CONSENT_OPTED_OUT, OutboxMessage, Run
from store.models.outreach import Broadcast, BroadcastOccurrence
from tests.conftest import DEFAULT_NOW
from tests.support.outreach import engage_services, make_contact, make_run, make_sent

UTC = timezone.utc


@pytest.fixture
def services(db, clock, app_config):
    built = engage_services(db, clock, app_config)
    yield built
    scheduler = built.extras.pop("scheduler", None)
    if scheduler is not None and scheduler.running:
        scheduler.shutdown(wait=False)
    # The job table is APScheduler's own, outside our models: empty it too.
    if inspect(db.engine).has_table(scheduling.JOBS_TABLE):
        with db.engine.begin() as conn:
            conn.execute(text(f"DELETE FROM {scheduling.JOBS_TABLE}"))


def once_broadcast(services, send_at: datetime) -> int:
    with services.db.session() as s:
        segment = create_segment(s, "everyone", {"all": []}, services.clock.now())
        return create_broadcast(s, name="soon", segment=segment, now=services.clock.now() - timedelta(days=1),
                                tz="Europe/London", texts={"en": "Hello"}, schedule="once", send_at=send_at).id


def wait_for(condition, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def fired(db, broadcast_id: int) -> bool:
    with db.session() as s:
        return s.scalar(select(BroadcastOccurrence.id).where(BroadcastOccurrence.broadcast_id == broadcast_id)) \
            is not None


def outbox_count(db) -> int:
    with db.session() as s:
        return len(s.scalars(select(OutboxMessage.id)).all())


def test_a_due_broadcast_fires_once_and_a_restart_sends_nothing_again(services, db, clock):
    clock.set(datetime.now(UTC))  # APScheduler runs on the real clock
    with db.session() as s:
        make_contact(s)
        make_contact(s)
        make_contact(s, consent=CONSENT_OPTED_OUT)
        tired = make_contact(s)
        make_sent(s, tired, clock.now() - timedelta(days=1))
        make_sent(s, tired, clock.now() - timedelta(days=3))
    broadcast_id = once_broadcast(services, datetime.now(UTC) + timedelta(seconds=0.3))
    start_scheduler(services, periodic=False)
    assert wait_for(lambda: fired(db, broadcast_id))
    with db.session() as s:
        occurrence = s.scalar(select(BroadcastOccurrence))
        assert (occurrence.queued, occurrence.skipped) == (2, {"opted_out": 1, "fatigue": 1})
    services.extras["scheduler"].shutdown(wait=True)
    start_scheduler(services, periodic=False)
    assert services.extras["scheduler"].get_job(scheduling.broadcast_job_id(broadcast_id)) is None
    scheduling.broadcast_job(broadcast_id)  # even a stray second firing queues nothing new
    assert outbox_count(db) == 2 + 2  # two new, plus the tired resident's two earlier messages
    with db.session() as s:
        assert s.get(Broadcast, broadcast_id).status == "sent"


def test_a_schedule_missed_while_down_fires_once_on_return(services, db, clock):
    clock.set(datetime.now(UTC))
    with db.session() as s:
        make_contact(s)
    broadcast_id = once_broadcast(services, datetime.now(UTC) + timedelta(seconds=0.2))
    scheduler = start_scheduler(services, periodic=False)
    scheduler.shutdown(wait=True)  # the service goes down before the time comes
    assert not fired(db, broadcast_id)
    time.sleep(0.3)
    restarted = start_scheduler(services, periodic=False)  # the job was kept in our database
    assert wait_for(lambda: fired(db, broadcast_id))
    assert outbox_count(db) == 1
    # The scheduler's thread drops the spent job just after handing it over; on a busy machine the job
    # may finish first.
    assert wait_for(lambda: restarted.get_job(scheduling.broadcast_job_id(broadcast_id)) is None)


def test_sync_adds_jobs_for_scheduled_broadcasts_and_drops_cancelled_ones(services, db):
    # APScheduler runs on the real clock and drops a job whose moment has passed: base it on now.
    later = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
    broadcast_id = once_broadcast(services, later)
    scheduler = start_scheduler(services, periodic=True)
    job = scheduler.get_job(scheduling.broadcast_job_id(broadcast_id))
    assert job.next_run_time == later
    assert {j.id for j in scheduler.get_jobs()} >= {"outreach:sync", "outreach:reminders", "outreach:expire-runs",
                                                     "outreach:close-consultations", "outreach:retention"}
    assert job.misfire_grace_time == scheduling.DEFAULT_MISFIRE_GRACE_SECONDS and job.coalesce is True
    with db.session() as s:
        s.get(Broadcast, broadcast_id).status = "cancelled"
    sync_broadcast_jobs(services, scheduler)
    assert scheduler.get_job(scheduling.broadcast_job_id(broadcast_id)) is None


def test_recurring_broadcast_gets_a_cron_job_on_the_council_clock(services, db):
    with db.session() as s:
        segment = create_segment(s, "everyone", {"all": []}, DEFAULT_NOW)
        broadcast_id = create_broadcast(s, name="monthly", segment=segment, now=DEFAULT_NOW, tz="Europe/London",
                                        texts={"en": "Hi"}, schedule="cron", cron="0 10 1-7 * mon").id
    scheduler = start_scheduler(services, periodic=False)
    job = scheduler.get_job(scheduling.broadcast_job_id(broadcast_id))
    assert job.trigger.get_next_fire_time(None, datetime(2026, 12, 2, tzinfo=UTC)) == \
        datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


def test_expire_job_ends_runs_past_their_time(services, db, clock):
    with db.session() as s:
        contact = make_contact(s)
        stale = make_run(s, contact, "street-safety", "active", DEFAULT_NOW - timedelta(days=3))
        stale.expires_at = DEFAULT_NOW - timedelta(hours=1)
        fresh = make_run(s, make_contact(s), "street-safety", "active", DEFAULT_NOW)
        fresh.expires_at = DEFAULT_NOW + timedelta(hours=47)
        ids = stale.id, fresh.id
    assert expire_runs(services) == 1
    with db.session() as s:
        assert [s.get(Run, i).status for i in ids] == ["expired", "active"]


def test_closing_job_ends_open_runs_of_closed_consultations(services, db, clock):
    with db.session() as s:
        closed = make_run(s, make_contact(s), "crime-perception", "active", DEFAULT_NOW - timedelta(days=50))
        still_open = make_run(s, make_contact(s), "street-safety", "active", DEFAULT_NOW)
        ids = closed.id, still_open.id
    assert end_runs_of_closed_consultations(services) == 1
    with db.session() as s:
        assert [s.get(Run, i).status for i in ids] == ["ended", "active"]


def test_the_scheduler_loop_is_registered_for_both_modes(app_config, db, clock):
    from engage.scheduling import init_app, scheduler_loop

    built = engage_services(db, clock, app_config)
    init_app(None, built)
    assert built.loops["scheduler"] is scheduler_loop


def test_embedded_sqlite_always_leads(db):
    if db.is_postgres:
        pytest.skip("the embedded form is SQLite")
    # One process: there is nobody to elect against, so every scheduler started leads.
    assert (Leadership(db).acquire(), Leadership(db).acquire()) == (True, True)


@pytest.mark.postgres
@pytest.mark.skipif(not os.environ.get("OUTREACH_TEST_DATABASE_URL", "").startswith("postgres"),
                    reason="PostgreSQL only: embedded SQLite is one process, with nobody to elect against")
def test_only_one_scheduler_leads_on_postgresql(db):
    first, second = Leadership(db), Leadership(db)
    try:
        assert first.acquire() is True
        assert second.acquire() is False
        assert first.alive()
        first.release()
        assert second.acquire() is True
        assert first.acquire() is False
    finally:
        first.release()
        second.release()


def test_two_scheduler_processes_and_only_one_schedules(db, clock, app_config):
    """`python app.py scheduler` twice: the second waits until the first stops (PostgreSQL advisory lock)."""
    import threading

    from engage.scheduling import scheduler_loop

    first, second = engage_services(db, clock, app_config), engage_services(db, clock, app_config)
    stop_first, stop_second = threading.Event(), threading.Event()
    threads = [threading.Thread(target=scheduler_loop, args=(first, stop_first, 0.05, 0.05), daemon=True)]
    threads[0].start()
    try:
        assert wait_for(lambda: "scheduler" in first.extras)
        if db.is_postgres:
            threads.append(threading.Thread(target=scheduler_loop, args=(second, stop_second, 0.05, 0.05),
                                            daemon=True))
            threads[1].start()
            time.sleep(0.3)
            assert "scheduler" not in second.extras
            stop_first.set()
            threads[0].join(5)
            assert wait_for(lambda: "scheduler" in second.extras)
    finally:
        stop_first.set()
        stop_second.set()
        for thread in threads:
            thread.join(5)
        if inspect(db.engine).has_table(scheduling.JOBS_TABLE):
            with db.engine.begin() as conn:
                conn.execute(text(f"DELETE FROM {scheduling.JOBS_TABLE}"))
    assert "scheduler" not in first.extras and "scheduler" not in second.extras


def test_the_periodic_jobs_as_stored_do_their_work(services, db, clock, caplog):
    """Run each stored job's own function, as the scheduler would when its time comes."""
    caplog.set_level("INFO", logger="engage.scheduling")
    long_ago = DEFAULT_NOW - timedelta(hours=25)
    with db.session() as s:
        stale = make_run(s, make_contact(s), "street-safety", "active", DEFAULT_NOW - timedelta(days=3))
        stale.expires_at = DEFAULT_NOW - timedelta(hours=1)
        closed = make_run(s, make_contact(s), "crime-perception", "active", DEFAULT_NOW - timedelta(days=50))
        quiet = make_run(s, make_contact(s), "citizens-panel", "active", long_ago)
        ids = stale.id, closed.id, quiet.id
    scheduler = start_scheduler(services, periodic=True)
    scheduler.pause()  # nothing runs on its own while the test runs the jobs
    broadcast_id = once_broadcast(services, datetime.now(UTC).replace(microsecond=0) + timedelta(days=3))
    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert scheduler.get_job(scheduling.broadcast_job_id(broadcast_id)) is None  # created after the start

    jobs["outreach:sync"].func()
    assert scheduler.get_job(scheduling.broadcast_job_id(broadcast_id)).args == (broadcast_id,)
    jobs["outreach:expire-runs"].func()
    jobs["outreach:close-consultations"].func()
    jobs["outreach:reminders"].func()
    jobs["outreach:retention"].func()
    with db.session() as s:
        assert [s.get(Run, i).status for i in ids] == ["expired", "ended", "active"]
        reminder = s.scalar(select(OutboxMessage).where(OutboxMessage.kind == "reminder"))
        assert (reminder.run_id, reminder.dedupe_key) == (ids[2], f"reminder:run:{ids[2]}")
    # Nothing here is old enough to anonymise, and the job's run is a real one, not a dry run.
    assert "retention: {'answers': 0, 'runs': 0, 'inbound': 0, 'outbox': 0, 'flows': {}, 'dry_run': False}" \
        in caplog.messages
    scheduler.get_job(scheduling.broadcast_job_id(broadcast_id)).func(broadcast_id)
    with db.session() as s:
        assert s.get(Broadcast, broadcast_id).status == "sent"
