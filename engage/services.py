"""The service objects one running instance shares: settings, database, clock, flows, conversations."""
from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from engage.clock import SystemClock
from engage.conversations import ConversationService
from engage.flow_registry import FlowRegistry, latest_stored_source
from store.db import Database, Timeouts

log = logging.getLogger(__name__)

# A background loop: called with the services and an event that is set to stop it.
BackgroundLoop = Callable[["Services", threading.Event], None]


@dataclass
class Services:
    settings: Any
    db: Database
    clock: Any
    registry: FlowRegistry
    conversations: ConversationService
    # Loops that embedded mode runs as threads (sender, inbound sweep, scheduler).
    loops: dict[str, BackgroundLoop] = field(default_factory=dict)
    # Anything other capabilities attach (channels, scheduler...).
    extras: dict[str, Any] = field(default_factory=dict)
    _threads: list[threading.Thread] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def start_loops(self, names: list[str] | None = None) -> None:
        """Run background loops in daemon threads (embedded mode)."""
        for name, loop in self.loops.items():
            if names is not None and name not in names:
                continue
            thread = threading.Thread(target=_guarded, args=(name, loop, self, self._stop), name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
            log.info("started %s", name)

    def stop_loops(self, timeout: float = 5.0) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()
        self._stop = threading.Event()


def _guarded(name: str, loop: BackgroundLoop, services: Services, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            loop(services, stop)
            return
        except Exception:
            log.exception("%s stopped with an error; restarting in 5 s", name)
            stop.wait(5)


def build_services(settings, *, database: Database | None = None, clock=None) -> Services:
    """Build the objects an instance needs; nothing is started."""
    db = database or Database(settings.database_url, timeouts=Timeouts.from_settings(settings))
    clock = clock or SystemClock()
    registry = FlowRegistry(settings.flows_dir)
    # A flow file broken before this start still serves the last version residents ran on.
    registry.stored_source = functools.partial(latest_stored_source, db)
    if registry.errors():
        registry.reload(force=True)
    conversations = ConversationService(db, registry, clock, settings)
    services = Services(settings=settings, db=db, clock=clock, registry=registry, conversations=conversations)
    services.loops["inbound-sweep"] = inbound_sweep_loop
    if not settings.inbound_in_web:
        services.loops["inbound"] = inbound_loop
    return services


def inbound_loop(services: Services, stop: threading.Event, idle_wait: float = 0.05) -> None:
    """Act on residents' messages as the web stores them (scaled mode: the web only stores and answers)."""
    while not stop.is_set():
        if services.conversations.process_waiting() == 0:
            stop.wait(idle_wait)


def inbound_sweep_loop(services: Services, stop: threading.Event, interval: float = 5.0) -> None:
    """Pick up inbound messages a crash left unprocessed, and reload changed flows."""
    while not stop.wait(interval):
        if services.settings.flows_reload:
            services.registry.reload()
        services.conversations.process_pending(older_than_seconds=10)
