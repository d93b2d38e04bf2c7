"""The simulator: transcripts rendered as SMS, and the interactive loop."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from flows.loader import load_flow
from flows.simulator import interactive, render_question, simulate

HERE = Path(__file__).parent
STREET = load_flow(HERE / "golden" / "street_safety.yaml")
PARK = load_flow(HERE / "golden" / "park_survey.yaml")
NOW = datetime(2026, 12, 2, 10, 0, tzinfo=timezone.utc)

AGE_EN = "BOT: How old are you?\n1) Under 18\n2) 18 to 64\n3) 65 or over\nReply 1, 2 or 3"


def test_transcript_in_english() -> None:
    assert simulate(STREET, ["not safe", "", "Harlow Road", "banana", "65 or over"], now=NOW) == [
        "BOT: How safe do you feel walking in your area after dark?\n1) Safe\n2) Unsafe\n3) Not sure\n"
        "Reply 1, 2 or 3",
        "YOU: not safe",
        "-- feel_safe = 'unsafe'",
        "BOT: Which street or place feels least safe?\n(up to 300 characters)",
        "YOU: ",
        "BOT: The reply was empty.",
        "BOT: Which street or place feels least safe?\n(up to 300 characters)",
        "YOU: Harlow Road",
        "-- where = 'Harlow Road'",
        AGE_EN,
        "YOU: banana",
        "BOT: That is not one of the options.",
        AGE_EN,
        "YOU: 65 or over",
        "-- age = '65_plus'",
        "-- contact age_band set to '65_plus'",
        "BOT: Thank you. We will tell you what we did with your answers.",
        "-- run ended (completed)",
    ]


def test_transcript_in_welsh_without_notes_and_with_my_reasons() -> None:
    lines = simulate(STREET, ["porffor", "tri", "dau", "extra"], lang="cy", now=NOW, notes=False,
                     describe_reason=lambda code, params, lang: f"[{lang}] {code} {dict(params)}")
    assert lines == [
        "BOT: Pa mor ddiogel ydych chi'n teimlo yn cerdded yn eich ardal ar ôl iddi dywyllu?\n1) Diogel\n"
        "2) Anniogel\n3) Ddim yn siŵr\nAtebwch 1, 2 neu 3",
        "YOU: porffor",
        "BOT: [cy] not_a_choice {'count': 3}",
        "BOT: Pa mor ddiogel ydych chi'n teimlo yn cerdded yn eich ardal ar ôl iddi dywyllu?\n1) Diogel\n"
        "2) Anniogel\n3) Ddim yn siŵr\nAtebwch 1, 2 neu 3",
        "YOU: tri",
        "BOT: Faint yw eich oed?\n1) O dan 18\n2) 18 i 64\n3) 65 neu hŷn\nAtebwch 1, 2 neu 3",
        "YOU: dau",
        "BOT: Diolch. Byddwn yn dweud wrthych beth wnaethom gyda'ch atebion.",
    ]  # replies after the end are not sent


def test_every_kind_renders() -> None:
    lines = simulate(PARK, ["1", "0", "SKIP", "1 and 9", "2", "yes", "y"], now=NOW, notes=False)
    bot = [line for line in lines if line.startswith("BOT")]
    assert bot[1].endswith("1) English\n2) Welsh\nReply 1 or 2")
    assert bot[2].endswith("last month?\nReply with a number from 0 to 31")
    assert bot[3] == "BOT: What stops you from going?\n(up to 160 characters)\nReply SKIP to skip this question"
    assert bot[4].endswith("4) Nature\nReply 1, 2, 3 or 4\nYou can pick more than one, e.g. 1 and 4")
    assert bot[5] == "BOT: That is not one of the options."
    assert bot[7] == "BOT: Do you have a dog?\nReply YES or NO"
    assert bot[8] == "BOT: Would you like a fenced dog area?\nReply YES PLEASE or NO THANKS"
    lines = simulate(PARK, ["1", "4"], now=NOW)
    assert lines[-1] == "BOT: How good is the park, from 0 to 10?\nReply 0 to 10 (0 = Very poor, 10 = Excellent)"


def test_render_question_for_a_number_without_bounds() -> None:
    from flows.events import QuestionAsked

    assert render_question(QuestionAsked("a", "en", "How many?", "number")) == "How many?\nReply with a number"


def test_interactive_loop() -> None:
    replies = iter(["2", "/wait", "/wait 1h", "Station Road", "/quit"])
    written: list[str] = []
    state = interactive(STREET, read=lambda prompt: next(replies), write=written.append, now=NOW)
    assert written[0].startswith("Trying 'Feeling safe in your neighbourhood' (street-safety)")
    assert "-- say how long, e.g. /wait 24h" in written
    assert "-- nothing happens" in written
    assert state["answers"] == {"feel_safe": "unsafe", "where": "Station Road"} and state["status"] == "active"


def test_interactive_waits_into_reminders_and_expiry() -> None:
    replies = iter(["/wait 24h", "/wait 2d"])
    written: list[str] = []
    state = interactive(PARK, read=lambda prompt: next(replies), write=written.append, now=NOW)
    assert "BOT: Your park survey is still open. Reply to carry on." in written
    assert written[-1] == "-- run expired" and state["status"] == "expired"


def test_interactive_stops_at_end_of_input() -> None:
    def read(prompt: str) -> str:
        raise EOFError

    assert interactive(STREET, read=read, write=lambda line: None, now=NOW)["status"] == "active"
