"""A fake OpenAI-compatible chat-completions server for tests.

A real HTTP/1.1 server (``http.server`` in a thread) on 127.0.0.1 and a free port,
speaking the wire format of ``POST /v1/chat/completions`` -- streamed as
server-sent events (``data: {...}`` chunks, ``data: [DONE]``, chunked transfer
encoding) when the request says ``"stream": true``, one JSON completion otherwise --
plus ``GET /v1/models``. Each request takes the next scripted response from a queue,
so a test decides exactly what "the model" does, including failing.

Usage::

    from fakes.fake_llm import FakeLLM, reply, tool_call, http_error, garbage, drop

    with FakeLLM() as llm:                          # or the ``fake_llm`` fixture
        llm.enqueue(reply("Hi", " there."),          # text tokens, streamed one by one
                    tool_call("OPT_OUT", "asked to stop", text=["Sorry. "]),
                    http_error(500), reply("Late", first_delay=2.0))
        settings = llm.settings(key="sk-test")      # dialcli.config.LLMSettings for it
        ...
        req = llm.requests[0]                       # what the client sent
        req.json["messages"][0]["content"]          # the system prompt
        req.headers.get("authorization")            # 'Bearer sk-test' (or None)

Scripts (all builders take the timing/failure keywords of ``Script``):

* ``reply(*tokens)`` -- assistant text, one SSE chunk per token.
* ``tool_call(disposition, summary="", callback_at=None, *, text=(), parts=3,
  name="end_call", arguments=None)`` -- optional text, then a tool call whose JSON
  arguments are split over ``parts`` deltas (``arguments`` overrides them, e.g. with
  broken JSON).
* ``http_error(status=500, message=...)`` -- an OpenAI-style error body.
* ``garbage(body)`` -- a raw (malformed) body sent as ``text/event-stream``.
* ``drop(*tokens, after=0)`` -- send ``after`` tokens then cut the connection
  without finishing the chunked body (``after=0``: no response at all).
* Keywords: ``headers_delay`` (seconds before the status line: a slow server),
  ``first_delay`` (after the headers, before the first token), ``token_delay``
  (between tokens), ``finish_reason``, ``ignore_stream`` (answer a streaming request
  with one JSON completion, as some servers do).

``FakeLLM(default=None, require_key=None, model="fake-model")``: ``default`` is the
response once the queue is empty (none: HTTP 500 "no scripted response", so a test
that under-scripts fails loudly); ``require_key`` makes requests without
``Authorization: Bearer <key>`` get OpenAI's 401. Delays end early when the server
stops, so ``stop()`` never waits on a sleeping handler.
"""

from __future__ import annotations

import json
import socket
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from dialcli.config import LLMSettings, Secret


@dataclass
class Script:
    """One scripted response (see the module docstring)."""

    tokens: list[str] = field(default_factory=list)
    tool: dict[str, Any] | None = None      # {"name": ..., "arguments": str, "parts": int}
    status: int = 200
    error: str | None = None
    raw: str | None = None
    drop_after: int | None = None
    headers_delay: float = 0.0
    first_delay: float = 0.0
    token_delay: float = 0.0
    finish_reason: str | None = None
    ignore_stream: bool = False             # answer with one JSON body even if asked to stream


def reply(*tokens: str, **kw: Any) -> Script:
    return Script(tokens=list(tokens), **kw)


def tool_call(disposition: str, summary: str = "", callback_at: str | None = None, *,
              text: list[str] | tuple[str, ...] = (), parts: int = 3, name: str = "end_call",
              arguments: str | None = None, **kw: Any) -> Script:
    args: dict[str, Any] = {"disposition": disposition, "summary": summary}
    if callback_at is not None:
        args["callback_at"] = callback_at
    body = arguments if arguments is not None else json.dumps(args)
    return Script(tokens=list(text), tool={"name": name, "arguments": body, "parts": parts}, **kw)


def http_error(status: int = 500, message: str = "The server had an error.", **kw: Any) -> Script:
    return Script(status=status, error=message, **kw)


def garbage(body: str = "data: {this is not json\n\n", **kw: Any) -> Script:
    return Script(raw=body, **kw)


def drop(*tokens: str, after: int = 0, **kw: Any) -> Script:
    return Script(tokens=list(tokens), drop_after=after, **kw)


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]          # lower-cased names
    body: bytes
    json: Any


def _split(text: str, parts: int) -> list[str]:
    parts = max(1, min(parts, len(text) or 1))
    size = -(-len(text) // parts)
    return [text[i:i + size] for i in range(0, len(text), size)] or [""]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True     # headers and body go out at once (no 40 ms stall)
    server: "_Server"

    def log_message(self, format: str, *args: Any) -> None:   # keep test output clean
        pass

    # -- routing -------------------------------------------------------------------

    def do_GET(self) -> None:
        self._record(b"")
        if self.path.rstrip("/") in ("/v1/models", "/models"):
            self._json(200, {"object": "list", "data": [
                {"id": self.server.fake.model, "object": "model", "owned_by": "fake"}]})
        else:
            self._json(404, {"error": {"message": f"Unknown path {self.path}", "type": "not_found"}})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        req = self._record(body)
        fake = self.server.fake
        if self.path.rstrip("/") not in ("/v1/chat/completions", "/chat/completions"):
            self._json(404, {"error": {"message": f"Unknown path {self.path}", "type": "not_found"}})
            return
        if fake.require_key is not None and \
                req.headers.get("authorization") != f"Bearer {fake.require_key}":
            self._json(401, {"error": {"message": "Incorrect API key provided.",
                                       "type": "invalid_request_error", "code": "invalid_api_key"}})
            return
        script = fake._next()
        if not self._sleep(script.headers_delay):
            return
        if script.drop_after == 0:
            self._cut()
            return
        if script.status != 200:
            self._json(script.status, {"error": {"message": script.error or "error",
                                                 "type": "server_error", "code": None}})
            return
        stream = isinstance(req.json, dict) and bool(req.json.get("stream")) and not script.ignore_stream
        if stream:
            self._stream(script)
        else:
            self._complete(script)

    # -- responses -----------------------------------------------------------------

    def _record(self, body: bytes) -> RecordedRequest:
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = None
        req = RecordedRequest(self.command, self.path,
                              {k.lower(): v for k, v in self.headers.items()}, body, parsed)
        self.server.fake._add_request(req)
        return req

    def _json(self, status: int, obj: Any) -> None:
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _sleep(self, seconds: float) -> bool:
        """Wait, unless the server is stopping (then abandon the request)."""
        return not (seconds > 0 and self.server.fake._stopping.wait(seconds))

    def _cut(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _event(self, obj: Any) -> None:
        self._chunk(b"data: " + json.dumps(obj).encode() + b"\n\n")

    def _stream(self, s: Script) -> None:
        model = self.server.fake.model
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()
        if not self._sleep(s.first_delay):
            return
        if s.raw is not None:
            self._chunk(s.raw.encode())
            self._chunk(b"")
            return

        def delta(d: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            return {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0,
                    "model": model, "choices": [{"index": 0, "delta": d, "finish_reason": finish}]}

        events: list[dict[str, Any]] = [delta({"role": "assistant", "content": ""})]
        events += [delta({"content": t}) for t in s.tokens]
        if s.tool:
            pieces = _split(s.tool["arguments"], s.tool["parts"])
            events.append(delta({"tool_calls": [{"index": 0, "id": "call_fake_1", "type": "function",
                                                 "function": {"name": s.tool["name"],
                                                              "arguments": pieces[0]}}]}))
            events += [delta({"tool_calls": [{"index": 0, "function": {"arguments": p}}]})
                       for p in pieces[1:]]
        finish = s.finish_reason or ("tool_calls" if s.tool else "stop")
        events.append(delta({}, finish))
        sent_tokens = 0
        for i, ev in enumerate(events):
            if i > 1 and not self._sleep(s.token_delay):
                return
            if s.drop_after is not None and sent_tokens >= s.drop_after and i > 0:
                self._cut()           # mid-body: the chunked stream never finishes
                return
            try:
                self._event(ev)
            except (BrokenPipeError, ConnectionResetError):
                # The client closed the stream mid-reply (a barge-in): stop generating.
                self.server.fake._aborted()
                return
            if i > 0:
                sent_tokens += 1
        self._chunk(b"data: [DONE]\n\n")
        self._chunk(b"")

    def _complete(self, s: Script) -> None:
        if s.raw is not None:
            data = s.raw.encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        if not self._sleep(s.first_delay):
            return
        message: dict[str, Any] = {"role": "assistant", "content": "".join(s.tokens) or None}
        if s.tool:
            message["tool_calls"] = [{"id": "call_fake_1", "type": "function", "function": {
                "name": s.tool["name"], "arguments": s.tool["arguments"]}}]
        self._json(200, {
            "id": "chatcmpl-fake", "object": "chat.completion", "created": 0,
            "model": self.server.fake.model,
            "choices": [{"index": 0, "message": message,
                         "finish_reason": s.finish_reason or ("tool_calls" if s.tool else "stop")}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        })


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    fake: "FakeLLM"

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass   # a client that gave up mid-stream is part of the tests, not an error


class FakeLLM:
    """The server; see the module docstring."""

    def __init__(self, *, default: Script | None = None, require_key: str | None = None,
                 model: str = "fake-model"):
        self.default = default
        self.require_key = require_key
        self.model = model
        self.requests: list[RecordedRequest] = []
        #: streams the client closed before they finished (seen at the next write)
        self.aborted = 0
        self._queue: deque[Script] = deque()
        self._lock = threading.Condition()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------

    def start(self) -> "FakeLLM":
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True,
                                        name="fake-llm")
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread:
            self._thread.join(timeout=5)
        self._server = None

    def __enter__(self) -> "FakeLLM":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- scripting and inspection ----------------------------------------------------

    @property
    def port(self) -> int:
        assert self._server is not None, "FakeLLM is not started"
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def settings(self, key: str | None = None, model: str | None = None) -> LLMSettings:
        return LLMSettings(self.base_url, model or self.model, Secret(key) if key else None)

    def _aborted(self) -> None:
        with self._lock:
            self.aborted += 1

    def enqueue(self, *scripts: Script) -> None:
        with self._lock:
            self._queue.extend(scripts)

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._queue)

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.rstrip("/").endswith("/chat/completions")]

    def _add_request(self, req: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(req)
            self._lock.notify_all()

    def _next(self) -> Script:
        with self._lock:
            if self._queue:
                return self._queue.popleft()
        return self.default or http_error(500, "fake LLM: no scripted response left")


@pytest.fixture
def fake_llm():
    """A started ``FakeLLM``; import this fixture into a test module to use it."""
    with FakeLLM() as server:
        yield server
