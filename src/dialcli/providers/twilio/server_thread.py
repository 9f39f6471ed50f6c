"""Run an ASGI app (the callback server, test fakes) with uvicorn on a background thread.

The socket is bound by the caller's thread before uvicorn starts, so a busy port is a
clear ``InputError`` here rather than a ``sys.exit`` inside uvicorn's thread, and
``port=0`` gives a free port (tests, benchmarks). The server has its own event loop
(``loop``), which other threads use through ``asyncio.run_coroutine_threadsafe``.

The loop is uvloop's when uvloop is installed (it is a dependency on the platforms it
supports; uvicorn's own "standard" choice), else asyncio's: the callback server's loop
does a socket send, a wake-up from another thread or a timer for every relay frame, and
uvloop does each in C (live_bench: ~15% less CPU on the loop's thread, ~12% less per
call, loads 6-12). Nothing here depends on which loop it is.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from typing import Any

import uvicorn

from dialcli.errors import InputError

try:                        # optional: a faster event loop where it is installed
    import uvloop as _uvloop
except ImportError:         # pragma: no cover - the platforms uvloop has no wheel for
    _uvloop = None


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop's event loop if it is installed, else asyncio's."""
    return _uvloop.new_event_loop() if _uvloop is not None else asyncio.new_event_loop()


class ServerThread:
    """One uvicorn server on its own thread and event loop."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0, name: str = "server"):
        self.app, self.host, self.name = app, host, name
        # proto=IPPROTO_TCP matters: asyncio only turns Nagle off (TCP_NODELAY) on
        # accepted sockets whose proto says TCP, and with Nagle on, a response written
        # as headers + body waits ~40 ms for the peer's delayed ACK.
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.sock.bind((host, port))
        except OSError as exc:
            self.sock.close()
            raise InputError(
                f"Cannot listen on {host}:{port}: {exc.strerror or exc}.",
                hint="Another program (maybe another dialcli) uses that port; pick another "
                     "with --port and point your tunnel at it.",
            ) from None
        self.port = self.sock.getsockname()[1]
        self.loop: asyncio.AbstractEventLoop | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self, timeout: float = 10.0) -> "ServerThread":
        # -vv (dialcli's logger at debug): each request answered goes to dialcli's log
        # handlers; uvicorn then leaves logging's configuration alone (log_config=None).
        verbose = logging.getLogger("dialcli").isEnabledFor(logging.DEBUG)
        extra: dict[str, Any] = {"log_config": None} if verbose else {}
        # No permessage-deflate: relay messages are a few dozen bytes of JSON, and
        # compressing each one cost more of the event loop than anything else per frame.
        config = uvicorn.Config(self.app, log_level="info" if verbose else "warning",
                                access_log=verbose, **extra, lifespan="off", timeout_graceful_shutdown=2,
                                ws_max_size=1 << 20, ws_per_message_deflate=False, backlog=2048)
        self._server = uvicorn.Server(config)
        self.loop = new_event_loop()
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            self.loop.call_soon(ready.set)
            try:
                self.loop.run_until_complete(self._server.serve(sockets=[self.sock]))
            finally:
                self.loop.close()

        self._thread = threading.Thread(target=run, name=f"dialcli-{self.name}", daemon=True)
        self._thread.start()
        ready.wait(timeout)
        deadline = time.monotonic() + timeout
        while not self._server.started and self._thread.is_alive() and time.monotonic() < deadline:
            threading.Event().wait(0.005)
        if not self._server.started:
            raise InputError(f"The {self.name} on {self.host}:{self.port} did not start.")
        return self

    def stop(self, timeout: float = 5.0) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
        try:
            self.sock.close()
        except OSError:
            pass

    @property
    def local_url(self) -> str:
        return f"http://{self.host}:{self.port}"
