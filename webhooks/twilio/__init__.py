"""The Twilio webhooks: inbound SMS and delivery status callbacks, signed by Twilio."""


def init_app(app, services) -> None:
    """Register the webhooks' blueprint."""
    from webhooks.twilio import voice
    from webhooks.twilio.views import bp

    app.register_blueprint(bp)
    voice.init_app(app, services)
