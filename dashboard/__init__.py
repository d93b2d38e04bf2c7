"""The officers' dashboard: sign-in, roles, CSRF on every form, and the pages under /dashboard/."""
from __future__ import annotations

from flask import Flask
from flask_wtf.csrf import CSRFProtect

from locales.i18n import N_

csrf = CSRFProtect()

_ = N_
# Contact fields and census dimensions by name, for headings and labels.
FIELD_NAMES = {
    "ward": _("Ward"), "estate": _("Estate"), "postcode_district": _("Postcode district"), "parish": _("Parish"),
    "age_band": _("Age band"), "gender": _("Gender"), "tenure": _("Tenure"), "ethnicity": _("Ethnicity"),
    "disability": _("Disability"), "religion": _("Religion"), "health": _("Health"),
    "sexual_orientation": _("Sexual orientation"), "language": _("Language"), "channel": _("Channel"),
}


# States and reasons the dashboard shows as tags, by their stored code; English words equal the codes.
STATUS_WORDS = {
    "queued": _("queued"), "sending": _("sending"), "unknown": _("unknown"), "sent": _("sent"),
    "delivered": _("delivered"), "undelivered": _("undelivered"), "failed": _("failed"), "skipped": _("skipped"),
    "scheduled": _("scheduled"), "cancelled": _("cancelled"), "draft": _("draft"), "published": _("published"),
    "active": _("active"), "completed": _("completed"), "expired": _("expired"), "ended": _("ended"),
    "planned": _("planned"), "open": _("open"), "closed": _("closed"), "reported": _("reported"),
    "opted_out": _("opted out"), "no_consent": _("no consent"), "unusable": _("unusable address"),
    "objected": _("objected"), "fatigue": _("contacted too often"), "recently_answered": _("answered recently"),
    "already_in_flow": _("already in the flow"), "in_conversation": _("in a conversation"),
    "consultation_closed": _("consultation closed"), "erased": _("erased"), "no_address": _("no address"),
    "whatsapp_no_template": _("no approved WhatsApp template"),
    # Kinds of message.
    "reply": _("reply"), "system": _("system"), "stop_confirmation": _("stop confirmation"),
    "broadcast": _("broadcast"), "reminder": _("reminder"), "update": _("update"),
}


def init_app(app: Flask, services) -> None:
    """Register the sign-in pages and the dashboard, with CSRF checked on their forms only."""
    from dashboard import (  # noqa: F401  (each module adds its routes to the blueprint)
        accounts,
        api_tokens,
        assisted,
        auth,
        contact_admin,
        contacts,
        flows,
        health,
        home,
        outreach,
        results,
        segment_builder,
        themes,
    )
    from dashboard.blueprint import bp, login_bp, signed_in_officer
    from dashboard.i18n import install_jinja_i18n
    from engage.officer_sessions import ABSOLUTE_LIMIT

    # Checked by our blueprints' before_request, not app-wide: provider webhooks and the JSON
    # API authenticate by signature and token, and a CSRF check would refuse them.
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", 8 * 3600)
    # Flask's own default is 31 days, so this is set, not defaulted: the cookie lives as long as
    # the longest session (the server ends it sooner: engage.officer_sessions).
    app.config["PERMANENT_SESSION_LIFETIME"] = ABSOLUTE_LIMIT
    csrf.init_app(app)
    install_jinja_i18n(app)
    _install_template_helpers(app, services)
    app.register_blueprint(login_bp)
    app.register_blueprint(bp)
    # Other rooms' officer-only pages (the sandbox) ask the dashboard who is signed in.
    app.extensions["outreach_signed_in_officer"] = signed_in_officer


def officer_value_labels(services):
    """Labels for stored codes from the census file and the published flows (engage.labels)."""
    from engage import labels, representativeness

    try:
        baseline = representativeness.load_baseline(services.settings.extra.get("census_path"))
    except (OSError, ValueError):
        baseline = None
    return labels.value_labels(services.registry.all(), baseline)


def _install_template_helpers(app: Flask, services) -> None:
    from zoneinfo import ZoneInfo

    from engage.officers import may
    from locales.languages import direction

    zone = ZoneInfo(services.settings.timezone)

    def localtime(value) -> str:
        """Show a stored UTC time in the council's time zone, in the officer's language (02 Rhag 2026 10:05)."""
        from babel.dates import format_datetime

        from dashboard.i18n import dashboard_language
        from locales.languages import BY_CODE

        if value is None:
            return ""
        return format_datetime(value.astimezone(zone), "dd MMM y HH:mm", locale=BY_CODE[dashboard_language()].locale)

    def channel_name(code) -> str:
        """Show a channel's name in the officer's language (web -> sgwrs ar y we)."""
        from dashboard.i18n import _gettext as _

        names = {"sms": "SMS", "telegram": "Telegram", "web": _("web chat"),
                 "assisted": _("assisted"), "whatsapp": "WhatsApp", "voice": _("phone call")}
        return names.get(str(code or ""), str(code or ""))

    def status_name(code) -> str:
        """Show a stored state or reason (queued, opted_out) in the officer's language."""
        from dashboard.i18n import _gettext as _

        return _(STATUS_WORDS[code]) if code in STATUS_WORDS else str(code or "")

    def localdate(value) -> str:
        """Show a date in the officer's language (2 Rhagfyr 2026)."""
        from babel.dates import format_date

        from dashboard.i18n import dashboard_language
        from locales.languages import BY_CODE

        return format_date(value, "d MMMM y", locale=BY_CODE[dashboard_language()].locale) if value else ""

    def field_name(name) -> str:
        """Show a contact field or census dimension in the officer's language (age_band -> Age band)."""
        from dashboard.i18n import _gettext

        return _gettext(FIELD_NAMES[name]) if name in FIELD_NAMES else str(name or "").replace("_", " ").capitalize()

    def duration(seconds) -> str:
        """Show seconds as a short duration: 45 s, 12 min, 3 h 5 min, 2 days."""
        if seconds is None:
            return "–"
        seconds = float(seconds)
        if seconds < 90:
            return f"{seconds:.0f} s"
        if seconds < 3600:
            return f"{seconds / 60:.0f} min"
        if seconds < 2 * 86400:
            return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60)} min"
        return f"{seconds / 86400:.1f} days"

    def language_name(code) -> str:
        """Show a language code as the language's own name (cy -> Cymraeg)."""
        from locales.languages import BY_CODE

        language = BY_CODE.get(str(code or ""))
        return f"{language.native_name} ({code})" if language else str(code or "")

    def value_label(code, field_name=None, default=None) -> str:
        """Show a stored code as words in the officer's language (bush_fair -> Bush Fair, 18_64 -> 18 to 64):
        the census file's labels, the flows' choice texts, else the code made readable."""
        from flask import g as request_globals

        from dashboard.i18n import _gettext as _
        from dashboard.i18n import dashboard_language
        from engage.results import UNKNOWN

        if code is None or code == UNKNOWN:
            return _("not given")
        if field_name == "language":
            return language_name(code)
        if field_name == "channel":
            return channel_name(code)
        labels = getattr(request_globals, "_value_labels", None)
        if labels is None:
            labels = request_globals._value_labels = officer_value_labels(services)
        if default is None and str(code) in ("true", "false"):
            default = _("Yes") if str(code) == "true" else _("No")
        return labels.label(field_name, code, dashboard_language(), default)

    app.jinja_env.globals["may"] = may
    # Every channel, for the results and message log filters (store.models.CHANNELS).
    from store.models import CHANNELS

    app.jinja_env.globals["channels"] = CHANNELS
    app.jinja_env.filters["value_label"] = value_label
    app.jinja_env.filters["language_name"] = language_name
    app.jinja_env.filters["localtime"] = localtime
    app.jinja_env.filters["duration"] = duration
    app.jinja_env.filters["channel_name"] = channel_name
    app.jinja_env.filters["text_direction"] = direction
    app.jinja_env.filters["field_name"] = field_name
    app.jinja_env.filters["status_name"] = status_name
    app.jinja_env.filters["localdate"] = localdate
    app.jinja_env.globals.setdefault("council_name", services.settings.council_name)
