"""The services a command works with: the app a Flask test runner built, or a new one."""
from __future__ import annotations

import click
from flask.cli import ScriptInfo


def current_services():
    """Return the services of the app this command runs in (the test app under a test runner)."""
    info = click.get_current_context().find_object(ScriptInfo)
    if info is not None and info.create_app is not None:
        app = info.load_app()
    else:
        from app import create_app

        app = create_app()
    return app.extensions["outreach"]
