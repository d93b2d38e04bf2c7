"""The dashboard in the officer's language: Jinja's i18n extension fed from the Babel catalogs in locales/."""
from __future__ import annotations

from flask import Flask, g, has_app_context, request

from locales import i18n
from locales.languages import DASHBOARD_CODES


def dashboard_language() -> str:
    """Pick the officer's chosen language, else the browser's best match, else English."""
    if not has_app_context():
        return "en"  # outside a page (a command, a test calling a helper): the base language
    officer = g.get("officer")
    if officer is not None and officer.language in DASHBOARD_CODES:
        return officer.language
    if request:
        best = request.accept_languages.best_match(list(DASHBOARD_CODES))
        if best:
            return best
    return "en"


def _template_language() -> str:
    """The language templates translate into: a public page's reader's (set by the page), else the officer's."""
    return g.get("page_language") or dashboard_language()


def _gettext(message: str, **params) -> str:
    text = i18n.translations(_template_language()).gettext(message)
    return text % params if params else text


def _ngettext(singular: str, plural: str, n: int, **params) -> str:
    # Jinja's newstyle ngettext fills in %(num)s and the other variables itself.
    return i18n.translations(_template_language()).ngettext(singular, plural, n)


def install_jinja_i18n(app: Flask) -> None:
    """Give templates `_()`, `gettext()` and `ngettext()`: a public page's reader's language, else the officer's."""
    app.jinja_env.add_extension("jinja2.ext.i18n")
    # Jinja's new-style callables fill in the placeholders themselves (num and any others), so they get the
    # catalog's text unformatted; Python code calls _gettext/_ngettext, which format.
    app.jinja_env.install_gettext_callables(
        lambda message: i18n.translations(_template_language()).gettext(message),
        lambda singular, plural, n: i18n.translations(_template_language()).ngettext(singular, plural, n),
        newstyle=True)
    app.jinja_env.globals["dashboard_language"] = dashboard_language
