"""python app.py results themes FLOW STEP: the themes of a written question, with sizes and quotes."""
from __future__ import annotations

import getpass

import click

from commands.context import current_services
from engage.results import flow_steps
from engage.themes import service


def _actor() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown user"
    return f"command line ({user})"


def _step(services, flow_id: str, step_id: str):
    from sqlalchemy import select

    from store.models import FlowVersion

    flow = services.registry.get(flow_id)
    source = flow.source if flow is not None else None
    if source is None:
        with services.db.session() as s:
            source = s.scalar(select(FlowVersion.source).where(FlowVersion.flow_id == flow_id)
                              .order_by(FlowVersion.id.desc()).limit(1))
    if source is None:
        raise click.ClickException(f"no flow {flow_id!r}")
    step = next((st for st in flow_steps(source) if st.id == step_id), None)
    if step is None or step.kind != "text":
        raise click.ClickException(f"{flow_id!r} has no written question {step_id!r}")
    return step


@click.group()
def results() -> None:
    """Results of flows."""


@results.command("themes")
@click.argument("flow_id")
@click.argument("step_id")
@click.option("--no-update", is_flag=True, help="Only show the stored themes; place no new answers.")
@click.option("--quotes", type=click.IntRange(0, 5), default=3, show_default=True, help="Quotes per theme.")
def themes_command(flow_id: str, step_id: str, no_update: bool, quotes: int) -> None:
    """Print the themes of a written question with their sizes and quotes.

    The first time, the themes are found; afterwards the answers that arrived since are placed in the
    officers' themes (or in "To look at"). Either is written to the audit log.
    """
    services = current_services()
    step = _step(services, flow_id, step_id)
    with services.db.session() as s:
        if not no_update:
            view = service.overview(s, flow_id, step_id, dimensions=())
            if view.unplaced or (not view.themes and view.answers):
                service.analyse(s, flow_id, step_id, services.clock.now(), actor=_actor())
        view = service.overview(s, flow_id, step_id, special=step.special_category, dimensions=())
    click.echo(f"{step.question}")
    click.echo(f"{view.answers} written answers, {view.residents} residents in {len(view.themes)} themes"
               + (f", {view.unplaced} answers not yet placed" if view.unplaced else ""))
    for theme in view.themes:
        size = "hidden" if theme.residents is None else f"{theme.residents} residents"
        share = "" if theme.percent is None else f", {theme.percent}%"
        click.echo("")
        click.echo(f"[{theme.id}] {theme.label} ({size}{share})")
        if theme.words:
            click.echo(f"    words: {', '.join(theme.words)}")
        if not step.special_category:
            for quote in theme.quotes[:quotes]:
                copies = f" (sent by {quote.residents} residents)" if quote.residents > 1 else ""
                click.echo(f"    “{' '.join(quote.text.split())}”{copies}")
    if view.needs_reply:
        click.echo("")
        click.echo(f"{len(view.needs_reply)} answers need a reply; {len(view.out_of_scope)} out of scope")
