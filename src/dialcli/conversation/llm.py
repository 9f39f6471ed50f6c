"""The LLM brain: any OpenAI-compatible chat-completions server (OpenAI, Ollama, vLLM).

Each caller turn is one streamed ``POST {base_url}/chat/completions`` (``stream:
true``; server-sent ``data:`` lines ending with ``[DONE]``) carrying the system
prompt (the agent's rendered prompt plus ``CALL_RULES``), the conversation so far
and one tool, ``end_call(disposition, summary, callback_at)``. Text deltas are
yielded as ``Chunk``s the moment they arrive (the relay speaks them while the model
is still writing); tool-call arguments arrive split across deltas and are joined.
When the model calls ``end_call`` the last chunk carries the ``EndCall``.

The call never goes silent. The request runs in a worker thread feeding a queue, so
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

import json
import logging
import queue
import re
import threading
import time
from datetime import datetime
from typing import Any, Callable, Iterator

import httpx

from dialcli.config import LLMSettings, scrub
from dialcli.conversation.base import Brain, BrainSession, CallContext, Chunk, EndCall, Utterance
from dialcli.conversation.classify import classify_by_rules
from dialcli.conversation.callback_time import find_time_phrase, zone_for
from dialcli.conversation.intents import first_name
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
        # The worker's read timeout only bounds an abandoned thread; the turn itself
        # keeps time with the queue deadlines below.
        self.client = client or httpx.Client(
            timeout=httpx.Timeout(max(total_s, stall_s) + 1.0, connect=min(total_s, 5.0)),
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=8),
        )

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


class LLMSession(BrainSession):
    """One call: the LLM answers, the rule brain stands by."""

    def __init__(self, brain: LLMBrain, ctx: CallContext):
        super().__init__(ctx)
        self.brain = brain
        self.model = ctx.llm_model or brain.settings.model
        now = brain.clock.now() if brain.clock is not None else None
        self.system = system_prompt(ctx, now)
        self.company = company_name(ctx)
        self.first = first_name(ctx.lead_name)
        self.fallback: RuleSession = brain.rules.open(ctx)
        self.failures = 0             # consecutive failed turns in this call
        self.on_rules = False
        self.failure_notes: list[str] = []
        #: (events queue, {"response": the open HTTP stream}) of the turn in progress
        self._turn: tuple[queue.Queue, dict[str, Any]] | None = None

    def opening(self, at_s: float = 0.0) -> str:
        self.fallback.opening(at_s)
        return super().opening(at_s)

    def cancel(self) -> None:
        """Barge-in (any thread; the relay calls it on its event loop): wake the turn
        at once. The turn's own thread then closes the HTTP stream -- never the
        caller's, which must not wait on the HTTP client's locks."""
        super().cancel()
        turn = self._turn
        if turn is not None:
            turn[0].put(("cancel", None))

    # -- a turn --------------------------------------------------------------------

    def respond(self, caller_text: str, at_s: float = 0.0) -> Iterator[Chunk]:
        self.transcript.append(Utterance("caller", caller_text, at_s))
        if self.result is not None:
            return
        last_agent = next((u.text for u in reversed(self.transcript) if u.role == "agent"), "")
        forced = opt_out_guard(caller_text, self.first, last_agent, self.company)
        if forced is not None:      # opt-out, or the question whether to stop calling
            yield from self._say(forced[0], forced[1], at_s)
            return
        if self.on_rules or not self.brain.breaker.allow():
            yield from self._rules_turn(caller_text, at_s, "")
            return
        yield from self._llm_turn(caller_text, at_s)

    def _llm_turn(self, caller_text: str, at_s: float) -> Iterator[Chunk]:
        b = self.brain
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
        started = last = b.monotonic()
        spoken: list[str] = []
        tools: dict[int, dict[str, Any]] = {}
        held = progressed = finished = stopped = False
        failure: str | None = None
        try:
            while True:
                if not progressed:
                    deadline = started + (b.total_s if held else b.first_token_s)
                else:
                    deadline = last + b.stall_s
                try:
                    kind, payload = events.get(timeout=max(0.0, deadline - b.monotonic()))
                except queue.Empty:
                    if not progressed and not held:
                        held = True
                        spoken.append(HOLDING_LINE + " ")
                        yield Chunk(HOLDING_LINE + " ")
                        continue
                    failure = "no reply in time" if not progressed else "the reply stalled"
                    break
                if kind == "cancel":
                    stopped = True
                    break             # the caller barged in: stop now, keep what was said
                if kind == "error":
                    failure = payload
                    break
                if kind == "done":
                    break
                progressed, last = True, b.monotonic()
                if kind == "text":
                    spoken.append(payload)
                    yield Chunk(payload)
                else:
                    index, name, fragment = payload
                    slot = tools.setdefault(index, {"name": "", "args": []})
                    slot["name"] = slot["name"] or (name or "")
                    slot["args"].append(fragment)
            finished = not stopped
        finally:
            cancel.set()
            self._turn = None
            _close_quietly(holder.get("response"))
            if not finished and spoken:
                # The consumer stopped listening mid-reply (the caller barged in): keep
                # what was said so ``on_interrupt`` can trim it to what was heard.
                self._record("".join(spoken), at_s)

        if not finished:
            return
        said = "".join(spoken)
        real_text = said[len(HOLDING_LINE) + 1:] if held else said
        end_tool = next((t for t in tools.values() if t["name"] == "end_call"), None)
        if failure is None and end_tool is None and not real_text.strip():
            failure = "an empty reply"
        if failure is not None and end_tool is None:
            yield from self._fail(failure, caller_text, said, at_s)
            return
        b.breaker.record(True)
        self.failures = 0
        if end_tool is not None:
            end = self._end_from_tool("".join(end_tool["args"]), real_text)
            if end.disposition is Disposition.VOICEMAIL and end.goodbye:
                # The campaign's voicemail message is left whatever the model said.
                yield from self._say((" " if said else "") + end.goodbye, end, at_s, prefix=said)
            elif real_text.strip():
                end = _with_goodbye(end, real_text.strip())
                self._record(said, at_s)
                self.result = end
                yield Chunk("", end)
            else:
                yield from self._say(end.goodbye, end, at_s, prefix=said)
            return
        self._record(said, at_s)

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

    def _stream(self, events: queue.Queue, cancel: threading.Event,
                messages: list[dict[str, str]], holder: dict[str, Any] | None = None) -> None:
        b = self.brain
        body = {"model": self.model, "messages": messages, "stream": True,
                "tools": [end_call_tool(self.ctx.fields)], "tool_choice": "auto",
                "temperature": b.temperature, "max_tokens": b.max_tokens}
        try:
            with b.client.stream("POST", b.url, json=body, headers=b.headers()) as resp:
                if holder is not None:
                    holder["response"] = resp
                    if cancel.is_set():
                        return
                if resp.status_code != 200:
                    events.put(("error", f"HTTP {resp.status_code}{_error_detail(resp)}"))
                    return
                if "text/event-stream" not in resp.headers.get("content-type", ""):
                    # A server that ignored "stream": one JSON completion.
                    _put_message(events, json.loads(resp.read()))
                    events.put(("done", None))
                    return
                for line in resp.iter_lines():
                    if cancel.is_set():
                        return
                    line = line.strip()
                    if not line or line.startswith(":") or line.startswith(("event:", "id:", "retry:")):
                        continue
                    if not line.startswith("data:"):
                        events.put(("error", "a malformed stream"))
                        return
                    data = line[5:].strip()
                    if data == "[DONE]":
                        events.put(("done", None))
                        return
                    obj = json.loads(data)
                    if isinstance(obj, dict) and obj.get("error"):
                        events.put(("error", "an error in the stream"))
                        return
                    _put_delta(events, obj)
                events.put(("done", None))
        except httpx.TimeoutException:
            events.put(("error", "a timeout"))
        except httpx.StreamClosed:
            events.put(("error", "the stream was closed"))
        except httpx.HTTPError as exc:
            events.put(("error", f"a connection error ({type(exc).__name__})"))
        except (ValueError, KeyError, TypeError, AttributeError, IndexError):
            events.put(("error", "a malformed stream"))
        except Exception as exc:  # noqa: BLE001 - the thread boundary: report, never hang
            events.put(("error", f"an unexpected error ({type(exc).__name__})"))

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
        return EndCall(disposition, summary, callback_text=callback_text, callback_at=callback_at,
                       goodbye=goodbye_line(disposition, self.company,
                                            find_time_phrase(callback_text) if callback_text else None),
                       fields=args.get("fields"))


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
    try:
        resp.read()
        message = (resp.json().get("error") or {}).get("message")
    except (ValueError, AttributeError, httpx.HTTPError):
        return ""
    return f": {str(message)[:120]}" if message else ""


def _put_delta(events: queue.Queue, obj: dict[str, Any]) -> None:
    for choice in obj.get("choices") or []:
        delta = choice.get("delta") or {}
        if delta.get("content"):
            events.put(("text", delta["content"]))
        for call in delta.get("tool_calls") or []:
            fn = call.get("function") or {}
            events.put(("tool", (call.get("index", 0), fn.get("name"), _args(fn.get("arguments")))))


def _put_message(events: queue.Queue, obj: dict[str, Any]) -> None:
    for choice in obj.get("choices") or []:
        message = choice.get("message") or {}
        if message.get("content"):
            events.put(("text", message["content"]))
        for n, call in enumerate(message.get("tool_calls") or []):
            fn = call.get("function") or {}
            events.put(("tool", (n, fn.get("name"), _args(fn.get("arguments")))))


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
