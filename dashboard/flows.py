"""Flows: the list, the YAML editor with problems at their lines, SMS segments, versions, publishing, preview."""
from __future__ import annotations

import re
from pathlib import Path

from flask import abort, current_app, flash, g, redirect, render_template, request, url_for
from sqlalchemy import func, select

from dashboard.blueprint import bp, client_ip, now, role_required, services
from dashboard.flow_checks import check_flow_source, sms_segment_report
from dashboard.i18n import _gettext as _
from engage import privacy
from engage.officers import record
from store.models import FlowVersion, Run

FLOW_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}$")
MAX_UPLOAD = 200_000


@bp.get("/flows")
def flows_index():
    """List published flows with their run counts and any problems in the folder."""
    svc = services()
    flows = svc.registry.all()
    with svc.db.session() as s:
        runs = dict(s.execute(select(Run.flow_id, func.count(Run.id)).group_by(Run.flow_id)).all())
    return render_template("dashboard/flows.html", flows=flows, runs=runs, problems=svc.registry.problems)


@bp.get("/flows/<flow_id>")
def flow_detail(flow_id: str):
    """Show one flow: its versions, which version each run used, SMS segments, and a live preview."""
    svc = services()
    flow = svc.registry.get(flow_id)
    with svc.db.session() as s:
        versions = s.execute(
            select(FlowVersion, func.count(Run.id)).outerjoin(Run, Run.flow_version_id == FlowVersion.id)
            .where(FlowVersion.flow_id == flow_id).group_by(FlowVersion.id)
            .order_by(FlowVersion.created_at.desc(), FlowVersion.id.desc())
        ).all()
    if flow is None and not versions:
        abort(404)
    source = flow.source if flow is not None else versions[0][0].source
    months = privacy.retention_months(svc.settings)
    return render_template("dashboard/flow_detail.html", flow=flow, flow_id=flow_id, versions=versions,
                           retention_months=months,
                           kept_until=privacy.flow_kept_until(flow, months, svc.settings.timezone) if flow else None,
                           segments=sms_segment_report(source), source=source,
                           file_errors=svc.registry.errors_for(flow_id),
                           last_good=flow_id in svc.registry.last_good,
                           chat_available="webchat.chat" in current_app.view_functions)


@bp.get("/flows/<flow_id>/versions/<int:version_id>")
def flow_version(flow_id: str, version_id: int):
    """Show the source of one stored version."""
    with services().db.session() as s:
        version = s.get(FlowVersion, version_id)
        if version is None or version.flow_id != flow_id:
            abort(404)
    return render_template("dashboard/flow_version.html", version=version)


@bp.route("/flows/edit", methods=["GET", "POST"])
@role_required("officer")
def flow_edit():
    """Upload or edit a flow's YAML: check it, show problems at their lines, and publish it."""
    svc = services()
    source = ""
    if request.method == "GET":
        flow = svc.registry.get(request.args.get("flow", ""))
        source = flow.source if flow is not None else ""
        return render_template("dashboard/flow_edit.html", source=source, problems=None, segments=[], flow=None)
    upload = request.files.get("file")
    if upload is not None and upload.filename:
        raw = upload.read(MAX_UPLOAD + 1)
        if len(raw) > MAX_UPLOAD:
            flash(_("That file is too large for a flow."), "error")
            return render_template("dashboard/flow_edit.html", source="", problems=None, segments=[], flow=None), 400
        try:
            source = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            flash(_("That file is not UTF-8 text. Save it as UTF-8 and upload it again."), "error")
            return render_template("dashboard/flow_edit.html", source="", problems=None, segments=[], flow=None), 400
    else:
        source = request.form.get("source", "")
    source = source.replace("\r\n", "\n")
    flow, problems = check_flow_source(source)
    errors = [p for p in problems if p.severity == "error"]
    if flow is not None and not FLOW_ID.match(str(flow.id)):
        errors.append(_problem(_("The id must be lower-case letters, digits, - and _ only.")))
        problems = [*problems, errors[-1]]
    if flow is not None:
        # Checked on its own the flow may be fine, yet clash with the flows already published.
        clashes = _clashes(svc.registry, flow)
        errors += clashes
        problems = [*problems, *clashes]
    if request.form.get("action") == "publish" and flow is not None and not errors:
        refused = _publish(flow, source)
        if not refused:
            flash(_("Published %(title)s.", title=flow.title or flow.id), "success")
            return redirect(url_for("dashboard.flow_detail", flow_id=flow.id))
        errors += refused
        problems = [*problems, *refused]
    if request.form.get("action") == "publish" and errors:
        flash(_("Not published: fix the problems below first. Residents still get the version published before."),
              "error")
    status = 200 if not errors else 422
    return render_template("dashboard/flow_edit.html", source=source, problems=problems, errors=errors,
                           segments=sms_segment_report(source) if flow is not None else [], flow=flow), status


def _problem(message: str):
    from dashboard.flow_checks import Problem

    return Problem(None, None, message)


def _clashes(registry, flow) -> list:
    """Return problems for keywords of `flow` that another published flow already answers to."""
    from dashboard.flow_checks import Problem

    found = []
    for word in flow.keywords:
        other = registry.by_keyword(word)
        if other is not None and other.id != flow.id:
            found.append(Problem(None, None, _("The keyword %(word)s is already used by the flow %(other)s.",
                                               word=word.upper(), other=other.id)))
    return found


def _publish(flow, source: str) -> list:
    """Write the flow into the flows folder when it can be written, register it, and store its version.

    Return the problems that stopped it going live (the folder's own check found errors once the file
    was in place): the file is then put back as it was, and residents keep the version they had.
    """
    svc = services()
    folder = svc.registry.flows_dir
    written = False
    if folder is not None and folder.is_dir():
        existing = svc.registry.get(flow.id)
        existing_path = Path(existing.path) if existing is not None and getattr(existing, "path", None) else None
        # Replace the flow's own file when it has one here, so the folder never holds the id twice.
        target = (existing_path if existing_path is not None and existing_path.parent == Path(folder)
                  else Path(folder) / f"{flow.id}.yaml")
        before = target.read_text(encoding="utf-8") if target.is_file() else None
        try:
            target.write_text(source, encoding="utf-8")
            written = True
        except OSError:
            written = False
        if written:
            svc.registry.reload(force=True)
            refused = [p for p in svc.registry.errors() if p.path == str(target)]
            if refused:
                if before is None:
                    target.unlink()
                else:
                    target.write_text(before, encoding="utf-8")
                svc.registry.reload(force=True)
                return [_problem(p.message) if p.line is None else _line_problem(p) for p in refused]
    current = svc.registry.get(flow.id)
    if current is None or current.version != flow.version:
        # Not in the folder (read-only, or elsewhere): keep it registered in memory.
        svc.registry.add(flow)
    with svc.db.session() as s:
        version = svc.registry.version_row(s, flow)
        if version.created_by is None:
            version.created_by = g.officer.email
        record(s, g.officer, "flow.published", now(), target_type="flow", target_id=flow.id,
               detail={"version": flow.version, "written_to_folder": written},
               summary=f"Published {flow.id} version {flow.version[:8]}", ip=client_ip())
    return []


def _line_problem(problem):
    from dashboard.flow_checks import Problem

    return Problem(problem.line, problem.col, problem.message)
