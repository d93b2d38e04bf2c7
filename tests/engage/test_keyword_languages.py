"""A keyword belongs to a language: DIOGEL starts the flow in Welsh and records Welsh; HELP lists keywords in
the resident's language; the same for Telegram /start links and web chat links."""
from __future__ import annotations

import html
import itertools
import re
import textwrap

import pytest
from sqlalchemy import select

from flows.lint import lint_paths
from flows.loader import FlowError, load_flow_text
from store.models import Address, Contact, OutboxMessage, Run
from tests.support.telegram_fake import (
    drain_outbox,
    post_update,
    running_fake_telegram,
    telegram_settings,
    text_update,
)

PHONE = "+447700900301"
_ids = itertools.count(1)


def text_in(services, text, address=PHONE, **payload):
    row_id, _created = services.conversations.store_inbound("sms", f"SMKW{next(_ids):028d}", address, text,
                                                            payload)
    services.conversations.process_inbound(row_id)


def last_payload(db, address=PHONE):
    with db.session() as s:
        address_id = s.scalar(select(Address.id).where(Address.address == address))
        return s.scalars(select(OutboxMessage.payload).where(OutboxMessage.address_id == address_id)
                         .order_by(OutboxMessage.id.desc())).first()


def contact_language(db, address=PHONE):
    with db.session() as s:
        return s.scalar(select(Contact.language).join(Address).where(Address.address == address))


def set_language(db, lang, address=PHONE):
    with db.session() as s:
        contact = s.scalar(select(Contact).join(Address).where(Address.address == address))
        contact.language = lang


# ----- SMS ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("word, flow_id, question", [
    ("DIOGEL", "street-safety", "Pa mor ddiogel ydych chi'n teimlo"),
    ("diogel", "street-safety", "Pa mor ddiogel ydych chi'n teimlo"),
    ("YMUNO", "citizens-panel", "Byddwn yn cadw eich rhif"),
])
def test_a_welsh_keyword_from_a_new_number_asks_in_welsh_and_records_welsh(services, db, word, flow_id, question):
    text_in(services, word)
    payload = last_payload(db)
    assert (payload["flow_id"], payload["lang"]) == (flow_id, "cy")
    assert payload["question"].startswith(question)
    assert "fallback_from" not in payload
    assert contact_language(db) == "cy"
    with db.session() as s:
        assert s.scalar(select(Run.language)) == "cy"


def test_a_base_language_keyword_chooses_no_language(services, db):
    # Every poster leads with SAFE: texting it says nothing about the resident's language.
    text_in(services, "SAFE")
    payload = last_payload(db)
    assert payload["lang"] == "en" and payload["question"].startswith("How safe do you feel")
    assert contact_language(db) is None
    welsh = "+447700900304"
    text_in(services, "Cymraeg", address=welsh)
    text_in(services, "SAFE", address=welsh)
    assert last_payload(db, welsh)["question"].startswith("Pa mor ddiogel")


def test_the_keywords_language_starts_the_run_but_never_overwrites_a_recorded_preference(services, db):
    text_in(services, "hello")  # the contact exists, language unknown
    set_language(db, "en")
    text_in(services, "DIOGEL")
    payload = last_payload(db)
    assert payload["lang"] == "cy" and payload["question"].startswith("Pa mor ddiogel")
    # Welsh was the resident's own choice of word, not a fallback from English.
    assert "fallback_from" not in payload
    assert contact_language(db) == "en"


def test_a_plain_keyword_list_still_means_the_base_language_and_keeps_the_old_behaviour(services, db):
    flow = load_flow_text(textwrap.dedent("""\
        id: bins
        title: Bins
        languages: [en, cy]
        keywords: [BINS, BINIAU]
        steps:
          - id: happy
            ask: {en: Happy with your bins?, cy: Hapus gyda'ch biniau?}
            yes_no: true
        """))
    assert flow.keyword_language("BINIAU") is None
    services.registry.add(flow)
    text_in(services, "BINIAU")
    assert last_payload(db)["lang"] == "en"
    assert contact_language(db) is None
    other = "+447700900303"
    text_in(services, "hello", address=other)
    set_language(db, "cy", address=other)
    text_in(services, "BINS", address=other)
    assert last_payload(db, other)["lang"] == "cy"


def test_help_lists_each_flows_keyword_in_the_residents_language(services, db):
    text_in(services, "DIOGEL")
    text_in(services, "CYMORTH")
    welsh = last_payload(db)["text"]
    assert "DIOGEL" in welsh and "YMUNO" in welsh
    assert "SAFE" not in welsh.replace("STOP", "") and "PANEL" not in welsh
    other = "+447700900302"
    text_in(services, "SAFE", address=other)
    text_in(services, "INFO", address=other)
    english = last_payload(db, other)["text"]
    assert "SAFE" in english and "PANEL" in english and "DIOGEL" not in english


def test_help_for_a_language_with_no_keyword_of_its_own_lists_the_base_languages(services, db):
    text_in(services, "hello")
    set_language(db, "pl")
    text_in(services, "POMOC")
    polish = last_payload(db)["text"]
    assert polish.startswith("To jest") or "Harlow Council" in polish
    assert "SAFE" in polish and "DIOGEL" not in polish


# ----- the flow file ----------------------------------------------------------------------------------

KEYWORD_FLOW = """\
id: bins
title: Bins
languages: [en, cy]
keywords: {en: [BINS], cy: [BINIAU, SBWRIEL]}
steps:
  - id: happy
    ask: {en: Happy with your bins?, cy: Hapus gyda'ch biniau?}
    yes_no: true
"""


def test_keywords_per_language_load_with_their_languages():
    flow = load_flow_text(KEYWORD_FLOW)
    assert flow.keywords == ["BINS", "BINIAU", "SBWRIEL"]
    assert [flow.keyword_language(k) for k in ("bins", "Biniau", "SBWRIEL")] == ["en", "cy", "cy"]
    assert flow.keywords_in("cy") == ["BINIAU", "SBWRIEL"]
    assert flow.keywords_in("pl") == ["BINS"]


@pytest.mark.parametrize("keywords, line, col, message", [
    ("{en: [BINS], pl: [SMIECI]}", 4, 24, "text in pl (Polish), which is not in this flow's languages (en, cy)"),
    ("{en: [BINS], c1: [BINIAU]}", 4, 24, "'c1' in 'keywords' is not a language code"),
    ("{en: [BINS], cy: {a: b}}", 4, 28, "the cy (Welsh) keywords should be a list of words, e.g. cy: [DIOGEL]"),
    ("{en: [BINS], cy: [STOP]}", 4, 29, "keyword 'STOP' is reserved (opt-out, help or skip word); choose another"),
    ("{en: [BINS], cy: [BINS]}", 4, 29, "keyword 'BINS' is listed twice"),
    ("7", 4, 11, "'keywords' should be a list of words, e.g. [SAFE, DIOGEL], or words per language, "
                 "e.g. {en: [SAFE], cy: [DIOGEL]}"),
])
def test_a_bad_keyword_mapping_is_reported_at_its_line_and_column(keywords, line, col, message):
    text = KEYWORD_FLOW.replace("{en: [BINS], cy: [BINIAU, SBWRIEL]}", keywords)
    with pytest.raises(FlowError) as caught:
        load_flow_text(text, "bins.yaml")
    assert f"bins.yaml:{line}:{col}: {message}" in [str(p) for p in caught.value.problems]


def test_lint_warns_about_a_language_without_a_keyword(tmp_path):
    path = tmp_path / "bins.yaml"
    path.write_text(KEYWORD_FLOW.replace("{en: [BINS], cy: [BINIAU, SBWRIEL]}", "{en: [BINS]}"), encoding="utf-8")
    assert [str(p) for p in lint_paths([path])] == [
        f"{path}:4:1: warning: no keyword in cy (Welsh): residents can start the flow in it only from a link "
        "or by switching language"]


def test_a_welsh_keyword_shared_with_another_flow_is_reported(tmp_path):
    (tmp_path / "a.yaml").write_text(KEYWORD_FLOW, encoding="utf-8")
    (tmp_path / "b.yaml").write_text(KEYWORD_FLOW.replace("id: bins", "id: bins2").replace(
        "{en: [BINS], cy: [BINIAU, SBWRIEL]}", "{en: [RUBBISH], cy: [SBWRIEL]}"), encoding="utf-8")
    problems = [str(p) for p in lint_paths([tmp_path])]
    assert any("b.yaml:4:" in p and "keyword 'SBWRIEL' is also used by flow 'bins'" in p for p in problems)


# ----- Telegram and the web chat -------------------------------------------------------------------------


@pytest.fixture
def telegram_app(app_config):
    from app import create_app

    with running_fake_telegram() as fake:
        application = create_app({**app_config, **telegram_settings(fake)})
        yield application, fake
        services = application.extensions["outreach"]
        channel = services.extras.get("telegram")
        if channel is not None:
            channel.close()
        services.stop_loops()


def test_a_telegram_link_with_a_welsh_keyword_starts_in_welsh_whatever_the_app_language(telegram_app, db):
    application, fake = telegram_app
    client = application.test_client()
    # The resident's Telegram is set to English; the poster's link was the Welsh one.
    assert post_update(client, text_update(990001, 5550009999, "/start DIOGEL", language_code="en")).status_code == 200
    drain_outbox(application.extensions["outreach"])
    [sent] = fake.fake.sent_messages("5550009999")
    assert sent["text"].startswith("Pa mor ddiogel")
    with db.session() as s:
        assert s.scalar(select(Contact.language)) == "cy"
        assert s.scalar(select(Run.language)) == "cy"


def stored_language(db) -> tuple[str | None, str | None]:
    """The web chat resident's recorded language and their run's language (None when nothing is stored)."""
    with db.session() as s:
        return s.scalar(select(Contact.language)), s.scalar(select(Run.language))


def first_answer(client, page: str):
    """Answer the chat page's first question through its plain form, as a resident without JavaScript would."""
    def field(name):
        return re.search(rf'name="{name}" value="([^"]*)"', page).group(1)

    action = re.search(r'<form id="answer" class="answer" method="post" action="([^"]+)"', page).group(1)
    return client.post(html.unescape(action), data={"csrf_token": field("csrf_token"),
                                                    "message_id": field("message_id"), "choice": "unsafe"})


def test_a_web_chat_keyword_link_opens_the_flow_in_the_keywords_language(client, db):
    response = client.get("/chat/DIOGEL")
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/chat/street-safety?lang=cy")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert '<html lang="cy" dir="ltr">' in page
    assert "<h1>Teimlo&#39;n ddiogel yn eich cymdogaeth</h1>" in page
    assert "Pa mor ddiogel ydych chi" in page
    # A first visit stores nothing; the first answer starts the run in the link's language and records it.
    assert stored_language(db) == (None, None)
    assert first_answer(client, page).status_code == 303
    assert stored_language(db) == ("cy", "cy")
    assert client.get("/chat/NOSUCHWORD").status_code == 404


def test_wales_mode_shows_the_web_chat_in_welsh_first_without_recording_a_preference(app_config, db):
    from app import create_app

    application = create_app({**app_config, "welsh_first": True})
    client = application.test_client()
    page = client.get("/chat/street-safety", headers={"Accept-Language": "en-GB,en;q=0.9"}).get_data(as_text=True)
    assert '<html lang="cy" dir="ltr">' in page
    assert "Pa mor ddiogel ydych chi" in page
    # English is one choice away, in its own name.
    assert '<option value="en" lang="en">English</option>' in page
    # The first answer starts the run in Welsh, and no preference is recorded for the resident.
    assert first_answer(client, page).status_code == 303
    assert stored_language(db) == (None, "cy")
    application.extensions["outreach"].stop_loops()


def test_without_wales_mode_the_browsers_language_is_used(client, db):
    page = client.get("/chat/street-safety", headers={"Accept-Language": "en-GB,en;q=0.9"}).get_data(as_text=True)
    assert '<html lang="en" dir="ltr">' in page


def test_wales_mode_shows_the_public_page_in_welsh_first_and_english_on_request(app_config, db):
    from app import create_app

    application = create_app({**app_config, "welsh_first": True})
    client = application.test_client()

    def page(query="", **headers):
        return client.get(f"/you-said-we-did{query}", headers=headers).get_data(as_text=True)

    # A browser that names no language meets Welsh, with Welsh first in the language switcher.
    welsh = page()
    assert '<html lang="cy" dir="ltr">' in welsh and "Dywedoch chi, fe wnaethon ni" in welsh
    assert re.findall(r'hreflang="(\w+)"', welsh)[:2] == ["cy", "en"]
    # The resident's own choice comes first: the switcher's ?lang=, then the browser's language.
    assert '<html lang="en" dir="ltr">' in page("?lang=en")
    assert '<html lang="en" dir="ltr">' in page(**{"Accept-Language": "en-GB"})
    assert '<html lang="cy" dir="ltr">' in page("?lang=cy", **{"Accept-Language": "en-GB"})
    application.extensions["outreach"].stop_loops()


def test_the_public_page_follows_the_browser_outside_wales_mode(client):
    polish = client.get("/you-said-we-did", headers={"Accept-Language": "pl-PL,pl;q=0.9"}).get_data(as_text=True)
    assert '<html lang="pl" dir="ltr">' in polish
    english = client.get("/you-said-we-did").get_data(as_text=True)
    assert '<html lang="en" dir="ltr">' in english
