"""A tiny deterministic brain for tests that need a conversation but not the real
rule brain: the first keyword the caller says decides the disposition."""

from __future__ import annotations

from typing import Iterator

from dialcli.conversation.base import Brain, BrainSession, CallContext, Chunk, EndCall, Utterance
from dialcli.models import Disposition


class KeywordSession(BrainSession):
    """One call: the first rule whose keyword the caller says ends it with that label."""

    RULES = (
        ("remove", Disposition.OPT_OUT), ("stop calling", Disposition.OPT_OUT),
        ("wrong number", Disposition.WRONG_NUMBER), ("call me back", Disposition.CALLBACK),
        ("not interested", Disposition.NOT_INTERESTED), ("interested", Disposition.INTERESTED),
        ("bye", Disposition.COMPLETED),
    )

    def respond(self, caller_text: str, at_s: float = 0.0) -> Iterator[Chunk]:
        self.transcript.append(Utterance("caller", caller_text, at_s))
        low = caller_text.lower()
        for key, disp in self.RULES:
            if key in low:
                end = EndCall(disp, summary=f"said {key!r}",
                              callback_text=caller_text if disp is Disposition.CALLBACK else None,
                              goodbye="Thank you, goodbye.")
                self.result = end
                self.transcript.append(Utterance("agent", end.goodbye, at_s))
                yield Chunk(end.goodbye, end)
                return
        self.transcript.append(Utterance("agent", "I see. Could you tell me more?", at_s))
        yield Chunk("I see. Could you tell me more?")


class KeywordBrain(Brain):
    name = "keyword"

    def open(self, ctx: CallContext) -> BrainSession:
        return KeywordSession(ctx)
