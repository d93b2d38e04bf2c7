"""API tokens for admins: create one with a scope (shown once, kept only as a hash), list, revoke; audit-logged.

The tokens are `api.tokens`' own, the same the JSON API checks and
`python app.py contacts api-token ...` makes.
"""
from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, request, url_for

from api.tokens import create_api_token, list_api_tokens, revoke_api_token
from dashboard.blueprint import bp, client_ip, now, role_required, services
from dashboard.i18n import _gettext as _
from engage.officers import record
from store.models.contacts import API_SCOPES, ApiToken


def _page(new_token: str | None = None, error: str | None = None, status: int = 200):
    with services().db.session() as s:
        tokens = list_api_tokens(s)
        for row in tokens:
            s.expunge(row)
    response = render_template("dashboard/api_tokens.html", tokens=tokens, scopes=API_SCOPES, new_token=new_token,
                               error=error, form=request.form)
    # The new token is in this page only: never keep a copy anywhere.
    return response, status, {"Cache-Control": "no-store"}


@bp.get("/api-tokens")
@role_required("admin")
def api_tokens():
    """List the API tokens (never the tokens themselves)."""
    return _page()


@bp.post("/api-tokens")
@role_required("admin")
def api_token_create():
    """Create a token with a scope; it is shown on this page once and only its hash is kept."""
    name = (request.form.get("name") or "").strip()
    scope = request.form.get("scope", "")
    if scope not in API_SCOPES:
        return _page(error=_("Choose what the token may do: read, or read and write."), status=422)
    if not name:
        return _page(error=_("Give the token a name saying who or what uses it."), status=422)
    with services().db.session() as s:
        row, token = create_api_token(s, name, scope, now(), created_by=g.officer.email)
        record(s, g.officer, "api_token.created", now(), target_type="api_token", target_id=row.id,
               detail={"name": row.name, "scope": scope},
               summary=f"Created API token {row.id} “{row.name}” ({scope})", ip=client_ip())
    return _page(new_token=token)


@bp.post("/api-tokens/<int:token_id>/revoke")
@role_required("admin")
def api_token_revoke(token_id: int):
    """Revoke a token: calls made with it are refused from now on."""
    with services().db.session() as s:
        row = s.get(ApiToken, token_id)
        if row is None:
            abort(404)
        already = row.revoked_at is not None
        revoke_api_token(s, token_id, now())
        if not already:
            record(s, g.officer, "api_token.revoked", now(), target_type="api_token", target_id=token_id,
                   detail={"name": row.name, "scope": row.scope},
                   summary=f"Revoked API token {token_id} “{row.name}”", ip=client_ip())
    flash(_("Token revoked: calls made with it are refused from now on."), "success")
    return redirect(url_for("dashboard.api_tokens"))
