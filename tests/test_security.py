"""Safe to deploy: the secret key, what counts as a laptop setup, and the security headers on every page."""
from __future__ import annotations

import hashlib
import os
import re
import stat
import subprocess
import sys

import pytest
from flask.json.tag import TaggedJSONSerializer
from itsdangerous import URLSafeTimedSerializer

import security
from engage.officers import create_officer
from tests.conftest import ROOT
from tests.support.dashboard import cheap_password_hashing

_cheap = pytest.fixture(autouse=True)(cheap_password_hashing)

PASSWORD = "a long enough password"
LAPTOP = {"listen_host": "127.0.0.1", "public_url": "http://127.0.0.1:5000"}
TWILIO = {"twilio_account_sid": "AC" + "1" * 32, "twilio_auth_token": "f" * 32, "twilio_from": "+447700900000"}


@pytest.fixture
def no_key_config(app_config, tmp_path):
    """The test settings as an operator who never set OUTREACH_SECRET_KEY would have them."""
    config = {k: v for k, v in app_config.items() if k != "secret_key"}
    return {**config, **LAPTOP, "instance_path": str(tmp_path / "instance")}


def build(config):
    from app import create_app

    return create_app(config)


def forged_cookie(key: str, data: dict) -> str:
    """A session cookie signed the way Flask signs one, with the given key."""
    serializer = URLSafeTimedSerializer(key, salt="cookie-session", serializer=TaggedJSONSerializer(),
                                        signer_kwargs={"key_derivation": "hmac", "digest_method": hashlib.sha1})
    return serializer.dumps(data)


# ----- the secret key ---------------------------------------------------------------------------------


def test_a_cookie_forged_with_the_published_key_reaches_nothing(no_key_config, db, clock):
    app = build(no_key_config)
    with db.session() as s:
        admin = create_officer(s, "admin@harlow.gov.uk", PASSWORD, "admin", now=clock.now())
        s.flush()
        admin_id = admin.id
    stamp = clock.now().isoformat()
    client = app.test_client()
    client.set_cookie("session", forged_cookie("dev-only-change-me", {
        "officer_id": admin_id, "epoch": 0, "signed_in_at": stamp, "last_seen_at": stamp, "_permanent": True}))
    response = client.get("/dashboard/accounts")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert app.secret_key != "dev-only-change-me"


def test_on_a_laptop_a_key_is_made_once_and_kept_in_the_instance_folder(no_key_config, tmp_path):
    first = build(no_key_config).secret_key
    again = build(no_key_config).secret_key
    path = tmp_path / "instance" / "secret_key"
    assert first == again == path.read_text().strip()
    assert len(first.encode()) >= security.MIN_SECRET_KEY_BYTES and first not in security.KNOWN_KEYS
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    other = build({**no_key_config, "instance_path": str(tmp_path / "elsewhere")}).secret_key
    assert other != first


def test_a_laptop_session_survives_a_restart(no_key_config, db, clock):
    with db.session() as s:
        create_officer(s, "viewer@harlow.gov.uk", PASSWORD, "viewer", now=clock.now())
    client = build(no_key_config).test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    assert client.post("/login", data={"email": "viewer@harlow.gov.uk", "password": PASSWORD,
                                       "csrf_token": token}).status_code == 302
    restarted = build(no_key_config).test_client()
    restarted.set_cookie("session", client.get_cookie("session").value)
    assert restarted.get("/dashboard/").status_code == 200


@pytest.mark.parametrize("setting,reason", [
    (TWILIO, "OUTREACH_TWILIO_ACCOUNT_SID, OUTREACH_TWILIO_AUTH_TOKEN set"),
    ({"telegram_token": "123:abc"}, "OUTREACH_TELEGRAM_TOKEN set"),
    ({"mode": "scaled"}, "scaled mode"),
    ({"listen_host": "0.0.0.0"}, "listening on 0.0.0.0"),
    ({"public_url": "https://outreach.harlow.example"}, "an https OUTREACH_PUBLIC_URL"),
    ({"public_url": "http://outreach.harlow.example"}, "OUTREACH_PUBLIC_URL on outreach.harlow.example"),
])
def test_anywhere_but_a_laptop_no_key_means_no_start(no_key_config, tmp_path, setting, reason):
    with pytest.raises(security.InsecureConfiguration) as refused:
        build({**no_key_config, **setting})
    message = str(refused.value)
    assert "OUTREACH_SECRET_KEY is not set" in message and reason in message
    assert 'python -c "import secrets; print(secrets.token_urlsafe(48))"' in message
    assert not (tmp_path / "instance" / "secret_key").exists()


@pytest.mark.parametrize("key,problem", [
    ("dev-only-change-me", "a published example key"),
    ("short-but-set", "shorter than 32 bytes"),
])
def test_a_weak_key_is_refused_even_on_a_laptop(no_key_config, key, problem):
    with pytest.raises(security.InsecureConfiguration, match=problem):
        build({**no_key_config, "secret_key": key})
    with pytest.raises(security.InsecureConfiguration, match=problem):
        build({**no_key_config, **TWILIO, "secret_key": key})


def test_a_strong_key_is_used_as_given(no_key_config):
    key = "k" * 32
    assert build({**no_key_config, **TWILIO, "secret_key": key}).secret_key == key


@pytest.mark.parametrize("command", [["serve", "--port", "0"], ["worker"], ["scheduler"]])
def test_the_command_line_refuses_to_start_with_twilio_credentials_and_no_key(tmp_path, command):
    """The real command line, as an operator would run it: a clear message and exit status 1."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OUTREACH_")}
    env.update({"OUTREACH_DATABASE_URL": f"sqlite:///{tmp_path / 'outreach.sqlite3'}",
                "OUTREACH_TWILIO_ACCOUNT_SID": TWILIO["twilio_account_sid"],
                "OUTREACH_TWILIO_AUTH_TOKEN": TWILIO["twilio_auth_token"],
                "OUTREACH_TWILIO_FROM": TWILIO["twilio_from"]})
    try:
        done = subprocess.run([sys.executable, str(ROOT / "app.py"), *command], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail(f"`app.py {command[0]}` started without a secret key")
    assert done.returncode == 1
    assert "Error: Outreach will not start: OUTREACH_SECRET_KEY is not set" in done.stderr
    assert "secrets.token_urlsafe(48)" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "outreach.sqlite3").exists()


def test_helpers_for_the_deployment_check():
    from config import Settings

    laptop = Settings(**LAPTOP)
    assert security.exposure_reasons(laptop) == [] and security.sandbox_enabled(laptop)
    assert security.secret_key_problem(laptop) == "OUTREACH_SECRET_KEY is not set"
    assert security.secret_key_problem(Settings(secret_key="x" * 48)) is None
    under_gunicorn = Settings(public_url="http://127.0.0.1:5000")
    assert not security.sandbox_enabled(under_gunicorn)
    assert security.is_loopback("::1") and security.is_loopback("localhost") and not security.is_loopback("10.0.0.1")


# ----- headers ----------------------------------------------------------------------------------------


def csp(response) -> dict[str, str]:
    policy = response.headers["Content-Security-Policy"]
    return {part.split()[0]: part.strip() for part in policy.split(";") if part.strip()}


@pytest.fixture
def admin_client(client, db, clock):
    return sign_in(client, db, clock)


@pytest.mark.parametrize("path", ["/login", "/dashboard/", "/dashboard/flows/street-safety",
                                  "/dashboard/results/street-safety", "/dashboard/accounts", "/dashboard/password",
                                  "/you-said-we-did", "/chat/street-safety", "/healthz", "/api/v1/openapi.json",
                                  "/no-such-page"])
def test_every_page_has_a_content_security_policy_without_inline_scripts(admin_client, path):
    response = admin_client.get(path)
    policy = csp(response)
    assert policy["script-src"] == "script-src 'self'"
    assert "'unsafe-inline'" not in response.headers["Content-Security-Policy"]
    assert "'unsafe-eval'" not in response.headers["Content-Security-Policy"]
    assert policy["object-src"] == "object-src 'none'"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    if response.mimetype == "text/html":
        body = response.get_data(as_text=True)
        assert not re.search(r"<script(?![^>]*\bsrc=)", body), "an inline script would be blocked"
        assert not re.search(r"\son[a-z]+=", body), "an inline event handler would be blocked"
        assert not re.search(r"\sstyle=", body), "an inline style attribute would be blocked"


def test_the_sign_in_page_may_not_be_framed(client):
    response = client.get("/login")
    assert csp(response)["frame-ancestors"] == "frame-ancestors 'none'"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_only_the_officers_preview_may_be_framed_and_the_flow_page_may_frame_it(admin_client):
    flow_page = admin_client.get("/dashboard/flows/street-safety")
    assert 'src="/chat/street-safety?preview=1"' in flow_page.get_data(as_text=True)
    assert csp(flow_page)["frame-src"] == "frame-src 'self'"
    assert csp(flow_page)["frame-ancestors"] == "frame-ancestors 'none'"
    preview = admin_client.get("/chat/street-safety?preview=1")
    assert csp(preview)["frame-ancestors"] == "frame-ancestors 'self'"
    assert preview.headers["X-Frame-Options"] == "SAMEORIGIN"


def sign_in(client, db, clock):
    with db.session() as s:
        create_officer(s, "admin@harlow.gov.uk", PASSWORD, "admin", now=clock.now())
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    assert client.post("/login", data={"email": "admin@harlow.gov.uk", "password": PASSWORD,
                                       "csrf_token": token}).status_code == 302
    return client


def test_inline_styles_carry_the_nonce_of_their_own_response(app_config, db, clock):
    # The sandbox page (a laptop setup) keeps its styles inline; the public pages use stylesheets only.
    browser = sign_in(build({**app_config, "sandbox": True, **LAPTOP}).test_client(), db, clock)
    first, second = browser.get("/sandbox/"), browser.get("/sandbox/")
    nonces = []
    for response in (first, second):
        assert response.status_code == 200
        nonce = re.search(r"'nonce-([^']+)'", csp(response)["style-src"]).group(1)
        assert f'<style nonce="{nonce}">' in response.get_data(as_text=True)
        nonces.append(nonce)
    assert nonces[0] != nonces[1]
    for path in ("/sandbox/", "/", "/you-said-we-did", "/accessibility", "/chat/street-safety", "/login",
                 "/dashboard/", "/dashboard/flows/street-safety"):
        response = browser.get(path)
        allowed = re.findall(r"'nonce-([^']+)'", csp(response)["style-src"])
        for tag in re.findall(r"<style\b[^>]*>", response.get_data(as_text=True)):
            assert re.search(r'nonce="([^"]+)"', tag) and re.search(r'nonce="([^"]+)"', tag).group(1) in allowed, \
                f"{path}: {tag} would be blocked"


def test_hsts_only_when_served_over_https(app_config, client):
    from app import create_app

    assert "Strict-Transport-Security" not in client.get("/login").headers
    https_app = create_app({**app_config, "public_url": "https://outreach.harlow.example"})
    for path in ("/login", "/chat/street-safety", "/healthz"):
        assert https_app.test_client().get(path).headers["Strict-Transport-Security"].startswith("max-age=31536000")

