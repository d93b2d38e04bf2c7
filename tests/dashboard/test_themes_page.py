"""The themes page: linked from the results, found on request, renamed, merged, moved and marked by officers."""
from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from store.models.officers import AuditLog
from store.models.themes import Theme
from tests.support.dashboard import respondent, run_with_answers

FLOW, STEP = "street-safety", "where"
ANSWERS = (["The street lights are broken near the station", "no street lights in the alley, too dark",
            "more street lighting by the underpass", "dark footpath, the lamps are out"] * 4
           + ["the buses are always late", "more buses in the evening please", "the bus never turns up",
              "bus fares too expensive"] * 4
           + ["goleuadau stryd ddim yn gweithio", "mae'r bysiau yn hwyr"])
PAGE = f"/dashboard/results/{FLOW}/themes/{STEP}"


def _answers(services, clock, texts=ANSWERS, start=0):
    with services.db.session() as s:
        for i, text in enumerate(texts):
            contact, _ = respondent(s, fields={"ward": ("Mark Hall", "Netteswell")[i % 2]})
            run_with_answers(s, FLOW, contact, {"feel_safe": "unsafe", STEP: text},
                             started=clock.now() + timedelta(seconds=start + i))


def _token(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def _themes(services) -> list[Theme]:
    with services.db.session() as s:
        return list(s.scalars(select(Theme).where(Theme.status == "active").order_by(Theme.id)))


def test_an_officer_finds_renames_and_merges_themes_and_new_answers_keep_them(client, as_role, services, clock):
    _answers(services, clock)
    as_role("officer")
    results = client.get(f"/dashboard/results/{FLOW}").get_data(as_text=True)
    assert f'href="{PAGE}"' in results
    page = client.get(PAGE)
    assert page.status_code == 200 and "Find themes" in page.get_data(as_text=True)
    token = _token(page.get_data(as_text=True))
    found = client.post(PAGE + "/analyse", data={"csrf_token": token})
    assert found.status_code == 303
    themes = _themes(services)
    assert len(themes) >= 2
    html = client.get(PAGE).get_data(as_text=True)
    assert "The street lights are broken near the station" in html
    assert "residents" in html and "% of you named" in html
    assert client.post(PAGE + "/rename", data={"csrf_token": token, "theme": themes[0].id,
                                               "label": "Street lighting"}).status_code == 303
    assert client.post(PAGE + "/merge", data={"csrf_token": token, "theme": [t.id for t in themes[1:]],
                                              "into": themes[0].id}).status_code == 303
    after = _themes(services)
    assert [(t.id, t.label) for t in after] == [(themes[0].id, "Street lighting")]
    html = client.get(PAGE).get_data(as_text=True)
    assert "Street lighting" in html and "% of you named Street lighting" in html
    # New answers arrive: the officer's theme stays, named as they named it.
    _answers(services, clock, ["street lights out again on my road", "Why is the swimming pool shut on Tuesdays"],
             start=100)
    html = client.get(PAGE).get_data(as_text=True)
    assert "2 answers arrived since" in html
    assert client.post(PAGE + "/analyse", data={"csrf_token": token}).status_code == 303
    labels = [t.label for t in _themes(services)]
    assert labels[0] == "Street lighting" and "To look at" in labels
    with services.db.session() as s:
        actions = [r.action for r in s.scalars(select(AuditLog).order_by(AuditLog.id))]
    assert [a for a in actions if a.startswith("theme")] == ["themes.analysed", "theme.renamed", "theme.merged",
                                                            "themes.analysed"]


def test_moving_and_marking_answers(client, as_role, services, clock):
    _answers(services, clock)
    token = as_role("officer")
    client.post(PAGE + "/analyse", data={"csrf_token": token})
    themes = _themes(services)
    html = client.get(PAGE).get_data(as_text=True)
    answer = re.search(r'name="answer" value="(\d+)"', html).group(1)
    assert client.post(PAGE + "/move", data={"csrf_token": token, "answer": answer,
                                             "theme": themes[-1].id}).status_code == 303
    assert client.post(PAGE + "/mark", data={"csrf_token": token, "answer": answer,
                                             "mark": "needs_reply"}).status_code == 303
    html = client.get(PAGE).get_data(as_text=True)
    assert 'id="reply-h"' in html
    assert client.post(PAGE + "/mark", data={"csrf_token": token, "answer": answer, "mark": "erase"}).status_code == 400


def test_viewers_read_themes_but_cannot_change_them_and_forms_need_a_token(client, as_role, services, clock):
    _answers(services, clock)
    token = as_role("officer")
    client.post(PAGE + "/analyse", data={"csrf_token": token})
    theme = _themes(services)[0]
    assert client.post(PAGE + "/rename", data={"theme": theme.id, "label": "No token"}).status_code == 400
    client.post("/logout", data={"csrf_token": token})
    viewer_token = as_role("viewer")
    page = client.get(PAGE)
    assert page.status_code == 200 and "Rename" not in page.get_data(as_text=True)
    assert client.post(PAGE + "/rename", data={"csrf_token": viewer_token, "theme": theme.id,
                                               "label": "Viewer"}).status_code == 403
    assert _themes(services)[0].label == theme.label
    assert client.get(f"/dashboard/results/{FLOW}/themes/feel_safe").status_code == 404


def test_the_page_in_welsh(client, as_role, services, clock):
    _answers(services, clock)
    token = as_role("officer")
    client.post(PAGE + "/analyse", data={"csrf_token": token})
    html = client.get(PAGE, headers={"Accept-Language": "cy"}).get_data(as_text=True)
    assert "Themâu:" in html and "Pwy ddywedodd beth" in html and "Soniodd" in html
    assert "Themâu yn yr atebion hyn" in client.get(f"/dashboard/results/{FLOW}",
                                                     headers={"Accept-Language": "cy"}).get_data(as_text=True)


def test_the_audit_page_words_theme_decisions_in_the_officers_language(client, as_role, services, clock):
    _answers(services, clock)
    token = as_role("admin")
    client.post(PAGE + "/analyse", data={"csrf_token": token})
    theme = _themes(services)[0]
    client.post(PAGE + "/rename", data={"csrf_token": token, "theme": theme.id, "label": "Goleuadau"})
    english = client.get("/dashboard/audit").get_data(as_text=True)
    assert f"Renamed theme {theme.id} of {FLOW}/{STEP} to “Goleuadau”" in english
    assert f"Brought the themes of {FLOW}/{STEP} up to date ({len(ANSWERS)} answers placed)" in english
    welsh = client.get("/dashboard/audit", headers={"Accept-Language": "cy"}).get_data(as_text=True)
    assert f"Ailenwyd thema {theme.id} o {FLOW}/{STEP} yn “Goleuadau”" in welsh
