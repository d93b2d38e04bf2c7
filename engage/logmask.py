"""Keep phone numbers out of logs: mask them as `+44 7••• ••• 123` in every log record.

Numbers are found as E.164 (`+447...`, also percent-encoded `%2B447...`), as people write them
(`07400 123456`, `0044 7400-123-456`), and in any URL's query string however they are encoded there
(`?q=%2B44%207400...`, `?phone=07400+123+456`, `?next=...%253D0740...`): the access log of the web
server (Werkzeug's, gunicorn's) carries request lines with their query strings.
"""
from __future__ import annotations

import logging
import re
from urllib.parse import quote_plus, unquote

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
    """Mask every phone number in a piece of text: E.164 (also percent-encoded), UK and international
    numbers written with spaces, dashes or a 00 prefix, and any number in a URL's query string."""
    if not _SOME_DIGITS.search(text):
        return text
    text = _QUERY_VALUE.sub(_mask_query_value, text)
    text = _ENCODED_E164.sub(lambda m: _encode(mask_number("+" + m.group(1))), text)
    text = _E164.sub(lambda m: mask_number(m.group(0)), text)
    return _mask_written_numbers(text)


# Seven digits, a few other characters apart at most: no number to mask without them (a cheap first look).
_SOME_DIGITS = re.compile(r"\d(?:\D{0,3}\d){6}")
# Seven digits with nothing but a number's separators between them: the matcher has work only then.
_WRITTEN_DIGITS = re.compile(r"\d(?:[\s().\-]{0,3}\d){6}")
# A query-string parameter's value: after `?` or `&` and `name=`, up to `&`, `#`, a quote or a space.
_QUERY_VALUE = re.compile(r"(?<=[?&;])([^=&#\s\"'<>]*=)([^&#\s\"'<>]*)")
# An E.164 number whose plus is percent-encoded (`%2B447...`).
_ENCODED_E164 = re.compile(r"(?<![\w%])%2[Bb](\d{8,15})(?!\d)")
# In a query value (a search box, a link): a number as typed, perhaps only part of one. A plus, a
# 00 or 0 and six digits more, or ten digits in a row, with spaces, dashes, dots or brackets between.
_TYPED_NUMBER = re.compile(r"(?<![\w+])\+?[\d(](?:[\s().\-]{0,2}\d){5,}\)?")


def _encode(masked: str) -> str:
    """Write a masked number as it would stand in a URL: `%2B44+7•••+•••+123`."""
    return quote_plus(masked).replace(quote_plus("•"), "•")


def _mask_written_numbers(text: str) -> str:
    """Mask numbers written as people write them (`07400 123456`, `0044 7400-123-456`, `(01279) 446611`).

    phonenumbers' matcher (with UK as the home region) finds them; its VALID leniency keeps dates,
    times, sums and identifiers out, which a pattern of our own could not tell apart from numbers.
    """
    if not _WRITTEN_DIGITS.search(text):
        return text
    found = list(phonenumbers.PhoneNumberMatcher(text, "GB", leniency=phonenumbers.Leniency.VALID))
    for match in reversed(found):
        e164 = phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164)
        text = text[:match.start] + mask_number(e164) + text[match.end:]
    return text


def _mask_typed_number(run: str) -> str | None:
    """Return the mask for a number typed into a query value, or None when the run is not one."""
    digits = re.sub(r"\D", "", run)
    international = run.startswith("+") or digits.startswith("00")
    if not (international or digits.startswith("0") or len(digits) >= 10) or len(digits) < 7:
        return None
    try:
        parsed = phonenumbers.parse(("+" + digits[2:]) if digits.startswith("00") else run, "GB")
        return mask_number(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))
    except phonenumbers.NumberParseException:
        return "••• ••• " + digits[-3:]


def _mask_query_value(match: re.Match) -> str:
    """Mask numbers in one query value, whether percent-encoded (`%2B44...`, `%20`) or not (`+44+7400`)."""
    name, raw = match.group(1), match.group(2)
    if not _SOME_DIGITS.search(raw):
        return match.group(0)
    # In a query string `+` is a space, unless it leads a number (as people paste them unencoded).
    decoded = unquote(re.sub(r"\+(?!\d)|(?<=\d)\+", " ", raw))
    # A URL inside a URL (the sign-in page's `next=`) is encoded twice.
    for _ in range(2):
        if "%" not in decoded:
            break
        decoded = unquote(decoded)
    changed = False

    def typed(m: re.Match) -> str:
        nonlocal changed
        masked = _mask_typed_number(m.group(0))
        if masked is None:
            return m.group(0)
        changed = True
        return masked

    masked = _TYPED_NUMBER.sub(typed, decoded)
    return name + _encode(masked) if changed else match.group(0)


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
