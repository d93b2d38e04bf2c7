from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from store.db import normalise_url
from store.models import Contact, InboundMessage


def test_postgres_urls_use_psycopg3():
    assert normalise_url("postgresql://postgres@127.0.0.1/test") == "postgresql+psycopg://postgres@127.0.0.1/test"
    assert normalise_url("postgres://u@h/d") == "postgresql+psycopg://u@h/d"
    assert normalise_url("sqlite:///x.db") == "sqlite:///x.db"


def test_times_come_back_aware_and_in_utc(db):
    local = datetime(2026, 7, 1, 10, 0, tzinfo=timezone(timedelta(hours=1)))
    with db.session() as s:
        contact = Contact(fields={}, created_at=local, updated_at=local)
        s.add(contact)
        s.flush()
        contact_id = contact.id
    with db.session() as s:
        stored = s.get(Contact, contact_id).created_at
    assert stored.utcoffset() == timedelta(0)
    assert stored == datetime(2026, 7, 1, 9, 0, tzinfo=timezone.utc)


def test_naive_times_are_refused(db):
    with pytest.raises(Exception, match="naive datetime"), db.session() as s:
        s.add(Contact(fields={}, created_at=datetime(2026, 1, 1), updated_at=datetime(2026, 1, 1)))
        s.flush()


def test_resident_text_is_stored_exactly(db):
    text = "مرحبا 👍 <script>alert(1)</script> ' OR 1=1 --" + "x" * 1500
    with db.session() as s:
        s.add(InboundMessage(channel="sms", provider_id="SM1", address="+447700900123", text=text, payload={}))
    with db.session() as s:
        assert s.scalar(select(InboundMessage.text)) == text


def test_inbound_rows_are_unique_per_provider_id(db):
    with db.session() as s:
        s.add(InboundMessage(channel="sms", provider_id="SM1", payload={}))
    with pytest.raises(IntegrityError), db.session() as s:
        s.add(InboundMessage(channel="sms", provider_id="SM1", payload={}))


def test_health_check_answers_when_the_database_does(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ready"}
