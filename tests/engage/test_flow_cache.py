"""The flows folder is parsed once per change, however many apps are built on it."""
from __future__ import annotations

import os
import shutil

from engage.flow_registry import FlowRegistry
from flows.loader import load_flow_text
from tests.conftest import LIBRARY
from tests.support.contacts import consultation_flow


def test_apps_on_an_unchanged_folder_share_one_parse_and_a_change_is_read_again(tmp_path):
    shutil.copy(LIBRARY / "street-safety.yaml", tmp_path / "street-safety.yaml")
    first, second = FlowRegistry(tmp_path), FlowRegistry(tmp_path)
    assert second.get("street-safety") is first.get("street-safety")

    path = tmp_path / "street-safety.yaml"
    revised = path.read_text(encoding="utf-8").replace("Feeling safe", "Revised Feeling safe", 1)
    path.write_text(revised, encoding="utf-8")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    third = FlowRegistry(tmp_path)
    assert third.get("street-safety") is not first.get("street-safety")
    assert third.get("street-safety").title.startswith("Revised ")
    assert first.reload() is True and first.get("street-safety") is third.get("street-safety")
    # A flow published on one app does not appear on another built on the same folder.
    first.add(load_flow_text(consultation_flow("extra", "EXTRA")))
    assert (first.get("extra") is not None, third.get("extra")) == (True, None)
