"""Bad segment rules posted to the dashboard are a 400 naming the rule at fault, never a 500; nothing is saved."""
from __future__ import annotations

import html
import json

import pytest
from sqlalchemy import func, select

from store.models.outreach import Segment


def _nested(depth: int) -> dict:
    rule: dict = {"group": "tenants"}
    for _ in range(depth):
        rule = {"not": rule}
    return rule


BAD_RULES = [
    # (rules, the place the message must name)
    ({"all": [{"group": [1, 2]}]}, "rules.all[0].group"),  # numbers where group names go (500 on PostgreSQL)
    ({"all": [{"group": [["tenants"]]}]}, "rules.all[0].group"),  # a list inside the list (500 on SQLite)
    ({"not_contacted_days": 10**30}, "rules.not_contacted_days"),  # too big for a date (500)
    ({"not_contacted_days": 10**6}, "rules.not_contacted_days"),  # past the calendar's end (500)
    ({"field": "ward", "in": ["Nettes\x00well"]}, "rules.in[0]"),  # NUL in text (500 on PostgreSQL)
    ({"group": "ten\x00ants"}, "rules.group"),
    ({"answered": "street\x00safety"}, "rules.answered"),
    ({"any": [{"field": "ward", "in": [{"name": "Netteswell"}]}]}, "rules.any[0].in[0]"),  # wrong value type
    ({"field": "ward", "equals": ["Netteswell"]}, "rules.equals"),
    ({"field": "ward", "is_set": "maybe"}, "rules.is_set"),
    ({"field": "ward", "like": "Nett%"}, "exactly one of 'in', 'equals', 'is_set'"),  # unknown operator
    ({"field": ["ward"], "in": ["Netteswell"]}, "rules.field"),
    ({"all": "everyone"}, "rules.all"),  # a non-list all
    ({"opted_in": ["sms"]}, "rules.opted_in"),
    ({"all": [{"wards": ["x"]}]}, "rules.all[0]"),
    (_nested(40), "nested more than"),
]


@pytest.mark.parametrize(("rules", "named"), BAD_RULES)
def test_a_bad_rule_is_a_400_naming_the_rule(client, as_role, services, rules, named):
    token = as_role("officer")
    for action in ("check", "save"):
        response = client.post("/dashboard/segments/new", data={
            "csrf_token": token, "name": "Odd", "rules": json.dumps(rules), "action": action})
        page = html.unescape(response.get_data(as_text=True))
        assert response.status_code == 400, page[-2000:]
        assert named in page
    with services.db.session() as s:
        assert s.scalar(select(func.count(Segment.id))) == 0


def test_rules_nested_past_what_json_can_read_are_a_400(client, as_role):
    token = as_role("officer")
    deep = '{"not": ' * 1500 + '{"group": "tenants"}' + "}" * 1500
    response = client.post("/dashboard/segments/new", data={"csrf_token": token, "name": "Deep", "rules": deep,
                                                            "action": "check"})
    assert response.status_code == 400


def test_a_reminder_for_a_value_that_cannot_be_a_rule_is_a_400(client, as_role):
    as_role("officer")
    response = client.get("/dashboard/broadcasts/new", query_string={"field": "ward", "value": "Nett\x00eswell"})
    assert response.status_code == 400
    assert "rules.all[0].in[0]" in html.unescape(response.get_data(as_text=True))


def test_a_good_rule_still_checks_and_saves(client, as_role, services):
    token = as_role("officer")
    rules = {"all": [{"field": "ward", "in": ["Netteswell", 7]}, {"not_contacted_days": 30}]}
    response = client.post("/dashboard/segments/new", data={"csrf_token": token, "name": "Netteswell",
                                                            "rules": json.dumps(rules), "action": "save"})
    assert response.status_code == 302
    with services.db.session() as s:
        assert s.scalar(select(Segment.name)) == "Netteswell"
