"""The ways a resident can take part in a flow: the web chat, an SMS keyword, a WhatsApp message, a Telegram link,
and their QR codes."""
from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers
import segno

# Telegram's /start parameter: up to 64 of A-Z, a-z, 0-9, _ and -.
_START_PARAMETER = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
WEBCHAT, SMS, TELEGRAM = "webchat", "sms", "telegram"
WHATSAPP = "whatsapp"


@dataclass(frozen=True)
class Way:
    """One way to take part: what it is, the link that opens it, and what its QR code encodes."""

    kind: str  # webchat | sms | whatsapp | telegram
    link: str
    qr_content: str
    keyword: str | None = None
    number: str | None = None  # the SMS number as residents dial it ("07700 900000")


def telegram_start_parameter(flow) -> str | None:
    """Return the deep-link parameter for a flow: its id, or its first keyword Telegram accepts; else None."""
    for candidate in (flow.id, *flow.keywords):
        if _START_PARAMETER.match(candidate):
            return candidate
    return None


def telegram_link(bot_username: str, start_parameter: str) -> str:
    """Return the t.me link that opens the bot and sends `/start <parameter>`."""
    return f"https://t.me/{bot_username.lstrip('@')}?start={start_parameter}"


def sms_qr_content(number: str, keyword: str) -> str:
    """Return what an SMS QR code holds: scanning it opens a text to the number, already saying the keyword."""
    return f"SMSTO:{number}:{keyword}"


def dialled_number(number: str, region: str = "GB") -> str:
    """Return an E.164 number the way residents of the region write it ("+447700900000" -> "07700 900000")."""
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        return number
    if parsed.country_code == phonenumbers.country_code_for_region(region):
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def whatsapp_link(number: str, keyword: str) -> str:
    """Return the wa.me link that opens a WhatsApp chat with the council's sender, the keyword already typed."""
    from urllib.parse import quote

    digits = "".join(ch for ch in number if ch.isdigit())
    return f"https://wa.me/{digits}?text={quote(keyword)}"


def ways_to_take_part(flow, *, chat_url: str, keyword: str | None, sms_number: str = "",
                      telegram_username: str = "", whatsapp_number: str = "") -> list[Way]:
    """Return every way to take part in a flow with the channels configured, web chat first.

    :param chat_url: the absolute web chat address of the flow, in the reader's language.
    :param keyword: the keyword to show (the reader's language's, else the base language's).
    """
    ways = [Way(WEBCHAT, chat_url, chat_url)]
    if sms_number and keyword:
        content = sms_qr_content(sms_number, keyword)
        ways.append(Way(SMS, f"sms:{sms_number}?body={keyword}", content, keyword=keyword,
                        number=dialled_number(sms_number)))
    if whatsapp_number and keyword:
        number = whatsapp_number[len("whatsapp:"):] if whatsapp_number.startswith("whatsapp:") else whatsapp_number
        link = whatsapp_link(number, keyword)
        ways.append(Way(WHATSAPP, link, link, keyword=keyword, number=dialled_number(number)))
    parameter = telegram_start_parameter(flow)
    if telegram_username and parameter:
        link = telegram_link(telegram_username, parameter)
        ways.append(Way(TELEGRAM, link, link))
    return ways


def make_code(content: str) -> segno.QRCode:
    """Return the QR code for some content (error correction M: posters get scuffed)."""
    return segno.make(content, error="m", micro=False)


def qr_svg(content: str, title: str) -> bytes:
    """Return a QR code as a standalone SVG document with a title for screen readers."""
    import io

    out = io.BytesIO()
    make_code(content).save(out, kind="svg", scale=6, border=4, title=title, xmldecl=False,
                            svgclass="qr", lineclass=None)
    return out.getvalue()
