"""Themes of a flow's free-text step: sizes, labels, quotes, splits, and the officer's decisions on them."""
from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, request, url_for
from sqlalchemy.exc import IntegrityError

from dashboard import FIELD_NAMES
from dashboard.blueprint import bp, client_ip, now, role_required, services
from dashboard.i18n import _gettext as _
from dashboard.results import _steps_for
from engage import disclosure
from engage.themes import service
from locales.i18n import N_

# The stored name of the group of new answers that fit no theme, put in the officer's language.
TO_LOOK_AT = N_("To look at")


def _text_step(flow_id: str, step_id: str):
    flow, steps = _steps_for(flow_id)
    step = next((st for st in steps if st.id == step_id and st.kind == "text"), None)
    if step is None:
        abort(404)
    return flow, step


def theme_label(view) -> str:
    """The label an officer reads: the group of new answers is named in their language."""
    return _(TO_LOOK_AT) if view.origin == "new" and not view.renamed else view.label


@bp.get("/results/<flow_id>/themes/<step_id>")
def themes_page(flow_id: str, step_id: str):
    """The themes of one written question, with their words, quotes, sizes and splits."""
    flow, step = _text_step(flow_id, step_id)
    with services().db.session() as s:
        view = service.overview(s, flow_id, step_id, special=step.special_category, with_answers=True)
    dimension = request.args.get("by") or "ward"
    if dimension not in service.DIMENSIONS:
        abort(400)
    return render_template("dashboard/themes.html", flow=flow, flow_id=flow_id, step=step, view=view,
                           dimension=dimension, dimensions=service.DIMENSIONS, field_names=FIELD_NAMES,
                           label=theme_label, suppress_below=disclosure.threshold(), said=service.said_share)


def _back(flow_id: str, step_id: str, anchor: str = ""):
    return redirect(url_for("dashboard.themes_page", flow_id=flow_id, step_id=step_id) + anchor, code=303)


def _decide(flow_id: str, step_id: str, decision, done: str):
    _text_step(flow_id, step_id)
    try:
        with services().db.session() as s:
            decision(s)
    except (service.ThemeError, IntegrityError):
        # IntegrityError: another officer placed the same answers at the same moment; theirs stand.
        flash(_("That change could not be made: the themes may have changed meanwhile."), "error")
    except ValueError:
        abort(400)
    else:
        flash(done, "success")
    return _back(flow_id, step_id)


def _int(name: str) -> int:
    value = request.form.get(name, type=int)
    if value is None:
        abort(400)
    return value


@bp.post("/results/<flow_id>/themes/<step_id>/analyse")
@role_required("officer")
def themes_analyse(flow_id: str, step_id: str):
    """Find the themes the first time; then place the answers that arrived since, keeping every decision."""
    return _decide(flow_id, step_id, lambda s: service.analyse(s, flow_id, step_id, now(), officer=g.officer,
                                                                ip=client_ip()),
                   _("Themes brought up to date."))


@bp.post("/results/<flow_id>/themes/<step_id>/rename")
@role_required("officer")
def themes_rename(flow_id: str, step_id: str):
    theme_id, label = _int("theme"), request.form.get("label", "")
    return _decide(flow_id, step_id, lambda s: service.rename(s, flow_id, step_id, theme_id, label, g.officer, now(),
                                                               ip=client_ip()),
                   _("Theme renamed."))


@bp.post("/results/<flow_id>/themes/<step_id>/merge")
@role_required("officer")
def themes_merge(flow_id: str, step_id: str):
    into = _int("into")
    merged = [int(v) for v in request.form.getlist("theme") if v.isdigit()]
    return _decide(flow_id, step_id, lambda s: service.merge(s, flow_id, step_id, merged, into, g.officer, now(),
                                                              ip=client_ip()),
                   _("Themes merged."))


@bp.post("/results/<flow_id>/themes/<step_id>/split")
@role_required("officer")
def themes_split(flow_id: str, step_id: str):
    theme_id = _int("theme")
    return _decide(flow_id, step_id, lambda s: service.split(s, flow_id, step_id, theme_id, g.officer, now(),
                                                              ip=client_ip()),
                   _("Theme split."))


@bp.post("/results/<flow_id>/themes/<step_id>/move")
@role_required("officer")
def themes_move(flow_id: str, step_id: str):
    answer_id, theme_id = _int("answer"), _int("theme")
    return _decide(flow_id, step_id, lambda s: service.move(s, flow_id, step_id, answer_id, theme_id, g.officer,
                                                             now(), ip=client_ip()),
                   _("Answer moved."))


@bp.post("/results/<flow_id>/themes/<step_id>/mark")
@role_required("officer")
def themes_mark(flow_id: str, step_id: str):
    answer_id, what = _int("answer"), request.form.get("mark", "")
    on = request.form.get("on", "1") == "1"
    if what not in service.MARKS:
        abort(400)
    return _decide(flow_id, step_id, lambda s: service.mark(s, flow_id, step_id, answer_id, what, on, g.officer,
                                                             now(), ip=client_ip()),
                   _("Answer marked."))
