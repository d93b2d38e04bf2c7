""""You said, we did": an update's title and what we asked, in the reader's language where the flow has it."""
from __future__ import annotations

from tests.public.conftest import answer, publish

LIGHTS = """\
id: lights
title: {en: Street lights, cy: Goleuadau stryd}
languages: [en, cy]
keywords: {en: [LIGHTS], cy: [GOLAU]}
consultation:
  purpose: {en: Decide where the new lights go, cy: Penderfynu ble mae'r goleuadau newydd yn mynd}
  opens: 2026-10-01
  closes: 2026-10-31
steps:
  - id: where
    ask: {en: Where should a light go?, cy: Ble dylai golau fynd?}
    text: true
"""


def test_the_title_and_the_question_asked_are_in_the_readers_language(client, services, db, flows_dir):
    (flows_dir / "lights.yaml").write_text(LIGHTS, encoding="utf-8")
    services.registry.reload()
    answer(db, "lights", [{"where": "Town Park"}] * 3)
    update_id = publish(services, "lights")
    welsh = client.get("/you-said-we-did?lang=cy").get_data(as_text=True)
    assert "Goleuadau stryd" in welsh and "Penderfynu ble mae&#39;r goleuadau newydd yn mynd" in welsh
    assert "Street lights" not in welsh and "Decide where the new lights go" not in welsh
    english = client.get("/you-said-we-did?lang=en").get_data(as_text=True)
    assert "Street lights" in english and "Decide where the new lights go" in english
    # The newsletter text and the title in Welsh too.
    text = client.get(f"/you-said-we-did/{update_id}.txt?lang=cy").get_data(as_text=True)
    assert text.startswith("Goleuadau stryd\n") and "Penderfynu ble mae'r goleuadau newydd yn mynd" in text


def test_a_flow_title_given_per_language_is_read_in_welsh_though_the_purpose_is_one_text(client, services, db):
    answer(db, "crime-perception", [{"home_safe": "unsafe"}] * 3)
    publish(services, "crime-perception")
    welsh = client.get("/you-said-we-did?lang=cy").get_data(as_text=True)
    assert "Arolwg canfyddiad o droseddu" in welsh and "Perception of crime survey</h2>" not in welsh
    # A purpose written once is shown as written, in every language.
    assert "Perception of crime survey to inform development" in welsh
