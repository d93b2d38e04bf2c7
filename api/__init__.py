"""The JSON API under /api/v1: token-authenticated, described by OpenAPI 3.1 at /api/v1/openapi.json."""
from __future__ import annotations


def init_app(app, services) -> None:
    """Register the API blueprint, its JSON error answers and its OpenAPI document."""
    from werkzeug.exceptions import HTTPException

    from api import contacts, flows, messages, openapi, outreach, results  # noqa: F401  (routes register on import)
    from api.http import ApiError, api_error_anywhere, bp, http_error

    app.extensions["outreach_api_spec"] = openapi.build_spec({**outreach.SPEC_PATHS, **results.THEMES_PATHS},
                                                             {**outreach.SPEC_SCHEMAS, **results.THEMES_SCHEMAS})
    app.register_blueprint(bp)
    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(ApiError, api_error_anywhere)
