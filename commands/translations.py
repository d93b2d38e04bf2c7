"""`python app.py flows export-po|import-po|export-xlsx|import-xlsx`: the translators' round trip."""
from __future__ import annotations

from pathlib import Path

import click

from config import Settings

FLOW_HELP = "FLOW is a flow file, or a flow id in the flows folder."


def _flow_path(flow: str) -> Path:
    from engage.translation import TranslationError, resolve_flow_path

    try:
        return resolve_flow_path(flow, Settings.from_env().flows_dir)
    except TranslationError as exc:
        raise click.ClickException(str(exc)) from exc


def _report(report, path: Path) -> None:
    for line in report.lines():
        click.echo(line)
    from flows.lint import lint_paths

    problems = lint_paths([str(path)])
    if problems:
        click.echo("\nflows lint:")
        for problem in problems:
            click.echo(f"  {problem}")


@click.command("export-po", epilog=FLOW_HELP)
@click.argument("flow")
@click.option("--lang", required=True, help="Language to translate into, e.g. pl.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), default=None,
              help="File to write (default: FLOW-ID.LANG.po here); - for standard output.")
def export_po_command(flow: str, lang: str, output: str | None) -> None:
    """Write a PO file of the flow's texts for a translator (existing translations filled in)."""
    from engage.translation import FlowDocument, TranslationError, export_po, po_bytes

    path = _flow_path(flow)
    try:
        data = po_bytes(export_po(path, lang))
        target = output or f"{FlowDocument(path).id}.{lang}.po"
    except TranslationError as exc:
        raise click.ClickException(str(exc)) from exc
    if target == "-":
        click.echo(data.decode("utf-8"), nl=False)
        return
    Path(target).write_bytes(data)
    click.echo(f"Wrote {target}: give it to the translator, then run flows import-po {flow} {target}")


@click.command("import-po", epilog=FLOW_HELP)
@click.argument("flow")
@click.argument("po_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--lang", default=None, help="Language of the file, when its Language header is missing.")
def import_po_command(flow: str, po_file: str, lang: str | None) -> None:
    """Write a translated PO file's texts into the flow file, keeping its comments and order."""
    from engage.translation import TranslationError, import_po

    path = _flow_path(flow)
    try:
        report = import_po(path, po_file, lang)
    except TranslationError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{path}:")
    _report(report, path)


@click.command("export-xlsx", epilog=FLOW_HELP)
@click.argument("flow")
@click.option("--lang", "langs", multiple=True, help="Extra language column(s) to add, e.g. --lang pl --lang ro.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), default=None,
              help="File to write (default: FLOW-ID.xlsx here).")
def export_xlsx_command(flow: str, langs: tuple[str, ...], output: str | None) -> None:
    """Write a spreadsheet of the flow's texts: a row per text, a column per language."""
    from engage.translation import FlowDocument, TranslationError, export_xlsx

    path = _flow_path(flow)
    try:
        target = output or f"{FlowDocument(path).id}.xlsx"
        columns = export_xlsx(path, target, list(langs))
    except TranslationError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Wrote {target} with columns {', '.join(columns)}")


@click.command("import-xlsx", epilog=FLOW_HELP)
@click.argument("flow")
@click.argument("xlsx_file", type=click.Path(exists=True, dir_okay=False))
def import_xlsx_command(flow: str, xlsx_file: str) -> None:
    """Write a translated spreadsheet's texts into the flow file, keeping its comments and order."""
    from engage.translation import TranslationError, import_xlsx

    path = _flow_path(flow)
    try:
        report = import_xlsx(path, xlsx_file)
    except TranslationError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{path}:")
    _report(report, path)


TRANSLATION_COMMANDS = (export_po_command, import_po_command, export_xlsx_command, import_xlsx_command)


def add_translation_commands(group: click.Group) -> None:
    """Add the round-trip commands to the `flows` group."""
    for command in TRANSLATION_COMMANDS:
        group.add_command(command)
