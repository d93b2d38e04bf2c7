"""Panel answers can be targeted: groups are memberships, and fields and groups match whatever the spelling."""
from __future__ import annotations

import itertools

import pytest
from sqlalchemy import select

from engage.contact_import import import_contacts
from engage.field_values import fold, registry_vocabulary
from engage.segments import segment_size
from store.models import Contact, ContactGroup
from tests.conftest import DEFAULT_NOW
from tests.support.contacts import mobile
from tests.support.outreach import engage_services, make_contact

_ids = itertools.count(1)


@pytest.fixture
def services(db, clock, app_config):
    return engage_services(db, clock, app_config)


def say(services, text, address="+447700900555"):
    row_id, _ = services.conversations.store_inbound("sms", f"SMfv{next(_ids)}", address, text, {})
    services.conversations.process_inbound(row_id)


def size(db, rules):
    with db.session() as s:
        return segment_size(s, rules, DEFAULT_NOW)


def test_fold_makes_case_accents_and_separators_alike():
    assert fold("Bush_Fair") == fold("bush fair") == fold(" BUSH-FAIR ") == "bush fair"
    assert fold("Ynys Môn") == fold("ynys mon") and fold("Ddim yn siŵr") == "ddim yn siwr"
    assert fold("Łódź") == "łodz"  # ł is a letter of its own, not an accented l


def test_a_panel_member_is_found_by_their_interests_and_ward(services, db):
    for answer in ("PANEL", "yes", "2", "Netteswell", "1 and 3", "no"):
        say(services, answer)
    with db.session() as s:
        contact = s.scalar(select(Contact))
        groups = sorted(s.scalars(select(ContactGroup.name).where(ContactGroup.contact_id == contact.id)))
        assert groups == ["community_safety", "housing"]
        assert "groups" not in (contact.fields or {}) and contact.fields["ward"] == "netteswell"
    assert size(db, {"group": "community_safety"}) == 1
    assert size(db, {"group": ["Housing"]}) == 1 and size(db, {"group": "climate"}) == 0
    assert size(db, {"field": "ward", "in": ["Netteswell"]}) == 1
    assert size(db, {"field": "ward", "equals": "NETTESWELL"}) == 1


def test_segments_match_groups_and_fields_whatever_the_case_or_accents(db):
    with db.session() as s:
        for _ in range(3):
            make_contact(s, groups=("tenants",), ward="Bush Fair")
        make_contact(s, groups=("Green Forum",), ward="bush_fair", estate="Ynys Môn")
        make_contact(s, ward="Mark Hall")
    assert size(db, {"group": "Tenants"}) == 3
    assert size(db, {"group": "green forum"}) == 1
    assert size(db, {"field": "ward", "in": ["bush fair"]}) == 4
    assert size(db, {"field": "estate", "equals": "ynys mon"}) == 1
    assert size(db, {"not": {"field": "ward", "in": ["Bush-Fair"]}}) == 1


def test_imports_store_the_values_the_council_defines(services, db, clock):
    with db.session() as s:
        make_contact(s, groups=("tenants",)).addresses[0].address = mobile(1)
    csv = ("phone,name,ward,age_band,groups,consent_source\n"
           f"{mobile(1)},A,Netteswell,65 or over,Tenants;Community Safety,paper form\n"
           f"{mobile(2)},B,Little Parndon,18_64,TENANTS;Allotments,paper form\n")
    report = import_contacts(db, csv, clock.now(), commit=True, vocabulary=registry_vocabulary(services.registry))
    assert report.problems == [] and report.committed
    with db.session() as s:
        people = {c.name: c for c in s.scalars(select(Contact).where(Contact.name.is_not(None)))}
        groups = {name: sorted(g.name for g in c.groups) for name, c in people.items()}
        assert (people["A"].fields["ward"], people["A"].fields["age_band"]) == ("netteswell", "65_plus")
        assert people["B"].fields["ward"] == "little_parndon_hare_street"
        # One spelling per group: the flow's value, or the one already in use.
        assert groups == {"A": ["community_safety", "tenants"], "B": ["Allotments", "tenants"]}
    assert size(db, {"group": "tenants"}) == 2
