"""The council's look on public pages and the web chat: name, logo and colour, checked for accessibility."""
from __future__ import annotations

import re
from pathlib import Path

_HEX = re.compile(r"^#?([0-9a-fA-F]{6}|[0-9a-fA-F]{3})$")
LOGO_TYPES = {".png": "image/png", ".svg": "image/svg+xml", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
              ".gif": "image/gif", ".webp": "image/webp"}
DEFAULT_COLOUR = "#1d4f91"  # a plain dark blue: 8.4:1 with white text
WHITE = "#ffffff"
# WCAG 2.2 AA: normal text needs 4.5:1 against its background.
AA_NORMAL_TEXT = 4.5


class BrandingRefused(ValueError):
    """The configured logo or colour cannot be used; the message says what to change."""


def parse_colour(value: str) -> str | None:
    """Return a colour as "#rrggbb", or None when it is not a hex colour."""
    found = _HEX.match(value.strip())
    if not found:
        return None
    digits = found.group(1)
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    return "#" + digits.lower()


def _luminance(colour: str) -> float:
    # WCAG 2.x relative luminance. Written out here: it is the standard's four-line formula, and the
    # one PyPI package for it (wcag-contrast-ratio) has not been maintained since 2015.
    channels = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast_ratio(a: str, b: str) -> float:
    """Return the WCAG contrast ratio of two "#rrggbb" colours (1 to 21)."""
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def brand_problems(settings) -> list[str]:
    """Return what is wrong with the configured colour and logo; empty when they can be used."""
    problems = []
    if settings.brand_colour:
        colour = parse_colour(settings.brand_colour)
        if colour is None:
            problems.append(f"OUTREACH_BRAND_COLOUR {settings.brand_colour!r} is not a hex colour such as #1d4f91")
        else:
            ratio = contrast_ratio(colour, WHITE)
            if ratio < AA_NORMAL_TEXT:
                problems.append(f"OUTREACH_BRAND_COLOUR {colour} has a contrast of {ratio:.1f}:1 with the white "
                                f"text shown on it; WCAG AA needs at least {AA_NORMAL_TEXT}:1: choose a darker shade")
    if settings.council_logo:
        path = Path(settings.council_logo)
        if path.suffix.lower() not in LOGO_TYPES:
            problems.append(f"OUTREACH_COUNCIL_LOGO {path} should be a PNG, SVG, JPEG, GIF or WebP file")
        elif not path.is_file():
            problems.append(f"OUTREACH_COUNCIL_LOGO {path} does not exist")
    return problems


def brand_colour(settings) -> str:
    """Return the colour public pages use: the configured one, else the plain default."""
    return parse_colour(settings.brand_colour or "") or DEFAULT_COLOUR
