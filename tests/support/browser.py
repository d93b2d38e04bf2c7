"""Pages in Debian's headless Chromium: serve the app on loopback, open a page, check it with axe-core.

Playwright only drives the browser; it never downloads one. axe-core comes inside the axe-playwright-python
package, so nothing is fetched at run time.
"""
from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
PHONE = {"width": 320, "height": 640}
# Controls a finger or a pointer must hit: WCAG 2.2's 2.5.8 asks 24 by 24 CSS pixels at least.
TARGETS = "button, input:not([type=hidden]), select, textarea, a.button, nav a, footer a, .ways a"


@contextmanager
def served(app) -> Iterator[str]:
    """Serve the app on 127.0.0.1 on a free port from a thread; yield its base URL."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(5)


@contextmanager
def chromium():
    """Launch Debian's headless Chromium; yield the Playwright browser."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: apt-get install -y chromium (.ci/run does this)")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def new_tab(browser, base_url: str, **context_options):
    """Open a tab in a fresh browser context (its own cookies) on the served app."""
    context = browser.new_context(base_url=base_url, **context_options)
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    return tab


def csp_reports(tab) -> list[str]:
    """Collect what the Content-Security-Policy blocks on this tab (an inline script or style, a chart's
    drawing, an embedded preview): a page that needs any of it would be broken."""
    blocked: list[str] = []
    tab.on("console", lambda message: blocked.append(message.text)
           if "Content Security Policy" in message.text else None)
    return blocked


@contextmanager
def browser_page(base_url: str, *, viewport: dict | None = None, javascript: bool = True, locale: str = "en-GB",
                 **context_options):
    """Open a Chromium tab on the served app; yield the Playwright page."""
    with chromium() as browser:
        tab = new_tab(browser, base_url, viewport=viewport or {"width": 1280, "height": 900},
                      java_script_enabled=javascript, locale=locale, **context_options)
        try:
            yield tab
        finally:
            tab.context.close()


def axe_problems(page, impacts: tuple[str, ...] = ("serious", "critical")) -> list[str]:
    """Run axe-core on the page as it is now; return its serious and critical violations, one line each."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    problems = []
    for violation in results.response["violations"]:
        if violation["impact"] in impacts:
            targets = [", ".join(node["target"]) for node in violation["nodes"]][:3]
            problems.append(f"{violation['id']} ({violation['impact']}): {violation['help']} at {targets}")
    return problems


def horizontal_overflow(page) -> int:
    """Return how many CSS pixels the page is wider than the window (0 when it fits)."""
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def small_targets(page, selector: str = TARGETS) -> list[str]:
    """Return the visible controls smaller than 24 by 24 CSS pixels."""
    return page.evaluate("""selector => [...document.querySelectorAll(selector)]
        .filter(el => el.offsetParent !== null && !el.closest('.visually-hidden'))
        .map(el => [el, el.getBoundingClientRect()])
        .filter(([el, box]) => box.width < 24 || box.height < 24)
        .map(([el, box]) => `${el.tagName.toLowerCase()} "${(el.textContent || el.name || '').trim().slice(0, 30)}" `
                            + `${Math.round(box.width)}x${Math.round(box.height)}`)""", selector)


def focus_is_visible(page) -> bool:
    """Return True when the focused element shows an outline or a focus ring."""
    return page.evaluate("""() => { const el = document.activeElement; if (!el || el === document.body) return false;
        const style = getComputedStyle(el);
        const outlined = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0;
        return outlined || style.boxShadow !== 'none'; }""")
