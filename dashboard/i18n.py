"""The dashboard in the officer's language: Jinja's i18n extension fed from the Babel catalogs in locales/."""
from __future__ import annotations

from flask import Flask, g, request

from locales import i18n
from locales.languages import DASHBOARD_CODES


def dashboard_language() -> str:
    """Pick the officer's chosen language, else the browser's best match, else English."""
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
    """Give templates `_()`, `gettext()` and `ngettext()` that translate into the officer's language."""
    app.jinja_env.add_extension("jinja2.ext.i18n")
    app.jinja_env.install_gettext_callables(_gettext, _ngettext, newstyle=True)
    app.jinja_env.globals["dashboard_language"] = dashboard_language
