"""The officers' dashboard in Welsh, walked in headless Chromium: no page shows an English UI word.

Chromium is Debian's package (/usr/bin/chromium); Playwright only drives it.
"""
from __future__ import annotations

import itertools
from datetime import date

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from engage import broadcasts, calendar, segments
from store.models import OutboxMessage
from store.models.officers import Officer
from tests.dashboard.conftest import PASSWORD
from tests.support.browser import browser_page, served
from tests.support.english_words import english_on_page
from tests.support.outreach import make_contact

pytestmark = pytest.mark.browser

_ids = itertools.count(1)

PAGES = ["/dashboard/", "/dashboard/flows", "/dashboard/flows/street-safety", "/dashboard/flows/edit",
         "/dashboard/results", "/dashboard/results/street-safety", "/dashboard/representativeness",
         "/dashboard/broadcasts", "/dashboard/broadcasts/new", "/dashboard/segments/new", "/dashboard/updates",
         "/dashboard/updates/new", "/dashboard/calendar", "/dashboard/contacts", "/dashboard/messages",
         "/dashboard/assisted", "/dashboard/audit", "/dashboard/accounts"]


@pytest.fixture
def live_server(app, officers):
    with served(app) as url:
        yield url


@pytest.fixture
def page(live_server):
    with browser_page(live_server, locale="cy-GB",
                      extra_http_headers={"Accept-Language": "cy-GB,cy;q=0.9"}) as tab:
        yield tab


def text_in(services, phone: str, text: str) -> None:
    row_id, _created = services.conversations.store_inbound("sms", f"SMCY{next(_ids):028d}", phone, text, {})
    services.conversations.process_inbound(row_id)


def test_every_dashboard_page_is_welsh_for_a_welsh_officer(page, services, db):
    for n, (keyword, feel, age) in enumerate([("SAFE", "1", "2"), ("DIOGEL", "2", "3"), ("SAFE", "3", "1")]):
        phone = f"+4477009005{n:02d}"
        for reply in (keyword, feel, *(["Station Road"] if feel == "2" else []), age):
            text_in(services, phone, reply)
    with db.session() as s:
        for officer in s.scalars(select(Officer)):
            officer.language = "cy"
        # A broadcast (status tags, skip reasons), a short consultation (a calendar warning) and a message a
        # carrier refused (a provider error explained).
        everyone = segments.create_segment(s, "Pawb", {"all": []}, services.clock.now())
        make_contact(s, language="pl", consent="opted_out")
        broadcast = broadcasts.create_broadcast(s, name="Biniau", segment=everyone, now=services.clock.now(),
                                                tz="Europe/London", texts={"en": "Bins on Tuesday."})
        broadcast_id = broadcast.id
        # Planned for a flow not yet written: a published flow's entry follows the dates its file sets.
        calendar.create_consultation(s, flow_id="street-lights", title="Goleuadau", opens=date(2026, 12, 3),
                                     closes=date(2026, 12, 6), now=services.clock.now())
        refused = s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).first()
        refused.status, refused.error_code = "failed", "30005"
        contact_id = refused.contact_id
    broadcasts.fire_broadcast(services, broadcast_id)
    page.goto("/dashboard/")
    found = {"/login": english_on_page(page, "cy")}
    page.locator("#email").fill("admin@harlow.gov.uk")
    page.locator("#password").fill(PASSWORD)
    page.locator("form.stack button[type=submit]").click()
    page.wait_for_url("**/dashboard/")
    expect(page.locator("html")).to_have_attribute("lang", "cy")
    for path in [*PAGES, f"/dashboard/broadcasts/{broadcast_id}", f"/dashboard/contacts/{contact_id}",
                 "/dashboard/messages?status=failed"]:
        response = page.goto(path)
        assert response.status == 200, path
        page.wait_for_load_state("networkidle")
        found[path] = english_on_page(page, "cy")
    assert {path: words for path, words in found.items() if words} == {}
    # The words that were English before: tags, reasons, warnings, provider errors, dates.
    page.goto(f"/dashboard/broadcasts/{broadcast_id}")
    expect(page.locator("main")).to_contain_text("wedi optio allan: 1")
    page.goto("/dashboard/calendar")
    expect(page.locator(".warning-box")).to_contain_text("Mae “Goleuadau” ar agor am 4 o ddiwrnodau")
    expect(page.locator("h1")).to_contain_text("Rhagfyr 2026")
    page.goto("/dashboard/messages?status=failed")
    expect(page.locator("main")).to_contain_text("Nid yw’r rhif yn bodoli")
    page.goto("/dashboard/audit")
    expect(page.locator("main")).to_contain_text("Mewngofnodwyd")
