"""Special-category answers leave the service only as protected counts, on every page, export and API response.

The citizens' panel flow marks its ethnicity and disability questions `special_category: true`.
Forty residents said "white", three "asian", one "black"; the same people carry the field on their record.
"""
from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timezone

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from api.tokens import create_api_token
from store.models.officers import AuditLog
from tests.support.dashboard import respondent, run_with_answers

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=timezone.utc)
GROUPS = {"white": 40, "asian": 3, "black": 1}
SMALL = set(range(1, 10))


@pytest.fixture
def panel(services):
    """44 answers to the panel's ethnicity question; returns the id of the one "black" respondent."""
    with services.db.session() as s:
        for group, n in GROUPS.items():
            for _ in range(n):
                contact, _a = respondent(s, fields={"ethnicity": group, "ward": "netteswell"})
                run_with_answers(s, "citizens-panel", contact, {"consent": True, "ward": "netteswell",
                                                                "ethnicity": group}, started=T0)
                last = contact.id
        return last


def _numbers(text: str) -> set[int]:
    return {int(n) for n in re.findall(r"(?<![\d.])(\d+)(?![\d.%])", text)}


def test_results_page_shows_no_small_special_category_count_nor_one_that_can_be_worked_out(client, as_role,
                                                                                               panel):
    as_role("viewer")
    html = client.get("/dashboard/results/citizens-panel").get_data(as_text=True)
    table = html[html.index('data-step="ethnicity"'):]
    table = table[:table.index("</table>")]
    cells = dict(re.findall(r'<tr data-value="(\w+)"><td>[^<]*</td>\s*<td class="num">(.*?)</td>', table, re.S))
    shown = {value: int(cell) for value, cell in cells.items() if cell.strip().isdigit()}
    assert not SMALL & set(shown.values())
    # 44 answered is on the page; with "white" 40 shown beside it, the rest (asian 3, black 1) could be worked
    # out were only one of them hidden, or the zeros shown.
    assert "44 answered" in html
    assert "asian" not in shown and "black" not in shown and "mixed" not in shown
    assert "white" not in shown or len(shown) == 1 and len(cells) - len(shown) >= 2


def test_breakdown_by_ethnicity_shows_no_small_group(client, as_role, panel):
    as_role("viewer")
    html = client.get("/dashboard/results/citizens-panel?by=ethnicity").get_data(as_text=True)
    table = html[html.index('class="data compact breakdown"'):]
    table = table[:table.index("</table>")]
    counts = [int(n) for n in re.findall(r'<td class="num">(\d+)(?: <span|</td>)', table)]
    assert not SMALL & set(counts)


def test_who_answered_page_and_its_exports_hide_small_ethnicity_counts(client, as_role, panel):
    as_role("officer")
    html = client.get("/dashboard/representativeness?flow=citizens-panel").get_data(as_text=True)
    table = html[html.index('data-dimension="ethnicity"'):]
    table = table[:table.index("</table>")]
    respondents = dict(re.findall(r'<tr data-group="(\w+)"[^>]*><th scope="row">[^<]+</th><td class="num">(.*?)</td>',
                                  table, re.S))
    assert respondents and not SMALL & {int(v) for v in respondents.values() if v.isdigit()}
    assert "asian" in respondents and not respondents["asian"].isdigit()

    body = client.get("/dashboard/representativeness/export.csv?flow=citizens-panel").get_data(as_text=True)
    rows = [r for r in csv.DictReader(io.StringIO(body.lstrip("\ufeff"))) if r["dimension"] == "ethnicity"]
    assert rows and not SMALL & {int(r["respondents"]) for r in rows if r["respondents"].isdigit()}
    assert {r["group"]: r["respondents"] for r in rows}["asian"] == "hidden"

    data = client.get("/dashboard/representativeness/export.xlsx?flow=citizens-panel").data
    sheet = load_workbook(io.BytesIO(data)).active
    values = [row for row in sheet.iter_rows(values_only=True) if row[0] == "ethnicity"]
    assert values and not SMALL & {v[2] for v in values if isinstance(v[2], int)}


def test_api_counts_are_protected_and_no_response_carries_a_persons_special_category_answer(client, services,
                                                                                            panel):
    with services.db.session() as s:
        _row, token = create_api_token(s, "reporting", "write", services.clock.now())
    headers = {"Authorization": f"Bearer {token}"}
    body = client.get("/api/v1/flows/citizens-panel/results", headers=headers).get_json()
    question = next(q for q in body["questions"] if q["step_id"] == "ethnicity")
    assert not SMALL & {c["count"] for c in question["counts"] if c["count"] is not None}
    runs = client.get("/api/v1/flows/citizens-panel/runs?limit=200", headers=headers).get_json()["data"]
    assert runs and all(a["step_id"] != "ethnicity" for run in runs for a in run["answers"])
    assert any(a["step_id"] == "ward" for run in runs for a in run["answers"])
    contact = client.get(f"/api/v1/contacts/{panel}", headers=headers).get_json()
    assert "ethnicity" not in contact["fields"] and contact["fields"]["ward"] == "netteswell"
    exported = client.get("/api/v1/contacts/export", headers=headers).get_data(as_text=True)
    assert "ethnicity" not in exported and "black" not in exported


@pytest.mark.parametrize("role", ["viewer", "officer", "admin"])
def test_results_exports_leave_special_category_answers_out_for_every_role(client, as_role, panel, role):
    as_role(role)
    body = client.get("/dashboard/results/citizens-panel/export.csv").get_data(as_text=True)
    header = next(csv.reader(io.StringIO(body.lstrip("\ufeff"))))
    assert "ethnicity" not in header and "disability" not in header and "ward" in header
    assert ("contact_id" in header) == (role != "viewer")
    assert "black" not in body and "asian" not in body
    data = client.get("/dashboard/results/citizens-panel/export.xlsx").data
    first = next(load_workbook(io.BytesIO(data))["Results"].iter_rows(values_only=True))
    assert "ethnicity" not in first


@pytest.mark.parametrize("role", ["viewer", "officer"])
def test_only_an_admin_may_export_special_category_answers_row_by_row(client, as_role, role, panel):
    token = as_role(role)
    assert client.get("/dashboard/results/citizens-panel/special-export").status_code == 403
    response = client.post("/dashboard/results/citizens-panel/special-export",
                           data={"csrf_token": token, "purpose": "Equality monitoring report to cabinet",
                                 "format": "csv"})
    assert response.status_code == 403


def test_an_admins_row_level_export_asks_for_a_purpose_and_audits_it(client, as_role, services, panel):
    token = as_role("admin")
    page = client.get("/dashboard/results/citizens-panel/special-export")
    assert page.status_code == 200 and 'name="purpose"' in page.get_data(as_text=True)
    refused = client.post("/dashboard/results/citizens-panel/special-export",
                          data={"csrf_token": token, "purpose": "because", "format": "csv"})
    assert refused.status_code == 400
    purpose = "Equality impact assessment for the panel, required by the cabinet report"
    response = client.post("/dashboard/results/citizens-panel/special-export",
                           data={"csrf_token": token, "purpose": purpose, "format": "csv"})
    assert response.status_code == 200
    table = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    header, rows = table[0], table[1:]
    assert "contact_id" in header and header.count("ethnicity") == 2  # the field on the record, and the answer
    assert sum(row[header.index("ethnicity")] == "black" for row in rows) == 1
    with services.db.session() as s:
        entry = s.scalar(select(AuditLog).where(AuditLog.action == "export.special_category"))
        assert entry.officer_email == "admin@harlow.gov.uk" and entry.target_id == "citizens-panel"
        assert entry.detail["purpose"] == purpose and entry.detail["rows"] == 44


def test_a_breakdown_by_ethnicity_leaves_no_single_small_group_to_work_out_from_the_questions_total(
        client, as_role, services):
    """40 white and 3 asian residents: with 43 answered shown, a shown white total of 40 would give away the 3."""
    with services.db.session() as s:
        for group, n in (("white", 40), ("asian", 3)):
            for _ in range(n):
                contact, _a = respondent(s, fields={"ethnicity": group})
                run_with_answers(s, "citizens-panel", contact, {"consent": True}, started=T0)
    as_role("viewer")
    html = client.get("/dashboard/results/citizens-panel?by=ethnicity").get_data(as_text=True)
    assert "43 answered" in html
    table = html[html.index('class="data compact breakdown"'):]
    table = table[:table.index("</table>")]
    totals = re.findall(r'<td class="num">(\d+|<span class="hidden-count">[^<]*</span>|&lt;10|<10)</td></tr>',
                        table)
    assert len(totals) == 2
    assert sum(not t.isdigit() for t in totals) != 1  # one hidden total beside a shown one is 43 minus it
    assert "3" not in totals
