"""The flows currently published, loaded from the flows folder and kept as versions."""
from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
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
        # Flows whose file has errors now, served from the version loaded before: flow id -> file.
        self.last_good: dict[str, str] = {}
        # Finds the source of the latest stored version of a file (set by build_services): path -> source.
        self.stored_source: Callable[[str], str | None] | None = None
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

    def reload(self, force: bool = False) -> bool:
        """Load the folder again if its files changed; return True when something was reloaded.

        A file that now has errors (a typo, a keyword another flow uses) never takes its flow
        offline: the version loaded before the edit keeps serving, and the file's errors are kept
        in `problems` (and `errors()`) for the dashboard and `app.py check` to show with their lines.
        """
        from flows.loader import load_flows_dir

        stamp = self._folder_stamp()
        with self._lock:
            if stamp == self._stamp and self._flows and not force:
                return False
            flows, problems = (_parsed_folder(self.flows_dir, stamp, load_flows_dir) if stamp else ({}, []))
            flows = dict(flows)
            broken = {p.path for p in problems if p.severity == "error"}
            existing = {str(f.path): f for f in flows.values() if f.path}
            self.last_good = {}
            for path in sorted(broken):
                previous = self._serving_from(path) or self._stored_version(path)
                if previous is None or path in existing or previous.id in flows:
                    log.error("flow file %s has errors and is not published: %s", path,
                              "; ".join(str(p) for p in problems if p.path == path and p.severity == "error"))
                    continue
                # Keep serving the last good version of this file's flow.
                flows[previous.id] = previous
                self.last_good[previous.id] = path
                log.error("flow file %s has errors; residents still get the last good version %s of '%s': %s",
                          path, previous.version[:8], previous.id,
                          "; ".join(str(p) for p in problems if p.path == path and p.severity == "error"))
            for problem in problems:
                if problem.severity != "error":
                    log.warning("flow problem: %s", problem)
            self._flows = flows
            self.problems = list(problems)
            self._stamp = stamp
            self._index()
            return True

    def _stored_version(self, path: str):
        """Return the last version of this file residents ran on (stored in the database), or None.

        After a restart with a broken file there is no version in memory: the stored one serves instead.
        """
        from flows.loader import FlowError, load_flow_text

        source = self.stored_source(path) if self.stored_source is not None else None
        if not source:
            return None
        try:
            return load_flow_text(source, path)
        except FlowError:
            return None

    def _serving_from(self, path: str):
        """Return the flow this file served until now (possibly a last good version kept earlier), or None."""
        for flow in self._flows.values():
            if flow.path and str(flow.path) == path:
                return flow
        return None

    def errors(self) -> list:
        """Return the errors of the flow files as they are now (file, line, column, message), in file order.

        A flow listed in `last_good` keeps serving the version from before its file broke.
        """
        return [p for p in self.problems if p.severity == "error"]

    def errors_for(self, flow_id: str) -> list:
        """Return the errors in the file that holds (or held) this flow, if it has any."""
        path = self.last_good.get(flow_id)
        if path is None:
            flow = self.get(flow_id)
            path = str(flow.path) if flow is not None and flow.path else None
        return [p for p in self.errors() if path is not None and p.path == path]

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

    def keyword_language(self, word: str) -> str | None:
        """Return the language this keyword chooses (DIOGEL: cy), or None when it chooses none.

        A keyword of the flow's base language chooses none, like a keyword of a plain list: the base
        language's word is the one every poster leads with, so texting it says nothing about the
        resident's own language (a Welsh speaker texting SAFE still gets Welsh).
        """
        flow = self.by_keyword(word)
        lang = flow.keyword_language(word) if flow is not None else None
        return lang if lang and lang != flow.base_language else None

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


def flows_with_errors(registry: FlowRegistry) -> list[tuple[str, int, str, bool]]:
    """Return (file, line, message, still serving its last good version) for every error in the flow files.

    For `app.py check` and monitoring: an empty list means every flow file loads.
    """
    serving = set(registry.last_good.values())
    return [(p.path, p.line, p.message, p.path in serving) for p in registry.errors()]


def latest_stored_source(db, path: str) -> str | None:
    """Return the source of the newest stored version of the flow file at `path`, or None."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        with db.session() as s:
            return s.scalar(select(FlowVersion.source).where(FlowVersion.path == path)
                            .order_by(FlowVersion.created_at.desc(), FlowVersion.id.desc()).limit(1))
    except SQLAlchemyError:  # no schema yet (before `db upgrade`): nothing stored to fall back on
        return None
