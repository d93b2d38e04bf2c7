"""Column types that behave the same on SQLite and PostgreSQL."""
from datetime import datetime, timezone

from sqlalchemy import DateTime, TypeDecorator


class UTCDateTime(TypeDecorator):
    """Store aware datetimes as naive UTC and hand them back aware.

    SQLite has no time zone support, so we normalise to UTC on the way in and
    attach UTC on the way out; PostgreSQL gets the same naive UTC column so
    both engines compare timestamps identically.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc)


def utcnow() -> datetime:
    """Return the current time, aware and in UTC (use the app clock where one exists)."""
    return datetime.now(timezone.utc)
