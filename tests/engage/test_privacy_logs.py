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
