"""Segments: rules compiled to one query on SQLite and PostgreSQL, described in words, checked for mistakes."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import event

from engage.segments import SegmentError, contact_id_batches, create_segment, describe, overlap_count, segment_size
from store.models import CONSENT_OPTED_OUT
from tests.conftest import DEFAULT_NOW
from tests.support.outreach import consent_special_category, make_contact, make_run, make_sent

NOW = DEFAULT_NOW


def ids(db, rules):
    return [i for batch in contact_id_batches(db, rules, NOW) for i in batch]


@pytest.fixture
def people(db):
    """Five residents across places, groups, channels and behaviour."""
    with db.session() as s:
        ann = make_contact(s, ward="Netteswell", estate="Brays Grove", age_band="65_plus", groups=("tenants",))
        bob = make_contact(s, ward="Netteswell", language="cy", groups=("Green Forum",), channel="telegram")
        cat = make_contact(s, ward="Mark Hall", groups=("tenants",), consent=CONSENT_OPTED_OUT)
        dev = make_contact(s, ward="Mark Hall", ethnicity="Bangladeshi")
        eve = make_contact(s, ethnicity="Bangladeshi")
        consent_special_category(s, eve, NOW - timedelta(days=10))
        make_run(s, ann, "street-safety", "completed", NOW - timedelta(days=3))
        make_run(s, bob, "street-safety", "active", NOW - timedelta(days=2))
        make_run(s, cat, "street-safety", "expired", NOW - timedelta(days=5))
        make_run(s, cat, "street-safety", "completed", NOW - timedelta(days=4))
        make_sent(s, ann, NOW - timedelta(days=40))
        make_sent(s, bob, NOW - timedelta(days=5))
        return {name: c.id for name, c in zip("abcde", (ann, bob, cat, dev, eve), strict=True)}


def test_place_interest_and_behaviour_combine(db, people):
    rules = {"all": [{"field": "ward", "in": ["Netteswell"]}, {"group": "tenants"},
                     {"answered": "street-safety"}, {"not_contacted_days": 30}]}
    assert ids(db, rules) == [people["a"]]


@pytest.mark.parametrize(("rules", "expected"), [
    ({"field": "ward", "equals": "Mark Hall"}, "cd"),
    ({"field": "estate", "is_set": True}, "a"),
    ({"field": "language", "in": ["cy"]}, "b"),
    ({"group": ["tenants", "Green Forum"]}, "abc"),
    ({"opted_in": "sms"}, "ade"),
    ({"opted_in": "telegram"}, "b"),
    ({"answered": "street-safety"}, "ac"),
    ({"started_not_finished": "street-safety"}, "b"),
    ({"not_contacted_days": 30}, "acde"),
    ({"any": [{"field": "ward", "in": ["Netteswell"]}, {"group": "tenants"}]}, "abc"),
    ({"not": {"group": "tenants"}}, "bde"),
    ({"all": []}, "abcde"),
])
def test_each_kind_of_rule(db, people, rules, expected):
    assert ids(db, rules) == [people[k] for k in expected]


def test_special_category_field_only_for_contacts_who_consented(db, people):
    assert ids(db, {"field": "ethnicity", "in": ["Bangladeshi"]}) == [people["e"]]


def test_withdrawn_special_category_consent_excludes_the_contact(db, people):
    with db.session() as s:
        from store.models import Contact

        consent_special_category(s, s.get(Contact, people["e"]), NOW - timedelta(days=1), action="opt_out")
    assert ids(db, {"field": "ethnicity", "in": ["Bangladeshi"]}) == []


def test_erased_contacts_are_never_in_a_segment(db, people):
    from store.models import Contact

    with db.session() as s:
        s.get(Contact, people["a"]).erased_at = NOW
    assert people["a"] not in ids(db, {"all": []})


def test_size_is_one_query_whatever_the_rules(db, people):
    statements = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        with db.session() as s:
            size = segment_size(s, {"all": [{"group": "tenants"}, {"not_contacted_days": 30},
                                            {"answered": "street-safety"}]}, NOW)
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert size == 2
    assert len([st for st in statements if st.lstrip().upper().startswith("SELECT")]) == 1


def test_batches_walk_the_segment_in_order_without_repeats(db, people):
    batches = list(contact_id_batches(db, {"all": []}, NOW, batch_size=2))
    assert [len(b) for b in batches] == [2, 2, 1]
    assert sum(batches, []) == sorted(people.values())


def test_overlap_counts_shared_contacts(db, people):
    with db.session() as s:
        assert overlap_count(s, {"group": "tenants"}, {"field": "ward", "in": ["Netteswell"]}, NOW) == 1
        assert overlap_count(s, {"group": "tenants"}, {"opted_in": "telegram"}, NOW) == 0


def test_describe_reads_like_a_sentence():
    rules = {"all": [{"field": "ward", "in": ["Netteswell", "Mark Hall"]}, {"group": "tenants"},
                     {"answered": "street-safety"}, {"not_contacted_days": 30}, {"opted_in": "sms"}]}
    assert describe(rules) == (
        "Residents whose ward is Netteswell or Mark Hall, in the group “tenants”, who answered “street-safety”, "
        "not contacted in the last 30 days and who opted in on SMS")
    assert describe({"field": "ethnicity", "in": ["Bangladeshi"]}).endswith("(only those who agreed we may use it)")
    assert describe({"started_not_finished": "crime-perception"}) == (
        "Residents who started “crime-perception” but did not finish")


@pytest.mark.parametrize(("rules", "message"), [
    ({}, "expected an object"),
    ({"field": "shoe_size", "in": ["9"]}, "unknown field 'shoe_size'"),
    ({"field": "ward"}, "exactly one of"),
    ({"all": [{"group": ""}]}, "rules.all[0].group"),
    ({"not_contacted_days": "thirty"}, "whole number of days"),
    ({"opted_in": "fax"}, "expected one of sms"),
    ({"wards": ["x"]}, "not understood (wards)"),
    ({"group": "tenants", "ward": "x"}, "does not take ward"),
])
def test_bad_rules_get_a_clear_error(rules, message):
    with pytest.raises(SegmentError, match=re.escape(message)):
        describe(rules)


def test_saved_segment_names_are_unique(db):
    with db.session() as s:
        create_segment(s, "Netteswell tenants", {"group": "tenants"}, NOW)
        with pytest.raises(SegmentError, match="already exists"):
            create_segment(s, "Netteswell tenants", {"group": "tenants"}, NOW)
