"""One ConversationRelay WebSocket session: Twilio's text protocol <-> a ``BrainSession``.

Twilio does speech-to-text and text-to-speech; this side only exchanges JSON text
messages (research/twilio.md section 2):

  in:  setup, prompt {voicePrompt, last}, dtmf {digit}, interrupt {utteranceUntilInterrupt}, error
  out: text {token, last}, end {handoffData}

The greeting is spoken by Twilio itself (``welcomeGreeting`` in the TwiML); the session
only records it. For each caller prompt the brain's ``respond`` runs in a worker thread
(sessions are synchronous and an LLM call blocks for seconds) and its chunks are
forwarded as ``text`` tokens the moment they exist, then ``last: true`` closes the
talk cycle. A reader task keeps reading while a reply streams, so an ``interrupt``
stops the remaining tokens at once; the reply is still drained from the brain (so
its transcript is whole) and then ``on_interrupt`` trims the agent line to what the
caller actually heard. DTMF goes to ``on_dtmf`` (9 = opt-out). When a chunk carries
``end`` the goodbye is spoken, ``end`` is sent with the disposition as handoff data,
and the conversation is reported. If the caller hangs up first, ``finish`` gives the
label, if any.

A brain that declares ``blocking = False`` (CPU-only, like the rule brain) runs on the
event loop instead, saving two thread hops per turn.

Frames that are not JSON objects (binary frames, invalid JSON, arrays) are ignored
and counted, never fatal; a turn's caller text is capped at ``MAX_PROMPT``, so a
flood of ``last: false`` prompts cannot grow without bound.

A brain that raises or stalls past ``turn_timeout_s`` does not leave the caller in
silence: they hear an apology and the call ends unlabeled (the post-call classifier
decides). Per-turn server overhead (time not spent inside the brain) is recorded in
``CallServer.turn_latency`` for the live benchmark.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import TYPE_CHECKING, Any, Callable, Iterator

from starlette.websockets import WebSocket, WebSocketDisconnect

from dialcli.conversation.base import Chunk, EndCall, Utterance

if TYPE_CHECKING:
    from dialcli.providers.twilio.server import CallServer, LiveCall

log = logging.getLogger("dialcli.providers.twilio.relay")
_mono = time.monotonic

FALLBACK_LINE = ("I'm sorry, I'm having trouble on my end. We'll try you again another time. "
                 "Goodbye.")
SETUP_TIMEOUT_S = 15.0
CLOSE_WAIT_S = 5.0
#: A caller's words in one turn (a minute of speech is ~1 KB); more is not speech.
MAX_PROMPT = 64 * 1024
_LOG_IGNORED = 3          # log the first few ignored frames of a session, then count


class RelaySession:
    def __init__(self, server: "CallServer", call: "LiveCall", ws: WebSocket):
        self.server, self.call, self.ws = server, call, ws
        self.loop = asyncio.get_running_loop()
        self.inbox: asyncio.Queue = asyncio.Queue()
        self.session: Any = None
        self.interrupted = False
        self.ended = False
        self.end: EndCall | None = None
        self.error: str | None = None
        self.partial = ""
        self.t0 = _mono()
        self.session_id = ""
        self.ignored = 0

    def at_s(self) -> float:
        return _mono() - self.t0

    async def run(self) -> None:
        try:
            if not await self._setup():
                return
            reader = asyncio.create_task(self._read())
            try:
                while not self.ended:
                    item = await self.inbox.get()
                    if item is None:
                        break
                    await self._handle(*item)
            finally:
                if self.ended:
                    # Twilio closes the socket after ``end``; give it a moment.
                    try:
                        await asyncio.wait_for(asyncio.shield(reader), CLOSE_WAIT_S)
                    except (asyncio.TimeoutError, Exception):
                        pass
                reader.cancel()
            if not self.ended and self.session is not None:
                self.end = await self._in_thread(self.session.finish, self.at_s())
        except WebSocketDisconnect:
            pass
        except Exception:
            log.exception("relay session for call %s failed", self.call.call_id)
            self.error = self.error or "relay session error"
        finally:
            if self.session is not None:
                self._report()
            try:
                await self.ws.close(1000)
            except Exception:
                pass

    async def _next(self) -> dict | None:
        """The next frame as a JSON object; None for a frame that is not one.

        Twilio sends only JSON objects in text frames; anything else (a binary frame,
        invalid JSON, an array) is ignored rather than allowed to end the session
        with a traceback. Raises ``WebSocketDisconnect`` when the socket closes.
        """
        message = await self.ws.receive()
        if message["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(message.get("code", 1000), message.get("reason"))
        text = message.get("text")
        what = "a binary frame"
        if text is not None:
            try:
                msg = json.loads(text)
            except ValueError:
                what = "an unparseable message"
            else:
                if isinstance(msg, dict):
                    if log.isEnabledFor(logging.DEBUG):     # -vv: every frame
                        log.debug("relay call %s <- %s", self.call.call_id, text)
                    return msg
                what = "a message that is not a JSON object"
        self.ignored += 1
        if self.ignored <= _LOG_IGNORED:
            log.warning("relay for call %s: ignored %s", self.call.call_id, what)
        return None

    async def _setup(self) -> bool:
        try:
            msg = await asyncio.wait_for(self._next(), SETUP_TIMEOUT_S)
        except (asyncio.TimeoutError, WebSocketDisconnect, RuntimeError):
            msg = None
        if msg is None:
            log.warning("relay for call %s: no setup message", self.call.call_id)
            return False
        backend = self.server.backend
        if (msg.get("type") != "setup" or backend is None
                or msg.get("accountSid") != backend.account_sid
                or msg.get("callSid") != self.call.sid):
            self.server.stats["rejected"] += 1
            log.warning("relay for call %s: setup does not match the call (account/call sid)",
                        self.call.call_id)
            await self.ws.close(1008)
            return False
        self.session_id = str(msg.get("sessionId", ""))[:64]
        ctx = self.call.ctx
        assert ctx is not None and self.server.brain is not None
        brain = self.server.brain

        def open_session() -> Any:
            session = brain.open(ctx)
            session.opening()
            return session

        self.session = await self._in_thread(open_session)
        self.t0 = _mono()
        return True

    async def _read(self) -> None:
        try:
            while True:
                msg = await self._next()
                if msg is None:
                    continue
                if msg.get("type") == "interrupt":
                    self.interrupted = True
                self.inbox.put_nowait((_mono(), msg))
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            self.inbox.put_nowait(None)

    async def _handle(self, t_recv: float, msg: dict) -> None:
        kind = msg.get("type")
        session = self.session
        if kind == "prompt":
            if len(self.partial) < MAX_PROMPT:
                self.partial = (self.partial + str(msg.get("voicePrompt", "")))[:MAX_PROMPT]
            if msg.get("last", True) is False:
                return
            text, self.partial = self.partial.strip(), ""
            if text:
                at = self.at_s()
                await self._reply(lambda: session.respond(text, at), t_recv)
        elif kind == "dtmf":
            digit, at = str(msg.get("digit", ""))[:8], self.at_s()
            if digit:
                await self._reply(lambda: session.on_dtmf(digit, at), t_recv)
        elif kind == "interrupt":
            session.on_interrupt(str(msg.get("utteranceUntilInterrupt", ""))[:MAX_PROMPT])
        elif kind == "error":
            log.warning("ConversationRelay error on call %s: %s", self.call.call_id,
                        str(msg.get("description"))[:300])

    async def _reply(self, make: Callable[[], Iterator[Chunk]], t_recv: float) -> None:
        """Stream one reply; returns when the brain is done with this turn."""
        self.interrupted = False
        queue: asyncio.Queue = asyncio.Queue()
        # A brain that never blocks (``blocking = False``, e.g. rules) answers on the
        # loop itself: two thread hops cost more than its whole turn.
        inline = not self.server.brain.blocking
        put = (lambda fn, *args: fn(*args)) if inline else self.loop.call_soon_threadsafe

        def work() -> None:
            started = _mono()
            try:
                for chunk in make():
                    put(queue.put_nowait, ("chunk", chunk, started, _mono()))
                put(queue.put_nowait, ("done", None, started, _mono()))
            except BaseException as exc:  # noqa: BLE001 - reported to the async side
                put(queue.put_nowait, ("error", exc, started, _mono()))

        if inline:
            work()
        else:
            self.loop.run_in_executor(self.server.brain_pool, work)
        end: EndCall | None = None
        first_overhead: float | None = None
        brain_first = 0.0
        while True:
            try:
                async with asyncio.timeout(self.server.turn_timeout_s):
                    kind, value, started, produced = await queue.get()
            except TimeoutError:
                await self._fail("the agent did not answer in time")
                return
            if kind == "error":
                log.warning("brain failed on call %s: %s", self.call.call_id,
                            type(value).__name__)
                await self._fail(f"agent error: {type(value).__name__}")
                return
            if kind == "done":
                break
            chunk: Chunk = value
            if chunk.text and not self.interrupted:
                await self._send({"type": "text", "token": chunk.text, "last": False})
            if first_overhead is None:
                brain_first = produced - started
                first_overhead = (_mono() - t_recv) - brain_first
            if chunk.end is not None:
                end = chunk.end
        if not self.interrupted:
            await self._send({"type": "text", "token": "", "last": True})
        whole = (_mono() - t_recv) - (produced - started)
        if first_overhead is None:
            first_overhead = whole
        self.server.turn_latency.append((max(0.0, first_overhead), max(0.0, whole)))
        if end is not None:
            await self._finish_with(end)

    async def _finish_with(self, end: EndCall) -> None:
        await self._send({"type": "end", "handoffData": encode_handoff({
            "reasonCode": "end-of-conversation", "disposition": end.disposition.value,
            "summary": end.summary, "callbackAt": end.callback_at,
            "callbackText": end.callback_text})})
        self.ended, self.end = True, end
        self._report()

    async def _fail(self, reason: str) -> None:
        self.error = reason
        self.session.transcript.append(Utterance("agent", FALLBACK_LINE, self.at_s()))
        await self._send({"type": "text", "token": FALLBACK_LINE, "last": True})
        await self._send({"type": "end", "handoffData": encode_handoff(
            {"reasonCode": "agent-error", "reason": reason})})
        self.ended = True
        self._report()

    async def _send(self, msg: dict) -> None:
        try:
            text = json.dumps(msg, ensure_ascii=False)
            if log.isEnabledFor(logging.DEBUG):
                log.debug("relay call %s -> %s", self.call.call_id, text)
            await self.ws.send_text(text)
        except Exception:
            # The caller hung up mid-reply; the reader will see the close.
            pass

    def _report(self) -> None:
        detail: dict[str, Any] = {"session_id": self.session_id}
        if self.error:
            detail["error"] = self.error
        if self.ignored:
            detail["ignored_frames"] = self.ignored
        self.server.emit_conversation(self.call, self.session, self.end, detail)

    async def _in_thread(self, fn: Callable, *args: Any) -> Any:
        return await self.loop.run_in_executor(self.server.brain_pool, fn, *args)


def encode_handoff(data: dict[str, Any]) -> str:
    """The ``handoffData`` of an ``end`` message: compact JSON without empty fields."""
    return json.dumps({k: v for k, v in data.items() if v not in (None, "")}, separators=(",", ":"))
