"""The broadcast form says who on WhatsApp would be skipped for lack of an approved template, and saves the
templates it is given."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from engage.consent import record_basis
from engage.officers import create_officer
from engage.segments import create_segment
from store.models import Address, Contact
from store.models.outreach import Broadcast
from tests.support.dashboard import cheap_password_hashing

_cheap_hashing = pytest.fixture(autouse=True)(cheap_password_hashing)
PASSWORD = "correct horse battery staple"
SID = "HX" + "ab" * 16


def token_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


@pytest.fixture
def officer_token(client, services, clock):
    with services.db.session() as s:
        create_officer(s, "officer@harlow.gov.uk", PASSWORD, "officer", now=clock.now())
    form = {"email": "officer@harlow.gov.uk", "password": PASSWORD, "csrf_token": token_of(
        client.get("/login").get_data(as_text=True))}
    assert client.post("/login", data=form).status_code == 302
    return token_of(client.get("/dashboard/").get_data(as_text=True))


@pytest.fixture
def segment_id(services, clock):
    """Five residents: SMS; WhatsApp an hour ago; WhatsApp three days ago (English, Welsh, unknown language)."""
    now = clock.now()
    people = [("sms", now, "en"), ("whatsapp", now - timedelta(hours=1), "en"),
              ("whatsapp", now - timedelta(days=3), "en"), ("whatsapp", now - timedelta(days=3), "cy"),
              ("whatsapp", now - timedelta(days=3), None)]
    with services.db.session() as s:
        for n, (channel, last, language) in enumerate(people):
            contact = Contact(fields={}, language=language, created_at=now, updated_at=now)
            s.add(contact)
            s.flush()
            s.add(Address(contact_id=contact.id, channel=channel, address=f"+4477009006{n:02d}", consent="opted_in",
                          last_inbound_at=last, created_at=now))
            record_basis(s, contact, "service", now, source="import")
        return create_segment(s, "everyone", {"all": []}, now).id


def skipped_line(html: str) -> str:
    return re.sub(r"<[^>]+>", "", re.search(r'<p id="whatsapp-skipped"[^>]*>(.*?)</p>', html, re.S).group(1)).strip()


def test_the_form_counts_whatsapp_residents_outside_the_window_that_no_template_reaches(client, officer_token,
                                                                                         segment_id):
    page = client.get(f"/dashboard/broadcasts/new?segment_id={segment_id}").get_data(as_text=True)
    assert skipped_line(page) == ("3 residents on WhatsApp have not written in the last 24 hours and would be "
                                  "skipped: there is no approved template for their language.")
    assert re.findall(r'<input id="whatsapp_template_(\w+)"', page) == ["en", "cy"]
    form = {"csrf_token": officer_token, "name": "Bins", "segment_id": segment_id, "content": "message",
            "schedule": "now", "text_en": "Bins go out on Tuesday.", "text_cy": "Biniau allan ddydd Mawrth.",
            "action": "check"}
    # A Welsh template only: the Welsh resident is reached; English and not-known fall back to English.
    checked = client.post("/dashboard/broadcasts/new", data={**form, "whatsapp_template_cy": SID})
    assert skipped_line(checked.get_data(as_text=True)).startswith("2 residents on WhatsApp")
    # An English one reaches all three (English is the base language).
    checked = client.post("/dashboard/broadcasts/new", data={**form, "whatsapp_template_en": SID})
    assert skipped_line(checked.get_data(as_text=True)) == (
        "3 residents on WhatsApp have not written in the last 24 hours and will get the approved template.")


def test_the_form_saves_the_templates_and_refuses_one_that_is_not_a_content_sid(client, officer_token, segment_id,
                                                                                 services):
    form = {"csrf_token": officer_token, "name": "Bins", "segment_id": segment_id, "content": "message",
            "schedule": "once", "send_at": "2026-12-09T10:00", "text_en": "Bins go out on Tuesday."}
    refused = client.post("/dashboard/broadcasts/new", data={**form, "whatsapp_template_en": "bins-template"})
    assert refused.status_code == 422
    assert "should be a Content SID" in refused.get_data(as_text=True)
    saved = client.post("/dashboard/broadcasts/new", data={**form, "whatsapp_template_en": SID})
    assert saved.status_code == 302
    with services.db.session() as s:
        [broadcast] = s.scalars(select(Broadcast)).all()
        assert broadcast.whatsapp_templates == {"en": SID}


def test_the_broadcast_page_counts_who_was_skipped_for_lack_of_a_template(client, officer_token, segment_id,
                                                                         services):
    from engage.broadcasts import fire_broadcast

    form = {"csrf_token": officer_token, "name": "Bins", "segment_id": segment_id, "content": "message",
            "schedule": "once", "send_at": "2026-12-09T10:00", "text_en": "Bins go out on Tuesday."}
    saved = client.post("/dashboard/broadcasts/new", data=form)
    broadcast_id = int(saved.headers["Location"].rstrip("/").split("/")[-1])
    fire_broadcast(services, broadcast_id)
    page = client.get(saved.headers["Location"]).get_data(as_text=True)
    assert "no approved WhatsApp template: 3" in page


def test_without_whatsapp_residents_or_the_channel_the_form_asks_for_no_templates(client, officer_token, services,
                                                                                  clock):
    with services.db.session() as s:
        segment = create_segment(s, "nobody", {"all": [{"field": "ward", "in": ["Nowhere"]}]}, clock.now())
        segment_id = segment.id
    page = client.get(f"/dashboard/broadcasts/new?segment_id={segment_id}").get_data(as_text=True)
    assert 'id="whatsapp-templates"' not in page and "New broadcast" in page
