"""Audit log page: filters by date, officer and action, plain-language action names, CSV download (issue 15 item 10)."""
from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timezone

from sqlalchemy import select

from engage.officers import record
from store.models.officers import AuditLog, Officer


def _lines(services):
    with services.db.session() as s:
        admin = s.scalar(select(Officer).where(Officer.email == "admin@harlow.gov.uk"))
        officer = s.scalar(select(Officer).where(Officer.email == "officer@harlow.gov.uk"))
        # 20 November 23:30 UTC is still 20 November in London; 21 November 00:30 UTC is 21 November.
        # (Signing in, and making the accounts, are logged at the test clock's time, in December.)
        record(s, admin, "broadcast.sent", datetime(2026, 11, 20, 23, 30, tzinfo=timezone.utc),
               target_type="broadcast", target_id=7, detail={"queued": 120}, summary="Sent broadcast 7")
        record(s, officer, "export.downloaded", datetime(2026, 11, 21, 0, 30, tzinfo=timezone.utc),
               target_type="flow", target_id="street-safety",
               detail={"what": "results", "format": "csv", "rows": 42}, summary="Exported results")
        record(s, admin, "contact.erased", datetime(2026, 11, 22, 15, 0, tzinfo=timezone.utc),
               target_type="contact", target_id=9, summary="Erased contact 9")


def _shown(html):
    table = html[html.index('class="data compact audit"'):]
    return re.findall(r'<tr data-action="([\w.]+)"><td>[^<]*</td><td>([^<]*)</td><td>([^<]*)</td>', table)


def test_filters_narrow_the_log_by_dates_officer_and_action(client, as_role, services):
    _lines(services)
    as_role("viewer")
    everything = _shown(client.get("/dashboard/audit").get_data(as_text=True))
    assert {"broadcast.sent", "export.downloaded", "contact.erased"} <= {a for a, _w, _n in everything}
    # The action column names the action in plain words, not its code.
    named = {a: name for a, _w, name in everything}
    assert named["broadcast.sent"] == "Broadcast sent" and named["contact.erased"] == "Contact erased"
    # Dates are the council's days, both ends included.
    december_first = _shown(client.get("/dashboard/audit?since=2026-11-21&until=2026-11-21").get_data(as_text=True))
    assert [a for a, _w, _n in december_first] == ["export.downloaded"]
    november = _shown(client.get("/dashboard/audit?until=2026-11-20&action=broadcast").get_data(as_text=True))
    assert [a for a, _w, _n in november] == ["broadcast.sent"]
    by_admin = _shown(client.get("/dashboard/audit?who=admin@harlow.gov.uk&action=contact.erased")
                      .get_data(as_text=True))
    assert by_admin == [("contact.erased", "admin@harlow.gov.uk", "Contact erased")]
    page = client.get("/dashboard/audit?since=1 December")
    assert page.status_code == 400 and "year-month-day" in page.get_data(as_text=True)
    # A Welsh-reading officer reads the names in Welsh.
    welsh = client.get("/dashboard/audit?action=broadcast.sent", headers={"Accept-Language": "cy"})
    assert _shown(welsh.get_data(as_text=True))[0][2] == "Anfonwyd darllediad"


def test_csv_download_has_the_filtered_lines_and_is_itself_logged(client, as_role, services):
    _lines(services)
    as_role("officer")
    page = client.get("/dashboard/audit?since=2026-11-21&until=2026-11-22").get_data(as_text=True)
    link = re.search(r'id="audit-csv" href="([^"]+)"', page).group(1).replace("&amp;", "&")
    response = client.get(link)
    assert response.status_code == 200 and response.headers["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert [r["action"] for r in rows] == ["contact.erased", "export.downloaded"]
    assert rows[1]["action_name"] == "Export downloaded" and rows[1]["who"] == "officer@harlow.gov.uk"
    assert rows[1]["what"] == "Exported results (csv, 42 rows)"
    assert rows[1]["at"] == "2026-11-21T00:30:00+00:00"  # London in winter: the offset is given
    with services.db.session() as s:
        last = s.scalars(select(AuditLog).order_by(AuditLog.id.desc())).first()
    assert (last.action, last.officer_email, last.detail) == (
        "export.downloaded", "officer@harlow.gov.uk", {"what": "audit_log", "format": "csv", "rows": 2})
