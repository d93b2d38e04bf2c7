"""A segment's rules in words, in the officer's language, with labels instead of codes.

engage.segments.describe says the same in English for the command line and the API; this one reads
the dashboard's catalogs, the census file's and flows' labels (the `value_label` filter) and Babel's
list patterns ("a, b or c" / "a, b neu c").
"""
from __future__ import annotations

from typing import Any

from babel.lists import format_list
from flask import current_app

from dashboard.i18n import _gettext as _
from dashboard.i18n import dashboard_language
from engage import segments
from engage.segments import SPECIAL_CATEGORY_FIELDS
from locales import i18n
from locales.languages import BY_CODE


def describe(rules: dict[str, Any]) -> str:
    """Put the rules into words an officer can check: "Residents whose ward is Netteswell"."""
    segments.validate(rules)
    return _("Residents %(who)s", who=_words(rules, BY_CODE[dashboard_language()].locale))


def _words(rules: dict[str, Any], locale) -> str:
    filters = current_app.jinja_env.filters
    if "all" in rules:
        parts = [_words(r, locale) for r in rules["all"]]
        return format_list(parts, locale=locale) if parts else _("(everyone)")
    if "any" in rules:
        parts = [_words(r, locale) for r in rules["any"]]
        return _("who are either %(parts)s", parts=format_list(parts, style="or", locale=locale)) if parts \
            else _("(no one)")
    if "not" in rules:
        return _("except those %(who)s", who=_words(rules["not"], locale))
    if "field" in rules:
        name = rules["field"]
        field = filters["field_name"](name).lower()
        if "in" in rules or "equals" in rules:
            values = rules["in"] if "in" in rules else [rules["equals"]]
            labels = [filters["value_label"](str(v), name) for v in values]
            words = _("whose %(field)s is %(values)s", field=field,
                      values=format_list(labels, style="or", locale=locale))
        elif rules["is_set"]:
            words = _("whose %(field)s is known", field=field)
        else:
            words = _("whose %(field)s is not known", field=field)
        if name in SPECIAL_CATEGORY_FIELDS:
            words += " " + _("(only those who agreed we may use it)")
        return words
    if "group" in rules:
        names = rules["group"] if isinstance(rules["group"], list) else [rules["group"]]
        return _("in the group %(names)s", names=format_list([f"“{n}”" for n in names], style="or", locale=locale))
    if "opted_in" in rules:
        return _("who opted in on %(channel)s", channel=filters["channel_name"](rules["opted_in"]))
    if "answered" in rules:
        return _("who answered “%(flow)s”", flow=rules["answered"])
    if "started_not_finished" in rules:
        return _("who started “%(flow)s” but did not finish", flow=rules["started_not_finished"])
    days = rules["not_contacted_days"]
    return i18n.ngettext(dashboard_language(), "not contacted in the last %(num)s day",
                         "not contacted in the last %(num)s days", days)
