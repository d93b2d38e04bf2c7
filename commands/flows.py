"""`python app.py flows ...` and `python app.py simulate`: for officers writing flows."""
from __future__ import annotations

import sys

import click

from config import Settings


@click.group()
def flows() -> None:
    """Check and translate flows."""


@flows.command("lint")
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
@click.option("--segments/--no-segments", default=True, show_default=True,
              help="Also print how many SMS segments each text costs, per language.")
def lint(paths: tuple[str, ...], segments: bool) -> None:
    """Check flow files (default: the flows folder); exit 1 on any error."""
    from flows.lint import lint_paths, segment_report
    from flows.loader import FlowError, load_flow
    from locales import i18n

    targets = list(paths) or [Settings.from_env().flows_dir]
    problems = lint_paths(targets)
    for problem in problems:
        click.echo(str(problem))
    errors = [p for p in problems if getattr(p, "severity", "error") == "error"]
    if segments:
        from pathlib import Path

        files = [p for t in targets for p in ([Path(t)] if Path(t).is_file() else sorted(Path(t).glob("*.y*ml")))]
        for path in files:
            try:
                flow = load_flow(path)
            except FlowError:
                continue
            click.echo(f"\n{path}: SMS segments per text")
            for line in segment_report(flow, i18n.gettext):
                click.echo(f"  {line}")
    if errors:
        click.echo(f"\n{len(errors)} error(s) found.", err=True)
        sys.exit(1)
    click.echo("\nNo errors found.")


@click.command()
@click.argument("flow_path", type=click.Path(exists=True, dir_okay=False))
@click.option("--lang", default=None, help="Language to chat in (e.g. cy); default the flow's first.")
@click.option("--answers", default=None,
              help='Answers separated by "|" to run without typing, e.g. "2|Station Road|3".')
def simulate(flow_path: str, lang: str | None, answers: str | None) -> None:
    """Chat with a flow in the terminal, with the same engine and matching as residents get."""
    from engage.conversations import describe_reason
    from flows.loader import FlowError, load_flow
    from flows.simulator import interactive
    from flows.simulator import simulate as run_simulation

    try:
        flow = load_flow(flow_path)
    except FlowError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        sys.exit(1)
    if lang is not None and lang not in flow.languages:
        raise click.BadParameter(f"the flow has no '{lang}'; it has {', '.join(flow.languages)}", param_hint="--lang")
    if answers is not None:
        for line in run_simulation(flow, answers.split("|"), lang=lang, describe_reason=describe_reason):
            click.echo(line)
        return
    interactive(flow, lang=lang, describe_reason=describe_reason, read=input, write=click.echo)
