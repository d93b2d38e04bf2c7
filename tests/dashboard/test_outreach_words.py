"""Broadcast schedules and segment rules said in the officer's language, with Babel's (CLDR's) day names,
lists and dates, and labels instead of codes."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from dashboard.outreach import schedule_words
from store.models.outreach import Broadcast

TZ = "Europe/London"


def words(app, broadcast: Broadcast, language: str) -> str:
    with app.test_request_context("/dashboard/broadcasts", headers={"Accept-Language": language}):
        return schedule_words(broadcast, TZ)


@pytest.mark.parametrize(("broadcast", "english", "welsh"), [
    (Broadcast(schedule="now"), "now", "nawr"),
    (Broadcast(schedule="cron", cron="0 10 * * *"), "every day at 10:00", "bob dydd am 10:00"),
    (Broadcast(schedule="cron", cron="30 9 * * mon,thu"), "every Monday and Thursday at 09:30",
     "bob Dydd Llun a(c) Dydd Iau am 09:30"),
    (Broadcast(schedule="cron", cron="0 10 1-7 * mon"), "every first Monday at 10:00",
     "y Dydd Llun cyntaf bob mis am 10:00"),
    (Broadcast(schedule="cron", cron="0 10 15 * *"), "on day 15 of every month at 10:00",
     "ar ddiwrnod 15 o bob mis am 10:00"),
    (Broadcast(schedule="once", send_at=datetime(2027, 7, 6, 9, 0, tzinfo=timezone.utc)),
     "once, on Tuesday 6 July 2027 10:00", "unwaith, ar Dydd Mawrth 6 Gorffennaf 2027 10:00"),
])
def test_schedules_are_said_in_the_officers_language(app, broadcast, english, welsh):
    assert words(app, broadcast, "en-GB") == english
    assert words(app, broadcast, "cy-GB") == welsh


def test_a_schedule_it_cannot_read_is_shown_as_written(app):
    odd = Broadcast(schedule="cron", cron="*/5 * * * *")
    assert words(app, odd, "cy-GB") == "ar yr amserlen */5 * * * *"


RULES = {"all": [{"field": "ward", "in": ["netteswell", "bush_fair"]}, {"field": "age_band", "equals": "65_plus"},
                 {"not": {"answered": "street-safety"}}, {"not_contacted_days": 30}]}


def segment_words(app, rules: dict, language: str) -> str:
    from dashboard.segment_words import describe

    with app.test_request_context("/dashboard/segments/new", headers={"Accept-Language": language}):
        return describe(rules)


def test_a_segment_is_described_with_labels_in_the_officers_language(app):
    english = segment_words(app, RULES, "en-GB")
    assert english == ("Residents whose ward is Netteswell or Bush Fair, whose age band is 65 or over, except "
                       "those who answered “street-safety” and not contacted in the last 30 days")
    welsh = segment_words(app, RULES, "cy-GB")
    assert welsh.startswith("Preswylwyr y mae eu ward yn Netteswell neu Bush Fair")
    assert "na chysylltwyd â nhw yn y 30 diwrnod diwethaf" in welsh and "whose" not in welsh
