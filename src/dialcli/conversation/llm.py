"""The LLM brain: any OpenAI-compatible chat-completions server (OpenAI, Ollama, vLLM).

Each caller turn is one streamed ``POST {base_url}/chat/completions`` (``stream:
true``; server-sent ``data:`` lines ending with ``[DONE]``) carrying the system
prompt (the agent's rendered prompt plus ``CALL_RULES``), the conversation so far
and one tool, ``end_call(disposition, summary, callback_at)``. Text deltas are
yielded as ``Chunk``s the moment they arrive (the relay speaks them while the model
is still writing); tool-call arguments arrive split across deltas and are joined.
When the model calls ``end_call`` the last chunk carries the ``EndCall``.

Two drivers run a turn, sharing one state machine (``_Turn``: deadlines, holding line,
tool-call assembly, what was said) and one stream parser (``_line_events``). On the live
path the relay uses ``arespond``: the request is an ``httpx.AsyncClient`` stream on the
callback server's own event loop (a task feeding an ``asyncio.Queue``), so a token
reaches the caller with no thread hop, and a barge-in cancels that task, which closes
the HTTP stream at once. ``respond`` (the simulator, ``agent test``, ``call
--simulate``) runs the sync ``httpx.Client`` stream in a worker thread feeding a queue.

The call never goes silent. The request feeds a queue, so
the turn can keep time: no first token within ``first_token_s`` (1.2 s) -> one short
holding line ("One moment.") and keep waiting up to ``total_s`` (6 s); a stream that
stalls for ``stall_s`` mid-reply is cut. On a timeout, HTTP error, refused
connection or malformed stream the turn is answered by the rule brain instead
(``rules.RuleSession``, kept in step with the transcript); after ``max_failures``
failed turns in a row the rest of the call stays on the rules. A brain-wide breaker
skips the LLM for ``cooldown_s`` after repeated failures across calls, so a dead
server does not cost every call a six-second wait.

Two rules are not delegated to the model: a caller's request to stop calling is
recognised by the intent patterns and ends the call as OPT_OUT at once (keypad 9
too, in ``BrainSession``), and the API key is only ever placed in the
``Authorization`` header -- error reports carry a status and a scrubbed message.
"""

from __future__ import annotations

import asyncio
import json
import logging
import queue
import re
import threading
import time
from datetime import datetime
from typing import Any, AsyncIterator, Callable, Iterator

import httpx

from dialcli.config import LLMSettings, scrub
from dialcli.conversation.base import Brain, BrainSession, CallContext, Chunk, EndCall, Utterance
from dialcli.conversation.classify import classify_by_rules
from dialcli.conversation.callback_time import dicho_en_espanol, find_time_phrase, zone_for
from dialcli.conversation.intents import first_name
from dialcli.conversation.lines import say, speaks
from dialcli.conversation.postcall import label_call
from dialcli.conversation.rules import (
    RuleBrain, RuleSession, company_name, goodbye_line, opt_out_guard, voicemail_end,
)
from dialcli.models import Disposition
from dialcli.workspace.fields import json_schema

log = logging.getLogger(__name__)

HOLDING_LINE = "One moment."
#: Labels a conversation can end with (NO_ANSWER and FAILED come from the network).
LABELS = (Disposition.INTERESTED, Disposition.NOT_INTERESTED, Disposition.CALLBACK,
          Disposition.WRONG_NUMBER, Disposition.OPT_OUT, Disposition.VOICEMAIL,
          Disposition.COMPLETED)

CALL_RULES = """\
## Call rules from dialcli (these override anything above)
- You are {agent}, on an outbound phone call{to_whom}. Your words are spoken aloud: reply \
in one or two short, plain sentences. No lists, markdown, emoji or stage directions.
- The call opened with this greeting, already spoken: "{greeting}"
- If asked who is calling, give your name{for_whom}, as written above. If sincerely asked \
whether you are a person, say you are an automated assistant.
- If the person asks not to be called, to be removed, to stop calling or to be put on a \
do-not-call list -- in any words or language ("leave me alone", "I'll report you", "no me \
llame") -- apologise briefly and call end_call with disposition OPT_OUT at once. Never argue \
or try to change their mind. If they complain about being called ("why do you keep calling \
me?") ask once: "Would you like me to stop calling this number?"; a yes is OPT_OUT.
- If you have reached the wrong person or number (nobody by that name, moved, passed away), \
apologise, do not discuss the matter with them, and call end_call with WRONG_NUMBER.
- If they ask to be called another time, ask when if they did not say, then call end_call \
with CALLBACK. How often they were called ("the fourth time today") is never a callback time.
- Never invent facts about the person you are calling, their account or their situation. \
Use only what is written above; when you don't know, say someone will follow up.
- When the conversation is over, say a short goodbye and call end_call with: INTERESTED \
(wants to go ahead or be followed up), NOT_INTERESTED (declined), CALLBACK (asked to be \
called another time), WRONG_NUMBER (not the person you are calling), OPT_OUT (asked not to \
be called), VOICEMAIL (an answering machine), COMPLETED (anything else). If a voicemail greeting answers, call end_call with VOICEMAIL at once and say nothing.
- For CALLBACK, put when in callback_at: the person's own words ("tomorrow at 3pm", "next \
Tuesday morning") or an ISO 8601 date-time with offset."""

END_CALL_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "end_call",
        "description": "End the phone call and record its outcome.",
        "parameters": {
            "type": "object",
            "properties": {
                "disposition": {"type": "string", "enum": [str(d) for d in LABELS],
                                "description": "The outcome of the call."},
                "summary": {"type": "string", "description": "One sentence: what happened."},
                "callback_at": {"type": "string",
                                "description": "For CALLBACK: when to call back, in the "
                                               "person's words or ISO 8601 with offset."},
            },
            "required": ["disposition", "summary"],
        },
    },
}


def system_prompt(ctx: CallContext, now: datetime | None = None) -> str:
    """The agent's rendered prompt followed by dialcli's call rules."""
    company = company_name(ctx)
    rules = CALL_RULES.format(
        agent=ctx.agent or "the caller",
        to_whom=f" to {ctx.lead_name}" if ctx.lead_name else "",
        greeting=ctx.greeting.replace('"', "'"),
        for_whom=f" and that you are calling for {company}" if company else "",
    )
    parts = [ctx.system_prompt.strip(), rules] if ctx.system_prompt.strip() else [rules]
    if ctx.fields:
        # What the agent extracts: the tool's schema says the types, this says why.
        parts.append("- When you call end_call, fill `fields` with what the person told you: "
                     + "; ".join(f"{f.name} ({f.type}): {f.description or f.name}"
                                 for f in ctx.fields)
                     + ". Use null for anything they did not say; never guess.")
    if now is not None:
        local = now.astimezone(zone_for(ctx.recipient_tz))
        parts.append(f"- It is now {local:%A} {local.day} {local:%B %Y, %H:%M} ({local.tzname()}) "
                     "where the person is.")
    return "\n\n".join(parts)


def _redact(text: str, secret: str | None) -> str:
    text = scrub(text)
    if secret:
        text = text.replace(secret, "****")
    # OpenAI echoes a masked key ("sk-abc***xyz") in 401 messages; drop even that.
    return re.sub(r"\b(?:sk|pk|key)-[\w*.-]{4,}", "****", text)


class _Breaker:
    """Across calls: after ``threshold`` failed turns in a row, skip the LLM for a while."""

    def __init__(self, threshold: int, cooldown_s: float, monotonic: Callable[[], float]):
        self.threshold, self.cooldown_s, self._mono = threshold, cooldown_s, monotonic
        self._lock = threading.Lock()
        self._fails = 0
        self._open_until = 0.0

    def allow(self) -> bool:
        with self._lock:
            return self._fails < self.threshold or self._mono() >= self._open_until

    def record(self, ok: bool) -> None:
        with self._lock:
            if ok:
                self._fails = 0
            else:
                self._fails += 1
                if self._fails >= self.threshold:
                    self._open_until = self._mono() + self.cooldown_s


class LLMBrain(Brain):
    """Opens ``LLMSession``s sharing one HTTP connection pool."""

    name = "llm"
    #: Live turns are ``arespond`` on the relay's loop and opening a session is CPU
    #: only, so nothing of a live call's turn path needs the brain pool (only the
    #: post-call label, which the relay always runs in a thread), and the server warms
    #: 8 pool threads, not 96. live_bench, 150 calls at 10 cps, shared box at load
    #: 2.3-4.4: first-token p99 11-49 ms over five runs with sessions opened on the
    #: loop, 30-109 ms over four with them opened in the pool (see its docstring).
    blocking = False

    def __init__(self, settings: LLMSettings, *, client: httpx.Client | None = None,
                 first_token_s: float = 1.2, total_s: float = 6.0, stall_s: float = 4.0,
                 max_failures: int = 2, breaker_threshold: int = 3, cooldown_s: float = 30.0,
                 temperature: float = 0.3, max_tokens: int = 300, clock: Any = None,
                 monotonic: Callable[[], float] = time.monotonic):
        self.settings = settings
        self.first_token_s, self.total_s, self.stall_s = first_token_s, total_s, stall_s
        self.max_failures = max_failures
        self.temperature, self.max_tokens = temperature, max_tokens
        self.clock = clock
        self.monotonic = monotonic
        self.rules = RuleBrain()
        self.breaker = _Breaker(breaker_threshold, cooldown_s, monotonic)
        self._own_client = client is None
        # The stream's read timeout only bounds an abandoned request; the turn itself
        # keeps time with the queue deadlines below.
        self._timeout = httpx.Timeout(max(total_s, stall_s) + 1.0, connect=min(total_s, 5.0))
        self._limits = httpx.Limits(max_connections=32, max_keepalive_connections=8)
        self.client = client or httpx.Client(timeout=self._timeout, limits=self._limits)
        #: one ``httpx.AsyncClient`` per event loop that ran an async turn (in practice
        #: the callback server's): a client belongs to the loop it was made on
        self._aclients: dict[int, tuple[asyncio.AbstractEventLoop, httpx.AsyncClient]] = {}
        self._alock = threading.Lock()

    def aclient(self) -> httpx.AsyncClient:
        """The async client of the running loop, made on first use."""
        loop = asyncio.get_running_loop()
        entry = self._aclients.get(id(loop))
        if entry is None or entry[0] is not loop:
            with self._alock:
                entry = (loop, httpx.AsyncClient(timeout=self._timeout, limits=self._limits))
                self._aclients[id(loop)] = entry
        return entry[1]

    async def aclose(self) -> None:
        """Close the running loop's async client (the callback server calls this on
        its loop when it stops)."""
        loop = asyncio.get_running_loop()
        with self._alock:
            entry = self._aclients.pop(id(loop), None)
        if entry is not None and entry[0] is loop:
            await entry[1].aclose()

    @property
    def url(self) -> str:
        return f"{self.settings.base_url.rstrip('/')}/chat/completions"

    def headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
        if self.settings.api_key:
            headers["Authorization"] = f"Bearer {self.settings.api_key.reveal()}"
        return headers

    def redact(self, text: str) -> str:
        key = self.settings.api_key.reveal() if self.settings.api_key else None
        return _redact(text, key)

    def open(self, ctx: CallContext) -> "LLMSession":
        return LLMSession(self, ctx)

    def close(self) -> None:
        if self._own_client:
            self.client.close()
        with self._alock:
            entries, self._aclients = list(self._aclients.values()), {}
        for loop, aclient in entries:
            # A loop still running elsewhere closes its own client; a closed loop's
            # connections went with it.
            if loop.is_running() and not loop.is_closed():
                try:
                    asyncio.run_coroutine_threadsafe(aclient.aclose(), loop).result(2.0)
                except Exception:  # noqa: BLE001 - closing: the loop may be stopping
                    pass


class LLMSession(BrainSession):
    """One call: the LLM answers, the rule brain stands by."""

    def __init__(self, brain: LLMBrain, ctx: CallContext):
        super().__init__(ctx)
        self.brain = brain
        self.model = ctx.llm_model or brain.settings.model
        self.system = system_prompt(ctx, self._now())
        self.company = company_name(ctx)
        self.first = first_name(ctx.lead_name)
        self.fallback: RuleSession = brain.rules.open(ctx)
        self.failures = 0             # consecutive failed turns in this call
        self.on_rules = False
        self.failure_notes: list[str] = []
        #: (events queue, {"response": the open HTTP stream}) of a sync turn in progress
        self._turn: tuple[queue.Queue, dict[str, Any]] | None = None
        #: (loop, events queue, stream task) of an async turn in progress
        self._aturn: tuple[asyncio.AbstractEventLoop, asyncio.Queue, asyncio.Task] | None = None

    def _now(self) -> datetime | None:
        """The brain's clock, else the dial's instant (a campaign's brain has no clock)."""
        return self.brain.clock.now() if self.brain.clock is not None else self.ctx.placed_at

    def opening(self, at_s: float = 0.0) -> str:
        self.fallback.opening(at_s)
        return super().opening(at_s)

    def cancel(self) -> None:
        """Barge-in (any thread; the relay calls it on its event loop): wake the turn
        at once. A sync turn's own thread then closes the HTTP stream -- never the
        caller's, which must not wait on the HTTP client's locks; an async turn
        cancels its stream task, which closes the stream."""
        super().cancel()
        turn = self._turn
        if turn is not None:
            turn[0].put(("cancel", None))
        aturn = self._aturn
        if aturn is not None:
            loop = aturn[0]
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is loop:
                _wake_async(aturn)
            else:
                try:
                    loop.call_soon_threadsafe(_wake_async, aturn)
                except RuntimeError:
                    pass               # the loop is closed: the turn is gone

    # -- a turn --------------------------------------------------------------------

    def _before_llm(self, caller_text: str, at_s: float) -> Iterator[Chunk] | None:
        """What both drivers do before asking the model: record the caller's words;
        the opt-out guard, the rules when the LLM is off. None: ask the model."""
        self.transcript.append(Utterance("caller", caller_text, at_s))
        if self.result is not None:
            return iter(())
        forced = opt_out_guard(caller_text, self.first, self.last_agent_line(), self.company,
                               self.ctx.language, previous=self.previous_caller_line())
        if forced is not None:      # opt-out, or the question whether to stop calling
            return self._say(forced[0], forced[1], at_s)
        if self.on_rules or not self.brain.breaker.allow():
            return self._rules_turn(caller_text, at_s, "")
        return None

    def respond(self, caller_text: str, at_s: float = 0.0) -> Iterator[Chunk]:
        settled = self._before_llm(caller_text, at_s)
        if settled is not None:
            yield from settled
            return
        yield from self._llm_turn(caller_text, at_s)

    async def arespond(self, caller_text: str, at_s: float = 0.0) -> AsyncIterator[Chunk]:
        """``respond`` on the running event loop: the model's stream is read by a task
        on that loop (no thread per turn, no hop per token)."""
        settled = self._before_llm(caller_text, at_s)
        if settled is not None:
            for chunk in settled:     # opt-out guard, rules: CPU only
                yield chunk
            return
        async for chunk in self._allm_turn(caller_text, at_s):
            yield chunk

    def _llm_turn(self, caller_text: str, at_s: float) -> Iterator[Chunk]:
        events: queue.Queue[tuple[str, Any]] = queue.Queue()
        cancel = threading.Event()
        holder: dict[str, Any] = {}
        self._turn = (events, holder)
        if self.cancelled:            # barged in before the request even started
            self._turn = None
            return
        worker = threading.Thread(target=self._stream,
                                  args=(events, cancel, self._messages(), holder),
                                  daemon=True, name=f"llm-call-{self.ctx.call_id}")
        worker.start()
        turn = _Turn(self, caller_text, at_s)
        try:
            while not turn.over:
                try:
                    kind, payload = events.get(timeout=turn.wait_s())
                except queue.Empty:
                    chunk = turn.timed_out()
                else:
                    chunk = turn.feed(kind, payload)
                if chunk is not None:
                    yield chunk
        finally:
            cancel.set()
            self._turn = None
            _close_quietly(holder.get("response"))
            turn.close()
        yield from turn.outcome()

    async def _allm_turn(self, caller_text: str, at_s: float) -> AsyncIterator[Chunk]:
        if self.cancelled:            # barged in before the request even started
            return
        loop = asyncio.get_running_loop()
        events: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        task = loop.create_task(self._astream(events, self._messages()))
        self._aturn = (loop, events, task)
        turn = _Turn(self, caller_text, at_s)
        try:
            while not turn.over:
                if not events.empty():
                    kind, payload = events.get_nowait()
                    chunk = turn.feed(kind, payload)
                else:
                    try:
                        async with asyncio.timeout(turn.wait_s()):
                            kind, payload = await events.get()
                    except TimeoutError:
                        chunk = turn.timed_out()
                    else:
                        chunk = turn.feed(kind, payload)
                if chunk is not None:
                    yield chunk
        finally:
            self._aturn = None
            if not task.done() and not turn.stream_over:
                # Barge-in, a deadline, or the consumer stopped: closes the HTTP stream
                # (the server stops writing). Once only: a second cancel would also
                # interrupt httpx's shielded close and leave the connection open.
                task.cancel()
            turn.close()
        for chunk in turn.outcome():
            yield chunk

    def finish(self, at_s: float = 0.0) -> EndCall | None:
        """A call the model did not end: labelled by the model after the call
        (``postcall.label_call``: schema-constrained, rules as fallback and opt-out
        cross-check). Runs in the relay's worker thread, off the engine's write path."""
        if self.result is not None:
            return self.result
        if self.on_rules or not self.brain.breaker.allow():
            return classify_by_rules(self.transcript_dicts(), lead_name=self.ctx.lead_name)
        now = self.brain.clock.now() if self.brain.clock is not None else None
        return label_call(self.transcript_dicts(), self.brain.settings, now=now,
                          tz=self.ctx.recipient_tz, lead_name=self.ctx.lead_name,
                          model=self.model, http=self.brain.client)

    def _fail(self, reason: str, caller_text: str, said: str, at_s: float) -> Iterator[Chunk]:
        b = self.brain
        b.breaker.record(False)
        self.failures += 1
        note = b.redact(f"LLM turn failed ({reason}); the rule brain answered.")
        self.failure_notes.append(note)
        log.warning("call %s: %s", self.ctx.call_id, note)
        if self.failures >= b.max_failures:
            self.on_rules = True
        self.transcript.append(Utterance("system", note, at_s))
        yield from self._rules_turn(caller_text, at_s, said)

    def _rules_turn(self, caller_text: str, at_s: float, already_said: str) -> Iterator[Chunk]:
        # Keep the rule session in step: it sees the whole conversation before this
        # caller line (which its ``respond`` records itself).
        last = max(i for i, u in enumerate(self.transcript) if u.role == "caller")
        self.fallback.transcript = [u for u in self.transcript[:last] if u.role != "system"]
        text, end = "", None
        for chunk in self.fallback.respond(caller_text, at_s):
            text += chunk.text
            end = chunk.end or end
        sep = " " if already_said and not already_said.endswith(" ") and text else ""
        self._record(already_said + sep + text, at_s)
        if end is not None:
            self.result = end
        yield Chunk(sep + text, end)

    def _say(self, text: str, end: EndCall | None, at_s: float, prefix: str = "") -> Iterator[Chunk]:
        self._record(prefix + text, at_s)
        if end is not None:
            self.result = end
        yield Chunk(text, end)

    def _record(self, text: str, at_s: float) -> None:
        self.transcript.append(Utterance("agent", text.strip(), at_s))

    # -- the request ---------------------------------------------------------------

    def _messages(self) -> list[dict[str, str]]:
        """System prompt + the conversation, user/assistant alternating.

        The greeting is in the system prompt rather than a leading assistant message:
        some chat templates (Mistral's, via vLLM) insist the turns start with the user.
        """
        messages: list[dict[str, str]] = []
        greeting_seen = False
        for utt in self.transcript:
            if not greeting_seen and utt.role == "agent" and utt.text == self.ctx.greeting:
                greeting_seen = True      # it is in the system prompt already
                continue
            if utt.role == "agent" and utt.text:
                role, text = "assistant", utt.text
            elif utt.role == "caller":
                role, text = "user", utt.text or "(silence)"
            elif utt.role == "dtmf":
                role, text = "user", f"(pressed {utt.text} on the keypad)"
            else:
                continue
            if messages and messages[-1]["role"] == role:
                messages[-1]["content"] += "\n" + text
            else:
                messages.append({"role": role, "content": text})
        return [{"role": "system", "content": self.system}] + messages

    def _body(self, messages: list[dict[str, str]]) -> dict[str, Any]:
        b = self.brain
        return {"model": self.model, "messages": messages, "stream": True,
                "tools": [end_call_tool(self.ctx.fields)], "tool_choice": "auto",
                "temperature": b.temperature, "max_tokens": b.max_tokens}

    def _stream(self, events: queue.Queue, cancel: threading.Event,
                messages: list[dict[str, str]], holder: dict[str, Any] | None = None) -> None:
        """The sync driver's request, in its worker thread."""
        b = self.brain
        try:
            with b.client.stream("POST", b.url, json=self._body(messages),
                                 headers=b.headers()) as resp:
                if holder is not None:
                    holder["response"] = resp
                    if cancel.is_set():
                        return
                if resp.status_code != 200:
                    try:
                        resp.read()
                    except httpx.HTTPError:
                        pass
                    events.put(("error", f"HTTP {resp.status_code}{_error_detail(resp)}"))
                    return
                if "text/event-stream" not in resp.headers.get("content-type", ""):
                    # A server that ignored "stream": one JSON completion.
                    for event in _message_events(json.loads(resp.read())):
                        events.put(event)
                    events.put(("done", None))
                    return
                for line in resp.iter_lines():
                    if cancel.is_set():
                        return
                    for event in _line_events(line):
                        events.put(event)
                        if event[0] != "text" and event[0] != "tool":
                            return
                events.put(("done", None))
        except Exception as exc:  # noqa: BLE001 - the thread boundary: report, never hang
            events.put(("error", _stream_error(exc)))

    async def _astream(self, events: asyncio.Queue, messages: list[dict[str, str]]) -> None:
        """The async driver's request, a task on the turn's loop; cancelled on barge-in
        (the ``async with`` then closes the response, dropping the connection)."""
        b = self.brain
        try:
            async with b.aclient().stream("POST", b.url, json=self._body(messages),
                                          headers=b.headers()) as resp:
                if resp.status_code != 200:
                    try:
                        await resp.aread()
                    except httpx.HTTPError:
                        pass
                    events.put_nowait(("error", f"HTTP {resp.status_code}{_error_detail(resp)}"))
                    return
                if "text/event-stream" not in resp.headers.get("content-type", ""):
                    for event in _message_events(json.loads(await resp.aread())):
                        events.put_nowait(event)
                    events.put_nowait(("done", None))
                    return
                async for line in resp.aiter_lines():
                    for event in _line_events(line):
                        events.put_nowait(event)
                        if event[0] != "text" and event[0] != "tool":
                            return
                events.put_nowait(("done", None))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - the task boundary: report, never hang
            events.put_nowait(("error", _stream_error(exc)))

    def _end_from_tool(self, raw_args: str, said: str) -> EndCall:
        try:
            args = json.loads(raw_args or "{}")
            if not isinstance(args, dict):
                raise ValueError
        except ValueError:
            args = {}
            m = re.search(r"\b(" + "|".join(str(d) for d in LABELS) + r")\b", raw_args.upper())
            if m:
                args["disposition"] = m.group(1)
        label = str(args.get("disposition") or "").strip().upper().replace(" ", "_")
        try:
            disposition = Disposition(label)
        except ValueError:
            disposition = None
        guess = classify_by_rules(self.transcript_dicts(), lead_name=self.ctx.lead_name)
        if disposition not in LABELS:
            disposition = guess.disposition if guess else Disposition.COMPLETED
        elif guess is not None and guess.disposition is Disposition.OPT_OUT:
            disposition = Disposition.OPT_OUT      # the rules heard an opt-out: it is one
        summary = str(args.get("summary") or "")[:500]
        when = args.get("callback_at")
        when = str(when).strip() if when not in (None, "") else None
        callback_at = callback_text = None
        if disposition is Disposition.CALLBACK:
            if when and _looks_iso(when):
                callback_at = when
            elif when:
                callback_text = when
            else:
                callback_text = next((u.text for u in reversed(self.transcript)
                                      if u.role == "caller" and find_time_phrase(u.text)), None)
        if disposition is Disposition.VOICEMAIL:
            return EndCall(disposition, summary, goodbye=voicemail_end(self.ctx).goodbye)
        phrase = find_time_phrase(callback_text) if callback_text else None
        if phrase and speaks(self.ctx.language) == "es":
            # The phrase is read into English words: a Spanish caller hears the day booked.
            phrase = dicho_en_espanol(phrase, self._now(), self.ctx.recipient_tz)
        return EndCall(disposition, summary, callback_text=callback_text, callback_at=callback_at,
                       goodbye=goodbye_line(disposition, self.company, phrase, self.ctx.language),
                       fields=args.get("fields"))


class _Turn:
    """One LLM turn's state, fed by either driver (``respond``'s thread and queue,
    ``arespond``'s task and asyncio queue): the deadlines (holding line after
    ``first_token_s``, give up after ``total_s``, cut a stream that stalls for
    ``stall_s``), the text said so far, the tool call assembled from its fragments,
    and what the turn comes to once the stream is over (``outcome``)."""

    def __init__(self, session: "LLMSession", caller_text: str, at_s: float):
        self.session, self.caller_text, self.at_s = session, caller_text, at_s
        self.brain = session.brain
        self.started = self.last = self.brain.monotonic()
        self.spoken: list[str] = []
        self.tools: dict[int, dict[str, Any]] = {}
        self.held = self.progressed = self.stopped = self.over = False
        self.holding = say(HOLDING_LINE, session.ctx.language) + " "   # in the agent's language
        self.stream_over = False      # the stream itself ended (done or error)
        self.failure: str | None = None

    def wait_s(self) -> float:
        """Seconds the driver may wait for the next event."""
        b = self.brain
        if not self.progressed:
            deadline = self.started + (b.total_s if self.held else b.first_token_s)
        else:
            deadline = self.last + b.stall_s
        return max(0.0, deadline - b.monotonic())

    def timed_out(self) -> Chunk | None:
        """Nothing came in time: the holding line once, then the turn has failed."""
        if not self.progressed and not self.held:
            self.held = True
            self.spoken.append(self.holding)
            return Chunk(self.holding)
        self.failure = "no reply in time" if not self.progressed else "the reply stalled"
        self.over = True
        return None

    def feed(self, kind: str, payload: Any) -> Chunk | None:
        """One event of the stream; a text chunk to speak, or None."""
        if kind == "cancel":
            self.stopped = self.over = True  # the caller barged in: stop, keep what was said
            return None
        if kind == "error":
            self.failure, self.over = payload, True
            self.stream_over = True
            return None
        if kind == "done":
            self.over = self.stream_over = True
            return None
        self.progressed, self.last = True, self.brain.monotonic()
        if kind == "text":
            self.spoken.append(payload)
            return Chunk(payload)
        index, name, fragment = payload
        slot = self.tools.setdefault(index, {"name": "", "args": []})
        slot["name"] = slot["name"] or (name or "")
        slot["args"].append(fragment)
        return None

    @property
    def finished(self) -> bool:
        return self.over and not self.stopped

    def close(self) -> None:
        """The driver is done reading. A turn that did not finish (the caller barged in,
        or the consumer stopped listening mid-reply) keeps what was said, so
        ``on_interrupt`` can trim it to what was heard."""
        if not self.finished and self.spoken:
            self.session._record("".join(self.spoken), self.at_s)

    def outcome(self) -> Iterator[Chunk]:
        """The rest of a finished turn (CPU only): the end_call tool, or the rules
        after a failure, or the reply recorded."""
        if not self.finished:
            return
        s, b, at_s = self.session, self.brain, self.at_s
        said = "".join(self.spoken)
        real_text = said[len(self.holding):] if self.held else said
        end_tool = next((t for t in self.tools.values() if t["name"] == "end_call"), None)
        failure = self.failure
        if failure is None and end_tool is None and not real_text.strip():
            failure = "an empty reply"
        if failure is not None and end_tool is None:
            yield from s._fail(failure, self.caller_text, said, at_s)
            return
        b.breaker.record(True)
        s.failures = 0
        if end_tool is not None:
            end = s._end_from_tool("".join(end_tool["args"]), real_text)
            if end.disposition is Disposition.VOICEMAIL and end.goodbye:
                # The campaign's voicemail message is left whatever the model said.
                yield from s._say((" " if said else "") + end.goodbye, end, at_s, prefix=said)
            elif real_text.strip():
                end = _with_goodbye(end, real_text.strip())
                s._record(said, at_s)
                s.result = end
                yield Chunk("", end)
            else:
                yield from s._say(end.goodbye, end, at_s, prefix=said)
            return
        s._record(said, at_s)


def _close_quietly(response: httpx.Response | None) -> None:
    """Close a streaming response from any thread (barge-in): the connection is
    dropped, so the server stops generating; the reader thread ends on the error."""
    if response is None:
        return
    try:
        response.close()
    except Exception:  # noqa: BLE001 - racing the reader thread; it ends either way
        pass


def _with_goodbye(end: EndCall, goodbye: str) -> EndCall:
    return EndCall(end.disposition, end.summary, end.callback_text, end.callback_at, goodbye,
                   end.fields)


def end_call_tool(specs) -> dict[str, Any]:
    """``END_CALL_TOOL`` with the agent's extracted fields as a ``fields`` argument."""
    if not specs:
        return END_CALL_TOOL
    fn = END_CALL_TOOL["function"]
    params = dict(fn["parameters"])
    params["properties"] = dict(params["properties"], fields=json_schema(specs))
    return {"type": "function", "function": dict(fn, parameters=params)}


def _looks_iso(text: str) -> bool:
    return bool(re.match(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}", text))


def _error_detail(resp: httpx.Response) -> str:
    """The server's error message of a response already read."""
    try:
        message = (resp.json().get("error") or {}).get("message")
    except (ValueError, AttributeError, httpx.HTTPError):
        return ""
    return f": {str(message)[:120]}" if message else ""


def _stream_error(exc: BaseException) -> str:
    """What a failed request is called in the turn's failure note (never the key)."""
    if isinstance(exc, httpx.TimeoutException):
        return "a timeout"
    if isinstance(exc, httpx.StreamClosed):
        return "the stream was closed"
    if isinstance(exc, httpx.HTTPError):
        return f"a connection error ({type(exc).__name__})"
    if isinstance(exc, (ValueError, KeyError, TypeError, AttributeError, IndexError)):
        return "a malformed stream"
    return f"an unexpected error ({type(exc).__name__})"


_SKIP_PREFIXES = (":", "event:", "id:", "retry:")


def _line_events(line: str) -> list[tuple[str, Any]]:
    """One server-sent line as turn events: ("text", s), ("tool", (index, name,
    fragment)), ("done", None) or ("error", why). Raises on a malformed JSON payload."""
    line = line.strip()
    if not line or line.startswith(_SKIP_PREFIXES):
        return []
    if not line.startswith("data:"):
        return [("error", "a malformed stream")]
    data = line[5:].strip()
    if data == "[DONE]":
        return [("done", None)]
    obj = json.loads(data)
    if isinstance(obj, dict) and obj.get("error"):
        return [("error", "an error in the stream")]
    events: list[tuple[str, Any]] = []
    for choice in obj.get("choices") or []:
        delta = choice.get("delta") or {}
        if delta.get("content"):
            events.append(("text", delta["content"]))
        for call in delta.get("tool_calls") or []:
            fn = call.get("function") or {}
            events.append(("tool", (call.get("index", 0), fn.get("name"),
                                    _args(fn.get("arguments")))))
    return events


def _message_events(obj: dict[str, Any]) -> list[tuple[str, Any]]:
    """A whole (non-streamed) completion as turn events."""
    events: list[tuple[str, Any]] = []
    for choice in obj.get("choices") or []:
        message = choice.get("message") or {}
        if message.get("content"):
            events.append(("text", message["content"]))
        for n, call in enumerate(message.get("tool_calls") or []):
            fn = call.get("function") or {}
            events.append(("tool", (n, fn.get("name"), _args(fn.get("arguments")))))
    return events


def _wake_async(aturn: tuple[asyncio.AbstractEventLoop, asyncio.Queue, asyncio.Task]) -> None:
    """On the turn's loop: wake the turn, which cancels its stream task at once."""
    aturn[1].put_nowait(("cancel", None))


def _args(value: Any) -> str:
    """Tool arguments as JSON text (some servers send an object, not a string)."""
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value)


def make_brain(settings: LLMSettings | None, **options: Any) -> Brain:
    """The brain for live calls and rehearsals: the LLM when configured, else the rules."""
    if settings is None:
        return RuleBrain()
    return LLMBrain(settings, **options)
