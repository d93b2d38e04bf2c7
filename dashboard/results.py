"""Results per flow, representativeness against the census, and exports."""
from __future__ import annotations

from flask import Response, abort, g, render_template, request, url_for
from sqlalchemy import select

from dashboard import officer_value_labels
from dashboard.blueprint import bp, client_ip, now, role_required, services
from dashboard.i18n import _gettext as _
from dashboard.i18n import dashboard_language
from engage import disclosure, exports, representativeness, results
from store.models import FlowVersion
from store.models.outreach import Broadcast

PER_PAGE = 25


def _steps_for(flow_id: str):
    """The flow's steps from the published flow, or from its newest stored version."""
    svc = services()
    flow = svc.registry.get(flow_id)
    if flow is not None:
        return flow, results.flow_steps(flow.source)
    with svc.db.session() as s:
        version = s.scalar(select(FlowVersion).where(FlowVersion.flow_id == flow_id)
                           .order_by(FlowVersion.created_at.desc(), FlowVersion.id.desc()).limit(1))
    if version is None:
        abort(404)
    return None, results.flow_steps(version.source)


def _filters() -> results.Filters:
    args = request.args
    return results.Filters(ward=args.get("ward") or None, age_band=args.get("age_band") or None,
                           language=args.get("language") or None, channel=args.get("channel") or None)


@bp.get("/results")
def results_index():
    """List flows to see results for."""
    svc = services()
    flows = svc.registry.all()
    with svc.db.session() as s:
        counts = results.response_counts(s, [f.id for f in flows])
    return render_template("dashboard/results_index.html", flows=flows, counts=counts)


@bp.get("/results/<flow_id>")
def results_flow(flow_id: str):
    """Show a flow's results: counts and charts per question, a breakdown, free text, funnel and timing."""
    flow, steps = _steps_for(flow_id)
    filters = _filters()
    dimension = request.args.get("by") or ""
    if dimension and dimension not in results.DIMENSIONS:
        abort(400)
    text_step = request.args.get("text_step") or next((st.id for st in steps if st.kind == "text"), None)
    search = (request.args.get("q") or "").strip()[:200]
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    with services().db.session() as s:
        summary = results.summary(s, flow_id, filters)
        questions = [results.question_result(s, flow_id, st, filters) for st in steps if st.is_question]
        breakdowns = ({q.step.id: results.breakdown(s, flow_id, q.step, dimension, filters)
                       for q in questions if q.step.kind != "text"} if dimension else {})
        texts, text_total = (results.free_text(s, flow_id, text_step, search=search or None, page=page,
                                               per_page=PER_PAGE, filters=filters)
                             if text_step else ([], 0))
        funnel = results.funnel(s, flow_id, steps)
        for row in funnel:
            if row["step"] is None:
                # The funnel's two ends are ours to name ("Started", "Completed"); the rest are the flow's questions.
                row["label"] = _(row["label"])
        medians = results.median_seconds(s, flow_id)
        broadcasts = results.broadcast_response_rates(s, flow_id)
        broadcast_names = _broadcast_names(s, [b["broadcast_id"] for b in broadcasts])
        choices = {name: results.field_values(s, flow_id, name) for name in ("ward", "age_band")}
    return render_template(
        "dashboard/results.html", flow=flow, flow_id=flow_id, steps=steps, summary=summary, questions=questions,
        filters=filters, dimension=dimension, dimensions=results.DIMENSIONS, breakdowns=breakdowns,
        text_steps=[st for st in steps if st.kind == "text"], text_step=text_step, texts=texts,
        text_total=text_total, search=search, page=page, pages=max((text_total + PER_PAGE - 1) // PER_PAGE, 1),
        funnel=funnel, medians=medians, broadcasts=broadcasts, broadcast_names=broadcast_names, choices=choices,
        suppress_below=disclosure.threshold(),
    )


def _broadcast_names(s, ids: list[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(s.execute(select(Broadcast.id, Broadcast.name).where(Broadcast.id.in_(ids))).all())


@bp.get("/results/<flow_id>/export.<file_format>")
def results_export(flow_id: str, file_format: str):
    """Download a flow's results as CSV or XLSX (one row per run); the download is audit-logged."""
    if file_format not in ("csv", "xlsx"):
        abort(404)
    _flow, steps = _steps_for(flow_id)
    svc = services()
    with svc.db.session() as s:
        baseline = representativeness.load_baseline(svc.settings.extra.get("census_path"))
        youngest = representativeness.min_age(baseline, svc.settings.census_min_age)
        dimensions = (representativeness.compare(s, baseline, flow_id, youngest=youngest or 0)
                      if file_format == "xlsx" else None)
        body, media = exports.export_results(s, flow_id, steps, g.officer, file_format, now=now(), ip=client_ip(),
                                             dimensions=dimensions, tz=svc.settings.timezone,
                                             labels=officer_value_labels(svc), lang=dashboard_language())
    stamp = now().strftime("%Y%m%d-%H%M")
    return Response(body, content_type=media, headers={
        "Content-Disposition": f'attachment; filename="{flow_id}-results-{stamp}.{file_format}"'})


@bp.route("/results/<flow_id>/special-export", methods=["GET", "POST"])
@role_required("admin")
def results_special_export(flow_id: str):
    """An admin's row-level export with special-category answers: asks why, and writes the purpose to the audit log."""
    flow, steps = _steps_for(flow_id)
    error = None
    purpose = request.form.get("purpose", "")
    file_format = request.form.get("format", "csv")
    if request.method == "POST":
        if file_format not in ("csv", "xlsx"):
            abort(400)
        try:
            with services().db.session() as s:
                body, media = exports.export_special_results(s, flow_id, steps, g.officer, file_format,
                                                             purpose=purpose, now=now(), ip=client_ip(),
                                                             tz=services().settings.timezone,
                                                             labels=officer_value_labels(services()),
                                                             lang=dashboard_language())
        except ValueError:
            error = _("Say what this export is for, in at least %(n)s characters.", n=exports.MIN_PURPOSE)
        else:
            stamp = now().strftime("%Y%m%d-%H%M")
            return Response(body, content_type=media, headers={
                "Content-Disposition": f'attachment; filename="{flow_id}-results-special-{stamp}.{file_format}"'})
    return render_template("dashboard/special_export.html", flow=flow, flow_id=flow_id, purpose=purpose,
                           file_format=file_format, error=error,
                           special=[st for st in steps if st.special_category]), (400 if error else 200)


@bp.get("/representativeness")
def representativeness_page():
    """Compare who answered with the census; flag under-reached groups; weighted results beside raw."""
    svc = services()
    flow_id = request.args.get("flow") or None
    baseline = representativeness.load_baseline(svc.settings.extra.get("census_path"))
    flows = svc.registry.all()
    weighted = []
    with svc.db.session() as s:
        youngest = representativeness.min_age(baseline, svc.settings.census_min_age)
        dimensions = representativeness.compare(s, baseline, flow_id, youngest=youngest or 0)
        weights = representativeness.weighting(s, baseline, flow_id, youngest=youngest or 0)
        if flow_id:
            _flow, steps = _steps_for(flow_id)
            weighted = [(st, representativeness.weighted_question(s, flow_id, st, weights))
                        for st in steps if st.kind in ("choice", "yes_no")]
    return render_template(
        "dashboard/representativeness.html", baseline=baseline, dimensions=dimensions, weights=weights,
        weighted=weighted, flows=flows, flow_id=flow_id, threshold=representativeness.UNDER_REACHED_BELOW,
        suppress_below=disclosure.threshold(),
        reminder_url=url_for("dashboard.broadcasts_new") if _broadcasts_ready() else None,
    )


def _broadcasts_ready() -> bool:
    from flask import current_app

    return "dashboard.broadcasts_new" in current_app.view_functions


@bp.get("/representativeness/export.<file_format>")
def representativeness_export(file_format: str):
    """Download the representativeness table as CSV or XLSX; audit-logged."""
    if file_format not in ("csv", "xlsx"):
        abort(404)
    svc = services()
    flow_id = request.args.get("flow") or None
    baseline = representativeness.load_baseline(svc.settings.extra.get("census_path"))
    youngest = representativeness.min_age(baseline, svc.settings.census_min_age)
    labels = officer_value_labels(svc)
    with svc.db.session() as s:
        header, rows = exports.representativeness_rows(
            representativeness.compare(s, baseline, flow_id, youngest=youngest or 0),
            label=lambda field_name, code: labels.label(field_name, code, dashboard_language()))
        body, media = exports.export_table(s, g.officer, "representativeness", header, rows, file_format, now=now(),
                                           flow_id=flow_id, ip=client_ip(), tz=svc.settings.timezone)
    return Response(body, content_type=media, headers={
        "Content-Disposition": f'attachment; filename="representativeness.{file_format}"'})


@bp.get("/updates/export.<file_format>")
def updates_export(file_format: str):
    """Download the "you said, we did" record as CSV or XLSX; audit-logged."""
    if file_format not in ("csv", "xlsx"):
        abort(404)
    svc = services()
    with svc.db.session() as s:
        header, rows = exports.update_rows(s)
        body, media = exports.export_table(s, g.officer, "you_said_we_did", header, rows, file_format, now=now(),
                                           ip=client_ip(), tz=svc.settings.timezone)
    return Response(body, content_type=media, headers={
        "Content-Disposition": f'attachment; filename="you-said-we-did.{file_format}"'})
