"""Signing in, roles, CSRF, session expiry, rate limits, and the audit log that cannot be changed."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from engage.officers import record
from store.models.officers import AuditLog, AuditLogIsAppendOnly, LoginAttempt, Officer
from tests.dashboard.conftest import PASSWORD, csrf_token, sign_in


def test_pages_need_sign_in(client, officers):
    response = client.get("/dashboard/results")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=/dashboard/results")
    assert client.post("/dashboard/broadcasts/new", data={}).status_code == 401


def test_sign_in_and_out(client, officers, services):
    response = sign_in(client, "officer")
    assert response.status_code == 302 and response.headers["Location"] == "/dashboard/"
    home = client.get("/dashboard/")
    assert home.status_code == 200 and "officer@harlow.gov.uk" in home.get_data(as_text=True)
    token = csrf_token(home.get_data(as_text=True))
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/dashboard/").status_code == 302
    with services.db.session() as s:
        actions = s.scalars(select(AuditLog.action).order_by(AuditLog.id)).all()
    assert actions[-2:] == ["officer.signed_in", "officer.signed_out"]


def test_wrong_password_is_refused_with_one_message_for_both_mistakes(client, officers):
    wrong_password = sign_in(client, "officer", password="not the password at all")
    page = client.get("/login")
    token = csrf_token(page.get_data(as_text=True))
    unknown = client.post("/login", data={"email": "nobody@harlow.gov.uk", "password": PASSWORD, "csrf_token": token})
    assert wrong_password.status_code == unknown.status_code == 401
    assert "do not match an active account" in wrong_password.get_data(as_text=True)
    assert "do not match an active account" in unknown.get_data(as_text=True)


def test_next_only_follows_dashboard_paths(client, officers):
    page = client.get("/login")
    token = csrf_token(page.get_data(as_text=True))
    response = client.post("/login", data={"email": "viewer@harlow.gov.uk", "password": PASSWORD,
                                           "csrf_token": token, "next": "https://evil.example/steal"})
    assert response.headers["Location"] == "/dashboard/"


def test_mistakes_bring_growing_delays_not_a_fifteen_minute_lock(client, officers, clock, services):
    for _ in range(3):
        assert sign_in(client, "admin", password="wrong wrong wrong").status_code == 401
    # The right password waits a few seconds, and the page says until when (council time: GMT in December).
    held = sign_in(client, "admin")
    assert held.status_code == 429 and held.headers["Retry-After"] == "5"
    assert "Please try again after 10:00:05." in held.get_data(as_text=True)
    clock.advance(seconds=5)
    assert sign_in(client, "admin", password="still wrong").status_code == 401
    assert sign_in(client, "admin").headers["Retry-After"] == "10"
    clock.advance(seconds=10)
    assert sign_in(client, "admin").status_code == 302
    with services.db.session() as s:
        # Attempts refused before any check are not stored as guesses.
        assert s.scalar(select(func.count(LoginAttempt.id)).where(LoginAttempt.succeeded.is_(False))) == 4


def test_one_officers_mistakes_leave_colleagues_behind_the_same_address_alone(client, officers):
    for _ in range(8):
        sign_in(client, "admin", password="wrong wrong wrong")
    assert sign_in(client, "admin").status_code == 429
    # Colleagues at other desks behind the same council proxy: the same client address.
    assert sign_in(client.application.test_client(), "viewer").status_code == 302
    assert sign_in(client.application.test_client(), "officer").status_code == 302


@pytest.fixture
def behind_a_proxy(app_config):
    from app import create_app

    app = create_app({**app_config, "trusted_proxies": 1})
    yield app
    app.extensions["outreach"].stop_loops()


def test_the_client_address_is_read_through_the_trusted_proxies(behind_a_proxy, officers, services):
    client = behind_a_proxy.test_client()

    def from_address(forwarded: str, password: str = PASSWORD):
        page = client.get("/login", headers={"X-Forwarded-For": forwarded})
        return client.post("/login", headers={"X-Forwarded-For": forwarded},
                           data={"email": "admin@harlow.gov.uk", "password": password,
                                 "csrf_token": csrf_token(page.get_data(as_text=True))})

    for _ in range(3):
        # A client's own X-Forwarded-For entries before the proxy's are not believed.
        assert from_address("198.51.100.7, 203.0.113.5", "wrong wrong wrong").status_code == 401
    assert from_address("203.0.113.5").status_code == 429
    assert from_address("203.0.113.9").status_code == 302
    with services.db.session() as s:
        assert set(s.scalars(select(LoginAttempt.ip))) == {"203.0.113.5", "203.0.113.9"}


def test_without_trusted_proxies_a_forwarded_address_is_ignored(client, officers, services):
    for n in range(3):
        page = client.get("/login")
        client.post("/login", headers={"X-Forwarded-For": f"203.0.113.{n}"},
                    data={"email": "admin@harlow.gov.uk", "password": "wrong wrong wrong",
                          "csrf_token": csrf_token(page.get_data(as_text=True))})
    assert sign_in(client, "admin").status_code == 429
    with services.db.session() as s:
        assert set(s.scalars(select(LoginAttempt.ip))) == {"127.0.0.1"}


def test_a_form_without_a_csrf_token_is_refused(client, as_role, services):
    as_role("admin")
    response = client.post("/dashboard/accounts", data={"email": "new@harlow.gov.uk", "password": "x" * 14,
                                                        "role": "viewer"})
    assert response.status_code == 400
    with services.db.session() as s:
        assert s.scalar(select(Officer.id).where(Officer.email == "new@harlow.gov.uk")) is None


def test_sign_in_itself_needs_the_csrf_token(client, officers):
    response = client.post("/login", data={"email": "admin@harlow.gov.uk", "password": PASSWORD})
    assert response.status_code == 400


@pytest.mark.parametrize("method,path", [
    ("get", "/dashboard/flows/edit"), ("post", "/dashboard/flows/edit"), ("get", "/dashboard/broadcasts/new"),
    ("post", "/dashboard/broadcasts/new"), ("get", "/dashboard/updates/new"), ("post", "/dashboard/updates/1/send"),
    ("get", "/dashboard/assisted"), ("get", "/dashboard/contacts"), ("get", "/dashboard/messages"),
    ("get", "/dashboard/accounts"), ("post", "/dashboard/contacts/1/erase"), ("post", "/dashboard/calendar"),
    ("post", "/dashboard/sms-count"), ("post", "/dashboard/calendar/1"), ("post", "/dashboard/calendar/1/delete"),
])
def test_a_viewer_cannot_reach_officer_actions(client, as_role, method, path):
    token = as_role("viewer")
    response = getattr(client, method)(path, data={"csrf_token": token} if method == "post" else None)
    assert response.status_code == 403


def test_a_viewer_sees_results_and_no_officer_links(client, as_role):
    as_role("viewer")
    page = client.get("/dashboard/results/street-safety")
    assert page.status_code == 200
    nav = client.get("/dashboard/").get_data(as_text=True)
    assert "/dashboard/contacts" not in nav and "/dashboard/accounts" not in nav


def test_an_officer_cannot_manage_accounts(client, as_role):
    as_role("officer")
    assert client.get("/dashboard/accounts").status_code == 403


def test_idle_sessions_end_after_thirty_minutes(client, as_role, clock):
    as_role("officer")
    clock.advance(minutes=29)
    assert client.get("/dashboard/").status_code == 200
    clock.advance(minutes=29)
    assert client.get("/dashboard/").status_code == 200
    clock.advance(minutes=31)
    response = client.get("/dashboard/")
    assert response.status_code == 302 and "expired=1" in response.headers["Location"]


def test_sessions_end_eight_hours_after_sign_in_however_busy(client, as_role, clock):
    as_role("officer")
    for _ in range(16):
        clock.advance(minutes=29)
        assert client.get("/dashboard/").status_code == 200
    clock.advance(minutes=29)
    assert client.get("/dashboard/").status_code == 302


def test_switching_an_account_off_ends_its_sessions(client, as_role, services, officers, clock):
    as_role("officer")
    with services.db.session() as s:
        s.get(Officer, officers["officer"]).active = False
    assert client.get("/dashboard/").status_code == 302


def test_admin_creates_an_account_and_it_is_audited(client, as_role, services):
    token = as_role("admin")
    response = client.post("/dashboard/accounts", data={"email": "New.Person@Harlow.gov.uk", "password": "x" * 14,
                                                        "role": "viewer", "csrf_token": token})
    assert response.status_code == 302
    with services.db.session() as s:
        officer = s.scalar(select(Officer).where(Officer.email == "new.person@harlow.gov.uk"))
        assert officer.role == "viewer" and officer.password_hash.startswith("$argon2id$")
        entry = s.scalar(select(AuditLog).where(AuditLog.action == "officer.created",
                                                AuditLog.target_id == str(officer.id)))
        assert entry.officer_email == "admin@harlow.gov.uk"


def test_a_short_password_is_refused(client, as_role):
    token = as_role("admin")
    response = client.post("/dashboard/accounts", data={"email": "p@harlow.gov.uk", "password": "short",
                                                        "role": "viewer", "csrf_token": token})
    assert response.status_code == 422 and "at least 12 characters" in response.get_data(as_text=True)


def test_the_audit_log_is_readable_and_has_no_route_to_change_it(client, as_role, app):
    as_role("viewer")
    page = client.get("/dashboard/audit")
    assert page.status_code == 200 and "officer.signed_in" in page.get_data(as_text=True)
    audit_rules = [r for r in app.url_map.iter_rules() if "audit" in r.rule]
    assert {m for r in audit_rules for m in r.methods} <= {"GET", "HEAD", "OPTIONS"}
    token = csrf_token(client.get("/dashboard/").get_data(as_text=True))
    for method in ("post", "put", "delete", "patch"):
        assert getattr(client, method)("/dashboard/audit", data={"csrf_token": token}).status_code == 405


def test_audit_rows_cannot_be_updated_or_deleted_through_the_models(services, clock):
    with services.db.session() as s:
        row_id = record(s, None, "export.downloaded", clock.now(), summary="Exported results").id
    with pytest.raises(AuditLogIsAppendOnly):
        with services.db.session() as s:
            s.get(AuditLog, row_id).summary = "Nothing to see"
    with pytest.raises(AuditLogIsAppendOnly):
        with services.db.session() as s:
            s.delete(s.get(AuditLog, row_id))
    with services.db.session() as s:
        assert s.get(AuditLog, row_id).summary == "Exported results"


def test_the_officers_command_creates_an_account_from_stdin(runner, services):
    from app import cli

    result = runner.invoke(cli, ["officers", "create", "Chief@Harlow.gov.uk", "--role", "admin", "--password-stdin"],
                           input="a long enough password\n")
    assert result.exit_code == 0, result.output
    assert "Created the admin account chief@harlow.gov.uk" in result.output
    again = runner.invoke(cli, ["officers", "create", "chief@harlow.gov.uk", "--password-stdin"],
                          input="a long enough password\n")
    assert again.exit_code == 1 and "already exists" in again.output
    listed = runner.invoke(cli, ["officers", "list"])
    assert "chief@harlow.gov.uk\tadmin" in listed.output


# ----- sessions: kept on the server, eight hours, ended at sign-out and by a password change -------------


def session_cookie(client) -> str:
    return client.get_cookie("session").value


def test_a_copied_cookie_stops_working_after_sign_out(client, as_role):
    token = as_role("officer")
    copied = session_cookie(client)
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    thief = client.application.test_client()
    thief.set_cookie("session", copied)
    assert thief.get("/dashboard/").status_code == 302
    assert thief.post("/dashboard/sms-count", data={"text": "hi"}).status_code == 401


def test_the_session_cookie_lasts_eight_hours_not_a_month(client, as_role, app):
    from datetime import datetime, timedelta, timezone
    from email.utils import parsedate_to_datetime

    assert app.permanent_session_lifetime == timedelta(hours=8)
    response = sign_in(client.application.test_client(), "viewer")
    cookie = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("session="))
    expires = parsedate_to_datetime(cookie.split("Expires=")[1].split(";")[0])
    assert expires - datetime.now(timezone.utc) < timedelta(hours=9)
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie


def test_the_session_cookie_is_secure_when_the_public_url_is_https(app_config, officers):
    from app import create_app

    app = create_app({**app_config, "public_url": "https://outreach.harlow.example"})
    response = sign_in(app.test_client(), "viewer")
    cookie = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("session="))
    assert "; Secure" in cookie


def test_changing_your_password_signs_out_your_other_browsers_only(client, as_role, services, officers):
    token = as_role("officer")
    other = client.application.test_client()
    assert sign_in(other, "officer").status_code == 302
    page = client.get("/dashboard/password")
    assert page.status_code == 200 and 'name="current_password"' in page.get_data(as_text=True)
    wrong = client.post("/dashboard/password", data={"csrf_token": token, "current_password": "not it at all",
                                                     "new_password": "a brand new passphrase",
                                                     "confirm_password": "a brand new passphrase"})
    assert wrong.status_code == 422 and "current password is not right" in wrong.get_data(as_text=True)
    mismatch = client.post("/dashboard/password", data={"csrf_token": token, "current_password": PASSWORD,
                                                        "new_password": "a brand new passphrase",
                                                        "confirm_password": "a brand new passphrase!"})
    assert mismatch.status_code == 422
    assert other.get("/dashboard/").status_code == 200
    done = client.post("/dashboard/password", data={"csrf_token": token, "current_password": PASSWORD,
                                                    "new_password": "a brand new passphrase",
                                                    "confirm_password": "a brand new passphrase"})
    assert done.status_code == 302
    assert client.get("/dashboard/").status_code == 200
    assert other.get("/dashboard/").status_code == 302
    assert sign_in(client.application.test_client(), "officer", password="a brand new passphrase").status_code == 302
    with services.db.session() as s:
        entry = s.scalar(select(AuditLog).where(AuditLog.action == "officer.password_changed"))
        assert entry.target_id == str(officers["officer"]) and entry.detail == {"sessions_ended": 1}


def test_an_admin_reset_signs_the_person_out_everywhere(client, as_role, services, officers):
    victim = client.application.test_client()
    assert sign_in(victim, "officer").status_code == 302
    token = as_role("admin")
    accounts = client.get("/dashboard/accounts").get_data(as_text=True)
    assert f'action="/dashboard/accounts/{officers["officer"]}/password"' in accounts
    short = client.post(f"/dashboard/accounts/{officers['officer']}/password",
                        data={"csrf_token": token, "password": "short"}, follow_redirects=True)
    assert "at least 12 characters" in short.get_data(as_text=True)
    assert victim.get("/dashboard/").status_code == 200
    response = client.post(f"/dashboard/accounts/{officers['officer']}/password",
                           data={"csrf_token": token, "password": "reset by the admin team"})
    assert response.status_code == 302
    assert victim.get("/dashboard/").status_code == 302
    assert client.get("/dashboard/").status_code == 200
    assert sign_in(victim, "officer", password="reset by the admin team").status_code == 302
    with services.db.session() as s:
        entry = s.scalar(select(AuditLog).where(AuditLog.action == "officer.password_reset"))
        assert entry.officer_email == "admin@harlow.gov.uk" and entry.target_id == str(officers["officer"])


def test_only_an_admin_may_reset_someone_elses_password(client, as_role, officers):
    token = as_role("officer")
    response = client.post(f"/dashboard/accounts/{officers['viewer']}/password",
                           data={"csrf_token": token, "password": "taken over by a colleague"})
    assert response.status_code == 403


def test_a_head_request_for_the_sign_in_page_is_not_a_failed_sign_in(client, officers, services):
    assert client.head("/login").status_code == 200
    with services.db.session() as s:
        assert s.scalar(select(func.count(LoginAttempt.id))) == 0


def test_an_admin_changes_a_role_and_switches_an_account_off_and_on(app, client, as_role, officers, services):
    officer_client = app.test_client()
    assert sign_in(officer_client, "officer").status_code == 302
    assert officer_client.get("/dashboard/broadcasts/new").status_code == 200
    token = as_role("admin")

    changed = client.post(f"/dashboard/accounts/{officers['officer']}", data={"csrf_token": token, "role": "viewer"})
    assert changed.status_code == 302
    # A viewer now: the officer's own session loses what only officers may do.
    assert officer_client.get("/dashboard/broadcasts/new").status_code == 403
    assert client.post(f"/dashboard/accounts/{officers['officer']}",
                       data={"csrf_token": token, "role": "overlord"}).status_code == 302

    client.post(f"/dashboard/accounts/{officers['officer']}", data={"csrf_token": token, "active": "0"})
    # Switched off: signed out at once, and cannot sign in again.
    assert officer_client.get("/dashboard/").status_code == 302
    assert sign_in(officer_client, "officer").status_code == 401
    client.post(f"/dashboard/accounts/{officers['officer']}", data={"csrf_token": token, "active": "1"})
    assert sign_in(officer_client, "officer").status_code == 302

    # An admin cannot change their own account from this page.
    client.post(f"/dashboard/accounts/{officers['admin']}", data={"csrf_token": token, "role": "viewer"})
    assert client.post(f"/dashboard/accounts/{officers['admin']}", data={"csrf_token": token, "active": "0"}
                       ).status_code == 302
    with services.db.session() as s:
        officer, admin = s.get(Officer, officers["officer"]), s.get(Officer, officers["admin"])
        assert (officer.role, officer.active, admin.role, admin.active) == ("viewer", True, "admin", True)
        trail = [(a.action, a.detail) for a in s.scalars(select(AuditLog).where(
            AuditLog.target_type == "officer", AuditLog.target_id == str(officers["officer"]),
            AuditLog.action.in_(["officer.role_changed", "officer.disabled", "officer.enabled"]))
            .order_by(AuditLog.id))]
    assert trail == [("officer.role_changed", {"from": "officer", "to": "viewer"}),
                     ("officer.disabled", {}), ("officer.enabled", {})]
