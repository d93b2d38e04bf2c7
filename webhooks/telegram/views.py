"""POST /webhooks/telegram: check the secret, store the update, answer 200, then act on it."""
from __future__ import annotations

import hmac
import logging

from flask import Blueprint, current_app, jsonify, request

from webhooks.availability import store_in_time
from webhooks.telegram.updates import (
    MalformedUpdate,
    UnknownUpdate,
    accept_update,
    button_answer_for,
    finish_update,
)

log = logging.getLogger(__name__)

bp = Blueprint("telegram_webhook", __name__)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


def _services():
    return current_app.extensions["outreach"]


def secret_matches(configured: str, presented: str | None) -> bool:
    """Return True only when a secret is configured and the request presents exactly it."""
    if not configured or presented is None:
        return False
    return hmac.compare_digest(configured.encode("utf-8"), presented.encode("utf-8"))


@bp.post("/webhooks/telegram")
def receive():
    """Store a Bot API Update and acknowledge it; processing happens after the response."""
    services = _services()
    if not secret_matches(services.settings.telegram_secret, request.headers.get(SECRET_HEADER)):
        return jsonify(error="forbidden"), 403
    update = request.get_json(silent=True)
    try:
        accepted = store_in_time(accept_update, services, update)
    except MalformedUpdate as exc:
        return jsonify(error=str(exc)), 400
    except UnknownUpdate as exc:
        # Named without the body: it may hold a resident's name or words.
        log.warning("ignoring %s", exc)
        return jsonify(ok=True, ignored=exc.update_type)
    channel = services.extras.get("telegram")
    # A button press is answered in this response (Telegram makes the call for us), so the resident's
    # spinner stops at once and the web makes one Bot API call fewer.
    answer = button_answer_for(accepted)

    def after_response() -> None:
        try:
            finish_update(services, accepted, channel, button_answered=answer is not None)
        except Exception:
            # The row stays pending; the inbound sweep tries it again.
            log.exception("acting on Telegram update %s failed", accepted.classified.update_id)

    if current_app.testing:
        after_response()
        return jsonify(answer or {"ok": True})
    response = jsonify(answer or {"ok": True})
    # Runs once the answer has gone back to Telegram; the inbound sweep retries anything left pending.
    response.call_on_close(after_response)
    return response
