"""`python app.py qr FLOW`: QR codes for posters that open a flow in Telegram or a text message."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import click

from commands.context import current_services
from engage import ways


def telegram_start_parameter(flow) -> str:
    """Return the deep-link parameter for a flow: its id, or its first keyword when the id won't do."""
    parameter = ways.telegram_start_parameter(flow)
    if parameter is None:
        raise click.ClickException(f"flow {flow.id!r} has no id or keyword Telegram accepts in a link "
                                   "(letters, digits, _ and -, at most 64)")
    return parameter


@dataclass(frozen=True)
class PosterCode:
    """One QR code for a poster: a file name part, what it encodes, and what scanning it does."""

    name: str
    content: str
    description: str


def poster_codes(flow, settings) -> list[PosterCode]:
    """Return the codes a poster for this flow can carry with the channels configured."""
    codes = []
    if settings.telegram_bot_username:
        link = ways.telegram_link(settings.telegram_bot_username, telegram_start_parameter(flow))
        codes.append(PosterCode("telegram", link, f"opens the Telegram bot and starts {flow.id}: {link}"))
    if settings.twilio_from:
        for keyword in flow.keywords:
            content = ways.sms_qr_content(settings.twilio_from, keyword)
            codes.append(PosterCode(f"sms-{keyword.lower()}", content,
                                    f"opens a text to {settings.twilio_from} saying {keyword}"))
    return codes


make_code = ways.make_code


def write_code(code: PosterCode, out_dir: Path, stem: str, scale: int) -> list[Path]:
    """Write a code as PNG and SVG; return the two paths."""
    qr = make_code(code.content)
    png, svg = out_dir / f"{stem}.png", out_dir / f"{stem}.svg"
    qr.save(png, scale=scale, border=4)
    qr.save(svg, scale=scale, border=4, title=code.description)
    return [png, svg]




@click.command("qr")
@click.argument("flow")
@click.option("--out", "out_dir", default=".", show_default=True, type=click.Path(file_okay=False),
              help="Folder to write the PNG and SVG files to.")
@click.option("--scale", default=10, show_default=True, type=click.IntRange(1, 100),
              help="Pixels per QR module in the PNG.")
def qr(flow: str, out_dir: str, scale: int) -> None:
    """Write QR codes for posters: the Telegram deep link and an SMS keyword, as PNG and SVG."""
    services = current_services()
    found = services.registry.get(flow) or services.registry.by_keyword(flow)
    if found is None:
        known = ", ".join(f.id for f in services.registry.all()) or "none"
        raise click.BadParameter(f"no flow {flow!r}; the flows are: {known}", param_hint="FLOW")
    codes = poster_codes(found, services.settings)
    if not codes:
        raise click.ClickException("nothing to encode: set OUTREACH_TELEGRAM_BOT_USERNAME (Telegram) "
                                   "and/or OUTREACH_TWILIO_FROM (SMS)")
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    for code in codes:
        paths = write_code(code, folder, f"{found.id}-{code.name}", scale)
        click.echo(f"{code.name}: {code.content}")
        for path in paths:
            click.echo(f"  {path}")
