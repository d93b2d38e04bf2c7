"""Contacts (search, history, subject access, erasure) and the message log with provider errors in words."""
from __future__ import annotations

import json

from flask import Response, abort, flash, g, redirect, render_template, request, url_for
from sqlalchemy import String, cast, func, or_, select

from dashboard.blueprint import bp, client_ip, now, role_required, services
from dashboard.i18n import _gettext as _
from engage.officers import record
from locales.i18n import N_
from store.models import (
    Address,
    Answer,
    ConsentRecord,
    Contact,
    ContactGroup,
    InboundMessage,
    OutboxMessage,
    Run,
)

PER_PAGE = 50
# Provider error codes in words an officer can act on: (channel, code) first, then the code alone.
PROVIDER_ERRORS = {
    ("sms", "21610"): N_("The resident texted STOP to their carrier; Twilio will not deliver until they text START."),
    ("sms", "21211"): N_("The phone number is not valid."),
    ("sms", "21614"): N_("The number cannot receive text messages (for example a landline)."),
    ("sms", "21408"): N_("Sending to this country is not switched on in the Twilio account."),
    ("sms", "30003"): N_("The phone was switched off or out of signal and the carrier gave up."),
    ("sms", "30004"): N_("The carrier blocked the message; the number may have blocked us."),
    ("sms", "30005"): N_("The number does not exist or is no longer in use."),
    ("sms", "30006"): N_("The number is a landline or cannot receive texts."),
    ("sms", "30007"): N_("The carrier filtered the message as possible spam."),
    ("sms", "30008"): N_("The carrier could not deliver the message for an unknown reason."),
    ("whatsapp", "63016"): N_("WhatsApp refused a message outside the 24 hours after the resident's last "
                              "message; only an approved template may go then."),
    ("telegram", "403"): N_("The resident blocked the bot."),
    ("telegram", "400"): N_("Telegram refused the message: the chat may have been deleted."),
    ("telegram", "401"): N_("The bot's token was refused: check the Telegram settings."),
    "429": N_("The provider asked us to slow down; the message will be retried."),
    "5xx": N_("The provider had a fault; the message will be retried."),
    "timeout": N_("The provider did not answer in time, so we do not know if it was sent; it is not resent blindly."),
    "network": N_("The provider could not be reached; the message will be retried."),
    "connection": N_("The provider could not be reached; the message will be retried."),
    "bad_reply": N_("The provider's answer could not be read, so we do not know if it was sent."),
    "render": N_("The message could not be put into this channel's format."),
}
STATES = ("queued", "sending", "unknown", "sent", "delivered", "undelivered", "failed", "skipped")
# Why the service itself did not send a message (error codes it sets, not a provider's).
NOT_SENT_REASONS = {
    "expired": N_("The provider could not take it during the message's whole validity (an outage); not sent."),
    "opted_out": N_("The resident said STOP before it went; not sent."),
    "erased": N_("The resident's data was erased before it went; not sent."),
    "objected": N_("The resident objected to being contacted; not sent."),
    "no_service_basis": N_("No recorded basis for service messages (an import with a consent source, the "
                           "citizens' panel, or a yes to future messages); not sent."),
    "no_promotional_basis": N_("No recorded basis for promotional messages; not sent."),
    "whatsapp_no_template": N_("The resident had not written on WhatsApp in the last 24 hours and there was no "
                               "approved template for their language; not sent."),
}


def explain_error(code: str | None, channel: str | None = None) -> str | None:
    """Put a provider error code into words."""
    if not code:
        return None
    if str(code) in NOT_SENT_REASONS:
        return _(NOT_SENT_REASONS[str(code)])
    words = PROVIDER_ERRORS.get((channel or "", str(code))) or PROVIDER_ERRORS.get(str(code))
    return _(words) if words else None


def mask_address(channel: str, value: str | None) -> str:
    """Show enough of a number to recognise it, not enough to copy it down."""
    if not value:
        return ""
    if channel == "sms" and len(value) > 6:
        return value[:4] + "•" * (len(value) - 7) + value[-3:]
    return value if channel != "web" else "web session"


def _search(s, query: str, page: int):
    stmt = select(Contact).where(Contact.erased_at.is_(None))
    if query:
        like = f"%{query.lower()}%"
        digits = "".join(ch for ch in query if ch.isdigit())
        conditions = [func.lower(Contact.name).like(like),
                      Contact.id.in_(select(ContactGroup.contact_id).where(func.lower(ContactGroup.name).like(like))),
                      func.lower(cast(Contact.fields, String)).like(like)]
        if digits:
            conditions.append(Contact.id.in_(select(Address.contact_id).where(Address.address.like(f"%{digits}%"))))
        if query.isdigit():
            conditions.append(Contact.id == int(query))
        stmt = stmt.where(or_(*conditions))
    total = s.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = s.scalars(stmt.order_by(Contact.id.desc()).limit(PER_PAGE).offset((page - 1) * PER_PAGE)).all()
    return rows, total


@bp.get("/contacts")
@role_required("officer")
def contacts_index():
    """Search contacts by name, number, group or field."""
    query = (request.args.get("q") or "").strip()[:100]
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    with services().db.session() as s:
        rows, total = _search(s, query, page)
        groups = dict(s.execute(select(ContactGroup.name, func.count()).group_by(ContactGroup.name)
                                .order_by(ContactGroup.name)).all())
    return render_template("dashboard/contacts.html", contacts=rows, total=total, q=query, page=page,
                           pages=max((total + PER_PAGE - 1) // PER_PAGE, 1), groups=groups)


@bp.get("/contacts/<int:contact_id>")
@role_required("officer")
def contact_detail(contact_id: int):
    """Show one contact's addresses, consent records, groups, answers and messages."""
    with services().db.session() as s:
        contact = s.get(Contact, contact_id)
        if contact is None:
            abort(404)
        addresses = s.scalars(select(Address).where(Address.contact_id == contact_id)).all()
        consents = s.scalars(select(ConsentRecord).where(ConsentRecord.contact_id == contact_id)
                             .order_by(ConsentRecord.at.desc())).all()
        groups = [gr.name for gr in contact.groups]
        answers = s.scalars(select(Answer).where(Answer.contact_id == contact_id)
                            .order_by(Answer.answered_at.desc()).limit(200)).all()
        runs = s.scalars(select(Run).where(Run.contact_id == contact_id).order_by(Run.started_at.desc())).all()
        outbound = s.scalars(select(OutboxMessage).where(OutboxMessage.contact_id == contact_id)
                             .order_by(OutboxMessage.created_at.desc()).limit(200)).all()
        inbound = s.scalars(select(InboundMessage).where(InboundMessage.contact_id == contact_id)
                            .order_by(InboundMessage.received_at.desc()).limit(200)).all()
    messages = sorted([("in", m.received_at, m.text, m.channel, None, None) for m in inbound]
                      + [("out", m.created_at, (m.payload or {}).get("text"), m.channel, m.status,
                          explain_error(m.error_code, m.channel)) for m in outbound], key=lambda m: m[1], reverse=True)
    from engage.contacts import shareable_fields
    from engage.results import special_steps

    with services().db.session() as s:
        # Special-category answers leave the service only as counts; the person's own copy is subject access.
        special = special_steps(s, {a.flow_id for a in answers})
    answers = [a for a in answers if (a.flow_id, a.step_id) not in special]
    return render_template("dashboard/contact_detail.html", contact=contact, addresses=addresses, consents=consents,
                           shown_fields=shareable_fields(contact.fields),
                           groups=groups, answers=answers, runs=runs, messages=messages, mask=mask_address,
                           privacy_ready=_privacy_ready())


def _privacy_ready() -> bool:
    try:
        from engage import privacy  # noqa: F401
    except ImportError:
        return False
    return True


@bp.post("/contacts/<int:contact_id>/subject-access")
@role_required("officer")
def contact_subject_access(contact_id: int):
    """Download everything held on a contact (a subject access request); audit-logged."""
    from engage import privacy

    svc = services()
    with svc.db.session() as s:
        try:
            data = privacy.subject_access(s, contact_id, now())
        except LookupError:
            abort(404)
        record(s, g.officer, "contact.subject_access", now(), target_type="contact", target_id=contact_id,
               summary=f"Downloaded a subject access copy for contact {contact_id}", ip=client_ip())
    if request.form.get("format") == "html":
        body = privacy.subject_access_html(data, svc.settings.council_name, svc.settings.timezone)
        return Response(body, mimetype="text/html", headers={
            "Content-Disposition": f'attachment; filename="contact-{contact_id}.html"'})
    return Response(json.dumps(data, ensure_ascii=False, indent=2, default=str), mimetype="application/json",
                    headers={"Content-Disposition": f'attachment; filename="contact-{contact_id}.json"'})


@bp.post("/contacts/<int:contact_id>/erase")
@role_required("officer")
def contact_erase(contact_id: int):
    """Erase a contact's personal data at once (right to erasure); audit-logged."""
    from engage import privacy

    if request.form.get("confirm") != "ERASE":
        flash(_("Type ERASE to confirm."), "error")
        return redirect(url_for("dashboard.contact_detail", contact_id=contact_id))
    with services().db.session() as s:
        try:
            erasure = privacy.erase_contact(s, contact_id, now(), source="officer")
        except LookupError:
            abort(404)
        record(s, g.officer, "contact.erased", now(), target_type="contact", target_id=contact_id,
               detail={"erasure_id": erasure.id}, summary=f"Erased contact {contact_id}", ip=client_ip())
    flash(_("The contact's personal data has been erased."), "success")
    return redirect(url_for("dashboard.contacts_index"))


@bp.get("/messages")
@role_required("officer")
def message_log():
    """List outgoing messages with their delivery state and provider errors in words."""
    status = request.args.get("status") or ""
    channel = request.args.get("channel") or ""
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    stmt = select(OutboxMessage)
    if status in STATES:
        stmt = stmt.where(OutboxMessage.status == status)
    if channel:
        stmt = stmt.where(OutboxMessage.channel == channel)
    with services().db.session() as s:
        total = s.scalar(select(func.count()).select_from(stmt.subquery())) or 0
        rows = s.scalars(stmt.order_by(OutboxMessage.id.desc()).limit(PER_PAGE).offset((page - 1) * PER_PAGE)).all()
        states = dict(s.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all())
    return render_template("dashboard/messages.html", rows=rows, total=total, page=page, status=status,
                           channel=channel, states=states, all_states=STATES, explain=explain_error,
                           pages=max((total + PER_PAGE - 1) // PER_PAGE, 1))
