"""Translators' round trip: PO and XLSX out of a flow and back in, comments and order kept."""
from __future__ import annotations

import difflib
import shutil
from pathlib import Path

import pytest
from babel.messages.pofile import read_po, write_po
from click.testing import CliRunner

from engage.translation import (
    TranslationError,
    export_po,
    export_xlsx,
    import_po,
    import_xlsx,
    po_bytes,
)
from flows.loader import load_flow

LIBRARY = Path(__file__).resolve().parent.parent.parent / "flows" / "library"

POLISH = {
    "title": "Bezpiecznie w swojej okolicy",
    "consultation.purpose": "Zdecydować, gdzie w 2027 roku stanie 40 nowych latarni",
    "feel_safe.ask": "Jak bezpiecznie czujesz się, chodząc po swojej okolicy po zmroku?",
    "feel_safe.choices.safe": "Bezpiecznie",
    "feel_safe.choices.unsafe": "Niebezpiecznie",
    "feel_safe.choices.unsure": "Nie wiem",
    "where.ask": "Która ulica lub miejsce wydaje się najmniej bezpieczne?",
    "age.ask": "Ile masz lat?",
    "age.choices.under_18": "Poniżej 18",
    "age.choices.18_64": "Od 18 do 64",
    "age.choices.65_plus": "65 lub więcej",
    "thanks.say": "Dziękujemy. Powiemy Ci, co zrobiliśmy z Twoimi odpowiedziami.",
}


@pytest.fixture
def flow_file(tmp_path) -> Path:
    path = tmp_path / "street-safety.yaml"
    shutil.copy(LIBRARY / "street-safety.yaml", path)
    return path


def translate(po_in: Path, po_out: Path, texts: dict[str, str], fuzzy: tuple[str, ...] = ()) -> None:
    """Do what a translator does in Poedit: fill in msgstr, maybe leave some marked fuzzy."""
    with po_in.open("rb") as fh:
        catalog = read_po(fh)
    for message in catalog:
        if message.context in texts:
            message.string = texts[message.context]
            if message.context in fuzzy:
                message.flags.add("fuzzy")
    with po_out.open("wb") as fh:
        write_po(fh, catalog)


def exported(flow_file: Path, lang: str, tmp_path: Path) -> Path:
    path = tmp_path / f"out.{lang}.po"
    path.write_bytes(po_bytes(export_po(flow_file, lang)))
    return path


def test_export_names_each_text_by_step_and_field(flow_file):
    catalog = export_po(flow_file, "pl")
    rows = [(m.context, m.id, m.string) for m in catalog if m.id]
    assert [r[0] for r in rows] == list(POLISH)
    # The title is translated like every other text the resident reads.
    assert rows[0] == ("title", "Feeling safe in your neighbourhood", "")
    # So is the consultation's purpose, though the flow writes it once for every language.
    assert rows[1] == ("consultation.purpose", "Decide where 40 new street lights go in 2027", "")
    assert rows[2] == ("feel_safe.ask", "How safe do you feel walking in your area after dark?", "")
    assert rows[3] == ("feel_safe.choices.safe", "Safe", "")
    assert str(catalog.locale) == "pl"


def test_export_fills_in_existing_translations(flow_file):
    welsh = {m.context: m.string for m in export_po(flow_file, "cy") if m.id}
    assert welsh["feel_safe.choices.unsure"] == "Ddim yn siŵr"
    assert welsh["thanks.say"] == "Diolch. Byddwn yn dweud wrthych beth wnaethom gyda'ch atebion."


def test_po_round_trip_changes_only_the_texts_and_keeps_the_comments(flow_file, tmp_path):
    before = flow_file.read_text(encoding="utf-8")
    po = exported(flow_file, "pl", tmp_path)
    translate(po, po, POLISH)

    report = import_po(flow_file, po)

    after = flow_file.read_text(encoding="utf-8")
    assert len(report.changed) == len(POLISH)
    assert report.missing == {"pl": []}
    diff = [line for line in difflib.ndiff(before.splitlines(), after.splitlines()) if line[:2] in ("- ", "+ ")]
    removed = [line[2:] for line in diff if line.startswith("- ")]
    added = [line[2:] for line in diff if line.startswith("+ ")]
    # Only the languages list and the one-line choices are rewritten, each by appending Polish.
    assert removed == [
        "languages: [en, cy]            # the first is the base language",
        "  purpose: Decide where 40 new street lights go in 2027",
        "      - {value: safe, en: Safe, cy: Diogel}",
        "      - {value: unsafe, en: Unsafe, cy: Anniogel}",
        "      - {value: unsure, en: Not sure, cy: Ddim yn siŵr}",
        "      - {value: under_18, en: Under 18, cy: O dan 18}",
        "      - {value: 18_64, en: 18 to 64, cy: 18 i 64}",
        "      - {value: 65_plus, en: 65 or over, cy: 65 neu hŷn}",
    ]
    assert "languages: [en, cy, pl]        # the first is the base language" in added
    assert "      - {value: 18_64, en: 18 to 64, cy: 18 i 64, pl: Od 18 do 64}" in added
    assert "      pl: Ile masz lat?" in added
    # The purpose becomes one line per language (English, the Welsh it was shown in, Polish).
    assert "  purpose:" in added and f"    pl: {POLISH['consultation.purpose']}" in added
    # Four `pl:` lines under ask/say, one under the title, and the purpose's three under its key.
    assert len(added) == len(removed) + 5 + 3
    for comment in ("# the first is the base language", "# texting one of these starts the flow"):
        assert comment in after
    flow = load_flow(flow_file)
    assert flow.languages == ["en", "cy", "pl"]
    assert flow.text(flow.step("feel_safe"), "pl") == POLISH["feel_safe.ask"]
    assert flow.title_in("pl") == POLISH["title"]
    assert [c.labels["pl"] for c in flow.step("age").choices] == ["Poniżej 18", "Od 18 do 64", "65 lub więcej"]


def test_a_partial_translation_reports_what_is_still_missing(flow_file, tmp_path):
    po = exported(flow_file, "pl", tmp_path)
    translate(po, po, {"feel_safe.ask": POLISH["feel_safe.ask"], "where.ask": POLISH["where.ask"]},
              fuzzy=("where.ask",))
    report = import_po(flow_file, po)
    assert report.changed == ["feel_safe.ask"]
    assert report.fuzzy == ["where.ask"]
    assert "where.ask" in report.missing["pl"]
    assert "feel_safe.ask" not in report.missing["pl"]
    assert any(line.startswith("still missing in pl (10):") for line in report.lines())


def test_a_translation_of_english_that_has_since_changed_is_not_used(flow_file, tmp_path):
    po = exported(flow_file, "pl", tmp_path)
    translate(po, po, POLISH)
    flow_file.write_text(flow_file.read_text(encoding="utf-8").replace("How old are you?", "What is your age?"),
                         encoding="utf-8")
    report = import_po(flow_file, po)
    assert report.stale == ["age.ask"]
    assert "age.ask" in report.missing["pl"]
    assert "Ile masz lat?" not in flow_file.read_text(encoding="utf-8")


def test_texts_the_flow_no_longer_has_are_reported(flow_file, tmp_path):
    po = exported(flow_file, "pl", tmp_path)
    text = po.read_text(encoding="utf-8").replace('msgctxt "where.ask"', 'msgctxt "where_gone.ask"')
    po.write_text(text, encoding="utf-8")
    translate(po, po, {"where_gone.ask": "Gdzie?"})
    report = import_po(flow_file, po)
    assert report.unknown == ["where_gone.ask"]
    assert report.changed == []


def test_a_broken_po_file_is_refused_and_the_flow_is_untouched(flow_file, tmp_path):
    before = flow_file.read_bytes()
    bad = tmp_path / "bad.po"
    bad.write_text("this is not a PO file\n", encoding="utf-8")
    with pytest.raises(TranslationError, match="not a readable PO file"):
        import_po(flow_file, bad)
    assert flow_file.read_bytes() == before


def test_importing_existing_translations_rewrites_nothing(tmp_path):
    path = tmp_path / "citizens-panel.yaml"
    shutil.copy(LIBRARY / "citizens-panel.yaml", path)
    before = path.read_bytes()
    po = exported(path, "cy", tmp_path)
    contexts = [m.context for m in export_po(path, "cy") if m.id]
    assert {"reminder", "consent.easy_read", "consent.ask", "intro.say"} <= set(contexts)
    report = import_po(path, po)
    assert report.changed == []
    assert report.missing == {"cy": []}
    assert path.read_bytes() == before


def test_the_base_language_cannot_be_exported_as_a_translation(flow_file):
    with pytest.raises(TranslationError, match="base language"):
        export_po(flow_file, "en")


def test_xlsx_round_trip_adds_a_language_column_and_keeps_comments(flow_file, tmp_path):
    from openpyxl import load_workbook

    sheet_path = tmp_path / "street-safety.xlsx"
    assert export_xlsx(flow_file, sheet_path, ["ro"]) == ["en", "cy", "ro"]
    book = load_workbook(sheet_path)
    sheet = book["street-safety"]
    header = [cell.value for cell in sheet[1]]
    assert header == ["text", "en", "cy", "ro"]
    rows = {row[0].value: row for row in sheet.iter_rows(min_row=2)}
    assert rows["feel_safe.choices.unsure"][2].value == "Ddim yn siŵr"
    rows["age.ask"][3].value = "Câți ani aveți?"
    rows["feel_safe.choices.safe"][3].value = "În siguranță"
    rows["thanks.say"][2].value = "Diolch yn fawr."  # an edit to an existing Welsh text
    book.save(sheet_path)

    report = import_xlsx(flow_file, sheet_path)

    assert sorted(report.changed) == ["age.ask [ro]", "feel_safe.choices.safe [ro]", "thanks.say [cy]"]
    text = flow_file.read_text(encoding="utf-8")
    assert "languages: [en, cy, ro]" in text
    assert "# texting one of these starts the flow" in text
    assert "      ro: Câți ani aveți?" in text
    welsh = {m.context: m.string for m in export_po(flow_file, "cy") if m.id}
    assert welsh["thanks.say"] == "Diolch yn fawr."
    assert "age.ask" not in report.missing["ro"]
    assert "where.ask" in report.missing["ro"]


def test_a_sheet_without_the_expected_header_is_refused(flow_file, tmp_path):
    from openpyxl import Workbook

    book = Workbook()
    book.active.append(["context", "English"])
    path = tmp_path / "wrong.xlsx"
    book.save(path)
    with pytest.raises(TranslationError, match="first row"):
        import_xlsx(flow_file, path)


def test_cli_export_and_import_po_by_flow_id(tmp_path, monkeypatch):
    from app import cli

    flows_dir = tmp_path / "flows"
    flows_dir.mkdir()
    shutil.copy(LIBRARY / "street-safety.yaml", flows_dir / "street-safety.yaml")
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    env = {"OUTREACH_FLOWS_DIR": str(flows_dir)}

    result = runner.invoke(cli, ["flows", "export-po", "street-safety", "--lang", "pl"], env=env)
    assert result.exit_code == 0, result.output
    po = tmp_path / "street-safety.pl.po"
    translate(po, po, {"age.ask": "Ile masz lat?"})

    result = runner.invoke(cli, ["flows", "import-po", "street-safety", str(po)], env=env)
    assert result.exit_code == 0, result.output
    assert "1 translation(s) written" in result.output
    assert "still missing in pl (10)" in result.output
    # Lint runs after the import, so the officer sees the flow will not load until Polish is complete.
    assert "has no text in pl" in result.output
    assert "pl: Ile masz lat?" in (flows_dir / "street-safety.yaml").read_text(encoding="utf-8")

    result = runner.invoke(cli, ["flows", "export-po", "no-such-flow", "--lang", "pl"], env=env)
    assert result.exit_code == 1
    assert "no flow file or flow id 'no-such-flow'" in result.output


def test_cli_xlsx_commands(tmp_path, monkeypatch):
    from app import cli

    path = tmp_path / "street-safety.yaml"
    shutil.copy(LIBRARY / "street-safety.yaml", path)
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    result = runner.invoke(cli, ["flows", "export-xlsx", str(path), "--lang", "so", "-o", "t.xlsx"])
    assert result.exit_code == 0, result.output
    assert "columns en, cy, so" in result.output
    result = runner.invoke(cli, ["flows", "import-xlsx", str(path), "t.xlsx"])
    assert result.exit_code == 0, result.output
    assert "0 translation(s) written" in result.output


PLAIN_FLOW = """\
# A one-language flow written with plain strings.
id: plain
title: Plain
languages: [en]
keywords: [PLAIN]
steps:
  - id: rate
    ask: How do you rate the bins?   # the main question
    scale:
      min: 1
      max: 5
      labels: {1: Very poor, 5: Very good}
  - id: again
    ask: Would you use it again?
    yes_no: {yes: Yes please, no: No thanks}
  - id: bye
    say: Thanks!
"""
WELSH = {"title": "Plaen", "rate.ask": "Sut ydych chi'n graddio'r biniau?", "rate.scale.labels.1": "Gwael iawn",
         "rate.scale.labels.5": "Da iawn", "again.ask": "Fyddech chi'n ei ddefnyddio eto?",
         "again.yes_no.yes": "Byddwn", "again.yes_no.no": "Na fyddwn", "bye.say": "Diolch!"}


def test_texts_written_as_plain_strings_become_one_text_per_language(tmp_path):
    path = tmp_path / "plain.yaml"
    path.write_text(PLAIN_FLOW, encoding="utf-8")
    assert [m.context for m in export_po(path, "cy") if m.id] == list(WELSH)
    po = exported(path, "cy", tmp_path)
    translate(po, po, WELSH)

    report = import_po(path, po)

    assert report.missing == {"cy": []}
    text = path.read_text(encoding="utf-8")
    assert "# the main question" in text
    assert "# A one-language flow written with plain strings." in text
    flow = load_flow(path)
    assert flow.languages == ["en", "cy"]
    assert flow.text(flow.step("rate"), "cy") == "Sut ydych chi'n graddio'r biniau?"
    assert flow.text(flow.step("rate"), "en") == "How do you rate the bins?"
    assert flow.step("rate").labels[5] == {"en": "Very good", "cy": "Da iawn"}
    assert flow.step("again").yes_no_labels["no"] == {"en": "No thanks", "cy": "Na fyddwn"}
    # The title, written once, is translated like every other text.
    assert flow.title_texts == {"en": "Plain", "cy": "Plaen"} and flow.title_in("cy") == "Plaen"


@pytest.mark.parametrize("path", sorted(LIBRARY.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_text_the_engine_can_show_is_exported_once(path):
    from engage.translation import FlowDocument

    contexts = [text.context for text in FlowDocument(path).texts()]
    assert len(contexts) == len(set(contexts))
    flow = load_flow(path)
    # Every text the engine shows, and besides them a title or purpose written once as a plain string
    # (exported so that it can be translated).
    plain = [c for c, value in (("title", flow.title if not flow.title_texts else None),
                                ("consultation.purpose", flow.consultation.purpose
                                 if flow.consultation and not flow.consultation.purpose_texts else None)) if value]
    assert len(contexts) == len(list(flow.texts())) + len(plain)
    assert set(plain) <= set(contexts)


def test_a_plain_purpose_is_exported_but_not_missing_until_the_flow_gives_it_per_language(flow_file, tmp_path):
    from engage.translation import FlowDocument

    rows = {m.context: m.id for m in export_po(flow_file, "pl") if m.id}
    assert rows["consultation.purpose"] == "Decide where 40 new street lights go in 2027"
    assert "consultation.purpose" not in FlowDocument(flow_file).missing("pl")
    assert "consultation.purpose" not in FlowDocument(flow_file).missing("cy")  # Welsh was never asked for
    sheet = tmp_path / "flow.xlsx"
    export_xlsx(flow_file, sheet, ["pl"])
    from openpyxl import load_workbook

    texts = [row[0] for row in load_workbook(sheet).active.iter_rows(values_only=True)]
    assert "consultation.purpose" in texts
    # Translated, the purpose is given per language; the Welsh reader keeps the text they were shown.
    po = exported(flow_file, "pl", tmp_path)
    translate(po, po, POLISH)
    report = import_po(flow_file, po)
    assert "consultation.purpose" in report.changed and report.missing == {"pl": []}
    flow = load_flow(flow_file)
    assert flow.consultation.purpose_texts == {"en": "Decide where 40 new street lights go in 2027",
                                               "cy": "Decide where 40 new street lights go in 2027",
                                               "pl": POLISH["consultation.purpose"]}

