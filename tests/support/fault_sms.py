"""Residents texting in for the fault tests: signed Twilio forms, concurrent delivery, what got stored."""
from __future__ import annotations

import itertools
import threading
from collections import Counter
from typing import Any

from sqlalchemy import select

from store.models import Address, Answer, InboundMessage, OutboxMessage, Run
from tests.support.twilio_fake import load_fixture, sign

SMS_PATH = "/webhooks/twilio/sms"
_sids = itertools.count(1)
_phones = itertools.count(1)


def new_phone() -> str:
    """Return a UK mobile number no other fault test uses."""
    return f"+4477008{next(_phones):05d}"


def sms_form(phone: str, body: str, sid: str | None = None) -> dict[str, str]:
    """Return the form Twilio posts for one inbound SMS."""
    sid = sid or f"SM{next(_sids):032x}"
    return {**load_fixture("sms_keyword.json"), "Body": body, "MessageSid": sid, "SmsMessageSid": sid,
            "SmsSid": sid, "From": phone}


def post_form(client, form: dict[str, str], public_url: str = "http://testserver"):
    """Post a form to the SMS webhook signed as Twilio would sign it."""
    headers = {"X-Twilio-Signature": sign(SMS_PATH, form, public_url=public_url)}
    return client.post(SMS_PATH, data=form, headers=headers)


def deliver_concurrently(app, forms: list[dict[str, str]]) -> list[int]:
    """Post every form at once, one thread and one test client each; return the status codes in order."""
    barrier = threading.Barrier(len(forms))
    statuses: list[int] = [0] * len(forms)
    errors: list[BaseException] = []

    def deliver(position: int, form: dict[str, str]) -> None:
        client = app.test_client()
        try:
            barrier.wait(5)
            statuses[position] = post_form(client, form).status_code
        except BaseException as exc:  # noqa: BLE001 - reported to the test below
            errors.append(exc)

    threads = [threading.Thread(target=deliver, args=(i, f)) for i, f in enumerate(forms)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    if errors:
        raise errors[0]
    return statuses


def stored_counts(db, phone: str) -> dict[str, Any]:
    """Count what one resident's messages left in the database."""
    with db.session() as s:
        address_ids = select(Address.id).where(Address.address == phone).scalar_subquery()
        inbound = s.scalars(select(InboundMessage).where(InboundMessage.address == phone)).all()
        runs = s.scalars(select(Run).where(Run.address_id == address_ids).order_by(Run.id)).all()
        answers = s.scalars(select(Answer).where(Answer.run_id.in_([r.id for r in runs] or [0]))
                            .order_by(Answer.id)).all()
        outbox = s.scalars(select(OutboxMessage).where(OutboxMessage.address_id == address_ids)
                           .order_by(OutboxMessage.id)).all()
        s.expunge_all()
        return {
            "inbound_by_sid": Counter(r.provider_id for r in inbound),
            "inbound_status": Counter(r.status for r in inbound),
            "runs": runs,
            "answers": answers,
            "outbox": outbox,
        }
