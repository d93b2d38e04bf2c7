"""WhatsApp's rules as pure functions: the window, templates per language, the flow field, buttons and lists."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from textwrap import dedent

from bot.render import parse_callback_data, render_whatsapp
from engage.whatsapp import NO_TEMPLATE, TEMPLATE_KEY, in_window, template_variables, with_template
from flows.lint import lint_paths
from flows.loader import load_flow_text

NOW = datetime(2026, 12, 2, 10, 0, tzinfo=timezone.utc)
SID_EN = "HX" + "a1" * 16
SID_CY = "HX" + "c2" * 16
FLOW = ("id: t\ntitle: T\nlanguages: [en, cy]\n{extra}steps:\n  - id: q\n    ask: {{en: Q?, cy: C?}}\n"
        "    yes_no: true\n")


def question(kind="choice", labels=("Safe", "Unsafe", "Not sure"), **extra):
    choices = [{"number": i + 1, "value": label.lower().replace(" ", "_"), "label": label}
               for i, label in enumerate(labels)]
    return {"type": "question", "text": "How safe do you feel?", "question": "How safe do you feel?",
            "kind": kind, "choices": choices, "optional": False, "hints": {}, "lang": "en", "run_id": 7,
            "flow_id": "street-safety", "step_id": "feel_safe", **extra}


def test_the_window_is_open_for_24_hours_after_the_residents_last_message():
    assert in_window(NOW - timedelta(hours=23, minutes=59), NOW)
    assert not in_window(NOW - timedelta(hours=24), NOW)
    assert not in_window(None, NOW)


def test_outside_the_window_a_message_needs_a_template_in_its_language_or_the_base_language():
    payload = {"type": "text", "text": "News", "lang": "cy"}
    late = NOW - timedelta(days=3)
    assert with_template(payload, "whatsapp", late, NOW, {}, "cy", "en") == (payload, NO_TEMPLATE)
    given, reason = with_template(payload, "whatsapp", late, NOW, {"en": SID_EN, "cy": SID_CY}, "cy", "en")
    assert (given[TEMPLATE_KEY], reason) == (SID_CY, None)
    given, reason = with_template(payload, "whatsapp", late, NOW, {"en": SID_EN}, "cy", "en")
    assert (given[TEMPLATE_KEY], reason) == (SID_EN, None)
    # Inside the window free-form is fine; other channels never need one.
    assert with_template(payload, "whatsapp", NOW - timedelta(hours=1), NOW, {}, "cy") == (payload, None)
    assert with_template(payload, "sms", late, NOW, {}, "cy") == (payload, None)


def test_a_templates_variable_is_the_text_on_one_line():
    assert template_variables("Line one\n\nLine  two\tend") == {"1": "Line one Line two end"}


def test_a_flow_names_its_whatsapp_templates_per_language():
    flow = load_flow_text(FLOW.format(extra=f"whatsapp_templates: {{en: {SID_EN}, cy: {SID_CY}}}\n"))
    assert flow.whatsapp_templates == {"en": SID_EN, "cy": SID_CY}
    assert load_flow_text(FLOW.format(extra="")).whatsapp_templates == {}


def test_a_bad_whatsapp_template_is_reported_at_its_line_and_column(tmp_path: Path):
    path = tmp_path / "flow.yaml"
    path.write_text(dedent(FLOW.format(extra="whatsapp_templates:\n  en: HX12\n  pl: " + SID_EN + "\n")))
    problems = [str(p).replace(f"{tmp_path}/", "") for p in lint_paths([path])]
    assert problems == ["flow.yaml:5:7: the WhatsApp template in en (English) should be a Content SID: HX and 32 "
                        "hex digits, not 'HX12'",
                        "flow.yaml:6:3: text in pl (Polish), which is not in this flow's languages (en, cy)"]


def test_up_to_three_choices_are_quick_reply_buttons_whose_press_is_the_typed_number():
    text, content = render_whatsapp(question())
    assert text.endswith("1. Safe\n2. Unsafe\n3. Not sure\n\nReply 1, 2 or 3")
    reply = content["twilio/quick-reply"]
    assert reply["body"] == "How safe do you feel?"
    assert [a["title"] for a in reply["actions"]] == ["Safe", "Unsafe", "Not sure"]
    pressed = parse_callback_data(reply["actions"][1]["id"])
    assert (pressed.run_id, pressed.is_for_step("feel_safe"), pressed.as_inbound()) == (
        7, True, {"text": "2", "choice": None})
    assert content["twilio/text"]["body"] == text


def test_four_to_ten_choices_are_a_list_and_more_or_long_labels_are_numbered_text():
    _, content = render_whatsapp(question(labels=[f"Ward {n}" for n in range(1, 8)]))
    picker = content["twilio/list-picker"]
    assert [i["item"] for i in picker["items"]] == [f"Ward {n}" for n in range(1, 8)]
    assert picker["button"] == "Choose"
    assert render_whatsapp(question(labels=[f"Ward {n}" for n in range(1, 12)]))[1] is None
    assert render_whatsapp(question(labels=["A label far longer than a list item allows"]))[1] is None
    # Free text, several picks and optional questions are answered by typing.
    assert render_whatsapp(question(kind="multiple"))[1] is None
    assert render_whatsapp(question(optional=True))[1] is None
    assert render_whatsapp({"type": "text", "text": "Thanks"}) == ("Thanks", None)


def test_yes_no_buttons_carry_yes_and_no_in_the_residents_language():
    _, content = render_whatsapp({**question(kind="yes_no"), "choices": [], "lang": "cy"})
    actions = content["twilio/quick-reply"]["actions"]
    assert [a["title"] for a in actions] == ["Ie", "Na"]
    assert [parse_callback_data(a["id"]).as_inbound()["choice"] for a in actions] == ["yes", "no"]
