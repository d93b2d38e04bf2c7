"""The outreach service: `create_app(config)` for WSGI servers, and the command line.

    python app.py                 run the service (web, sender, scheduler) on SQLite
    python app.py --help          every command
"""
from __future__ import annotations

import logging
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import click
from flask import Flask, jsonify

import security
from config import ROOT, Settings
from engage import branding
from engage.services import Services, build_services

log = logging.getLogger("outreach")


def create_app(config: dict[str, Any] | Settings | None = None) -> Flask:
    """Build the web application and the services behind it; start nothing.

    :param config: a Settings, or a dict of setting overrides; `database` (a
        store.db.Database) and `clock` may be passed too, mainly by tests.
    """
    overrides = dict(config or {}) if not isinstance(config, Settings) else {}
    database = overrides.pop("database", None)
    clock = overrides.pop("clock", None)
    testing = overrides.pop("testing", False)
    # The repository's own (git-ignored) instance folder, wherever the command is run from.
    instance_path = overrides.pop("instance_path", None) or str(ROOT / "instance")
    settings = config if isinstance(config, Settings) else Settings.from_env(overrides)
    # The sandboxes run only on a laptop: never with credentials, a public address or scaled mode.
    settings = replace(settings, sandbox=security.sandbox_enabled(settings))
    from engage.logsetup import configure_from_settings

    configure_from_settings(settings)
    if problems := branding.brand_problems(settings):
        raise branding.BrandingRefused("; ".join(problems))

    app = Flask(__name__, template_folder=str(ROOT / "templates"), static_folder=str(ROOT / "static"),
                instance_path=instance_path)
    app.config.update(
        SECRET_KEY=security.resolve_secret_key(settings, app.instance_path),
        TESTING=testing,
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.public_url.startswith("https://"),
    )
    security.install(app, settings)
    services = build_services(settings, database=database, clock=clock)
    app.extensions["outreach"] = services

    from store.health import HealthCheck

    health = HealthCheck(services.db, settings.health_timeout)

    @app.get("/healthz")
    def healthz():
        """200 "ready" only when the database answers and its schema is migrated; 503 otherwise, in time."""
        result = health()
        body = {"status": result.status, **({"detail": result.detail} if result.detail else {})}
        return jsonify(body), (200 if result.ready else 503)

    from webhooks.availability import init_availability

    init_availability(app)
    _register_rooms(app, services)
    from engage import metrics

    metrics.init_app(app, services)
    return app


def _register_rooms(app: Flask, services: Services) -> None:
    """Attach each room's blueprints and background loops."""
    # Each capability adds its init_app here, in the order the data flows.
    import bot
    import webhooks

    bot.init_app(app, services)
    webhooks.init_app(app, services)
    from dashboard.public import init_public
    from engage import scheduling

    scheduling.init_app(app, services)
    init_public(app, services)
    import api
    from engage import privacy

    privacy.init_app(app, services)
    api.init_app(app, services)
    from engage import language_choice

    language_choice.init_app(app, services)
    import dashboard

    dashboard.init_app(app, services)


def services_of(app: Flask) -> Services:
    return app.extensions["outreach"]


# ----- command line ------------------------------------------------------------------


class _Commands(click.Group):
    """The command group; a setting that would run the service unsafely is a clear error, not a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (security.InsecureConfiguration, branding.BrandingRefused) as exc:
            raise click.ClickException(str(exc)) from exc


@click.group(cls=_Commands, invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=5000, show_default=True, type=int, help="Port to listen on.")
@click.pass_context
def cli(ctx: click.Context, host: str, port: int) -> None:
    """Outreach: ask residents short questions and tell them what happened next."""
    from engage.logsetup import configure_logging

    # Text, or one JSON object a line with OUTREACH_LOG_FORMAT=json; phone numbers masked either way.
    configure_logging()
    if ctx.invoked_subcommand is None:
        ctx.invoke(serve, host=host, port=port)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
def serve(host: str, port: int) -> None:
    """Run the web service; in embedded mode the sender and scheduler run inside it too."""
    from werkzeug.serving import make_server

    # The listening address decides whether this is a laptop setup (sandbox, generated key) or not.
    app = create_app({"listen_host": host})
    services = services_of(app)
    services.db.upgrade()
    if services.settings.mode == "embedded":
        services.start_loops()
    server = make_server(host, port, app, threaded=True)
    click.echo(f"Outreach is listening on http://{host}:{port}/ (mode: {services.settings.mode}; "
               f"database: {services.db.engine.dialect.name}). Press Ctrl+C to stop.")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        services.stop_loops()


@cli.command()
@click.option("--loop", "only", multiple=True, metavar="NAME",
              help="Run only this loop (repeatable), e.g. --loop inbound for a worker that only acts on "
                   "residents' messages, --loop sender for one that only sends.")
def worker(only: tuple[str, ...]) -> None:
    """Run a worker: it sends the outbox and, in scaled mode, acts on residents' messages.

    Start as many as you like on PostgreSQL."""
    app = create_app()
    services = services_of(app)
    names = [name for name in services.loops if name != "scheduler"]
    unknown = set(only) - set(names)
    if unknown:
        raise click.BadParameter(f"no loop called {', '.join(sorted(unknown))}; this worker has: "
                                 f"{', '.join(names)}", param_hint="--loop")
    services.start_loops(list(only) or names)
    _wait_forever(services)


@cli.command()
def scheduler() -> None:
    """Run the scheduler (scaled mode; start two and only one schedules)."""
    app = create_app()
    services = services_of(app)
    if "scheduler" not in services.loops:
        raise click.ClickException("the scheduler is not part of this build yet")
    services.start_loops(["scheduler"])
    _wait_forever(services)


def _wait_forever(services: Services) -> None:
    try:
        services._stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        services.stop_loops()


@cli.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Create or update the database schema to the newest version."""
    app = create_app()
    db = services_of(app).db
    before = db.schema_revision()
    db.upgrade()
    after = db.schema_revision()
    if before is None:
        click.echo(f"Created the database schema (version {after}) in an empty database.")
    elif before != after:
        click.echo(f"Upgraded the database schema from version {before} to {after}.")
    else:
        click.echo(f"Database is up to date (version {after}).")


def _add_command_groups() -> None:
    from commands.flows import flows, simulate

    cli.add_command(flows)
    cli.add_command(simulate)
    from commands.contacts import contacts

    cli.add_command(contacts)
    from commands.translations import add_translation_commands

    add_translation_commands(flows)
    from commands.outreach import broadcasts, consultations, segments, updates

    for group in (segments, broadcasts, updates, consultations):
        cli.add_command(group)
    from commands.officers import officers

    cli.add_command(officers)
    from commands.qr import qr
    from commands.telegram import telegram_poll, telegram_webhook

    for command in (qr, telegram_poll, telegram_webhook):
        cli.add_command(command)
    from commands.check import check

    cli.add_command(check)
    from commands.results import results

    cli.add_command(results)


_add_command_groups()


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    cli()
