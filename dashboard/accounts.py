"""Officer accounts (admins) and the audit log (everyone may read it; nobody may change it)."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from flask import Response, abort, flash, g, redirect, render_template, request, session, url_for
from sqlalchemy import select

from dashboard.audit_words import ACTION_NAMES, action_name, audit_words
from dashboard.blueprint import bp, client_ip, now, role_required, services
from dashboard.i18n import _gettext as _
from engage import exports
from engage.officers import (
    MIN_PASSWORD_LENGTH,
    OfficerError,
    audit_actions,
    audit_page,
    audit_people,
    audit_rows,
    check_password,
    create_officer,
    set_active,
    set_password,
    set_role,
)
from store.models.officers import ROLES, Officer

PER_PAGE = 50


def _audit_filters() -> tuple[dict, dict[str, str], str | None]:
    """The audit log's filters from the query string: action, officer, and a date range (the council's days,
    both ends included). Returns the filters, the form's values, and an error for a date that is not one."""
    args = request.args
    form = {"action": (args.get("action") or "").strip()[:64], "who": (args.get("who") or "").strip()[:200],
            "since": (args.get("since") or "").strip()[:10], "until": (args.get("until") or "").strip()[:10]}
    zone = ZoneInfo(services().settings.timezone)
    error = None
    bounds: dict[str, datetime | None] = {"since": None, "until": None}
    for key in ("since", "until"):
        if not form[key]:
            continue
        try:
            day = date.fromisoformat(form[key])
        except ValueError:
            error = _("Give dates as year-month-day, e.g. 2026-12-01.")
            continue
        if key == "until":
            day += timedelta(days=1)  # the whole of the last day
        bounds[key] = datetime.combine(day, time(0, 0), tzinfo=zone).astimezone(timezone.utc)
    return ({"action": form["action"] or None, "who": form["who"] or None, **bounds}, form, error)


@bp.get("/audit")
def audit_log():
    """Read the audit log, newest first, narrowed by action, officer and dates. There are no routes to change
    or remove a line."""
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    filters, form, error = _audit_filters()
    with services().db.session() as s:
        rows, total = audit_page(s, page=page, per_page=PER_PAGE, **filters)
        people, actions = audit_people(s), audit_actions(s)
    actions = sorted(set(actions) | set(ACTION_NAMES), key=lambda a: action_name(a).lower())
    return render_template("dashboard/audit.html", rows=rows, total=total, page=page, action=form["action"],
                           form=form, error=error, people=people, actions=actions, action_name=action_name,
                           audit_words=audit_words, query={k: v for k, v in form.items() if v},
                           pages=max((total + PER_PAGE - 1) // PER_PAGE, 1)), (400 if error else 200)


@bp.get("/audit/export.csv")
def audit_export():
    """Download the lines the filters select as CSV (times in the council's zone, with their offset); the
    download is itself written to the log."""
    filters, _form, error = _audit_filters()
    if error:
        abort(400)
    zone = ZoneInfo(services().settings.timezone)
    header = ["at", "who", "action", "action_name", "target_type", "target_id", "what"]
    with services().db.session() as s:
        rows = [[r.at.astimezone(zone).replace(microsecond=0), r.officer_email or r.actor or "system", r.action,
                 action_name(r.action), r.target_type, r.target_id, audit_words(r)]
                for r in audit_rows(s, **filters)]
        body, media = exports.export_table(s, g.officer, "audit_log", header, rows, "csv", now=now(),
                                           ip=client_ip())
    stamp = now().strftime("%Y%m%d-%H%M")
    return Response(body, content_type=media,
                    headers={"Content-Disposition": f'attachment; filename="audit-log-{stamp}.csv"'})


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
