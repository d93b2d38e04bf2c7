"""The web chat: works without JavaScript, stores each answer once, speaks the resident's language."""
from __future__ import annotations

import re
import uuid

from sqlalchemy import func, select

from engage.officers import create_officer
from store.models import Address, Answer, InboundMessage, OutboxMessage, Run

URDU_FLOW = """\
id: bins-urdu
title: Bin collections
languages: [ur, en]
keywords: [BINS]
steps:
  - id: happy
    ask:
      ur: کیا آپ کوڑا اٹھانے سے مطمئن ہیں؟
      en: Are you happy with bin collections?
    choices:
      - {value: "yes", ur: جی ہاں, en: "Yes"}
      - {value: "no", ur: نہیں, en: "No"}
"""


def field(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match, f"no {name} in the page"
    return match.group(1)


def open_chat(client, flow_id="street-safety", query=""):
    response = client.get(f"/chat/{flow_id}{query}")
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def answer(client, page: str, flow_id="street-safety", **form):
    data = {"csrf_token": field(page, "csrf_token"), "message_id": field(page, "message_id"), **form}
    action = re.search(r'<form id="answer" class="answer" method="post" action="([^"]+)"', page).group(1)
    assert action.startswith(f"/chat/{flow_id}")
    return client.post(action, data=data)


def count(db, model) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(model))


def answers(db) -> dict:
    with db.session() as s:
        return {a.step_id: a.value for a in s.scalars(select(Answer))}


def test_the_first_question_is_in_the_page_as_served(client, db):
    page = open_chat(client)
    assert '<html lang="en" dir="ltr">' in page
    assert "How safe do you feel walking in your area after dark?" in page
    assert re.findall(r'<button type="submit" name="choice" value="(\w+)"', page) == ["safe", "unsafe", "unsure"]
    assert 'aria-live="polite"' in page
    assert '<label for="text">' in page
    # A visit stores nothing: no contact, address, message or run until the resident answers.
    assert (count(db, Address), count(db, InboundMessage), count(db, Run), count(db, OutboxMessage)) == (0, 0, 0, 0)
    answer(client, page, choice="unsafe")
    with db.session() as s:
        run = s.scalar(select(Run))
        address = s.scalar(select(Address))
        assert (run.channel, run.started_by, run.current_step) == ("web", "web", "where")
        assert (address.channel, len(address.address)) == ("web", 32)
        # The session token is the address, kept in a signed cookie, never shown in the page.
        assert address.address not in page


def test_reloading_the_page_starts_nothing_new(client, db):
    open_chat(client)
    page = open_chat(client)
    assert page.count("How safe do you feel") == 1
    assert count(db, Run) == 0
    answer(client, page, choice="safe")
    page = open_chat(client)
    assert page.count("How safe do you feel") == 1
    assert count(db, Run) == 1
    assert count(db, InboundMessage) == 2  # the start and the answer


def test_a_button_press_moves_the_run_on_with_a_redirect(client, db):
    page = open_chat(client)
    response = answer(client, page, choice="unsafe")
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/chat/street-safety#latest")
    page = open_chat(client)
    assert "Which street or place feels least safe?" in page
    assert '<p class="message-text">Unsafe</p>' in page
    # The redirect's #latest lands on the newest message.
    assert page.count('id="latest"') == 1
    assert re.search(r'id="latest" tabindex="-1">\s*<span class="visually-hidden">Council said:</span>\s*'
                     r'<p class="message-text">Which street', page)
    assert answers(db) == {"feel_safe": "unsafe"}
    with db.session() as s:
        assert s.scalar(select(Answer.raw_text)) == "Unsafe"
        assert s.scalar(select(Answer.channel)) == "web"


def test_the_same_form_posted_twice_stores_the_answer_once(client, db):
    page = open_chat(client)
    for _ in range(2):
        assert answer(client, page, choice="safe").status_code == 303
    assert answers(db) == {"feel_safe": "safe"}
    assert count(db, InboundMessage) == 2  # the start and one answer
    with db.session() as s:
        assert s.scalar(select(Run.current_step)) == "age"


def test_a_whole_run_by_typing_and_pressing(client, db, clock):
    page = open_chat(client)
    clock.advance(seconds=5)
    answer(client, page, choice="unsafe")
    clock.advance(seconds=5)
    page = open_chat(client)
    answer(client, page, text="Station Road <by the underpass>")
    clock.advance(seconds=5)
    page = open_chat(client)
    answer(client, page, choice="65_plus")
    page = open_chat(client)
    assert answers(db) == {"feel_safe": "unsafe", "where": "Station Road <by the underpass>", "age": "65_plus"}
    assert "Station Road &lt;by the underpass&gt;" in page
    assert "We will tell you what we did" in page
    assert 'name="choice"' not in page
    assert "Start again" in page
    texts = re.findall(r'<p class="message-text">([^<]*)</p>', page)
    assert texts[:4] == ["How safe do you feel walking in your area after dark?", "Unsafe",
                         "Which street or place feels least safe?", "Station Road &lt;by the underpass&gt;"]


def test_a_forged_form_stores_nothing_and_keeps_the_draft(client, db):
    page = open_chat(client)
    response = client.post("/chat/street-safety", data={
        "csrf_token": "forged", "message_id": str(uuid.uuid4()), "text": "my words"})
    assert response.status_code == 400
    assert "please send it again" in response.get_data(as_text=True).lower()
    assert ">my words</textarea>" in response.get_data(as_text=True)
    assert count(db, InboundMessage) == 0
    assert "How safe" in page


def test_an_empty_answer_is_refused_with_words(client, db):
    page = open_chat(client)
    response = answer(client, page, text="   ")
    assert response.status_code == 400
    assert "Please type an answer" in response.get_data(as_text=True)
    assert count(db, InboundMessage) == 0


def test_a_post_without_a_session_starts_one(client, db):
    response = client.post("/chat/street-safety", data={"text": "hello"})
    assert response.status_code == 303
    assert count(db, InboundMessage) == 0


def test_an_unknown_flow_is_404(client):
    assert client.get("/chat/no-such-flow").status_code == 404


# ----- the JSON API ----------------------------------------------------------------------------------


def test_the_api_takes_an_answer_once_and_returns_the_next_question(client, db):
    page = open_chat(client)
    last_id = int(re.search(r'data-last-id="(\d+)"', page).group(1))
    body = {"message_id": str(uuid.uuid4()), "choice": "unsafe", "after": last_id}
    headers = {"X-CSRFToken": field(page, "csrf_token")}
    first = client.post("/chat/street-safety/api/messages", json=body, headers=headers).get_json()
    assert first["stored"] is True
    assert [m["text"] for m in first["messages"]] == ["Which street or place feels least safe?"]
    assert first["messages"][0]["dir"] == "ltr"
    assert '<textarea id="text"' in first["form_html"]
    again = client.post("/chat/street-safety/api/messages", json=body, headers=headers).get_json()
    assert again["stored"] is False
    assert answers(db) == {"feel_safe": "unsafe"}
    later = client.get(f"/chat/street-safety/api/messages?after={first['last_id']}").get_json()
    assert later["messages"] == []
    everything = client.get("/chat/street-safety/api/messages?after=0").get_json()
    assert len(everything["messages"]) == 2


def test_the_api_refuses_a_missing_csrf_token_and_stores_nothing(client, db):
    open_chat(client)
    response = client.post("/chat/street-safety/api/messages",
                           json={"message_id": str(uuid.uuid4()), "text": "hello"})
    assert response.status_code == 400
    assert count(db, InboundMessage) == 0


def test_the_api_needs_a_session(client):
    assert client.get("/chat/street-safety/api/messages").status_code == 401


def test_a_bad_after_is_a_clear_400(client):
    open_chat(client)
    assert client.get("/chat/street-safety/api/messages?after=soon").status_code == 400


# ----- languages ----------------------------------------------------------------------------------------


def test_an_urdu_page_is_right_to_left(client, services, db):
    from flows.loader import load_flow_text

    services.registry.add(load_flow_text(URDU_FLOW, "bins-urdu.yaml"))
    page = open_chat(client, "bins-urdu", "?lang=ur")
    assert '<html lang="ur" dir="rtl">' in page
    assert 'lang="ur" dir="rtl"' in page  # the question itself
    assert "کیا آپ کوڑا اٹھانے سے مطمئن ہیں؟" in page


def test_an_urdu_speaker_on_an_english_and_welsh_flow_gets_rtl_chrome_and_ltr_questions(client):
    page = open_chat(client, query="?lang=ur")
    assert '<html lang="ur" dir="rtl">' in page
    assert re.search(r'<li class="message message-council" lang="en" dir="ltr"', page)


def test_the_browser_language_picks_welsh(client, db):
    response = client.get("/chat/street-safety", headers={"Accept-Language": "cy-GB,cy;q=0.9,en;q=0.5"})
    page = response.get_data(as_text=True)
    assert '<html lang="cy" dir="ltr">' in page
    assert "Pa mor ddiogel" in page


def test_switching_language_asks_the_open_question_again_in_that_language(client, db, clock):
    page = open_chat(client)
    clock.advance(seconds=1)
    response = client.post("/chat/street-safety/language", data={"csrf_token": field(page, "csrf_token"),
                                                                 "lang": "cy"})
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert '<html lang="cy" dir="ltr">' in page
    assert "Cymraeg" in page
    assert re.findall(r'<button type="submit" name="choice" value="\w+" class="choice">([^<]+)<', page) == [
        "Diogel", "Anniogel", "Ddim yn siŵr"]
    assert count(db, Run) == 0  # nothing stored yet: the first answer starts the run in Welsh
    clock.advance(seconds=1)
    answer(client, page, choice="unsafe")
    assert answers(db) == {"feel_safe": "unsafe"}
    with db.session() as s:
        run = s.scalar(select(Run))
        assert (run.status, run.state["lang"], run.current_step) == ("active", "cy", "where")
    # With a run open, switching asks the open question again in the new language.
    page = client.get("/chat/street-safety?lang=cy").get_data(as_text=True)
    response = client.post("/chat/street-safety/language", data={"csrf_token": field(page, "csrf_token"),
                                                                 "lang": "en"})
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert page.rstrip().count("Which street or place feels least safe?") == 1
    with db.session() as s:
        assert s.scalar(select(Run)).state["lang"] == "en"


# ----- preview and consent -------------------------------------------------------------------------------


def test_a_closed_consultation_says_so_to_residents(client):
    page = open_chat(client, "climate-pulse")
    assert "closed on 25 October 2026" in page


def signed_in_officer(client, db, clock, email="officer@harlow.gov.uk"):
    """A second browser, signed in as a council officer through the sign-in form."""
    with db.session() as s:
        create_officer(s, email, "a long enough password", "officer", now=clock.now())
    officer_client = client.application.test_client()
    page = officer_client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = officer_client.post("/login", data={"email": email, "csrf_token": token,
                                                   "password": "a long enough password"})
    assert response.status_code == 302
    return officer_client


def test_preview_is_ignored_for_residents_and_open_to_officers(client, db, clock):
    assert "closed on" in open_chat(client, "climate-pulse", "?preview=1")
    officer_client = signed_in_officer(client, db, clock)
    page = open_chat(officer_client, "climate-pulse", "?preview=1")
    assert "How worried are you about climate change?" in page
    assert "Preview: consultation dates are not enforced." in page
    assert 'action="/chat/climate-pulse?preview=1"' in page
    response = answer(officer_client, page, "climate-pulse", choice="4")
    assert response.headers["Location"].endswith("/chat/climate-pulse?preview=1#latest")
    with db.session() as s:
        assert s.scalar(select(Answer.value).where(Answer.flow_id == "climate-pulse")) == 4


def test_preview_needs_a_session_that_has_not_ended(client, db, clock):
    officer_client = signed_in_officer(client, db, clock)
    assert "Preview: consultation dates are not enforced." in open_chat(officer_client, "climate-pulse", "?preview=1")
    # Thirty-one minutes away from the dashboard: the officer's session has timed out.
    clock.advance(minutes=31)
    page = officer_client.get("/chat/climate-pulse?preview=1").get_data(as_text=True)
    assert "Preview:" not in page and "?preview=1" not in page
    # Signed out on the dashboard: a copy of the cookie previews nothing either.
    fresh = signed_in_officer(client.application.test_client(), db, clock, email="second@harlow.gov.uk")
    copied = fresh.get_cookie("session").value
    home = fresh.get("/dashboard/").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', home).group(1)
    assert fresh.post("/logout", data={"csrf_token": token}).status_code == 302
    thief = client.application.test_client()
    thief.set_cookie("session", copied)
    assert "Preview:" not in thief.get("/chat/climate-pulse?preview=1").get_data(as_text=True)


def test_only_an_officers_preview_may_be_framed_and_only_by_the_dashboard(client, db, clock):
    resident_page = client.get("/chat/climate-pulse?preview=1")
    assert "frame-ancestors 'none'" in resident_page.headers["Content-Security-Policy"]
    officer_client = signed_in_officer(client, db, clock)
    preview = officer_client.get("/chat/climate-pulse?preview=1")
    assert "frame-ancestors 'self'" in preview.headers["Content-Security-Policy"]


def test_after_stop_the_page_gets_nothing_more(client, db, clock):
    page = open_chat(client)
    clock.advance(seconds=1)
    answer(client, page, text="STOP")
    clock.advance(seconds=1)
    page = open_chat(client)
    assert "You will get no more messages" in page
    clock.advance(seconds=1)
    answer(client, page, text="safe")
    with db.session() as s:
        statuses = [r.status for r in s.scalars(select(OutboxMessage).order_by(OutboxMessage.id))]
    assert statuses == ["sent", "sent"]
    assert answers(db) == {}


MULTIPLE_FLOW = """\
id: worries
title: Worries
languages: [en]
keywords: [WORRIES]
steps:
  - id: worries
    ask:
      en: What worries you most?
    multiple: true
    choices:
      - {value: asb, en: Anti-social behaviour}
      - {value: drugs, en: Drugs}
      - {value: burglary, en: Burglary}
  - id: thanks
    say:
      en: Thank you.
"""


def test_ticked_boxes_are_stored_as_their_exact_values(client, services, db):
    from flows.loader import load_flow_text

    services.registry.add(load_flow_text(MULTIPLE_FLOW, "worries.yaml"))
    page = open_chat(client, "worries")
    assert re.findall(r'type="checkbox" id="pick-\d" name="choices" value="(\w+)"', page) == [
        "asb", "drugs", "burglary"]
    response = client.post("/chat/worries", data={"csrf_token": field(page, "csrf_token"),
                                                  "message_id": field(page, "message_id"),
                                                  "choices": ["asb", "burglary"]})
    assert response.status_code == 303
    with db.session() as s:
        answer_row = s.scalar(select(Answer))
        assert (answer_row.value, answer_row.raw_text) == (["asb", "burglary"], "Anti-social behaviour, Burglary")
    assert "Thank you." in open_chat(client, "worries")


def test_visits_store_nothing_and_new_chats_are_limited_per_client_address(app, db, clock):
    from webhooks.webchat.limits import BURST

    for _ in range(50):
        open_chat(app.test_client())  # fifty new browsers
    assert (count(db, Address), count(db, InboundMessage), count(db, Run)) == (0, 0, 0)

    def first_answer(remote: str) -> int:
        browser = app.test_client()
        page = browser.get("/chat/street-safety", environ_base={"REMOTE_ADDR": remote}).get_data(as_text=True)
        data = {"csrf_token": field(page, "csrf_token"), "message_id": field(page, "message_id"), "choice": "safe"}
        return browser.post("/chat/street-safety", data=data, environ_base={"REMOTE_ADDR": remote}).status_code

    burst = int(BURST)
    statuses = [first_answer("203.0.113.9") for _ in range(burst + 2)]
    assert statuses == [303] * burst + [429, 429]
    assert count(db, Run) == burst
    assert first_answer("198.51.100.4") == 303  # another address is not held back
    clock.advance(seconds=6)  # the bucket refills at ten a minute: one more new chat
    assert [first_answer("203.0.113.9") for _ in range(2)] == [303, 429]


def restart_form(page: str) -> tuple[str, dict[str, str]]:
    form = re.search(r'<form class="restart" method="post" action="([^"]+)">(.*?)</form>', page, re.S)
    assert form, "no Start again form on the page"
    return form.group(1), {"csrf_token": field(form.group(2), "csrf_token"),
                           "message_id": field(form.group(2), "message_id")}


def test_start_again_after_the_end_does_not_count_a_resident_twice_however_often_it_is_pressed(client, db):
    page = open_chat(client)
    answer(client, page, choice="safe")
    answer(client, open_chat(client), choice="18_64")
    page = open_chat(client)
    action, form = restart_form(page)
    assert action == "/chat/street-safety/restart"
    for _ in range(2):  # a double click sends the same message id twice
        response = client.post(action, data=form)
        assert (response.status_code, response.headers["Location"]) == (303, "/chat/street-safety#latest")
    # One answer per resident per consultation (street-safety does not say allow_change): pressing it,
    # however often, starts no second run to be counted twice.
    with db.session() as s:
        assert [(r.status, r.current_step) for r in s.scalars(select(Run).order_by(Run.id))] == [
            ("completed", None)]
    # Without the form's token nothing is even stored.
    client.post(action, data={**form, "csrf_token": "forged", "message_id": str(uuid.uuid4())})
    assert count(db, Run) == 1


def test_a_forged_session_cookie_gets_a_session_of_its_own_and_nothing_of_anothers(app, client, db):
    from itsdangerous import URLSafeSerializer

    page = open_chat(client)
    answer(client, page, choice="unsafe")
    with db.session() as s:
        token = s.scalar(select(Address.address))
    intruder = app.test_client()
    forged = URLSafeSerializer("not-the-secret-key", salt="webchat-session").dumps(token)
    intruder.set_cookie("outreach_chat", forged)
    seen = open_chat(intruder)
    # A fresh chat at the first question: the resident's answer and their next question are not shown.
    assert "Which street or place feels least safe?" not in seen and "How safe do you feel" in seen
    intruder.set_cookie("outreach_chat", forged)
    response = intruder.post("/chat/street-safety", data={"csrf_token": field(seen, "csrf_token"),
                                                          "message_id": str(uuid.uuid4()), "text": "Mill Lane"})
    assert (response.status_code, response.headers["Location"]) == (303, "/chat/street-safety")
    with db.session() as s:
        addresses = s.scalars(select(Address.address).order_by(Address.id)).all()
        # The forged cookie is no session: its answer is not stored anywhere, least of all in the resident's run.
        assert addresses == [token]
        assert s.scalar(select(Run.current_step).where(Run.address_id == s.scalar(
            select(Address.id).where(Address.address == token)))) == "where"
    assert answers(db) == {"feel_safe": "unsafe"}
