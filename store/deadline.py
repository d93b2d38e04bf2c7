"""Run a database call with a deadline the database cannot stretch.

Statement and lock timeouts are enforced by the database server; a server that accepts connections and
then never answers enforces nothing. The call runs in a daemon thread and the caller waits at most the
deadline: it gets its answer, or DeadlineExceeded while the thread finishes (or times out) on its own.
Python cannot stop a thread, and the standard thread pools join their threads at exit (a hung one would
hang the process's shutdown), hence daemon threads of our own. Starting a thread for every call cost a
webhook about a third of its CPU, so a finished thread waits for the next call (a few are kept idle); a
call that hangs keeps its thread, and the next call gets another.
"""
from __future__ import annotations

import os
import queue
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
        _THREADS.submit(self, name)
        return self

    def outcome(self, seconds: float) -> Any:
        if not self.done.wait(seconds):
            raise DeadlineExceeded(f"no answer within {seconds:g} s")
        if self.error is not None:
            raise self.error
        return self.result


class _Thread(threading.Thread):
    """A daemon thread that runs calls one after another, handed to it by _Threads."""

    def __init__(self, owner: "_Threads", name: str):
        super().__init__(name=name, daemon=True)
        self.calls: queue.SimpleQueue[tuple[_Call, str]] = queue.SimpleQueue()
        self._owner = owner

    def run(self) -> None:
        while True:
            call, self.name = self.calls.get()  # named for the call it runs (a stuck "health-probe"...)
            call.run()
            self.name = "deadline"  # idle
            if not self._owner.release(self):
                return


class _Threads:
    """The daemon threads deadline calls run in: an idle one takes a call, else a new one is started."""

    def __init__(self, keep_idle: int = 8):
        self.keep_idle = keep_idle
        self._idle: list[_Thread] = []
        self._lock = threading.Lock()

    def submit(self, call: _Call, name: str) -> None:
        with self._lock:
            thread = self._idle.pop() if self._idle else None
        if thread is None:
            thread = _Thread(self, name)
            thread.start()
        thread.calls.put((call, name))

    def release(self, thread: _Thread) -> bool:
        """Keep a thread whose call finished for the next one; False: too many are idle, it ends."""
        with self._lock:
            if len(self._idle) >= self.keep_idle:
                return False
            self._idle.append(thread)
            return True

    def forget(self) -> None:
        # A forked child has none of its parent's threads (gunicorn --preload forks after imports).
        self._lock = threading.Lock()
        self._idle = []


_THREADS = _Threads()
os.register_at_fork(after_in_child=_THREADS.forget)


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
