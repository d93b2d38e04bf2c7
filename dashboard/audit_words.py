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
}


def audit_words(row: Any) -> str:
    """Return the line's summary in the officer's language, or as stored when it cannot be worded again."""
    known = ACTIONS.get(row.action)
    detail = row.detail or {}
    if known is None or any(key not in detail for key in known[1]):
        return row.summary or ""
    message, keys = known
    return _(message, target=row.target_id or "", **{key: detail[key] for key in keys})
