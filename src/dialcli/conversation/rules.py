"""The offline rule-based brain: the simulator's default and the LLM's fallback.

A ``RuleSession`` is a small dialogue state machine over ``intents.read``. Each
caller utterance is read once; intents that settle the call (opt-out, wrong number,
a callback request, a decline, explicit interest) end it in any state, with a
goodbye suited to the label. Everything else depends on what the agent last asked:

* ``OPEN`` (after the greeting): "speaking" -> say why we call, ask if they'd like
  to hear more; a yes / "tell me more" / a question we cannot answer -> offer a
  follow-up from the business (``CONFIRM_INTEREST``); a bare no -> offer a callback
  (``OFFER_CALLBACK``); "who?" -> check we reached the lead (``CONFIRM_IDENTITY``).
* ``CONFIRM_INTEREST``: yes -> INTERESTED (the one clarifying exchange a real agent
  has before writing a lead down as interested); no -> NOT_INTERESTED.
* ``ASK_WHEN`` (callback without a time): a time -> CALLBACK with it; anything
  else -> CALLBACK with the default time (a busy person is not kept on the line).
* ``CONFIRM_IDENTITY``: no -> WRONG_NUMBER; yes -> back to ``OPEN``.
* ``OFFER_CALLBACK``: yes -> ask when; no -> NOT_INTERESTED.
* ``CONFIRM_OPT_OUT`` (after "why do you keep calling me?" the agent asks "Would you
  like me to stop calling this number?" instead of pitching on): yes -> OPT_OUT; no
  -> back to ``OPEN``. ``opt_out_guard`` gives the LLM brain the same two duties.

Questions ("who is this?", "what is this about?", "is this a robot?") are answered
only from the call's context -- the agent's name, the company and purpose found in
the rendered greeting (or prompt) -- and never with invented facts; then the pending
question is asked again. Unclear input gets a polite re-ask; the third unclear turn
in a row, a goodbye, or ``MAX_TURNS`` caller turns end the call as COMPLETED. A
voicemail greeting heard in the first turns ends the call as VOICEMAIL (leaving the
rendered voicemail message when the campaign says so).

Deterministic: no randomness, so a seeded simulation replays exactly.
``EXAMPLE_CALLER_LINES`` are natural lines per simulator persona; the tests assert
each is labelled right, and the simulator may reuse them.
"""

from __future__ import annotations

import re
from datetime import timedelta
from enum import Enum
from functools import cached_property, lru_cache
from typing import Iterator

from dialcli.compliance import disclosure
from dialcli.conversation.callback_time import dicho_en_espanol, said_back, spoken
from dialcli.conversation.lines import every, say, speaks
from dialcli.conversation.base import Brain, BrainSession, CallContext, Chunk, EndCall, Utterance
from dialcli.conversation import intents
from dialcli.conversation.intents import Intent, Reading, first_name, read
from dialcli.models import Disposition, VoicemailAction

MAX_UNCLEAR = 3        # the third unclear turn in a row ends the call
MAX_TURNS = 12         # a conversation that goes nowhere ends politely
VOICEMAIL_TURNS = 2    # a machine greeting is only believed in the first turns

#: Natural callee lines per simulator persona. Each, said as the first reply to the
#: greeting, gets the persona's label: 'interested' lines may first get one
#: clarifying question, answered with ``PERSONA_FOLLOW_UP['interested']``;
#: 'callback' lines without a time get "when?", answered with the follow-up;
#: 'one_word' lines get no label from the brain (the call is too short; the engine's
#: short-call rule makes it NO_ANSWER).
EXAMPLE_CALLER_LINES: dict[str, list[str]] = {
    "interested": [
        "Yes, I'd like to set up a plan.", "Sure, tell me more.", "Sounds good.",
        "Yeah, I'm interested.", "Oh okay, what are my options?",
        "That sounds great, let's do it.", "Yes please, sign me up.",
        "Actually yes, how do I get started?", "Okay, I'm listening.",
        "I would be interested in hearing more.",
    ],
    "not_interested": [
        "No thanks, I'm not interested.", "I'm not interested, thank you.",
        "Not interested.", "No, I don't want that.", "We're all set, thanks.",
        "Nah, not for me.", "I already have one, thanks.", "No thank you, bye.",
        "I'm not really interested right now.", "I'll pass.",
    ],
    "callback": [
        "I'm busy right now, can you call me back tomorrow at 3?",
        "I'm driving, call me back in two hours.",
        "Not a good time. Try me next Tuesday morning.",
        "Can you call me back tomorrow afternoon?",
        "Could you call in an hour?", "I'm at work, call me after 5.",
        "Call me back later.", "I'm in a meeting, can you try again Friday?",
        "This isn't a good time.", "Can't talk now, call me back.",
    ],
    "opt_out": [
        "Please take me off your list and stop calling me.",
        "Don't call me again. Remove my number.",
        "Stop calling this number. Unsubscribe me.", "Remove me from your list.",
        "Put me on your do not call list.", "Do not call this number again.",
        "I want to opt out.", "Take my number off your list, please.",
        "Never call me again!", "Leave me alone and stop calling.",
    ],
    "wrong_number": [
        "You have the wrong number, there's no one here by that name.",
        "Wrong number, sorry.", "I think you have the wrong person.",
        "There's nobody by that name here.", "You've got the wrong number, buddy.",
        "Sorry, I don't know anyone by that name.", "This is not the right number.",
        "No one named that lives here.",
    ],
    "one_word": ["Hello?", "Yeah?", "Hi?", "Yes?", "Hmm?", "Huh?"],
}

#: What each persona says when the agent asks its clarifying question.
PERSONA_FOLLOW_UP: dict[str, str] = {
    "interested": "Yes, please.",
    "callback": "Tomorrow afternoon works.",
}


class State(Enum):
    OPEN = "open"
    CONFIRM_INTEREST = "confirm_interest"
    ASK_WHEN = "ask_when"
    CONFIRM_IDENTITY = "confirm_identity"
    OFFER_CALLBACK = "offer_callback"
    CONFIRM_OPT_OUT = "confirm_opt_out"

#: The one confirming question when a line may or may not revoke consent.
OPT_OUT_QUESTION = "Would you like me to stop calling this number?"


# ----------------------------------------------------------------- context reading

_NAME_WORD = r"[A-Z0-9][\w&'’\-]*"
_COMPANY = rf"({_NAME_WORD}(?:\s+(?:{_NAME_WORD}|&|of|and|de|the)){{0,5}})"
_STOP_TAIL = re.compile(r"\s+(?:of|and|de|the|&)$")


@lru_cache(maxsize=64)
def _company_patterns(agent_name: str) -> tuple[re.Pattern[str], ...]:
    """``company_name``'s patterns for one agent name, compiled once: the greeting's
    three, then the prompt's two more."""
    agent = re.escape(agent_name) if agent_name else r"\w+"
    return tuple(re.compile(p) for p in (
        rf"\b{agent}\b,?\s+(?:here\s+)?(?:from|with|at|of|calling from|calling on behalf of|"
        rf"de parte de|desde|de)\s+{_COMPANY}",
        rf"\b(?:calling|call|llamo|llamamos|llamando)\s+(?:from|on behalf of|de parte de|"
        rf"en nombre de|desde)\s+{_COMPANY}",
        rf"\b(?:on behalf of|here at|from|with)\s+{_COMPANY}",
        rf"\b(?:work|works|working) for\s+{_COMPANY}",
        rf"\brepresent(?:ing|s)?\s+{_COMPANY}",
    ))


def company_name(ctx: CallContext) -> str:
    """The business the agent calls for, as the greeting (or prompt) names it."""
    patterns = _company_patterns(ctx.agent or "")
    for source in (ctx.greeting, ctx.system_prompt):
        for pat in patterns if source is ctx.system_prompt else patterns[:3]:
            m = pat.search(source or "")
            if m:
                name = _STOP_TAIL.sub("", m.group(1)).strip()
                if name and name.lower() not in (ctx.lead_name or "").lower().split():
                    return name
    return ""


_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+")
_SALUTATION = re.compile(r"^(?:hi|hello|hey|good (?:morning|afternoon|evening)|dear)\b")
_ASKS_FOR_SOMEONE = re.compile(r"\bis this\b|\bam i (?:speaking|talking) (?:to|with)\b|\bspeaking with\b")


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_BREAK.split((text or "").strip()) if s.strip()]


_GENERIC_Q = re.compile(
    r"\b(?:have|got) (?:a|one) (?:minute|moment|second|sec)\b|\bgood time\b|\bhow are you\b|"
    r"\bcan you hear me\b|\bis this\b|\bam i (?:speaking|talking)\b", re.I)


def purpose_line(ctx: CallContext) -> str:
    """What the greeting says the call is about (statements first), or ''."""
    keep: list[str] = []
    questions: list[str] = []
    for sentence in _sentences(ctx.greeting):
        low = sentence.lower()
        if _SALUTATION.match(low) and len(low.split()) <= 3:
            continue
        if "this is" in low or "my name is" in low or (ctx.agent and ctx.agent.lower() in low):
            continue
        # "You can press 9 at any time to stop these calls." was said once, in the
        # greeting: repeated as the call's purpose it made the first answer echo it.
        if disclosure.is_notice(sentence):
            continue
        if sentence.endswith("?"):
            if not _GENERIC_Q.search(sentence):
                questions.append(sentence)
            continue
        keep.append(sentence)
    return " ".join(keep or questions[:1])


def _asks_identity(ctx: CallContext, first: str) -> bool:
    if not (ctx.greeting or "").rstrip().endswith("?"):
        return False            # the last sentence is not a question (most greetings)
    last = _sentences(ctx.greeting)[-1].lower()
    return bool(_ASKS_FOR_SOMEONE.search(last)
                or (first and first in last.split()))


_SELF_INTRO = re.compile(r"^(?:(?:no|sorry|um|uh|well|hi|hello|yeah)\s+)*(?:my name is|this is|it is|"
                         r"you are (?:talking|speaking) (?:to|with)) ([a-z]+)(?: speaking| here)?$")
_NOT_NAMES = frozenset("she he her him me it this that the a an his not speaking here busy fine good "
                       "okay ok right correct yes who what sorry".split())
_HOW_ARE_YOU = re.compile(r"\bhow (?:are you|is it going|are things|have you been|is your day)\b|"
                         r"\bhow's (?:it going|your day)\b", re.I)
_FINE = re.compile(r"^(?:(?:oh|yeah|yes|well|um|uh)\s+)*(?:i am|we are|doing|pretty|very)?\s*"
                   r"(?:good|fine|great|well|okay|alright|all right|not bad)\b")


# ------------------------------------------------------------------------- session

#: A simulated population's leads share first names: each is worked out once and
#: remembered, bounded (``intents.read`` remembers whole readings). ``clear_memo``
#: forgets them.
_first_name = lru_cache(maxsize=4096)(first_name)


def clear_memo() -> None:
    """Forget remembered first names, and the readings in ``intents``."""
    _first_name.cache_clear()
    intents.clear_memo()


class RuleSession(BrainSession):
    """One conversation driven by intent rules (see the module docstring)."""

    def __init__(self, ctx: CallContext):
        super().__init__(ctx)
        self.first = _first_name(ctx.lead_name or str(ctx.lead_vars.get("NAME", "")))
        self.display_first = (ctx.lead_name or "").split()[0] if ctx.lead_name else ""
        self.state = State.CONFIRM_IDENTITY if _asks_identity(ctx, self.first) else State.OPEN
        self.unclear = 0
        self.readings: list[Reading] = []

    # What the call's context says, worked out when a reply first needs it: many
    # conversations end before one does.
    @cached_property
    def company(self) -> str:
        return company_name(self.ctx)

    @cached_property
    def purpose(self) -> str:
        return purpose_line(self.ctx)

    # -- the interface -------------------------------------------------------------

    def respond(self, caller_text: str, at_s: float = 0.0) -> Iterator[Chunk]:
        self.transcript.append(Utterance("caller", caller_text, at_s))
        if self.result is not None:
            return
        reading = read(caller_text, self.first)
        previous = self.previous_caller_line()
        if reading.intent is not Intent.OPT_OUT and intents.continued_opt_out(previous, caller_text, self.first):
            # The end of the caller's last turn, cut off by the recogniser ("i asked not
            # to" | "be called"): read as one.
            reading = Reading(Intent.OPT_OUT, reading.flags | {Intent.OPT_OUT}, reading.time_phrase,
                              reading.text, reading.intent)
        if reading.intent is Intent.NOT_INTERESTED and _FINE.match(reading.text) and \
                _HOW_ARE_YOU.search(self.last_agent_line()):
            # "I'm good, thanks" answers "how are you?"; it declines nothing.
            reading = Reading(Intent.GREETING, reading.flags - {Intent.NOT_INTERESTED} | {Intent.GREETING},
                              reading.time_phrase, reading.text)
        if reading.intent in (Intent.UNCLEAR, Intent.CONFIRM_IDENTITY, Intent.GREETING) and \
                self._introduces_someone_else(reading.text):
            # "My name is John" / "this is John" to a call for Maria.
            reading = Reading(Intent.WRONG_NUMBER, reading.flags | {Intent.WRONG_NUMBER},
                              reading.time_phrase, reading.text)
        if reading.rule_intent is not None and self.state is not State.OPEN and (
                reading.rule_intent in _ANSWERING or Intent.DENY in reading.flags) and (
                reading.intent is not Intent.OPT_OUT or self.state is State.CONFIRM_OPT_OUT):
            # A yes or no answers the pending question; the model's guess does not.
            reading = Reading(reading.rule_intent, reading.flags, reading.time_phrase, reading.text)
        self.readings.append(reading)
        reply, end = self.decide(reading)
        if end is None and self.caller_turns >= MAX_TURNS:
            reply, end = "", self._end(Disposition.COMPLETED, "Conversation went on without a decision.")
        if end is not None:
            reply = " ".join(p for p in (reply, end.goodbye) if p)
            self.result = end
        self.transcript.append(Utterance("agent", reply, at_s))
        yield Chunk(reply, end)

    def _introduces_someone_else(self, text: str) -> bool:
        m = _SELF_INTRO.match(text)
        if not m or not self.first:
            return False
        name = m.group(1)
        return name != self.first and name not in _NOT_NAMES and not name.startswith(self.first[:3])

    # -- the dialogue --------------------------------------------------------------

    def decide(self, r: Reading) -> tuple[str, EndCall | None]:
        """The reply to one reading and, if the call is over, its label."""
        i = r.intent
        if i is Intent.OPT_OUT:
            return "", self._end(Disposition.OPT_OUT, "Caller asked not to be called again.")
        if self.state is State.CONFIRM_OPT_OUT:
            if confirms_opt_out(r):
                return "", self._end(Disposition.OPT_OUT,
                                     "Caller confirmed they do not want to be called again.")
            if i is Intent.DENY or (r.has(Intent.DENY) and (
                    i in _CONTINUING or (i is Intent.NOT_INTERESTED and "interest" not in r.text))):
                # "No, it's fine" -- keep calling; the pitch goes on.
                self.unclear = 0
                return self._go_open(self._t("Okay, thank you.")), None
            # Anything else: the question stands until it is answered or the caller
            # says something that settles the call.
        elif i is Intent.MAYBE_OPT_OUT:
            # "Why do you keep calling me?" may be a revocation: ask, never pitch on.
            self.state = State.CONFIRM_OPT_OUT
            self.unclear = 0
            return sorry_and_ask(self.ctx.language), None
        if i is Intent.WRONG_NUMBER:
            return "", self._end(Disposition.WRONG_NUMBER, "Caller said this is the wrong number.")
        if i is Intent.VOICEMAIL and self.caller_turns <= VOICEMAIL_TURNS:
            return "", self._voicemail()
        if i is Intent.CALLBACK or (i is Intent.TIME and self.state is not State.CONFIRM_IDENTITY):
            return self._callback(r)
        if i is Intent.NOT_INTERESTED:
            return "", self._end(Disposition.NOT_INTERESTED, "Caller declined.")
        if i is Intent.INTERESTED:
            return "", self._interested()
        if self.state is State.CONFIRM_INTEREST and i is Intent.ASK_INFO and r.has(Intent.AFFIRM):
            return "", self._interested()          # "Sure, tell me more" to "shall they call?"
        if i in _ANSWERS:
            self.unclear = 0
            return _ANSWERS[i](self), None
        if i is Intent.GOODBYE:
            if self.state is State.ASK_WHEN:
                return "", self._end(Disposition.CALLBACK, "Caller asked for a callback; no time given.")
            return "", self._end(Disposition.COMPLETED, "Caller ended the conversation.")
        if i is Intent.HOLD:
            return self._t("Sure, take your time."), None
        return self._by_state(r)

    def _by_state(self, r: Reading) -> tuple[str, EndCall | None]:
        i, st = r.intent, self.state
        yes = i in (Intent.AFFIRM, Intent.CONFIRM_IDENTITY, Intent.ASK_INFO)
        if st is State.CONFIRM_OPT_OUT:
            return self._unclear(r)
        if st is State.ASK_WHEN:
            if r.time_phrase:
                return self._callback(r)
            if i is Intent.DENY:
                return "", self._end(Disposition.NOT_INTERESTED, "Caller declined a callback.")
            return "", self._end(Disposition.CALLBACK, "Caller asked for a callback; no time given.")
        if st is State.CONFIRM_INTEREST:
            if yes:
                return "", self._interested()
            if i is Intent.DENY:
                return "", self._end(Disposition.NOT_INTERESTED, "Caller declined a follow-up.")
        elif st is State.CONFIRM_IDENTITY:
            if i is Intent.DENY:
                return "", self._end(Disposition.WRONG_NUMBER, "Caller is not the person we called for.")
            if yes:
                return self._go_open(self._t("Great, thank you.")), None
        elif st is State.OFFER_CALLBACK:
            if yes:
                self.state = State.ASK_WHEN
                return self._t("Of course. When would be a better time to call you back?"), None
            if i is Intent.DENY:
                return "", self._end(Disposition.NOT_INTERESTED, "Caller declined.")
        else:  # OPEN
            if i is Intent.CONFIRM_IDENTITY:
                return self._go_open(self._t("Great, thank you.")), None
            if i in (Intent.AFFIRM, Intent.HESITANT):
                return self._offer_follow_up(
                    self._t("Great." if i is Intent.AFFIRM else "No pressure.")), None
            if i is Intent.DENY:
                self.state = State.OFFER_CALLBACK
                return self._t("No problem. Would you like me to call back at a better time?"), None
        return self._unclear(r)

    # -- replies -------------------------------------------------------------------

    def _t(self, template: str, **values: object) -> str:
        """``template`` in the agent's language (``lines.say``)."""
        return say(template, self.ctx.language, **values)

    @property
    def _from(self) -> str:
        return self._t(" from {company}", company=self.company) if self.company else ""

    def _pending_question(self) -> str:
        st = self.state           # only the question asked is built
        if st is State.CONFIRM_INTEREST:
            return self._t("Would you like someone{from_} to follow up with you?",
                           from_=self._from)
        if st is State.CONFIRM_IDENTITY:
            return (self._t("Am I speaking with {name}?", name=self.display_first)
                    if self.display_first else self._t("Am I speaking with the right person?"))
        return self._t(_PLAIN_QUESTIONS[st])

    def _go_open(self, lead_in: str) -> str:
        self.state = State.OPEN
        purpose = f" {self.purpose}" if self.purpose else ""
        return self._t("{lead_in}{purpose} Would you like to hear more?", lead_in=lead_in,
                       purpose=purpose)

    def _offer_follow_up(self, lead_in: str) -> str:
        self.state = State.CONFIRM_INTEREST
        who = self._t("someone{from_}", from_=self._from) if self.company \
            else self._t("someone from our team")
        return self._t("{lead_in} I don't have all the details with me, but {who} can walk you "
                       "through them. Would you like them to follow up with you?",
                       lead_in=lead_in, who=who)

    def _answer_identity(self) -> str:
        if self.company:
            return self._t("This is {agent}, calling{from_}. {question}", agent=self.ctx.agent,
                           from_=self._from, question=self._pending_question())
        return self._t("This is {agent}. {question}", agent=self.ctx.agent,
                       question=self._pending_question())

    def _answer_purpose(self) -> str:
        if self.purpose:
            return f"{self.purpose} {self._pending_question()}"
        if self.company:
            return self._t("I'm calling on behalf of {company}. {question}", company=self.company,
                           question=self._pending_question())
        return self._t("This is {agent}. {question}", agent=self.ctx.agent,
                       question=self._pending_question())

    def _answer_who_for(self) -> str:
        if not self.ctx.lead_name:
            return self._answer_identity()
        self.state = State.CONFIRM_IDENTITY
        first = self.display_first or self.ctx.lead_name
        return self._t("I'm trying to reach {lead}. Am I speaking with {first}?",
                       lead=self.ctx.lead_name, first=first)

    def _answer_number_source(self) -> str:
        if self.company:
            return self._t("Your number is on {company}'s contact list for this call. If you'd "
                           "rather not be called, just say so and I'll take you off the list. "
                           "{question}", company=self.company, question=self._pending_question())
        return self._t("Your number is on our contact list for this call. If you'd rather not "
                       "be called, just say so and I'll take you off the list. {question}",
                       question=self._pending_question())

    def _answer_robot(self) -> str:
        if self.company:
            return self._t("I'm an automated assistant calling on behalf of {company}. {question}",
                           company=self.company, question=self._pending_question())
        return self._t("I'm an automated assistant. {question}", question=self._pending_question())

    def _answer_repeat(self) -> str:
        for utt in reversed(self.transcript[:-1]):
            if utt.role == "agent" and utt.text:
                return utt.text
        return self.ctx.greeting

    def _answer_info(self) -> str:
        if self.state in (State.OPEN, State.CONFIRM_INTEREST):
            return self._offer_follow_up(self._t("Happy to help."))
        return self._t("I don't have those details with me, I'm afraid. {question}",
                       question=self._pending_question())

    def _answer_other(self) -> str:
        if self.state in (State.OPEN, State.CONFIRM_INTEREST):
            return self._offer_follow_up(self._t("That's a good question."))
        return self._t("I'm not able to answer that, I'm afraid. {question}",
                       question=self._pending_question())

    def _unclear(self, r: Reading) -> tuple[str, EndCall | None]:
        self.unclear += 1
        if self.unclear >= MAX_UNCLEAR:
            return "", self._end(Disposition.COMPLETED, "Could not understand the caller.")
        if r.intent is Intent.GREETING:
            purpose = f"{self.purpose} " if self.purpose and self.state is State.OPEN else ""
            return self._t("Hi, this is {agent}{from_}. {purpose}{question}", agent=self.ctx.agent,
                           from_=self._from, purpose=purpose,
                           question=self._pending_question()), None
        if r.intent is Intent.HESITANT:
            return self._t("No pressure. {question}", question=self._pending_question()), None
        return self._t("Sorry, I didn't quite catch that. {question}",
                       question=self._pending_question()), None

    # -- endings -------------------------------------------------------------------

    def _callback(self, r: Reading) -> tuple[str, EndCall | None]:
        if r.time_phrase:
            return "", self._end(Disposition.CALLBACK,
                                 f"Caller asked for a callback: {r.time_phrase}.",
                                 callback_text=self.transcript[-1].text, when=self._when(r))
        if self.state is State.ASK_WHEN:
            return "", self._end(Disposition.CALLBACK, "Caller asked for a callback; no time given.")
        self.state = State.ASK_WHEN
        self.unclear = 0
        return self._t("No problem. When would be a better time to call you back?"), None

    def _when(self, r: Reading) -> str:
        """The caller's time words as said back, with the date they were read as when
        the call knows when it is ("next tuesday, that's Tuesday, December 15"); in
        Spanish the day and hour booked (the rules read Spanish through English words)."""
        placed = self.ctx.placed_at
        said = None if placed is None else \
            placed + timedelta(seconds=self.transcript[-1].at_s if self.transcript else 0)
        if speaks(self.ctx.language) == "es":
            return dicho_en_espanol(r.time_phrase, said, self.ctx.recipient_tz)
        if said is None:
            return spoken(r.time_phrase)
        return said_back(r.time_phrase, said, self.ctx.recipient_tz)

    def _interested(self) -> EndCall:
        return self._end(Disposition.INTERESTED, "Caller is interested and wants a follow-up.")

    def _voicemail(self) -> EndCall:
        return voicemail_end(self.ctx)

    def _end(self, disposition: Disposition, summary: str, *, callback_text: str | None = None,
             when: str | None = None) -> EndCall:
        # Only the INTERESTED goodbye names the company: the others need not find it.
        company = self.company if disposition == Disposition.INTERESTED else ""
        return EndCall(disposition, summary, callback_text=callback_text,
                       goodbye=goodbye_line(disposition, company, when, self.ctx.language))


_ANSWERING = frozenset({Intent.AFFIRM, Intent.DENY, Intent.CONFIRM_IDENTITY})

#: ``_pending_question`` for the states whose question names nobody.
_PLAIN_QUESTIONS = {
    State.OPEN: "Would you like to hear more?",
    State.ASK_WHEN: "When would be a better time to call you back?",
    State.OFFER_CALLBACK: "Would you like me to call back at a better time?",
    State.CONFIRM_OPT_OUT: OPT_OUT_QUESTION,
}

#: Readings that carry on a conversation (a "no" said with them answers the question).
_CONTINUING = frozenset({Intent.DENY, Intent.ASK_PURPOSE, Intent.ASK_OTHER, Intent.ASK_INFO,
                         Intent.ASK_IDENTITY, Intent.UNCLEAR, Intent.HESITANT, Intent.GREETING,
                         Intent.ASK_REPEAT})

_ANSWERS = {
    Intent.ASK_IDENTITY: RuleSession._answer_identity,
    Intent.ASK_WHO_FOR: RuleSession._answer_who_for,
    Intent.ASK_PURPOSE: RuleSession._answer_purpose,
    Intent.ASK_NUMBER_SOURCE: RuleSession._answer_number_source,
    Intent.ASK_ROBOT: RuleSession._answer_robot,
    Intent.ASK_REPEAT: RuleSession._answer_repeat,
    Intent.ASK_INFO: RuleSession._answer_info,
    Intent.ASK_OTHER: RuleSession._answer_other,
}


def voicemail_end(ctx: CallContext) -> EndCall:
    """A machine answered: leave the rendered message if the campaign says so."""
    message = ctx.voicemail_message if ctx.voicemail_action is VoicemailAction.MESSAGE else ""
    return EndCall(Disposition.VOICEMAIL, "Reached a voicemail greeting.", goodbye=message or "")


_GOODBYES = {
    Disposition.OPT_OUT: "Understood, I'm sorry to have bothered you. I'll make sure you "
                         "aren't called again. Goodbye.",
    Disposition.WRONG_NUMBER: "Oh, I'm sorry about that. I'll update our records. "
                              "Have a good day. Goodbye.",
    Disposition.NOT_INTERESTED: "I understand. Thank you for your time, and have a great day. "
                                "Goodbye.",
    Disposition.COMPLETED: "Thanks for your time. Goodbye.",
}


def goodbye_line(disposition: Disposition, company: str = "", when: str | None = None,
                 language: str | None = None) -> str:
    """The last thing the agent says for each label, in the agent's ``language``. Only
    INTERESTED's names the company, only CALLBACK's the time."""
    if disposition == Disposition.INTERESTED:
        team = say("someone from {company}", language, company=company) if company \
            else say("someone from our team", language)
        return say("Wonderful! I'll note that you're interested, and {team} will "
                   "follow up with you. Thank you, goodbye.", language, team=team)
    if disposition == Disposition.CALLBACK:
        return (say("No problem, I'll call you back {when}. Thanks, goodbye.", language,
                    when=when) if when
                else say("No problem, I'll try you again tomorrow. Thanks, goodbye.", language))
    return say(_GOODBYES.get(disposition, "Goodbye."), language)


def confirms_opt_out(r: Reading) -> bool:
    """Is this reading a yes to ``OPT_OUT_QUESTION``? ("yeah", "yes please", "sí",
    "why do you keep calling, yes" -- not "no, it's fine")."""
    return (r.has(Intent.AFFIRM, Intent.CONFIRM_IDENTITY) and not r.has(Intent.DENY)) or \
        r.intent in (Intent.AFFIRM, Intent.MAYBE_OPT_OUT, Intent.OPT_OUT)


def opt_out_guard(caller_text: str, first: str, last_agent_line: str,
                  company: str = "", language: str | None = None, previous: str = ""
                  ) -> tuple[str, EndCall | None] | None:
    """What the agent must say to this line whichever brain is talking, or None.

    Not left to a model: a request to stop calling ends the call as OPT_OUT at once
    (also when this line ends the caller's ``previous`` turn, cut in two by the
    recogniser: "i asked not to" | "be called"); a yes to the confirming question is
    one; a complaint that may be one ("why do you keep calling me?") gets the
    confirming question, once.
    """
    r = read(caller_text, first)
    asked = any(q in (last_agent_line or "") for q in every(OPT_OUT_QUESTION))
    if r.intent is Intent.OPT_OUT or (asked and confirms_opt_out(r)) or \
            intents.continued_opt_out(previous, caller_text, first):
        end = EndCall(Disposition.OPT_OUT, "Caller asked not to be called again.",
                      goodbye=goodbye_line(Disposition.OPT_OUT, company, language=language))
        return end.goodbye, end
    if r.intent is Intent.MAYBE_OPT_OUT and not asked:
        return sorry_and_ask(language), None
    return None


def sorry_and_ask(language: str | None) -> str:
    """The answer to a line that may revoke consent: an apology and ``OPT_OUT_QUESTION``."""
    return say("I'm sorry about the calls. {question}", language,
               question=say(OPT_OUT_QUESTION, language))


class RuleBrain(Brain):
    """The offline brain: no network, no randomness."""

    name = "rules"
    blocking = False

    def __init__(self) -> None:
        # The opt-out model is read now, with the brain, not inside the first reply of
        # the first call (a few hundred ms of a live caller's silence). The LLM brain
        # makes one of these for its opt-out guard, so it is read there too.
        intents.prepare()

    def open(self, ctx: CallContext) -> RuleSession:
        return RuleSession(ctx)
