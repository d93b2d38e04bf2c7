"""One SMS count for lint, the flow page, the broadcast form and the outbox: the message as sent (issue 15 item 3).

The Welsh `feel_safe` question is 2 SMS on its own but 3 as sent (its numbered choices and the Welsh
reply line); every place that counts it must say 3.
"""
from __future__ import annotations

import re
from datetime import datetime, timezone

from click.testing import CliRunner
from sqlalchemy import select

from bot.render import render_sms
from commands.flows import flows as flows_command
from engage import segments as segmenting
from engage.consent import record_basis
from flows.lint import segment_report
from flows.sms import count_segments
from locales import i18n
from store.models import OutboxMessage
from tests.support.dashboard import respondent

T0 = datetime(2026, 12, 2, 10, 0, tzinfo=timezone.utc)


def _page_counts(html: str, step: str) -> list[int]:
    table = html[html.index("SMS segments per message and language"):]
    headers = re.findall(r'<th scope="col" class="num">(\w+)</th>', table[:table.index("</thead>")])
    row = re.search(rf"<code>{step}</code></th>(.*?)</tr>", table, re.S).group(1)
    return dict(zip(headers, (int(n) for n in re.findall(r'<td class="num[^"]*">(\d+)', row)), strict=True))


def test_lint_flow_page_form_and_outbox_agree_on_the_message_as_sent(client, as_role, services):
    flow = services.registry.get("street-safety")
    lint = {r.lang: r.segments for r in segment_report(flow, i18n.gettext) if (r.step_id, r.field) == ("feel_safe",
                                                                                                       "ask")}
    assert lint == {"en": 1, "cy": 3}  # Welsh: 2 for the question alone, 3 as sent
    # The command line says the same.
    out = CliRunner().invoke(flows_command, ["lint", flow.path]).output
    assert "feel_safe ask [cy]: 3 SMS" in out and "feel_safe ask [en]: 1 SMS" in out

    with services.db.session() as s:
        for lang in ("en", "cy"):
            contact, _address = respondent(s, fields={"ward": "netteswell"}, language=lang)
            record_basis(s, contact, "service", T0, source="import", wording="Ward newsletter form")
        segment_id = segmenting.create_segment(s, "Netteswell", {"all": [{"field": "ward", "in": ["netteswell"]}]},
                                               T0).id
    token = as_role("officer")
    assert _page_counts(client.get("/dashboard/flows/street-safety").get_data(as_text=True), "feel_safe") == lint

    # The broadcast form counts the flow's first message as a broadcast sends it (with the line saying who
    # it is from and how to stop), per language...
    form = client.get(f"/dashboard/broadcasts/new?content=flow&flow_id=street-safety&segment_id={segment_id}"
                      ).get_data(as_text=True)
    said = {lang: int(n) for lang, n in re.findall(r'<span data-flow-count="(\w+)">[^:]+: (\d+) SMS segment', form)}
    assert said == {"en": 1, "cy": 3}
    response = client.post("/dashboard/broadcasts/new", data={
        "csrf_token": token, "name": "Street lights", "segment_id": segment_id, "content": "flow",
        "flow_id": "street-safety", "schedule": "now"})
    assert response.status_code == 302, response.get_data(as_text=True)
    # ... and the outbox's messages, rendered by the sender, cost what the form said.
    with services.db.session() as s:
        queued = s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "broadcast")).all()
        sent = {m.payload["lang"]: count_segments(render_sms(m.payload)).segments for m in queued}
    assert sent == said

    # A resident who texts the keyword gets the question without the broadcast's line: what lint counts.
    from tests.support.contacts import text_in

    text_in(services, "DIOGEL", "+447700900555")
    with services.db.session() as s:
        reply = s.scalars(select(OutboxMessage).where(OutboxMessage.kind != "broadcast")
                          .order_by(OutboxMessage.id.desc())).first()
        assert reply.payload["lang"] == "cy" and reply.payload["step_id"] == "feel_safe"
        assert count_segments(render_sms(reply.payload)).segments == lint["cy"] == 3


LONG = "Tell us what you think about the plans for the town centre, the market and the bus station. " * 11  # 8 segments


def test_the_form_warns_above_3_segments_and_asks_to_confirm_above_6(client, as_role, services):
    with services.db.session() as s:
        contact, _address = respondent(s, fields={"ward": "netteswell"})
        record_basis(s, contact, "service", T0, source="import", wording="Ward newsletter form")
        segment_id = segmenting.create_segment(s, "Everyone", {"all": []}, T0).id
    token = as_role("officer")
    four = "Tell us about the town centre. " * 17  # about 530 characters: 4 segments with the stop line
    page = client.post("/dashboard/broadcasts/new", data={
        "csrf_token": token, "name": "Plans", "segment_id": segment_id, "content": "message", "text_en": four,
        "action": "check"}).get_data(as_text=True)
    assert 'id="long-warning"' in page and "4 SMS segments" in page and 'name="confirm_long"' not in page
    data = {"csrf_token": token, "name": "Plans", "segment_id": segment_id, "content": "message", "text_en": LONG,
            "schedule": "now"}
    refused = client.post("/dashboard/broadcasts/new", data=data)
    assert refused.status_code == 422
    body = refused.get_data(as_text=True)
    assert "Tick the box to confirm" in body and 'name="confirm_long"' in body
    with services.db.session() as s:
        assert s.scalar(select(OutboxMessage.id)) is None  # nothing saved, nothing queued
    confirmed = client.post("/dashboard/broadcasts/new", data={**data, "confirm_long": "1"})
    assert confirmed.status_code == 302


def test_every_question_of_every_shipped_flow_counts_the_same_everywhere():
    from pathlib import Path

    from engage.sms_cost import flow_step_costs
    from flows.lint import catalog_gettext
    from flows.loader import load_flow
    from tests.conftest import LIBRARY

    files_words = catalog_gettext()
    for path in sorted(Path(LIBRARY).glob("*.yaml")):
        flow = load_flow(path)
        service = {(r.step_id, r.lang): r.segments for r in segment_report(flow, i18n.gettext)
                   if r.field in ("ask", "say")}
        standalone = {(r.step_id, r.lang): r.segments for r in segment_report(flow, files_words)
                      if r.field in ("ask", "say")}
        page = {(row["step"], lang): cost.segments for row in flow_step_costs(flow)
                for lang, cost in row["languages"].items() if flow.step(row["step"]).prompt.get(lang)}
        assert service == standalone == page, path.name
