"""The web chat in every shipped language in headless Chromium: no English UI words, right-to-left pages fit a
phone (no sideways scrolling, the first message on screen).

Chromium is Debian's package (/usr/bin/chromium); Playwright only drives it.
"""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from flows.loader import load_flow_text
from locales.languages import CODES, direction
from tests.support.browser import chromium, served
from tests.support.english_words import english_on_page

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}

# One question in all ten languages, so every page is wholly in its language (the buttons are the catalogs').
QUESTION = {
    "en": "Are you happy with bin collections?", "cy": "Ydych chi'n hapus gyda chasgliadau biniau?",
    "pl": "Czy jesteś zadowolony z wywozu śmieci?", "ro": "Sunteți mulțumit de colectarea gunoiului?",
    "pa": "ਕੀ ਤੁਸੀਂ ਕੂੜਾ ਚੁੱਕਣ ਤੋਂ ਖੁਸ਼ ਹੋ?", "ur": "کیا آپ کوڑا اٹھانے سے مطمئن ہیں؟",
    "bn": "আপনি কি বর্জ্য সংগ্রহে সন্তুষ্ট?", "pt": "Está satisfeito com a recolha do lixo?",
    "ar": "هل أنت راضٍ عن جمع النفايات؟", "so": "Ma ku faraxsan tahay qashin qaadista?",
}
WHY = {
    "en": "Tell us why.", "cy": "Dywedwch pam wrthym.", "pl": "Powiedz nam dlaczego.", "ro": "Spuneți-ne de ce.",
    "pa": "ਸਾਨੂੰ ਦੱਸੋ ਕਿਉਂ।", "ur": "ہمیں بتائیں کیوں۔", "bn": "আমাদের বলুন কেন।", "pt": "Diga-nos porquê.",
    "ar": "أخبرنا لماذا.", "so": "Noo sheeg sababta.",
}
THANKS = {
    "en": "Thank you.", "cy": "Diolch.", "pl": "Dziękujemy.", "ro": "Vă mulțumim.", "pa": "ਧੰਨਵਾਦ।",
    "ur": "شکریہ۔", "bn": "ধন্যবাদ।", "pt": "Obrigado.", "ar": "شكرًا.", "so": "Mahadsanid.",
}


def _texts(texts: dict[str, str]) -> str:
    return "{" + ", ".join(f'{code}: "{text}"' for code, text in texts.items()) + "}"


BINS = f"""\
id: bins-everywhere
title: {_texts({code: "Bins" if code == "en" else QUESTION[code][:12] for code in CODES})}
languages: [{", ".join(CODES)}]
steps:
  - id: happy
    ask: {_texts(QUESTION)}
    yes_no: true
    optional: true
  - id: why
    ask: {_texts(WHY)}
    text: {{max_length: 300}}
  - id: thanks
    say: {_texts(THANKS)}
"""


@pytest.fixture
def live_server(app, services):
    """Serve the app, with the ten-language flow published, on a free loopback port from a thread."""
    services.registry.add(load_flow_text(BINS, "bins-everywhere.yaml"))
    with served(app) as url:
        yield url


@pytest.fixture
def browser():
    with chromium() as launched:
        yield launched


def phone_tab(browser, base_url: str, javascript: bool = True):
    context = browser.new_context(base_url=base_url, viewport=PHONE, java_script_enabled=javascript,
                                  is_mobile=True, has_touch=True)
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    return tab


def assert_fits_the_phone(tab) -> None:
    widths = tab.evaluate("() => [document.documentElement.scrollWidth, document.body.scrollWidth, innerWidth]")
    assert max(widths[:2]) <= widths[2] == PHONE["width"], f"the page scrolls sideways: {widths}"
    first = tab.locator("#messages .message").first
    expect(first).to_be_in_viewport()
    box = first.bounding_box()
    assert 0 <= box["x"] and box["x"] + box["width"] <= PHONE["width"], box


@pytest.mark.parametrize("lang", ["ur", "ar", "cy"])
def test_the_chat_fits_a_phone_with_the_first_message_on_screen(browser, live_server, lang):
    tab = phone_tab(browser, live_server)
    tab.goto(f"/chat/bins-everywhere?lang={lang}")
    expect(tab.locator("html")).to_have_attribute("dir", direction(lang))
    expect(tab.locator("#messages .message").first).to_contain_text(QUESTION[lang])
    assert_fits_the_phone(tab)
    # The skip link still works: focused, it shows on screen and leads to the answer.
    tab.keyboard.press("Tab")
    expect(tab.locator(".skip-link")).to_be_focused()
    expect(tab.locator(".skip-link")).to_be_in_viewport()
    assert_fits_the_phone(tab)
    tab.context.close()


def test_the_urdu_chat_at_390_pixels_has_no_sideways_scroll_with_the_library_flow(browser, live_server):
    # A flow without Urdu: the page is Urdu and right-to-left, the question comes in the flow's base language.
    tab = phone_tab(browser, live_server)
    tab.goto("/chat/street-safety?lang=ur")
    expect(tab.locator("html")).to_have_attribute("dir", "rtl")
    assert_fits_the_phone(tab)
    tab.context.close()


@pytest.mark.parametrize("javascript", [True, False], ids=["script", "no-script"])
@pytest.mark.parametrize("lang", CODES)
def test_every_screen_of_the_chat_is_in_the_residents_language(browser, live_server, lang, javascript):
    tab = phone_tab(browser, live_server, javascript=javascript)
    tab.goto(f"/chat/bins-everywhere?lang={lang}")
    expect(tab.locator("#messages")).to_contain_text(QUESTION[lang])
    seen = {"first question": english_on_page(tab, lang)}
    # A typed answer that is no answer, then the buttons.
    tab.locator("#text").fill("?")
    tab.locator("#answer .typed button.send").click()
    expect(tab.locator("#messages .message-council")).to_have_count(2)
    seen["answer not understood"] = english_on_page(tab, lang)
    tab.locator("#answer button.choice").first.click()
    expect(tab.locator("#messages")).to_contain_text(WHY[lang])
    seen["typed question"] = english_on_page(tab, lang)
    tab.locator("#text").fill("Too noisy")
    tab.locator("#answer .typed button.send").click()
    expect(tab.locator("#messages")).to_contain_text(THANKS[lang])
    seen["the end"] = english_on_page(tab, lang)
    assert {screen: words for screen, words in seen.items() if words} == {}
    tab.context.close()
