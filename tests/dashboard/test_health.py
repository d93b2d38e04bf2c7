"""The Service health page: admins only; the last hour's figures; messages in doubt and what is done about them."""
from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from store.models import InboundMessage, OutboxMessage
from store.models.officers import AuditLog
from tests.bot.conftest import add_resident, queue_message
from tests.dashboard.conftest import sign_in


def _row(html: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}".*?</table>', html, re.S)
    assert match, element_id
    return match.group(0)


def test_officers_and_viewers_are_refused_and_the_link_is_for_admins_only(app, client, officers):
    assert client.get("/dashboard/health").status_code in (302, 401)  # signed out: to the sign-in page
    for role in ("viewer", "officer"):
        client = app.test_client()
        sign_in(client, role)
        assert client.get("/dashboard/health").status_code == 403
        assert "/dashboard/health" not in client.get("/dashboard/").get_data(as_text=True)
        assert client.post("/dashboard/health/outbox/1", data={"outcome": "sent"}).status_code in (400, 403)
    client = app.test_client()
    sign_in(client, "admin")
    assert 'href="/dashboard/health"' in client.get("/dashboard/").get_data(as_text=True)


def test_the_page_shows_the_hour_the_queue_and_the_reply_share(client, officers, db, clock, services):
    sms = add_resident(db, clock)
    with db.session() as s:
        for n, (channel, status) in enumerate([("sms", "processed"), ("sms", "processed"), ("whatsapp", "pending")]):
            s.add(InboundMessage(channel=channel, provider_id=f"p{n}", address=f"+4477009001{n:02d}", text="2",
                                 payload={}, received_at=clock.now() - timedelta(minutes=5), status=status,
                                 processed_at=clock.now() - timedelta(minutes=5) if status == "processed" else None))
    fast = queue_message(db, clock, sms)
    slow = queue_message(db, clock, sms)
    with db.session() as s:
        for row_id, after in ((fast, 2), (slow, 40)):
            row = s.get(OutboxMessage, row_id)
            row.created_at = clock.now() - timedelta(minutes=5)
            row.status, row.sent_at = "sent", row.created_at + timedelta(seconds=after)
            row.updated_at = row.sent_at
    for _ in range(3):
        queue_message(db, clock, sms, kind="broadcast")
    sign_in(client, "admin")
    html = client.get("/dashboard/health").get_data(as_text=True)

    inbound = _row(html, "inbound-figures")
    assert re.search(r'data-channel="sms"><th scope="row">SMS</th><td>2</td><td>2</td><td>0</td>', inbound)
    assert re.search(r'data-channel="whatsapp"><th scope="row">WhatsApp</th><td>1</td><td>0</td><td>1</td>'
                     r'<td>5 min</td>', inbound)
    queue = _row(html, "outbox-queue")
    assert re.search(r'data-priority="10">.*?<td>3</td>', queue)
    assert "50% of the 2 replies queued in the last hour were sent within 10 seconds." in html
    assert html.count('class="bar-in"') == 60 and html.count('class="bar-out"') == 60
    assert "<script" not in html.split("<main", 1)[1].split("</main>", 1)[0]


def test_an_unknown_message_is_marked_after_checking_the_provider_and_audit_logged(client, officers, db, clock,
                                                                                     services, as_role):
    sms = add_resident(db, clock)
    unknown = queue_message(db, clock, sms)
    stuck = queue_message(db, clock, sms)
    with db.session() as s:
        row = s.get(OutboxMessage, unknown)
        row.status, row.error_code = "unknown", "interrupted"
        row = s.get(OutboxMessage, stuck)
        row.status, row.sending_at = "sending", clock.now() - timedelta(minutes=20)
    token = as_role("admin")
    html = client.get("/dashboard/health").get_data(as_text=True)
    doubtful = _row(html, "doubtful")
    assert f'data-message="{unknown}"' in doubtful and f'data-message="{stuck}"' in doubtful
    assert "Look it up in the provider" in doubtful
    assert "Make sure a sender is running" in doubtful
    # A stuck row has no buttons: the sender turns it into unknown first.
    assert doubtful.count('name="outcome" value="sent"') == 1

    response = client.post(f"/dashboard/health/outbox/{unknown}", data={"outcome": "failed", "csrf_token": token})
    assert response.status_code == 302
    with db.session() as s:
        assert s.get(OutboxMessage, unknown).status == "failed"
        [line] = s.scalars(select(AuditLog).where(AuditLog.action == "outbox.marked_not_sent")).all()
        assert line.target_id == str(unknown) and line.officer_email == "admin@harlow.gov.uk"
    # Settled already: a second press changes nothing and says so.
    client.post(f"/dashboard/health/outbox/{unknown}", data={"outcome": "sent", "csrf_token": token})
    with db.session() as s:
        assert s.get(OutboxMessage, unknown).status == "failed"
        assert s.scalar(select(AuditLog).where(AuditLog.action == "outbox.marked_sent")) is None
    # A stuck row cannot be marked by hand: it may still be on its way.
    client.post(f"/dashboard/health/outbox/{stuck}", data={"outcome": "sent", "csrf_token": token})
    with db.session() as s:
        assert s.get(OutboxMessage, stuck).status == "sending"


def test_the_page_is_in_welsh_for_a_welsh_speaking_admin(client, officers, as_role):
    token = as_role("admin")
    client.post("/dashboard/language", data={"language": "cy", "back": "/dashboard/health", "csrf_token": token})
    html = client.get("/dashboard/health").get_data(as_text=True)
    assert "Service health" not in html.split("<main", 1)[1]
