"""The Service health page in headless Chromium: an admin finds it, reads it, settles a message in doubt."""
from __future__ import annotations

from datetime import timedelta

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from store.models import OutboxMessage
from tests.bot.conftest import add_resident, queue_message
from tests.dashboard import test_browser
from tests.dashboard.test_browser import shot
from tests.dashboard.test_browser_contacts import sign_in

pytestmark = pytest.mark.browser
live_server = test_browser.live_server
page = test_browser.page


def test_an_admin_opens_service_health_and_settles_an_unknown_message(page, live_server, db, clock):
    address = add_resident(db, clock)
    for _ in range(2):
        queue_message(db, clock, address, kind="broadcast")
    unknown = queue_message(db, clock, address)
    with db.session() as s:
        row = s.get(OutboxMessage, unknown)
        row.status, row.error_code, row.updated_at = "unknown", "interrupted", clock.now() - timedelta(minutes=3)

    sign_in(page, "admin")
    page.get_by_role("link", name="Service health").click()
    expect(page.get_by_role("heading", name="Service health", level=1)).to_be_visible()
    expect(page.locator("#hour-chart rect.bar-in")).to_have_count(60)
    expect(page.locator('#outbox-queue tr[data-priority="10"] td').nth(1)).to_have_text("2")
    doubtful = page.locator(f'#doubtful tr[data-message="{unknown}"]')
    expect(doubtful).to_contain_text("Look it up in the provider's console")
    # The page's own content (the shared header is checked with the other pages).
    results = Axe().run(page, context="main")
    assert [v["id"] for v in results.response["violations"] if v["impact"] in ("serious", "critical")] == []
    shot(page, "service-health")

    doubtful.get_by_role("button", name="It was sent").click()
    expect(page.locator(".flash-success")).to_have_text(f"Message {unknown} marked sent.")
    expect(page.locator("#nothing-doubtful")).to_be_visible()
    with db.session() as s:
        assert s.get(OutboxMessage, unknown).status == "sent"


def test_an_officer_has_no_link_and_is_refused(page, live_server):
    sign_in(page, "officer")
    expect(page.get_by_role("link", name="Service health")).to_have_count(0)
    response = page.goto("/dashboard/health")
    assert response.status == 403
