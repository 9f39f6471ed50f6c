"""One ConversationRelay WebSocket session: Twilio's text protocol <-> a ``BrainSession``.

Twilio does speech-to-text and text-to-speech; this side only exchanges JSON text
messages (research/twilio.md section 2):

  in:  setup, prompt {voicePrompt, lang, last}, dtmf {digit},
       interrupt {utteranceUntilInterrupt, durationUntilInterruptMs}, error {description}
  out: text {token, last}, end {handoffData: a string}

Any other message type (``info``, types Twilio adds later) and any field not named
here are ignored; a field that is missing or null reads as empty.

The greeting is sent from this side, not as Twilio's ``welcomeGreeting`` (which is
spoken before any answering-machine verdict): ``conversation.greeting.GreetingGate``
decides when -- AMD says human, the callee's first words read as a person, or a short
silence -- and keeps the agent silent for a machine. AMD verdicts reach the session
from the callback server (``verdict``); the gate's timers run in the session's loop.
Partial prompts (``partialPrompts``) only tell the gate that someone is speaking; the
brain gets each utterance once, when its final prompt arrives.

For each caller prompt the session's reply is forwarded as ``text`` tokens the
moment they exist, then ``last: true`` closes the talk cycle. Where the reply runs:
a session that offers ``arespond`` (the LLM session) is iterated by a task on this
event loop -- the model's stream is read here, no thread per turn, no hop per token;
a blocking sync session's ``respond`` runs in a brain-pool thread (its chunks come
back with ``call_soon_threadsafe``); a non-blocking brain's (rules) runs inline. A
reader task keeps reading while a reply streams. An ``interrupt`` (or an action key
such as 9) stops the remaining tokens at once and cancels the reply in the brain
(``BrainSession.cancel``, and the async reply's task is cancelled: the LLM's HTTP
stream is closed), so the next prompt is
answered at the brain's own speed; ``on_interrupt`` then trims the agent line to what
the caller actually heard. Nothing more of an interrupted reply is sent -- no
closing ``last: true`` either: Twilio has already dropped that talk cycle, and the
next reply starts a new one. A reply that sent no text sends nothing at all (a
keypress that means nothing). When a chunk carries ``end`` the
goodbye is spoken, ``end`` is sent with the disposition as handoff data, and the
conversation is reported. If the caller hangs up first, ``finish`` gives the label.


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
import re
import time
from typing import TYPE_CHECKING, Any, AsyncIterator, Callable, Iterator

from starlette.websockets import WebSocket, WebSocketDisconnect

from dialcli.conversation.base import Chunk, EndCall, Utterance
from dialcli.conversation.greeting import GREET, RESUME, STOP, VOICEMAIL, GreetingGate
from dialcli.conversation.lines import say
from dialcli.models import Disposition

if TYPE_CHECKING:
    from dialcli.providers.twilio.server import CallServer, LiveCall

log = logging.getLogger("dialcli.providers.twilio.relay")
_mono = time.monotonic

FALLBACK_LINE = ("I'm sorry, I'm having trouble on my end. We'll try you again another time. "
                 "Goodbye.")
SETUP_TIMEOUT_S = 15.0
CLOSE_WAIT_S = 5.0
#: A gate timer that fires waits this long for frames already on the socket (one poll).
SETTLE_S = 0.005
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
        self.replying = False
        self.silenced = False          # a machine: the agent says nothing more
        self.ended = False
        self.end: EndCall | None = None
        self.error: str | None = None
        self.partial = ""
        self.t0 = _mono()
        self.session_id = ""
        self.ignored = 0
        self.answered = 0              # caller turns the brain answered
        #: what the next reply answers: "barge" (a prompt after an interrupt) or "dtmf"
        #: (an action key mid-reply) -- its latency is also kept apart for live_bench
        self.pending_tag: str | None = None
        #: the task running an async session's reply (cancelled on barge-in)
        self.reply_task: asyncio.Task | None = None
        self.gate = GreetingGate(silence_s=server.greet_silence_s,
                                 machine_quiet_s=server.machine_quiet_s)

    def at_s(self) -> float:
        return _mono() - self.t0

    async def run(self) -> None:
        try:
            if not await self._setup():
                return
            reader = asyncio.create_task(self._read())
            try:
                while not self.ended:
                    deadline = self.gate.next_deadline()
                    try:
                        if deadline is None:
                            item = await self.inbox.get()
                        else:
                            item = await asyncio.wait_for(
                                self.inbox.get(), max(0.0, deadline - self.at_s()))
                    except (asyncio.TimeoutError, TimeoutError):
                        # After a stall (the loop busy, the box loaded) the timer is due
                        # before the reader has read what came meanwhile: a machine's
                        # first words must count before the silence does.
                        await asyncio.sleep(SETTLE_S)
                        if self.inbox.empty():
                            await self._act(self.gate.due(self.at_s()), _mono())
                            continue
                        item = self.inbox.get_nowait()
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
            with self.server.lock:
                if self.call.relay_session is self:
                    self.call.relay_session = None
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
        self.session_id = text_field(msg, "sessionId")[:64]
        ctx = self.call.ctx
        assert ctx is not None and self.server.brain is not None
        brain = self.server.brain

        def open_session() -> Any:
            session = brain.open(ctx)
            # Each line as it is said, for the live dashboard.
            session.transcript.listener = lambda u: self.server.emit_line(self.call, u)
            return session

        if brain.blocking:
            self.session = await self._in_thread(open_session)
        else:
            self.session = open_session()
        self.t0 = _mono()
        # From now on AMD verdicts come to ``verdict``; one that came before the
        # socket opened is applied here.
        with self.server.lock:
            self.call.relay_session = self
            known = self.call.answered_by
        if known:
            await self._act(self.gate.verdict(known, 0.0), _mono())
        return True

    # -- input -------------------------------------------------------------------
    async def _read(self) -> None:
        try:
            while True:
                msg = await self._next()
                if msg is None:
                    continue
                kind = msg.get("type")
                if kind == "interrupt":
                    self._stop_reply()
                    self.pending_tag = "barge"
                elif kind == "dtmf" and self.replying and self.session is not None \
                        and text_field(msg, "digit") in self.session.action_digits:
                    self._stop_reply()     # 9 mid-reply: the goodbye, not the rest
                    self.pending_tag = "dtmf"
                self.inbox.put_nowait((_mono(), msg))
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            self.inbox.put_nowait(None)

    def _stop_reply(self) -> None:
        """Stop the reply in progress now: no more tokens, and the brain is told."""
        self.interrupted = True
        if self.replying and self.session is not None:
            self.session.cancel()
            if self.reply_task is not None:
                self.reply_task.cancel()

    def verdict(self, answered_by: str) -> None:
        """An AMD verdict (any thread): stop talking to a machine at once."""
        try:
            self.loop.call_soon_threadsafe(self._verdict_now, answered_by, _mono())
        except RuntimeError:
            pass                       # the server is stopping: the session is gone

    def _verdict_now(self, answered_by: str, t_recv: float) -> None:
        if self.ended or self.session is None:
            return
        action = self.gate.verdict(answered_by, self.at_s())
        if action in (STOP, VOICEMAIL):
            self._silence()
        if action is not None:
            self.inbox.put_nowait((t_recv, {"type": "_act", "action": action}))

    def _silence(self) -> None:
        self.silenced = True
        self._stop_reply()

    async def _act(self, action: str | None, t_trigger: float) -> None:
        """Carry out a gate decision."""
        if action is None or self.ended:
            return
        if action == GREET:
            if self.silenced:
                self.silenced = False      # AMD said human after machine-like words
            await self._greet(t_trigger)
        elif action == STOP:
            self._silence()
        elif action == RESUME:
            self.silenced = False      # AMD: a person after all
        elif action == VOICEMAIL:
            self._silence()
            self.server.machine_by_transcript(self.call, self.gate.reason)

    async def _greet(self, t_trigger: float) -> None:
        if self.session.transcript and any(u.role == "agent" for u in self.session.transcript):
            return
        greeting = self.session.opening(self.at_s())
        await self._send({"type": "text", "token": greeting, "last": True})
        self.server.greet_latency.append(max(0.0, _mono() - t_trigger))
        self.server.observe(self.call, "agent", greeting, self.at_s())

    async def _handle(self, t_recv: float, msg: dict) -> None:
        kind = msg.get("type")
        session = self.session
        if kind == "_act":
            await self._act(msg["action"], t_recv)
        elif kind == "prompt":
            piece = text_field(msg, "voicePrompt")[:MAX_PROMPT]
            self.partial = merge_prompt(self.partial, piece)[:MAX_PROMPT]
            final = msg.get("last", True) not in (False, "false")
            text = self.partial.strip()
            if final:
                self.partial = ""
            if self.gate.state == "machine":
                return
            if not self.gate.greeted or self.answered < MACHINE_TURNS:
                # Before the greeting, and in the first turns: is this a machine?
                action = self.gate.speech(text, final, self.at_s())
                if action == GREET:
                    session.heard(text, self.at_s())
                    self.server.observe(self.call, "caller", text, self.at_s())
                    await self._greet(t_recv)
                    return
                if final and text and not self.gate.greeted:
                    self.server.observe(self.call, "machine", text, self.at_s())
                if action is not None or not self.gate.greeted:
                    await self._act(action, t_recv)
                    return
            if final and text and not self.silenced:
                at = self.at_s()
                self.answered += 1
                self.server.observe(self.call, "caller", text, at)
                await self._reply(lambda: session.respond(text, at), t_recv,
                                  lambda: session.arespond(text, at))
        elif kind == "dtmf":
            digit, at = text_field(msg, "digit")[:8], self.at_s()
            if not digit or self.silenced:
                return
            self.server.observe(self.call, "dtmf", digit, at)
            if self.gate.waiting:
                # Machines do not press keys: a person. An action key (9) gets its
                # goodbye without a greeting first; any other key, the greeting.
                self.gate.state, self.gate.reason = "greeted", "a keypress"
                if digit not in session.action_digits:
                    await self._greet(t_recv)
            await self._reply(lambda: session.on_dtmf(digit, at), t_recv,
                              lambda: session.aon_dtmf(digit, at))
        elif kind == "interrupt":
            heard = text_field(msg, "utteranceUntilInterrupt")[:MAX_PROMPT]
            session.on_interrupt(heard)
            self.server.observe(self.call, "interrupted", heard, self.at_s())
        elif kind == "error":
            log.warning("ConversationRelay error on call %s: %s", self.call.call_id,
                        text_field(msg, "description")[:300])

    # -- output ------------------------------------------------------------------
    async def _reply(self, make: Callable[[], Iterator[Chunk]], t_recv: float,
                     amake: Callable[[], AsyncIterator[Chunk]] | None = None) -> None:
        """Stream one reply; returns when the brain is done with this turn."""
        self.interrupted = False
        tag, self.pending_tag = self.pending_tag, None
        queue: asyncio.Queue = asyncio.Queue()
        session = self.session
        session.begin_turn()
        # A session with an async API (the LLM's) answers on this loop: its waits are
        # the model's I/O, not a thread. A brain that never blocks (``blocking =
        # False``, e.g. rules) answers on the loop itself: two thread hops cost more
        # than its whole turn. Anything else, in a brain-pool thread.
        asynchronous = amake is not None and getattr(session, "arespond", None) is not None
        inline = not asynchronous and not self.server.brain.blocking
        put = ((lambda fn, *args: fn(*args)) if inline or asynchronous
               else self.loop.call_soon_threadsafe)

        def work() -> None:
            started = _mono()
            outcome: tuple[str, Any] = ("done", None)
            chunks = None
            try:
                chunks = make()
                for chunk in chunks:
                    put(queue.put_nowait, ("chunk", chunk, started, _mono()))
                    if session.cancelled:
                        break           # barge-in: the rest is not wanted
            except BaseException as exc:  # noqa: BLE001 - reported to the async side
                outcome = ("error", exc)
            finally:
                # The brain's cleanup (an LLM turn records what it said) runs before the
                # turn is reported done: the next turn must not start beside it.
                close = getattr(chunks, "close", None)
                if close is not None:
                    try:
                        close()
                    except Exception:  # noqa: BLE001 - a brain's cleanup must not hang us
                        pass
            put(queue.put_nowait, (outcome[0], outcome[1], started, _mono()))

        async def awork() -> None:
            # As a thread's ``work``: the brain's time starts when its task first runs,
            # so waiting for the loop to schedule it counts as the server's.
            began = _mono()
            outcome: tuple[str, Any] = ("done", None)
            chunks = None
            try:
                chunks = amake()
                async for chunk in chunks:
                    queue.put_nowait(("chunk", chunk, began, _mono()))
                    if session.cancelled:
                        break           # barge-in: the rest is not wanted
            except asyncio.CancelledError:
                pass                    # barge-in (``_stop_reply``) or the turn gave up
            except Exception as exc:  # noqa: BLE001 - reported like a thread's
                outcome = ("error", exc)
            finally:
                # The session's cleanup (what an LLM turn said is recorded, its stream
                # closed) runs before the turn is reported done.
                if chunks is not None:
                    try:
                        await chunks.aclose()
                    except BaseException:  # noqa: BLE001 - cleanup must not hang us
                        pass
            queue.put_nowait((outcome[0], outcome[1], began, _mono()))

        self.replying = True
        try:
            if asynchronous:
                task = self.reply_task = self.loop.create_task(awork())
                # A task cancelled before its first step never runs ``awork``'s
                # ``finally``: the turn is still reported done.
                task.add_done_callback(lambda t: t.cancelled() and queue.put_nowait(
                    ("done", None, _mono(), _mono())))
            elif inline:
                work()
            else:
                self.loop.run_in_executor(self.server.brain_pool, work)
            end: EndCall | None = None
            first_overhead: float | None = None
            sent = closed = done = False
            spoken: list[str] = []
            pending: list[str] = []
            first_produced: float | None = None

            async def flush(last: bool) -> None:
                """Send the tokens gathered so far as one ``text`` message."""
                nonlocal sent, closed, first_overhead
                if pending and not self.interrupted:
                    token = "".join(pending)
                    await self._send({"type": "text", "token": token, "last": last})
                    sent, closed = True, last
                    spoken.append(token)
                if first_overhead is None and first_produced is not None:
                    first_overhead = (_mono() - t_recv) - (first_produced - started)
                pending.clear()

            while not done:
                if queue.empty():
                    try:
                        async with asyncio.timeout(self.server.turn_timeout_s):
                            batch = [await queue.get()]
                    except TimeoutError:
                        await self._fail("the agent did not answer in time")
                        return
                else:
                    batch = []
                # What the brain produced meanwhile goes out together: one message (one
                # frame, one send) instead of one per token when the loop is behind,
                # and a reply already complete goes out with ``last: true`` in it.
                while not queue.empty():
                    batch.append(queue.get_nowait())
                for kind, value, started, produced in batch:
                    if kind == "error":
                        log.warning("brain failed on call %s: %s", self.call.call_id,
                                    type(value).__name__)
                        await self._fail(f"agent error: {type(value).__name__}")
                        return
                    if kind == "done":
                        done = True
                        break
                    chunk: Chunk = value
                    if chunk.end is not None and chunk.end.disposition is Disposition.VOICEMAIL:
                        # The brain heard a machine: its message must wait for the beep
                        # (the voicemail action), never be spoken over the greeting.
                        await flush(False)
                        await self._act(self.gate.machine_heard(
                            self.at_s(), "the agent recognised a voicemail greeting"), t_recv)
                        continue
                    if chunk.text:
                        pending.append(chunk.text)
                        if first_produced is None:
                            first_produced = produced
                    if chunk.end is not None:
                        end = chunk.end
                await flush(done)
            if sent and not closed and not self.interrupted:
                await self._send({"type": "text", "token": "", "last": True})
            if spoken and not self.silenced:
                self.server.observe(self.call, "agent", "".join(spoken).strip(), self.at_s())
        finally:
            self.replying = False
            task, self.reply_task = self.reply_task, None
            if task is not None and not task.done():
                task.cancel()           # the turn timed out or failed: stop the brain
        whole = (_mono() - t_recv) - (produced - started)
        if first_overhead is None:
            first_overhead = whole
        self.server.turn_latency.append((max(0.0, first_overhead), max(0.0, whole)))
        if tag == "barge":
            self.server.barge_latency.append(max(0.0, first_overhead))
        elif tag == "dtmf":
            self.server.dtmf_latency.append(max(0.0, first_overhead))
        if end is not None and not self.silenced:
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
        line = say(FALLBACK_LINE, self.session.ctx.language)
        self.session.transcript.append(Utterance("agent", line, self.at_s()))
        await self._send({"type": "text", "token": line, "last": True})
        await self._send({"type": "end", "handoffData": encode_handoff(
            {"reasonCode": "agent-error", "reason": reason})})
        self.ended = True
        self._report()

    async def _send(self, msg: dict) -> None:
        if self.silenced and msg.get("type") == "text":
            return                       # never a word to a machine
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
        if self.gate.reason:
            detail["greeting"] = self.gate.reason
        self.server.emit_conversation(self.call, self.session, self.end, detail)

    async def _in_thread(self, fn: Callable, *args: Any) -> Any:
        return await self.loop.run_in_executor(self.server.brain_pool, fn, *args)


#: Caller turns in which a machine greeting is still believed (rules.VOICEMAIL_TURNS).
MACHINE_TURNS = 2


def merge_prompt(before: str, piece: str) -> str:
    """The utterance so far, given the next prompt piece.

    With ``partialPrompts`` Twilio sends the transcript so far, growing, then the
    final one; without, a long utterance may come as consecutive pieces. A piece that
    extends what came before replaces it; anything else is appended. Either way the
    brain gets the utterance once, whole.
    """
    if not before:
        return piece
    if _norm(piece).startswith(_norm(before)):
        return piece
    if _norm(before).startswith(_norm(piece)):
        return before                  # a repeated (or shortened) partial
    return before + piece


_NOT_ALNUM = re.compile(r"[\W_]+")


def _norm(text: str) -> str:
    """Lower-case words separated by single spaces (punctuation and spacing ignored)."""
    return _NOT_ALNUM.sub(" ", text.lower()).strip()


def text_field(msg: dict, name: str) -> str:
    """A message's text field; "" when it is missing, null or not text (a digit
    sent as a number is still the key pressed)."""
    value = msg.get(name)
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return ""


def encode_handoff(data: dict[str, Any]) -> str:
    """The ``handoffData`` of an ``end`` message: compact JSON without empty fields."""
    return json.dumps({k: v for k, v in data.items() if v not in (None, "")}, separators=(",", ":"))
