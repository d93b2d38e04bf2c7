"""`python app.py telegram-poll` and `python app.py telegram-webhook set|delete`: connecting the bot."""
from __future__ import annotations

import click

from commands.context import current_services


def _channel(services):
    channel = services.extras.get("telegram")
    # Without a token the channel (if any) is the local sandbox fake, which has nothing to connect.
    if channel is None or not services.settings.telegram_token:
        raise click.ClickException("Telegram is not configured: set OUTREACH_TELEGRAM_TOKEN")
    return channel


@click.command("telegram-poll")
@click.option("--timeout", default=30, show_default=True, type=click.IntRange(0, 50),
              help="Seconds each getUpdates call waits for something to arrive.")
@click.option("--max-polls", default=None, type=click.IntRange(1), help="Stop after this many getUpdates calls.")
@click.option("--with-sender/--without-sender", default=False, show_default=True,
              help="Also send replies from this process (when no `serve` or `worker` is running).")
def telegram_poll(timeout: int, max_polls: int | None, with_sender: bool) -> None:
    """Take Telegram updates by long polling instead of a webhook (no public URL needed)."""
    from telegram.error import TelegramError

    from webhooks.telegram.updates import poll_updates

    services = current_services()
    channel = _channel(services)
    try:
        channel.delete_webhook()
    except TelegramError as exc:
        raise click.ClickException(f"could not remove the webhook: {exc}") from None
    if with_sender:
        services.start_loops(["sender"])
    click.echo("Polling Telegram for updates. Press Ctrl+C to stop.")
    try:
        handled = poll_updates(services, channel, timeout=timeout, max_polls=max_polls)
    except KeyboardInterrupt:
        handled = None
    except TelegramError as exc:
        raise click.ClickException(f"getUpdates failed: {exc}") from None
    finally:
        services.stop_loops()
        channel.close()
    if handled is not None:
        click.echo(f"Handled {handled} update(s).")


@click.group("telegram-webhook")
def telegram_webhook() -> None:
    """Point Telegram at this service's webhook, or stop it."""


@telegram_webhook.command("set")
def webhook_set() -> None:
    """Register OUTREACH_PUBLIC_URL/webhooks/telegram with the secret Telegram must send back."""
    from telegram.error import TelegramError

    services = current_services()
    settings = services.settings
    if not settings.telegram_secret:
        raise click.ClickException("set OUTREACH_TELEGRAM_SECRET first: without it the webhook refuses every call")
    if not settings.public_url.startswith("https://"):
        raise click.ClickException(f"Telegram only calls HTTPS URLs; OUTREACH_PUBLIC_URL is {settings.public_url}")
    url = settings.public_url.rstrip("/") + "/webhooks/telegram"
    channel = _channel(services)
    try:
        channel.set_webhook(url, settings.telegram_secret)
    except TelegramError as exc:
        raise click.ClickException(f"Telegram refused the webhook: {exc}") from None
    finally:
        channel.close()
    click.echo(f"Telegram will send updates to {url}")


@telegram_webhook.command("delete")
def webhook_delete() -> None:
    """Stop Telegram calling the webhook (updates wait for `telegram-poll`)."""
    services = current_services()
    channel = _channel(services)
    try:
        channel.delete_webhook()
    finally:
        channel.close()
    click.echo("Telegram webhook removed.")
