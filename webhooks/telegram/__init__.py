"""The Telegram webhook: Bot API Updates in, stored before they are acknowledged."""


def init_app(app, services) -> None:
    """Register the webhook's blueprint and the chat word handlers."""
    from webhooks.telegram.views import bp
    from webhooks.telegram.words import register_word_handlers

    app.register_blueprint(bp)
    register_word_handlers(services)
