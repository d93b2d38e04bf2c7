"""Channels: rendering for SMS, Telegram and web chat, the outbox sender and its rate limits."""


def init_app(app, services) -> None:
    """Attach the channels and the sender loop to the services."""
