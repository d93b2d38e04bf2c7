"""The retention date each consultation shows is the day its typed answers go (issue 15: docs and code agree)."""
from __future__ import annotations

from datetime import date, datetime, timezone

from sqlalchemy import select

from engage.privacy import apply_retention, flow_kept_until, kept_until
from store.models import Answer
from tests.support.dashboard import respondent, run_with_answers


def test_kept_until_adds_calendar_months_to_the_closing_day():
    assert kept_until(date(2026, 12, 31), 24) == date(2028, 12, 31)
    assert kept_until(date(2027, 8, 31), 6) == date(2028, 2, 29)


def test_the_flow_page_and_calendar_show_the_date_typed_answers_are_removed(client, as_role, services):
    flow = services.registry.get("street-safety")  # closes 2026-12-31, keeps no free text
    shown = flow_kept_until(flow, 24, services.settings.timezone)
    assert shown == date(2028, 12, 31)
    with services.db.session() as s:
        contact, _ = respondent(s)
        run_with_answers(s, "street-safety", contact, {"feel_safe": "unsafe", "where": "By the station"},
                         started=datetime(2026, 12, 2, 10, tzinfo=timezone.utc))
    as_role("viewer")
    page = client.get("/dashboard/flows/street-safety").get_data(as_text=True)
    assert "31 December 2028: then answers are unlinked from residents and typed answers are removed." in page
    calendar = client.get("/dashboard/calendar?year=2026&month=12").get_data(as_text=True)
    assert '<td class="kept-until">31 December 2028</td>' in calendar

    def typed_answer():
        with services.db.session() as s:
            return s.scalar(select(Answer.raw_text).where(Answer.step_id == "where"))

    # The day before the date shown (London time), the typed answer is still there for officers to read...
    tz = services.settings.timezone
    from zoneinfo import ZoneInfo

    day_before = datetime(2028, 12, 30, 12, tzinfo=ZoneInfo(tz)).astimezone(timezone.utc)
    apply_retention(services.db, day_before, 24, registry=services.registry, tz=tz)
    assert typed_answer() == "By the station"
    # ... on the day after it (once the whole closing day is 24 months past), it is gone.
    after = datetime(2029, 1, 1, 0, 30, tzinfo=ZoneInfo(tz)).astimezone(timezone.utc)
    apply_retention(services.db, after, 24, registry=services.registry, tz=tz)
    assert typed_answer() is None
