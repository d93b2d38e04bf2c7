"""Contacts and segments in headless Chromium: import with a dry run, export, object, build a segment."""
from __future__ import annotations

import csv
import json

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from store.models import Contact
from store.models.officers import AuditLog
from tests.dashboard import test_browser
from tests.dashboard.conftest import PASSWORD
from tests.dashboard.test_browser import shot

pytestmark = pytest.mark.browser
# The live server and the Chromium page, as the main browser test has them.
live_server = test_browser.live_server
page = test_browser.page


def sign_in(tab, role: str = "officer") -> None:
    tab.goto("/login")
    tab.get_by_label("Email address").fill(f"{role}@harlow.gov.uk")
    tab.get_by_label("Password").fill(PASSWORD)
    tab.get_by_role("button", name="Sign in").click()
    tab.wait_for_url("**/dashboard/")


def test_an_officer_imports_exports_and_records_an_objection(page, live_server, services, tmp_path):
    sign_in(page)
    page.goto("/dashboard/contacts")
    page.locator("#import-link").click()
    expect(page.get_by_role("heading", name="Import contacts")).to_be_visible()

    # A file with a bad row: the report names line, column and reason; nothing is imported.
    bad = tmp_path / "residents.csv"
    bad.write_text("phone,name,language,ward\n07911 123001,Alys Jones,cy,Netteswell\n"
                   "0791,Bob Smith,en,Bush Fair\n", encoding="utf-8")
    page.locator("#file").set_input_files(str(bad))
    page.get_by_role("button", name="Check the file").click()
    problem = page.locator("#import-problems tbody tr")
    expect(problem).to_have_count(1)
    cells = problem.locator("td").all_inner_texts()
    assert cells[:2] == ["3", "phone"] and "0791" in cells[2]
    expect(page.get_by_role("button", name="Import 2 rows")).to_have_count(0)
    shot(page, "contacts-import-problems")

    # Fixed: the dry run says what would happen, then the officer confirms.
    good = tmp_path / "residents-fixed.csv"
    good.write_text("phone,name,language,ward\n07911 123001,Alys Jones,cy,Netteswell\n"
                    "07911 123002,Bob Smith,en,Bush Fair\n", encoding="utf-8")
    page.locator("#file").set_input_files(str(good))
    page.get_by_role("button", name="Check the file").click()
    assert page.locator("#would-create").inner_text() == "2"
    assert page.locator("#would-update").inner_text() == "0"
    shot(page, "contacts-import-dry-run")
    with services.db.session() as s:
        assert s.scalar(select(Contact.id)) is None
    page.get_by_role("button", name="Import 2 rows").click()
    page.wait_for_url("**/dashboard/contacts")
    expect(page.get_by_text("Imported 2 rows: 2 new contacts")).to_be_visible()
    expect(page.get_by_role("cell", name="Alys Jones")).to_be_visible()

    # Export every contact as CSV.
    with page.expect_download() as download:
        page.locator("#export-csv").click()
    path = tmp_path / "contacts.csv"
    download.value.save_as(path)
    with path.open(encoding="utf-8-sig") as f:
        assert sorted(r["name"] for r in csv.DictReader(f)) == ["Alys Jones", "Bob Smith"]

    # The right to object, from the contact's page.
    page.goto("/dashboard/contacts")
    page.get_by_role("row", name="Alys Jones").get_by_role("link").click()
    page.locator("#object-note").fill("Asked by phone")
    page.get_by_role("button", name="Record an objection (right to object)").click()
    expect(page.get_by_text("Recorded: this person gets no broadcasts")).to_be_visible()
    expect(page.get_by_role("button", name="Withdraw the objection")).to_be_visible()
    shot(page, "contact-objected")
    with services.db.session() as s:
        assert s.scalar(select(Contact.do_not_contact).where(Contact.name == "Alys Jones")) is True
        actions = set(s.scalars(select(AuditLog.action)))
    assert {"contacts.imported", "export.downloaded", "contact.objected"} <= actions


def test_an_officer_builds_a_segment_and_sees_its_size_change(page, live_server, services):
    from tests.dashboard.test_segment_builder import _residents

    _residents(services)
    sign_in(page)
    page.goto("/dashboard/broadcasts")
    page.get_by_role("link", name="New segment").click()
    size = page.locator("#segment-size")
    expect(size).to_contain_text("4 residents")  # asked for as the page opens
    page.get_by_role("group", name="Ward").get_by_label("Netteswell").check()
    expect(size).to_contain_text("2 residents")
    page.locator('input[name="did_not_answer"][value="street-safety"]').check()
    expect(size).to_contain_text("1 resident")
    shot(page, "segment-builder")
    page.get_by_label("Name").fill("Netteswell, not yet answered")
    page.get_by_role("button", name="Save segment").click()
    page.wait_for_url("**/dashboard/broadcasts/new")
    expect(page.locator("option", has_text="Netteswell, not yet answered")).to_have_count(1)


def test_an_admin_creates_and_revokes_an_api_token(page, live_server):
    import json
    import urllib.error
    import urllib.request

    def api_status(secret: str) -> int:
        request = urllib.request.Request(live_server + "/api/v1/contacts",
                                         headers={"Authorization": f"Bearer {secret}"})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                json.load(response)
                return response.status
        except urllib.error.HTTPError as error:
            return error.code

    sign_in(page, "admin")
    page.goto("/dashboard/accounts")
    page.locator("#api-tokens-link").click()
    page.get_by_label("Who or what uses it").fill("Open data portal")
    page.get_by_label("write: look and change").check()
    page.get_by_role("button", name="Create token").click()
    secret = page.locator("#new-token").input_value()
    assert secret.startswith("otk_")
    shot(page, "api-token-created")
    assert api_status(secret) == 200
    row = page.locator("#token-list tbody tr", has_text="Open data portal")
    expect(row).to_contain_text("write")
    page.goto("/dashboard/api-tokens")  # shown once: not when the page is opened again
    expect(page.locator("#new-token")).to_have_count(0)
    page.locator("#token-list tbody tr", has_text="Open data portal").get_by_role("button", name="Revoke").click()
    expect(page.locator("#token-list tbody tr", has_text="Open data portal")).to_contain_text("revoked")
    assert api_status(secret) == 401


def test_a_large_import_shows_its_progress_and_cannot_be_sent_twice(page, live_server, services, tmp_path):
    sign_in(page)
    page.goto("/dashboard/contacts/import")
    big = tmp_path / "residents.csv"
    big.write_text("phone,name,language,ward\n" + "".join(
        f"07911 {200000 + n:06d},Resident {n},en,Netteswell\n" for n in range(3000)), encoding="utf-8")
    held = []
    # Hold the upload at the server's door so the page can be seen while it waits, as with a slow line.
    page.route("**/dashboard/contacts/import", lambda route: held.append(route)
               if route.request.method == "POST" else route.continue_())
    page.locator("#file").set_input_files(str(big))
    page.get_by_role("button", name="Check the file").click()
    status = page.locator("#import-progress")
    expect(status).to_be_visible()
    expect(status).to_contain_text("Uploading and checking the file")
    expect(page.get_by_role("button", name="Check the file")).to_be_disabled()
    assert len(held) == 1
    held[0].continue_()
    # The check's report replaces the page; the import then says what it is doing while it runs.
    expect(page.locator("#would-create")).to_have_text("3000")
    page.unroute("**/dashboard/contacts/import")
    # What the page shows once the import is sent, kept where the next page can read it.
    page.evaluate("""() => document.querySelector("form[data-progress]:not([enctype])")
      .addEventListener("submit", () => {
        const box = document.getElementById("import-progress");
        sessionStorage.setItem("seen", JSON.stringify({shown: !box.hidden, words: box.textContent,
            disabled: document.querySelector("form[data-progress]:not([enctype]) button").disabled}));
    })""")
    page.get_by_role("button", name="Import 3000 rows").click()
    page.wait_for_url("**/dashboard/contacts")
    expect(page.get_by_text("Imported 3000 rows: 3000 new contacts")).to_be_visible()
    seen = json.loads(page.evaluate("() => sessionStorage.getItem('seen')"))
    assert seen["shown"] and seen["disabled"] and "Importing 3000 rows: every row or none" in seen["words"]
    with services.db.session() as s:
        assert len(s.scalars(select(Contact.id)).all()) == 3000
