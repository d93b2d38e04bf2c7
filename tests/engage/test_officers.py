"""Officer accounts: creation rules, argon2 hashes, sign-in delays per account and address, roles, sessions, audit."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from engage import officers
from store.models.officers import AuditLog, Officer
from tests.support.dashboard import cheap_password_hashing

T0 = datetime(2026, 12, 2, 10, 0, tzinfo=timezone.utc)
PASSWORD = "a long enough password"
_cheap = pytest.fixture(autouse=True)(cheap_password_hashing)


def test_create_normalises_the_email_hashes_the_password_and_audits(db):
    with db.session() as s:
        officer = officers.create_officer(s, "  Jo.Bloggs@Harlow.GOV.uk ", PASSWORD, "officer", now=T0)
    with db.session() as s:
        stored = s.scalar(select(Officer))
        assert stored.email == "jo.bloggs@harlow.gov.uk"
        assert stored.password_hash.startswith("$argon2id$") and PASSWORD not in stored.password_hash
        entry = s.scalar(select(AuditLog))
        assert (entry.action, entry.target_id) == ("officer.created", str(officer.id))
        assert entry.detail == {"role": "officer"}


@pytest.mark.parametrize("email,password,role,message", [
    ("no-at-sign", PASSWORD, "officer", "valid email"),
    ("a@b.uk", "short", "officer", "at least 12"),
    ("a@b.uk", PASSWORD, "superuser", "role must be one of"),
])
def test_create_refuses_bad_input(db, email, password, role, message):
    with db.session() as s, pytest.raises(officers.OfficerError, match=message):
        officers.create_officer(s, email, password, role, now=T0)


def test_create_refuses_a_duplicate_email(db):
    with db.session() as s:
        officers.create_officer(s, "a@b.uk", PASSWORD, "viewer", now=T0)
    with db.session() as s, pytest.raises(officers.OfficerError, match="already exists"):
        officers.create_officer(s, "A@B.uk", PASSWORD, "viewer", now=T0)


def test_mistakes_bring_doubling_delays_for_the_account_from_that_address(db):
    with db.session() as s:
        officers.create_officer(s, "a@b.uk", PASSWORD, "viewer", now=T0)
    assert officers.authenticate(db, "a@b.uk", PASSWORD, ip="10.0.0.1", now=T0).ok
    # Three mistakes are free.
    for second in range(3):
        outcome = officers.authenticate(db, "a@b.uk", "wrong", ip="10.0.0.1", now=T0 + timedelta(seconds=second))
        assert outcome.reason == "bad_credentials"
    last = T0 + timedelta(seconds=2)
    # Then each further try waits: 5 s after the third mistake, 10 s after the fourth, 20 s after the fifth.
    for delay in (5, 10, 20):
        refused = officers.authenticate(db, "a@b.uk", PASSWORD, ip="10.0.0.1", now=last + timedelta(seconds=delay - 1))
        assert (refused.reason, refused.retry_at) == ("rate_limited", last + timedelta(seconds=delay))
        last += timedelta(seconds=delay)
        assert officers.authenticate(db, "a@b.uk", "wrong", ip="10.0.0.1", now=last).reason == "bad_credentials"
    # The same account from another address, and another account from this one, are not held up.
    assert officers.authenticate(db, "a@b.uk", PASSWORD, ip="10.0.0.2", now=last).ok
    with db.session() as s:
        officers.create_officer(s, "c@b.uk", PASSWORD, "viewer", now=T0)
    assert officers.authenticate(db, "c@b.uk", PASSWORD, ip="10.0.0.1", now=last).ok
    # A success ends the delays for the account from that address.
    assert officers.authenticate(db, "a@b.uk", PASSWORD, ip="10.0.0.1", now=last + timedelta(seconds=40)).ok
    assert officers.authenticate(db, "a@b.uk", "wrong", ip="10.0.0.1",
                                 now=last + timedelta(seconds=41)).reason == "bad_credentials"


def test_guessing_one_account_from_many_addresses_is_slowed_too(db):
    with db.session() as s:
        officers.create_officer(s, "a@b.uk", PASSWORD, "viewer", now=T0)
    for n in range(officers.FREE_FAILURES_ACCOUNT):
        assert officers.authenticate(db, "a@b.uk", "wrong", ip=f"10.0.1.{n}", now=T0).reason == "bad_credentials"
    refused = officers.authenticate(db, "a@b.uk", PASSWORD, ip="10.0.2.1", now=T0)
    assert (refused.reason, refused.retry_at) == ("rate_limited", T0 + officers.FIRST_DELAY)
    assert officers.authenticate(db, "a@b.uk", PASSWORD, ip="10.0.2.1", now=T0 + officers.FIRST_DELAY).ok


def test_one_address_trying_many_accounts_waits_at_most_a_minute(db):
    with db.session() as s:
        officers.create_officer(s, "a@b.uk", PASSWORD, "viewer", now=T0)
    for n in range(officers.FREE_FAILURES_ADDRESS):
        assert officers.authenticate(db, f"guess{n}@b.uk", "wrong", ip="10.9.9.9", now=T0).reason == "bad_credentials"
    moment, waits = T0, []
    for n in range(6):
        refused = officers.authenticate(db, f"more{n}@b.uk", "wrong", ip="10.9.9.9", now=moment)
        assert refused.reason == "rate_limited"
        waits.append(int((refused.retry_at - moment).total_seconds()))
        moment = refused.retry_at
        outcome = officers.authenticate(db, f"more{n}@b.uk", "wrong", ip="10.9.9.9", now=moment)
        assert outcome.reason == "bad_credentials"
    assert waits == [5, 10, 20, 40, 60, 60]
    assert officers.authenticate(db, "a@b.uk", PASSWORD, ip="10.9.9.9", now=moment + timedelta(minutes=1)).ok


def test_attempts_arriving_together_do_not_all_get_checked(db):
    """Twelve browsers try the same account at the same moment: only the free three reach the password check."""
    import threading

    from store.models.officers import LoginAttempt

    with db.session() as s:
        officers.create_officer(s, "a@b.uk", PASSWORD, "viewer", now=T0)
    start = threading.Barrier(12)
    outcomes = []

    def attempt():
        start.wait()
        outcomes.append(officers.authenticate(db, "a@b.uk", "wrong", ip="10.0.0.1", now=T0).reason)

    threads = [threading.Thread(target=attempt) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes) == ["bad_credentials"] * 3 + ["rate_limited"] * 9
    with db.session() as s:
        assert len(s.scalars(select(LoginAttempt)).all()) == 3


def test_a_switched_off_account_cannot_sign_in(db):
    with db.session() as s:
        officer = officers.create_officer(s, "a@b.uk", PASSWORD, "admin", now=T0)
        officers.set_active(s, officer, False, now=T0, by=None)
    assert officers.authenticate(db, "a@b.uk", PASSWORD, ip=None, now=T0).reason == "bad_credentials"


def test_roles_rank_viewer_below_officer_below_admin(db):
    with db.session() as s:
        viewer = officers.create_officer(s, "v@b.uk", PASSWORD, "viewer", now=T0)
        admin = officers.create_officer(s, "a@b.uk", PASSWORD, "admin", now=T0)
        assert officers.may(viewer, "viewer") and not officers.may(viewer, "officer")
        assert officers.may(admin, "officer") and officers.may(admin, "admin")
        assert not officers.may(None, "viewer")
        officers.set_role(s, viewer, "officer", now=T0, by=admin)
        assert officers.may(viewer, "officer")


def test_changing_a_password_ends_other_sessions(db):
    from engage import officer_sessions

    with db.session() as s:
        officer = officers.create_officer(s, "a@b.uk", PASSWORD, "viewer", now=T0)
        here = officer_sessions.start(s, officer, now=T0)
        elsewhere = officer_sessions.start(s, officer, now=T0)
        assert officers.set_password(s, officer, "another long password", now=T0, keep_session=here) == 1
    with db.session() as s:
        assert officer_sessions.check(s, here, now=T0).officer is not None
        assert officer_sessions.check(s, elsewhere, now=T0).officer is None
    assert officers.authenticate(db, "a@b.uk", "another long password", ip=None, now=T0).ok


def test_an_admin_reset_ends_every_session_of_the_person(db):
    from engage import officer_sessions

    with db.session() as s:
        admin = officers.create_officer(s, "admin@b.uk", PASSWORD, "admin", now=T0)
        officer = officers.create_officer(s, "a@b.uk", PASSWORD, "viewer", now=T0)
        theirs = officer_sessions.start(s, officer, now=T0)
        admins = officer_sessions.start(s, admin, now=T0)
        officers.set_password(s, officer, "another long password", now=T0, by=admin, keep_session=admins)
    with db.session() as s:
        assert officer_sessions.check(s, theirs, now=T0).officer is None
        assert officer_sessions.check(s, admins, now=T0).officer is not None
        entry = s.scalars(select(AuditLog).order_by(AuditLog.id.desc())).first()
        assert (entry.action, entry.officer_email, entry.detail) == ("officer.password_reset", "admin@b.uk",
                                                                     {"sessions_ended": 1})


def test_audit_page_filters_by_action_prefix_newest_first(db):
    with db.session() as s:
        for i, action in enumerate(["export.downloaded", "flow.published", "export.downloaded"]):
            officers.record(s, None, action, T0 + timedelta(minutes=i))
    with db.session() as s:
        rows, total = officers.audit_page(s, action="export")
    assert total == 2 and [r.at for r in rows] == [T0 + timedelta(minutes=2), T0]


def test_sign_in_attempts_older_than_a_month_are_dropped(db):
    from store.models.officers import LoginAttempt

    with db.session() as s:
        officers.create_officer(s, "a@b.uk", PASSWORD, "viewer", now=T0)
    officers.authenticate(db, "a@b.uk", "wrong", ip=None, now=T0)
    assert officers.authenticate(db, "a@b.uk", PASSWORD, ip=None, now=T0 + timedelta(days=31)).ok
    with db.session() as s:
        assert [a.succeeded for a in s.scalars(select(LoginAttempt))] == [True]
