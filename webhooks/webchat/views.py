"""The residents' web chat at /chat/<flow_id>: plain forms that work without JavaScript, and a small JSON API.

Every answer is stored with `store_inbound("web", <message uuid>, <session token>, ...)`
before anything else, so a double submit of the same form stores nothing new.
Replies reach the page through the outbox and the same sender (and consent
check) as every other channel.
"""
from __future__ import annotations

import logging
import uuid
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_wtf.csrf import generate_csrf, validate_csrf
from itsdangerous import BadSignature, URLSafeSerializer
from wtforms.validators import ValidationError

from bot import webchat
from bot.render import render_web
from engage.first_question import first_message
from locales import i18n, languages
from webhooks.webchat import limits

log = logging.getLogger(__name__)

bp = Blueprint("webchat", __name__, template_folder="templates", static_folder="static",
               static_url_path="/chat/_static")

COOKIE = "outreach_chat"
COOKIE_DAYS = 30
# A page left open all day still posts: the token lives as long as the chat cookie's day.
CSRF_TIME_LIMIT = 24 * 3600

_ = i18n.N_
ERROR_EMPTY = _("Please type an answer or choose one of the buttons.")
ERROR_TOO_LONG = _("Please keep your message under %(max)s characters.")
ERROR_EXPIRED = _("This page had been open a long time, so your message was not sent. Please send it again.")
ERROR_TOO_MANY = _("Too many new chats have been started from your connection. Please wait a minute and send "
                   "your answer again.")


def _services():
    return current_app.extensions["outreach"]


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="webchat-session")


def _session_token() -> str | None:
    raw = request.cookies.get(COOKIE)
    if not raw:
        return None
    try:
        token = _serializer().loads(raw)
    except BadSignature:
        return None
    return token if isinstance(token, str) and token else None


def _with_cookie(response, token: str):
    response.set_cookie(COOKIE, _serializer().dumps(token), max_age=COOKIE_DAYS * 86400, httponly=True,
                        samesite="Lax", path="/chat",
                        secure=request.is_secure or current_app.config.get("SESSION_COOKIE_SECURE", False))
    return response


def _flow_or_404(flow_id: str):
    flow = _services().registry.get(flow_id)
    if flow is None:
        abort(404)
    return flow


def _preview_requested() -> bool:
    """Honour ?preview=1 only for a signed-in officer: preview ignores the consultation's dates."""
    if request.args.get("preview") != "1":
        return False
    from engage import officer_sessions

    token = session.get("sid")
    if token is None:
        return False
    # The dashboard's own check: an ended or timed-out session previews nothing.
    services = _services()
    with services.db.session() as s:
        return officer_sessions.check(s, token, now=services.clock.now()).officer is not None


def _wales_first(flow) -> bool:
    """Wales mode (OUTREACH_WELSH_FIRST): a resident whose language is unknown meets Welsh first."""
    return bool(getattr(_services().settings, "welsh_first", False)) and "cy" in flow.languages


def _page_language(flow, view: webchat.ChatView | None) -> str:
    asked = languages.supported_code(request.args.get("lang"))
    if asked:
        return asked
    if view is not None and view.contact_language:
        return view.contact_language
    if _wales_first(flow):
        return "cy"
    best = request.accept_languages.best_match(list(flow.languages))
    return best or flow.languages[0]


def _chat_url(flow_id: str, preview: bool, **extra) -> str:
    args = dict(extra)
    if preview:
        args["preview"] = "1"
    return url_for("webchat.chat", flow_id=flow_id, **args)


def _lang_arg() -> dict[str, str]:
    """Keep a chosen ?lang= on the answer form, so a first answer starts the run in that language."""
    code = languages.supported_code(request.args.get("lang"))
    return {"lang": code} if code else {}


def _api_url(flow_id: str, preview: bool) -> str:
    # The script's answers carry the chosen ?lang= too, so a first answer starts the run in it.
    return url_for("webchat.api_messages", flow_id=flow_id, **({"preview": "1"} if preview else {}), **_lang_arg())


def _store_and_process(token: str, message_id: str, text: str | None, payload: dict[str, Any]) -> bool:
    """Store one message from the page, process it, and deliver the replies; return True when it was new."""
    services = _services()
    row_id, created = services.conversations.store_inbound(webchat.CHANNEL, message_id, token, text, payload)
    if created:
        services.conversations.process_inbound(row_id)
    _deliver(services)
    return created


def _deliver(services) -> None:
    """Send the web chat's queued rows now, through the sender, so the next page view shows them."""
    from bot.ratelimit import RateLimiter
    from bot.sender import OutboxSender

    channel = (services.extras.get("channels") or {}).get(webchat.CHANNEL) or webchat.WebChatChannel()
    OutboxSender.from_services(services, {webchat.CHANNEL: channel}, limiter=RateLimiter({})).drain(max_batches=5)


def _read_view(token: str, flow_id: str) -> webchat.ChatView:
    with _services().db.session() as s:
        return webchat.chat_view(s, token, flow_id)


def _shown_view(flow, token: str, preview: bool) -> webchat.ChatView:
    """The session's transcript; before its first answer, the flow's first message, worked out unstored."""
    view = _read_view(token, flow.id)
    if not view.has_run:
        services = _services()
        now = services.clock.now()
        payload = first_message(flow, _page_language(flow, view), now, services.settings.timezone, preview=preview)
        lang = payload.get("lang")
        question = render_web(payload, lang) if payload.get("type") == "question" else None
        view.entries = [*view.entries, webchat.ChatEntry(0, "council", str(payload.get("text") or ""), lang, now,
                                                         question)]
        view.open_question = question
    return view


def _page(flow, token: str, preview: bool, *, status: int = 200, error: str | None = None, draft: str = ""):
    view = _shown_view(flow, token, preview)
    lang = _page_language(flow, view)
    html = render_template(
        "webchat/chat.html", flow=flow, view=view, lang=lang, title=flow.title_in(lang) or flow.id,
        dir=languages.direction(lang), preview=preview,
        error=error, draft=draft, message_id=str(uuid.uuid4()), csrf_token=generate_csrf(),
        languages=languages.LANGUAGES, t=lambda message, **kw: i18n.gettext(lang, message, **kw),
        chat_url=_chat_url(flow.id, preview, **_lang_arg()), api_url=_api_url(flow.id, preview),
        restart_id=str(uuid.uuid4()),
    )
    response = make_response(html, status)
    # Only an officer's preview may be framed, and only by our own dashboard.
    ancestors = "'self'" if preview else "'none'"
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        f"object-src 'none'; base-uri 'none'; frame-ancestors {ancestors}; form-action 'self'")
    response.headers["Cache-Control"] = "no-store"
    return _with_cookie(response, token)


@bp.get("/chat/<flow_id>")
def chat(flow_id: str):
    """Show the chat. A first visit stores nothing: the page shows the flow's first question, and the
    resident's first answer starts the run (so a visit that never answers leaves no rows)."""
    flow = _services().registry.get(flow_id)
    if flow is None:
        # A poster's keyword works as a link too: /chat/DIOGEL opens street-safety in Welsh.
        flow = _services().registry.by_keyword(flow_id) or abort(404)
        lang = _services().registry.keyword_language(flow_id) or request.args.get("lang")
        return redirect(_chat_url(flow.id, _preview_requested(), **({"lang": lang} if lang else {})), code=303)
    preview = _preview_requested()
    token = _session_token() or webchat.new_session_token()
    return _page(flow, token, preview)


def _new_chat_limit():
    services = _services()
    limit = services.extras.get("webchat_new_chat_limit")
    if limit is None:
        limit = services.extras.setdefault("webchat_new_chat_limit", limits.from_settings(services.settings))
    return limit


def _ensure_started(flow, token: str, preview: bool, lang: str) -> bool:
    """Start the flow for this session before its first answer; False when this client starts too many."""
    view = _read_view(token, flow.id)
    if view.has_run:
        return True
    services = _services()
    if not preview and not _new_chat_limit().allow(request.remote_addr, services.clock.now()):
        log.warning("web chat: too many new chats from one client address")
        return False
    payload: dict[str, Any] = {"start_flow": flow.id, "preview": preview}
    if languages.supported_code(request.args.get("lang")):
        # A link in a language (?lang=cy) is the resident's choice: the run starts in it and it is recorded.
        payload["start_lang"] = lang
    elif view.contact_language is None and _wales_first(flow):
        # Wales mode: Welsh first, without recording a preference the resident never gave.
        payload.update(start_lang=lang, start_lang_assumed=True)
    else:
        payload["language_hint"] = lang
    _store_and_process(token, webchat.start_message_id(token, flow.id), None, payload)
    return True


def _answer_from(form) -> tuple[str | None, dict[str, Any]]:
    """Return (text, payload) for a posted answer: a pressed button's value, ticked values, SKIP or typed text."""
    if form.get("skip"):
        return "SKIP", {}
    picked = [v for v in form.getlist("choices") if v]
    if picked:
        # The ticked options' exact values, as a button press would carry them.
        return ", ".join(picked), {"choice": picked}
    choice = form.get("choice")
    if choice:
        return choice, {"choice": choice}
    text = (form.get("text") or "").strip()
    return (text or None), {}


def _accept(flow, token: str, preview: bool, form) -> tuple[int, str | None, bool]:
    """Check and store one posted message; return (HTTP status, error words or None, whether it was new)."""
    # The language the page is shown in (the resident's own once known), kept with what they said.
    with _services().db.session() as s:
        known = webchat.ChatView(token=token, contact_language=webchat.contact_language(s, token))
    lang = _page_language(flow, known)
    try:
        validate_csrf(form.get("csrf_token"), time_limit=CSRF_TIME_LIMIT)
    except ValidationError:
        return 400, i18n.gettext(lang, ERROR_EXPIRED), False
    message_id = form.get("message_id")
    if not webchat.is_message_id(message_id):
        return 400, "message_id must be a UUID", False
    text, payload = _answer_from(form)
    if text is None and "choice" not in payload:
        return 400, i18n.gettext(lang, ERROR_EMPTY), False
    if text is not None and len(text) > webchat.MAX_TEXT:
        return 400, i18n.gettext(lang, ERROR_TOO_LONG, max=webchat.MAX_TEXT), False
    if not _ensure_started(flow, token, preview, lang):
        return 429, i18n.gettext(lang, ERROR_TOO_MANY), False
    if "choice" in payload:
        with _services().db.session() as s:
            shown = webchat.chat_view(s, token, flow.id).open_question
        values = payload["choice"] if isinstance(payload["choice"], list) else [payload["choice"]]
        text = ", ".join(webchat.label_for(shown, v) or v for v in values)
    payload.update(preview=preview, lang=lang)
    created = _store_and_process(token, str(message_id), text, payload)
    return 200, None, created


@bp.post("/chat/<flow_id>")
def answer(flow_id: str):
    """Take an answer from the plain form, then redirect back to the chat (post, redirect, get)."""
    flow = _flow_or_404(flow_id)
    preview = _preview_requested()
    token = _session_token()
    if token is None:
        # No session (cookies off or expired): start one rather than lose the resident.
        return redirect(_chat_url(flow.id, preview), code=303)
    status, error, _created = _accept(flow, token, preview, request.form)
    if error is not None:
        return _page(flow, token, preview, status=status, error=error, draft=request.form.get("text", ""))
    return redirect(_chat_url(flow.id, preview) + "#latest", code=303)


@bp.post("/chat/<flow_id>/language")
def change_language(flow_id: str):
    """Switch the resident's language and carry on in it."""
    flow = _flow_or_404(flow_id)
    preview = _preview_requested()
    token = _session_token()
    code = languages.supported_code(request.form.get("lang"))
    if token is None or code is None:
        return redirect(_chat_url(flow.id, preview), code=303)
    if not _read_view(token, flow.id).has_run:
        # Nothing stored yet: the page is shown in the new language and the first answer starts in it.
        return redirect(_chat_url(flow.id, preview, lang=code), code=303)
    try:
        validate_csrf(request.form.get("csrf_token"), time_limit=CSRF_TIME_LIMIT)
    except ValidationError:
        return redirect(_chat_url(flow.id, preview), code=303)
    # The open question is asked again in the new language (engage.language_choice.switch_to).
    _store_and_process(token, str(uuid.uuid4()), None, {"set_language": code, "preview": preview})
    return redirect(_chat_url(flow.id, preview, lang=code), code=303)


@bp.post("/chat/<flow_id>/restart")
def restart(flow_id: str):
    """Start the flow again from the first question (after it ended, or for an officer's preview)."""
    flow = _flow_or_404(flow_id)
    preview = _preview_requested()
    token = _session_token()
    if token is None:
        return redirect(_chat_url(flow.id, preview), code=303)
    try:
        validate_csrf(request.form.get("csrf_token"), time_limit=CSRF_TIME_LIMIT)
    except ValidationError:
        return redirect(_chat_url(flow.id, preview), code=303)
    message_id = request.form.get("message_id")
    if webchat.is_message_id(message_id):
        _store_and_process(token, str(message_id), None, {"start_flow": flow.id, "preview": preview})
    return redirect(_chat_url(flow.id, preview) + "#latest", code=303)


# ----- the JSON API the page's script uses ---------------------------------------------------------


def _api_state(flow, token: str, after: int, preview: bool) -> dict[str, Any]:
    view = _shown_view(flow, token, preview)
    lang = _page_language(flow, view)
    t = lambda message, **kw: i18n.gettext(lang, message, **kw)  # noqa: E731 - the templates' `t`
    new = [e for e in view.entries if e.author == "council" and e.id > after]
    return {
        "messages": [e.as_json() for e in new],
        "messages_html": "".join(render_template("webchat/_entry.html", entry=e, t=t) for e in new),
        "question": view.open_question,
        "form_html": render_template("webchat/_answer.html", flow=flow, view=view, t=t, preview=preview,
                                     message_id=str(uuid.uuid4()), csrf_token=generate_csrf(),
                                     chat_url=_chat_url(flow.id, preview, **_lang_arg()),
                                     api_url=_api_url(flow.id, preview), restart_id=str(uuid.uuid4()),
                                     draft="", error=None),
        "last_id": view.last_council_id,
    }


def _after_param(value: Any) -> int:
    try:
        return max(0, int(value or 0))
    except (TypeError, ValueError):
        abort(400, description="after must be a whole number")


@bp.get("/chat/<flow_id>/api/messages")
def api_messages(flow_id: str):
    """Return the council's messages after a given id, and the answer form for the open question."""
    flow = _flow_or_404(flow_id)
    token = _session_token()
    if token is None:
        return jsonify(error="no chat session; open the chat page first"), 401
    return jsonify(_api_state(flow, token, _after_param(request.args.get("after")), _preview_requested()))


@bp.post("/chat/<flow_id>/api/messages")
def api_post_message(flow_id: str):
    """Store a message sent by the page's script; answer with what is new since `after`."""
    flow = _flow_or_404(flow_id)
    preview = _preview_requested()
    token = _session_token()
    if token is None:
        return jsonify(error="no chat session; open the chat page first"), 401
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return jsonify(error="send a JSON object"), 400
    form = _JsonForm(body, request.headers.get("X-CSRFToken"))
    was_new = not _read_view(token, flow.id).has_run
    status, error, created = _accept(flow, token, preview, form)
    if error is not None:
        return jsonify(error=error), status
    after = _after_param(body.get("after"))
    if was_new:
        # The page already shows the opening question (worked out unstored): skip its stored copy.
        opening = [e.id for e in _read_view(token, flow.id).entries if e.author == "council" and e.id > after]
        after = min(opening) if opening else after
    state = _api_state(flow, token, after, preview)
    state["stored"] = created
    if created:
        # What the resident said, in the markup the page has after a reload ("You said:", lang, dir).
        state["own_html"] = _own_html(flow, token, str(body.get("message_id")))
    return jsonify(state)


def _own_html(flow, token: str, message_id: str) -> str:
    with _services().db.session() as s:
        entry = webchat.resident_entry_for(s, token, message_id)
    if entry is None:
        return ""
    lang = _page_language(flow, _read_view(token, flow.id))
    return render_template("webchat/_entry.html", entry=entry,
                           t=lambda message, **kw: i18n.gettext(lang, message, **kw))


class _JsonForm:
    """Lets the JSON API share the form's checks: the same field names, read from a JSON body."""

    def __init__(self, body: dict[str, Any], csrf_token: str | None):
        self.body = body
        self.csrf_token = csrf_token

    def get(self, name: str, default: Any = None) -> Any:
        if name == "csrf_token":
            return self.csrf_token
        value = self.body.get(name, default)
        return value if value is None or isinstance(value, str) else str(value)

    def getlist(self, name: str) -> list[str]:
        value = self.body.get(name) or []
        return [str(v) for v in value] if isinstance(value, list) else []
