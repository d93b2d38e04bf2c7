"""`python app.py officers ...`: create and list dashboard accounts from the command line."""
from __future__ import annotations

import sys

import click

from commands.context import current_services


@click.group()
def officers() -> None:
    """Dashboard accounts for council officers."""


@officers.command("create")
@click.argument("email")
@click.option("--role", type=click.Choice(["admin", "officer", "viewer"]), default="officer", show_default=True,
              help="admin: accounts and settings; officer: flows, broadcasts, updates; viewer: results only.")
@click.option("--name", default=None, help="The officer's name, shown in the audit log.")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of standard input.")
def create(email: str, role: str, name: str | None, password_stdin: bool) -> None:
    """Create an account; asks for the password unless --password-stdin is given."""
    from engage.officers import OfficerError, create_officer

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    services = current_services()
    try:
        with services.db.session() as s:
            officer = create_officer(s, email, password, role, name=name, now=services.clock.now())
            created = officer.email
    except OfficerError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Created the {role} account {created}.")


@officers.command("list")
def list_officers() -> None:
    """List accounts with their roles."""
    from sqlalchemy import select

    from store.models.officers import Officer

    services = current_services()
    with services.db.session() as s:
        for officer in s.scalars(select(Officer).order_by(Officer.email)):
            state = "" if officer.active else " (switched off)"
            click.echo(f"{officer.email}\t{officer.role}{state}")
