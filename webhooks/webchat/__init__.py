"""The residents' web chat: pages and a small JSON API under /chat/."""


def init_app(app, services) -> None:
    """Register the chat pages."""
    from webhooks.webchat.views import bp

    app.register_blueprint(bp)
