"""A broken edit to a live flow file never changes what residents get: the last good version keeps serving."""
from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from engage.flow_registry import flows_with_errors
from store.models import OutboxMessage
from tests.conftest import LIBRARY

PHONE = "+447700900001"


@pytest.fixture
def folder(tmp_path):
    folder = tmp_path / "flows"
    folder.mkdir()
    for name in ("street-safety.yaml", "climate-pulse.yaml"):
        (folder / name).write_text((Path(LIBRARY) / name).read_text(encoding="utf-8"), encoding="utf-8")
    return folder


@pytest.fixture
def services(app_config, folder):
    from app import create_app

    return create_app({**app_config, "flows_dir": str(folder)}).extensions["outreach"]


def reload(services):
    services.registry._stamp = ()  # the test writes faster than the file system's clock ticks
    services.registry.reload()


def text_in(services, text, address=PHONE, n=[0]):  # noqa: B006 - a counter for unique provider ids
    n[0] += 1
    row_id, _ = services.conversations.store_inbound("sms", f"SMreg{n[0]}", address, text, {})
    services.conversations.process_inbound(row_id)


def last_text(db):
    with db.session() as s:
        return s.scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc())).first().payload["text"]


def test_a_typo_in_a_live_flow_keeps_the_last_good_version_serving(services, db, folder):
    path = folder / "street-safety.yaml"
    good = services.registry.get("street-safety")
    # An officer's edit: a new question text, and a typo (`choises`) that breaks the file.
    broken = path.read_text(encoding="utf-8").replace("How old are you?", "What is your age?").replace(
        "    save_to: age_band", "    choises: []\n    save_to: age_band")
    path.write_text(broken, encoding="utf-8")
    reload(services)
    assert services.registry.get("street-safety") is good
    assert services.registry.last_good == {"street-safety": str(path)}
    [(file, line, message, serving)] = flows_with_errors(services.registry)
    assert (file, serving) == (str(path), True) and "unknown key 'choises'" in message
    assert broken.splitlines()[line - 1].strip().startswith("choises")
    # A new resident still gets the consultation, as it was before the edit.
    text_in(services, "SAFE")
    assert last_text(db).startswith("How safe do you feel")
    text_in(services, "1")
    assert last_text(db) == "How old are you?"
    # Once the file is fixed, the edit goes live and the error is gone.
    path.write_text(broken.replace("    choises: []\n", ""), encoding="utf-8")
    reload(services)
    assert services.registry.get("street-safety").step("age").prompt["en"] == "What is your age?"
    assert flows_with_errors(services.registry) == [] and services.registry.last_good == {}


def test_a_keyword_taken_from_another_flow_keeps_both_flows_serving(services, folder):
    path = folder / "street-safety.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("keywords: {en: [SAFE], cy: [DIOGEL]}",
                                                                 "keywords: {en: [CLIMATE], cy: [DIOGEL]}"),
                    encoding="utf-8")
    reload(services)
    assert services.registry.by_keyword("SAFE").id == "street-safety"
    assert services.registry.by_keyword("CLIMATE").id == "climate-pulse"
    assert any("keyword 'CLIMATE' is also used" in p.message for p in services.registry.errors_for("street-safety"))


def test_a_new_file_with_errors_is_reported_and_publishes_nothing(services, folder):
    (folder / "bins.yaml").write_text("id: bins\ntitle: Bins\nlanguages: [en]\nsteps:\n  - id: a\n    ask: Hi\n")
    reload(services)
    assert services.registry.get("bins") is None
    [(file, line, message, serving)] = flows_with_errors(services.registry)
    assert (file, line, serving) == (str(folder / "bins.yaml"), 5, False)


def test_after_a_restart_a_broken_file_serves_the_last_version_residents_ran_on(app_config, db, services, folder):
    from app import create_app

    text_in(services, "SAFE", address="+447700900009")  # stores the version residents ran on
    path = folder / "street-safety.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("keywords: {en: [SAFE]", "keywords: {en: [SAFE SAFE]"),
                    encoding="utf-8")
    restarted = create_app({**app_config, "flows_dir": str(folder)}).extensions["outreach"]
    flow = restarted.registry.get("street-safety")
    assert flow is not None and flow.keywords[0] == "SAFE"
    assert restarted.registry.last_good == {"street-safety": str(path)}
    text_in(restarted, "SAFE", address="+447700900010")
    assert last_text(db).startswith("How safe do you feel")
