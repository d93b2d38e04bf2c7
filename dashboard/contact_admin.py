"""Contacts work without a shell: import (dry run, then confirm), export, the right to object, API tokens.

The import is `engage.contact_import`, the same code as `python app.py contacts import`:
the first post checks the file and shows every bad row; the report page carries
the checked file back (as CSV text) so the confirmation imports exactly what was
checked, all rows or none. Nothing is kept on the server between the two steps,
so any web process can take the confirmation.
"""
from __future__ import annotations

from flask import Response, abort, flash, g, redirect, render_template, request, url_for
from sqlalchemy import func, select

from dashboard.blueprint import bp, client_ip, now, role_required, services
from dashboard.i18n import _gettext as _
from engage.officers import record
from store.models import Contact

# An import file may be far larger than an ordinary form (the app-wide body limit is 64 KB):
# 10 MB is about 100,000 contacts.
MAX_IMPORT_BYTES = 10 * 1024 * 1024
_IMPORT_ENDPOINTS = {"dashboard.contacts_import", "dashboard.contacts_import_confirm"}


@bp.url_value_preprocessor
def _allow_large_imports(endpoint, values):
    # Runs before the CSRF check reads the form, so the larger limit applies to that read too.
    if endpoint in _IMPORT_ENDPOINTS and request.method == "POST":
        request.max_content_length = MAX_IMPORT_BYTES + 64 * 1024
        request.max_form_memory_size = MAX_IMPORT_BYTES


def _import_options() -> dict:
    settings = services().settings
    return {"region": settings.extra.get("phone_region", "GB"), "tz": settings.timezone}


@bp.route("/contacts/import", methods=["GET", "POST"])
@role_required("officer")
def contacts_import():
    """Upload a CSV or XLSX file and see what importing it would do; nothing is written yet."""
    from engage.contact_files import FileError, changes, upload_text
    from engage.contact_import import check_import

    if request.method == "GET":
        return render_template("dashboard/contacts_import.html", report=None)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return render_template("dashboard/contacts_import.html", report=None,
                               error=_("Choose a CSV or Excel (.xlsx) file to upload.")), 422
    data = upload.read(MAX_IMPORT_BYTES + 1)
    if len(data) > MAX_IMPORT_BYTES:
        return render_template("dashboard/contacts_import.html", report=None,
                               error=_("The file is larger than 10 MB; split it into smaller files.")), 413
    try:
        source = upload_text(upload.filename, data)
    except FileError:
        return render_template("dashboard/contacts_import.html", report=None,
                               error=_("The file is not an Excel workbook (.xlsx) that can be read.")), 422
    svc = services()
    rows, report = check_import(svc.db, source, now(), **_import_options())
    counts = changes(svc.db, rows) if not report.problems else None
    text = None
    if not report.problems:
        text = source if isinstance(source, str) else source.decode("utf-8-sig")
    return render_template("dashboard/contacts_import.html", report=report, counts=counts, data=text,
                           filename=upload.filename), (422 if report.problems else 200)


@bp.post("/contacts/import/confirm")
@role_required("officer")
def contacts_import_confirm():
    """Import the checked file: every row in one transaction, or none; audit-logged."""
    from engage.contact_import import import_contacts

    text = request.form.get("data", "")
    filename = (request.form.get("filename") or "")[:200]
    if not text.strip():
        flash(_("Upload the file again: there was nothing to import."), "error")
        return redirect(url_for("dashboard.contacts_import"))
    svc = services()
    report = import_contacts(svc.db, text, now(), commit=True, **_import_options())
    if not report.committed:
        # The contacts changed since the check (or the file did): report, import nothing.
        return render_template("dashboard/contacts_import.html", report=report, counts=None, data=None,
                               filename=filename), 422
    with svc.db.session() as s:
        record(s, g.officer, "contacts.imported", now(), target_type="import", target_id=filename or None,
               detail={"rows": report.rows, "created": report.created, "merged": report.merged,
                       "consent_recorded": report.consent_recorded, "opt_outs_kept": report.opt_outs_kept},
               summary=f"Imported {report.rows} contacts from {filename or 'a file'}: {report.created} new, "
                       f"{report.merged} merged", ip=client_ip())
    flash(_("Imported %(rows)s rows: %(created)s new contacts, %(merged)s merged with existing ones.",
            rows=report.rows, created=report.created, merged=report.merged), "success")
    return redirect(url_for("dashboard.contacts_index"))


@bp.get("/contacts/export.csv")
@role_required("officer")
def contacts_export():
    """Download every contact (not erased) as CSV, in the columns the import reads; audit-logged."""
    from engage.contacts import export_contacts_csv
    from engage.exports import audit_export

    with services().db.session() as s:
        text = export_contacts_csv(s)
        count = s.scalar(select(func.count()).select_from(Contact).where(Contact.erased_at.is_(None))) or 0
        audit_export(s, g.officer, "contacts", flow_id=None, file_format="csv", rows=count, now=now(),
                     ip=client_ip())
    stamp = now().strftime("%Y%m%d-%H%M")
    # A byte-order mark so Excel reads the file as UTF-8 (Welsh and other accents intact).
    return Response(("\ufeff" + text).encode("utf-8"), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="contacts-{stamp}.csv"'})


@bp.post("/contacts/<int:contact_id>/object")
@role_required("officer")
def contact_object(contact_id: int):
    """Record or withdraw the resident's objection (right to object); audit-logged."""
    from engage.contacts import set_do_not_contact

    objected = request.form.get("objected") == "1"
    with services().db.session() as s:
        contact = s.get(Contact, contact_id)
        if contact is None or contact.erased_at is not None:
            abort(404)
        if bool(contact.do_not_contact) != objected:
            set_do_not_contact(s, contact, now(), objected=objected, source="officer",
                               wording=(request.form.get("note") or "").strip()[:500] or None)
            record(s, g.officer, "contact.objected" if objected else "contact.objection_withdrawn", now(),
                   target_type="contact", target_id=contact_id,
                   summary=(f"Recorded contact {contact_id}'s objection: no broadcasts, reminders or updates"
                            if objected else f"Withdrew contact {contact_id}'s objection"), ip=client_ip())
    flash(_("Recorded: this person gets no broadcasts, reminders or updates.") if objected
          else _("Objection withdrawn: this person may be sent consultations again."), "success")
    return redirect(url_for("dashboard.contact_detail", contact_id=contact_id))
