"""A broadcast's schedule is said in the officer's language, with Babel's (CLDR's) day names, lists and dates."""
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
