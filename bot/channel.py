"""What every channel adapter offers the sender: one Protocol, one result type."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class SendResult:
    """What happened when the provider was called.

    status:
      sent     the provider accepted it (provider_id set)
      retry    429, 5xx, or a failure before the request left us: safe to try again
      failed   a permanent error: do not retry
      unknown  the request may have reached the provider (timeout after sending):
               never retried blindly, shown to officers
      skipped  not sent: the consent check just before the call refused it (error_code says why)
    """

    status: str
    provider_id: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    retry_after: float | None = None
    # Permanent errors that say the address can't be used again (landline, bot blocked).
    address_unusable: bool = False
    # The carrier says the resident texted STOP to it (Twilio 21610).
    opted_out: bool = False
    segments: int | None = None


class Channel(Protocol):
    """A way of reaching residents: SMS, Telegram, web chat."""

    name: str

    def send(self, address: str, payload: dict[str, Any], lang: str | None) -> SendResult:
        """Render the channel-neutral payload for this channel and hand it to the provider."""
        ...
