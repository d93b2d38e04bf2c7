"""Themes in headless Chromium: from the results to the themes, find them, rename one, merge two."""
from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from store.models.officers import AuditLog
from store.models.themes import Theme
from tests.dashboard import test_browser
from tests.dashboard.test_browser import shot
from tests.dashboard.test_browser_contacts import sign_in
from tests.support.dashboard import respondent, run_with_answers

pytestmark = pytest.mark.browser
live_server = test_browser.live_server
page = test_browser.page

ANSWERS = (["The street lights are broken near the station", "no street lights in the alley, too dark",
            "more street lighting by the underpass"] * 4
           + ["the buses are always late", "more buses in the evening please", "the bus never turns up"] * 4
           + ["potholes everywhere on my road", "the road is full of potholes", "fix the potholes"] * 4)


def test_an_officer_opens_renames_and_merges_themes(page, live_server, services, clock):
    with services.db.session() as s:
        for i, text in enumerate(ANSWERS):
            contact, _ = respondent(s, fields={"ward": "Mark Hall"})
            run_with_answers(s, "street-safety", contact, {"feel_safe": "unsafe", "where": text},
                             started=clock.now() + timedelta(seconds=i))
    sign_in(page)
    page.goto("/dashboard/results/street-safety")
    page.locator("#themes-link").click()
    expect(page.get_by_role("heading", name="Themes: Which street or place feels least safe?")).to_be_visible()
    page.locator("#analyse").click()
    expect(page.locator(".flash-success")).to_contain_text("Themes brought up to date.")
    expect(page.locator("section.theme").first).to_be_visible()
    expect(page.get_by_text("The street lights are broken near the station").first).to_be_visible()
    with services.db.session() as s:
        themes = list(s.scalars(select(Theme).where(Theme.status == "active").order_by(Theme.id)))
    assert len(themes) >= 2
    lights = next(t for t in themes if any("light" in w for w in t.words))
    page.locator(f"#rename-{lights.id}").fill("Street lighting near the station")
    page.locator(f"#theme-{lights.id} form.rename button").click()
    expect(page.get_by_role("heading", name="Street lighting near the station")).to_be_visible()
    expect(page.locator(f"#theme-{lights.id} .said")).to_contain_text("of you named Street lighting near the station")
    others = [t for t in themes if t.id != lights.id]
    for other in others:
        page.locator(f'#merge-form input[name="theme"][value="{other.id}"]').check()
    page.locator("#merge-into").select_option(str(lights.id))
    page.locator("#merge-form button").click()
    expect(page.locator(".flash-success")).to_contain_text("Themes merged.")
    expect(page.locator("section.theme")).to_have_count(1)
    expect(page.locator(f"#theme-{lights.id}")).to_contain_text(f"{len(ANSWERS)} residents")
    shot(page, "themes-merged")
    with services.db.session() as s:
        actions = [r.action for r in s.scalars(select(AuditLog).order_by(AuditLog.id)) if "theme" in r.action]
    assert actions == ["themes.analysed", "theme.renamed", "theme.merged"]
