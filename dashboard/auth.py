"""Sign in and sign out, rate-limited per account and per address."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import flash, g, redirect, render_template, request, session, url_for

from dashboard.blueprint import client_ip, login_bp, now, services, start_session
from dashboard.i18n import _gettext as _
from engage.officers import authenticate, record


def _safe_next(target: str | None) -> str:
    """Only follow a `next` that stays on this site, under the dashboard."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and parts.path.startswith("/dashboard"):
            return target
    return url_for("dashboard.home")


@login_bp.route("/login", methods=["GET", "POST"])
def login():
    """Show the sign-in form, or sign an officer in."""
    if request.method == "GET":
        if g.get("officer") is not None:
            return redirect(url_for("dashboard.home"))
        if request.args.get("expired"):
            flash(_("Your session ended. Please sign in again."), "info")
        return render_template("dashboard/login.html", next=request.args.get("next", ""))
    email = request.form.get("email", "")
    password = request.form.get("password", "")
    with services().db.session() as s:
        outcome = authenticate(s, email, password, ip=client_ip(), now=now())
        if outcome.ok:
            s.flush()
            s.expunge(outcome.officer)
    if not outcome.ok:
        if outcome.reason == "rate_limited":
            message = _("Too many failed attempts. Please wait 15 minutes and try again.")
            status = 429
        else:
            message = _("That email and password do not match an active account.")
            status = 401
        return render_template("dashboard/login.html", error=message, email=email,
                               next=request.form.get("next", "")), status
    start_session(outcome.officer)
    return redirect(_safe_next(request.form.get("next")))


@login_bp.post("/logout")
def logout():
    """Sign out and forget the session."""
    officer = g.get("officer")
    if officer is not None:
        with services().db.session() as s:
            record(s, officer, "officer.signed_out", now(), target_type="officer", target_id=officer.id,
                   ip=client_ip())
    session.clear()
    flash(_("You have signed out."), "info")
    return redirect(url_for("auth.login"))
