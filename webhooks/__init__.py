"""Flask blueprints that receive provider calls, one package per channel."""


def init_app(app, services) -> None:
    """Register every channel's blueprint."""
    from webhooks import telegram, twilio, webchat

    twilio.init_app(app, services)
    telegram.init_app(app, services)
    webchat.init_app(app, services)
