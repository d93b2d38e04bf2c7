"""The public "you said, we did" page: what residents said, what the council did, and why; no personal data."""
from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, render_template, request
from sqlalchemy.orm import Session

from engage.updates import PARTS, WE_DID, WHY, YOU_SAID, newsletter_text, published_updates
from locales import i18n
from locales.languages import BASE_LANGUAGE, CODES, supported_code
from store.models.outreach import Update

bp = Blueprint("public", __name__)
# Already in the catalogs (the dashboard uses it), so looked up rather than marked again here.
PAGE_TITLE = "You said, we did"


def _services():
    return current_app.extensions["outreach"]


def public_language(settings) -> str:
    """The page's language: ?lang= when we speak it, else Welsh in Wales mode, else the browser's, else English."""
    asked = supported_code(request.args.get("lang"))
    if asked:
        return asked
    if getattr(settings, "welsh_first", False):
        return "cy"
    return request.accept_languages.best_match(list(CODES)) or BASE_LANGUAGE


def _card(s: Session, update: Update, flow, lang: str) -> dict:
    """Return what the page shows of one update: aggregate numbers and the council's words only."""
    texts = update.texts.get(lang) or update.texts.get(flow.base_language if flow else "en") or {}
    base = update.texts.get(flow.base_language, {}) if flow else {}
    return {
        "id": update.id,
        "title": update.title or update.flow_id,
        "asked": update.asked,
        "answered": update.answered_count,
        "parts": {part: texts.get(part) or base.get(part, "") for part in PARTS},
        "published_at": update.published_at,
        "sent_at": update.sent_at,
        "info_url": flow.consultation.info_url if flow and flow.consultation else None,
        "languages": list(update.texts),
    }


@bp.get("/you-said-we-did")
def you_said_we_did():
    """List every published update, newest first, in the language asked for (?lang=cy)."""
    services = _services()
    lang = public_language(services.settings)
    with services.db.session() as s:
        cards = [_card(s, u, services.registry.get(u.flow_id), lang) for u in published_updates(s)]
    labels = {"title": i18n.gettext(lang, PAGE_TITLE), "said": i18n.gettext(lang, YOU_SAID),
              "did": i18n.gettext(lang, WE_DID), "why": i18n.gettext(lang, WHY)}
    return render_template("public/you_said_we_did.html", cards=cards, lang=lang, labels=labels,
                           council=services.settings.council_name)


@bp.get("/you-said-we-did/<int:update_id>.txt")
def newsletter(update_id: int):
    """Return one published update as newsletter-ready plain text."""
    services = _services()
    with services.db.session() as s:
        update = s.get(Update, update_id)
        flow = services.registry.get(update.flow_id) if update else None
        if update is None or update.published_at is None or flow is None:
            abort(404)
        body = newsletter_text(s, update, flow, request.args.get("lang"))
    return Response(body + "\n", mimetype="text/plain")


def init_public(app, services) -> None:
    """Register the public page."""
    app.register_blueprint(bp)
