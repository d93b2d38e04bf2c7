"""What a deployment must have before it starts: a strong secret key, and the sandbox only on a laptop.

The service counts as *exposed* (reachable by people other than the developer at the keyboard)
when any of these hold: scaled mode, a listening address that is not loopback, a public URL that
is https or names a host other than this machine, a trusted proxy in front, or any provider
credential. Exposed, it refuses to start without `OUTREACH_SECRET_KEY` of at least 32 bytes and
never runs the sandboxes. On a laptop (embedded mode, loopback, no credentials) a random key is
made once and kept in the instance folder, so restarting keeps officers signed in.

`python app.py check` and the documentation call `secret_key_problem`, `exposure_reasons` and
`sandbox_enabled`; `create_app` calls `resolve_secret_key`.
"""
from __future__ import annotations

import ipaddress
import logging
import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

MIN_SECRET_KEY_BYTES = 32
# Keys that have been published (in this source or its history): they never sign anything.
KNOWN_KEYS = frozenset({"dev-only-change-me", "change-me", "changeme", "secret", "test-secret", "development",
                        "dev", "fault-test", "your-secret-key"})
KEY_FILE = "secret_key"
HOW_TO_MAKE_A_KEY = ('make one with: python -c "import secrets; print(secrets.token_urlsafe(48))" '
                     "and set it as OUTREACH_SECRET_KEY (the same value in every web, worker and "
                     "scheduler process)")


class InsecureConfiguration(RuntimeError):
    """The settings would run the service unsafely; the message says what to change."""


def is_loopback(host: str | None) -> bool:
    """Return True for an address only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    host = (host or "").strip().strip("[]").lower()
    if not host:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def provider_credentials(settings) -> list[str]:
    """Return the names of the provider credential variables that are set."""
    names = ("twilio_account_sid", "twilio_auth_token", "twilio_messaging_service_sid",
             "telegram_token", "telegram_secret")
    return [f"OUTREACH_{name.upper()}" for name in names if getattr(settings, name, "")]


def exposure_reasons(settings) -> list[str]:
    """Return why the service counts as reachable by others (empty on a developer's laptop)."""
    reasons = []
    if settings.mode == "scaled":
        reasons.append("scaled mode")
    listen = settings.listen_host
    if listen and not is_loopback(listen):
        reasons.append(f"listening on {listen}")
    public = urlsplit(settings.public_url or "")
    if public.scheme == "https":
        reasons.append("an https OUTREACH_PUBLIC_URL")
    elif public.hostname and not is_loopback(public.hostname):
        reasons.append(f"OUTREACH_PUBLIC_URL on {public.hostname}")
    if settings.trusted_proxies:
        reasons.append("OUTREACH_TRUSTED_PROXIES set")
    credentials = provider_credentials(settings)
    if credentials:
        reasons.append(", ".join(credentials) + " set")
    return reasons


def secret_key_problem(settings) -> str | None:
    """Return what is wrong with the configured OUTREACH_SECRET_KEY, or None when it is strong."""
    key = settings.secret_key or ""
    if not key:
        return "OUTREACH_SECRET_KEY is not set"
    if key in KNOWN_KEYS:
        return "OUTREACH_SECRET_KEY is a published example key"
    if len(key.encode("utf-8")) < MIN_SECRET_KEY_BYTES:
        return f"OUTREACH_SECRET_KEY is shorter than {MIN_SECRET_KEY_BYTES} bytes"
    return None


def sandbox_enabled(settings) -> bool:
    """Return True when the local provider sandboxes may run: asked for, listening on loopback, not exposed."""
    return bool(settings.sandbox and is_loopback(settings.listen_host) and not exposure_reasons(settings))


def resolve_secret_key(settings, instance_path: str | os.PathLike) -> str:
    """Return the key that signs sessions and forms, or raise InsecureConfiguration.

    A configured key must be strong. With none, an exposed service refuses to start; on a laptop a
    random key is made once and kept in `<instance>/secret_key` (readable by its owner only).
    """
    problem = secret_key_problem(settings)
    if problem is None:
        return settings.secret_key
    if settings.secret_key or exposure_reasons(settings):
        where = exposure_reasons(settings)
        because = f" ({'; '.join(where)})" if where else ""
        raise InsecureConfiguration(f"Outreach will not start: {problem}{because}. A strong key is needed "
                                    f"to sign officers' sessions; {HOW_TO_MAKE_A_KEY}.")
    return _instance_key(Path(instance_path))


def _instance_key(folder: Path) -> str:
    """Read the laptop's generated key, making it first if there is none (safe when processes race)."""
    path = folder / KEY_FILE
    folder.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        # Written whole to a private file, then linked into place: a process starting at the same
        # moment either links first or reads a complete key, never half of one.
        key = secrets.token_urlsafe(48)
        draft = folder / f".{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(key + "\n")
            os.link(draft, path)
            log.info("Made a secret key for this laptop setup in %s (set OUTREACH_SECRET_KEY for a real "
                     "deployment)", path)
        except FileExistsError:
            pass
        finally:
            draft.unlink(missing_ok=True)
    key = path.read_text(encoding="utf-8").strip()
    if len(key.encode("utf-8")) < MIN_SECRET_KEY_BYTES:
        raise InsecureConfiguration(f"Outreach will not start: {path} holds a key shorter than "
                                    f"{MIN_SECRET_KEY_BYTES} bytes; delete the file to make a new one.")
    return key


# ----- what every response carries -------------------------------------------------------

# Scripts and styles come from our own static files only; the few inline <style> blocks carry the
# request's nonce. Pages that may be framed (the web chat's officer preview, shown inside the
# dashboard) set their own policy with frame-ancestors 'self'; everything else refuses framing.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'nonce-{nonce}'; img-src 'self' data:; "
    "connect-src 'self'; frame-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'")
HSTS = "max-age=31536000"


def csp_nonce() -> str:
    """Return this request's nonce for an inline <style> block (templates: nonce="{{ csp_nonce() }}")."""
    from flask import g

    nonce = g.get("csp_nonce")
    if nonce is None:
        nonce = g.csp_nonce = secrets.token_urlsafe(16)
    return nonce


def install(app, settings) -> None:
    """Read the client's address through the trusted proxies, and add the security headers to every response."""
    if settings.trusted_proxies:
        from werkzeug.middleware.proxy_fix import ProxyFix

        # Only the last N hops are believed: a client cannot forge its address past our own proxies.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.trusted_proxies, x_proto=settings.trusted_proxies)
    https = urlsplit(settings.public_url or "").scheme == "https"
    app.jinja_env.globals["csp_nonce"] = csp_nonce

    @app.after_request
    def _security_headers(response):
        from flask import request

        headers = response.headers
        if "Content-Security-Policy" not in headers:
            headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY.format(nonce=csp_nonce())
        framing = headers["Content-Security-Policy"]
        headers.setdefault("X-Frame-Options", "SAMEORIGIN" if "frame-ancestors 'self'" in framing else "DENY")
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "same-origin")
        if https or request.is_secure:
            headers.setdefault("Strict-Transport-Security", HSTS)
        return response
