"""The migrations build exactly the schema the models describe, on both engines."""
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

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


def _schema_and_rows(engine) -> dict:
    """Every table's columns and indexes, the schema version, and the flow versions stored."""
    found = {}
    inspector = inspect(engine)
    for table in sorted(inspector.get_table_names()):
        found[table] = ([(c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table)],
                        sorted((i["name"], tuple(i["column_names"])) for i in inspector.get_indexes(table)))
    with engine.connect() as conn:
        found["version"] = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
        found["rows"] = conn.execute(text("SELECT id, flow_id, version FROM flow_versions")).all()
    return found


def test_upgrade_twice_changes_nothing(tmp_path):
    from alembic.script import ScriptDirectory

    from store.db import alembic_config

    migrated = Database(f"sqlite:///{tmp_path / 'twice.sqlite3'}")
    migrated.upgrade()
    with migrated.engine.begin() as conn:
        conn.execute(text("INSERT INTO flow_versions (id, flow_id, version, source, created_at) "
                          "VALUES (1, 'f', 'v', '', '2026-12-01 09:00:00')"))
    once = _schema_and_rows(migrated.engine)
    migrated.upgrade()
    twice = _schema_and_rows(migrated.engine)
    heads = ScriptDirectory.from_config(alembic_config(migrated.url)).get_heads()
    migrated.dispose()
    assert twice == once
    assert once["version"] == heads and once["rows"] == [(1, "f", "v")]
    assert set(once) - {"version", "rows"} == {t.name for t in Base.metadata.sorted_tables} | {"alembic_version"}


def test_upgrading_from_the_first_schema_fills_in_when_runs_were_first_answered(tmp_path):
    from alembic import command

    from store.db import alembic_config

    migrated = Database(f"sqlite:///{tmp_path / 'from0001.sqlite3'}")
    command.upgrade(alembic_config(migrated.url, migrated.engine), "0001")
    with migrated.engine.begin() as conn:
        conn.execute(text("INSERT INTO flow_versions (id, flow_id, version, source, created_at) "
                          "VALUES (1, 'f', 'v', '', '2026-12-01 09:00:00')"))
        for run_id in (1, 2, 3):
            conn.execute(text("INSERT INTO runs (id, flow_id, flow_version_id, channel, status, state, started_at,"
                              " updated_at) VALUES (:id, 'f', 1, 'sms', 'active', '{}', '2026-12-01 09:00:00',"
                              " '2026-12-01 09:00:00')"), {"id": run_id})
        answers = [(1, "a", False, "2026-12-01 09:05:00"), (1, "b", False, "2026-12-01 09:01:00"),
                   (2, "a", True, "2026-12-01 09:02:00")]  # run 2 only skipped; run 3 never answered
        for run_id, step, skipped, at in answers:
            conn.execute(text("INSERT INTO answers (run_id, flow_id, step_id, skipped, answered_at) "
                              "VALUES (:r, 'f', :s, :k, :at)"), {"r": run_id, "s": step, "k": skipped, "at": at})
    migrated.upgrade()
    with migrated.engine.connect() as conn:
        filled = dict(conn.execute(text("SELECT id, answered_at FROM runs ORDER BY id")).all())
    migrated.dispose()
    assert filled == {1: "2026-12-01 09:01:00", 2: None, 3: None}


def test_upgrading_keeps_service_broadcasts_reaching_residents_with_a_stated_consent_or_the_panel(tmp_path):
    """Residents imported with a source, and panel joiners, get a service basis; keyword texters do not."""
    from alembic import command

    from store.db import alembic_config

    migrated = Database(f"sqlite:///{tmp_path / 'from0002.sqlite3'}")
    command.upgrade(alembic_config(migrated.url, migrated.engine), "0002")
    at = "2026-12-01 09:00:00"
    with migrated.engine.begin() as conn:
        for cid in (1, 2, 3):
            conn.execute(text("INSERT INTO contacts (id, fields, do_not_contact, created_at, updated_at) "
                              "VALUES (:id, '{}', false, :at, :at)"), {"id": cid, "at": at})
        consents = [(1, "import"), (1, "officer"), (2, "inbound"), (3, "keyword")]
        for cid, source in consents:
            conn.execute(text("INSERT INTO consent_records (contact_id, scope, action, source, at) "
                              "VALUES (:c, 'channel', 'opt_in', :s, :at)"), {"c": cid, "s": source, "at": at})
        conn.execute(text("INSERT INTO flow_versions (id, flow_id, version, source, created_at) "
                          "VALUES (1, 'citizens-panel', 'v', '', :at)"), {"at": at})
        conn.execute(text("INSERT INTO runs (id, contact_id, flow_id, flow_version_id, channel, status, state, "
                          "started_at, updated_at) VALUES (1, 3, 'citizens-panel', 1, 'sms', 'completed', '{}', "
                          ":at, :at)"), {"at": at})
        conn.execute(text("INSERT INTO answers (run_id, flow_id, step_id, contact_id, value, skipped, answered_at) "
                          "VALUES (1, 'citizens-panel', 'consent', 3, 'true', false, :at)"), {"at": at})
    migrated.upgrade()
    with migrated.engine.connect() as conn:
        bases = conn.execute(text("SELECT contact_id, scope, source FROM consent_records "
                                  "WHERE scope != 'channel' ORDER BY contact_id")).all()
        classes = conn.execute(text("SELECT count(*) FROM broadcasts")).scalar()
    migrated.dispose()
    assert [tuple(b) for b in bases] == [(1, "service", "carried_over"), (3, "service", "flow")]
    assert classes == 0
