"""Keep phone numbers out of logs: mask E.164 numbers as `+44 7••• ••• 123` in every log record."""
from __future__ import annotations

import logging
import re

import phonenumbers

# E.164: a plus and up to 15 digits. Eight digits at least, so "+1" or "+15" in
# ordinary text is left alone.
_E164 = re.compile(r"(?<![\w+])\+\d{8,15}(?!\d)")
_MARK = "_phone_masked"


def mask_number(number: str) -> str:
    """Mask one E.164 number, keeping the country code, first digit and last three."""
    digits = number[1:]
    try:
        parsed = phonenumbers.parse(number, None)
        country, national = str(parsed.country_code), str(parsed.national_number)
    except phonenumbers.NumberParseException:
        country, national = digits[:2], digits[2:]
    if len(national) < 5:
        return "+" + country + " •••"
    return f"+{country} {national[0]}••• ••• {national[-3:]}"


def mask_text(text: str) -> str:
    """Mask every E.164 number in a piece of text."""
    return _E164.sub(lambda m: mask_number(m.group(0)), text)


def mask_record(record: logging.LogRecord) -> logging.LogRecord:
    """Mask a record's message, arguments, traceback and stack in place (once)."""
    if getattr(record, _MARK, False):
        return record
    try:
        message = record.getMessage()
    except Exception:  # a bad format string; keep what we can show safely
        message = str(record.msg)
    record.msg = mask_text(message)
    record.args = None
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = mask_text(record.exc_text)
    if record.stack_info:
        record.stack_info = mask_text(record.stack_info)
    setattr(record, _MARK, True)
    return record


class PhoneNumberMask(logging.Filter):
    """A logging filter that masks phone numbers and lets every record through."""

    def filter(self, record: logging.LogRecord) -> bool:
        mask_record(record)
        return True


_installed: dict[str, object] = {}


def install_phone_mask(logger: logging.Logger | None = None) -> PhoneNumberMask:
    """Mask numbers in every record: as a filter on the root logger and its handlers, and at record creation.

    A filter on a logger only sees records logged to that very logger, not those
    propagated up from child loggers, so records are also masked as they are made.
    """
    root = logger or logging.getLogger()
    mask = _installed.get("filter")
    if mask is None:
        mask = PhoneNumberMask()
        _installed["filter"] = mask
        factory = logging.getLogRecordFactory()

        def masked_factory(*args, **kwargs):
            return mask_record(factory(*args, **kwargs))

        logging.setLogRecordFactory(masked_factory)
    if mask not in root.filters:
        root.addFilter(mask)
    for handler in root.handlers:
        if mask not in handler.filters:
            handler.addFilter(mask)
    return mask
