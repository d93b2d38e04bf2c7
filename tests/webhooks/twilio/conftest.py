"""The app with its SMS channel pointed at a fake Twilio on a local port."""
from tests.support.twilio_fake import app_config_with_fake_twilio, fake_twilio, sender  # noqa: F401  (fixtures)
