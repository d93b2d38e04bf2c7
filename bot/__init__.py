"""Channels: rendering for SMS, WhatsApp, Telegram and web chat, the outbox sender and its rate limits."""


def init_app(app, services) -> None:
    """Attach the channels and the sender loop to the services."""
    from bot import sender, telegram, twilio_sms, twilio_voice, twilio_whatsapp, webchat
    from bot.sandbox import views as sandbox_views

    twilio_sms.init_app(app, services)
    twilio_whatsapp.init_app(app, services)
    twilio_voice.init_app(app, services)
    telegram.init_app(app, services)
    webchat.init_app(app, services)
    sandbox_views.init_app(app, services)
    sender.init_app(app, services)
