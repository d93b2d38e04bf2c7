"""The officers' dashboard: sign-in, roles, CSRF on every form, and the pages under /dashboard/."""
from __future__ import annotations

from datetime import timedelta

from flask import Flask
from flask_wtf.csrf import CSRFProtect

csrf = CSRFProtect()


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
        home,
        outreach,
        results,
        segment_builder,
    )
    from dashboard.blueprint import bp, login_bp
    from dashboard.i18n import install_jinja_i18n

    # Checked by our blueprints' before_request, not app-wide: provider webhooks and the JSON
    # API authenticate by signature and token, and a CSRF check would refuse them.
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", 8 * 3600)
    app.config.setdefault("PERMANENT_SESSION_LIFETIME", timedelta(hours=8))
    csrf.init_app(app)
    install_jinja_i18n(app)
    _install_template_helpers(app, services)
    app.register_blueprint(login_bp)
    app.register_blueprint(bp)


def _install_template_helpers(app: Flask, services) -> None:
    from zoneinfo import ZoneInfo

    from engage.officers import may

    zone = ZoneInfo(services.settings.timezone)

    def localtime(value) -> str:
        """Show a stored UTC time in the council's time zone, British style."""
        if value is None:
            return ""
        return value.astimezone(zone).strftime("%d %b %Y %H:%M")

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

    app.jinja_env.globals["may"] = may
    app.jinja_env.filters["language_name"] = language_name
    app.jinja_env.filters["localtime"] = localtime
    app.jinja_env.filters["duration"] = duration
    app.jinja_env.globals.setdefault("council_name", services.settings.council_name)
