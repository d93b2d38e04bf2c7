"""The dashboard's two blueprints and what every request checks: signed in, not expired, allowed, CSRF."""
from __future__ import annotations

import functools
from datetime import datetime

from flask import Blueprint, abort, current_app, g, redirect, request, session, url_for

from engage import officer_sessions
from engage.officer_sessions import ABSOLUTE_LIMIT, IDLE_LIMIT  # noqa: F401  (the limits, for readers)
from engage.officers import may
from store.models.officers import Officer

login_bp = Blueprint("auth", __name__)
bp = Blueprint("dashboard", __name__, url_prefix="/dashboard")


def services():
    return current_app.extensions["outreach"]


def now() -> datetime:
    return services().clock.now()


def client_ip() -> str | None:
    """The client's address (through OUTREACH_TRUSTED_PROXIES reverse proxies, read by ProxyFix)."""
    return request.remote_addr


def _load_officer() -> Officer | None:
    """Return the signed-in officer while the server-side session is open and within its limits."""
    token = session.get("sid")
    if token is None:
        return None
    with services().db.session() as s:
        checked = officer_sessions.check(s, token, now=now())
        if checked.officer is not None:
            s.expunge(checked.officer)
    if checked.officer is None:
        session.clear()
        g.session_expired = checked.expired
    return checked.officer


def signed_in_officer() -> Officer | None:
    """Return the officer signed in on this request (loaded once per request), or None."""
    if "officer" not in g:
        g.officer = _load_officer()
    return g.officer


def start_session(officer: Officer) -> None:
    """Begin a fresh session for an officer (a new cookie, so a planted one is never reused)."""
    session.clear()
    session.permanent = True
    with services().db.session() as s:
        session["sid"] = officer_sessions.start(s, officer, now=now(), ip=client_ip())


def end_session() -> None:
    """Close this browser's session on the server and forget the cookie."""
    token = session.get("sid")
    if token:
        with services().db.session() as s:
            officer_sessions.end(s, token, now=now())
    session.clear()


@login_bp.before_request
def _check_login_csrf():
    from dashboard import csrf

    g.officer = _load_officer()
    csrf.protect()


@bp.before_request
def _require_officer():
    from dashboard import csrf

    g.officer = _load_officer()
    if g.officer is None:
        if request.method == "GET":
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?"),
                                    expired=1 if g.get("session_expired") else None))
        abort(401)
    csrf.protect()
    return None


def role_required(role: str):
    """Refuse the view (403) to officers below the given role."""

    def wrap(view):
        @functools.wraps(view)
        def checked(*args, **kwargs):
            if not may(g.get("officer"), role):
                abort(403)
            return view(*args, **kwargs)

        return checked

    return wrap


@bp.after_request
def _no_store(response):
    # Pages and exports hold residents' data: no copies in shared browsers' caches.
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response
