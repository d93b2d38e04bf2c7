"""The app with SMS pointed at a fake Twilio; a sender without rate limits, drained by hand."""
from tests.support.twilio_fake import app_config_with_fake_twilio, fake_twilio, sender  # noqa: F401  (fixtures)
