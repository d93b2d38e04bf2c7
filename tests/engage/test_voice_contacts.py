"""Landlines on contact import: detected with phonenumbers, imported as voice addresses (calls, not texts)."""
from __future__ import annotations

from sqlalchemy import select

from engage.broadcasts import choose_address
from engage.contact_import import import_contacts, phone_channel
from store.models import CONSENT_OPTED_IN, Address, Contact
from tests.support.contacts import csv_text, mobile

HEADER = ["phone", "name", "language", "consent_source"]


def test_a_landline_is_imported_as_a_voice_address_and_a_mobile_as_sms(db, clock):
    rows = [["01279 000111", "Landline Resident", "cy", "Paper form"],
            [mobile(1), "Mobile Resident", "en", "Paper form"]]
    report = import_contacts(db, csv_text(HEADER, rows), clock.now(), commit=True)
    assert report.problems == [] and report.created == 2
    with db.session() as s:
        found = {(a.channel, a.address, a.consent, a.preferred) for a in s.scalars(select(Address))}
        assert found == {("voice", "+441279000111", CONSENT_OPTED_IN, True), ("sms", mobile(1), CONSENT_OPTED_IN, True)}
        landline = s.scalar(select(Contact).where(Contact.name == "Landline Resident"))
        # Broadcasts reach them by phone call.
        assert choose_address(list(landline.addresses))[0].channel == "voice"


def test_importing_a_landline_again_merges_into_the_same_contact(db, clock):
    rows = [["01279 000111", "Landline Resident", "", "Paper form"]]
    import_contacts(db, csv_text(HEADER, rows), clock.now(), commit=True)
    again = import_contacts(db, csv_text(HEADER, rows), clock.now(), commit=True)
    assert again.problems == [] and again.created == 0 and again.merged == 1
    with db.session() as s:
        assert len(s.scalars(select(Address)).all()) == 1


def test_the_channel_of_a_number():
    assert phone_channel("+441279000111") == "voice"
    assert phone_channel(mobile(2)) == "sms"
    assert phone_channel(None) == "sms"
