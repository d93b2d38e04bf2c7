"""store.deadline: a database call with a deadline the database cannot stretch, run cheaply.

The webhooks store every message through `call_within`; starting a thread for each call cost a
webhook about a third of its CPU, so threads are reused. These tests hold the contract: the answer
or the call's own error comes back, a hung call gives DeadlineExceeded in time and never delays the
next call, finished threads are reused, and a forked process (gunicorn --preload) still works.
"""
from __future__ import annotations

import os
import threading
import time

import pytest

from store.deadline import DeadlineExceeded, SingleFlight, call_within


def deadline_threads() -> int:
    return sum(1 for thread in threading.enumerate() if thread.name == "deadline")


def test_a_call_returns_its_answer_or_raises_its_own_error():
    assert call_within(5, lambda a, b=0: a + b, 2, b=3) == 5

    def fails():
        raise ValueError("bad row")

    with pytest.raises(ValueError, match="bad row"):
        call_within(5, fails)
    assert call_within(0, lambda: "no deadline") == "no deadline"


def test_finished_threads_take_the_next_calls_instead_of_new_ones():
    seen = threading.local()

    def calls_on_this_thread() -> int:
        seen.calls = getattr(seen, "calls", 0) + 1
        return seen.calls

    call_within(5, lambda: None)
    before = deadline_threads()
    counts = [call_within(5, calls_on_this_thread) for _ in range(200)]
    assert deadline_threads() == before
    # One after another, the same idle thread answers them all (a new thread would count from 1 again).
    assert counts == list(range(counts[0], counts[0] + 200))


def test_a_hung_call_misses_its_deadline_and_the_next_call_is_not_held_up():
    release = threading.Event()
    started = time.monotonic()
    with pytest.raises(DeadlineExceeded):
        call_within(0.2, release.wait, 30)
    assert time.monotonic() - started < 5
    try:
        # The hung call keeps its thread; the next one is answered by another at once.
        started = time.monotonic()
        assert call_within(5, lambda: "stored") == "stored"
        assert time.monotonic() - started < 2
    finally:
        release.set()


def test_single_flight_shares_one_waiting_call():
    release = threading.Event()
    calls = []

    def probe():
        calls.append(1)
        release.wait(30)
        return "ready"

    flight = SingleFlight(probe)
    for _ in range(3):
        with pytest.raises(DeadlineExceeded):
            flight(0.05)
    release.set()
    assert flight(5) == "ready"
    assert len(calls) == 1


def test_a_forked_process_starts_its_own_threads():
    call_within(5, lambda: None)  # the parent has an idle thread, which the child does not inherit
    pid = os.fork()
    if pid == 0:  # the child: exit 0 only if a call is answered in time
        try:
            os._exit(0 if call_within(5, lambda: 42) == 42 else 1)
        except BaseException:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_a_thread_is_named_for_the_call_it_runs_and_not_after():
    release = threading.Event()
    flight = SingleFlight(lambda: release.wait(30), name="health-probe")
    before = sum(t.name == "health-probe" for t in threading.enumerate())
    with pytest.raises(DeadlineExceeded):
        flight(0.05)
    # The stuck probe's thread is named for it (an operator's thread dump says what is waiting)...
    assert sum(t.name == "health-probe" for t in threading.enumerate()) == before + 1
    release.set()
    assert flight(5) is True
    # ...and goes back to waiting for any call under its own name (once the call's answer is handed over).
    deadline = time.monotonic() + 5
    while sum(t.name == "health-probe" for t in threading.enumerate()) != before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sum(t.name == "health-probe" for t in threading.enumerate()) == before
