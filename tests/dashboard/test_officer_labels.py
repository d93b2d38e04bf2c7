"""Officers read labels, not codes: results, breakdowns, filters, representativeness (issue 15, items 4 and 9)."""
from __future__ import annotations

import re
from datetime import datetime, timezone

from tests.support.dashboard import respondent, run_with_answers

T0 = datetime(2026, 12, 2, 9, 0, tzinfo=timezone.utc)


def _answers(services, rows, flow_id="street-safety"):
    with services.db.session() as s:
        for fields, answers in rows:
            contact, _ = respondent(s, fields=fields)
            run_with_answers(s, flow_id, contact, answers, started=T0)


def test_results_breakdown_and_filters_show_labels_in_the_officers_language(client, as_role, services):
    _answers(services, [({"ward": "mark_hall", "age_band": "18_64"}, {"feel_safe": "safe"}),
                        ({"ward": "little_parndon_hare_street", "age_band": "65_plus"}, {"feel_safe": "unsafe"})])
    as_role("viewer")
    html = client.get("/dashboard/results/street-safety?by=ward").get_data(as_text=True)
    breakdown = html[html.index('class="data compact breakdown"'):]
    breakdown = breakdown[:breakdown.index("</table>")]
    groups = dict(re.findall(r'<tr data-group="(\w+)"><th scope="row">([^<]+)</th>', breakdown))
    assert groups == {"mark_hall": "Mark Hall", "little_parndon_hare_street": "Little Parndon and Hare Street"}
    assert "By Ward" in breakdown
    assert re.search(r'<option value="18_64"[^>]*>18 to 64</option>', html)
    assert re.search(r'<option value="mark_hall"[^>]*>Mark Hall</option>', html)
    # A Welsh-reading officer reads the flow's and the census file's Welsh words.
    welsh = client.get("/dashboard/results/street-safety?by=age_band",
                       headers={"Accept-Language": "cy"}).get_data(as_text=True)
    assert re.search(r'<tr data-group="18_64"><th scope="row">18 i 64</th>', welsh)
    assert re.search(r'<tr data-value="safe"><td>Diogel</td>', welsh)
    assert '&#34;Diogel&#34;' in welsh or '"Diogel"' in welsh  # the chart's labels too


def test_representativeness_shows_wards_labels_and_the_base_it_compares_with(client, as_role, services):
    _answers(services, [({"ward": "bush_fair", "age_band": "18_64"}, {"feel_safe": "safe"}),
                        ({"ward": "bush_fair", "age_band": "65_plus"}, {"feel_safe": "safe"}),
                        ({"ward": "toddbrook", "age_band": "18_64"}, {"feel_safe": "safe"})])
    as_role("officer")
    html = client.get("/dashboard/representativeness?flow=street-safety").get_data(as_text=True)
    age = html[html.index('data-dimension="age_band"'):]
    age_note = age[age.index("</table>"):age.index("</section>")]
    assert re.search(r'<tr data-group="18_64"[^>]*><th scope="row">18 to 64</th>', age)
    assert "aged 16 or over, who can answer: 67,841 people" in age_note
    assert "Under 18: counted from age 16" in age_note
    ward = html[html.index('data-dimension="ward"'):]
    ward_rows = dict(re.findall(r'<tr data-group="(\w+)"[^>]*><th scope="row">[^<]+</th><td class="num">(\d+)</td>',
                                ward[:ward.index("</table>")]))
    assert ward_rows["bush_fair"] == "2" and ward_rows["toddbrook"] == "1" and ward_rows["mark_hall"] == "0"
    assert '<th scope="row">Bush Fair</th>' in ward
    assert "no population figures" in ward[:ward.index("</section>")]


def test_census_minimum_age_is_a_setting(app_config, tmp_path):
    from app import create_app
    from engage.officers import create_officer
    from tests.dashboard.conftest import PASSWORD, sign_in

    app = create_app({**app_config, "census_min_age": "0"})
    services = app.extensions["outreach"]
    with services.db.session() as s:
        create_officer(s, "officer@harlow.gov.uk", PASSWORD, "officer", now=app_config["clock"].now())
    client = app.test_client()
    assert sign_in(client, "officer").status_code == 302
    html = client.get("/dashboard/representativeness").get_data(as_text=True)
    age = html[html.index('data-dimension="age_band"'):]
    cells = re.findall(r'<tr data-group="under_18"[^>]*>.*?</tr>', age, re.S)[0]
    assert "25.0%" in cells  # everyone: the census's own share
    assert "Census shares are of everyone: 87,280 people." in age


def test_the_segment_form_offers_values_by_their_labels(client, as_role, services):
    from store.models import ContactGroup

    with services.db.session() as s:
        contact, _ = respondent(s, fields={"ward": "sumners_kingsmoor", "age_band": "65_plus"})
        contact.groups.append(ContactGroup(name="community_safety"))
    as_role("officer")
    html = client.get("/dashboard/segments/build").get_data(as_text=True)
    assert re.search(r'value="sumners_kingsmoor"[^>]*> Sumners and Kingsmoor</label>', html)
    assert re.search(r'value="65_plus"[^>]*> 65 or over</label>', html)
    assert re.search(r'value="community_safety"[^>]*> Community safety</label>', html)
