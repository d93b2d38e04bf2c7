"""The dashboard in headless Chromium: sign in, upload a flow, residents answer by signed SMS, see it all change.

Chromium is Debian's package (/usr/bin/chromium); Playwright only drives it.
The app is served on a real loopback port from a thread, against the test database.
"""
from __future__ import annotations

import itertools
import urllib.parse
import urllib.request

import pytest
from openpyxl import load_workbook
from playwright.sync_api import expect
from twilio.request_validator import RequestValidator

from tests.dashboard.conftest import PASSWORD
from tests.support.browser import SCREENSHOTS, browser_page, csp_reports, served
from tests.support.dashboard import BAD_FLOW

pytestmark = pytest.mark.browser

AUTH_TOKEN = "browser-test-auth-token"
PUBLIC_URL = "http://outreach.test"
_sids = itertools.count(1)


@pytest.fixture
def app_config(app_config):
    return {**app_config, "twilio_auth_token": AUTH_TOKEN, "public_url": PUBLIC_URL}


@pytest.fixture
def live_server(app, officers):
    with served(app) as url:
        yield url


@pytest.fixture
def page(live_server):
    with browser_page(live_server, accept_downloads=True) as tab:
        blocked = csp_reports(tab)
        yield tab
        assert blocked == [], blocked


def text_in(live_server: str, phone: str, body: str) -> None:
    """Post an inbound SMS to the Twilio webhook, signed as Twilio signs it."""
    form = {"MessageSid": f"SM{next(_sids):032x}", "AccountSid": "AC" + "0" * 32, "From": phone,
            "To": "+447700900000", "Body": body, "NumSegments": "1"}
    signature = RequestValidator(AUTH_TOKEN).compute_signature(PUBLIC_URL + "/webhooks/twilio/sms", form)
    request = urllib.request.Request(live_server + "/webhooks/twilio/sms", data=urllib.parse.urlencode(form).encode(),
                                     headers={"X-Twilio-Signature": signature}, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


def answer_street_safety(live_server: str, phone: str, feel: str, age: str, where: str = "Station Road") -> None:
    """A resident texts SAFE and answers each question by number (or words)."""
    text_in(live_server, phone, "SAFE")
    text_in(live_server, phone, feel)
    if feel == "2":
        text_in(live_server, phone, where)
    text_in(live_server, phone, age)


def shot(page, name: str) -> None:
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def count_cell(page, step: str, value: str) -> str:
    return page.locator(f'table[data-step="{step}"] tr[data-value="{value}"] td.num').first.inner_text()


def test_an_officer_works_through_a_consultation(page, live_server, tmp_path):
    # Sign in.
    page.goto("/dashboard/")
    assert "/login" in page.url
    shot(page, "login")
    page.get_by_label("Email address").fill("officer@harlow.gov.uk")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/dashboard/")
    expect(page.get_by_role("heading", name="Home")).to_be_visible()
    shot(page, "home")

    # Upload a flow with a mistake: the problem shows at its line.
    page.goto("/dashboard/flows/edit")
    page.locator("#source").fill(BAD_FLOW)
    page.get_by_role("button", name="Check").click()
    problem = page.locator(".problems li").first
    assert "Line 13" in problem.inner_text() and "'nowhere' is not a step" in problem.inner_text()
    assert page.locator("#line-13.has-problem").count() == 1
    problem.locator("a").click()
    assert page.evaluate("document.activeElement.id") == "source"
    shot(page, "flow-error")

    # Fix it, check it, publish it, and try it in the embedded web chat.
    page.locator("#source").fill(BAD_FLOW.replace("default: nowhere", "default: end"))
    page.get_by_role("button", name="Check").click()
    expect(page.get_by_text("No problems found in bins")).to_be_visible()
    page.get_by_role("button", name="Publish").click()
    page.wait_for_url("**/dashboard/flows/bins")
    shot(page, "flow-detail")
    # The preview runs in an embedded web chat, and can also open in its own tab.
    frame = page.frame_locator("#preview-frame")
    expect(frame.get_by_text("Are you happy with bin collections?").first).to_be_visible()
    with page.context.expect_page() as opened:
        page.locator("#preview-link").click()
    chat = opened.value
    chat.wait_for_load_state()
    assert chat.url.endswith("/chat/bins?preview=1")
    expect(chat.get_by_text("Are you happy with bin collections?").first).to_be_visible()
    chat.screenshot(path=str(SCREENSHOTS / "flow-preview.png"), full_page=True)
    chat.close()

    # Residents answer by SMS through the signed Twilio webhook.
    answer_street_safety(live_server, "+447700900101", "1", "2")
    answer_street_safety(live_server, "+447700900102", "2", "2", where="The underpass <script>alert(1)</script>")
    page.goto("/dashboard/results/street-safety")
    assert count_cell(page, "feel_safe", "safe") == "1"
    assert count_cell(page, "feel_safe", "unsafe") == "1"
    page.wait_for_selector("canvas.bar-chart[data-rendered='1']")
    expect(page.get_by_text("The underpass <script>alert(1)</script>")).to_be_visible()
    answer_street_safety(live_server, "+447700900103", "1", "2")
    page.reload()
    assert count_cell(page, "feel_safe", "safe") == "2"
    assert page.locator("#count-completed").inner_text() == "3"
    shot(page, "results")
    page.set_viewport_size({"width": 390, "height": 844})
    shot(page, "results-phone")
    page.set_viewport_size({"width": 1280, "height": 900})

    # Everyone who answered is 18-64: under 18s and over 65s are flagged as under-reached.
    page.goto("/dashboard/representativeness?flow=street-safety")
    flagged = page.locator('table[data-dimension="age_band"] tr.flagged')
    # Groups are named by their labels, not their codes.
    assert sorted(flagged.locator("th").all_inner_texts()) == ["65 or over", "Under 18"]
    page.wait_for_selector("canvas.compare-chart[data-rendered='1']")
    shot(page, "representativeness")

    # Export the results as Excel and read the file back.
    page.goto("/dashboard/results/street-safety")
    with page.expect_download() as download:
        page.locator("#export-xlsx").click()
    path = tmp_path / "results.xlsx"
    download.value.save_as(path)
    rows = list(load_workbook(path)["Results"].iter_rows(values_only=True))
    assert len(rows) == 4
    # The answers' codes, then the labels of places and choices after every other column.
    assert rows[0][-8:] == ("feel_safe", "where", "age", "ward_label", "age_band_label", "tenure_label",
                            "feel_safe_label", "age_label")

    # "You said, we did": write it, preview it, send it to everyone who took part.
    page.goto("/dashboard/updates/new?flow_id=street-safety")
    page.locator("#said_en").fill("Two in three of you feel safe; the station underpass worries you.")
    page.locator("#did_en").fill("We are adding 40 street lights, four of them in the underpass.")
    page.locator("#why_en").fill("Your answers showed where the dark places are.")
    page.get_by_role("button", name="Save and preview").click()
    expect(page.get_by_text("We are adding 40 street lights").first).to_be_visible()
    page.get_by_role("button", name="Publish and send to everyone who took part").click()
    assert page.locator("#update-status").inner_text() == "sent"
    assert "queued" in page.locator("#update-delivery").inner_text()
    shot(page, "you-said-we-did")

    # A broadcast's message shows what the whole message costs as the officer types: 39 characters with a ŵ
    # are one Unicode part alone, two with the line saying who it is from and how to stop.
    page.goto("/dashboard/broadcasts/new")
    page.locator("#text_cy").fill("Dywedwch eich barn: anfonwch DIOGEL – ŵ")
    expect(page.locator("#count-cy")).to_contain_text("2 SMS segments (UCS-2")

    # The rest of the dashboard, for the record.
    for name, path in [("calendar", "/dashboard/calendar?year=2026&month=12"), ("flows", "/dashboard/flows"),
                       ("broadcast-new", "/dashboard/broadcasts/new"), ("contacts", "/dashboard/contacts"),
                       ("messages", "/dashboard/messages"), ("assisted", "/dashboard/assisted"),
                       ("audit", "/dashboard/audit")]:
        page.goto(path)
        expect(page.locator("h1").first).to_be_visible()
        shot(page, name)
    audit = page.locator("table").inner_text()
    # Actions in plain words, not their codes.
    assert "Flow published" in audit and "Export downloaded" in audit and "Update sent" in audit
    assert "flow.published" not in audit

    # The public page of updates, styled by the public pages' stylesheet (no inline style to need a nonce).
    page.goto("/you-said-we-did")
    expect(page.get_by_text("We are adding 40 street lights").first).to_be_visible()
    assert page.evaluate("getComputedStyle(document.querySelector('article.card')).borderTopWidth") == "5px"


def test_keyboard_users_can_skip_to_the_content(page, live_server):
    page.goto("/login")
    page.keyboard.press("Tab")
    skip = page.locator(".skip-link")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    expect(skip).to_be_visible()
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"


def test_a_resident_who_texts_the_keyword_again_is_counted_once_and_filters_narrow_the_cards(page, live_server):
    answer_street_safety(live_server, "+447700900121", "1", "2")
    text_in(live_server, "+447700900121", "SAFE")  # finished already: told so, nothing counted again
    text_in(live_server, "+447700900121", "2")
    answer_street_safety(live_server, "+447700900122", "2", "3")
    page.goto("/login")
    page.get_by_label("Email address").fill("officer@harlow.gov.uk")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/dashboard/")
    page.goto("/dashboard/results/street-safety")
    assert page.locator("#count-started").inner_text() == "2"
    assert count_cell(page, "feel_safe", "safe") == "1"
    assert count_cell(page, "feel_safe", "unsafe") == "1"
    page.goto("/dashboard/results/street-safety?age_band=65_plus")
    assert page.locator("#count-started").inner_text() == "1"
    assert page.locator("#count-completed").inner_text() == "1"
