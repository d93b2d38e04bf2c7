"""Audit log lines in the officer's language.

The log keeps, once and for ever, the summary written in English when the action happened. The page
words each line again from what the line holds (its action, target and detail) in the reader's
language; a line whose action this table does not know is shown as stored.
"""
from __future__ import annotations

from typing import Any

from dashboard.i18n import _gettext as _
from locales.i18n import N_

# action -> (message, the detail keys it needs besides the target's id as %(target)s)
ACTIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "assisted.started": (N_("Started %(target)s on a resident's behalf (assisted)"), ()),
    "broadcast.created": (N_("Created broadcast %(target)s (%(schedule)s)"), ("schedule",)),
    "broadcast.sent": (N_("Sent broadcast %(target)s to %(queued)s residents"), ("queued",)),
    "broadcast.cancelled": (N_("Cancelled broadcast %(target)s"), ()),
    "consultation.created": (N_("Planned consultation %(target)s"), ()),
    "contact.erased": (N_("Erased contact %(target)s"), ()),
    "contact.subject_access": (N_("Downloaded a subject access copy for contact %(target)s"), ()),
    "export.downloaded": (N_("Exported %(what)s (%(format)s, %(rows)s rows)"), ("what", "format", "rows")),
    "flow.published": (N_("Published %(target)s"), ()),
    "officer.created": (N_("Created the %(role)s account %(target)s"), ("role",)),
    "officer.password_changed": (N_("Changed the password of account %(target)s"), ()),
    "officer.role_changed": (N_("Changed account %(target)s from %(from)s to %(to)s"), ("from", "to")),
    "officer.enabled": (N_("Enabled account %(target)s"), ()),
    "officer.disabled": (N_("Disabled account %(target)s"), ()),
    "officer.signed_in": (N_("Signed in"), ()),
    "officer.signed_out": (N_("Signed out"), ()),
    "outbox.marked_sent": (N_("Marked message %(target)s sent after checking the provider"), ()),
    "outbox.marked_not_sent": (N_("Marked message %(target)s not sent after checking the provider"), ()),
    "segment.created": (N_("Saved segment %(target)s"), ()),
    "theme.answer_marked": (N_("Marked answer %(target)s of %(flow)s/%(step)s (%(mark)s)"), ("flow", "step", "mark")),
    "theme.answer_moved": (N_("Moved answer %(target)s of %(flow)s/%(step)s to theme %(to)s"), ("flow", "step", "to")),
    "theme.merged": (N_("Merged themes into theme %(target)s of %(flow)s/%(step)s"), ("flow", "step")),
    "theme.renamed": (N_("Renamed theme %(target)s of %(flow)s/%(step)s to “%(to)s”"), ("flow", "step", "to")),
    "theme.split": (N_("Split theme %(target)s of %(flow)s/%(step)s"), ("flow", "step")),
    "themes.analysed": (N_("Brought the themes of %(target)s/%(step)s up to date (%(placed)s answers placed)"),
                        ("step", "placed")),
    "update.created": (N_("Wrote “you said, we did” update %(target)s"), ()),
    "update.sent": (N_("Sent “you said, we did” update %(target)s to %(queued)s residents"), ("queued",)),
    "api_token.created": (N_("Created API token %(target)s “%(name)s” (%(scope)s)"), ("name", "scope")),
    "api_token.revoked": (N_("Revoked API token %(target)s “%(name)s”"), ("name",)),
    "consultation.changed": (N_("Changed consultation %(target)s"), ()),
    "consultation.deleted": (N_("Took consultation %(target)s off the calendar"), ()),
    "contact.objected": (N_("Recorded contact %(target)s's objection: no broadcasts, reminders or updates"), ()),
    "contact.objection_withdrawn": (N_("Withdrew contact %(target)s's objection"), ()),
    "contacts.imported": (N_("Imported %(rows)s contact rows: %(created)s new, %(merged)s merged"),
                          ("rows", "created", "merged")),
    "export.special_category": (N_("Exported results with special-category answers for %(target)s "
                                   "(%(format)s, %(rows)s rows)"), ("format", "rows")),
    "officer.password_reset": (N_("Reset the password of account %(target)s"), ()),
}

# action -> its name in plain words, for the page's Action column and its filter.
ACTION_NAMES: dict[str, str] = {
    "api_token.created": N_("API token created"),
    "api_token.revoked": N_("API token revoked"),
    "assisted.started": N_("Assisted answers started"),
    "broadcast.cancelled": N_("Broadcast cancelled"),
    "broadcast.created": N_("Broadcast created"),
    "broadcast.sent": N_("Broadcast sent"),
    "consultation.changed": N_("Consultation changed"),
    "consultation.created": N_("Consultation planned"),
    "consultation.deleted": N_("Consultation taken off the calendar"),
    "contact.created": N_("Contact added"),
    "contact.erased": N_("Contact erased"),
    "contact.objected": N_("Contact objected"),
    "contact.objection_withdrawn": N_("Contact's objection withdrawn"),
    "contact.subject_access": N_("Subject access copy"),
    "contact.updated": N_("Contact changed"),
    "contacts.imported": N_("Contacts imported"),
    "export.downloaded": N_("Export downloaded"),
    "export.special_category": N_("Special-category export"),
    "flow.published": N_("Flow published"),
    "officer.created": N_("Account created"),
    "officer.disabled": N_("Account disabled"),
    "officer.enabled": N_("Account enabled"),
    "officer.password_changed": N_("Password changed"),
    "officer.password_reset": N_("Password reset"),
    "officer.role_changed": N_("Role changed"),
    "officer.signed_in": N_("Signed in"),
    "officer.signed_out": N_("Signed out"),
    "segment.created": N_("Segment saved"),
    "update.created": N_("Update written"),
    "update.sent": N_("Update sent"),
}


def action_name(action: str | None) -> str:
    """An action's name in plain words in the officer's language; an action this table does not know,
    made readable from its code (contact.merged -> Contact merged)."""
    if not action:
        return ""
    if action in ACTION_NAMES:
        return _(ACTION_NAMES[action])
    return action.replace(".", " ").replace("_", " ").capitalize()


def audit_words(row: Any) -> str:
    """Return the line's summary in the officer's language, or as stored when it cannot be worded again."""
    known = ACTIONS.get(row.action)
    detail = row.detail or {}
    if known is None or any(key not in detail for key in known[1]):
        return row.summary or ""
    message, keys = known
    return _(message, target=row.target_id or "", **{key: detail[key] for key in keys})
