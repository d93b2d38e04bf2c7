"""Officer accounts (admins) and the audit log (everyone may read it; nobody may change it)."""
from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, request, url_for
from sqlalchemy import select

from dashboard.audit_words import audit_words
from dashboard.blueprint import bp, client_ip, now, role_required, services
from dashboard.i18n import _gettext as _
from engage.officers import OfficerError, audit_page, create_officer, set_active, set_role
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
