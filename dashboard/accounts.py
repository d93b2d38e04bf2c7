"""Officer accounts (admins) and the audit log (everyone may read it; nobody may change it)."""
from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, request, session, url_for
from sqlalchemy import select

from dashboard.audit_words import audit_words
from dashboard.blueprint import bp, client_ip, now, role_required, services
from dashboard.i18n import _gettext as _
from engage.officers import (
    MIN_PASSWORD_LENGTH,
    OfficerError,
    audit_page,
    check_password,
    create_officer,
    set_active,
    set_password,
    set_role,
)
from store.models.officers import ROLES, Officer

PER_PAGE = 50


@bp.get("/audit")
def audit_log():
    """Read the audit log, newest first. There are no routes to change or remove a line."""
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    action = (request.args.get("action") or "").strip()[:64] or None
    with services().db.session() as s:
        rows, total = audit_page(s, action=action, page=page, per_page=PER_PAGE)
    return render_template("dashboard/audit.html", rows=rows, total=total, page=page, action=action or "",
                           audit_words=audit_words,
                           pages=max((total + PER_PAGE - 1) // PER_PAGE, 1))


@bp.route("/accounts", methods=["GET", "POST"])
@role_required("admin")
def accounts():
    """List accounts and create one."""
    error = None
    if request.method == "POST":
        try:
            with services().db.session() as s:
                officer = create_officer(s, request.form.get("email", ""), request.form.get("password", ""),
                                         request.form.get("role", "viewer"), name=request.form.get("name") or None,
                                         now=now(), by=g.officer, ip=client_ip())
                email = officer.email
            flash(_("Created the account for %(email)s.", email=email), "success")
            return redirect(url_for("dashboard.accounts"))
        except OfficerError as exc:
            error = str(exc)
    with services().db.session() as s:
        officers = s.scalars(select(Officer).order_by(Officer.email)).all()
    return render_template("dashboard/accounts.html", officers=officers, roles=ROLES, error=error,
                           form=request.form), (422 if error else 200)


@bp.post("/accounts/<int:officer_id>")
@role_required("admin")
def account_change(officer_id: int):
    """Change an account's role, or switch it off or on."""
    with services().db.session() as s:
        officer = s.get(Officer, officer_id)
        if officer is None:
            abort(404)
        if officer.id == g.officer.id:
            flash(_("You cannot change your own account here."), "error")
            return redirect(url_for("dashboard.accounts"))
        try:
            if "role" in request.form:
                set_role(s, officer, request.form["role"], now=now(), by=g.officer)
            if "active" in request.form:
                set_active(s, officer, request.form["active"] == "1", now=now(), by=g.officer)
        except OfficerError as exc:
            flash(str(exc), "error")
            return redirect(url_for("dashboard.accounts"))
    flash(_("Account updated."), "success")
    return redirect(url_for("dashboard.accounts"))


@bp.route("/password", methods=["GET", "POST"])
def change_password():
    """Change your own password; every other session of yours (another browser, a copied cookie) ends."""
    error = None
    if request.method == "POST":
        new = request.form.get("new_password", "")
        with services().db.session() as s:
            officer = s.get(Officer, g.officer.id)
            if not check_password(officer, request.form.get("current_password", "")):
                error = _("Your current password is not right.")
            elif new != request.form.get("confirm_password", ""):
                error = _("The new password and its confirmation are different.")
            elif len(new) < MIN_PASSWORD_LENGTH:
                error = _("The new password must be at least %(count)s characters long.", count=MIN_PASSWORD_LENGTH)
            else:
                set_password(s, officer, new, now=now(), by=officer, keep_session=session.get("sid"), ip=client_ip())
        if error is None:
            flash(_("Your password has been changed. Any other sessions of yours have been signed out."), "success")
            return redirect(url_for("dashboard.home"))
    return render_template("dashboard/password.html", error=error,
                           min_length=MIN_PASSWORD_LENGTH), (422 if error else 200)


@bp.post("/accounts/<int:officer_id>/password")
@role_required("admin")
def account_reset_password(officer_id: int):
    """Set a new password for someone (they forgot theirs, or it may be known): all their sessions end."""
    with services().db.session() as s:
        officer = s.get(Officer, officer_id)
        if officer is None:
            abort(404)
        if officer.id == g.officer.id:
            flash(_("Change your own password on the password page."), "error")
            return redirect(url_for("dashboard.change_password"))
        try:
            set_password(s, officer, request.form.get("password", ""), now=now(), by=g.officer, ip=client_ip())
        except OfficerError:
            flash(_("The new password must be at least %(count)s characters long.", count=MIN_PASSWORD_LENGTH),
                  "error")
            return redirect(url_for("dashboard.accounts"))
        email = officer.email
    flash(_("Set a new password for %(email)s and signed them out everywhere.", email=email), "success")
    return redirect(url_for("dashboard.accounts"))


@bp.post("/language")
def choose_language():
    """Show the dashboard in another language (English or Welsh) for this officer."""
    from locales.languages import DASHBOARD_CODES

    lang = request.form.get("language", "")
    if lang not in DASHBOARD_CODES:
        abort(400)
    with services().db.session() as s:
        s.get(Officer, g.officer.id).language = lang
    target = request.form.get("back") or ""
    return redirect(target if target.startswith("/dashboard") else url_for("dashboard.home"))
