"""A webhook endpoint that misbehaves on purpose (the chaos runs' receiver).

A real local HTTP server (``ThreadingHTTPServer`` on 127.0.0.1, HTTP/1.1 keep-alive)
that checks every request the way a careful receiver does -- the
``Dialcli-Signature`` HMAC over the raw body with the subscription's secret, a fresh
timestamp, the event id header equal to the body's id -- and then, per request,
draws a fault from a seeded ``random.Random``:

- ``drop``: read the request, then close the connection without a response;
- ``stall``: hold the request past the sender's timeout, then close without a response;
- ``500`` / ``429`` (with ``Retry-After: 1``): refuse it;
- otherwise ``200``: the event is *accepted* and recorded.

``down()`` closes the listening socket (connection refused) until ``up()`` reopens it
on the same port: the endpoint is gone for a stretch.

Only accepted events count as delivered: a stalled or dropped request may have been
half-processed, but the sender cannot know that, so it must send the event again.
``accepted`` keeps every acceptance in order (duplicates included) for the
at-least-once and per-lead order checks in ``chaos_invariants``.
"""

from __future__ import annotations

import json
import random
import socket
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from dialcli.results.webhooks import verify_signature

FAULTS = ("drop", "stall", "500", "429")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def handle_error(self, request, client_address) -> None:
        pass        # a sender killed mid-request resets the connection: expected here


class ChaosReceiver:
    def __init__(self, secret: str, *, seed: int = 0, faults: dict[str, float] | None = None,
                 stall_s: float = 10.5, max_stalls: int = 2, stall_at: tuple[int, ...] = (),
                 port: int = 0):
        self.secret = secret
        self.rng = random.Random(seed)
        self.faults = dict(faults or {})
        unknown = set(self.faults) - set(FAULTS)
        assert not unknown, f"unknown receiver faults {unknown}"
        self.stall_s = stall_s
        self.max_stalls = max_stalls
        self.stall_at = set(stall_at)             # request numbers that certainly stall
        self.lock = threading.Lock()
        self.accepted: list[dict[str, Any]] = []      # {"id", "lead", "payload", "raw"}
        self.injected: Counter[str] = Counter()
        self.requests = 0
        self.bad: list[str] = []                       # signature / header problems
        self.cut_off = 0                               # requests whose sender died mid-body
        self._port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.up()

    # -- control -------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}/hooks/dialcli"

    def up(self) -> None:
        if self._server is not None:
            return
        receiver = self

        class Handler(_Handler):
            owner = receiver

        server = None
        for _ in range(100):     # the old socket may linger for a moment after down()
            try:
                server = _Server(("127.0.0.1", self._port), Handler)
                break
            except OSError:
                time.sleep(0.05)
        assert server is not None, f"could not reopen port {self._port}"
        self._port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="chaos-receiver", daemon=True)
        self._thread.start()

    def down(self) -> None:
        """Close the listening socket: senders get 'connection refused' until ``up``."""
        server, self._server = self._server, None
        if server is None:
            return
        self.injected["down"] += 1
        server.shutdown()
        server.server_close()

    @property
    def is_up(self) -> bool:
        return self._server is not None

    def calm(self) -> None:
        """No more faults (the final drain must be able to finish)."""
        self.faults = {}
        self.up()

    def close(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()

    # -- records -----------------------------------------------------------------------------
    def accepted_ids(self) -> set[str]:
        with self.lock:
            return {a["id"] for a in self.accepted}

    def duplicates(self) -> int:
        with self.lock:
            return len(self.accepted) - len({a["id"] for a in self.accepted})

    def _draw(self) -> str | None:
        with self.lock:
            self.requests += 1
            if self.requests in self.stall_at and self.faults:
                self.injected["stall"] += 1
                return "stall"
            x = self.rng.random()
            acc = 0.0
            for name in FAULTS:
                acc += self.faults.get(name, 0.0)
                if x < acc:
                    if name == "stall" and self.injected["stall"] >= self.max_stalls:
                        return None
                    self.injected[name] += 1
                    return name
        return None


class _Handler(BaseHTTPRequestHandler):
    owner: ChaosReceiver
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        # Headers and body are written separately: without NODELAY every keep-alive
        # response would wait for the sender's delayed ACK (~40 ms).
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, *args: Any) -> None:   # quiet
        pass

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        rx = self.owner
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        if len(raw) < length:
            # The sender died mid-request (a SIGKILLed runner): nothing to answer. Its
            # signature cannot verify over half a body; the next runner sends it again.
            with rx.lock:
                rx.cut_off += 1
            return
        fault = rx._draw()
        if fault == "drop":
            self._hang_up()
            return
        if fault == "stall":
            time.sleep(rx.stall_s)
            self._hang_up()
            return
        if fault in ("500", "429"):
            self._reply(int(fault), b"chaos", {"Retry-After": "1"} if fault == "429" else {})
            return
        problem = self._check(raw)
        if problem:
            with rx.lock:
                rx.bad.append(problem)
            self._reply(400, problem.encode())
            return
        payload = json.loads(raw)
        with rx.lock:
            rx.accepted.append({"id": payload["id"], "lead": (payload.get("lead") or {}).get("id"),
                                "payload": payload, "raw": raw})
        self._reply(200, b"ok")

    def _check(self, raw: bytes) -> str | None:
        header = self.headers.get("Dialcli-Signature", "")
        if not verify_signature(self.owner.secret, header, raw, now_unix=time.time()):
            return f"bad signature {header[:40]!r}"
        try:
            payload = json.loads(raw)
        except ValueError:
            return "body is not JSON"
        if self.headers.get("Dialcli-Event-Id") != payload.get("id"):
            return "Dialcli-Event-Id does not match the body"
        if self.headers.get("Dialcli-Event-Type") != payload.get("type"):
            return "Dialcli-Event-Type does not match the body"
        return None

    def _reply(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _hang_up(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
