"""Run a database call with a deadline the database cannot stretch.

Statement and lock timeouts are enforced by the database server; a server that accepts connections and
then never answers enforces nothing. The call runs in a daemon thread and the caller waits at most the
deadline: it gets its answer, or DeadlineExceeded while the thread finishes (or times out) on its own.
Python cannot stop a thread, and the standard thread pools join their threads at exit (a hung one would
hang the process's shutdown), hence a plain daemon thread per call.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


class DeadlineExceeded(TimeoutError):
    """The call did not finish within its deadline (it may still finish later)."""


class _Call:
    def __init__(self, fn: Callable[..., Any], args: tuple, kwargs: dict):
        self.done = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None
        self._fn, self._args, self._kwargs = fn, args, kwargs

    def run(self) -> None:
        try:
            self.result = self._fn(*self._args, **self._kwargs)
        except BaseException as exc:  # handed to the caller, who raises it
            self.error = exc
        finally:
            self.done.set()

    def start(self, name: str) -> "_Call":
        threading.Thread(target=self.run, name=name, daemon=True).start()
        return self

    def outcome(self, seconds: float) -> Any:
        if not self.done.wait(seconds):
            raise DeadlineExceeded(f"no answer within {seconds:g} s")
        if self.error is not None:
            raise self.error
        return self.result


def call_within(seconds: float, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Return fn(*args, **kwargs), or raise DeadlineExceeded after `seconds` (0 or less: no deadline)."""
    if not seconds or seconds <= 0:
        return fn(*args, **kwargs)
    return _Call(fn, args, kwargs).start("deadline").outcome(seconds)


class SingleFlight:
    """Like call_within for a probe asked again and again (/healthz): while one call is still waiting on
    the database, later askers wait on that same call instead of starting another thread."""

    def __init__(self, fn: Callable[[], T], name: str = "probe"):
        self._fn, self._name = fn, name
        self._lock = threading.Lock()
        self._current: _Call | None = None

    def __call__(self, seconds: float) -> T:
        with self._lock:
            if self._current is None or self._current.done.is_set():
                self._current = _Call(self._fn, (), {}).start(self._name)
            call = self._current
        return call.outcome(seconds)
