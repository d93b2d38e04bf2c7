"""The engagement calendar: short windows and overlapping asks are flagged; the month view; statuses."""
from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from engage.calendar import (
    CalendarError,
    create_consultation,
    delete_consultation,
    edit_consultation,
    month_view,
    plan,
    refresh_statuses,
    status_on,
    sync_from_flows,
    warnings,
)
from engage.flow_registry import FlowRegistry
from engage.segments import create_segment
from store.models.outreach import Consultation, Segment
from tests.conftest import DEFAULT_NOW, LIBRARY
from tests.support.outreach import make_contact

UTC = timezone.utc


def add(s, flow_id, opens, closes, segment=None, **kwargs):
    return create_consultation(s, flow_id=flow_id, opens=opens, closes=closes, now=DEFAULT_NOW, segment=segment,
                               title=kwargs.pop("title", flow_id), **kwargs)


@pytest.fixture
def tenants_and_greens(db):
    with db.session() as s:
        make_contact(s, groups=("tenants",))
        make_contact(s, groups=("tenants", "Green Forum"))
        make_contact(s, groups=("Green Forum",))
        make_contact(s, groups=("leaseholders",))
        return {name: create_segment(s, name, {"group": name}, DEFAULT_NOW).id
                for name in ("tenants", "Green Forum", "leaseholders")}


def test_short_window_is_flagged(db):
    with db.session() as s:
        short = add(s, "climate-pulse", date(2027, 1, 4), date(2027, 1, 10))
        add(s, "street-safety", date(2027, 3, 1), date(2027, 3, 14))
        found = warnings(s, DEFAULT_NOW, min_days=14)
    assert [(w.kind, w.consultation_ids) for w in found] == [("short_window", (short.id,))]
    assert "open for 7 day(s), fewer than the 14" in found[0].message


def test_overlap_on_the_same_residents_is_flagged_with_how_many(db, tenants_and_greens):
    with db.session() as s:
        segments = {k: s.get(Segment, v)
                    for k, v in tenants_and_greens.items()}
        housing = add(s, "tenant-feedback", date(2027, 1, 4), date(2027, 2, 14), segments["tenants"],
                      title="Tenant feedback")
        climate = add(s, "climate-pulse", date(2027, 2, 1), date(2027, 2, 28), segments["Green Forum"],
                      title="Climate pulse")
        add(s, "crime-perception", date(2027, 1, 4), date(2027, 2, 14), segments["leaseholders"])
        add(s, "street-safety", date(2027, 3, 1), date(2027, 3, 31), segments["tenants"])
        found = [w for w in warnings(s, DEFAULT_NOW) if w.kind == "overlap"]
    assert [w.consultation_ids for w in found] == [(housing.id, climate.id)]
    assert found[0].message == ("“Tenant feedback” and “Climate pulse” both ask 1 of the same residents "
                                "between 01 February 2027 and 14 February 2027.")


def test_consultations_without_a_segment_ask_everyone(db, tenants_and_greens):
    with db.session() as s:
        add(s, "tenant-feedback", date(2027, 1, 4), date(2027, 2, 14))
        add(s, "climate-pulse", date(2027, 2, 1), date(2027, 2, 28))
        [found] = warnings(s, DEFAULT_NOW)
    assert "both ask 4 of the same residents" in found.message


def test_a_window_must_close_after_it_opens(db):
    with db.session() as s, pytest.raises(CalendarError, match="closes before it opens"):
        add(s, "x", date(2027, 2, 1), date(2027, 1, 1))


def test_status_follows_the_calendar_until_reported(db):
    with db.session() as s:
        c = add(s, "street-safety", date(2026, 12, 1), date(2026, 12, 31))
        assert [status_on(c, d) for d in (date(2026, 11, 30), date(2026, 12, 31), date(2027, 1, 1))] == [
            "planned", "open", "closed"]
        assert c.status == "open"
        refresh_statuses(s, datetime(2027, 1, 2, tzinfo=UTC), "Europe/London")
        assert c.status == "closed"
        c.status = "reported"
        refresh_statuses(s, datetime(2027, 1, 3, tzinfo=UTC), "Europe/London")
        assert c.status == "reported"


def test_flows_with_dates_join_the_calendar_once(db):
    registry = FlowRegistry(LIBRARY)
    with db.session() as s:
        first = sync_from_flows(s, registry, DEFAULT_NOW, "Europe/London")
        again = sync_from_flows(s, registry, DEFAULT_NOW, "Europe/London")
        street = s.query(Consultation).filter_by(flow_id="street-safety").one()
    assert first == len([f for f in registry.all() if f.consultation and f.consultation.opens]) and again == 0
    assert (street.opens, street.closes, street.status) == (date(2026, 12, 1), date(2026, 12, 31), "open")
    assert street.purpose == "Decide where 40 new street lights go in 2027"


def test_month_view_lists_days_and_who_is_open(db):
    with db.session() as s:
        street = add(s, "street-safety", date(2026, 12, 1), date(2026, 12, 31))
        late = add(s, "residents-satisfaction", date(2027, 1, 11), date(2027, 2, 28))
        view = month_view(s, 2026, 12, date(2026, 12, 2))
    assert view["title"] == "December 2026"
    assert [e["id"] for e in view["consultations"]] == [street.id]
    days = {d["date"]: d for week in view["weeks"] for d in week}
    assert days[date(2026, 12, 15)]["consultations"] == [street.id]
    assert days[date(2026, 12, 2)]["today"] is True
    assert days[date(2026, 11, 30)]["in_month"] is False
    assert view["previous"] == (2026, 11) and view["next"] == (2027, 1)
    assert late.id not in days[date(2026, 12, 31)]["consultations"]


NO_DATES_FLOW = """\
id: bus-shelters
title: Bus shelters
languages: [en]
keywords: [SHELTER]
steps:
  - id: want
    ask: Should your stop have a shelter?
    yes_no: true
"""


@pytest.fixture
def registry(tmp_path):
    import shutil

    folder = tmp_path / "flows"
    shutil.copytree(LIBRARY, folder)
    (folder / "bus-shelters.yaml").write_text(NO_DATES_FLOW, encoding="utf-8")
    return FlowRegistry(folder)


def test_the_calendar_follows_the_dates_a_flow_enforces(db, registry):
    path = registry.flows_dir / "street-safety.yaml"
    with db.session() as s:
        sync_from_flows(s, registry, DEFAULT_NOW, "Europe/London")
        entry_id = s.query(Consultation).filter_by(flow_id="street-safety").one().id
    path.write_text(path.read_text(encoding="utf-8").replace("closes: 2026-12-31", "closes: 2027-01-15"),
                    encoding="utf-8")
    registry.reload(force=True)
    with db.session() as s:
        assert sync_from_flows(s, registry, DEFAULT_NOW, "Europe/London") == 0
        [street] = s.query(Consultation).filter_by(flow_id="street-safety").all()
        assert (street.id, street.opens, street.closes) == (entry_id, date(2026, 12, 1), date(2027, 1, 15))


def test_officers_cannot_give_a_flow_other_dates_than_it_enforces(db, registry):
    with db.session() as s:
        sync_from_flows(s, registry, DEFAULT_NOW, "Europe/London")
        with pytest.raises(CalendarError, match=r"holds residents to 01 December 2026 – 31 December 2026"):
            plan(s, registry, flow_id="street-safety", opens=date(2027, 1, 4), closes=date(2027, 2, 14),
                 now=DEFAULT_NOW, tz="Europe/London")
        with pytest.raises(CalendarError, match="already in the calendar on these dates"):
            plan(s, registry, flow_id="street-safety", opens=date(2026, 12, 1), closes=date(2026, 12, 31),
                 now=DEFAULT_NOW, tz="Europe/London")
        with pytest.raises(CalendarError, match="no published flow 'no-such-flow'"):
            plan(s, registry, flow_id="no-such-flow", opens=date(2027, 1, 4), closes=date(2027, 2, 14),
                 now=DEFAULT_NOW, tz="Europe/London")
        street = s.query(Consultation).filter_by(flow_id="street-safety").one()
        with pytest.raises(CalendarError, match="holds residents to"):
            edit_consultation(s, registry, street, DEFAULT_NOW, "Europe/London", closes=date(2027, 1, 31))
        edit_consultation(s, registry, street, DEFAULT_NOW, "Europe/London", owner_service="Community Safety",
                          officer="A. Khan")
        assert (street.owner_service, street.closes) == ("Community Safety", date(2026, 12, 31))
        with pytest.raises(CalendarError, match="stays in the calendar while the flow's file has them"):
            delete_consultation(s, registry, street)


def test_a_plan_for_a_flow_without_dates_can_be_edited_and_deleted(db, registry):
    with db.session() as s:
        shelters = plan(s, registry, flow_id="bus-shelters", opens=date(2027, 2, 1), closes=date(2027, 2, 28),
                        now=DEFAULT_NOW, tz="Europe/London", owner_service="Transport")
        assert (shelters.title, shelters.status) == ("Bus shelters", "planned")
        edit_consultation(s, registry, shelters, DEFAULT_NOW, "Europe/London", opens=date(2026, 11, 20),
                          title="Bus shelters on Fourth Avenue")
        assert (shelters.opens, shelters.title, shelters.status) == (
            date(2026, 11, 20), "Bus shelters on Fourth Avenue", "open")
        with pytest.raises(CalendarError, match="closes before it opens"):
            edit_consultation(s, registry, shelters, DEFAULT_NOW, "Europe/London", closes=date(2026, 11, 1))
        delete_consultation(s, registry, shelters)
        assert s.query(Consultation).filter_by(flow_id="bus-shelters").all() == []


def test_warnings_list_only_consultations_open_or_still_to_come(db, tenants_and_greens):
    with db.session() as s:
        # Both finished before DEFAULT_NOW (2 December 2026): a short window and a clash nobody can change now.
        add(s, "tenant-feedback", date(2026, 10, 1), date(2026, 10, 5))
        add(s, "climate-pulse", date(2026, 10, 3), date(2026, 10, 20))
        # Reported early: over, even though its dates run on.
        reported = add(s, "crime-perception", date(2026, 11, 25), date(2026, 12, 1))
        reported.status = "reported"
        open_now = add(s, "street-safety", date(2026, 11, 28), date(2026, 12, 4))
        found = warnings(s, DEFAULT_NOW, min_days=14)
    assert [(w.kind, w.consultation_ids) for w in found] == [("short_window", (open_now.id,))]
