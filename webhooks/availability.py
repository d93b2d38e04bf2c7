"""When the database cannot be reached in time: webhooks answer 503 so the provider retries.

A provider waits a limited time for a webhook's answer (Twilio 15 s) and retries a 5xx. A webhook stores
what it was sent under `OUTREACH_WEBHOOK_TIMEOUT` (default 8 s): a hung, locked or unreachable database
gives a prompt 503 with Retry-After, never a hang and never a 200 for something not stored. Any other
request that meets a database error that says "unavailable" (timeouts, refused connections, a full pool)
gets 503 too rather than 500.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, current_app, jsonify, request
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import ServiceUnavailable

from store.deadline import DeadlineExceeded, call_within

log = logging.getLogger(__name__)
T = TypeVar("T")
RETRY_AFTER_SECONDS = 30
UNAVAILABLE = (DeadlineExceeded, OperationalError, InterfaceError, PoolTimeout)


class StoreUnavailable(Exception):
    """The database could not store what a webhook was sent, in time."""


def store_in_time(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a webhook's store step within the webhook timeout; raise StoreUnavailable if the database fails it."""
    seconds = current_app.extensions["outreach"].settings.webhook_timeout
    try:
        return call_within(seconds, fn, *args, **kwargs)
    except UNAVAILABLE as exc:
        raise StoreUnavailable(type(exc).__name__) from exc


def _unavailable(exc: Exception):
    # The reason by class only: a driver's message can hold the database URL.
    log.warning("%s %s answered 503: the database is unavailable (%s)", request.method, request.path,
                str(exc) if isinstance(exc, StoreUnavailable) else type(exc).__name__)
    if request.path.startswith(("/webhooks/", "/api/")):
        response = jsonify(error="the service cannot reach its database; try again shortly")
        response.status_code = 503
    else:
        response = ServiceUnavailable().get_response()
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def init_availability(app: Flask) -> None:
    """Answer 503 (with Retry-After) for every request the database fails by being unavailable."""
    for error in (StoreUnavailable, *UNAVAILABLE):
        app.register_error_handler(error, _unavailable)
