"""The service as real processes for the crash tests: gunicorn serving the web app, `python app.py worker`."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx

from bot.sandbox.twilio_server import SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path("/work/venv/bin") if Path("/work/venv/bin/gunicorn").exists() else Path(os.sys.executable).parent
FROM_NUMBER = "+447700900000"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def service_env(database_url: str, twilio_url: str, public_url: str, **extra: str) -> dict[str, str]:
    """Return the environment of a scaled deployment pointed at a database and a fake Twilio."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OUTREACH_")}
    env.update({
        "OUTREACH_DATABASE_URL": database_url,
        "OUTREACH_MODE": "scaled",
        "OUTREACH_SANDBOX": "false",
        "OUTREACH_FLOWS_RELOAD": "false",
        "OUTREACH_FLOWS_DIR": str(ROOT / "flows" / "library"),
        "OUTREACH_PUBLIC_URL": public_url,
        "OUTREACH_SECRET_KEY": "fault-test-only-key-" + "f" * 32,
        "OUTREACH_TWILIO_ACCOUNT_SID": SANDBOX_ACCOUNT_SID,
        "OUTREACH_TWILIO_AUTH_TOKEN": SANDBOX_AUTH_TOKEN,
        "OUTREACH_TWILIO_FROM": FROM_NUMBER,
        "OUTREACH_TWILIO_API_URL": twilio_url,
        "OUTREACH_SMS_RATE": "0",
        "OUTREACH_LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
        **extra,
    })
    return env


class ServiceProcess:
    """One process (and its children) that can be started, killed with SIGKILL and started again."""

    def __init__(self, argv: list[str], env: dict[str, str], log_path: Path):
        self.argv, self.env, self.log_path = argv, env, log_path
        self.process: subprocess.Popen | None = None
        self.kills = 0

    def start(self) -> "ServiceProcess":
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child, closed with it
        self.process = subprocess.Popen(self.argv, cwd=ROOT, env=self.env, stdout=log, stderr=log,
                                        start_new_session=True)
        log.close()
        return self

    def kill(self) -> None:
        """SIGKILL the whole process group: no clean shutdown, no atexit, no flushing."""
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(10)
        self.kills += 1

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.kill()


def gunicorn(env: dict[str, str], port: int, log_path: Path, workers: int = 2) -> ServiceProcess:
    # As README's scaled form runs it: the repository's gunicorn.conf.py (threads).
    return ServiceProcess([str(VENV_BIN / "gunicorn"), "-c", str(ROOT / "gunicorn.conf.py"), "-w", str(workers),
                           "-b", f"127.0.0.1:{port}", "--graceful-timeout", "1", "app:create_app()"], env, log_path)


def worker(env: dict[str, str], log_path: Path, loops: tuple[str, ...] = ()) -> ServiceProcess:
    return ServiceProcess([str(VENV_BIN / "python"), "app.py", "worker", *(f"--loop={name}" for name in loops)],
                          env, log_path)


def wait_until_healthy(base_url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(base_url + "/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{base_url} did not become healthy")
