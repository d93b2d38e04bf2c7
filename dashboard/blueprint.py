"""The dashboard's two blueprints and what every request checks: signed in, not expired, allowed, CSRF."""
from __future__ import annotations

import functools
from datetime import datetime, timedelta

from flask import Blueprint, abort, current_app, g, redirect, request, session, url_for

from engage.officers import may
from store.models.officers import Officer

# A session ends eight hours after sign-in, or after thirty minutes without a request.
ABSOLUTE_LIMIT = timedelta(hours=8)
IDLE_LIMIT = timedelta(minutes=30)

login_bp = Blueprint("auth", __name__)
bp = Blueprint("dashboard", __name__, url_prefix="/dashboard")


def services():
    return current_app.extensions["outreach"]


def now() -> datetime:
    return services().clock.now()


def client_ip() -> str | None:
    return request.remote_addr


def _load_officer() -> Officer | None:
    officer_id = session.get("officer_id")
    if officer_id is None:
        return None
    clock_now = now()
    try:
        signed_in = datetime.fromisoformat(session["signed_in_at"])
        last_seen = datetime.fromisoformat(session["last_seen_at"])
    except (KeyError, TypeError, ValueError):
        session.clear()
        return None
    if clock_now - signed_in > ABSOLUTE_LIMIT or clock_now - last_seen > IDLE_LIMIT:
        session.clear()
        g.session_expired = True
        return None
    with services().db.session() as s:
        officer = s.get(Officer, officer_id)
        if officer is None or not officer.active or officer.session_epoch != session.get("epoch"):
            session.clear()
            return None
        s.expunge(officer)
    session["last_seen_at"] = clock_now.isoformat()
    return officer


def start_session(officer: Officer) -> None:
    """Begin a fresh session for an officer (a new cookie, so a planted one is never reused)."""
    session.clear()
    session.permanent = True
    stamp = now().isoformat()
    session.update(officer_id=officer.id, epoch=officer.session_epoch, signed_in_at=stamp, last_seen_at=stamp)


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
    response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response
