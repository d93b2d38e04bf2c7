from datetime import datetime, timezone

import pytest

from engage.quiet_hours import in_quiet_hours, next_allowed_time

UTC = timezone.utc


@pytest.mark.parametrize(
    ("utc", "quiet"),
    [
        (datetime(2026, 12, 2, 19, 59, tzinfo=UTC), False),  # GMT: 19:59 local
        (datetime(2026, 12, 2, 20, 0, tzinfo=UTC), True),
        (datetime(2026, 12, 3, 8, 59, tzinfo=UTC), True),
        (datetime(2026, 12, 3, 9, 0, tzinfo=UTC), False),
        (datetime(2026, 7, 2, 19, 30, tzinfo=UTC), True),  # BST: 20:30 local
        (datetime(2026, 7, 2, 8, 0, tzinfo=UTC), False),  # BST: 09:00 local
    ],
)
def test_quiet_hours_are_judged_on_the_london_clock(utc, quiet):
    assert in_quiet_hours(utc, "Europe/London") is quiet


def test_outside_quiet_hours_nothing_waits():
    now = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
    assert next_allowed_time(now, "Europe/London") == now


def test_evening_message_waits_for_next_morning():
    now = datetime(2026, 12, 2, 21, 30, tzinfo=UTC)
    assert next_allowed_time(now, "Europe/London") == datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


def test_early_morning_message_waits_for_same_morning():
    now = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)
    assert next_allowed_time(now, "Europe/London") == datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


def test_release_on_the_night_clocks_go_forward_is_nine_local():
    # Clocks go forward at 01:00 UTC on Sunday 28 March 2027; 09:00 BST is 08:00 UTC.
    now = datetime(2027, 3, 27, 22, 0, tzinfo=UTC)
    assert next_allowed_time(now, "Europe/London") == datetime(2027, 3, 28, 8, 0, tzinfo=UTC)


def test_release_on_the_night_clocks_go_back_is_nine_local():
    # Clocks go back at 01:00 UTC on Sunday 31 October 2027; 09:00 GMT is 09:00 UTC.
    now = datetime(2027, 10, 30, 21, 0, tzinfo=UTC)
    assert next_allowed_time(now, "Europe/London") == datetime(2027, 10, 31, 9, 0, tzinfo=UTC)


def test_a_window_within_one_day_is_supported():
    assert in_quiet_hours(datetime(2026, 12, 2, 13, 0, tzinfo=UTC), "Europe/London", "12:00", "14:00")
    assert not in_quiet_hours(datetime(2026, 12, 2, 15, 0, tzinfo=UTC), "Europe/London", "12:00", "14:00")
