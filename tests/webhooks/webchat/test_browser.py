"""The web chat in headless Chromium: live with JavaScript, the same with it off, and by keyboard alone.

Chromium is Debian's package (/usr/bin/chromium); Playwright only drives it.
"""
from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from store.models import Answer
from tests.support.browser import chromium, served

pytestmark = pytest.mark.browser



@pytest.fixture
def live_server(app):
    with served(app) as url:
        yield url


@pytest.fixture
def browser():
    with chromium() as launched:
        yield launched


def new_tab(browser, base_url: str, javascript: bool = True):
    context = browser.new_context(base_url=base_url, java_script_enabled=javascript)
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    return tab


def answers(db) -> dict:
    with db.session() as s:
        return {a.step_id: a.value for a in s.scalars(select(Answer))}


def test_with_javascript_answers_appear_without_reloading_the_page(browser, live_server, db):
    tab = new_tab(browser, live_server)
    tab.goto("/chat/street-safety")
    navigations = []
    tab.on("framenavigated", lambda frame: navigations.append(frame.url))
    tab.get_by_role("button", name="Unsafe").click()
    log = tab.locator("#messages")
    expect(log.locator(".message-resident .message-text")).to_have_text(["Unsafe"])
    expect(log.locator(".message-council").last).to_contain_text("Which street or place feels least safe?")
    tab.get_by_label("Your message").fill("Station Road <b>underpass</b>")
    tab.get_by_role("button", name="Send").click()
    expect(log.locator(".message-council").last).to_contain_text("How old are you?")
    expect(log.locator(".message-resident .message-text").last).to_have_text("Station Road <b>underpass</b>")
    assert navigations == []
    assert answers(db) == {"feel_safe": "unsafe", "where": "Station Road <b>underpass</b>"}


def test_with_javascript_off_the_plain_forms_do_the_same(browser, live_server, db):
    tab = new_tab(browser, live_server, javascript=False)
    tab.goto("/chat/street-safety")
    tab.get_by_role("button", name="Safe", exact=True).click()
    expect(tab.locator("#messages .message-council").last).to_contain_text("How old are you?")
    assert tab.url.endswith("/chat/street-safety#latest")
    tab.get_by_role("button", name="65 or over").click()
    expect(tab.locator("#messages .message-council").last).to_contain_text("We will tell you what we did")
    assert answers(db) == {"feel_safe": "safe", "age": "65_plus"}


def test_a_resident_can_answer_with_the_keyboard_alone(browser, live_server, db):
    tab = new_tab(browser, live_server)
    tab.goto("/chat/street-safety")
    for _ in range(12):
        tab.keyboard.press("Tab")
        if tab.evaluate("document.activeElement.textContent.trim()") == "Not sure":
            break
    else:
        pytest.fail("Tab never reached the 'Not sure' button")
    tab.keyboard.press("Enter")
    expect(tab.locator("#messages .message-council").last).to_contain_text("How old are you?")
    # Focus moves to the next question's first button, ready for the next key press.
    assert tab.evaluate("document.activeElement.textContent.trim()") == "Under 18"
    assert answers(db) == {"feel_safe": "unsure"}


def test_an_urdu_page_reads_right_to_left(browser, live_server):
    tab = new_tab(browser, live_server)
    tab.goto("/chat/street-safety?lang=ur")
    assert tab.evaluate("getComputedStyle(document.body).direction") == "rtl"
    assert tab.evaluate("document.querySelector('.message-council').dir") == "ltr"


def _resident_markup(tab) -> list[str]:
    """The residents' lines as markup, without what only marks the newest line of a served page."""
    return tab.evaluate("""Array.from(document.querySelectorAll('#messages .message-resident')).map(function (li) {
        var copy = li.cloneNode(true); copy.removeAttribute('id'); copy.removeAttribute('tabindex');
        return copy.outerHTML; })""")


def test_with_javascript_a_residents_arabic_line_is_marked_up_as_the_server_does(browser, live_server, db):
    tab = new_tab(browser, live_server)
    tab.goto("/chat/street-safety?lang=ar")
    tab.locator("#text").fill("لا أعرف")
    tab.locator(".typed button.send").click()
    own = tab.locator("#messages .message-resident")
    expect(own).to_have_count(1)
    expect(tab.locator("#messages .message-council").last).to_contain_text("How old are you?")
    assert own.get_attribute("lang") == "ar" and own.get_attribute("dir") == "rtl"
    assert tab.evaluate("getComputedStyle(document.querySelector('#messages .message-resident')).direction") == "rtl"
    from locales import i18n

    assert own.locator(".visually-hidden").text_content().strip() == i18n.gettext("ar", "You said:")
    live = _resident_markup(tab)
    tab.reload()
    assert _resident_markup(tab) == live
    assert answers(db) == {"feel_safe": "unsure"}


def test_with_javascript_a_pressed_button_is_shown_as_the_server_shows_it(browser, live_server, db):
    tab = new_tab(browser, live_server)
    tab.goto("/chat/street-safety")
    tab.get_by_role("button", name="Unsafe").click()
    expect(tab.locator("#messages .message-council").last).to_contain_text("Which street")
    live = _resident_markup(tab)
    assert len(live) == 1 and "You said:" in live[0] and 'lang="en"' in live[0] and 'dir="ltr"' in live[0]
    tab.reload()
    assert _resident_markup(tab) == live


def test_a_message_bubble_starts_with_its_text_not_blank_lines(browser, live_server):
    tab = new_tab(browser, live_server)
    tab.goto("/chat/street-safety")
    bubble = tab.locator("#messages .message-council").first
    expect(bubble).to_contain_text("How safe do you feel")
    # The text sits right under the bubble's padding: no empty lines from the template's indentation.
    gap = bubble.evaluate("li => li.querySelector('.message-text').getBoundingClientRect().top"
                          " - li.getBoundingClientRect().top - parseFloat(getComputedStyle(li).paddingTop)")
    assert abs(gap) < 2, gap
    assert bubble.locator(".message-text").inner_text().startswith("How safe do you feel")
