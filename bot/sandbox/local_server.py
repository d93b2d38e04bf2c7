"""An HTTP server on the loopback address, served from a background thread (the fake providers' base)."""
from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class LocalHandler(BaseHTTPRequestHandler):
    """A fake provider's request handler: keep-alive, replies without delay, nothing logged."""

    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: without this, Nagle's algorithm and delayed ACKs
    # add 40 ms to every reply on a kept-alive connection.
    disable_nagle_algorithm = True

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        # Quiet: Telegram's URLs hold the bot token, and tests want clean output.
        pass


class LocalServer(ThreadingHTTPServer):
    """Serve a fake provider (`self.fake`) on 127.0.0.1; port 0 picks a free port."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128
    handler: type[BaseHTTPRequestHandler]
    thread_name = "fake-provider"

    def __init__(self, fake: Any, host: str = "127.0.0.1", port: int = 0):
        self.fake = fake
        super().__init__((host, port), self.handler)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Return the base URL the real SDK is pointed at."""
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def running(self) -> bool:
        """True from start() until stop()."""
        return self._thread is not None and self._thread.is_alive()

    def start(self):
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=self.thread_name, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
