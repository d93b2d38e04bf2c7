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
from locales import i18n, languages

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


def _api_url(flow_id: str, preview: bool) -> str:
    return url_for("webchat.api_messages", flow_id=flow_id, **({"preview": "1"} if preview else {}))


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


def _page(flow, token: str, preview: bool, *, status: int = 200, error: str | None = None, draft: str = ""):
    view = _read_view(token, flow.id)
    lang = _page_language(flow, view)
    html = render_template(
        "webchat/chat.html", flow=flow, view=view, lang=lang, title=flow.title_in(lang) or flow.id,
        dir=languages.direction(lang), preview=preview,
        error=error, draft=draft, message_id=str(uuid.uuid4()), csrf_token=generate_csrf(),
        languages=languages.LANGUAGES, t=lambda message, **kw: i18n.gettext(lang, message, **kw),
        chat_url=_chat_url(flow.id, preview), api_url=_api_url(flow.id, preview), restart_id=str(uuid.uuid4()),
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
    """Show the chat; the first visit starts the flow so the first question is in the page as served."""
    flow = _services().registry.get(flow_id)
    if flow is None:
        # A poster's keyword works as a link too: /chat/DIOGEL opens street-safety in Welsh.
        flow = _services().registry.by_keyword(flow_id) or abort(404)
        lang = _services().registry.keyword_language(flow_id) or request.args.get("lang")
        return redirect(_chat_url(flow.id, _preview_requested(), **({"lang": lang} if lang else {})), code=303)
    preview = _preview_requested()
    token = _session_token() or webchat.new_session_token()
    view = _read_view(token, flow.id)
    if not view.has_run:
        lang = _page_language(flow, view)
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
    return _page(flow, token, preview)


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
    view = _read_view(token, flow.id)
    lang = _page_language(flow, view)
    t = lambda message, **kw: i18n.gettext(lang, message, **kw)  # noqa: E731 - the templates' `t`
    new = [e for e in view.entries if e.author == "council" and e.id > after]
    return {
        "messages": [e.as_json() for e in new],
        "messages_html": "".join(render_template("webchat/_entry.html", entry=e, t=t) for e in new),
        "question": view.open_question,
        "form_html": render_template("webchat/_answer.html", flow=flow, view=view, t=t, preview=preview,
                                     message_id=str(uuid.uuid4()), csrf_token=generate_csrf(),
                                     chat_url=_chat_url(flow.id, preview), api_url=_api_url(flow.id, preview),
                                     restart_id=str(uuid.uuid4()), draft="", error=None),
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
    status, error, created = _accept(flow, token, preview, form)
    if error is not None:
        return jsonify(error=error), status
    state = _api_state(flow, token, _after_param(body.get("after")), preview)
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
