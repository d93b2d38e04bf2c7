"""Log lines as text or JSON (OUTREACH_LOG_FORMAT): one object a line, never a phone number or a resident's words."""
from __future__ import annotations

import io
import json
import logging

import pytest

from engage import logsetup

NUMBER = "+447400123456"
WRITTEN = "07400 123456"


@pytest.fixture
def our_handler():
    """Remove the handler a test installs, and restore the root level."""
    root = logging.getLogger()
    level = root.level
    yield
    for handler in [h for h in root.handlers if isinstance(h, logsetup._OurHandler)]:
        root.removeHandler(handler)
    root.setLevel(level)


def _log_everything(name: str) -> None:
    log = logging.getLogger(name)
    log.info("stored an SMS from %s", NUMBER)
    log.warning("resident %s said stop", WRITTEN, extra={"channel": "sms", "address": NUMBER,
                                                          "body": "my number is 07400 123456, call me",
                                                          "detail": {"to": NUMBER, "text": "hello", "tries": 2}})
    try:
        raise RuntimeError(f"provider refused {NUMBER}")
    except RuntimeError:
        log.exception("send failed")


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_no_phone_number_or_message_body_is_written_in_either_format(our_handler, log_format):
    out = io.StringIO()
    logsetup.configure_logging(log_format, "INFO", stream=out)
    _log_everything("outreach.test")
    written = out.getvalue()
    assert written
    for needle in (NUMBER, "7400123456", "123456", "call me", "hello"):
        assert needle not in written, (log_format, needle)
    assert "+44 7••• ••• 456" in written


def test_json_lines_carry_time_level_logger_message_and_extras(our_handler):
    out = io.StringIO()
    logsetup.configure_logging("json", "INFO", stream=out)
    _log_everything("outreach.test")
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["level"] for line in lines] == ["INFO", "WARNING", "ERROR"]
    first, second, third = lines
    assert set(first) >= {"time", "level", "logger", "message"}
    assert first["logger"] == "outreach.test" and first["time"].endswith("+00:00")
    assert first["message"] == "stored an SMS from +44 7••• ••• 456"
    assert second["channel"] == "sms" and second["address"] == "+44 7••• ••• 456"
    assert "body" not in second and second["detail"] == {"to": "+44 7••• ••• 456", "tries": 2}
    assert "RuntimeError: provider refused +44 7••• ••• 456" in third["exception"]


def test_text_stays_the_default_and_an_unknown_format_is_refused(our_handler, monkeypatch):
    monkeypatch.delenv("OUTREACH_LOG_FORMAT", raising=False)
    out = io.StringIO()
    logsetup.configure_logging(stream=out)
    logging.getLogger("outreach.test").warning("plain")
    assert out.getvalue().rstrip().endswith("WARNING outreach.test: plain")
    with pytest.raises(ValueError, match="OUTREACH_LOG_FORMAT"):
        logsetup.configure_logging("yaml", stream=io.StringIO())
    # Configuring again replaces the handler rather than writing every line twice.
    logsetup.configure_logging("json", stream=out)
    ours = [h for h in logging.getLogger().handlers if isinstance(h, logsetup._OurHandler)]
    assert len(ours) == 1


def test_the_service_set_to_json_logs_json_from_its_webhook(our_handler, app_config, capsys):
    from app import create_app

    app = create_app({**app_config, "log_format": "json"})
    logging.getLogger("webhooks.twilio").warning("unknown form from %s", NUMBER)
    app.extensions["outreach"].stop_loops()
    err = capsys.readouterr().err
    [line] = [json.loads(x) for x in err.splitlines() if "unknown form" in x]
    assert line["logger"] == "webhooks.twilio" and NUMBER not in err
