"""WhatsApp end to end: signed webhooks in, the real Twilio SDK out to the fake Twilio, the library's flows."""
from __future__ import annotations

from sqlalchemy import select

from store.models import Address, Answer, Contact, InboundMessage, Run
from tests.support import twilio_fake
from tests.support.whatsapp import app_config_with_whatsapp, press, received, whatsapp_in  # noqa: F401  (fixture)

# The fake Twilio and the sender, as fixtures of this module.
fake_twilio = twilio_fake.fake_twilio
sender = twilio_fake.sender

PHONE = "+447700900321"


def test_street_safety_is_completed_on_whatsapp_with_buttons(client, db, fake_twilio, sender):
    whatsapp_in(client, fake_twilio, PHONE, "SAFE")
    sender.drain()
    [question] = received(fake_twilio, PHONE)
    assert question.content_sid and question.content_sid.startswith("HX")
    assert question.from_ == "whatsapp:+447700900000"
    assert question.body == "How safe do you feel walking in your area after dark?"
    assert [title for title, _ in question.buttons] == ["Safe", "Unsafe", "Not sure"]

    press(client, fake_twilio, PHONE, question, "Unsafe")
    sender.drain()
    where = received(fake_twilio, PHONE)[-1]
    assert where.content_sid is None and where.buttons == []
    assert where.body.startswith("Which street or place feels least safe?")

    whatsapp_in(client, fake_twilio, PHONE, "Station Road underpass")
    sender.drain()
    age = received(fake_twilio, PHONE)[-1]
    assert [title for title, _ in age.buttons] == ["Under 18", "18 to 64", "65 or over"]
    press(client, fake_twilio, PHONE, age, "65 or over")
    sender.drain()
    assert received(fake_twilio, PHONE)[-1].body.startswith("Thank you. We will tell you what we did")

    with db.session() as s:
        [run] = s.scalars(select(Run)).all()
        assert (run.status, run.channel) == ("completed", "whatsapp")
        answers = {a.step_id: (a.value, a.channel) for a in s.scalars(select(Answer))}
        assert answers == {"feel_safe": ("unsafe", "whatsapp"), "where": ("Station Road underpass", "whatsapp"),
                           "age": ("65_plus", "whatsapp")}
        [address] = s.scalars(select(Address)).all()
        assert (address.channel, address.address) == ("whatsapp", PHONE)
        assert s.get(Contact, address.contact_id).fields.get("age_band") == "65_plus"
        assert {m.channel for m in s.scalars(select(InboundMessage))} == {"whatsapp"}
