"""Service health, for admins: what the service received, acted on and sent in the last hour, the outbox
queue, and the messages whose sending is in doubt, with what to do about them.

The figures are read from the database (engage.metrics), so every web process shows the same page, in
embedded and scaled mode alike; `/metrics` gives the same to a monitoring system.
"""
from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, request, url_for

from dashboard.blueprint import bp, client_ip, now, role_required, services
from dashboard.i18n import _gettext as _
from engage import metrics
from engage.officers import record
from locales.i18n import N_

# What an officer can do about a message in doubt, by its state and the reason the sender gave.
ADVICE = {
    "stuck": N_("The sender stopped while this message was being sent. Make sure a sender is running "
                "(python app.py worker, or the service itself on a laptop): within a few minutes it marks "
                "the message unknown, and you can then check it with the provider."),
    "interrupted": N_("The sender stopped part-way, so the message may or may not have gone. Look it up in "
                      "the provider's console (Twilio: Monitor, Logs, Messaging; Telegram: the chat) and "
                      "mark it sent or not sent."),
    "timeout": N_("The provider did not answer in time, so the message may or may not have gone. Look it up "
                  "in the provider's console and mark it sent or not sent."),
    "unknown": N_("The service cannot tell whether this message went, so it will not send it again by "
                  "itself. Look it up in the provider's console and mark it sent or not sent; to send it "
                  "again, mark it not sent and send it from the resident's page."),
}


def advice_for(message: metrics.Doubtful) -> str:
    if message.state == "stuck":
        return _(ADVICE["stuck"])
    return _(ADVICE.get(message.error_code or "", ADVICE["unknown"]))


@bp.get("/health")
@role_required("admin")
def service_health():
    """The service's last hour, its queue, and the messages to check."""
    svc = services()
    moment = now()
    figures = metrics.last_hour(svc.db, moment)
    queue = metrics.outbox_queue(svc.db, moment)
    doubtful = metrics.doubtful_messages(svc.db, moment)
    peak = max([1, *(max(r, s) for _, r, s in figures.minutes)])
    return render_template("dashboard/health.html", figures=figures, queue=queue, doubtful=doubtful,
                           advice_for=advice_for, scheduler=metrics.scheduler_state(svc), peak=peak,
                           mode=svc.settings.mode)


@bp.post("/health/outbox/<int:message_id>")
@role_required("admin")
def resolve_doubtful(message_id: int):
    """Record what the provider's console says about a message in doubt: it went, or it did not."""
    outcome = request.form.get("outcome", "")
    if outcome not in ("sent", "failed"):
        abort(400)
    with services().db.session() as s:
        row = metrics.resolve_unknown(s, message_id, outcome, now())
        if row is not None:
            action = "outbox.marked_sent" if outcome == "sent" else "outbox.marked_not_sent"
            record(s, g.officer, action, now(), target_type="outbox", target_id=message_id,
                   detail={"channel": row.channel, "kind": row.kind},
                   summary=f"Marked message {message_id} {'sent' if outcome == 'sent' else 'not sent'} "
                           "after checking the provider", ip=client_ip())
    if row is None:
        flash(_("That message is no longer in doubt: nothing was changed."), "error")
    elif outcome == "sent":
        flash(_("Message %(id)s marked sent.", id=message_id), "success")
    else:
        flash(_("Message %(id)s marked not sent.", id=message_id), "success")
    return redirect(url_for("dashboard.service_health"))
