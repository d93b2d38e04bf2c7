"""Public pages: a copy of the flow library the test may add flows to, and helpers to publish results."""
from __future__ import annotations

import shutil
from datetime import timedelta

import pytest

from engage.updates import create_update, publish_update
from tests.conftest import DEFAULT_NOW, LIBRARY
from tests.support.dashboard import respondent, run_with_answers

UPDATE_TEXTS = {
    "en": {"said": "Most of you said Town Park feels unsafe after dark.",
           "did": "We are putting 12 new lights in Town Park in March.",
           "why": "It was the place named most often."},
    "cy": {"said": "Dywedodd y rhan fwyaf ohonoch fod Parc y Dref yn teimlo'n anniogel.",
           "did": "Rydym yn gosod 12 golau newydd ym Mharc y Dref ym mis Mawrth.",
           "why": "Dyma'r lle a enwyd amlaf."},
}


@pytest.fixture
def flows_dir(tmp_path):
    folder = tmp_path / "flows"
    shutil.copytree(LIBRARY, folder)
    return folder


@pytest.fixture
def app_config(app_config, flows_dir):
    return {**app_config, "flows_dir": str(flows_dir), "twilio_from": "+447700900123",
            "telegram_bot_username": "harlow_bot", "help_contact": "engagement@harlow.gov.uk"}


def answer(db, flow_id: str, answers_by_person: list[dict], *, language: str = "en") -> None:
    """Store one completed run per dict of answers, each by a new resident."""
    with db.session() as s:
        for answers in answers_by_person:
            contact, _address = respondent(s, language=language)
            run_with_answers(s, flow_id, contact, answers, started=DEFAULT_NOW - timedelta(days=60),
                             language=language)


def publish(services, flow_id: str, texts=UPDATE_TEXTS) -> int:
    with services.db.session() as s:
        update = create_update(s, services.registry.get(flow_id), texts, services.clock.now())
        publish_update(s, update, services.clock.now())
        return update.id
