"""`python app.py check`: every deployment setting that matters, one OK/WARN/FAIL line each, exit 1 on a
failure. Twilio and Telegram are asked through their real SDKs, pointed at the local fake servers."""
from __future__ import annotations

import os
from datetime import timedelta

import pytest

from bot.sandbox.telegram_server import FakeTelegram, TelegramServer
from bot.sandbox.twilio_server import FakeTwilio, TwilioServer
from commands.check import check
from store.models import OutboxMessage

PUBLIC_URL = "https://outreach.harlow.gov.uk"
ACCOUNT_SID = "AC" + "c0" * 16
AUTH_TOKEN = "0123456789abcdef" * 2
FROM = "+447700900777"
TOKEN = "424242:live-looking-token"
STRONG_KEY = "k" * 24 + "-harlow-deployment-key-2026"


@pytest.fixture
def fake_twilio():
    fake = FakeTwilio(ACCOUNT_SID, AUTH_TOKEN)
    fake.account["friendly_name"] = "Harlow Council"
    fake.add_number(FROM, sms_url=PUBLIC_URL + "/webhooks/twilio/sms")
    fake.add_number("+447700900888", sms_url="https://elsewhere.example/sms")
    with TwilioServer(fake) as server:
        yield server


@pytest.fixture
def fake_telegram():
    fake = FakeTelegram(token=TOKEN)
    fake.webhook = {"url": PUBLIC_URL + "/webhooks/telegram"}
    with TelegramServer(fake) as server:
        yield server


@pytest.fixture
def app_config(app_config, fake_twilio, fake_telegram):
    """A deployment done right: every check passes."""
    return {**app_config, "secret_key": STRONG_KEY, "public_url": PUBLIC_URL, "sandbox": False,
            "twilio_account_sid": ACCOUNT_SID, "twilio_auth_token": AUTH_TOKEN, "twilio_from": FROM,
            "twilio_api_url": fake_twilio.url, "telegram_token": TOKEN, "telegram_secret": "s" * 32,
            "telegram_api_url": fake_telegram.url, "council_name": "Harlow Council", "timezone": "Europe/London"}


def run_check(app_config, **changes):
    from click.testing import CliRunner

    from app import create_app
    from security import InsecureConfiguration

    settings = {**app_config, **changes}
    try:
        app = create_app(settings)
    except InsecureConfiguration:
        # The service refuses to start on these settings: the command says so and checks what the settings show.
        env = {f"OUTREACH_{k.upper()}": str(v) for k, v in settings.items() if isinstance(v, str | int | float)}
        env["OUTREACH_DATABASE_URL"] = app_config["database"].url
        result = CliRunner().invoke(check, [], env=env)
        app = None
    else:
        try:
            result = app.test_cli_runner().invoke(check, [])
        finally:
            if "database_url" in changes:
                app.extensions["outreach"].db.dispose()
    lines = {}
    for line in result.output.splitlines():
        status, _, rest = line.partition("  ")
        if status.strip() in ("OK", "WARN", "FAIL"):
            name, _, detail = rest.strip().partition(": ")
            lines.setdefault(name, []).append((status.strip(), detail))
    return result, lines


def status_of(lines, name):
    return [status for status, _ in lines[name]]


def test_a_deployment_done_right_passes_every_check(app_config):
    result, lines = run_check(app_config)
    assert result.exit_code == 0, result.output
    for name in ("secret key", "sandbox", "database", "public URL", "Twilio", "Twilio number", "Telegram webhook",
                 "time zone", "outbox", "council name", "Wales mode"):
        assert status_of(lines, name) == ["OK"], (name, result.output)
    assert "credentials accepted (account 'Harlow Council', active)" in result.output
    assert f"{FROM} sends incoming SMS to {PUBLIC_URL}/webhooks/twilio/sms" in result.output
    assert "Wales mode: off" in result.output
    assert "All checks passed" in result.output


@pytest.mark.parametrize("changes, name, expected", [
    ({"secret_key": "dev-only-change-me"}, "secret key", "publicly known"),
    ({"secret_key": "short-but-not-known"}, "secret key", "needs 32"),
    ({"secret_key": ""}, "secret key", "not set"),
    ({"public_url": "http://outreach.harlow.gov.uk"}, "public URL", "must be an https address"),
    ({"public_url": "https://127.0.0.1:5000"}, "public URL", "this machine only"),
    ({"council_name": "Your council"}, "council name", "residents would read that"),
    ({"twilio_auth_token": "f" * 32}, "Twilio", "refused the credentials (HTTP 401, error 20003)"),
    ({"twilio_from": "+447700900888"}, "Twilio number", "sends incoming SMS to https://elsewhere.example/sms"),
    ({"twilio_from": "+447700900999"}, "Twilio number", "is not a number of this account"),
    ({"twilio_from": ""}, "Twilio", "partly configured"),
    ({"telegram_token": "424242:wrong"}, "Telegram", "refused the token"),
    ({"telegram_secret": ""}, "Telegram", "OUTREACH_TELEGRAM_SECRET is not set"),
])
def test_each_unsafe_setting_is_a_failure_line_and_exit_1(app_config, changes, name, expected):
    result, lines = run_check(app_config, **changes)
    assert result.exit_code == 1, result.output
    assert any(status == "FAIL" and expected in detail for status, detail in lines[name]), result.output
    assert "not ready to run for real" in result.output


def test_a_broken_flow_file_is_a_failure_line_naming_its_line(app_config, tmp_path):
    import shutil

    from tests.conftest import LIBRARY

    folder = tmp_path / "flows"
    shutil.copytree(LIBRARY, folder)
    result, lines = run_check(app_config, flows_dir=str(folder))
    assert status_of(lines, "flows") == ["OK"], result.output
    path = folder / "street-safety.yaml"
    path.write_text(path.read_text().replace("  - id: where\n", "  - id: where\n    bogus_key: 1\n"))
    result, lines = run_check(app_config, flows_dir=str(folder))
    assert result.exit_code == 1
    [(status, detail)] = lines["flows"]
    assert status == "FAIL" and "street-safety.yaml, line" in detail and "bogus_key" in detail, detail


def test_asking_for_the_sandbox_with_real_credentials_leaves_it_off(app_config):
    result, lines = run_check(app_config, sandbox=True)
    assert lines["sandbox"] == [("OK", "off")], result.output


def test_telegram_sending_updates_elsewhere_fails_and_no_webhook_warns(app_config, fake_telegram):
    fake_telegram.fake.webhook = {"url": "https://old-server.example/webhooks/telegram"}
    result, lines = run_check(app_config)
    assert result.exit_code == 1
    assert status_of(lines, "Telegram webhook") == ["FAIL"]
    assert "https://old-server.example/webhooks/telegram" in result.output
    fake_telegram.fake.webhook = {}
    result, lines = run_check(app_config)
    assert result.exit_code == 0, result.output
    assert status_of(lines, "Telegram webhook") == ["WARN"]


def test_telegrams_last_delivery_error_is_a_warning(app_config, fake_telegram):
    fake_telegram.fake.webhook_error = (1796205600, "Wrong response from the webhook: 503 Service Unavailable")
    result, lines = run_check(app_config)
    assert result.exit_code == 0
    assert ("WARN", "Telegram's last delivery failed: Wrong response from the webhook: 503 Service Unavailable") \
        in lines["Telegram webhook"]


def test_a_stuck_outbox_fails_and_a_fresh_one_passes(app_config, db, clock):
    now = clock.now()
    with db.session() as s:
        s.add(OutboxMessage(channel="sms", kind="reply", payload={"type": "text", "text": "hi"}, status="queued",
                            created_at=now - timedelta(minutes=5), updated_at=now))
    result, lines = run_check(app_config)
    assert status_of(lines, "outbox") == ["OK"]
    assert "1 message(s) due, the oldest for 5 min" in result.output
    with db.session() as s:
        s.add(OutboxMessage(channel="sms", kind="reply", payload={"type": "text", "text": "hi"}, status="queued",
                            created_at=now - timedelta(hours=2), updated_at=now))
        # Held back by quiet hours until tomorrow: not stuck.
        s.add(OutboxMessage(channel="sms", kind="broadcast", payload={"type": "text", "text": "hi"}, status="queued",
                            created_at=now - timedelta(hours=20), not_before=now + timedelta(hours=10),
                            updated_at=now))
    result, lines = run_check(app_config)
    assert result.exit_code == 1
    assert status_of(lines, "outbox") == ["FAIL"]
    assert "2 message(s) due and not sent, the oldest for 120 min" in result.output


def test_an_unmigrated_database_fails(app_config, tmp_path):
    config = {k: v for k, v in app_config.items() if k != "database"}
    result, lines = run_check(config, database_url=f"sqlite:///{tmp_path / 'fresh.sqlite3'}")
    assert result.exit_code == 1
    assert status_of(lines, "database") == ["FAIL"]
    assert "not migrated" in result.output and "python app.py db upgrade" in result.output


def test_wales_mode_is_reported(app_config):
    result, lines = run_check(app_config, welsh_first=True)
    assert result.exit_code == 0
    assert lines["Wales mode"][0][1].startswith("on")


def test_without_providers_the_check_warns_and_says_so(app_config):
    result, lines = run_check(app_config, twilio_account_sid="", twilio_auth_token="", twilio_from="",
                              telegram_token="", telegram_secret="")
    assert result.exit_code == 0, result.output
    assert status_of(lines, "Twilio") == ["WARN"] and status_of(lines, "Telegram") == ["WARN"]


def test_a_service_that_does_not_start_is_reported_with_what_its_settings_say(tmp_path, monkeypatch):
    """As an IT team runs it: `python app.py check` with the deployment's environment."""
    from click.testing import CliRunner

    from app import cli

    for name in [n for n in os.environ if n.startswith("OUTREACH_")]:
        monkeypatch.delenv(name)
    env = {"OUTREACH_DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}", "OUTREACH_TIMEZONE": "Europe/Harlow",
           "OUTREACH_PUBLIC_URL": PUBLIC_URL, "OUTREACH_SECRET_KEY": STRONG_KEY, "OUTREACH_SANDBOX": "false",
           "OUTREACH_COUNCIL_NAME": "Harlow Council"}
    result = CliRunner(env=env).invoke(cli, ["check"])
    assert result.exit_code == 1
    assert "FAIL  service: does not start" in result.output
    assert "FAIL  time zone: OUTREACH_TIMEZONE 'Europe/Harlow' is not a time zone" in result.output
    assert "OK    public URL: " + PUBLIC_URL in result.output


def test_the_command_is_part_of_the_command_line():
    from click.testing import CliRunner

    from app import cli

    result = CliRunner().invoke(cli, ["check", "--help"])
    assert result.exit_code == 0
    assert "one line per check" in result.output
