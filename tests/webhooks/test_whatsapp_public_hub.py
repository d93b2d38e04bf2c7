"""The public front door offers WhatsApp as a way to take part when the WhatsApp channel is on."""
from __future__ import annotations

import re

from engage import ways
from tests.support import twilio_fake
from tests.support.whatsapp import app_config_with_whatsapp  # noqa: F401  (fixture)

fake_twilio = twilio_fake.fake_twilio


def card(client, lang="en"):
    html = client.get(f"/?lang={lang}").get_data(as_text=True)
    return re.search(r'<section[^>]*id="consultation-street-safety".*?</section>', html, re.S).group(0)


def test_the_front_door_offers_whatsapp_with_the_keyword_and_a_qr_code(client):
    english = card(client)
    assert "Send SAFE on WhatsApp to 07700 900000" in english
    assert 'href="https://wa.me/447700900000?text=SAFE"' in english
    assert 'src="/qr/street-safety/whatsapp.svg?lang=en"' in english
    assert "Anfonwch DIOGEL ar WhatsApp i 07700 900000" in card(client, "cy")
    response = client.get("/qr/street-safety/whatsapp.svg?lang=cy")
    assert response.status_code == 200
    assert response.data == ways.qr_svg("https://wa.me/447700900000?text=DIOGEL", "Atebwch ar WhatsApp")


def test_without_the_whatsapp_channel_it_is_not_offered(app_config, db):
    from app import create_app

    application = create_app({**app_config, "twilio_whatsapp_from": ""})
    html = application.test_client().get("/").get_data(as_text=True)
    assert "wa.me" not in html and "on WhatsApp" not in html
    assert application.test_client().get("/qr/street-safety/whatsapp.svg").status_code == 404
