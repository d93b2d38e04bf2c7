"""Accessibility, proved in Chromium: axe-core on every public page and each step of a web chat, in English,
Welsh and Urdu; a chat completed by keyboard alone with the focus always visible; targets of 24 px; phones."""
from __future__ import annotations

import pytest

from app import create_app
from tests.public.conftest import answer, publish
from tests.support.browser import (
    PHONE,
    SCREENSHOTS,
    axe_problems,
    browser_page,
    focus_is_visible,
    horizontal_overflow,
    served,
    small_targets,
)

pytestmark = pytest.mark.browser
LANGUAGES = ("en", "cy", "ur")

# One flow with every kind of question, in a left-to-right and a right-to-left language besides English.
ALL_KINDS = """id: all-kinds
title: Library services
languages: [en, cy, ur]
keywords: [LIBRARY]
public: true
steps:
  - id: visit
    ask:
      en: How often do you visit a library?
      cy: Pa mor aml ydych chi'n ymweld â llyfrgell?
      ur: آپ کتنی بار لائبریری جاتے ہیں؟
    choices:
      - {value: weekly, en: Every week, cy: Bob wythnos, ur: ہر ہفتے}
      - {value: monthly, en: Every month, cy: Bob mis, ur: ہر مہینے}
      - {value: never, en: Never, cy: Byth, ur: کبھی نہیں}
  - id: services
    ask:
      en: Which services do you use?
      cy: Pa wasanaethau ydych chi'n eu defnyddio?
      ur: آپ کون سی خدمات استعمال کرتے ہیں؟
    multiple: true
    choices:
      - {value: books, en: Books, cy: Llyfrau, ur: کتابیں}
      - {value: computers, en: Computers, cy: Cyfrifiaduron, ur: کمپیوٹر}
      - {value: events, en: Events, cy: Digwyddiadau, ur: تقریبات}
  - id: open_sunday
    ask:
      en: Should libraries open on Sundays?
      cy: A ddylai llyfrgelloedd agor ar ddydd Sul?
      ur: کیا لائبریریاں اتوار کو کھلنی چاہییں؟
    yes_no: true
  - id: rating
    ask:
      en: How good is your library?
      cy: Pa mor dda yw eich llyfrgell?
      ur: آپ کی لائبریری کتنی اچھی ہے؟
    scale: {min: 1, max: 5}
  - id: books_a_month
    ask:
      en: How many books do you borrow in a month?
      cy: Sawl llyfr ydych chi'n ei fenthyg bob mis?
      ur: آپ ایک مہینے میں کتنی کتابیں لیتے ہیں؟
    number: {min: 0, max: 50, integer: true}
  - id: improve
    ask:
      en: What one thing would make your library better?
      cy: Beth fyddai'n gwneud eich llyfrgell yn well?
      ur: کون سی ایک چیز آپ کی لائبریری کو بہتر بنائے گی؟
    text: {max_length: 300}
  - id: thanks
    say:
      en: Thank you for helping us plan library services.
      cy: Diolch am ein helpu i gynllunio gwasanaethau llyfrgell.
      ur: لائبریری کی خدمات کی منصوبہ بندی میں مدد کا شکریہ۔
"""


@pytest.fixture
def app_config(app_config, flows_dir):
    (flows_dir / "all-kinds.yaml").write_text(ALL_KINDS, encoding="utf-8")
    return app_config


@pytest.fixture
def base_url(app, services, db):
    answer(db, "crime-perception", [{"home_safe": "fairly_safe", "trend": "up"}] * 12
           + [{"home_safe": "unsafe", "trend": "same"}] * 10)
    publish(services, "crime-perception")
    with served(app) as url:
        yield url


def check(page, where: str) -> None:
    problems = axe_problems(page)
    assert not problems, f"{where}:\n" + "\n".join(problems)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_public_pages_pass_axe_in_each_language(base_url, lang):
    with browser_page(base_url) as page:
        for path in ("/", "/results/crime-perception", "/you-said-we-did", "/accessibility"):
            page.goto(f"{path}?lang={lang}")
            assert page.locator("html").get_attribute("lang") == lang
            check(page, f"{path} in {lang}")
        page.goto(f"/?lang={lang}")
        page.screenshot(path=str(SCREENSHOTS / f"public-hub-{lang}.png"), full_page=True)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_step_of_a_web_chat_passes_axe_in_each_language(base_url, lang):
    with browser_page(base_url) as page:
        page.goto(f"/chat/all-kinds?lang={lang}")
        check(page, f"choice question in {lang}")
        page.locator("button.choice").first.click()
        page.wait_for_selector("input[type=checkbox]")
        check(page, f"multiple choice in {lang}")
        page.locator("input[type=checkbox]").first.check()
        page.locator("fieldset button.send").click()
        page.wait_for_selector("text=" + {"en": "Sundays", "cy": "dydd Sul", "ur": "اتوار"}[lang])
        check(page, f"yes/no in {lang}")
        page.locator("button.choice").first.click()
        page.wait_for_selector("text=" + {"en": "How good", "cy": "Pa mor dda", "ur": "کتنی اچھی"}[lang])
        check(page, f"scale in {lang}")
        page.locator("button.choice").last.click()
        page.wait_for_selector("text=" + {"en": "How many books", "cy": "Sawl llyfr", "ur": "کتنی کتابیں"}[lang])
        check(page, f"number in {lang}")
        page.fill("textarea#text", "lots and lots")  # not a number: the council asks again
        page.locator(".typed button.send").click()
        page.wait_for_selector(".message-resident >> text=lots and lots")
        check(page, f"a re-asked question in {lang}")
        page.fill("textarea#text", "4")
        page.locator(".typed button.send").click()
        page.wait_for_selector("text=" + {"en": "one thing", "cy": "yn well", "ur": "بہتر"}[lang])
        check(page, f"free text in {lang}")
        page.fill("textarea#text", "Longer hours")
        page.locator(".typed button.send").click()
        page.wait_for_selector("text=" + {"en": "Thank you for helping", "cy": "Diolch am ein helpu",
                                          "ur": "مدد کا شکریہ"}[lang])
        check(page, f"the end in {lang}")
        page.screenshot(path=str(SCREENSHOTS / f"webchat-end-{lang}.png"), full_page=True)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_web_chat_error_state_passes_axe(base_url, lang):
    with browser_page(base_url) as page:
        page.goto(f"/chat/all-kinds?lang={lang}")
        # Post the form the plain way (as with scripts off) with nothing typed: the page says what is wrong.
        with page.expect_navigation():
            page.evaluate("document.getElementById('answer').submit()")
        page.wait_for_selector("#answer-error")
        check(page, f"error state in {lang}")


def test_a_web_chat_can_be_completed_by_keyboard_alone_with_the_focus_always_visible(base_url):
    with browser_page(base_url) as page:
        page.goto("/chat/all-kinds?lang=en")

        def tab_to(predicate: str, limit: int = 40) -> None:
            for _ in range(limit):
                page.keyboard.press("Tab")
                if page.evaluate("document.activeElement === document.body"):
                    continue  # the browser's own toolbar took the focus: nothing of ours to see
                assert focus_is_visible(page), page.evaluate("document.activeElement.outerHTML")
                if page.evaluate(f"(() => {{ const el = document.activeElement; return {predicate}; }})()"):
                    return
            raise AssertionError(f"never reached {predicate} by Tab")

        tab_to("el.matches('button.choice') && el.textContent.includes('Every month')")
        page.keyboard.press("Enter")
        page.wait_for_selector("input[type=checkbox]")
        tab_to("el.matches('input[type=checkbox]')")
        page.keyboard.press("Space")
        tab_to("el.matches('fieldset button.send')")
        page.keyboard.press("Enter")
        page.wait_for_selector("text=Sundays")
        tab_to("el.matches('button.choice')")
        page.keyboard.press("Enter")
        page.wait_for_selector("text=How good")
        tab_to("el.matches('button.choice') && el.textContent.trim().startsWith('4')")
        page.keyboard.press("Enter")
        page.wait_for_selector("text=How many books")
        tab_to("el.matches('textarea')")
        page.keyboard.type("3")
        tab_to("el.matches('.typed button.send')")
        page.keyboard.press("Enter")
        page.wait_for_selector("text=one thing")
        tab_to("el.matches('textarea')")
        page.keyboard.type("Open later")
        tab_to("el.matches('.typed button.send')")
        page.keyboard.press("Enter")
        page.wait_for_selector("text=Thank you for helping")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_controls_are_at_least_24_pixels_and_phones_never_scroll_sideways(base_url, lang):
    with browser_page(base_url, viewport=PHONE) as page:
        for path in ("/", "/results/crime-perception", "/you-said-we-did", "/accessibility",
                     "/chat/all-kinds"):
            page.goto(f"{path}?lang={lang}")
            assert horizontal_overflow(page) == 0, f"{path} in {lang} scrolls sideways at 320 px"
            assert small_targets(page) == [], f"{path} in {lang}"
        page.goto(f"/?lang={lang}")
        page.screenshot(path=str(SCREENSHOTS / f"public-hub-{lang}-320.png"), full_page=True)


def test_the_front_door_works_with_javascript_off(base_url):
    with browser_page(base_url, javascript=False, viewport=PHONE) as page:
        page.goto("/?lang=cy")
        card = page.locator("#consultation-street-safety")
        assert card.locator("a.button").get_attribute("href").endswith("/chat/street-safety?lang=cy")
        card.locator("a.button").click(force=True)
        page.wait_for_url("**/chat/street-safety?lang=cy")
        # The chat opened from a Welsh page is in Welsh, its flow's Welsh title included.
        assert page.locator("h1").inner_text() == "Teimlo'n ddiogel yn eich cymdogaeth"
        assert page.locator("html").get_attribute("lang") == "cy"
        page.goto("/results/crime-perception?lang=cy")
        assert page.locator("table.result-table").count() >= 1


def test_a_configured_brand_colour_is_shown_on_public_pages(app_config, db):
    application = create_app({**app_config, "brand_colour": "#0b3d2e"})
    with served(application) as url, browser_page(url) as page:
        page.goto("/")
        colour = page.evaluate("getComputedStyle(document.querySelector('.site-header')).backgroundColor")
        assert colour == "rgb(11, 61, 46)"
