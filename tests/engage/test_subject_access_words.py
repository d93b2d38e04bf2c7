"""The subject access page speaks the person's language: questions, answer labels, messages as sent, dates
through Babel (issue 15: no step ids, Python reprs or microsecond timestamps)."""
from __future__ import annotations

import re

from sqlalchemy import select

from engage.privacy import subject_access, subject_access_html
from store.models import Address
from tests.support.contacts import mobile, text_in

PHONE = mobile(7)


def test_a_welsh_residents_copy_is_in_welsh_with_questions_labels_and_messages_as_sent(services, db):
    for text in ("DIOGEL", "2", "Ger yr orsaf", "2"):
        text_in(services, text, PHONE)
    with db.session() as s:
        contact_id = s.scalar(select(Address.contact_id).where(Address.address == PHONE))
        data = subject_access(s, contact_id, services.clock.now())
    page = subject_access_html(data, "Cyngor Harlow", services.settings.timezone)
    assert '<html lang="cy"' in page and "Eich manylion" in page
    feel_safe = next(a for a in data["runs"][0]["answers"] if a["step_id"] == "feel_safe")
    assert feel_safe["value"] == "unsafe" and feel_safe["answer"] == "Anniogel"
    assert feel_safe["question"].startswith("Pa mor ddiogel ydych chi")
    answers = page[page.index("Ymgynghoriadau ac arolygon"):]
    # The question as asked and the answer's label, never the step id or the stored code.
    assert "Pa mor ddiogel ydych chi&#39;n teimlo" in answers and "<td class=\"text\">Anniogel</td>" in answers
    assert "feel_safe" not in page and ">unsafe<" not in answers and "18 i 64" in answers
    # The question message as the resident's phone showed it: numbered choices and the Welsh reply line.
    messages = page[page.index("<h2>Negeseuon</h2>"):page.index("Ymgynghoriadau ac arolygon")]
    assert "1. Diogel\n2. Anniogel\n3. Ddim yn siŵr\n\nAtebwch 1, 2 neu 3" in messages
    # Dates in Welsh, in the council's time, to the minute.
    assert re.search(r"\d{1,2} Rhagfyr 2026, \d\d:\d\d", page)
    assert not re.search(r"\d\d:\d\d:\d\d", page) and "+00:00" not in page and "T0" not in page
