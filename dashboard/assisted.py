"""Assisted entry: an officer at a pop-up event or on the phone runs a flow on a resident's behalf.

The answers go through the same conversation service as every channel, on an
address of channel "assisted", so they are counted with the rest and marked as
such. The officer reads each question on screen; those outbox rows are marked
delivered at once so no sender ever tries to send them.
"""
from __future__ import annotations

import secrets

from flask import abort, flash, g, redirect, render_template, request, url_for
from sqlalchemy import func, select, update

from dashboard.blueprint import bp, client_ip, now, role_required, services
from dashboard.i18n import _gettext as _
from engage.officers import record
from locales.languages import LANGUAGES, supported_code
from store.models import Address, Contact, OutboxMessage, Run

CHANNEL = "assisted"


def _address_value(token: str) -> str:
    return f"assisted:{token}"


def _send(token: str, text: str | None, **payload) -> None:
    svc = services()
    provider_id = f"assisted-{token}-{secrets.token_hex(8)}"
    row_id, _created = svc.conversations.store_inbound(CHANNEL, provider_id, _address_value(token), text, payload)
    svc.conversations.process_inbound(row_id)


def _screen(token: str) -> dict:
    """The latest question and texts for this assisted session, marking its outbox rows delivered."""
    svc = services()
    with svc.db.session() as s:
        address = s.scalar(select(Address).where(Address.channel == CHANNEL,
                                                 Address.address == _address_value(token)))
        if address is None:
            return {}
        rows = s.scalars(select(OutboxMessage).where(OutboxMessage.address_id == address.id)
                         .order_by(OutboxMessage.id.desc()).limit(5)).all()
        s.execute(update(OutboxMessage).where(OutboxMessage.address_id == address.id,
                                              OutboxMessage.status == "queued")
                  .values(status="delivered", delivered_at=now(), sent_at=now(), updated_at=now()))
        run = s.scalar(select(Run).where(Run.address_id == address.id).order_by(Run.id.desc()).limit(1))
        latest = rows[0].payload if rows else {}
        return {"payload": latest, "run": run, "contact_id": address.contact_id}


@bp.route("/assisted", methods=["GET", "POST"])
@role_required("officer")
def assisted_start():
    """Choose a flow and a language, and start it for a resident in front of you or on the phone."""
    svc = services()
    flows = svc.registry.all()
    with svc.db.session() as s:
        # Every language residents can use, with how many prefer each, so nobody is left to English by default.
        prefer = dict(s.execute(select(Contact.language, func.count()).where(Contact.erased_at.is_(None))
                                .group_by(Contact.language)).all())
    page = dict(flows=flows, languages=LANGUAGES, prefer=prefer)
    if request.method == "GET":
        return render_template("dashboard/assisted_start.html", **page)
    flow = svc.registry.get(request.form.get("flow_id", ""))
    if flow is None:
        flash(_("Choose a published flow."), "error")
        return render_template("dashboard/assisted_start.html", **page), 422
    lang = supported_code(request.form.get("language"))
    token = secrets.token_urlsafe(12)
    # The resident's language is recorded; a flow without it is asked in its base language (and counted so).
    _send(token, None, start_flow=flow.id, language_hint=lang)
    with svc.db.session() as s:
        record(s, g.officer, "assisted.started", now(), target_type="flow", target_id=flow.id,
               summary=f"Started {flow.id} on a resident's behalf (assisted)", ip=client_ip())
    return redirect(url_for("dashboard.assisted_session", token=token))


@bp.route("/assisted/<token>", methods=["GET", "POST"])
@role_required("officer")
def assisted_session(token: str):
    """Show the current question; enter the resident's answer as they give it."""
    if not token.replace("-", "").replace("_", "").isalnum() or len(token) > 40:
        abort(404)
    if request.method == "POST":
        choice = request.form.get("choice") or None
        text = request.form.get("text", "")
        if choice is None and not text.strip():
            flash(_("Enter the resident's answer, or choose an option."), "error")
        else:
            _send(token, text if choice is None else choice, **({"choice": choice} if choice else {}))
        return redirect(url_for("dashboard.assisted_session", token=token))
    screen = _screen(token)
    if not screen:
        abort(404)
    return render_template("dashboard/assisted_session.html", token=token, **screen)
