"""The Telegram webhook: Bot API Updates in, stored before they are acknowledged."""


def init_app(app, services) -> None:
    """Register the webhook's blueprint."""
    from webhooks.telegram.views import bp

    app.register_blueprint(bp)
