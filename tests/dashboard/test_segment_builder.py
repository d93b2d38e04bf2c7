"""Segments without JSON: the builder's ticks become engage.segments rules, counted live and saved."""
from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from html import unescape

from sqlalchemy import select

from store.models import ContactGroup
from store.models.officers import AuditLog
from store.models.outreach import Segment
from tests.support.dashboard import respondent, run_with_answers

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)


def _residents(services):
    """Four residents: two in Netteswell (one Welsh-speaking tenant who answered), two in Bush Fair."""
    with services.db.session() as s:
        alys, _ = respondent(s, fields={"ward": "Netteswell", "age_band": "18_64"}, language="cy")
        s.add(ContactGroup(contact_id=alys.id, name="tenants"))
        run_with_answers(s, "street-safety", alys, {"feel_safe": "safe", "age": "18_64"}, started=T0)
        bob, _ = respondent(s, fields={"ward": "Netteswell", "age_band": "65_plus"})
        respondent(s, fields={"ward": "Bush Fair"}, channel="telegram")
        respondent(s, fields={"ward": "Bush Fair", "age_band": "65_plus"})
        return alys.id, bob.id


def test_the_count_endpoint_sizes_rules_built_from_ticks(client, as_role, services):
    _residents(services)
    token = as_role("officer")

    def count(**form):
        response = client.post("/dashboard/segments/count", data={"csrf_token": token, **form})
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.get_json()

    assert count()["size"] == 4
    ward = count(field_ward="Netteswell")
    assert ward["size"] == 2 and ward["rules"] == {"all": [{"field": "ward", "in": ["Netteswell"]}]}
    assert "Netteswell" in ward["words"] and "2 residents" in ward["label"]
    assert count(field_ward=["Netteswell", "Bush Fair"], field_age_band="65_plus")["size"] == 2
    assert count(language="cy")["size"] == 1
    assert count(group="tenants")["size"] == 1
    assert count(channel="telegram")["size"] == 1
    assert count(channel=["telegram", "sms"])["size"] == 4
    assert count(took_part="street-safety")["size"] == 1
    did_not = count(field_ward="Netteswell", did_not_answer="street-safety")
    assert did_not["size"] == 1
    assert {"not": {"answered": "street-safety"}} in did_not["rules"]["all"]
    assert count(match="any", language="cy", channel="telegram")["size"] == 2
    bad = client.post("/dashboard/segments/count", data={"csrf_token": token, "not_contacted_days": "soon"})
    assert bad.status_code == 422 and "whole number" in bad.get_json()["error"]


def test_without_javascript_count_then_save(client, as_role, services):
    _residents(services)
    token = as_role("officer")
    page = client.get("/dashboard/segments/build").get_data(as_text=True)
    # The ticks offer the wards, groups and flows that exist.
    assert 'name="field_ward" value="Netteswell"' in page and 'name="group" value="tenants"' in page
    assert 'name="took_part" value="street-safety"' in page
    counted = client.post("/dashboard/segments/build", data={
        "csrf_token": token, "action": "count", "field_ward": "Netteswell", "did_not_answer": "street-safety"})
    html = unescape(counted.get_data(as_text=True))
    assert counted.status_code == 200
    assert re.search(r'id="segment-size">[^<]*1 resident<', html)
    # The form keeps what was ticked, and shows the JSON the API takes.
    assert 'name="field_ward" value="Netteswell" checked' in html
    shown = json.loads(re.search(r'<pre id="segment-json">(.*?)</pre>', html, re.S).group(1))
    assert shown == {"all": [{"field": "ward", "in": ["Netteswell"]}, {"not": {"answered": "street-safety"}}]}

    saved = client.post("/dashboard/segments/build", data={
        "csrf_token": token, "action": "save", "name": "Netteswell, not yet answered", "field_ward": "Netteswell",
        "did_not_answer": "street-safety"})
    assert saved.status_code == 302
    with services.db.session() as s:
        segment = s.scalar(select(Segment).where(Segment.name == "Netteswell, not yet answered"))
        assert segment.rules == shown and segment.created_by == "officer@harlow.gov.uk"
        assert s.scalar(select(AuditLog.target_id).where(AuditLog.action == "segment.created")) == str(segment.id)


def test_saving_without_a_name_says_so_and_saves_nothing(client, as_role, services):
    token = as_role("officer")
    response = client.post("/dashboard/segments/build", data={"csrf_token": token, "action": "save",
                                                               "language": "cy"})
    assert response.status_code == 422
    assert "needs a name" in response.get_data(as_text=True)
    with services.db.session() as s:
        assert s.scalar(select(Segment.id)) is None


def test_viewers_may_not_build_segments(client, as_role):
    token = as_role("viewer")
    assert client.get("/dashboard/segments/build").status_code == 403
    assert client.post("/dashboard/segments/count", data={"csrf_token": token}).status_code == 403
