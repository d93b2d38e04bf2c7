"""The API blueprint and what every resource shares: token checks, JSON errors, cursor paging."""
from __future__ import annotations

import base64
import binascii
import functools
import re
from typing import Any

from flask import Blueprint, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException

bp = Blueprint("api", __name__, url_prefix="/api/v1")
PUBLIC_ENDPOINTS = {"api.openapi"}
MAX_ID = 2**31 - 1
DEFAULT_LIMIT, MAX_LIMIT = 50, 200


class ApiError(Exception):
    """An error answered as {"error": {"code", "message", "field"}}."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None, **extra: Any):
        super().__init__(message)
        self.status, self.code, self.message, self.field, self.extra = status, code, message, field, extra

    def response(self):
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field:
            body["field"] = self.field
        body.update(self.extra)
        response = jsonify(error=body)
        response.status_code = self.status
        if self.status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="outreach"'
        return response


def services():
    return current_app.extensions["outreach"]


def now():
    return services().clock.now()


def invalid(field: str, message: str, code: str = "invalid") -> ApiError:
    return ApiError(422, code, message, field)


def not_found(what: str) -> ApiError:
    return ApiError(404, "not_found", f"no such {what}")


@bp.before_request
def authenticate():
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "unauthorized", "send Authorization: Bearer <token>")
    from api.tokens import verify_api_token

    with services().db.session() as s:
        row = verify_api_token(s, token.strip(), now())
        if row is None:
            raise ApiError(401, "unauthorized", "the token is not valid or was revoked")
        g.api_token_id, g.api_scope, g.api_token_name = row.id, row.scope, row.name
    _refuse_unknown_query_parameters()
    return None


def _refuse_unknown_query_parameters() -> None:
    """Answer 422 for a query parameter the OpenAPI document does not list: a typo must not widen a query."""
    if request.url_rule is None:
        return
    path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", request.url_rule.rule)[len(bp.url_prefix):]
    item = current_app.extensions["outreach_api_spec"]["paths"].get(path)
    operation = (item or {}).get(request.method.lower())
    if operation is None:
        return
    known = {p["name"] for p in item.get("parameters", []) + operation.get("parameters", []) if p["in"] == "query"}
    for name in request.args:
        if name not in known:
            raise invalid(name, f"unknown query parameter '{name}'"
                          + (f"; this call takes {', '.join(sorted(known))}" if known else ""))


def needs(scope: str):
    """Refuse the call unless the token has this scope (write includes read)."""

    def decorate(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            if scope == "write" and g.get("api_scope") != "write":
                raise ApiError(403, "forbidden", "this needs a token with the write scope")
            return view(*args, **kwargs)

        return wrapper

    return decorate


def token_actor() -> str:
    """The calling token as the audit log names it."""
    return f"API token “{g.get('api_token_name')}” (#{g.get('api_token_id')})"


def audit(s, action: str, *, target_type: str | None = None, target_id: Any = None,
          detail: dict[str, Any] | None = None, summary: str | None = None) -> None:
    """Write one audit line for this call (every write and every bulk read of personal data), in `s`'s transaction."""
    from engage.officers import record

    record(s, None, action, now(), target_type=target_type, target_id=target_id,
           detail={**(detail or {}), "api_token_id": g.get("api_token_id")},
           summary=summary, ip=request.remote_addr, actor=token_actor())


def json_body() -> dict[str, Any]:
    """Return the request's JSON object or raise a clear error."""
    data = request.get_json(silent=True, force=False)
    if data is None:
        raise ApiError(400, "bad_request", "send a JSON object with Content-Type: application/json", "body")
    if not isinstance(data, dict):
        raise invalid("body", "the body must be a JSON object")
    return data


def check_id(value: int, field: str) -> int:
    if not 1 <= value <= MAX_ID:
        raise ApiError(404, "not_found", f"no such {field}")
    return value


def page_args() -> tuple[int, int]:
    """Return (limit, last id seen) from ?limit= and ?cursor=."""
    raw_limit = request.args.get("limit", str(DEFAULT_LIMIT))
    try:
        limit = int(raw_limit)
    except ValueError:
        raise invalid("limit", "limit must be a whole number") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise invalid("limit", f"limit must be between 1 and {MAX_LIMIT}")
    cursor = request.args.get("cursor")
    return limit, decode_cursor(cursor) if cursor else 0


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"id:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, value = text.partition(":")
        last = int(value)
        if kind != "id" or not 0 <= last <= MAX_ID:
            raise ValueError
        return last
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise invalid("cursor", "the cursor is not one this API gave out") from None


def page(items: list, limit: int, as_dict) -> dict[str, Any]:
    """Shape one page: items asked for limit + 1 so we know whether there is more."""
    more = len(items) > limit
    items = items[:limit]
    return {"data": [as_dict(i) for i in items], "next_cursor": encode_cursor(items[-1].id) if more else None}


def text_arg(name: str, max_length: int = 200) -> str | None:
    value = request.args.get(name)
    if value is None:
        return None
    if "\x00" in value or len(value) > max_length:
        raise invalid(name, f"{name} must be text of at most {max_length} characters")
    return value


@bp.errorhandler(ApiError)
def api_error(error: ApiError):
    return error.response()


def http_error(error: HTTPException):
    """Answer HTTP errors under /api/ as JSON; leave other paths to Flask's own pages."""
    if not request.path.startswith(bp.url_prefix + "/") and request.path != bp.url_prefix:
        return error
    code = {404: "not_found", 405: "method_not_allowed", 413: "too_large", 415: "unsupported_media_type",
            400: "bad_request"}.get(error.code or 500, "error")
    return ApiError(error.code or 500, code, error.description or error.name).response()


def api_error_anywhere(error: ApiError):
    return error.response()
