"""The JSON API under /api/v1: token-authenticated, described by OpenAPI 3.1 at /api/v1/openapi.json."""
from __future__ import annotations


def init_app(app, services) -> None:
    """Register the API blueprint, its JSON error answers and its OpenAPI document."""
    from werkzeug.exceptions import HTTPException

    from api import contacts, flows, messages, openapi, results  # noqa: F401  (routes register on import)
    from api.http import ApiError, api_error_anywhere, bp, http_error

    extra_paths, extra_schemas = {}, {}
    try:
        from api import outreach
    except ImportError:  # the outreach capability is not part of this build
        outreach = None
    if outreach is not None:
        extra_paths, extra_schemas = outreach.SPEC_PATHS, outreach.SPEC_SCHEMAS
    app.extensions["outreach_api_spec"] = openapi.build_spec(extra_paths, extra_schemas)
    app.register_blueprint(bp)
    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(ApiError, api_error_anywhere)
