"""Sign in and sign out, rate-limited per account and per address."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import flash, g, redirect, render_template, request, url_for

from dashboard.blueprint import client_ip, end_session, login_bp, now, services, start_session
from dashboard.i18n import _gettext as _
from engage.officers import authenticate, record


def _safe_next(target: str | None) -> str:
    """Only follow a `next` that stays on this site, under the dashboard (or the laptop's sandbox)."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and parts.path.startswith(("/dashboard", "/sandbox/")):
            return target
    return url_for("dashboard.home")


def _clock_time(moment) -> str:
    """A moment as the council's local clock time, to the second (13:05:30)."""
    from zoneinfo import ZoneInfo

    return moment.astimezone(ZoneInfo(services().settings.timezone)).strftime("%H:%M:%S")


@login_bp.route("/login", methods=["GET", "POST"])
def login():
    """Show the sign-in form, or sign an officer in."""
    if request.method != "POST":  # GET, or HEAD (a link checker is not a failed sign-in)
        if g.get("officer") is not None:
            return redirect(url_for("dashboard.home"))
        if request.args.get("expired"):
            flash(_("Your session ended. Please sign in again."), "info")
        return render_template("dashboard/login.html", next=request.args.get("next", ""))
    email = request.form.get("email", "")
    password = request.form.get("password", "")
    outcome = authenticate(services().db, email, password, ip=client_ip(), now=now())
    if not outcome.ok:
        headers = {}
        if outcome.reason == "rate_limited":
            wait = max(int((outcome.retry_at - now()).total_seconds() + 0.999), 1)
            message = _("Too many failed attempts. Please try again after %(time)s.",
                        time=_clock_time(outcome.retry_at))
            status, headers = 429, {"Retry-After": str(wait)}
        else:
            message = _("That email and password do not match an active account.")
            status = 401
        return render_template("dashboard/login.html", error=message, email=email,
                               next=request.form.get("next", "")), status, headers
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
    # Ended on the server too: a copy of the cookie stops working from now on.
    end_session()
    flash(_("You have signed out."), "info")
    return redirect(url_for("auth.login"))
