"""Segments without JSON: a form of ticks and choices that builds `engage.segments` rules, with the live size.

The form's answers become the same JSON rules the API and `/dashboard/segments/new`
take, checked and counted by `engage.segments`; the page shows that JSON too.
`/dashboard/segments/count` answers the page's script with the size as the
officer changes the form; without JavaScript the "Count residents" button does the same.
"""
from __future__ import annotations

import json
from typing import Any

from flask import flash, g, jsonify, redirect, render_template, request, url_for
from sqlalchemy import select

from dashboard import segment_words
from dashboard.blueprint import bp, client_ip, now, role_required, services
from dashboard.i18n import _gettext as _
from dashboard.i18n import dashboard_language
from engage import segments
from engage.officers import record
from locales import i18n
from locales.languages import BY_CODE
from store.models import Contact, ContactGroup

# Contact fields offered as ticks, with the values contacts have (at most this many per field).
MAX_VALUES = 60
CHANNEL_NAMES = {"sms": "SMS", "whatsapp": "WhatsApp", "voice": "Phone call", "telegram": "Telegram",
                 "web": "Web chat", "assisted": "Assisted entry"}
LANGUAGE_CODES = ("en", "cy", "pl", "ro", "pa", "ur", "bn", "pt", "ar", "so")


def rules_from_form(form) -> dict[str, Any]:
    """Turn the builder's answers into segment rules: every part given must hold ("all"), or any ("any")."""
    parts: list[dict[str, Any]] = []
    for name in segments.FIELDS:
        if name == "language":
            continue
        values = [v for v in form.getlist(f"field_{name}") if v]
        if values:
            parts.append({"field": name, "in": values})
    languages = [v for v in form.getlist("language") if v in LANGUAGE_CODES]
    if languages:
        parts.append({"field": "language", "in": languages})
    groups = [v for v in form.getlist("group") if v]
    if groups:
        parts.append({"group": groups if len(groups) > 1 else groups[0]})
    channels = [v for v in form.getlist("channel") if v in CHANNEL_NAMES]
    if channels:
        rules = [{"opted_in": c} for c in channels]
        parts.append(rules[0] if len(rules) == 1 else {"any": rules})
    for flow_id in [v for v in form.getlist("took_part") if v]:
        parts.append({"answered": flow_id})
    for flow_id in [v for v in form.getlist("did_not_answer") if v]:
        parts.append({"not": {"answered": flow_id}})
    for flow_id in [v for v in form.getlist("started_not_finished") if v]:
        parts.append({"started_not_finished": flow_id})
    days = (form.get("not_contacted_days") or "").strip()
    if days:
        if not days.isdigit() or int(days) < 1:
            raise segments.SegmentError(_("“Not contacted for” needs a whole number of days, 1 or more."))
        parts.append({"not_contacted_days": int(days)})
    return {"any" if form.get("match") == "any" and len(parts) > 1 else "all": parts}


def _choices(s) -> dict[str, Any]:
    """What the form offers: field values, groups and flows that exist, each named by its label
    (the census file's, the flows' choice texts, else the code made readable)."""
    from dashboard import officer_value_labels
    from dashboard.i18n import dashboard_language

    labels, lang = officer_value_labels(services()), dashboard_language()
    fields = {}
    for name in segments.FIELDS:
        if name == "language":
            continue
        column = Contact.fields[name].as_string()
        values = [v for v in s.scalars(select(column).where(Contact.erased_at.is_(None), column.is_not(None))
                                       .distinct().order_by(column).limit(MAX_VALUES)) if v]
        if values:
            fields[name] = [(v, labels.label(name, v, lang)) for v in values]
    groups = list(s.scalars(select(ContactGroup.name).group_by(ContactGroup.name).order_by(ContactGroup.name)))
    return {"fields": fields, "groups": [(name, labels.label("groups", name, lang, name)) for name in groups]}


def _field_labels() -> dict[str, str]:
    return {"ward": _("Ward"), "estate": _("Estate"), "postcode_district": _("Postcode district"),
            "parish": _("Parish"), "age_band": _("Age band"), "gender": _("Gender"), "tenure": _("Tenure"),
            "ethnicity": _("Ethnicity"), "disability": _("Disability"), "religion": _("Religion"),
            "health": _("Health"), "sexual_orientation": _("Sexual orientation")}


def _count(s, rules: dict[str, Any]) -> tuple[int, str]:
    return segments.segment_size(s, rules, now()), segment_words.describe(rules)


@bp.route("/segments/build", methods=["GET", "POST"])
@role_required("officer")
def segment_build():
    """Build a segment from ticks and choices; count it; save it."""
    svc = services()
    form = request.form if request.method == "POST" else request.args
    error = size = words = rules = None
    with svc.db.session() as s:
        choices = _choices(s)
        if request.method == "POST":
            try:
                rules = rules_from_form(form)
                size, words = _count(s, rules)
                if form.get("action") == "save":
                    segment = segments.create_segment(s, form.get("name", ""), rules, now(),
                                                      created_by=g.officer.email)
                    record(s, g.officer, "segment.created", now(), target_type="segment", target_id=segment.id,
                           detail={"rules": rules}, summary=f"Saved segment “{segment.name}”", ip=client_ip())
                    flash(_("Segment saved."), "success")
                    return redirect(url_for("dashboard.broadcasts_new"))
            except segments.SegmentError as exc:
                error = str(exc)
    flows = [(f.id, getattr(f, "title", None) or f.id) for f in svc.registry.all()]
    return render_template(
        "dashboard/segment_build.html", form=form, choices=choices, flows=flows, error=error, size=size,
        words=words, rules_json=json.dumps(rules, ensure_ascii=False, indent=1) if rules else None,
        channels=[("sms", "SMS"), ("whatsapp", "WhatsApp"), ("voice", _("Phone call")), ("telegram", "Telegram"),
                  ("web", _("Web chat")), ("assisted", _("Assisted entry"))], field_labels=_field_labels(),
        languages=[(c, BY_CODE[c].native_name if c in BY_CODE else c) for c in LANGUAGE_CODES],
        special=set(segments.SPECIAL_CATEGORY_FIELDS)), (422 if error else 200)


@bp.post("/segments/count")
@role_required("officer")
def segment_count():
    """Count the contacts the builder's current answers match (the page's script calls this)."""
    try:
        rules = rules_from_form(request.form)
        with services().db.session() as s:
            size, words = _count(s, rules)
    except segments.SegmentError as exc:
        return jsonify(error=str(exc)), 422
    residents = i18n.ngettext(dashboard_language(), "%(num)s resident", "%(num)s residents", size)
    return jsonify(size=size, words=words, rules=rules, label=f"{words} – {residents}")
