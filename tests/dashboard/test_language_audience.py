"""Broadcasts, updates and assisted entry offer every language of their audience, with how many prefer each,
and say before sending who will get the base language instead and why; a broadcast's page shows who did."""
from __future__ import annotations

import re
from datetime import datetime, timezone

from sqlalchemy import func, select

from engage import segments
from store.models import Contact
from store.models.outreach import Broadcast
from tests.support.outreach import make_contact

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)
AUDIENCE = {"pl": 3, "ro": 2, "ur": 1, "en": 2, None: 1}


def _audience(services) -> int:
    with services.db.session() as s:
        for lang, n in AUDIENCE.items():
            for _ in range(n):
                make_contact(s, language=lang, ward="netteswell")
        make_contact(s, language="bn", ward="toddbrook")  # not in the segment
        return segments.create_segment(s, "Netteswell", {"all": [{"field": "ward", "in": ["netteswell"]}]},
                                       T0).id


def _fallback_lines(html: str) -> dict[str, str]:
    return {lang: re.sub(r"\s+", " ", text).strip()
            for lang, text in re.findall(r'<li data-fallback="(\w+)">(.*?)</li>', html, re.S)}


def test_the_broadcast_form_offers_each_language_of_the_audience_with_its_count(client, as_role, services):
    segment_id = _audience(services)
    as_role("officer")
    page = client.get(f"/dashboard/broadcasts/new?segment_id={segment_id}").get_data(as_text=True)
    boxes = re.findall(r'<textarea id="text_(\w+)"', page)
    assert boxes == ["en", "cy", "pl", "ro", "ur"]
    assert "Message in Polski (pl) – 3 residents prefer it" in page
    assert "Message in اردو (ur) – 1 resident prefers it" in page
    assert '<textarea id="text_ur" name="text_ur" rows="3" lang="ur" dir="rtl"' in page
    assert "1 resident has not told us their language" in page
    # Nothing written yet: everyone who prefers another language than English is told what they will get.
    assert _fallback_lines(page) == {
        "pl": "3 residents who prefer Polski (pl) will get English (en): there is no Polski (pl) text above.",
        "ro": "2 residents who prefer Română (ro) will get English (en): there is no Română (ro) text above.",
        "ur": "1 resident who prefers اردو (ur) will get English (en): there is no اردو (ur) text above.",
    }


def test_checking_the_languages_saves_nothing_and_sending_records_who_got_english(client, as_role, services):
    segment_id = _audience(services)
    token = as_role("officer")
    form = {"csrf_token": token, "name": "Bins", "segment_id": segment_id, "content": "message", "schedule": "now",
            "text_en": "Bins go out on Tuesday.", "text_pl": "Śmieci wywozimy we wtorek."}
    checked = client.post("/dashboard/broadcasts/new", data={**form, "action": "check"})
    assert checked.status_code == 200
    assert set(_fallback_lines(checked.get_data(as_text=True))) == {"ro", "ur"}
    with services.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Broadcast)) == 0
    response = client.post("/dashboard/broadcasts/new", data=form)
    assert response.status_code == 302, response.get_data(as_text=True)
    detail = client.get(response.headers["Location"]).get_data(as_text=True)
    assert _fallback_lines(detail) == {"ro": "Română (ro) 2", "ur": "اردو (ur) 1"}
    assert re.search(r'<td class="num">3</td></tr>', detail), "the firing's fallback count"


def test_a_flow_broadcast_says_who_the_flow_has_no_words_for(client, as_role, services):
    segment_id = _audience(services)
    as_role("officer")
    page = client.get(f"/dashboard/broadcasts/new?segment_id={segment_id}&content=flow&flow_id=street-safety"
                      ).get_data(as_text=True)
    assert _fallback_lines(page)["pl"] == ("3 residents who prefer Polski (pl) will get English (en): "
                                           "the flow has no Polski (pl).")


def test_assisted_entry_offers_every_language_and_records_the_residents(client, as_role, services):
    _audience(services)
    token = as_role("officer")
    page = client.get("/dashboard/assisted").get_data(as_text=True)
    assert re.findall(r'<option value="(\w+)" lang="\w+">', page) == [
        "en", "cy", "pl", "ro", "pa", "ur", "bn", "pt", "ar", "so"]
    assert "Polski – 3 residents prefer it" in page
    response = client.post("/dashboard/assisted", data={"csrf_token": token, "flow_id": "street-safety",
                                                        "language": "pl"})
    assert response.status_code == 302
    with services.db.session() as s:
        newest = s.scalar(select(Contact).order_by(Contact.id.desc()).limit(1))
        assert newest.language == "pl"
