"""Quiet hours and schedules on the nights the clocks change (Europe/London) and across midnight,
end to end: fire the broadcast, run the sender at chosen moments, see what the fake Twilio got."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from engage.broadcasts import create_broadcast, fire_broadcast, occurrence_for
from engage.contacts import create_contact
from engage.segments import create_segment
from store.models.outreach import Broadcast
from tests.support.fault_sms import new_phone

pytestmark = pytest.mark.fault
UTC = timezone.utc


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def resident_and_broadcast(services, **schedule) -> tuple[str, int]:
    now = services.clock.now()
    phone = new_phone()
    with services.db.session() as s:
        create_contact(s, now, phone=phone, consent_source="paper form")
        segment = create_segment(s, f"everyone {phone}", {"all": []}, now)
        broadcast = create_broadcast(s, name="bins", segment=segment, now=now, tz="Europe/London",
                                     texts={"en": "Bins go out on Tuesday."}, **schedule)
        return phone, broadcast.id


def sent_at_moments(services, sender, fake_twilio, phone: str, moments: list[datetime]) -> list[int]:
    """Run the sender at each moment; return how many messages the phone had received after each."""
    counts = []
    for moment in moments:
        services.clock.set(moment)
        sender.drain()
        counts.append(len(fake_twilio.fake.messages_to(phone)))
    return counts


@pytest.mark.parametrize(("fired", "release", "name"), [
    # Saturday 27 March 2027, 21:00 GMT; 09:00 on Sunday is BST, so 08:00 UTC.
    (utc(2027, 3, 27, 21, 0), utc(2027, 3, 28, 8, 0), "spring forward"),
    # Saturday 24 October 2026, 22:00 BST; 09:00 on Sunday is GMT again, so 09:00 UTC.
    (utc(2026, 10, 24, 21, 0), utc(2026, 10, 25, 9, 0), "fall back"),
    # Fired ten minutes before the change itself (00:50 GMT, 28 March 2027).
    (utc(2027, 3, 28, 0, 50), utc(2027, 3, 28, 8, 0), "in the lost hour"),
    # Fired in the repeated hour: 01:30 BST then 01:30 GMT both exist on 25 October 2026.
    (utc(2026, 10, 25, 1, 30), utc(2026, 10, 25, 9, 0), "in the repeated hour"),
])
def test_a_broadcast_fired_in_quiet_hours_goes_at_nine_local_on_the_night_the_clocks_change(
        services, sender, fake_twilio, fired, release, name):
    services.clock.set(fired)
    phone, broadcast_id = resident_and_broadcast(services)
    result = fire_broadcast(services, broadcast_id)
    assert result.queued == 1 and result.not_before == release, name
    # 08:59 local, whichever offset applies that morning, is still too early.
    moments = [fired, release - timedelta(hours=1), release - timedelta(minutes=1), release]
    assert sent_at_moments(services, sender, fake_twilio, phone, moments) == [0, 0, 0, 1], name


def test_a_broadcast_fired_in_the_afternoon_of_the_change_goes_at_once(services, sender, fake_twilio):
    services.clock.set(utc(2027, 3, 28, 14, 0))  # 15:00 BST
    phone, broadcast_id = resident_and_broadcast(services)
    fire_broadcast(services, broadcast_id)
    assert sent_at_moments(services, sender, fake_twilio, phone, [utc(2027, 3, 28, 14, 0)]) == [1]


def test_a_daily_schedule_names_each_local_day_once_across_midnight_and_the_clock_change(services, sender,
                                                                                        fake_twilio):
    # A daily broadcast at 23:30 local: each firing is its own occurrence, keyed by its local date and time.
    services.clock.set(utc(2026, 10, 23, 12, 0))
    phone, broadcast_id = resident_and_broadcast(services, schedule="cron", cron="30 23 * * *")
    with services.db.session() as s:
        broadcast = s.get(Broadcast, broadcast_id)
        occurrences = [occurrence_for(broadcast, moment, "Europe/London") for moment in (
            utc(2026, 10, 24, 22, 31),  # 23:31 BST on Saturday
            utc(2026, 10, 24, 23, 10),  # 00:10 BST on Sunday: still Saturday's firing
            utc(2026, 10, 25, 23, 31),  # 23:31 GMT on Sunday
            utc(2026, 10, 26, 0, 5),    # 00:05 GMT on Monday: still Sunday's firing
        )]
    assert occurrences == ["2026-10-24T23:30", "2026-10-24T23:30", "2026-10-25T23:30", "2026-10-25T23:30"]

    # Fired twice for the same night (a retry after midnight) it queues once; the next night queues again.
    for moment in (utc(2026, 10, 24, 22, 31), utc(2026, 10, 24, 23, 10), utc(2026, 10, 25, 23, 31)):
        services.clock.set(moment)
        fire_broadcast(services, broadcast_id)
    # 23:30 is in quiet hours: each copy waits for 09:00 the next morning (GMT by then).
    counts = sent_at_moments(services, sender, fake_twilio, phone, [
        utc(2026, 10, 25, 8, 59), utc(2026, 10, 25, 9, 0), utc(2026, 10, 26, 8, 59), utc(2026, 10, 26, 9, 0)])
    assert counts == [0, 1, 1, 2]
