"""Dashboard pages: escaping, results, representativeness, flow upload, exports, assisted entry, outreach."""
from __future__ import annotations

import io
import re
from datetime import datetime, timezone

from openpyxl import load_workbook
from sqlalchemy import select

from engage.contacts import create_contact
from store.models import Answer, OutboxMessage, Run
from store.models.officers import AuditLog
from tests.support.contacts import find_traces, mobile, text_in
from tests.support.dashboard import BAD_FLOW, respondent, run_with_answers

T0 = datetime(2026, 12, 2, 9, 0, tzinfo=timezone.utc)


def _answers(services, rows):
    with services.db.session() as s:
        for fields, answers in rows:
            contact, _ = respondent(s, fields=fields)
            run_with_answers(s, "street-safety", contact, answers, started=T0)


def test_resident_text_is_shown_as_text_never_run(client, as_role, services):
    attack = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    _answers(services, [({"ward": "<b>ward</b>"}, {"feel_safe": "unsafe", "where": attack})])
    as_role("officer")
    for path in ("/dashboard/results/street-safety", "/dashboard/results/street-safety?by=ward"):
        html = client.get(path).get_data(as_text=True)
        assert "<script>alert" not in html and "<img src=x" not in html
    html = client.get("/dashboard/results/street-safety").get_data(as_text=True)
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    with services.db.session() as s:
        contact_id = s.scalar(select(Answer.contact_id))
    html = client.get(f"/dashboard/contacts/{contact_id}").get_data(as_text=True)
    assert "<script>alert" not in html and "&lt;script&gt;" in html


def test_results_page_shows_counts_breakdown_free_text_and_funnel(client, as_role, services):
    _answers(services, [({"age_band": "18_64"}, {"feel_safe": "safe", "age": "18_64"}),
                        ({"age_band": "65_plus"}, {"feel_safe": "unsafe", "where": "Market Street", "age": "65_plus"}),
                        ({"age_band": "65_plus"}, {"feel_safe": "unsafe", "where": "The underpass"})])
    as_role("viewer")
    html = client.get("/dashboard/results/street-safety?by=age_band").get_data(as_text=True)
    feel_safe = html[html.index('data-step="feel_safe"'):]
    feel_safe = feel_safe[:feel_safe.index("</table>")]
    counts = dict(re.findall(r'<tr data-value="(\w+)"><td>[^<]+</td>\s*<td class="num">(\d+)</td>', feel_safe))
    assert counts == {"safe": "1", "unsafe": "2", "unsure": "0"}
    assert 'id="count-started">3<' in html
    assert "Market Street" in html and "The underpass" in html
    assert "By Age band" in html and "By age_band" not in html
    searched = client.get("/dashboard/results/street-safety?q=market").get_data(as_text=True)
    assert "Market Street" in searched and "The underpass" not in searched


def test_representativeness_table_matches_a_hand_computed_example(client, as_role, services):
    # None under 18, 8 aged 18-64, 2 aged 65+: shares 0%, 80%, 20%, against the people aged 16 or over
    # (who can answer): under 18 counted from 16 (2 of its 18 years), 25.0 * 2/18 = 2.78, 59.6, 15.4
    # (sum 77.78): 3.6%, 76.6%, 19.8%.
    rows = [({"age_band": "18_64"}, {"feel_safe": "safe"})] * 8
    rows += [({"age_band": "65_plus"}, {"feel_safe": "unsafe"})] * 2
    _answers(services, rows)
    as_role("officer")
    html = client.get("/dashboard/representativeness?flow=street-safety").get_data(as_text=True)
    table = html[html.index('data-dimension="age_band"'):]
    table = table[:table.index("</table>")]
    cells = {key: re.findall(r'<td class="num">([^<]+)</td>', row)
             for key, row in re.findall(r'<tr data-group="(\w+)"[^>]*>(.*?)</tr>', table, re.S)}
    assert cells["under_18"] == ["0", "0.0%", "3.6%", "0.00"]
    assert cells["18_64"] == ["8", "80.0%", "76.6%", "1.04"]
    assert cells["65_plus"] == ["2", "20.0%", "19.8%", "1.01"]
    assert re.search(r'<tr data-group="under_18" class="flagged">', table)
    assert "Under-reached" in table and table.count("Under-reached") == 1
    assert "Send a reminder to this group" in table
    assert "Effective sample size (Kish)" in html


def test_uploading_a_flow_shows_its_problem_at_its_line_then_publishes_when_fixed(client, as_role, services,
                                                                                  app_config):
    token = as_role("officer")
    response = client.post("/dashboard/flows/edit", data={
        "csrf_token": token, "action": "check", "file": (io.BytesIO(BAD_FLOW.encode()), "bins.yaml")},
        content_type="multipart/form-data")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'data-line="13"' in html and "Line 13" in html and "&#39;nowhere&#39; is not a step" in html
    assert '<li id="line-13" class="has-problem">13</li>' in html
    fixed = BAD_FLOW.replace("default: nowhere", "default: end")
    checked = client.post("/dashboard/flows/edit", data={"csrf_token": token, "action": "check", "source": fixed})
    assert checked.status_code == 200 and "No problems found in bins" in checked.get_data(as_text=True)
    published = client.post("/dashboard/flows/edit", data={"csrf_token": token, "action": "publish", "source": fixed})
    assert published.status_code == 302 and published.headers["Location"] == "/dashboard/flows/bins"
    assert services.registry.get("bins").keywords == ["BINS"]
    with open(f"{app_config['flows_dir']}/bins.yaml", encoding="utf-8") as fh:
        assert fh.read() == fixed
    detail = client.get("/dashboard/flows/bins").get_data(as_text=True)
    assert "Version history" in detail and "admin" not in detail.split("Version history")[1][:50]
    with services.db.session() as s:
        entry = s.scalar(select(AuditLog).where(AuditLog.action == "flow.published"))
        assert entry.target_id == "bins" and entry.officer_email == "officer@harlow.gov.uk"


def test_a_flow_that_is_not_yaml_shows_the_yaml_error_line(client, as_role):
    token = as_role("officer")
    response = client.post("/dashboard/flows/edit", data={"csrf_token": token, "action": "check",
                                                          "source": "id: x\nsteps: [\n  - id: a\n"})
    assert response.status_code == 422 and "YAML:" in response.get_data(as_text=True)


def test_publishing_a_flow_with_errors_is_refused(client, as_role, services):
    token = as_role("officer")
    response = client.post("/dashboard/flows/edit", data={"csrf_token": token, "action": "publish",
                                                          "source": BAD_FLOW})
    assert response.status_code == 422 and services.registry.get("bins") is None


def test_publishing_a_flow_whose_keyword_another_flow_uses_is_refused(client, as_role, services, app_config):
    from pathlib import Path

    token = as_role("officer")
    path = Path(app_config["flows_dir"]) / "street-safety.yaml"
    before = path.read_text(encoding="utf-8")
    # Checked alone the edit is fine; published, it would take CLIMATE from climate-pulse.
    source = before.replace("keywords: {en: [SAFE], cy: [DIOGEL]}", "keywords: {en: [SAFE, CLIMATE], cy: [DIOGEL]}")
    response = client.post("/dashboard/flows/edit", data={"csrf_token": token, "action": "publish",
                                                          "source": source})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "The keyword CLIMATE is already used by the flow climate-pulse." in page and "Not published" in page
    assert path.read_text(encoding="utf-8") == before
    assert services.registry.by_keyword("CLIMATE").id == "climate-pulse"
    assert services.registry.get("street-safety").source == before


def test_a_broken_edit_to_a_live_flow_file_shows_on_its_page_while_the_last_good_version_serves(
        client, as_role, services, app_config):
    from pathlib import Path

    as_role("viewer")
    path = Path(app_config["flows_dir"]) / "street-safety.yaml"
    good = services.registry.get("street-safety")
    typo = path.read_text(encoding="utf-8").replace("text: {max_length: 300}", "text: {max_lenght: 300}")
    path.write_text(typo, encoding="utf-8")
    services.registry.reload(force=True)
    assert services.registry.get("street-safety") is good
    page = client.get("/dashboard/flows/street-safety").get_data(as_text=True)
    assert "The flow's file has errors" in page and "<code>street-safety.yaml</code>" in page
    assert "Residents still get the last good version" in page
    line = typo.splitlines().index("    text: {max_lenght: 300}") + 1
    assert f"Line {line}, column 12: unknown key &#39;max_lenght&#39;" in page


def test_results_export_xlsx_one_row_per_run_and_audited(client, as_role, services):
    _answers(services, [({"ward": "mark_hall", "ethnicity": "white"}, {"feel_safe": "safe", "age": "18_64"}),
                        ({"ward": "toddbrook"}, {"feel_safe": "unsafe", "where": "=HYPERLINK(\"x\")"})])
    as_role("officer")
    response = client.get("/dashboard/results/street-safety/export.xlsx")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith('attachment; filename="street-safety-results-')
    book = load_workbook(io.BytesIO(response.data))
    rows = list(book["Results"].iter_rows(values_only=True))
    header = rows[0]
    assert header[:7] == ("run_id", "started_at (Europe/London)", "finished_at (Europe/London)", "status", "channel",
                          "language", "assisted")
    assert header[7:14] == ("contact_id", "ward", "age_band", "tenure", "feel_safe", "where", "age")
    # Codes stay where they were; their labels follow (the census file's and the flow's words).
    assert header[14:] == ("ward_label", "age_band_label", "tenure_label", "feel_safe_label", "age_label")
    assert len(rows) == 3
    by_ward = {r[8]: r for r in rows[1:]}
    assert by_ward["mark_hall"][11:14] == ("safe", None, "18_64")
    assert by_ward["mark_hall"][14:] == ("Mark Hall", None, None, "Safe", "18 to 64")
    # A formula typed by a resident stays text.
    assert by_ward["toddbrook"][12] == "'=HYPERLINK(\"x\")"
    # Officers do not see special-category fields; admins would.
    assert "ethnicity" not in header
    assert "Representativeness" in book.sheetnames
    with services.db.session() as s:
        entry = s.scalar(select(AuditLog).where(AuditLog.action == "export.downloaded"))
        assert entry.detail == {"what": "results", "format": "xlsx", "rows": 2}


def test_results_export_xlsx_times_are_in_the_councils_zone_and_the_header_says_so(client, as_role, services):
    summer = datetime(2026, 7, 1, 9, 0, 0, 123456, tzinfo=timezone.utc)  # 10:00 in London (BST)
    with services.db.session() as s:
        contact, _ = respondent(s)
        run_with_answers(s, "street-safety", contact, {"feel_safe": "safe"}, started=summer)
    as_role("officer")
    book = load_workbook(io.BytesIO(client.get("/dashboard/results/street-safety/export.xlsx").data))
    header, row = list(book["Results"].iter_rows(values_only=True))[:2]
    assert header[1:3] == ("started_at (Europe/London)", "finished_at (Europe/London)")
    assert row[1] == datetime(2026, 7, 1, 10, 0, 0)


def test_results_filters_narrow_the_summary_cards_too(client, as_role, services):
    _answers(services, [({"ward": "mark_hall"}, {"feel_safe": "safe"}), ({"ward": "toddbrook"}, {"feel_safe": "safe"}),
                        ({"ward": "toddbrook"}, {"feel_safe": "unsafe"})])
    as_role("viewer")
    page = client.get("/dashboard/results/street-safety?ward=toddbrook").get_data(as_text=True)
    assert re.search(r'id="count-started">2<', page) and re.search(r'id="count-completed">2<', page)
    page = client.get("/dashboard/results/street-safety").get_data(as_text=True)
    assert re.search(r'id="count-started">3<', page)


def test_home_counts_every_message_to_residents_and_the_rate_of_broadcasts_that_ask(client, as_role, services):
    from engage.broadcasts import create_broadcast
    from engage.segments import create_segment
    from tests.support.dashboard import broadcast_message

    with services.db.session() as s:
        segment = create_segment(s, "Everyone", {"all": []}, T0)
        notice = create_broadcast(s, name="Bin day moves", segment=segment, now=T0, tz="Europe/London",
                                  texts={"en": "Bins go out on Tuesday this week."}, schedule="now")
        asking = create_broadcast(s, name="Street lights", segment=segment, now=T0, tz="Europe/London",
                                  flow=services.registry.get("street-safety"), schedule="now")
        people = [respondent(s) for _ in range(4)]
        for contact, address in people[:2]:
            broadcast_message(s, notice.id, contact, address, at=T0)
        for contact, address in people[2:]:
            broadcast_message(s, asking.id, contact, address, at=T0)
        run_with_answers(s, "street-safety", people[2][0], {"feel_safe": "safe"}, started=T0, broadcast_id=asking.id,
                         started_by="broadcast")
        for n in range(3):  # replies in conversations
            s.add(OutboxMessage(contact_id=people[0][0].id, address_id=people[0][1].id, channel="sms", kind="reply",
                                priority=0, payload={"type": "text", "text": f"Reply {n}"}, status="delivered",
                                created_at=T0, updated_at=T0, sent_at=T0))
    as_role("viewer")
    page = client.get("/dashboard/").get_data(as_text=True)
    figures = re.findall(r'<p class="figure">([^<]*)</p><p>([^<]*)</p>', page)
    assert ("7", "messages to residents this week") in figures
    assert re.search(r'<p class="figure">50.0%', page)


def test_results_export_csv_for_a_viewer_has_answers_only(client, as_role, services):
    _answers(services, [({"ward": "mark_hall"}, {"feel_safe": "safe"})])
    as_role("viewer")
    response = client.get("/dashboard/results/street-safety/export.csv")
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"  # the charset said once
    body = response.data.decode("utf-8-sig")
    header, row = body.strip().splitlines()
    assert header == ("run_id,started_at,finished_at,status,channel,language,assisted,feel_safe,where,age,"
                      "feel_safe_label,age_label")
    assert row.split(",")[7] == "safe" and row.split(",")[10] == "Safe"


def test_representativeness_export_csv_is_audited(client, as_role, services):
    _answers(services, [({"age_band": "18_64"}, {"feel_safe": "safe"})])
    as_role("viewer")
    response = client.get("/dashboard/representativeness/export.csv")
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    body = response.data.decode("utf-8-sig")
    assert body.splitlines()[0] == ("dimension,group,respondents,share_percent,expected_percent,ratio,flag,"
                                    "group_label")
    # Age against the people aged 16 or over; the group's code kept, its label beside it.
    assert "age_band,under_18,0,0.0,3.6,0.0,under-reached,Under 18" in body
    with services.db.session() as s:
        details = [a.detail for a in s.scalars(select(AuditLog).where(AuditLog.action == "export.downloaded"))]
    # Every group of the census file and of the answers, "(not given)" included: the audit counts what left.
    assert details == [{"what": "representativeness", "format": "csv", "rows": len(body.splitlines()) - 1}]
    # Age (3 groups and not given), ethnicity (5, other and not given), ward (11 wards and not given).
    assert len(body.splitlines()) - 1 == 23


def test_assisted_entry_runs_a_flow_and_marks_answers_assisted(client, as_role, services):
    token = as_role("officer")
    started = client.post("/dashboard/assisted", data={"csrf_token": token, "flow_id": "street-safety",
                                                       "language": "en"})
    assert started.status_code == 302
    session_url = started.headers["Location"]
    page = client.get(session_url).get_data(as_text=True)
    assert "How safe do you feel walking in your area after dark?" in page
    client.post(session_url, data={"csrf_token": token, "choice": "unsafe"})
    page = client.get(session_url).get_data(as_text=True)
    assert "Which street or place feels least safe?" in page
    client.post(session_url, data={"csrf_token": token, "text": "By the station"})
    client.post(session_url, data={"csrf_token": token, "choice": "65_plus"})
    page = client.get(session_url).get_data(as_text=True)
    assert "Thank you" in page
    with services.db.session() as s:
        run = s.scalar(select(Run))
        assert (run.channel, run.status) == ("assisted", "completed")
        assert {a.step_id: (a.value, a.channel) for a in s.scalars(select(Answer))} == {
            "feel_safe": ("unsafe", "assisted"), "where": ("By the station", "assisted"),
            "age": ("65_plus", "assisted")}
        # Read out by the officer: nothing is left for a sender to send.
        assert not s.scalars(select(OutboxMessage).where(OutboxMessage.status == "queued")).all()
        assert s.scalar(select(AuditLog.action).where(AuditLog.action == "assisted.started"))
    results = client.get("/dashboard/results/street-safety").get_data(as_text=True)
    assert "By the station" in results and "assisted" in results


def test_broadcast_to_a_segment_now_queues_messages_and_is_audited(client, as_role, services):
    from engage import segments
    from engage.consent import record_basis

    with services.db.session() as s:
        for ward in ("netteswell", "netteswell", "toddbrook"):
            contact, _address = respondent(s, fields={"ward": ward})
            # On the council's list with a stated source: the basis for service messages only.
            record_basis(s, contact, "service", T0, source="import", wording="Ward newsletter form")
        segment = segments.create_segment(s, "Netteswell", {"all": [{"field": "ward", "in": ["netteswell"]}]},
                                          T0)
        segment_id = segment.id
    token = as_role("officer")
    form = client.get("/dashboard/broadcasts/new").get_data(as_text=True)
    assert "Netteswell – 2 residents" in form
    assert 'name="message_class" value="promotional"' in form
    response = client.post("/dashboard/broadcasts/new", data={
        "csrf_token": token, "name": "Street lights", "segment_id": segment_id, "content": "message",
        "text_en": "Have your say on street lights: text SAFE.", "schedule": "now"})
    assert response.status_code == 302, response.get_data(as_text=True)
    detail = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "queued</span> 2" in detail
    # A promotional message needs its own basis: nobody here has one, and the page says so.
    response = client.post("/dashboard/broadcasts/new", data={
        "csrf_token": token, "name": "Winter fair", "segment_id": segment_id, "content": "message",
        "text_en": "Come to our winter fair!", "schedule": "now", "message_class": "promotional"})
    detail = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "queued</span>" not in detail
    assert "no_promotional_basis: 2" in detail
    with services.db.session() as s:
        actions = set(s.scalars(select(AuditLog.action)))
    assert {"broadcast.created", "broadcast.sent"} <= actions


def test_reminder_to_an_under_reached_group_prefills_the_segment(client, as_role, services):
    with services.db.session() as s:
        respondent(s, fields={"age_band": "under_18"})
    as_role("officer")
    page = client.get("/dashboard/broadcasts/new?field=age_band&value=under_18").get_data(as_text=True)
    assert "A reminder to an under-reached group" in page and "1 resident" in page


def test_reminder_about_a_consultation_leaves_out_those_who_answered_it(client, as_role, services):
    with services.db.session() as s:
        respondent(s, fields={"age_band": "under_18"})
        contact, _ = respondent(s, fields={"age_band": "under_18"})
        run_with_answers(s, "street-safety", contact, {"feel_safe": "safe"}, started=T0)
    as_role("officer")
    page = client.get("/dashboard/broadcasts/new?field=age_band&value=under_18&flow_id=street-safety&content=flow"
                      ).get_data(as_text=True)
    assert "A reminder to an under-reached group" in page and "1 resident" in page
    assert "street-safety" in page.split("A reminder to an under-reached group")[1].split("</p>")[0]


def test_you_said_we_did_written_previewed_and_sent(client, as_role, services):
    _answers(services, [({}, {"feel_safe": "unsafe", "where": "Station Road", "age": "18_64"})])
    token = as_role("officer")
    response = client.post("/dashboard/updates/new", data={
        "csrf_token": token, "flow_id": "street-safety", "title": "Street lights",
        "said_en": "Most of you feel unsafe near the station.", "did_en": "We are adding 40 lights.",
        "why_en": "Your answers showed where.", "said_cy": "", "did_cy": "", "why_cy": ""})
    assert response.status_code == 302, response.get_data(as_text=True)
    detail_url = response.headers["Location"]
    page = client.get(detail_url).get_data(as_text=True)
    assert "We are adding 40 lights." in page and "SMS ·" in page
    # The preview is the message residents get: who it is from, about what, and how to stop.
    assert "Harlow Council: Street lights" in page and "Reply STOP to stop messages from Harlow Council." in page
    sent = client.post(detail_url + "/send", data={"csrf_token": token})
    assert sent.status_code == 302
    page = client.get(detail_url).get_data(as_text=True)
    assert 'id="update-status">sent<' in page
    with services.db.session() as s:
        assert s.scalar(select(AuditLog.action).where(AuditLog.action == "update.sent"))


def test_message_log_explains_provider_errors(client, as_role, services):
    from tests.support.dashboard import broadcast_message

    with services.db.session() as s:
        contact, address = respondent(s)
        broadcast_message(s, 3, contact, address, at=T0, status="failed", error_code="21610")
    as_role("officer")
    html = client.get("/dashboard/messages?status=failed").get_data(as_text=True)
    assert "21610" in html and "The resident texted STOP to their carrier" in html


def test_a_message_that_outlived_an_outage_shows_as_failed_expired_on_the_log_and_the_broadcast(
        client, as_role, services):
    from engage import segments
    from engage.broadcasts import create_broadcast
    from tests.support.dashboard import broadcast_message

    with services.db.session() as s:
        contact, address = respondent(s)
        segment = segments.create_segment(s, "all", {"all": []}, T0)
        broadcast_id = create_broadcast(s, name="Bins", segment=segment, now=T0, tz="Europe/London",
                                        texts={"en": "Bins"}).id
        broadcast_message(s, broadcast_id, contact, address, at=T0, status="failed", error_code="expired")
    as_role("officer")
    html = client.get("/dashboard/messages?status=failed").get_data(as_text=True)
    assert "<code>expired</code>" in html and "(an outage); not sent." in html
    html = client.get(f"/dashboard/broadcasts/{broadcast_id}").get_data(as_text=True)
    assert "Not sent, and why" in html and "<code>expired</code> 1" in html


def test_every_page_renders_for_an_admin(client, as_role):
    as_role("admin")
    for path in ["/dashboard/", "/dashboard/flows", "/dashboard/flows/street-safety", "/dashboard/flows/edit",
                 "/dashboard/flows/edit?flow=street-safety", "/dashboard/results",
                 "/dashboard/representativeness", "/dashboard/broadcasts", "/dashboard/segments/new",
                 "/dashboard/updates", "/dashboard/updates/new", "/dashboard/calendar", "/dashboard/contacts",
                 "/dashboard/messages", "/dashboard/assisted", "/dashboard/audit", "/dashboard/accounts"]:
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers["Cache-Control"] == "no-store"


def test_an_officer_can_switch_the_dashboard_to_welsh(client, as_role):
    token = as_role("viewer")
    assert ">Home<" in client.get("/dashboard/").get_data(as_text=True)
    response = client.post("/dashboard/language", data={"csrf_token": token, "language": "cy",
                                                        "back": "/dashboard/results"})
    assert response.status_code == 302 and response.headers["Location"] == "/dashboard/results"
    html = client.get("/dashboard/").get_data(as_text=True)
    assert ">Hafan<" in html and "Allgofnodi" in html
    assert client.post("/dashboard/language", data={"csrf_token": token, "language": "xx"}).status_code == 400


def test_live_counts_for_open_consultations(client, as_role, services):
    _answers(services, [({}, {"feel_safe": "safe"})])
    as_role("viewer")
    counts = client.get("/dashboard/live.json").get_json()
    assert counts["street-safety"] == {"started": 1, "completed": 1}


def test_the_you_said_we_did_record_exports_and_is_audited(client, as_role, services):
    from engage import updates

    _answers(services, [({}, {"feel_safe": "safe"})])
    flow = services.registry.get("street-safety")
    with services.db.session() as s:
        updates.create_update(s, flow, {"en": {"said": "Dark streets", "did": "New lights", "why": "You asked"}},
                              T0, title="Street lights")
    as_role("viewer")
    body = client.get("/dashboard/updates/export.csv").data.decode("utf-8-sig")
    header, row = body.strip().splitlines()
    assert header.startswith("update_id,flow_id,title,status,what_we_asked")
    assert "Dark streets,New lights,You asked" in row
    book = load_workbook(io.BytesIO(client.get("/dashboard/updates/export.xlsx").data))
    assert list(book.active.iter_rows(values_only=True))[1][7:10] == ("Dark streets", "New lights", "You asked")
    with services.db.session() as s:
        details = [a.detail for a in s.scalars(select(AuditLog).where(AuditLog.action == "export.downloaded"))]
    assert [d["what"] for d in details] == ["you_said_we_did", "you_said_we_did"]


def test_erasing_a_contact_needs_the_word_leaves_no_trace_and_is_audited(client, as_role, services):
    phone = mobile(1)
    with services.db.session() as s:
        contact_id = create_contact(s, services.clock.now(), name="Ann Example", phone=phone,
                                    fields={"ward": "mark_hall"}).id
    for text in ("SAFE", "2", "Behind 12 Mill Lane"):
        text_in(services, text, phone)
    needles = [phone, phone[3:], "Ann Example", "Mill Lane"]
    assert len(find_traces(services.db, needles)) >= 3
    token = as_role("officer")
    page = client.get(f"/dashboard/contacts/{contact_id}").get_data(as_text=True)
    assert "Download a subject access copy" in page
    copy = client.post(f"/dashboard/contacts/{contact_id}/subject-access", data={"csrf_token": token})
    assert copy.status_code == 200 and copy.headers["Content-Disposition"].endswith(f'contact-{contact_id}.json"')
    refused = client.post(f"/dashboard/contacts/{contact_id}/erase", data={"csrf_token": token, "confirm": "yes"})
    assert refused.status_code == 302
    with services.db.session() as s:
        assert s.scalar(select(AuditLog.id).where(AuditLog.action == "contact.erased")) is None
    assert len(find_traces(services.db, needles)) >= 3
    erased = client.post(f"/dashboard/contacts/{contact_id}/erase", data={"csrf_token": token, "confirm": "ERASE"})
    assert erased.status_code == 302
    with services.db.session() as s:
        actions = set(s.scalars(select(AuditLog.action)))
    assert {"contact.subject_access", "contact.erased"} <= actions
    assert find_traces(services.db, needles) == []


def test_sms_count_for_a_message_being_typed(client, as_role):
    token = as_role("officer")
    welsh = client.post("/dashboard/sms-count", data={"csrf_token": token, "text": "Diolch yn fawr – ŵ"}).get_json()
    assert welsh["encoding"] == "UCS-2" and welsh["segments"] == 1 and "ŵ" in welsh["non_gsm"]
    long = client.post("/dashboard/sms-count", data={"csrf_token": token, "text": "a" * 161}).get_json()
    assert (long["encoding"], long["segments"]) == ("GSM-7", 2)


def test_a_broadcast_message_is_counted_whole_with_the_line_saying_who_sent_it(client, as_role):
    token = as_role("officer")
    text = "Have your say on the new street lights: text SAFE to take part before Christmas. " + "a" * 69
    assert len(text) == 150
    alone = client.post("/dashboard/sms-count", data={"csrf_token": token, "text": text}).get_json()
    whole = client.post("/dashboard/sms-count", data={"csrf_token": token, "text": text, "lang": "en"}).get_json()
    assert (alone["segments"], whole["segments"]) == (1, 2)
    form = client.get("/dashboard/broadcasts/new?text_en=" + "b" * 120).get_data(as_text=True)
    assert "Reply STOP to stop messages from Harlow Council." in form
    assert "2 SMS segments" in form and 'data-sms-lang="en"' in form


def test_editing_a_published_flow_replaces_its_file_and_keeps_old_runs_on_their_version(client, as_role, services,
                                                                                        app_config):
    from pathlib import Path

    folder = Path(app_config["flows_dir"])
    (folder / "street-safety.yaml").rename(folder / "lights.yaml")
    services.registry.reload()
    _answers(services, [({}, {"feel_safe": "safe"})])
    token = as_role("officer")
    source = services.registry.get("street-safety").source.replace("after dark?", "after dark at night?")
    response = client.post("/dashboard/flows/edit", data={"csrf_token": token, "action": "publish", "source": source})
    assert response.status_code == 302
    assert not (folder / "street-safety.yaml").exists()
    assert "after dark at night?" in (folder / "lights.yaml").read_text(encoding="utf-8")
    page = client.get("/dashboard/flows/street-safety").get_data(as_text=True)
    versions = page.split("Version history")[1]
    assert versions.count("<tr><td><a href=") == 2 and "current" in versions


def test_planning_a_short_consultation_warns_in_the_calendar(client, as_role, services):
    from flows.loader import load_flow_text

    # A flow whose file sets no dates: the calendar holds the officers' plan for it.
    services.registry.add(load_flow_text("id: bus-shelters\ntitle: Bus shelters\nlanguages: [en]\nsteps:\n"
                                         "  - id: want\n    ask: A shelter at your stop?\n    yes_no: true\n"))
    token = as_role("officer")
    response = client.post("/dashboard/calendar", data={"csrf_token": token, "flow_id": "bus-shelters",
                                                        "title": "Bus shelters", "opens": "2027-02-01",
                                                        "closes": "2027-02-05"})
    assert response.status_code == 302 and "year=2027&month=2" in response.headers["Location"]
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Bus shelters" in page and "open for 5 days" in page
    backwards = client.post("/dashboard/calendar", data={"csrf_token": token, "flow_id": "bus-shelters",
                                                         "opens": "2027-02-05", "closes": "2027-02-01"})
    assert "closes before it opens" in client.get(backwards.headers["Location"]).get_data(as_text=True)
    # A flow whose file sets its dates keeps them: the calendar cannot promise residents other ones.
    moved = client.post("/dashboard/calendar", data={"csrf_token": token, "flow_id": "climate-pulse",
                                                     "opens": "2027-02-01", "closes": "2027-02-28"})
    assert "holds residents to 05 October 2026 – 25 October 2026" in client.get(
        moved.headers["Location"]).get_data(as_text=True)
    with services.db.session() as s:
        assert s.scalar(select(AuditLog.action).where(AuditLog.action == "consultation.created"))


def test_calendar_entries_can_be_changed_and_taken_off_but_not_a_flows_own_dates(client, as_role, services):
    from engage.calendar import Consultation
    from flows.loader import load_flow_text

    services.registry.add(load_flow_text("id: bus-shelters\ntitle: Bus shelters\nlanguages: [en]\nsteps:\n"
                                         "  - id: want\n    ask: A shelter at your stop?\n    yes_no: true\n"))
    token = as_role("officer")
    client.post("/dashboard/calendar", data={"csrf_token": token, "flow_id": "bus-shelters", "title": "Shelters",
                                             "opens": "2026-12-07", "closes": "2026-12-31"})
    page = client.get("/dashboard/calendar?year=2026&month=12").get_data(as_text=True)
    with services.db.session() as s:
        ids = {c.flow_id: c.id for c in s.query(Consultation)}
    assert f'action="/dashboard/calendar/{ids["bus-shelters"]}/delete"' in page
    changed = client.post(f"/dashboard/calendar/{ids['bus-shelters']}", data={
        "csrf_token": token, "title": "Bus shelters, Fourth Avenue", "owner_service": "Transport",
        "opens": "2026-12-07", "closes": "2027-01-10"})
    assert changed.status_code == 302
    with services.db.session() as s:
        entry = s.get(Consultation, ids["bus-shelters"])
        assert (entry.title, entry.owner_service, entry.closes.isoformat()) == (
            "Bus shelters, Fourth Avenue", "Transport", "2027-01-10")
    moved = client.post(f"/dashboard/calendar/{ids['street-safety']}", data={
        "csrf_token": token, "opens": "2026-12-01", "closes": "2027-01-31"})
    assert "holds residents to 01 December 2026" in client.get(moved.headers["Location"]).get_data(as_text=True)
    kept = client.post(f"/dashboard/calendar/{ids['street-safety']}/delete", data={"csrf_token": token})
    assert "stays in the calendar" in client.get(kept.headers["Location"]).get_data(as_text=True)
    client.post(f"/dashboard/calendar/{ids['bus-shelters']}/delete", data={"csrf_token": token})
    with services.db.session() as s:
        assert s.get(Consultation, ids["bus-shelters"]) is None and s.get(Consultation, ids["street-safety"])
        actions = set(s.scalars(select(AuditLog.action)))
    assert {"consultation.changed", "consultation.deleted"} <= actions


def test_telegram_and_sms_codes_are_explained_for_their_channel():
    from dashboard.contacts import explain_error

    assert explain_error("403", "telegram") == "The resident blocked the bot."
    assert explain_error("30006", "sms") == "The number is a landline or cannot receive texts."
    assert "slow down" in explain_error("429", "telegram")
    assert explain_error("99999", "sms") is None and explain_error(None) is None


def test_the_broadcast_form_says_what_the_whole_message_costs_its_audience(client, as_role, services):
    from engage import segments

    with services.db.session() as s:
        for language in ("en", "en", "cy"):
            respondent(s, fields={"ward": "netteswell"}, language=language)
        segment_id = segments.create_segment(s, "Netteswell", {"all": [{"field": "ward", "in": ["netteswell"]}]},
                                             T0).id
    as_role("officer")
    page = client.get("/dashboard/broadcasts/new", query_string={
        "segment_id": segment_id, "text_en": "Have your say on street lights: text SAFE.",
        "text_cy": "Dweud eich dweud am oleuadau stryd: tecstiwch DIOGEL."}).get_data(as_text=True)
    # Two English residents get the English message and one Welsh resident the Welsh, each with the line
    # saying who sent it and how to stop, counted as sent.
    from engage.sms_cost import message_cost
    from engage.unsolicited import with_stop_line

    council = services.settings.council_name
    en = message_cost(with_stop_line("Have your say on street lights: text SAFE.", "en", council), "en").segments
    cy = message_cost(with_stop_line("Dweud eich dweud am oleuadau stryd: tecstiwch DIOGEL.", "cy", council),
                      "cy").segments
    total = 2 * en + cy
    price = f"£{total * 0.04:.2f}"
    assert f"At most {price} if all 3 residents get it by SMS: {total} segments at 0.04 each." in page


def test_the_update_form_offers_the_results_as_sentences_to_quote(client, as_role, services):
    _answers(services, [({}, {"feel_safe": "unsafe", "age": "18_64"}), ({}, {"feel_safe": "unsafe", "age": "65_plus"}),
                        ({}, {"feel_safe": "safe", "age": "18_64"})])
    as_role("officer")
    page = client.get("/dashboard/updates/new", query_string={"flow_id": "street-safety"}).get_data(as_text=True)
    assert '<li lang="en" dir="ltr" data-step="feel_safe">67% of you said “Unsafe”.</li>' in page
    assert 'data-step="feel_safe">' in page and "“Anniogel”" in page
    assert '<li lang="en" dir="ltr" data-step="age">67% of you said “18 to 64”.</li>' in page
