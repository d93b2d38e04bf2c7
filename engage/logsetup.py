"""Where the service's log lines go and how they look: text (the default) or one JSON object a line.

`OUTREACH_LOG_FORMAT=json` writes each record as `{"time", "level", "logger", "message", ...extras}` on one
line, for a log collector; `OUTREACH_LOG_LEVEL` sets the level (INFO). Either way phone numbers are masked
(engage.logmask) before anything is written, in the message, the traceback and the extras alike, and an
extra that would carry a resident's words (`body`, `text`) is never written.
"""
from __future__ import annotations

import json
import logging
import os
import sys
from datetime import datetime, timezone

from engage.logmask import install_phone_mask, mask_text

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
FORMATS = ("text", "json")
# Extras that would hold what a resident wrote: left out of every line.
RESIDENT_WORDS = frozenset({"body", "text", "message_body", "answer", "Body"})
# What every LogRecord has; anything else on a record came from `extra=`.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime",
                                                                                 "_phone_masked", "taskName"}
# httpx logs every request URL at INFO, and Bot API URLs carry the bot's token.
QUIET = ("httpx", "httpcore", "alembic")


class JsonFormatter(logging.Formatter):
    """One JSON object a line. The standard library's json does the encoding; this only picks the fields."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": mask_text(record.getMessage()),
        }
        for key, value in vars(record).items():
            if key in _STANDARD or key.startswith("_") or key in line:
                continue
            if key in RESIDENT_WORDS:
                continue
            line[key] = _safe(value)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = mask_text(record.exc_text)
        if record.stack_info:
            line["stack"] = mask_text(record.stack_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def _safe(value):
    """An extra as JSON can hold it, with any phone number in it masked."""
    if isinstance(value, (bool, int, float)) or value is None:
        return value
    if isinstance(value, dict):
        return {str(k): _safe(v) for k, v in value.items() if str(k) not in RESIDENT_WORDS}
    if isinstance(value, (list, tuple, set)):
        return [_safe(v) for v in value]
    return mask_text(str(value))


class _OurHandler(logging.StreamHandler):
    """The handler this module installs (so configuring again replaces it rather than adding a second)."""


def formatter_for(log_format: str) -> logging.Formatter:
    log_format = (log_format or "text").strip().lower()
    if log_format not in FORMATS:
        raise ValueError(f"OUTREACH_LOG_FORMAT must be text or json, not {log_format!r}")
    return JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)


def configure_logging(log_format: str | None = None, level: str | None = None, stream=None) -> logging.Handler:
    """Send log records to `stream` (stderr) in the chosen format, phone numbers masked; return the handler."""
    chosen = (log_format or os.environ.get("OUTREACH_LOG_FORMAT") or "text").strip().lower()
    formatter = formatter_for(chosen)
    root = logging.getLogger()
    if stream is None and chosen == "text" and any(not isinstance(h, _OurHandler) for h in root.handlers):
        # Logging is already set up by whoever runs us and no format was asked for: as logging.basicConfig
        # would, leave it alone (only the phone mask is added), so a command's output is not interleaved.
        install_phone_mask()
        return next(h for h in root.handlers if not isinstance(h, _OurHandler))
    for old in [h for h in root.handlers if isinstance(h, _OurHandler)]:
        root.removeHandler(old)
    handler = _OurHandler(stream or sys.stderr)
    handler.setFormatter(formatter)
    root.addHandler(handler)
    root.setLevel(level or os.environ.get("OUTREACH_LOG_LEVEL") or "INFO")
    for noisy in QUIET:
        logging.getLogger(noisy).setLevel(logging.WARNING)
    install_phone_mask()
    return handler


def configure_from_settings(settings) -> None:
    """Under a WSGI server (gunicorn), `create_app` installs JSON lines when the settings ask for them."""
    if (settings.log_format or "text").strip().lower() != "text":
        configure_logging(settings.log_format)
