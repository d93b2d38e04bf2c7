"""The public front door: `/` lists what is open with every way to take part, and what was done with what closed."""
from __future__ import annotations

import re

import pytest

from app import create_app
from engage import ways
from engage.branding import BrandingRefused
from tests.public.conftest import answer, publish


def page(client, path: str, **headers) -> str:
    response = client.get(path, headers=headers)
    assert response.status_code == 200, (path, response.status_code)
    return response.get_data(as_text=True)


def section(html: str, element_id: str) -> str:
    """Return the HTML of the <section> with this id."""
    found = re.search(rf'<section[^>]*id="{element_id}".*?</section>', html, re.S)
    assert found, f"no section {element_id}"
    return found.group(0)


def test_the_front_door_lists_the_open_consultations_with_every_way_to_take_part(client):
    html = page(client, "/")
    assert "What we are asking" in html
    # Open on 2 December 2026: street safety (1-31 December) and the citizens' panel; none of the others.
    assert 'id="consultation-street-safety"' in html and 'id="consultation-citizens-panel"' in html
    for closed_or_not_yet in ("crime-perception", "climate-pulse", "tenant-feedback", "residents-satisfaction"):
        assert f'id="consultation-{closed_or_not_yet}"' not in html
    card = section(html, "consultation-street-safety")
    assert "Feeling safe in your neighbourhood" in card
    assert "Decide where 40 new street lights go in 2027" in card
    assert "Closes in 29 days, on 31 December 2026." in card
    assert 'href="https://example.gov.uk/street-lights"' in card
    assert 'href="http://localhost/chat/street-safety?lang=en"' in card
    assert "Text SAFE to 07700 900123" in card
    assert 'href="sms:+447700900123?body=SAFE"' in card
    assert 'href="https://t.me/harlow_bot?start=street-safety"' in card
    for kind in ("webchat", "sms", "telegram"):
        assert f'src="/qr/street-safety/{kind}.svg?lang=en"' in card
    # Closing soonest first.
    assert html.index("consultation-street-safety") < html.index("consultation-citizens-panel")


def test_each_qr_code_is_an_svg_of_what_its_way_opens(client):
    response = client.get("/qr/street-safety/sms.svg")
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    assert response.data == ways.qr_svg("SMSTO:+447700900123:SAFE", "Send a text message")
    telegram = client.get("/qr/street-safety/telegram.svg?lang=cy")
    assert telegram.data == ways.qr_svg("https://t.me/harlow_bot?start=street-safety", "Atebwch ar Telegram")
    assert b"<title>" in telegram.data
    # Closed consultations and unknown ways have no codes.
    assert client.get("/qr/crime-perception/sms.svg").status_code == 404
    assert client.get("/qr/street-safety/fax.svg").status_code == 404


def test_without_sms_or_telegram_configured_only_the_web_chat_is_offered(app_config, db):
    application = create_app({**app_config, "twilio_from": "", "telegram_bot_username": ""})
    html = page(application.test_client(), "/")
    card = section(html, "consultation-street-safety")
    assert "/chat/street-safety" in card
    assert "Text SAFE" not in card and "t.me" not in card


def test_a_flow_without_consultation_dates_is_listed_only_when_marked_public(client, services, flows_dir):
    flow = """id: {id}
title: {title}
languages: [en]
keywords: [{keyword}]
{public}
steps:
  - id: q
    ask:
      en: Is the library open long enough?
    yes_no: true
"""
    (flows_dir / "hidden.yaml").write_text(flow.format(id="hidden", title="Staff test", keyword="HIDDEN", public=""))
    (flows_dir / "library.yaml").write_text(flow.format(id="library-hours", title="Library hours",
                                                        keyword="LIBRARY", public="public: true"))
    services.registry.reload()
    html = page(client, "/")
    assert 'id="consultation-library-hours"' in html and "Library hours" in html
    assert "Staff test" not in html
    assert "Closes in" not in section(html, "consultation-library-hours")


def test_the_page_is_in_the_readers_language_right_to_left_where_needed(client):
    assert 'lang="cy"' in page(client, "/", **{"Accept-Language": "cy, en;q=0.5"})
    welsh = page(client, "/?lang=cy")
    assert "Beth rydym yn ei ofyn" in welsh and "Tecstiwch DIOGEL i 07700 900123" in welsh
    assert "Yn cau mewn 29 diwrnod, ar 31 Rhagfyr 2026." in welsh
    assert 'href="http://localhost/chat/street-safety?lang=cy"' in welsh
    assert 'href="sms:+447700900123?body=DIOGEL"' in welsh  # the keyword that starts it in Welsh
    urdu = page(client, "/?lang=ur", **{"Accept-Language": "en"})
    assert '<html lang="ur" dir="rtl">' in urdu
    assert "ہم کیا پوچھ رہے ہیں" in urdu
    # Every shipped language is offered, each in its own name and language.
    for code, name in (("cy", "Cymraeg"), ("pl", "Polski"), ("ar", "العربية"), ("so", "Soomaali")):
        assert f'lang="{code}" hreflang="{code}"' in welsh and name in welsh


def test_wales_mode_puts_welsh_first_and_uses_it_when_the_browser_says_nothing(app_config, db):
    client = create_app({**app_config, "welsh_first": True}).test_client()
    html = page(client, "/")
    assert '<html lang="cy"' in html
    switcher = re.findall(r'hreflang="(\w+)"', html)
    assert switcher[:2] == ["cy", "en"]
    assert '<html lang="en"' in page(client, "/", **{"Accept-Language": "en-GB"})


def test_closed_consultations_show_what_was_said_and_done_and_link_their_results(client, services, db):
    answer(db, "crime-perception", [{"home_safe": "fairly_safe"}] * 12 + [{"home_safe": "unsafe"}] * 10)
    publish(services, "crime-perception")
    html = page(client, "/")
    assert 'id="consultation-crime-perception"' not in html
    card = section(html, "closed-crime-perception")
    assert "Closed on 18 October 2026." in card
    assert "22 people answered." in card
    assert "We are putting 12 new lights in Town Park in March." in card
    assert 'href="/results/crime-perception?lang=en"' in card
    # A closed consultation with nothing published yet is not shown as closed with an outcome.
    assert 'id="closed-climate-pulse"' not in html


def test_results_are_public_only_for_a_public_flow_or_once_the_council_has_published(client, services, db):
    assert client.get("/results/street-safety").status_code == 404  # open, not marked public_results
    assert client.get("/results/crime-perception").status_code == 404  # closed, nothing published
    assert client.get("/results/no-such-flow").status_code == 404
    publish(services, "crime-perception")
    assert client.get("/results/crime-perception").status_code == 200


def test_public_results_show_percentages_and_hide_small_numbers_free_text_and_special_category(
        client, services, db, flows_dir):
    source = (flows_dir / "street-safety.yaml").read_text()
    (flows_dir / "street-safety.yaml").write_text(source.replace("expires_after: 48h", "expires_after: 48h\n"
                                                                 "public_results: true"))
    services.registry.reload()
    answer(db, "street-safety", [{"feel_safe": "safe", "where": "Behind the Water Gardens, a named house"}] * 30
           + [{"feel_safe": "unsafe"}] * 16 + [{"feel_safe": "unsure"}] * 4)
    html = page(client, "/results/street-safety")
    assert "50 people answered." in html
    question = section(html, "feel_safe")
    assert re.search(r"Safe</th>.*?60%", question, re.S)
    # "Not sure" (4) is under 10: hidden, and so is the next smallest, "Unsafe" (16), or 4 = 50 - 30 - 16.
    assert "32%" not in question and "8%" not in question
    assert question.count("not shown") == 2
    assert "Water Gardens" not in html  # free text never leaves the dashboard
    # Steps that ask about ethnicity or disability are never on public pages.
    flow = services.registry.get("street-safety")
    for step in flow.steps:
        if step.special_category or step.save_to in ("ethnicity", "disability"):
            assert f'id="{step.id}"' not in html


def test_a_question_with_fewer_than_ten_answers_shows_no_figures(client, services, db):
    answer(db, "crime-perception", [{"home_safe": "fairly_safe"}] * 6 + [{"trend": "up"}] * 2)
    publish(services, "crime-perception")
    html = page(client, "/results/crime-perception")
    assert "Fewer than 10 people have answered so far" in html
    assert "Not enough answers to show." in section(html, "home_safe")
    assert "%" not in section(html, "home_safe").replace("100%", "")


def test_a_question_permalink_previews_its_own_figures(client, services, db):
    answer(db, "crime-perception", [{"home_safe": "fairly_safe"}] * 15 + [{"home_safe": "unsafe"}] * 10
           + [{"home_safe": "very_safe"}] * 15)
    publish(services, "crime-perception")
    html = page(client, "/results/crime-perception/home_safe")
    assert '<meta property="og:title" content="How safe do you feel in your own home?">' in html
    description = re.search(r'<meta property="og:description" content="([^"]*)"', html).group(1)
    assert description.startswith("38% chose “") and "Perception of crime survey, Harlow Council." in description
    assert 'href="/results/crime-perception/home_safe?lang=en#home_safe"' in html
    assert client.get("/results/crime-perception/not_a_step").status_code == 404


def test_you_said_we_did_is_wholly_in_welsh_with_welsh_dates(client, services, db):
    answer(db, "crime-perception", [{"home_safe": "unsafe"}] * 3)
    update_id = publish(services, "crime-perception")
    html = page(client, "/you-said-we-did?lang=cy")
    for english in ("We asked:", "residents answered", "Read more", "Plain text for a newsletter", "December"):
        assert english not in html
    assert "Rydym yn gosod 12 golau newydd" in html and "Testun plaen ar gyfer cylchlythyr" in html
    text = client.get(f"/you-said-we-did/{update_id}.txt?lang=cy").get_data(as_text=True)
    assert "Beth ofynnon ni:" in text and "What we asked" not in text
    urdu = page(client, "/you-said-we-did?lang=ur")
    assert 'dir="rtl"' in urdu


def test_the_accessibility_statement_names_the_councils_contact(client):
    html = page(client, "/accessibility")
    assert "<h1>Accessibility statement</h1>" in html
    assert "engagement@harlow.gov.uk" in html
    assert "What to do if you cannot use this service" in html and "Enforcement procedure" in html
    assert "Datganiad hygyrchedd" in page(client, "/accessibility?lang=cy")


def test_the_councils_logo_and_colour_are_configuration(app_config, db, tmp_path):
    logo = tmp_path / "logo.svg"
    logo.write_text('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"></svg>')
    client = create_app({**app_config, "council_logo": str(logo), "brand_colour": "#0b3d2e"}).test_client()
    html = page(client, "/")
    assert '<img src="/council-logo" alt="">' in html and "Harlow Council" in html
    assert client.get("/council-logo").data == logo.read_bytes()
    assert "--brand: #0b3d2e;" in client.get("/public/brand.css").get_data(as_text=True)
    plain = create_app(app_config).test_client()
    assert plain.get("/council-logo").status_code == 404
    assert "--brand: #1d4f91;" in plain.get("/public/brand.css").get_data(as_text=True)


@pytest.mark.parametrize("colour, reason", [("#ffdd00", "contrast of 1.3:1"), ("#1d70b8a", "not a hex colour")])
def test_a_brand_colour_that_fails_wcag_aa_is_refused(app_config, db, colour, reason):
    with pytest.raises(BrandingRefused, match=reason):
        create_app({**app_config, "brand_colour": colour})


def test_a_missing_logo_file_is_refused(app_config, db, tmp_path):
    with pytest.raises(BrandingRefused, match="does not exist"):
        create_app({**app_config, "council_logo": str(tmp_path / "nope.png")})
