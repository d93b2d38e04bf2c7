"""Officer accounts: creation rules, argon2 hashes, sign-in limits per account and per address, roles, audit."""
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


def test_authenticate_and_the_failure_window(db):
    with db.session() as s:
        officers.create_officer(s, "a@b.uk", PASSWORD, "viewer", now=T0)
    with db.session() as s:
        assert officers.authenticate(s, "a@b.uk", PASSWORD, ip="10.0.0.1", now=T0).ok
    for minute in range(5):
        with db.session() as s:
            outcome = officers.authenticate(s, "a@b.uk", "wrong", ip=f"10.0.0.{minute + 2}",
                                            now=T0 + timedelta(minutes=minute))
            assert outcome.reason == "bad_credentials"
    with db.session() as s:
        assert officers.authenticate(s, "a@b.uk", PASSWORD, ip="10.0.1.1",
                                     now=T0 + timedelta(minutes=10)).reason == "rate_limited"
    # A refused attempt counts too, so guessing during the lock keeps it locked...
    with db.session() as s:
        assert officers.authenticate(s, "a@b.uk", PASSWORD, ip="10.0.1.1",
                                     now=T0 + timedelta(minutes=15)).reason == "rate_limited"
    # ...until fewer than five failures are left in the last fifteen minutes (minutes 3, 4, 10 and 15).
    with db.session() as s:
        assert officers.authenticate(s, "a@b.uk", PASSWORD, ip="10.0.1.1", now=T0 + timedelta(minutes=17)).ok


def test_a_switched_off_account_cannot_sign_in(db):
    with db.session() as s:
        officer = officers.create_officer(s, "a@b.uk", PASSWORD, "admin", now=T0)
        officers.set_active(s, officer, False, now=T0, by=None)
    with db.session() as s:
        assert officers.authenticate(s, "a@b.uk", PASSWORD, ip=None, now=T0).reason == "bad_credentials"


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
    with db.session() as s:
        officer = officers.create_officer(s, "a@b.uk", PASSWORD, "viewer", now=T0)
        epoch = officer.session_epoch
        officers.set_password(s, officer, "another long password", now=T0)
        assert officer.session_epoch == epoch + 1
    with db.session() as s:
        assert officers.authenticate(s, "a@b.uk", "another long password", ip=None, now=T0).ok


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
        officers.authenticate(s, "a@b.uk", "wrong", ip=None, now=T0)
    with db.session() as s:
        assert officers.authenticate(s, "a@b.uk", PASSWORD, ip=None, now=T0 + timedelta(days=31)).ok
    with db.session() as s:
        assert [a.succeeded for a in s.scalars(select(LoginAttempt))] == [True]
