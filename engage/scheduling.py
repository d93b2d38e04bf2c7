"""The scheduler: broadcasts at their times, and the periodic jobs (expiry, closing, reminders).

APScheduler keeps its jobs in our own database (SQLAlchemyJobStore), so a
schedule survives a restart; `coalesce` and `misfire_grace_time` make a
schedule missed while the service was down fire once on return, not once per
missed tick. Jobs only queue keyed outbox rows, so firing twice sends nothing
twice. In scaled mode several `python app.py scheduler` processes may run:
a PostgreSQL advisory lock elects the one that schedules.
"""
from __future__ import annotations

import logging
import threading
from zoneinfo import ZoneInfo

from sqlalchemy import select, text, update
from sqlalchemy.engine import Connection

from engage import metrics
from store.models import Run
from store.models.outreach import Broadcast

log = logging.getLogger(__name__)

JOBS_TABLE = "scheduler_jobs"
# Any fixed number shared by every scheduler process of this service.
LEADER_LOCK_KEY = 727_001
DEFAULT_MISFIRE_GRACE_SECONDS = 6 * 3600
SYNC_SECONDS = 30
PERIODIC_SECONDS = {"expire-runs": 300, "close-consultations": 600, "reminders": 600, "retention": 24 * 3600}

# The services the running scheduler's jobs act on. Jobs are stored pickled in
# the database, so they name a module function rather than carry objects;
# start_scheduler sets this before the first job can run.
_active_services = None


def broadcast_job_id(broadcast_id: int) -> str:
    return f"broadcast:{broadcast_id}"


# ----- job functions (stored by reference; keep their names stable) -------------------------


def broadcast_job(broadcast_id: int) -> None:
    """Fire one broadcast for the running scheduler."""
    from engage.broadcasts import fire_broadcast

    fire_broadcast(_active_services, broadcast_id)


def expire_runs_job() -> None:
    expire_runs(_active_services)


def close_consultations_job() -> None:
    end_runs_of_closed_consultations(_active_services)


def reminders_job() -> None:
    from engage.reminders import send_reminders

    send_reminders(_active_services)


def retention_job() -> None:
    from engage.privacy import run_retention

    report = run_retention(_active_services)
    log.info("retention: %s", report.as_dict())


def sync_job() -> None:
    sync_broadcast_jobs(_active_services, _active_services.extras["scheduler"])


# ----- what the periodic jobs do -------------------------------------------------------------


def expire_runs(services) -> int:
    """Mark active runs past their `expires_after` as expired; return how many."""
    now = services.clock.now()
    with services.db.session() as s:
        result = s.execute(
            update(Run).where(Run.status == "active", Run.expires_at.is_not(None), Run.expires_at <= now)
            .values(status="expired", finished_at=now, updated_at=now, current_step=None)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount or 0


def end_runs_of_closed_consultations(services) -> int:
    """End the open runs of every flow whose consultation has closed; refresh calendar statuses."""
    from engage.calendar import refresh_statuses

    now = services.clock.now()
    tz = services.settings.timezone
    closed = [f.id for f in services.registry.all()
              if f.consultation is not None and f.consultation.closes_at(tz) is not None
              and now > f.consultation.closes_at(tz)]
    ended = 0
    with services.db.session() as s:
        if closed:
            result = s.execute(
                update(Run).where(Run.status == "active", Run.flow_id.in_(closed))
                .values(status="ended", finished_at=now, updated_at=now, current_step=None)
                .execution_options(synchronize_session=False)
            )
            ended = result.rowcount or 0
        refresh_statuses(s, now, tz)
    return ended


def sync_broadcast_jobs(services, scheduler) -> int:
    """Give every scheduled broadcast a job (created elsewhere, e.g. by the CLI) and drop cancelled ones."""
    from apscheduler.triggers.date import DateTrigger

    from engage.broadcasts import cron_trigger

    tz = services.settings.timezone
    now = services.clock.now()
    added = 0
    with services.db.session() as s:
        rows = s.execute(select(Broadcast.id, Broadcast.status, Broadcast.schedule, Broadcast.send_at,
                                Broadcast.cron, Broadcast.last_fired_at)).all()
    for broadcast_id, status, schedule, send_at, cron, last_fired_at in rows:
        job_id = broadcast_job_id(broadcast_id)
        job = scheduler.get_job(job_id)
        if status != "scheduled":
            if job is not None:
                scheduler.remove_job(job_id)
            continue
        if job is not None:
            continue
        if schedule == "cron":
            trigger = cron_trigger(cron, tz)
        elif last_fired_at is None:
            trigger = DateTrigger(run_date=send_at or now, timezone=ZoneInfo(tz))
        else:
            continue
        scheduler.add_job("engage.scheduling:broadcast_job", trigger, args=[broadcast_id], id=job_id,
                          name=f"broadcast {broadcast_id}", replace_existing=False)
        added += 1
    return added


# ----- the scheduler itself ------------------------------------------------------------------


def build_scheduler(services):
    """Return a BackgroundScheduler keeping its jobs in our database; not started."""
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler

    grace = int(services.settings.extra.get("misfire_grace_seconds", DEFAULT_MISFIRE_GRACE_SECONDS))
    return BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=services.db.engine, tablename=JOBS_TABLE)},
        executors={"default": {"type": "threadpool", "max_workers": 2}},
        job_defaults={"coalesce": True, "misfire_grace_time": grace, "max_instances": 1},
        timezone=ZoneInfo(services.settings.timezone),
    )


def start_scheduler(services, *, periodic: bool = True):
    """Build and start the scheduler for these services, with the sync and periodic jobs."""
    from apscheduler.triggers.interval import IntervalTrigger

    global _active_services
    _active_services = services
    scheduler = build_scheduler(services)
    services.extras["scheduler"] = scheduler
    scheduler.start()
    sync_broadcast_jobs(services, scheduler)
    if periodic:
        jobs = {"sync": ("engage.scheduling:sync_job", SYNC_SECONDS),
                "expire-runs": ("engage.scheduling:expire_runs_job", PERIODIC_SECONDS["expire-runs"]),
                "close-consultations": ("engage.scheduling:close_consultations_job",
                                        PERIODIC_SECONDS["close-consultations"]),
                "reminders": ("engage.scheduling:reminders_job", PERIODIC_SECONDS["reminders"]),
                "retention": ("engage.scheduling:retention_job", PERIODIC_SECONDS["retention"])}
        for name, (func, seconds) in jobs.items():
            scheduler.add_job(func, IntervalTrigger(seconds=seconds), id=f"outreach:{name}", name=name,
                              replace_existing=True)
    return scheduler


class Leadership:
    """Who schedules: on PostgreSQL the holder of a session advisory lock; on SQLite the only process."""

    def __init__(self, db, key: int = LEADER_LOCK_KEY):
        self.db = db
        self.key = key
        self._conn: Connection | None = None
        self._sqlite_held = False

    def acquire(self) -> bool:
        """Try once to become the leader; return True when this process now schedules."""
        if not self.db.is_postgres:
            self._sqlite_held = True
            return True
        if self._conn is not None:
            return True
        conn = self.db.engine.connect()
        try:
            got = conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": self.key}).scalar()
            conn.commit()
        except Exception:
            conn.close()
            raise
        if got:
            self._conn = conn
            return True
        conn.close()
        return False

    def alive(self) -> bool:
        """Return True while the lock's connection still answers (losing it means losing the lock)."""
        if not self.db.is_postgres:
            return self._sqlite_held
        if self._conn is None:
            return False
        try:
            self._conn.execute(text("SELECT 1"))
            self._conn.commit()
            return True
        except Exception:
            conn, self._conn = self._conn, None
            try:
                conn.invalidate()  # never hand a broken session, lock or not, back to the pool
            except Exception:
                log.warning("could not discard the scheduler lock's connection", exc_info=True)
            return False

    def release(self) -> None:
        """Give up leadership so another process may take it."""
        self._sqlite_held = False
        if self._conn is None:
            return
        try:
            self._conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self.key})
            self._conn.commit()
        finally:
            self._conn.close()
            self._conn = None


def scheduler_loop(services, stop: threading.Event, retry_seconds: float = 10.0, check_seconds: float = 5.0) -> None:
    """Schedule while leader; otherwise wait and try again until told to stop."""
    leadership = Leadership(services.db)
    while not stop.is_set():
        if not leadership.acquire():
            stop.wait(retry_seconds)
            continue
        log.info("this process is the scheduler")
        metrics.scheduler_leader(True)
        scheduler = start_scheduler(services)
        try:
            while not stop.wait(check_seconds):
                if not leadership.alive():
                    log.warning("lost the scheduler lock; standing down")
                    break
        finally:
            scheduler.shutdown(wait=False)
            services.extras.pop("scheduler", None)
            leadership.release()
            metrics.scheduler_leader(False)


def init_app(app, services) -> None:
    """Register the scheduler loop (embedded: a thread of `python app.py`; scaled: `python app.py scheduler`)."""
    services.loops["scheduler"] = scheduler_loop

