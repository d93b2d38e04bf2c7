"""The public front door: what the council is asking (`/`), published results, "you said, we did", accessibility.

Nothing here needs a sign-in and nothing here shows personal data: counts only, under one small-number rule.
Every page works without JavaScript, in every shipped language, right-to-left where the language is.
"""
from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, abort, current_app, g, render_template, request, send_file, url_for

from engage import branding, public_hub, ways
from engage.updates import (
    PARTS,
    WE_DID,
    WHY,
    YOU_SAID,
    newsletter_text,
    published_updates,
    update_asked,
    update_title,
)
from locales import i18n, languages
from store.models.outreach import Update

bp = Blueprint("public", __name__)
_ = i18n.N_
# Already in the catalogs (the dashboard uses it), so looked up rather than marked again here.
PAGE_TITLE = "You said, we did"
WAY_NAMES = {ways.WEBCHAT: _("Answer in your web browser"), ways.SMS: _("Send a text message"),
             ways.WHATSAPP: _("Answer on WhatsApp"), ways.TELEGRAM: _("Answer on Telegram")}


def _services():
    return current_app.extensions["outreach"]


def page_language() -> str:
    """Pick the reader's language: ?lang= first, then the browser's, then Welsh in Wales mode, else English."""
    chosen = languages.supported_code(request.args.get("lang"))
    if chosen:
        return chosen
    codes = [language.code for language in _ordered_languages()]
    best = request.accept_languages.best_match(codes)
    if best:
        return best
    return "cy" if _services().settings.welsh_first else languages.BASE_LANGUAGE


def _ordered_languages() -> list:
    """Every shipped language for the switcher; Welsh first in Wales mode."""
    listed = list(languages.LANGUAGES)
    if _services().settings.welsh_first:
        listed.sort(key=lambda language: language.code != "cy")
    return listed


def content_language(flow, lang: str) -> str:
    """Return the language a flow's own texts are shown in for a reader: theirs when the flow has it."""
    return lang if lang in flow.languages else flow.base_language


def _render(template: str, lang: str, **context):
    """Render a public page in a language: templates' _() and ngettext() translate into it."""
    g.page_language = lang
    services = _services()
    return render_template(
        template, lang=lang, dir=languages.direction(lang), page_languages=_ordered_languages(),
        council=services.settings.council_name, has_logo=bool(services.settings.council_logo),
        long_date=lambda value: languages.long_date(value, lang),
        content_lang=lambda flow: content_language(flow, lang), direction=languages.direction, **context)


def _keyword(flow, lang: str) -> str | None:
    """Return the keyword to show a reader: their language's, else the base language's."""
    found = flow.keywords_in(lang) or flow.keywords
    return found[0] if found else None


def _sms_number() -> str:
    services = _services()
    if services.settings.twilio_from:
        return services.settings.twilio_from
    if "twilio_sandbox" in services.extras:
        from bot.sandbox.twilio_server import SANDBOX_FROM

        return SANDBOX_FROM
    return ""


def _ways(flow, lang: str) -> list[ways.Way]:
    settings = _services().settings
    chat_url = url_for("webchat.chat", flow_id=flow.id, lang=lang, _external=True)
    return ways.ways_to_take_part(flow, chat_url=chat_url, keyword=_keyword(flow, lang), sms_number=_sms_number(),
                                  telegram_username=settings.telegram_bot_username,
                                  whatsapp_number=_whatsapp_number())


def _whatsapp_number() -> str:
    """The council's WhatsApp sender residents write to, when the WhatsApp channel is on."""
    services = _services()
    channel = (services.extras.get("channels") or {}).get("whatsapp")
    return getattr(channel, "from_number", "") if channel is not None else ""


def _purpose(flow, lang: str) -> str:
    consultation = flow.consultation
    if consultation is None:
        return flow.description
    if consultation.purpose_texts:
        return flow.text(consultation.purpose_texts, lang)
    return consultation.purpose


@bp.get("/")
def hub():
    """List the consultations open now with every way to take part, and the closed ones with their outcome."""
    services = _services()
    lang = page_language()
    tz, now = services.settings.timezone, services.clock.now()
    flows = services.registry.all()
    open_cards = []
    for flow in public_hub.open_consultations(flows, now, tz):
        open_cards.append({"flow": flow, "purpose": _purpose(flow, lang), "ways": _ways(flow, lang),
                           "days_left": public_hub.days_left(flow, now, tz),
                           "closes": flow.consultation.closes if flow.consultation else None})
    closed_cards = []
    with services.db.session() as s:
        for flow in public_hub.closed_consultations(flows, now, tz):
            update = public_hub.published_update(s, flow.id)
            if update is None:
                continue
            texts = update.texts.get(lang) or update.texts.get(flow.base_language) or {}
            closed_cards.append({
                "flow": flow, "purpose": _purpose(flow, lang), "closes": flow.consultation.closes,
                "parts": {part: texts.get(part, "") for part in PARTS},
                "respondents": public_hub.respondents(s, flow.id),
                "headline": next(iter(public_hub.public_questions(s, flow, lang)), None),
                "results": public_hub.results_are_public(s, flow, now, tz),
            })
    return _render("public/hub.html", lang, open_cards=open_cards, closed_cards=closed_cards,
                   way_names=WAY_NAMES)


@bp.get("/qr/<flow_id>/<kind>.svg")
def qr_code(flow_id: str, kind: str):
    """Serve the QR code of one way to take part in an open consultation, as SVG."""
    services = _services()
    flow = services.registry.get(flow_id)
    if flow is None or not public_hub.is_open(flow, services.clock.now(), services.settings.timezone):
        abort(404)
    lang = page_language()
    way = next((w for w in _ways(flow, lang) if w.kind == kind), None)
    if way is None:
        abort(404)
    title = i18n.gettext(lang, WAY_NAMES[kind])
    response = Response(ways.qr_svg(way.qr_content, title), mimetype="image/svg+xml")
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


def _public_flow_or_404(flow_id: str):
    services = _services()
    flow = services.registry.get(flow_id)
    if flow is None:
        abort(404)
    with services.db.session() as s:
        if not public_hub.results_are_public(s, flow, services.clock.now(), services.settings.timezone):
            abort(404)
    return flow


@bp.get("/results/<flow_id>")
@bp.get("/results/<flow_id>/<step_id>")
def results_page(flow_id: str, step_id: str | None = None):
    """Show a consultation's published results; /results/<flow>/<step> shares one question (its preview)."""
    services = _services()
    flow = _public_flow_or_404(flow_id)
    lang = page_language()
    with services.db.session() as s:
        questions = public_hub.public_questions(s, flow, lang)
        respondents = public_hub.respondents(s, flow.id)
        update = public_hub.published_update(s, flow.id)
        update_texts = None
        if update is not None:
            texts = update.texts.get(lang) or update.texts.get(flow.base_language) or {}
            update_texts = {part: texts.get(part, "") for part in PARTS}
    shared = next((q for q in questions if q.step_id == step_id), None)
    if step_id is not None and shared is None:
        abort(404)
    consultation = flow.consultation
    return _render("public/results.html", lang, flow=flow, purpose=_purpose(flow, lang), questions=questions,
                   respondents=respondents, shared=shared, update=update_texts,
                   opens=consultation.opens if consultation else None,
                   closes=consultation.closes if consultation else None,
                   labels={"said": YOU_SAID, "did": WE_DID, "why": WHY})


@bp.get("/accessibility")
def accessibility():
    """The accessibility statement, in the form UK public bodies publish it."""
    lang = page_language()
    return _render("public/accessibility.html", lang, contact=_services().settings.help_contact)


@bp.get("/council-logo")
def council_logo():
    """Serve the configured council logo (404 when none is configured)."""
    path = _services().settings.council_logo
    if not path or not Path(path).is_file():
        abort(404)
    return send_file(Path(path).resolve(), mimetype=branding.LOGO_TYPES.get(Path(path).suffix.lower()),
                     max_age=3600)


@bp.get("/public/brand.css")
def brand_css():
    """The council's colour as CSS custom properties (a file, so pages need no inline styles)."""
    colour = branding.brand_colour(_services().settings)
    body = f":root {{ --brand: {colour}; }}\n"
    response = Response(body, mimetype="text/css")
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@bp.get("/you-said-we-did")
def you_said_we_did():
    """List every published update, newest first, in the reader's language."""
    services = _services()
    lang = page_language()
    cards = []
    with services.db.session() as s:
        for update in published_updates(s):
            flow = services.registry.get(update.flow_id)
            texts = update.texts.get(lang) or update.texts.get(flow.base_language if flow else "en") or {}
            base = update.texts.get(flow.base_language, {}) if flow else {}
            cards.append({
                "id": update.id, "title": update_title(update, flow, lang),
                "asked": update_asked(update, flow, lang), "answered": update.answered_count,
                "parts": {part: texts.get(part) or base.get(part, "") for part in PARTS},
                "sent_at": update.sent_at,
                "info_url": flow.consultation.info_url if flow and flow.consultation else None,
                "results": bool(flow) and public_hub.results_are_public(
                    s, flow, services.clock.now(), services.settings.timezone),
                "flow_id": update.flow_id,
            })
    return _render("public/you_said_we_did.html", lang, cards=cards,
                   labels={"title": PAGE_TITLE, "said": YOU_SAID, "did": WE_DID, "why": WHY})


@bp.get("/you-said-we-did/<int:update_id>.txt")
def newsletter(update_id: int):
    """Return one published update as newsletter-ready plain text, in the language asked for."""
    services = _services()
    with services.db.session() as s:
        update = s.get(Update, update_id)
        flow = services.registry.get(update.flow_id) if update else None
        if update is None or update.published_at is None or flow is None:
            abort(404)
        lang = languages.supported_code(request.args.get("lang")) or flow.base_language
        body = newsletter_text(s, update, flow, lang, tz=services.settings.timezone)
    return Response(body + "\n", mimetype="text/plain")


def init_public(app, services) -> None:
    """Register the public pages."""
    app.register_blueprint(bp)
