"""Logs never hold phone numbers: every record is masked, whichever logger or handler it goes through."""
from __future__ import annotations

import logging

import pytest

from engage.logmask import PhoneNumberMask, install_phone_mask, mask_number, mask_text
from tests.support.contacts import mobile, text_in

PHONE = "+447911123456"


@pytest.mark.parametrize("number, masked", [
    (PHONE, "+44 7••• ••• 456"),
    ("+14155550123", "+1 4••• ••• 123"),
    ("+353851234567", "+353 8••• ••• 567"),
])
def test_numbers_keep_only_country_first_digit_and_last_three(number, masked):
    assert mask_number(number) == masked


def test_text_around_numbers_is_kept_and_short_figures_are_left_alone():
    assert mask_text(f"to {PHONE}, from +447911000001.") == "to +44 7••• ••• 456, from +44 7••• ••• 001."
    assert mask_text("up +15% on 2026-12-02, +44 short") == "up +15% on 2026-12-02, +44 short"


@pytest.mark.parametrize("text, masked", [
    ("to 07400 123456 or 0044 7400-123-456", "to +44 7••• ••• 456 or +44 7••• ••• 456"),
    ("raw %2B447400123456 body", "raw %2B44+7•••+•••+456 body"),
    ("GET /x?q=%2B44%207400%20123%20456&page=2", "GET /x?q=%2B44+7•••+•••+456&page=2"),
    ("GET /x?q=07400+12", "GET /x?q=%2B44+7•••+•••+012"),  # part of a number, typed into a search
])
def test_numbers_are_masked_however_they_are_written(text, masked):
    assert mask_text(text) == masked


def test_dates_times_sums_and_short_ids_are_left_alone():
    text = "GET /x?from=2026-12-02&to=2026-12-31&after=123456 at 2026-12-02 10:00:00 took 0.30000000000000004 s"
    assert mask_text(text) == text


def test_create_app_masks_numbers_in_any_logger_and_traceback(app, caplog):
    caplog.set_level(logging.INFO)
    logging.getLogger("bot.sender.deep.child").info("sending to %s", PHONE)
    try:
        raise ValueError(f"provider refused {PHONE}")
    except ValueError:
        logging.getLogger("webhooks").exception("failed for %s", PHONE)
    assert PHONE not in caplog.text
    assert "sending to +44 7••• ••• 456" in caplog.text
    assert "provider refused +44 7••• ••• 456" in caplog.text
    assert any(isinstance(f, PhoneNumberMask) for f in logging.getLogger().filters)


def test_a_handler_added_later_gets_masked_records_too(app):
    records: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record):
            records.append(self.format(record))

    handler = Collect()
    logger = logging.getLogger("later")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("number %s", PHONE)
    finally:
        logger.removeHandler(handler)
    assert records == ["number +44 7••• ••• 456"]
    assert install_phone_mask() is install_phone_mask()


def test_a_whole_conversation_logs_no_number_and_no_message_text(services, caplog):
    caplog.set_level(logging.DEBUG)
    for text in ("SAFE", "2", "Behind the library on Station Road", "STOP"):
        text_in(services, text, mobile(7))
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert mobile(7) not in logged and mobile(7)[3:] not in logged
    assert "Station Road" not in logged


def test_the_access_log_masks_numbers_in_query_strings_however_they_are_encoded(app):
    """A real HTTP server's request log, as an operator reads it, holds no number from a query string."""
    import io
    import threading

    import httpx
    from werkzeug.serving import make_server

    queries = [
        "/dashboard/contacts?q=%2B447400123456",  # a pasted number, percent-encoded plus
        "/dashboard/contacts?q=%2B44%207400%20123%20456&page=2",  # spaces percent-encoded
        "/dashboard/contacts?phone=07400123456",
        "/dashboard/contacts?q=07400-123-456",
        "/dashboard/contacts?q=07400+123+456",  # spaces as plus signs
        "/dashboard/contacts?q=+447400123456",  # a plus left unencoded
        "/healthz?phone=0044%207400%20123456",  # a 00 prefix
        "/login?next=%2Fdashboard%2Fcontacts%3Fq%3D%252B447400123456",  # a URL inside a URL
    ]
    output = io.StringIO()
    handler = logging.StreamHandler(output)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    access_log = logging.getLogger("werkzeug")
    access_log.addHandler(handler)
    level = access_log.level
    access_log.setLevel(logging.INFO)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{server.server_port}", timeout=10) as http:
            for query in queries:
                http.get(query)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
        access_log.removeHandler(handler)
        access_log.setLevel(level)
    logged = output.getvalue()
    lines = [line for line in logged.splitlines() if "GET /" in line]
    assert len(lines) == len(queries), logged
    for needle in ("7400123456", "7400%20123", "7400-123", "7400+123", "74001"):
        assert needle not in logged
    assert logged.count("7•••+•••+456") == len(queries), logged
    assert "page=2" in logged  # the rest of the query is left as it was


def test_gunicorns_access_log_masks_numbers_in_query_strings(tmp_path):
    """The scaled form's web server writes its own access log (gunicorn.access): masked all the same."""
    import os
    import time
    from pathlib import Path

    import httpx

    from tests.support.fault_processes import VENV_BIN, ServiceProcess, free_port

    env = {k: v for k, v in os.environ.items() if not k.startswith("OUTREACH_")}
    env.update({"OUTREACH_DATABASE_URL": f"sqlite:///{tmp_path / 'web.sqlite3'}", "OUTREACH_SANDBOX": "false",
                "OUTREACH_FLOWS_RELOAD": "false", "OUTREACH_SECRET_KEY": "access-log-test-key-" + "x" * 32,
                "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    port = free_port()
    log_path = tmp_path / "web.log"
    web = ServiceProcess([str(VENV_BIN / "gunicorn"), "-w", "1", "-b", f"127.0.0.1:{port}", "--access-logfile", "-",
                          "app:create_app()"], env, log_path).start()
    queries = ["/healthz?q=%2B447400123456", "/dashboard/contacts?phone=07400+123+456",
               "/dashboard/contacts?q=0044%207400%20123456"]
    try:
        deadline = time.monotonic() + 60
        for query in queries:
            while True:
                try:
                    httpx.get(f"http://127.0.0.1:{port}{query}", timeout=30)
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline, log_path.read_text()
                    time.sleep(0.2)
        while log_path.read_text(encoding="utf-8").count("GET /") < len(queries):
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.1)
    finally:
        web.stop()
    logged = log_path.read_text(encoding="utf-8")
    assert "7400123456" not in logged and "7400+123" not in logged and "7400%20123" not in logged
    requests = [line for line in logged.splitlines() if "GET /" in line]
    assert requests and all("7•••+•••+456" in line for line in requests), logged
