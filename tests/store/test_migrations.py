"""The migrations build exactly the schema the models describe, on both engines."""
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text

from store.db import Database, include_object, normalise_url
from store.models import Base


def _fresh_url(database, tmp_path) -> str:
    if not database.is_postgres:
        return f"sqlite:///{tmp_path / 'migrated.sqlite3'}"
    url = database.engine.url
    name = f"{url.database}_migrations"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def test_upgrade_head_matches_the_models(database, tmp_path):
    migrated = Database(normalise_url(_fresh_url(database, tmp_path)))
    migrated.upgrade()
    with migrated.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "include_object": include_object})
        differences = compare_metadata(context, Base.metadata)
    migrated.dispose()
    assert differences == []


def test_upgrade_twice_changes_nothing(tmp_path):
    migrated = Database(f"sqlite:///{tmp_path / 'twice.sqlite3'}")
    migrated.upgrade()
    migrated.upgrade()
    with migrated.engine.connect() as conn:
        version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    migrated.dispose()
    assert version is not None
