"""/api/v1/flows, results, runs and message states."""
from __future__ import annotations

from sqlalchemy import select, update

from store.models import OutboxMessage
from tests.support.contacts import mobile, text_in

GOOD = """id: potholes
title: Potholes
languages: [en]
keywords: [POTHOLE]
steps:
  - id: seen
    ask:
      en: Have you seen a pothole this week?
    choices:
      - {value: "yes", en: "Yes"}
      - {value: "no", en: "No"}
"""


def test_openapi_is_served_without_a_token(client):
    spec = client.get("/api/v1/openapi.json").json
    assert spec["openapi"] == "3.1.0"
    assert {"/contacts", "/contacts/{contact_id}", "/contacts/import", "/flows", "/flows/lint",
            "/flows/{flow_id}/results", "/flows/{flow_id}/runs", "/messages", "/messages/{message_id}"} <= set(
        spec["paths"])


def test_flows_are_listed(client, read_headers):
    flows = {f["id"]: f for f in client.get("/api/v1/flows", headers=read_headers).json["data"]}
    assert flows["street-safety"]["keywords"] == ["SAFE", "DIOGEL"]
    assert flows["street-safety"]["consultation"]["closes_at"].startswith("2026-12-31T23:59:59")


def test_lint_reports_problems_with_line_and_column(client, read_headers):
    good = client.post("/api/v1/flows/lint", data=GOOD, headers={**read_headers, "Content-Type": "application/yaml"})
    assert good.status_code == 200
    assert (good.json["valid"], good.json["flow_id"]) == (True, "potholes")
    assert good.json["sms_segments"] == [
        {"encoding": "GSM-7", "field": field, "lang": "en", "segments": 1, "step_id": "seen"}
        for field in ("ask", "choice:yes", "choice:no")]
    broken = GOOD.replace("    choices:", "    choises:")
    bad = client.post("/api/v1/flows/lint", data=broken, headers={**read_headers, "Content-Type": "text/plain"}).json
    assert bad["valid"] is False
    errors = [p for p in bad["problems"] if p["severity"] == "error"]
    assert [(p["line"], p["col"]) for p in errors] == [(9, 5)]
    assert "did you mean 'choices'" in errors[0]["message"]
    empty = client.post("/api/v1/flows/lint", data="", headers=read_headers)
    assert (empty.status_code, empty.json["error"]["field"]) == (422, "body")


def test_results_count_each_answer_and_runs_page(client, services, read_headers):
    for n, answer in enumerate(["1", "2", "2"]):
        text_in(services, "SAFE", mobile(n))
        text_in(services, answer, mobile(n))
    body = client.get("/api/v1/flows/street-safety/results", headers=read_headers).json
    feel_safe = next(q for q in body["questions"] if q["step_id"] == "feel_safe")
    assert feel_safe["answered"] == 3
    assert {c["value"]: c["count"] for c in feel_safe["counts"]} == {"safe": 1, "unsafe": 2, "unsure": 0}
    assert body["summary"]["started"] == 3
    first = client.get("/api/v1/flows/street-safety/runs?limit=2", headers=read_headers).json
    second = client.get(f"/api/v1/flows/street-safety/runs?limit=2&cursor={first['next_cursor']}",
                        headers=read_headers).json
    assert len(first["data"]) == 2 and len(second["data"]) == 1 and second["next_cursor"] is None
    assert first["data"][0]["answers"][0] == {"step_id": "feel_safe", "value": "safe", "skipped": False,
                                              "answered_at": "2026-12-02T10:00:00+00:00"}
    assert client.get("/api/v1/flows/no-such-flow/results", headers=read_headers).status_code == 404


def test_message_state_by_id_or_provider_id_and_never_its_text(client, services, read_headers):
    text_in(services, "SAFE", mobile(1))
    with services.db.session() as s:
        row_id = s.scalar(select(OutboxMessage.id))
        s.execute(update(OutboxMessage).values(status="delivered", provider_id="SM0123"))
    message = client.get(f"/api/v1/messages/{row_id}", headers=read_headers).json
    assert (message["status"], message["provider_id"], message["kind"]) == ("delivered", "SM0123", "reply")
    assert "payload" not in message and "text" not in message
    found = client.get("/api/v1/messages?provider_id=SM0123", headers=read_headers).json["data"]
    assert [m["id"] for m in found] == [row_id]
    assert client.get("/api/v1/messages?status=lost", headers=read_headers).json["error"]["field"] == "status"
    assert client.get("/api/v1/messages/424242", headers=read_headers).status_code == 404
