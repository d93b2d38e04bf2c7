"""Drive an HTTP endpoint with pre-built requests from an aiohttp client: as fast as possible, or at a fixed rate."""
from __future__ import annotations

import asyncio
import os
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
# The Python running the benchmark: its gunicorn and its interpreter serve the apps under test.
VENV_BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Request:
    path: str
    body: bytes
    headers: dict[str, str]
    # Requests with the same key are sent one after another, never at once (one resident's messages).
    key: int


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def summarise(latencies: list[float], statuses: dict[int, int], seconds: float) -> dict:
    ok = statuses.get(200, 0)
    return {
        "requests": sum(statuses.values()), "ok": ok, "errors": sum(statuses.values()) - ok,
        "per_second": round(ok / seconds, 1), "seconds": round(seconds, 2),
        "p50_ms": round(percentile(latencies, 50) * 1000, 2), "p99_ms": round(percentile(latencies, 99) * 1000, 2),
        "mean_ms": round(statistics.fmean(latencies) * 1000, 2) if latencies else float("nan"),
    }


async def _send(session: aiohttp.ClientSession, base: str, request: Request, statuses: dict[int, int]) -> None:
    try:
        async with session.post(base + request.path, data=request.body, headers=request.headers) as response:
            await response.read()
            statuses[response.status] = statuses.get(response.status, 0) + 1
    except aiohttp.ClientError:
        statuses[-1] = statuses.get(-1, 0) + 1


async def max_rate(base: str, requests: list[Request], concurrency: int, seconds: float) -> dict:
    """Keep `concurrency` requests in flight for `seconds`; each lane owns its keys, so a key is never doubled."""
    lanes: list[list[Request]] = [[] for _ in range(concurrency)]
    for request in requests:
        lanes[request.key % concurrency].append(request)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    deadline = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)

    async def lane(items: list[Request]) -> None:
        for request in items:
            if time.perf_counter() >= deadline:
                return
            started = time.perf_counter()
            await _send(session, base, request, statuses)
            latencies.append(time.perf_counter() - started)

    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.perf_counter()
        await asyncio.gather(*(lane(items) for items in lanes if items))
        elapsed = time.perf_counter() - started
    return summarise(latencies, statuses, elapsed)


async def fixed_rate(base: str, requests: list[Request], rate: float, seconds: float,
                     max_in_flight: int = 256) -> dict:
    """Start one request every 1/rate s; latency counts from the scheduled start (no coordinated omission)."""
    count = min(len(requests), int(rate * seconds))
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    connector = aiohttp.TCPConnector(limit=max_in_flight)
    async with aiohttp.ClientSession(connector=connector) as session:
        begin = time.perf_counter() + 0.05
        tasks = []

        async def one(request: Request, due: float) -> None:
            await _send(session, base, request, statuses)
            latencies.append(time.perf_counter() - due)

        for i in range(count):
            due = begin + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.ensure_future(one(requests[i], due)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - begin
    result = summarise(latencies, statuses, elapsed)
    result["offered_per_second"] = rate
    return result


@dataclass(frozen=True)
class Web:
    """How gunicorn serves every app of a benchmark (the baselines and the service alike).

    gthread (the repository's gunicorn.conf.py) keeps connections alive and frees a thread as soon as
    its response is written; `sync` holds its whole process after each response until the client
    closes the connection, so on a shared machine it measures how soon the load generator is scheduled.
    """

    workers: int = 4
    worker_class: str = "gthread"
    threads: int = 4

    def argv(self) -> list[str]:
        threads = ["--threads", str(self.threads)] if self.worker_class == "gthread" else []
        return ["-w", str(self.workers), "-k", self.worker_class, *threads]

    def describe(self) -> str:
        threads = f" --threads={self.threads}" if self.worker_class == "gthread" else ""
        return f"--workers={self.workers} --worker-class={self.worker_class}{threads}"


class Gunicorn:
    """A gunicorn serving `target` on a local port, in its own process group."""

    def __init__(self, target: str, port: int, env: dict[str, str], web: Web, log: Path):
        # -c names the repository's settings, overridden by the benchmark's own.
        self.argv = [str(VENV_BIN / "gunicorn"), "-c", str(ROOT / "gunicorn.conf.py"), *web.argv(),
                     "-b", f"127.0.0.1:{port}", "--backlog", "2048", "--log-level", "warning", target]
        self.env, self.log, self.port = env, log, port
        self.process: subprocess.Popen | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> "Gunicorn":
        out = open(self.log, "ab")  # noqa: SIM115 - closed below, the child keeps its copy
        self.process = subprocess.Popen(self.argv, cwd=ROOT, env=self.env, stdout=out, stderr=out,
                                        start_new_session=True)
        out.close()
        deadline = time.monotonic() + 60
        import urllib.request

        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.base + "/healthz", timeout=1) as response:
                    if response.status == 200:
                        return self
            except OSError:
                time.sleep(0.2)
        self.__exit__(None, None, None)
        raise TimeoutError(f"gunicorn {self.argv[-1]} did not start; see {self.log}")

    def __exit__(self, *exc) -> None:
        if self.process is not None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Workers:
    """`python app.py worker --loop ...` processes, each in its own process group."""

    def __init__(self, count: int, env: dict[str, str], log: Path, loops: tuple[str, ...] = ("inbound",)):
        self.argv = [str(VENV_BIN / "python"), "app.py", "worker", *(f"--loop={name}" for name in loops)]
        self.count, self.env, self.log = count, env, log
        self.processes: list[subprocess.Popen] = []

    def __enter__(self) -> "Workers":
        for _ in range(self.count):
            out = open(self.log, "ab")  # noqa: SIM115 - closed below, the child keeps its copy
            self.processes.append(subprocess.Popen(self.argv, cwd=ROOT, env=self.env, stdout=out, stderr=out,
                                                   start_new_session=True))
            out.close()
        return self

    def __exit__(self, *exc) -> None:
        for process in self.processes:
            os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
