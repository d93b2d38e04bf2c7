"""`python app.py segments|broadcasts|updates|consultations`: officers' commands, plain words, clear errors."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from app import cli
from commands.outreach import broadcasts, consultations, segments, updates
from store.models import OutboxMessage
from store.models.outreach import Broadcast
from tests.conftest import DEFAULT_NOW
from tests.support.outreach import make_contact, make_run

TENANTS = json.dumps({"all": [{"field": "ward", "in": ["Netteswell"]}, {"group": "tenants"}]})


@pytest.fixture
def residents(db):
    with db.session() as s:
        make_contact(s, ward="Netteswell", groups=("tenants",))
        make_contact(s, ward="Netteswell", groups=("tenants",), language="cy")
        make_contact(s, ward="Mark Hall", groups=("tenants",))


def ok(runner, group, args):
    result = runner.invoke(group, args)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("group", ["segments", "broadcasts", "updates", "consultations"])
def test_each_group_is_on_the_command_line_with_help(runner, group):
    output = ok(runner, cli, [group, "--help"])
    assert "Usage:" in output and "Commands:" in output


def test_help_shows_examples(runner):
    assert "Example:" in ok(runner, segments, ["create", "--help"])
    assert "every first Monday" in ok(runner, broadcasts, ["create", "--help"])
    assert "Gunning" in ok(runner, updates, ["create", "--help"])


def test_segments_create_list_show_size(runner, residents):
    output = ok(runner, segments, ["create", "Netteswell tenants", TENANTS])
    assert "Saved segment 1 “Netteswell tenants”: Residents whose ward is Netteswell and in the group " \
           "“tenants”." in output
    assert "It matches 2 resident(s) today." in output
    assert "Netteswell tenants  (2 residents)" in ok(runner, segments, ["list"])
    assert "Size today: 2" in ok(runner, segments, ["show", "Netteswell tenants"])
    assert output.count("\n") >= 2
    assert ok(runner, segments, ["size", '{"group": "tenants"}']).strip() == \
        "Residents in the group “tenants”: 3"


def test_segment_mistakes_get_a_clear_error_and_save_nothing(runner, residents):
    bad_json = runner.invoke(segments, ["create", "x", "{ward: Netteswell}"])
    assert bad_json.exit_code == 2 and "not valid JSON" in bad_json.output
    unknown = runner.invoke(segments, ["create", "x", '{"field": "shoe", "in": ["9"]}'])
    assert unknown.exit_code == 1 and "unknown field 'shoe'" in unknown.output
    assert "No segments yet" in ok(runner, segments, ["list"])
    missing = runner.invoke(segments, ["show", "nobody"])
    assert missing.exit_code == 1 and "no segment 'nobody'" in missing.output


def test_broadcast_now_sends_and_reports(runner, residents, db):
    ok(runner, segments, ["create", "Netteswell tenants", TENANTS])
    output = ok(runner, broadcasts, ["create", "Bin day", "--segment", "Netteswell tenants",
                                     "--text", "en=Bins go out on Tuesday.", "--text", "cy=Biniau ddydd Mawrth.",
                                     "--now"])
    assert "Broadcast 1 “Bin day” will go out now." in output
    assert "In the segment: 2. Queued: 2." in output
    with db.session() as s:
        assert sorted(r.payload["text"] for r in s.scalars(select(OutboxMessage))) == [
            "Biniau ddydd Mawrth.\n\nAtebwch STOP i atal negeseuon gan Harlow Council.",
            "Bins go out on Tuesday.\n\nReply STOP to stop messages from Harlow Council."]
    again = ok(runner, broadcasts, ["send-now", "1"])
    assert "Queued: 0." in again and "Already queued by an earlier send: 2 (nobody gets it twice)." in again
    with db.session() as s:
        assert len(s.scalars(select(OutboxMessage)).all()) == 2
    shown = ok(runner, broadcasts, ["show", "1"])
    assert "To: Netteswell tenants: Residents whose ward is Netteswell" in shown
    assert "Sending once: in the segment 2, eligible 2, queued 2" in shown
    assert "Delivery: queued 2" in shown


def test_broadcast_skips_are_explained(runner, db):
    with db.session() as s:
        make_contact(s, ward="Netteswell", groups=("tenants",), do_not_contact=True)
    ok(runner, segments, ["create", "t", TENANTS])
    output = ok(runner, broadcasts, ["create", "x", "--segment", "t", "--text", "en=Hi", "--now"])
    assert "skipped, asked not to be contacted: 1" in output


def test_a_promotional_broadcast_skips_residents_without_that_basis(runner, residents, db):
    with db.session() as s:
        make_contact(s, ward="Netteswell", groups=("tenants",), bases=("service", "promotional"))
    ok(runner, segments, ["create", "t", TENANTS])
    output = ok(runner, broadcasts, ["create", "Fair", "--segment", "t", "--text", "en=Winter fair!", "--now",
                                     "--class", "promotional"])
    assert "Queued: 1." in output
    assert "skipped, no basis for promotional messages: 2" in output


def test_scheduled_and_recurring_broadcasts_in_words(runner, residents, db):
    ok(runner, segments, ["create", "t", TENANTS])
    at = ok(runner, broadcasts, ["create", "Poll", "--segment", "t", "--flow", "street-safety",
                                 "--at", "2026-12-07T10:00"])
    assert "will go out once, on Monday 07 December 2026 at 10:00." in at
    cron = ok(runner, broadcasts, ["create", "Monthly", "--segment", "t", "--text", "en=Hello",
                                   "--cron", "0 10 1-7 * mon"])
    assert "will go out every first Monday at 10:00." in cron
    listed = ok(runner, broadcasts, ["list"])
    assert "Poll  [scheduled]  flow street-safety, once, on Monday 07 December 2026 at 10:00" in listed
    assert ok(runner, broadcasts, ["cancel", "2"]).strip() == (
        "Broadcast 2 cancelled: it will not go out again; 0 waiting message(s) withdrawn.")
    with db.session() as s:
        assert s.get(Broadcast, 2).status == "cancelled"


@pytest.mark.parametrize(("args", "message"), [
    (["--text", "en=Hi"], "exactly one of --now, --at or --cron"),
    (["--text", "en=Hi", "--now", "--cron", "0 9 * * *"], "exactly one of"),
    (["--text", "Hi", "--now"], "should look like en=Your message"),
    (["--text", "en=Hi", "--at", "next tuesday"], "2026-12-07T10:00"),
    (["--text", "en=Hi", "--cron", "every day"], "not understood"),
    (["--flow", "no-such-flow", "--now"], "no published flow 'no-such-flow'"),
])
def test_broadcast_mistakes_are_explained(runner, residents, db, args, message):
    ok(runner, segments, ["create", "t", TENANTS])
    result = runner.invoke(broadcasts, ["create", "x", "--segment", "t", *args])
    assert result.exit_code != 0 and message in result.output
    with db.session() as s:
        assert s.scalars(select(Broadcast)).all() == []


def test_updates_create_preview_send_list(runner, db):
    with db.session() as s:
        make_run(s, make_contact(s), "street-safety", "completed", DEFAULT_NOW - timedelta(days=1))
        make_run(s, make_contact(s, language="cy"), "street-safety", "completed", DEFAULT_NOW, language="cy")
    created = ok(runner, updates, ["create", "street-safety", "--said", "en=You asked for lights.",
                                   "--did", "en=We are adding 12.", "--why", "en=Most of you asked.",
                                   "--said", "cy=Gofynnoch am oleuadau.", "--did", "cy=Rydym yn ychwanegu 12.",
                                   "--why", "cy=Gofynnodd y rhan fwyaf ohonoch."])
    assert "Draft update 1 saved" in created
    preview = ok(runner, updates, ["preview", "1"])
    assert "We did: We are adding 12." in preview and "Would go to 2 resident(s)" in preview
    assert "Gofynnoch am oleuadau." in ok(runner, updates, ["preview", "1", "--lang", "cy"])
    assert "Update 1: 2 took part, 2 queued." in ok(runner, updates, ["send", "1"])
    assert "told 02 December 2026" in ok(runner, updates, ["list"])


def test_update_missing_a_part_is_refused(runner):
    result = runner.invoke(updates, ["create", "street-safety", "--said", "en=x", "--did", "en=y",
                                     "--why", "cy=z"])
    assert result.exit_code == 1 and "needs why in en" in result.output


BUS_SHELTERS = """\
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
def bus_shelters(services):
    """A published flow whose file sets no consultation dates: its calendar dates are the officers' plan."""
    from flows.loader import load_flow_text

    services.registry.add(load_flow_text(BUS_SHELTERS, "bus-shelters.yaml"))


def test_consultations_add_edit_delete_and_the_dates_flows_enforce(runner, db, bus_shelters):
    unknown = runner.invoke(consultations, ["add", "no-such-flow", "--opens", "2027-01-04", "--closes", "2027-02-14"])
    assert unknown.exit_code == 1 and "no published flow 'no-such-flow'" in unknown.output
    moved = runner.invoke(consultations, ["add", "street-safety", "--opens", "2027-01-04", "--closes", "2027-02-14"])
    assert moved.exit_code == 1 and "holds residents to 01 December 2026 – 31 December 2026" in moved.output
    ok(runner, consultations, ["list"])  # the flows' own dates join the calendar
    added = ok(runner, consultations, ["add", "bus-shelters", "--opens", "2027-01-04", "--closes", "2027-02-14"])
    assert "Consultation 7 added to the calendar." in added
    edited = ok(runner, consultations, ["edit", "7", "--closes", "2027-02-21", "--service", "Transport"])
    assert edited.strip() == "Consultation 7 “Bus shelters”: 04 Jan 2027 – 21 Feb 2027 (49 days), Transport."
    refused = runner.invoke(consultations, ["edit", "1", "--opens", "2026-11-01"])
    assert refused.exit_code == 1 and "change them in the flow" in refused.output
    assert ok(runner, consultations, ["delete", "7"]).strip() == "Consultation 7 “Bus shelters” taken off the calendar."
    kept = runner.invoke(consultations, ["delete", "1"])
    assert kept.exit_code == 1 and "stays in the calendar" in kept.output
    listed = ok(runner, consultations, ["list"])
    assert "Bus shelters" not in listed and listed.count("\n") == 6


def test_consultations_list_calendar_warnings(runner, db, residents, bus_shelters):
    listed = ok(runner, consultations, ["list"])
    assert "01 Dec 2026 – 31 Dec 2026 (31 days)  Feeling safe in your neighbourhood  [open]" in listed
    month = ok(runner, consultations, ["calendar", "--month", "2026-12"])
    assert month.startswith("December 2026") and "Feeling safe in your neighbourhood" in month
    assert "Mo Tu We Th Fr Sa Su" in month
    added = ok(runner, consultations, ["add", "bus-shelters", "--opens", "2026-12-10", "--closes", "2026-12-16",
                                       "--service", "Transport", "--officer", "R. Patel"])
    assert "open for 7 day(s)" in added and "both ask" in added
    warned = ok(runner, consultations, ["warnings"])
    assert "short_window:" in warned and "overlap:" in warned
    bad = runner.invoke(consultations, ["calendar", "--month", "December"])
    assert bad.exit_code == 2 and "2026-12" in bad.output


def test_updates_send_in_quiet_hours_says_when_it_will_go(runner, db, clock):
    with db.session() as s:
        make_run(s, make_contact(s), "street-safety", "completed", DEFAULT_NOW)
    clock.set(datetime(2026, 12, 2, 21, 15, tzinfo=timezone.utc))
    ok(runner, updates, ["create", "street-safety", "--said", "en=Lights.", "--did", "en=12 more.",
                         "--why", "en=Most asked."])
    output = ok(runner, updates, ["send", "1"])
    assert "Update 1: 1 took part, 1 queued." in output
    assert "It is quiet hours now: the messages will go from 03 December 2026 09:00." in output
    clock.set(datetime(2026, 12, 3, 11, 0, tzinfo=timezone.utc))
    ok(runner, updates, ["create", "street-safety", "--said", "en=A.", "--did", "en=B.", "--why", "en=C."])
    assert "quiet hours" not in ok(runner, updates, ["send", "2"])


def test_broadcasts_list_says_sending_while_messages_wait(runner, residents, db, clock):
    ok(runner, segments, ["create", "t", TENANTS])
    clock.set(datetime(2026, 12, 2, 22, 0, tzinfo=timezone.utc))
    ok(runner, broadcasts, ["create", "Bin day", "--segment", "t", "--text", "en=Bins Tuesday.", "--now"])
    listed = ok(runner, broadcasts, ["list"])
    assert ("Bin day  [sending]  message, now; 2 message(s) waiting to go, held for quiet hours until "
            "03 December 2026 09:00") in listed
    assert "[sent]" not in listed
    with db.session() as s:
        for row in s.scalars(select(OutboxMessage)):
            row.status = "sent"
    assert "   1  Bin day  [sent]  message, now\n" in ok(runner, broadcasts, ["list"])


def test_broadcasts_cancel_says_how_many_waiting_messages_were_withdrawn(runner, residents, db, clock):
    ok(runner, segments, ["create", "t", TENANTS])
    clock.set(datetime(2026, 12, 2, 22, 0, tzinfo=timezone.utc))
    ok(runner, broadcasts, ["create", "Bin day", "--segment", "t", "--text", "en=Bins Tuesday.", "--now"])
    assert ok(runner, broadcasts, ["cancel", "1"]).strip() == (
        "Broadcast 1 cancelled: it will not go out again; 2 waiting message(s) withdrawn.")
    with db.session() as s:
        assert {r.status for r in s.scalars(select(OutboxMessage))} == {"skipped"}


def test_db_upgrade_on_an_empty_database_says_it_created_the_schema(tmp_path, monkeypatch):
    from click.testing import CliRunner

    monkeypatch.setenv("OUTREACH_DATABASE_URL", f"sqlite:///{tmp_path / 'new.sqlite3'}")
    monkeypatch.setenv("OUTREACH_SECRET_KEY", "a-test-key-long-enough-to-sign-sessions-0123")
    first = CliRunner().invoke(cli, ["db", "upgrade"])
    assert first.exit_code == 0, first.output
    assert first.output.startswith("Created the database schema (version ") and "empty database" in first.output
    again = CliRunner().invoke(cli, ["db", "upgrade"])
    assert again.exit_code == 0 and again.output.startswith("Database is up to date (version ")
