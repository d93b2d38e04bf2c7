"""Paths of the conversation service that run in production: a flow taken too soon again, SKIP, and a
question passed over after too many replies that do not fit, each driven through the service."""
from __future__ import annotations

from sqlalchemy import select

from engage.conversations import ALREADY_DONE
from locales import i18n
from store.models import Answer, OutboxMessage, Run
from tests.support.contacts import mobile, publish, text_in

ANNUAL = """id: annual-check
title: Annual check
languages: [en]
keywords: [ANNUAL]
restart_after_days: 30
steps:
  - id: rating
    ask:
      en: How good is the park?
    choices:
      - {value: good, en: Good}
      - {value: poor, en: Poor}
    max_attempts: 3
  - id: why
    ask:
      en: Why do you say that?
    text: {max_length: 200}
    optional: true
"""


def runs(db) -> list[tuple[str, str | None]]:
    with db.session() as s:
        return [(r.status, r.current_step) for r in s.scalars(select(Run).order_by(Run.id))]


def stored_answers(db) -> list[tuple]:
    with db.session() as s:
        return [(a.step_id, a.value, a.raw_text, a.skipped) for a in s.scalars(select(Answer).order_by(Answer.id))]


def last_text(db) -> str:
    with db.session() as s:
        payload = s.scalars(select(OutboxMessage.payload).order_by(OutboxMessage.id.desc())).first()
    return payload.get("text") or payload.get("question")


def test_a_flow_answered_recently_is_refused_until_its_days_have_passed(services, db, clock):
    publish(services, ANNUAL)
    for text in ("ANNUAL", "1", "Lovely trees"):
        text_in(services, text, mobile(1))
    assert runs(db) == [("completed", None)]
    clock.advance(days=29, hours=23)
    text_in(services, "ANNUAL", mobile(1))
    assert last_text(db) == i18n.gettext("en", ALREADY_DONE)
    assert runs(db) == [("completed", None)]
    clock.advance(hours=1)  # 30 days since it was completed
    text_in(services, "ANNUAL", mobile(1))
    assert runs(db) == [("completed", None), ("active", "rating")]
    assert last_text(db).startswith("How good is the park?")


def test_skip_on_an_optional_question_is_stored_as_a_skipped_answer(services, db):
    publish(services, ANNUAL)
    for text in ("ANNUAL", "2", "SKIP"):
        text_in(services, text, mobile(2))
    assert stored_answers(db) == [("rating", "poor", "2", False), ("why", None, "SKIP", True)]
    assert runs(db) == [("completed", None)]


def test_the_third_reply_that_does_not_fit_passes_the_question_over_as_skipped(services, db):
    publish(services, ANNUAL)
    for text in ("ANNUAL", "purple", "7"):
        text_in(services, text, mobile(3))
    assert stored_answers(db) == [] and runs(db) == [("active", "rating")]
    text_in(services, "maybe", mobile(3))
    assert stored_answers(db) == [("rating", None, "maybe", True)]
    assert runs(db) == [("active", "why")]
    assert last_text(db) == ("Sorry, please reply with one of the numbers shown.\n\n"
                             "Let's move on to the next question.\n\nWhy do you say that?")
