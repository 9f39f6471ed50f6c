"""A flaky network between dialcli and the fake Twilio REST API (chaos runs).

An HTTP/1.1 proxy on 127.0.0.1 (asyncio, its own thread) that forwards each request
to the fake Twilio and, per request, draws a fault from a seeded ``random.Random``:

- ``reset``: the connection dies before the request reaches Twilio (nothing happened,
  but the client cannot tell);
- ``lost-response``: Twilio processes the request -- a call is created -- and the
  connection dies before the response arrives (the ambiguous case);
- ``stall``: Twilio processes it and the response never comes; the client times out.

``down()`` closes the listening socket (connection refused: "no internet") until
``up()``. Faults apply to the call REST endpoints (create, fetch, list, update); the
rate of each is per request kind, so creates can be made the flakiest.
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections import Counter
from typing import Any

import httpx

FAULTS = ("reset", "lost-response", "stall")


class ChaosProxy:
    def __init__(self, upstream: str, *, seed: int = 0,
                 faults: dict[str, dict[str, float]] | None = None, stall_s: float = 3.0):
        self.upstream = upstream.rstrip("/")
        self.rng = random.Random(seed)
        self.faults = faults or {}            # kind ("create", "fetch", "list", "update") -> {fault: p}
        self.stall_s = stall_s
        self.injected: Counter[str] = Counter()
        self.requests: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.loop = asyncio.new_event_loop()
        self._server: asyncio.base_events.Server | None = None
        self._client: httpx.AsyncClient | None = None
        self._tasks: set[asyncio.Task] = set()
        self.port = 0
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ready,), name="chaos-proxy",
                                        daemon=True)
        self._thread.start()
        ready.wait(5)
        self.up()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- control ------------------------------------------------------------------------------
    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(ready.set)
        self.loop.run_forever()

    def _call(self, coro: Any, timeout: float = 10.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def up(self) -> None:
        async def start() -> None:
            if self._server is not None:
                return
            if self._client is None:
                self._client = httpx.AsyncClient(timeout=30.0, trust_env=False)
            for _ in range(100):
                try:
                    self._server = await asyncio.start_server(self._handle, "127.0.0.1",
                                                              self.port, reuse_address=True)
                    break
                except OSError:
                    await asyncio.sleep(0.05)
            assert self._server is not None, "could not reopen the proxy port"
            self.port = self._server.sockets[0].getsockname()[1]
        self._call(start())

    def down(self) -> None:
        async def stop() -> None:
            server, self._server = self._server, None
            if server is not None:
                server.close()
                await server.wait_closed()
        self.injected["down"] += 1
        self._call(stop())

    def calm(self) -> None:
        self.faults = {}
        self.up()

    def close(self) -> None:
        async def stop() -> None:
            if self._server is not None:
                self._server.close()
            for task in list(self._tasks):      # connections still open (keep-alive)
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            if self._client is not None:
                await self._client.aclose()
        try:
            self._call(stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(5)

    # -- proxying -----------------------------------------------------------------------------
    @staticmethod
    def kind(method: str, path: str) -> str:
        if path.endswith("/Calls.json"):
            return "create" if method == "POST" else "list"
        if "/Calls/" in path:
            return "update" if method == "POST" else "fetch"
        return "other"

    def _draw(self, kind: str) -> str | None:
        with self.lock:
            self.requests[kind] += 1
            x = self.rng.random()
            acc = 0.0
            for name in FAULTS:
                acc += self.faults.get(kind, {}).get(name, 0.0)
                if x < acc:
                    self.injected[f"{kind} {name}"] += 1
                    return name
        return None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        k, v = line.split(":", 1)
                        headers[k.strip().lower()] = v.strip()
                body = await reader.readexactly(int(headers.get("content-length") or 0))
                fault = self._draw(self.kind(method, target.split("?")[0]))
                if fault == "reset":
                    writer.transport.abort()
                    return
                forward = {k: v for k, v in headers.items()
                           if k in ("authorization", "content-type", "accept", "user-agent")}
                assert self._client is not None
                response = await self._client.request(method, self.upstream + target,
                                                      headers=forward, content=body)
                if fault == "lost-response":
                    writer.transport.abort()
                    return
                if fault == "stall":
                    await asyncio.sleep(self.stall_s)
                    writer.transport.abort()
                    return
                out = (f"HTTP/1.1 {response.status_code} {response.reason_phrase}\r\n"
                       f"Content-Type: {response.headers.get('content-type', 'application/json')}\r\n"
                       f"Content-Length: {len(response.content)}\r\n\r\n").encode("latin-1")
                writer.write(out + response.content)
                await writer.drain()
        except (ConnectionError, httpx.HTTPError):
            writer.transport.abort()
        except asyncio.CancelledError:
            writer.transport.abort()
        finally:
            self._tasks.discard(task)
            try:
                writer.close()
            except Exception:
                pass
