"""Settings read from OUTREACH_* environment variables, overridable by create_app(config)."""
from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent


def _bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    """Everything the service can be configured with; one env var per field."""

    database_url: str = f"sqlite:///{Path.cwd() / 'outreach.sqlite3'}"
    flows_dir: str = str(ROOT / "flows" / "library")
    public_url: str = "http://127.0.0.1:5000"
    # Signs officers' sessions and forms: at least 32 bytes wherever the service is reachable by
    # others (security.py); empty on a laptop means a random key kept in the instance folder.
    secret_key: str = ""
    # The address the web service listens on (`serve --host` sets it; empty under a WSGI server,
    # which never runs the sandbox).
    listen_host: str = ""
    # How many reverse proxies in front of the service add X-Forwarded-For/-Proto (0: none trusted).
    trusted_proxies: int = 0
    timezone: str = "Europe/London"
    # "embedded": sender and scheduler run inside the web process (SQLite);
    # "scaled": they run as separate `worker` and `scheduler` processes.
    mode: str = "embedded"
    # Where residents' messages are acted on once stored: "web" (in the web process, after the
    # provider has its answer) or "worker" (by `worker` processes, so the web only checks, stores
    # and answers). Empty: "worker" in scaled mode, "web" in embedded mode.
    inbound_processing: str = ""
    council_name: str = "Your council"
    help_contact: str = ""
    # Public pages and the web chat: a logo file (PNG, SVG, JPEG...) and a brand colour (#rrggbb, white
    # text must read on it: WCAG AA 4.5:1).
    council_logo: str = ""
    brand_colour: str = ""
    # Twilio
    twilio_account_sid: str = ""
    twilio_auth_token: str = ""
    twilio_from: str = ""
    twilio_messaging_service_sid: str = ""
    twilio_api_url: str = ""
    # The council's WhatsApp sender on Twilio (+447700900000, or whatsapp:+447700900000): with the Twilio
    # account settings above it turns the WhatsApp channel on.
    twilio_whatsapp_from: str = ""
    # Phone calls (docs/voice.md): the number calls come from (default: OUTREACH_TWILIO_FROM), the number
    # a voicemail asks residents to call back (default: the calling number), the hours calls may be placed
    # (council time; never on Sunday), and per-language voices / speech recognition
    # ("cy=Polly.Gwyneth:cy-GB,pl=Polly.Ola-Neural:pl-PL"; "so=" turns one off).
    twilio_voice_from: str = ""
    voice_callback_number: str = ""
    calling_hours: str = "10:00-19:00"
    voice_voices: str = ""
    voice_speech_languages: str = ""
    # Telegram
    telegram_token: str = ""
    telegram_secret: str = ""
    telegram_api_url: str = ""
    telegram_bot_username: str = ""
    # Outreach
    quiet_start: str = "20:00"
    quiet_end: str = "09:00"
    fatigue_cap: int = 2
    fatigue_days: int = 7
    min_consultation_days: int = 14
    welsh_first: bool = False
    sms_price_per_segment: float = 0.04
    # Representativeness compares age with people of this age or over (they can answer); empty: the
    # census file's `min_age`, else 16; 0: everyone.
    census_min_age: str = ""
    # Sender rate limits per worker (0 lifts one): SMS segments/s per sending number, Telegram msgs/s.
    sms_rate: float = 10.0
    telegram_rate: float = 30.0
    telegram_chat_rate: float = 1.0
    # Run the local provider sandboxes when no credentials are configured and the service listens
    # on loopback only (security.sandbox_enabled); create_app turns it off everywhere else.
    sandbox: bool = True
    flows_reload: bool = True
    max_body_bytes: int = 64 * 1024
    # Database timeouts in seconds (0 turns one off), so a hung or locked database fails fast instead
    # of hanging every request. Connecting: whole seconds, at least 2 (PostgreSQL's floor). Locks:
    # PostgreSQL's lock_timeout, and SQLite's busy timeout. Pool: waiting for a free connection.
    db_connect_timeout: int = 5
    db_statement_timeout: float = 30.0
    db_lock_timeout: float = 5.0
    db_pool_timeout: float = 3.0
    # A webhook that cannot store within this answers 503, so the provider retries (Twilio waits 15 s).
    webhook_timeout: float = 8.0
    # /healthz answers within this, whatever the database does.
    health_timeout: float = 1.5
    # GET /metrics (engage/metrics.py): a bearer token, and/or the admin networks allowed without one
    # (`127.0.0.1/32,10.0.0.0/8`). With neither, only a laptop setup answers it; elsewhere it is 404.
    metrics_token: str = ""
    metrics_allow: str = ""
    # Log lines as text (default) or one JSON object a line (`json`).
    log_format: str = "text"
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_env(cls, overrides: dict[str, Any] | None = None, environ: dict[str, str] | None = None) -> "Settings":
        """Build settings from OUTREACH_<FIELD> variables, then apply overrides."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name == "extra":
                continue
            raw = env.get(f"OUTREACH_{f.name.upper()}")
            if raw is None:
                continue
            if f.type in ("bool", bool):
                values[f.name] = _bool(raw)
            elif f.type in ("int", int):
                values[f.name] = int(raw)
            elif f.type in ("float", float):
                values[f.name] = float(raw)
            else:
                values[f.name] = raw
        settings = cls(**values)
        if overrides:
            known = {f.name for f in fields(cls)}
            extra = {k: v for k, v in overrides.items() if k not in known}
            settings = replace(settings, **{k: v for k, v in overrides.items() if k in known})
            if extra:
                settings = replace(settings, extra={**settings.extra, **extra})
        return settings

    @property
    def inbound_in_web(self) -> bool:
        """True when the web process acts on residents' messages itself, False when workers do."""
        choice = (self.inbound_processing or ("worker" if self.mode == "scaled" else "web")).lower()
        return choice != "worker"

    @property
    def twilio_enabled(self) -> bool:
        sender = self.twilio_from or self.twilio_messaging_service_sid
        return bool(self.twilio_account_sid and self.twilio_auth_token and sender)

    @property
    def telegram_enabled(self) -> bool:
        return bool(self.telegram_token)
