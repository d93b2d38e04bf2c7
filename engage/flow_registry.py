"""The flows currently published, loaded from the flows folder and kept as versions."""
from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from store.models import FlowVersion

log = logging.getLogger(__name__)


class FlowRegistry:
    """Flows by id and by keyword; reloads when the folder's files change."""

    def __init__(self, flows_dir: str | os.PathLike | None):
        self.flows_dir = Path(flows_dir) if flows_dir else None
        self._lock = threading.Lock()
        self._flows: dict = {}
        self._extra: dict = {}
        self._by_keyword: dict[str, str] = {}
        self._stamp: tuple = ()
        self.problems: list = []
        self._version_ids: dict[tuple[str, str], int] = {}
        self._versions_by_id: dict[int, tuple[str, str]] = {}
        self.reload()

    def _folder_stamp(self) -> tuple:
        if not self.flows_dir or not self.flows_dir.is_dir():
            return ()
        return tuple(
            sorted((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in self.flows_dir.iterdir()
                   if p.suffix in (".yaml", ".yml"))
        )

    def reload(self) -> bool:
        """Load the folder again if its files changed; return True when something was reloaded."""
        from flows.loader import load_flows_dir

        stamp = self._folder_stamp()
        with self._lock:
            if stamp == self._stamp and self._flows:
                return False
            flows, problems = (_parsed_folder(self.flows_dir, stamp, load_flows_dir) if stamp else ({}, []))
            for problem in problems:
                log.warning("flow problem: %s", problem)
            self._flows = dict(flows)
            self.problems = list(problems)
            self._stamp = stamp
            self._index()
            return True

    def add(self, flow) -> None:
        """Publish a flow that does not live in the folder (uploaded, or a test's)."""
        with self._lock:
            self._extra[flow.id] = flow
            self._index()

    def _index(self) -> None:
        merged = {**self._flows, **self._extra}
        self._by_keyword = {kw.upper(): f.id for f in merged.values() for kw in f.keywords}
        self._merged = merged

    def get(self, flow_id: str):
        return self._merged.get(flow_id)

    def all(self) -> list:
        return sorted(self._merged.values(), key=lambda f: f.id)

    def by_keyword(self, word: str):
        flow_id = self._by_keyword.get(word.strip().upper())
        return self._merged.get(flow_id) if flow_id else None

    # Flow versions are content-addressed and never change once stored, so each process keeps the ids
    # it has seen: a turn then needs no query to find its flow. Only committed rows are remembered,
    # so a rolled-back insert can never leave an id behind that the database does not have.

    def _remember_after_commit(self, session: Session, version_id: int, flow_id: str, version: str) -> None:
        pending = session.info.get("flow_versions_seen")
        if pending is None:
            pending = session.info["flow_versions_seen"] = []

            def remember(committed: Session) -> None:
                for vid, fid, ver in committed.info.pop("flow_versions_seen", []):
                    self._version_ids[(fid, ver)] = vid
                    self._versions_by_id[vid] = (fid, ver)

            event.listen(session, "after_commit", remember, once=True)
        pending.append((version_id, flow_id, version))

    def version_row(self, session: Session, flow) -> FlowVersion:
        """Return the stored version of this flow's source, storing it the first time."""
        row = session.scalar(
            select(FlowVersion).where(FlowVersion.flow_id == flow.id, FlowVersion.version == flow.version)
        )
        if row is None:
            row = FlowVersion(flow_id=flow.id, version=flow.version, title=flow.title, source=flow.source,
                              path=str(flow.path) if flow.path else None)
            session.add(row)
            session.flush()
        self._remember_after_commit(session, row.id, row.flow_id, row.version)
        return row

    def forget_versions(self) -> None:
        """Drop the remembered version ids (after a write failed: the database may not be the one they came from)."""
        self._version_ids.clear()
        self._versions_by_id.clear()

    def version_id(self, session: Session, flow) -> int:
        """Return the id of this flow's stored version (a query only the first time in a process)."""
        known = self._version_ids.get((flow.id, flow.version))
        return known if known is not None else self.version_row(session, flow).id

    def flow_for_version(self, session: Session, version_id: int):
        """Return the flow a run started on, even when the folder has moved on."""
        known = self._versions_by_id.get(version_id)
        if known is not None:
            current = self.get(known[0])
            if current is not None and current.version == known[1]:
                return current
        row = session.get(FlowVersion, version_id)
        if row is None:
            return None
        self._remember_after_commit(session, row.id, row.flow_id, row.version)
        current = self.get(row.flow_id)
        if current is not None and current.version == row.version:
            return current
        from flows.loader import load_flow_text

        return _cached_flow(row.source, row.path or f"<{row.flow_id}@{row.version[:8]}>", load_flow_text)


# The last parse of each flows folder, by its files' names, mtimes and sizes: every app built on the same
# unchanged folder (the web app, its workers, the command line) shares one parse instead of reading again.
# Flows are frozen, so sharing them is safe.
_parsed_folders: dict[str, tuple[tuple, dict, list]] = {}
_parsed_lock = threading.Lock()


def _parsed_folder(folder: Path, stamp: tuple, loader) -> tuple[dict, list]:
    key = str(folder.resolve())
    with _parsed_lock:
        cached = _parsed_folders.get(key)
        if cached is not None and cached[0] == stamp:
            return cached[1], cached[2]
    flows, problems = loader(folder)
    with _parsed_lock:
        _parsed_folders[key] = (stamp, flows, problems)
    return flows, problems


_old_versions: dict[str, object] = {}


def _cached_flow(source: str, path: str, loader):
    flow = _old_versions.get(source)
    if flow is None:
        flow = loader(source, path)
        _old_versions[source] = flow
    return flow
