"""GET /metrics: who may read it, and the figures it reports for real traffic through the webhook and sender."""
from __future__ import annotations

import re
import threading
from datetime import timedelta

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select

from engage.outbox import enqueue
from store.models import Address, Contact, OutboxMessage
from tests.bot.conftest import add_resident, queue_message
from tests.support.twilio_fake import (  # noqa: F401  (fixtures)
    app_config_with_fake_twilio,
    fake_twilio,
    load_fixture,
    post_signed,
    sender,
)

SMS = "/webhooks/twilio/sms"
TOKEN = "metrics-token-for-tests-0123456789"
_sids = iter(range(1, 100_000))


def text_in(client, body, number="+447700900321"):
    sid = f"SM{next(_sids):032x}"
    form = {**load_fixture("sms_keyword.json"), "Body": body, "MessageSid": sid, "SmsMessageSid": sid,
            "SmsSid": sid, "From": number}
    assert post_signed(client, SMS, form).status_code == 200
    return form


def value(name, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def scrape(client) -> str:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    return response.get_data(as_text=True)


def sample(text: str, name: str, **labels) -> float | None:
    """Read one sample's value from the exposition text (labels in any order)."""
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        match = re.match(r"([a-zA-Z_:][\w:]*)(\{(.*)\})? (\S+)", line)
        if not match or match.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(3) or ""))
        if found == {k: str(v) for k, v in labels.items()}:
            return float(match.group(4))
    return None


@pytest.fixture
def app_config(app_config):
    return {**app_config, "metrics_token": TOKEN}


# ----- who may read it -------------------------------------------------------------------------------


def _app(app_config, **settings):
    from app import create_app

    return create_app({k: v for k, v in {**app_config, **settings}.items()
                       if not k.startswith("twilio_")})


def test_with_nothing_configured_it_is_404_where_the_service_is_exposed(app_config):
    from app import create_app

    with_credentials = create_app({**app_config, "metrics_token": ""})  # the fake Twilio's credentials are set
    assert with_credentials.test_client().get("/metrics").status_code == 404
    public_host = _app(app_config, metrics_token="")  # no credentials, but a public URL on another host
    assert public_host.test_client().get("/metrics").status_code == 404


def test_a_laptop_setup_answers_from_this_machine_only(app_config):
    laptop = _app(app_config, metrics_token="", public_url="http://127.0.0.1:5000")
    client = laptop.test_client()
    assert client.get("/metrics").status_code == 200
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "192.168.1.20"}).status_code == 404


def test_the_token_opens_it_and_a_wrong_one_does_not(client):
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers={"Authorization": "Bearer not-the-token"}).status_code == 404
    assert client.get("/metrics", headers={"Authorization": f"Basic {TOKEN}"}).status_code == 404
    assert client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200


def test_an_allowed_admin_network_opens_it_without_a_token(app_config):
    app = _app(app_config, metrics_token="", metrics_allow="10.0.0.0/8, 192.0.2.7/32")
    client = app.test_client()
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "10.20.30.40"}).status_code == 200
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "192.0.2.7"}).status_code == 200
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "192.0.2.8"}).status_code == 404
    assert client.get("/metrics").status_code == 404  # loopback is not on the list


def test_a_malformed_network_list_stops_the_service_with_its_name(app_config):
    with pytest.raises(ValueError, match="OUTREACH_METRICS_ALLOW"):
        _app(app_config, metrics_allow="10.0.0.0/8, intranet")


# ----- what it counts --------------------------------------------------------------------------------


def test_an_answer_through_the_webhook_is_counted_received_and_acted_on(client, sender,  # noqa: F811
                                                                        fake_twilio):  # noqa: F811
    received = value("outreach_inbound_received_total", channel="sms")
    acted = value("outreach_inbound_acted_on_total", channel="sms")
    timed = value("outreach_inbound_acted_on_seconds_count", channel="sms")
    sent = value("outreach_sends_total", channel="sms", outcome="sent", error_code="none")
    replies = value("outreach_reply_send_seconds_count", channel="sms")

    form = text_in(client, "SAFE")
    post_signed(client, SMS, form)  # Twilio's retry of the same message: stored once, counted once
    sender.drain()

    assert value("outreach_inbound_received_total", channel="sms") == received + 1
    assert value("outreach_inbound_acted_on_total", channel="sms") == acted + 1
    assert value("outreach_inbound_acted_on_seconds_count", channel="sms") == timed + 1
    assert value("outreach_sends_total", channel="sms", outcome="sent", error_code="none") == sent + 1
    assert value("outreach_reply_send_seconds_count", channel="sms") == replies + 1
    text = scrape(client)
    assert sample(text, "outreach_inbound_received_total", channel="sms") == received + 1
    # The clock stands still in tests: the reply left 0 s after it was queued, within 10 s.
    assert sample(text, "outreach_replies_within_10s_ratio", channel="sms") > 0


def test_provider_errors_are_counted_by_code_and_retries_counted(db, clock, services, sender,  # noqa: F811
                                                                  fake_twilio):  # noqa: F811
    address = add_resident(db, clock)
    queue_message(db, clock, address)
    retries = value("outreach_send_retries_total", channel="sms", error_code="20503")
    outcomes = value("outreach_sends_total", channel="sms", outcome="retry", error_code="20503")
    fake_twilio.fake.down()
    sender.drain()
    assert value("outreach_send_retries_total", channel="sms", error_code="20503") == retries + 1
    assert value("outreach_sends_total", channel="sms", outcome="retry", error_code="20503") == outcomes + 1


def test_a_consent_refusal_at_send_time_is_counted(db, clock, services, sender,  # noqa: F811
                                                    fake_twilio):  # noqa: F811
    address = add_resident(db, clock)
    queue_message(db, clock, address, kind="broadcast")
    with db.session() as s:
        s.get(Address, address.id).consent = "opted_out"
    before = value("outreach_send_refusals_total", channel="sms", reason="opted_out")
    sender.drain()
    assert value("outreach_send_refusals_total", channel="sms", reason="opted_out") == before + 1
    assert fake_twilio.fake.messages_to(address.address) == []


def test_queue_depth_and_age_come_from_the_rows_whatever_their_channel(client, db, clock, services):
    sms = add_resident(db, clock)
    for _ in range(3):
        queue_message(db, clock, sms, kind="broadcast")
    queue_message(db, clock, sms)
    # The label is the row's channel, whatever channel that is.
    for channel in ("whatsapp", "voice"):
        other = add_resident(db, clock, channel=channel)
        queue_message(db, clock, other)
    with db.session() as s:
        stuck = s.scalar(select(OutboxMessage).where(OutboxMessage.channel == "voice"))
        stuck.status, stuck.sending_at = "sending", clock.now() - timedelta(minutes=30)
    clock.advance(seconds=90)

    text = scrape(client)
    assert sample(text, "outreach_outbox_queued", channel="sms", priority="10") == 3
    assert sample(text, "outreach_outbox_queued", channel="sms", priority="0") == 1
    assert sample(text, "outreach_outbox_queued", channel="whatsapp", priority="0") == 1
    assert sample(text, "outreach_outbox_oldest_queued_seconds", channel="sms", priority="10") == 90
    assert sample(text, "outreach_outbox_needs_attention", channel="voice", state="stuck") == 1
    assert sample(text, "outreach_outbox_queued", channel="voice", priority="0") is None


def test_scheduler_leadership_is_reported_while_held(services):
    from engage.scheduling import scheduler_loop

    stop = threading.Event()
    thread = threading.Thread(target=scheduler_loop, args=(services, stop), kwargs={"check_seconds": 0.05})
    thread.start()
    try:
        for _ in range(200):
            if value("outreach_scheduler_leader") == 1:
                break
            stop.wait(0.02)
        assert value("outreach_scheduler_leader") == 1
    finally:
        stop.set()
        thread.join(10)
    assert value("outreach_scheduler_leader") == 0


def test_replies_and_bulk_are_told_apart_by_priority_in_the_queue(client, db, clock, services):
    with db.session() as s:
        contact = Contact(fields={}, created_at=clock.now(), updated_at=clock.now())
        s.add(contact)
        s.flush()
        address = Address(contact_id=contact.id, channel="sms", address="+447700900999", consent="opted_in",
                          created_at=clock.now())
        s.add(address)
        s.flush()
        for kind in ("reply", "reminder"):
            enqueue(s, contact=contact, address=address, kind=kind, now=clock.now(),
                    payload={"type": "text", "text": "x", "lang": "en"})
    text = scrape(client)
    assert sample(text, "outreach_outbox_queued", channel="sms", priority="0") == 1
    assert sample(text, "outreach_outbox_queued", channel="sms", priority="10") == 1


# ----- python app.py check ---------------------------------------------------------------------------


def _check_lines(app, **env):
    from commands.check import check

    result = app.test_cli_runner().invoke(check, [], env=env)
    return [line for line in result.output.splitlines() if " metrics: " in line]


def test_check_says_who_may_read_the_metrics(app_config, tmp_path):
    from app import create_app

    with_token = create_app(app_config)
    assert _check_lines(with_token) == [
        "OK    metrics: GET /metrics answers with a bearer token (OUTREACH_METRICS_TOKEN)"]
    short = create_app({**app_config, "metrics_token": "short", "metrics_allow": "10.0.0.0/8"})
    lines = _check_lines(short, PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "missing"))
    assert lines[0].startswith("WARN  metrics: OUTREACH_METRICS_TOKEN is 5 bytes")
    assert lines[1] == ("OK    metrics: GET /metrics answers with a bearer token (OUTREACH_METRICS_TOKEN) "
                        "or from 10.0.0.0/8 (OUTREACH_METRICS_ALLOW)")
    assert lines[2].startswith("FAIL  metrics: PROMETHEUS_MULTIPROC_DIR") and "not a writable folder" in lines[2]
    closed = create_app({**app_config, "metrics_token": ""})
    assert _check_lines(closed) == ["OK    metrics: GET /metrics is off (404); set OUTREACH_METRICS_TOKEN or "
                                    "OUTREACH_METRICS_ALLOW for a monitoring system to read it"]


def test_a_batch_acted_on_together_is_counted_and_timed_per_channel(clock):
    from engage import metrics

    before = {c: value("outreach_inbound_acted_on_total", channel=c) for c in ("telegram", "voice")}
    slow = value("outreach_inbound_acted_on_seconds_bucket", channel="voice", le="1.0")
    at = clock.now()
    metrics.inbound_acted_on_many([("telegram", at - timedelta(seconds=0.2), at),
                                   ("voice", at - timedelta(seconds=3), at), ("voice", at, at)])
    assert value("outreach_inbound_acted_on_total", channel="telegram") == before["telegram"] + 1
    assert value("outreach_inbound_acted_on_total", channel="voice") == before["voice"] + 2
    assert value("outreach_inbound_acted_on_seconds_bucket", channel="voice", le="1.0") == slow + 1
