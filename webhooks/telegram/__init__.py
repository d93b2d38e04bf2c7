"""The Telegram webhook: Bot API Updates in, stored before they are acknowledged."""


def init_app(app, services) -> None:
    """Register the webhook's blueprint and the chat word handlers."""
    from webhooks.telegram.views import bp
    from webhooks.telegram.words import register_word_handlers

    app.register_blueprint(bp)
    register_word_handlers(services)
    if "telegram_sandbox" in services.extras:
        services.loops["telegram-sandbox-poll"] = sandbox_poll_loop


def sandbox_poll_loop(services, stop) -> None:
    """Feed updates queued on the local fake Bot API through the webhook's path (embedded sandbox)."""
    from webhooks.telegram.updates import poll_updates

    poll_updates(services, services.extras["telegram"], timeout=1, stop=stop)
