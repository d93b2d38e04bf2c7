"""The residents' web chat: pages and a small JSON API under /chat/."""


def init_app(app, services) -> None:
    """Register the chat pages and the chat word handlers (the language switcher uses them)."""
    from webhooks.telegram.words import register_word_handlers
    from webhooks.webchat.views import bp

    app.register_blueprint(bp)
    register_word_handlers(services)
