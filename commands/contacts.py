"""`python app.py contacts ...`: import and export contacts, residents' rights, retention, API tokens."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from commands.context import current_services


def _contact_or_fail(session, reference: str):
    from engage.contacts import resolve_contact

    contact = resolve_contact(session, reference)
    if contact is None:
        raise click.ClickException(f"no contact matches '{reference}' (give +44..., telegram:ID or a contact id)")
    return contact


def _audit(session, action: str, now, **kwargs) -> None:
    """Write one audit line for a command, naming the command line and the system user who ran it."""
    import getpass

    from engage.officers import record

    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown user"
    record(session, None, action, now, actor=f"command line ({user})", **kwargs)


@click.group()
def contacts() -> None:
    """Contacts, residents' rights, retention and API tokens."""


@contacts.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", "mode", flag_value="dry-run", default=True,
              help="Check every row and report problems; change nothing (the default).")
@click.option("--commit", "mode", flag_value="commit", help="Import every row, or none if any row is bad.")
def import_command(path: str, mode: str) -> None:
    """Import contacts from a CSV file: phone, telegram_id, name, language, ward, groups, consent_source, ...

    A row's consent_source (how the resident agreed) is also the basis for broadcasts of the classes in
    its consent_for column: "service", "promotional" or "service;promotional" (default: service).
    """
    from engage.contact_import import check_import, import_contacts
    from engage.field_values import registry_vocabulary

    services = current_services()
    now = services.clock.now()
    data = Path(path).read_bytes()
    region = services.settings.extra.get("phone_region", "GB")
    tz = services.settings.timezone
    vocabulary = registry_vocabulary(services.registry)
    _rows, report = check_import(services.db, data, now, region=region, tz=tz, vocabulary=vocabulary)
    for problem in report.problems:
        click.echo(str(problem))
    if report.problems:
        click.echo(f"\n{len(report.problems)} problem(s) in {report.rows} row(s); nothing was imported.", err=True)
        sys.exit(1)
    if mode != "commit":
        click.echo(f"{report.rows} row(s) are fine: {report.created} new contact(s), {report.merged} merged. "
                   "Run again with --commit to import.")
        return
    with click.progressbar(length=report.rows, label="Importing") as bar:
        report = import_contacts(services.db, data, now, commit=True, region=region, tz=tz, progress=bar.update,
                                 vocabulary=vocabulary)
    if not report.committed:
        for problem in report.problems:
            click.echo(str(problem))
        click.echo("Nothing was imported.", err=True)
        sys.exit(1)
    with services.db.session() as s:
        _audit(s, "contacts.imported", now, detail={"rows": report.rows, "created": report.created,
                                                   "merged": report.merged, "file": Path(path).name},
               summary=f"Imported {report.rows} contact row(s) from {Path(path).name}")
    click.echo(f"Imported {report.rows} row(s): {report.created} new contact(s), {report.merged} merged, "
               f"{report.consent_recorded} consent record(s), {report.opt_outs_kept} opt-out(s) kept.")


@contacts.command("export")
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True), default=None,
              help="File to write (default: standard output).")
def export_command(output: str | None) -> None:
    """Write every contact (not erased) as CSV."""
    from engage.contacts import export_contacts_csv

    services = current_services()
    with services.db.session() as s:
        text = export_contacts_csv(s)
        rows = max(text.count("\n") - 1, 0)
        _audit(s, "export.downloaded", services.clock.now(), detail={"what": "contacts", "format": "csv", "rows": rows},
               summary=f"Exported contacts (csv, {rows} rows) from the command line")
    if output:
        Path(output).write_text(text, encoding="utf-8")
        click.echo(f"Wrote {output}.")
    else:
        click.echo(text, nl=False)


@contacts.command("export-data")
@click.argument("reference")
@click.option("--html", "html_path", type=click.Path(dir_okay=False, writable=True), help="Write a readable page.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, writable=True), help="Write the data as JSON.")
def export_data_command(reference: str, html_path: str | None, json_path: str | None) -> None:
    """Subject access: everything held on one person (phone number, telegram:ID or contact id)."""
    from engage.privacy import subject_access, subject_access_html

    services = current_services()
    with services.db.session() as s:
        contact = _contact_or_fail(s, reference)
        data = subject_access(s, contact.id, services.clock.now())
        _audit(s, "contact.subject_access", services.clock.now(), target_type="contact", target_id=contact.id,
               summary=f"Exported everything held on contact {contact.id} (subject access) from the command line")
    text = json.dumps(data, indent=2, ensure_ascii=False)
    if json_path:
        Path(json_path).write_text(text, encoding="utf-8")
        click.echo(f"Wrote {json_path}.")
    if html_path:
        page = subject_access_html(data, services.settings.council_name, services.settings.timezone)
        Path(html_path).write_text(page, encoding="utf-8")
        click.echo(f"Wrote {html_path}.")
    if not json_path and not html_path:
        click.echo(text)


@contacts.command("erase")
@click.argument("reference")
@click.option("--yes", is_flag=True, help="Confirm: this cannot be undone.")
def erase_command(reference: str, yes: bool) -> None:
    """Erase a person (right to erasure): identity and message texts go, answers stay anonymous."""
    from engage.privacy import erase_contact

    if not yes:
        raise click.UsageError("erasure cannot be undone; add --yes to confirm")
    services = current_services()
    with services.db.session() as s:
        contact = _contact_or_fail(s, reference)
        contact_id = contact.id
        record = erase_contact(s, contact_id, services.clock.now(), source="officer")
        counts = dict(record.counts)
        _audit(s, "contact.erased", services.clock.now(), target_type="contact", target_id=contact_id,
               detail={"counts": counts}, summary=f"Erased contact {contact_id} from the command line")
    click.echo("Erased. " + ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())))


@contacts.command("object")
@click.argument("reference")
@click.option("--withdraw", is_flag=True, help="The person withdraws their objection.")
def object_command(reference: str, withdraw: bool) -> None:
    """Right to object: send this person no broadcasts, reminders or updates."""
    from engage.contacts import set_do_not_contact

    services = current_services()
    with services.db.session() as s:
        contact = _contact_or_fail(s, reference)
        set_do_not_contact(s, contact, services.clock.now(), objected=not withdraw, source="officer")
    click.echo("Objection withdrawn." if withdraw else "Recorded: no more consultations for this person.")


@contacts.command("retention")
@click.option("--dry-run", is_flag=True, help="Count what is due; change nothing.")
@click.option("--months", type=click.IntRange(min=1), default=None,
              help="Months to keep data after a consultation closed (default: OUTREACH_RETENTION_MONTHS, else 24).")
def retention_command(dry_run: bool, months: int | None) -> None:
    """Anonymise answers and messages kept longer than the retention period."""
    from engage.privacy import retention_months, run_retention

    services = current_services()
    months = months or retention_months(services.settings)
    report = run_retention(services, dry_run=dry_run, months=months)
    verb = "Would anonymise" if dry_run else "Anonymised"
    click.echo(f"{verb} {report.answers} answer(s), {report.runs} run(s), {report.inbound} inbound and "
               f"{report.outbox} outbound message(s) older than {months} months.")
    for flow_id, n in sorted(report.flows.items()):
        if n:
            click.echo(f"  {flow_id}: {n} answer(s)")


@contacts.group("api-token")
def api_token() -> None:
    """Tokens for the JSON API."""


@api_token.command("create")
@click.argument("name")
@click.option("--scope", type=click.Choice(["read", "write"]), required=True)
def api_token_create(name: str, scope: str) -> None:
    """Create a token; it is shown once and only its hash is kept."""
    from api.tokens import create_api_token

    services = current_services()
    with services.db.session() as s:
        row, token = create_api_token(s, name, scope, services.clock.now(), created_by="command line")
        token_id = row.id
    click.echo(f"Token {token_id} ({scope}) for {name}. Copy it now; it will not be shown again:\n{token}")


@api_token.command("list")
def api_token_list() -> None:
    """List tokens (never the tokens themselves)."""
    from api.tokens import list_api_tokens

    services = current_services()
    with services.db.session() as s:
        for row in list_api_tokens(s):
            state = f"revoked {row.revoked_at:%Y-%m-%d}" if row.revoked_at else "active"
            used = f"last used {row.last_used_at:%Y-%m-%d %H:%M}" if row.last_used_at else "never used"
            click.echo(f"{row.id}\t{row.scope}\t{state}\t{used}\t{row.name}")


@api_token.command("revoke")
@click.argument("token_id", type=int)
def api_token_revoke(token_id: int) -> None:
    """Revoke a token by its number."""
    from api.tokens import revoke_api_token

    services = current_services()
    with services.db.session() as s:
        if not revoke_api_token(s, token_id, services.clock.now()):
            raise click.ClickException(f"no token {token_id}")
    click.echo(f"Token {token_id} revoked.")
