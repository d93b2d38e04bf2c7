"""Themes leave the service in the results export (a column per written question) and through the API."""
from __future__ import annotations

import csv
import io
from datetime import timedelta

from sqlalchemy import select

from api.tokens import create_api_token
from engage import exports
from engage.results import flow_steps
from engage.themes import service
from store.models.officers import AuditLog, Officer
from tests.support.dashboard import respondent, run_with_answers

FLOW, STEP = "street-safety", "where"
TEXTS = (["The street lights are broken near the station", "no street lights in the alley, too dark",
          "more street lighting by the underpass"] * 4
         + ["the buses are always late", "more buses in the evening please", "the bus never turns up"] * 4)


def _answered(services, clock):
    with services.db.session() as s:
        for i, text in enumerate(TEXTS):
            contact, _ = respondent(s, fields={"ward": "Mark Hall"})
            run_with_answers(s, FLOW, contact, {"feel_safe": "unsafe", STEP: text},
                             started=clock.now() + timedelta(seconds=i))


def _export(services, clock) -> list[dict]:
    steps = flow_steps(services.registry.get(FLOW).source)
    with services.db.session() as s:
        officer = s.scalar(select(Officer).where(Officer.email == "o@harlow.gov.uk"))
        if officer is None:
            officer = Officer(email="o@harlow.gov.uk", role="officer", password_hash="x")
            s.add(officer)
            s.flush()
        body, _media = exports.export_results(s, FLOW, steps, officer, "csv", now=clock.now())
    return list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))


def test_the_export_has_a_theme_column_once_themes_are_found(services, clock):
    _answered(services, clock)
    assert "where_theme" not in _export(services, clock)[0]  # no themes yet: the columns are as they were
    with services.db.session() as s:
        service.analyse(s, FLOW, STEP, clock.now(), actor="test")
        view = service.overview(s, FLOW, STEP)
        service.rename(s, FLOW, STEP, view.themes[0].id, "Street lighting", None, clock.now(), actor="test")
    rows = _export(services, clock)
    by_text = {r["where"]: r["where_theme"] for r in rows}
    labels = {t.label for t in view.themes[1:]} | {"Street lighting"}
    assert set(by_text.values()) <= labels and len(set(by_text.values())) >= 2
    assert by_text["The street lights are broken near the station"] == by_text["more street lighting by the underpass"]
    assert by_text["the buses are always late"] != by_text["The street lights are broken near the station"]


def test_the_api_gives_themes_with_quotes_and_protected_splits(client, services, clock):
    _answered(services, clock)
    with services.db.session() as s:
        _row, token = create_api_token(s, "Reporting", "read", clock.now())
        service.analyse(s, FLOW, STEP, clock.now(), actor="test")
    headers = {"Authorization": f"Bearer {token}"}
    response = client.get(f"/api/v1/flows/{FLOW}/results/{STEP}/themes", headers=headers)
    assert response.status_code == 200, response.json
    body = response.json
    assert body["answers"] == 24 and body["residents"] == 24 and len(body["themes"]) >= 2
    assert sum(t["residents"] for t in body["themes"]) == 24
    quotes = [q["text"] for t in body["themes"] for q in t["quotes"]]
    assert "the buses are always late" in quotes
    ward = body["breakdowns"]["ward"]["rows"]
    assert [r["group"] for r in ward] == ["Mark Hall"]
    assert all(v is None or v >= 10 for v in ward[0]["counts"].values())
    assert client.get(f"/api/v1/flows/{FLOW}/results/feel_safe/themes", headers=headers).status_code == 404
    assert client.get(f"/api/v1/flows/{FLOW}/results/{STEP}/themes").status_code == 401
    spec = client.get("/api/v1/openapi.json").json
    assert "/flows/{flow_id}/results/{step_id}/themes" in spec["paths"] and "Themes" in spec["components"]["schemas"]
    with services.db.session() as s:
        audit = s.scalars(select(AuditLog).where(AuditLog.action == "export.downloaded")).all()
    assert [a.detail["what"] for a in audit] == ["themes"]
