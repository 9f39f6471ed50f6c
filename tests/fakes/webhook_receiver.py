"""A real HTTP webhook receiver on 127.0.0.1 whose behaviour each test scripts."""

from __future__ import annotations

import http.server
import json
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable

from dialcli.results.webhooks import verify_signature


@dataclass
class Hit:
    mode: str
    event_id: str | None
    event_type: str | None
    signature: str | None
    body: bytes
    received_at: float = 0.0   # the receiver's clock (now_fn) when the request arrived
    answered: bool = False     # we sent a 2xx the client could read


@dataclass
class Receiver:
    """An HTTP endpoint on 127.0.0.1 that answers per a script of modes.

    Modes: ``ok`` (204), ``500``, ``410``, ``429:<value>`` (Retry-After: seconds or an
    HTTP date), ``302``,
    ``timeout:<s>`` (answer 200 only after s seconds -- past the client's timeout),
    ``close`` (drop the connection without answering). ``plan`` is consumed first;
    then ``mode_fn(hit_number)`` or ``default``.
    """

    secret: str | None = None
    now_fn: Callable[[], float] = time.time
    default: str = "ok"
    plan: deque = field(default_factory=deque)
    mode_fn: Callable[[int], str] | None = None
    hits: list[Hit] = field(default_factory=list)
    bad_signatures: int = 0
    port: int = 0
    _server: Any = None
    _thread: Any = None
    _lock: Any = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def _mode(self) -> str:
        with self._lock:
            if self.plan:
                return self.plan.popleft()
            if self.mode_fn is not None:
                return self.mode_fn(len(self.hits))
            return self.default

    def start(self) -> "Receiver":
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True   # else delayed ACKs add ~40 ms per request

            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                mode = receiver._mode()
                hit = Hit(mode, self.headers.get("Dialcli-Event-Id"),
                          self.headers.get("Dialcli-Event-Type"),
                          self.headers.get("Dialcli-Signature"), body,
                          received_at=receiver.now_fn())
                if receiver.secret is not None and not verify_signature(
                        receiver.secret, hit.signature or "", body, now_unix=hit.received_at):
                    receiver.bad_signatures += 1
                with receiver._lock:
                    receiver.hits.append(hit)
                try:
                    if mode == "close":
                        self.close_connection = True
                        self.connection.shutdown(socket.SHUT_RDWR)
                        return
                    if mode.startswith("timeout:"):
                        time.sleep(float(mode.split(":")[1]))
                        self._answer(200, b"late")
                        return
                    if mode == "ok":
                        hit.answered = True
                        try:
                            self._answer(204, b"")
                        except OSError:
                            hit.answered = False
                        return
                    if mode.startswith("429:"):
                        self._answer(429, b"slow down", {"Retry-After": mode.split(":", 1)[1]})
                        return
                    if mode == "302":
                        self._answer(302, b"", {"Location": "https://elsewhere.example/hooks"})
                        return
                    self._answer(int(mode), f"error {mode}".encode())
                except OSError:
                    pass

            def _answer(self, code, body, headers=None):
                self.send_response(code)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if body:
                    self.wfile.write(body)
                self.wfile.flush()

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True
            allow_reuse_address = True

            def __init__(self, *args, **kwargs):
                self.open_sockets = set()
                super().__init__(*args, **kwargs)

            def process_request(self, request, client_address):
                self.open_sockets.add(request)
                super().process_request(request, client_address)

            def shutdown_request(self, request):
                self.open_sockets.discard(request)
                super().shutdown_request(request)

            def handle_error(self, request, client_address):
                pass

        self._server = Server(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Go down: the port refuses connections until ``start`` again."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            # Keep-alive connections would otherwise go on being served.
            for sock in list(self._server.open_sockets):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self._thread.join(5)
            self._server = None

    # -- what arrived -----------------------------------------------------------------
    def accepted(self) -> list[dict]:
        """Payloads the receiver acknowledged with 2xx, in arrival order."""
        with self._lock:
            return [json.loads(h.body) for h in self.hits if h.answered]

    def accepted_ids(self) -> list[str]:
        return [p["id"] for p in self.accepted()]
