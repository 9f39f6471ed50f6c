"""What did the caller mean? Intent patterns over natural phone speech.

``read(text, first_name)`` returns a ``Reading``: the primary ``Intent`` of one
caller utterance, every intent that matched (``flags``) and the words that say when
to call back (``time_phrase``). The rule brain drives its dialogue from it and the
post-call classifier labels transcripts with it, so both agree.

Speech-to-text gives lowercase or sentence-case text with fillers and contractions.
``normalize`` lowercases, strips fillers ("um", "uh"), expands contractions
("don't" -> "do not", "I'm" -> "i am") and drops punctuation, so one pattern covers
"I'm not interested", "im not interested" and "I am not interested." Negation is
handled by order and by the patterns themselves: "not interested" is checked before
"interested", and the interested patterns refuse a preceding "not".

Priority (the first that matches is the primary intent): opt-out (a compliance
duty: "don't call me again" must never be missed), wrong number, voicemail greeting,
a complaint about being called that may be an opt-out (``MAYBE_OPT_OUT``: the agent
asks), callback, not interested, interested, a time alone ("how about Friday?"), the
specific questions, goodbye, hold, identity confirmation ("speaking"), bare no,
hesitation, bare yes, greeting, unclear.

Accents are stripped, so Spanish is read too ("no me llame", "quíteme de su lista").
A time phrase makes a line a callback only when the line is about when ("tomorrow at
3 works"), never when it is about something else ("the weather is nice today", "the
fourth time you called"). Where the rules find nothing decisive, a word for ending
next to a word for calling is an opt-out, and the trained model (``classifier``)
gives a second opinion; ``Reading.rule_intent`` keeps the rules' own reading then.

What a recogniser does to a request is undone where it can be told: a line cut off
inside its last word that completes only to a request the rules read ("no and stop
calli") is one; a short turn that ends the caller's previous one ("i asked not to" |
"be called") is read with it (``continued_opt_out``); a fragment of one or two words
with no word for stopping ("call", "again") is never made an opt-out by the model.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from dialcli.conversation import classifier
from dialcli.conversation.anyof import AnyOf
from dialcli.conversation.time_phrases import scan


class Intent(StrEnum):
    OPT_OUT = "opt_out"
    MAYBE_OPT_OUT = "maybe_opt_out"      # "why do you keep calling me?": ask before removing
    WRONG_NUMBER = "wrong_number"
    VOICEMAIL = "voicemail"              # an answering-machine greeting, not a person
    CALLBACK = "callback"
    NOT_INTERESTED = "not_interested"
    INTERESTED = "interested"            # explicit interest ("I'd like to set up a plan")
    ASK_IDENTITY = "ask_identity"        # who is this?
    ASK_WHO_FOR = "ask_who_for"          # who are you looking for? / who?
    ASK_PURPOSE = "ask_purpose"          # what is this about?
    ASK_NUMBER_SOURCE = "ask_number_source"
    ASK_ROBOT = "ask_robot"              # am I talking to a machine?
    ASK_REPEAT = "ask_repeat"            # sorry, what?
    ASK_INFO = "ask_info"                # tell me more / how much is it? (engaged)
    ASK_OTHER = "ask_other"              # any other question
    GOODBYE = "goodbye"
    HOLD = "hold"                        # hang on a second
    CONFIRM_IDENTITY = "confirm_identity"  # speaking / that's me
    DENY = "deny"                        # bare no
    HESITANT = "hesitant"                # maybe / not sure
    AFFIRM = "affirm"                    # bare yes / sure / sounds good
    GREETING = "greeting"                # hello?
    TIME = "time"                        # only a time ("tomorrow at 3")
    ANY_TIME = "any_time"                # whenever / any time
    UNCLEAR = "unclear"


@dataclass(frozen=True)
class Reading:
    intent: Intent
    flags: frozenset[Intent]
    time_phrase: str | None
    text: str                     # normalized
    #: The rules' own intent when the trained model's replaced it (else None): a
    #: yes or no that answers the agent's question keeps its meaning there.
    rule_intent: Intent | None = None

    def has(self, *intents: Intent) -> bool:
        return any(i in self.flags for i in intents)


_FILLERS = re.compile(r"\b(?:u+m+|u+h+|e+r+m*|h+m+|a+h+|mm+)\b")
# Only at the start: "like" and "so" carry meaning mid-sentence ("I'd like to").
_LEAD_FILLERS = re.compile(r"^(?:(?:well|oh|so|you know|i mean|look|listen|ok so|okay so)\s+)+")


def _contractions() -> dict[str, str]:
    """Spoken/typed contraction -> expansion, with and without the apostrophe where
    the bare form is not itself a word ("dont" yes, "ill"/"its"/"were" no)."""
    table = {"can't": "can not", "cant": "can not", "cannot": "can not", "won't": "will not",
             "wont": "will not", "ain't": "is not", "aint": "is not", "shan't": "shall not",
             "i'm": "i am", "im": "i am", "let's": "let us", "lets": "let us",
             "y'all": "you all", "gonna": "going to", "wanna": "want to", "gotta": "got to",
             "dunno": "do not know", "ok": "okay",
             # What speech-to-text and thumbs make of the words that matter most.
             "caling": "calling", "callin": "calling", "colling": "calling",
             "cawling": "calling", "calliing": "calling", "cauling": "calling", "kalling": "calling",
             "calin": "calling", "callling": "calling", "kolling": "calling", "koling": "calling",
             "coaling": "calling", "stap": "stop", "stahp": "stop",
             "stopp": "stop", "cll": "call", "calll": "call", "callng": "calling", "cllng": "calling", "remvoe": "remove", "romove": "remove", "unsubcribe": "unsubscribe", "estop": "stop", "nummer": "number", "numbr": "number",
             # Texting shorthand, as some speech-to-text and chat front ends give it.
             "u": "you", "ur": "your", "yall": "you all", "plz": "please", "pls": "please",
             "thx": "thanks", "ty": "thank you", "unsub": "unsubscribe", "harrass": "harass",
             "harrassing": "harassing", "harrassment": "harassment", "harrased": "harassed",
             "harassement": "harassment",
             # Spanish "ll" heard as "y": "no me yame".
             "yame": "llame", "yamen": "llamen", "yames": "llames", "yamar": "llamar",
             "yamarme": "llamarme", "yamando": "llamando", "yamadas": "llamadas", "yameme": "llameme"}
    for verb in ("do", "does", "did", "is", "are", "was", "were", "have", "has", "had",
                 "would", "could", "should", "must", "need"):
        table[f"{verb}n't"] = table[f"{verb}nt"] = f"{verb} not"
    for pron, suffixes in (("i", "ve ll d"), ("you", "re ve ll d"), ("we", "re ve ll d"),
                           ("they", "re ve ll d"), ("he", "ll d s"), ("she", "ll d s"),
                           ("it", "ll s"), ("that", "s d ll"), ("there", "s"), ("who", "s"),
                           ("what", "s"), ("here", "s"), ("where", "s"), ("how", "s")):
        for suf in suffixes.split():
            table[f"{pron}'{suf}"] = f"{pron} " + {"re": "are", "ve": "have", "ll": "will",
                                                  "d": "would", "s": "is"}[suf]
    table["werent"] = "were not"     # the bare "were" stays a word; "werent" is not one
    return table


_CONTRACTIONS = _contractions()
_TOKEN = re.compile(r"[a-z]+(?:'[a-z]+)?")


_RING_AS_CALL = {"ring": "call", "rings": "calls", "ringing": "calling", "rang": "called",
                 "rung": "called"}
_RING = re.compile(r"\b(?:ring|rings|ringing|rang|rung)\b")
_TELEPHONE = re.compile(r"\b(telephone|telephoning|telephoned)\b(?= (?:me|us|here|this|that|my|our|again|"
                        r"anymore|any more|at all|before|after|ever|back)\b|$)")
_SLANG_CALL = re.compile(
    r"\bhit(ting)? (?:(me|us) up|up (my \w+|this \w+)|(my (?:line|phone|cell)))\b|"
    r"\bblow(?:ing)? (?:up )?(my (?:phone|line|cell))(?: up)?\b")
_STAMMER = re.compile(r"\b(?!(?:no|yes|yeah|bye|stop|please|very|really|ha|okay|so|that|had|nah|nope)\b)"
                      r"([a-z]+)(?: \1\b)+")
_AGREEMENT_NOISES = re.compile(r"\b(?:uh[ -]?huh|mm[ -]?hmm+|mhm+|mm[ -]?hm|uh[ -]?hu)\b")


def normalize(text: str) -> str:
    """Lowercase, expand contractions, drop fillers and punctuation."""
    s = (text or "").lower().replace("’", "'").replace("‘", "'")
    if not s.isascii():
        # Spanish callers: "llámame" and "llamame" are one word to the patterns.
        s = "".join(c for c in unicodedata.normalize("NFKD", s) if not unicodedata.combining(c))
    s = _TOKEN.sub(lambda m: _CONTRACTIONS.get(m.group(0), m.group(0)), s)
    s = re.sub(r"[^\w\s']", " ", s).replace("'", "")
    s = _AGREEMENT_NOISES.sub("yes", s)       # "uh huh" is a yes, not "huh?"
    # Fillers out before the speech-to-text repairs below ("don't call uh me a game"), and
    # a stammered word said once ("i i i want to be removed"; not "no no", a decline of its own).
    s = re.sub(r"\s+", " ", _FILLERS.sub(" ", s)).strip()
    if " " in s:
        s = _STAMMER.sub(r"\1", s)
    if "ring" in s or "rang" in s or "rung" in s:    # "don't ring me": one verb for calling
        s = _RING.sub(lambda m: _RING_AS_CALL[m.group(0)], s)
    if "telephon" in s:       # "don't telephone me": the verb is "call"
        s = _TELEPHONE.sub(lambda m: {"telephone": "call", "telephoning": "calling",
                                      "telephoned": "called"}[m.group(1)], s)
    if "hit" in s or "blow" in s:     # slang for calling: "stop hitting me up", "blowing up my phone"
        s = _SLANG_CALL.sub(lambda m: ("calling" if m.group(1) or m.group(0).startswith("blowing") else "call")
                            + " " + (m.group(2) or m.group(3) or m.group(4) or m.group(5)), s)
    if " a g" in s:      # speech-to-text splits "again" ("don't call me a game")
        s = re.sub(r"\b((?:call|calling|contact|dial|ring)\w* (?:me|us|here|this number|this phone|my \w+)) "
                   r"(?:a game|a gain|a gin)\b", r"\1 again", s)
    if "col" in s or "cool" in s or "cul" in s:     # speech-to-text for "calling" and "call"
        s = re.sub(r"\b(stop|quit|keep|keeps|stopped) (?:colin|cold in|coling|collin|colling|cullin)\b", r"\1 calling", s)
        s = re.sub(r"\b(do not|never|not|no) (?:col|cool|coal|cull|cul|cole|kol|caul) (me|us|here|this|again)\b", r"\1 call \2", s)
    if "stock call" in s or "top call" in s:     # speech-to-text for "stop calling"
        s = re.sub(r"(?<!on )\b(?:stock|top) (calling|call) (me|us|here|this|my|our)\b", r"stop \1 \2", s)
    if "do not c" in s:     # speech-to-text: "put me on the do not cold list", "do not called list"
        s = re.sub(r"\bdo not (?:cold|called|col|cool|coal|cull|cul|cal|kol|caul) (list|lists|registry)\b",
                   r"do not call \1", s)
    if "interest " in s or s.endswith("interest"):     # "i'm interest it", "not interest"
        s = re.sub(r"\binterest (?:it|ed|id|did)\b", "interested", s)
        s = re.sub(r"\b(am|are|not|really|very|so|definitely|be) interest\b(?! (?:rates?|free|charges?|payments?|only)\b)",
                   r"\1 interested", s)
    if " cal " in s or " knot " in s:     # speech-to-text: "do knot call", "don't cal me"
        s = re.sub(r"\b(do|does|did) knot\b", r"\1 not", s)
        s = re.sub(r"\b(do not|never|not|no|stop|quit) cal (me|us|here|this|again)\b", r"\1 call \2", s)
    if " a again" in s:     # speech-to-text doubles the article: "don't call me a again"
        s = s.replace(" a again", " again")
    if "op out" in s:      # speech-to-text drops the t: "op out"
        s = re.sub(r"\bop out\b", "opt out", s)
    if "d n c" in s:       # spelled out: "d n c"
        s = re.sub(r"\bd n c\b", "dnc", s)
    if "reach" in s:     # "don't reach out to me again": a verb for calling
        s = re.sub(r"\breach(ing)? out (?:to )?(me|us|this|here|my|again|anymore)\b",
                   lambda m: ("contacting " if m.group(1) else "contact ") + m.group(2), s)
    if " or " in s or " and " in s or " nor " in s:   # "don't text or call me": one verb for the request
        s = re.sub(r"\b(?:text|message|email|mail|e mail|write|txt|sms)(?:ing)? (?:or|and|nor) "
                   r"(?=(?:call|calling|contact|contacting|phone|phoning)\b)", "", s)
    if "call in " in s:       # speech-to-text splits "calling" ("stop call in me")
        s = re.sub(r"\bcall in (me|us|here|this|my)\b", r"calling \1", s)
    s = re.sub(r"\s+", " ", s).strip()
    return _LEAD_FILLERS.sub("", s)


_LEAD_COURTESY = re.compile(
    r"^(?:(?:hi|hello|hey|yes|yeah|yep|okay|so|no(?! (?:more|further|calls?|calling|contact|solicit\w*|mas|"
    r"me|nos|llam\w*|molest\w*|marqu\w*)\b)|nope|nah|sir|maam|miss|listen|look|honestly|seriously|buddy|lady|man|"
    r"dude|bro|well|and|oh|i said|alright|all right|senora|senor|senorita|oiga|mira)\s+)+")
_TRAIL_COURTESY = re.compile(
    r"(?:\s+(?:okay|thanks|thank you|bye|bye bye|goodbye|please|right now|for real|seriously|alright|"
    r"all right|already|man|dude|bro|lady|sir|maam|buddy|gracias|por favor|adios|have a (?:good|nice) (?:day|one)))+$")


def _core(s: str) -> str:
    """``s`` without the courtesies and sign-offs around what was asked ("hi yes ...",
    "... okay thanks bye"), so an opt-out said whole still reads as one."""
    return _TRAIL_COURTESY.sub("", _LEAD_COURTESY.sub("", s))


def _any(*patterns: str) -> AnyOf:
    """Whether any of ``patterns`` matches; each runs only when the words it needs are
    in the line (``anyof``: the long lists cost ~4x less, with the same answers)."""
    return AnyOf(patterns)


_TIME_WORDS = (r"today|tomorrow|tonight|later|again later|this|next|on|at|in|until|before|"
               r"after|around|monday|tuesday|wednesday|thursday|friday|saturday|sunday|"
               r"during|right now|now|while|till|til|too|so early|so late|early|late|past|"
               r"weekends?|sundays|saturdays|mornings|evenings|nights|between")

#: What limits when to call rather than asking not to ("not at work", "not tomorrow, call
#: me Friday instead"): a "could you not call" followed by one of these is no opt-out.
_LIMITS = (r"(?:during|before|after|until|till|between|at (?:work|night|dinner|this time)|on (?:weekends?|sundays?|"
           r"saturdays?|mondays?|tuesdays?|wednesdays?|thursdays?|fridays?)|in the (?:morning|evening|afternoon)|"
           r"while|so early|so late|this early|this late|today|tomorrow|tonight|this (?:morning|afternoon|evening|week)|"
           r"monday|tuesday|wednesday|thursday|friday|saturday|sunday|right now|now|for (?:a|the|now))\b"
           r"(?!(?: \w+){0,3} (?:or at all|ever again|anymore|any more)\b)")
#: "can you guys not", "could you people please not".
_YOU_ALL = r"(?:(?:guys|people|all|folks|two|lot) )?"

_OPT_OUT = _any(
    # Possessive (*+) so "don't call me tomorrow" cannot backtrack into "don't call".
    rf"\b(?:do not|never) (?:ever )?(?:call|contact|phone|ring|text|bother|dial)"
    rf"(?: me| us| this number| here| my number| this phone| this line| anymore| again| back)*+"
    rf"\b(?! (?:back )?(?:{_TIME_WORDS})\b)",
    r"(?<!never )(?<!not )\bstop (?:calling|contacting|ringing|phoning|bothering|texting|dialing)\b",
    r"\b(?:quit|cease) (?:calling|contacting)\b",
    r"\bno more calls?\b",
    r"\b(?:remove|delete|erase|drop) (?:me|us|my (?:number|name|details|info)|this number|my phone)\b",
    # "Get ... from" is where they got it ("what list did you get my number from"), not removal.
    # Not "take me off hold" or "off speaker": the phone's own buttons.
    r"\b(?:take|put|leave) (?:me|us|my (?:number|name)|this number) (?:off|out of|from)\b(?! (?:hold|speaker|mute)\b)",
    r"\bget (?:me|us|my (?:number|name)|this number) (?:off|out of)\b",
    r"\b(?:put|add|place) (?:me|us|my number|this number) on (?:the |your |a )?do not call\b",
    r"\bdo not call list\b", r"\bdnc list\b",
    r"\bunsubscribe\b(?! from (?:my|our|his|her) )", r"\bopt (?:me )?out\b", r"\bopting out\b",
    r"\blose my number\b", r"\bleave (?:me|us|her|him|them|my \w+) (?:alone|be)\b",
    r"\b(?:do not|never) want (?:to be|any more|anymore|more)? ?(?:called|contacted|calls)\b",
    r"\bi will report you\b", r"\bharass(?:ing|ment)?\b",
    r"\bhow (?:do|can) i (?:get|be) (?:removed|taken off)\b",
    # Any reasonable way of saying it (FCC 24-24: consent is revoked "in any
    # reasonable manner"): removal, deletion, revocation, a threat to complain,
    # having said so before, a plain "stop".
    r"\b(?:be|get|being|getting) (?:removed|taken off|deleted|unsubscribed|erased)\b",
    r"\b(?:take|get|put|leave|scratch|cross|strike|wipe|delete|erase|remove|drop|clear) "
    r"(?:me|us|my (?:number|name|info|information|details|data|records?|contact|phone(?: number)?)|"
    r"this (?:number|phone)|our (?:number|names?)) (?:off|out of|(?<!get me )(?<!get us )(?<!number )(?<!name )"
    r"(?<!info )(?<!information )(?<!details )(?<!data )(?<!record )(?<!records )(?<!contact )(?<!phone )from|"
    r"of (?:your|the|this|that))\b(?! (?:hold|speaker|mute)\b)",
    r"\b(?:take|put|leave|scratch|cross|strike|wipe|delete|erase|remove|drop|clear) (?:my|our|this) \w+(?: number)? from\b",
    r"\b(?:wipe|delete|erase|remove|drop|clear|scratch|cross|strike) (?:me|us|my (?:number|name|info|"
    r"information|details|data|records?|contact|phone(?: number)?)|this (?:number|phone)|our (?:number|names?))\b",
    r"\b(?:delete|erase|remove|wipe|purge|pull|drop) (?:all )?(?:my|our) \w+", r"\bdnc\b",
    r"\b(?:remove|take|delete|drop) (?:her|him|them)(?: off| from|$| please)\b",
    r"\b(?:nobody|no one) (?:here )?wants? (?:your|these|the|any) (?:phone )?calls\b",
    r"\b(?:do not|dont) do (?:robo|sales |telemarketing |marketing )?calls\b",
    r"\bdo not call (?:list|registry)\b", r"\b(?:national )?do not call registry\b",
    r"\b(?:i|we) (?:already |have |already have )?(?:told|asked) (?:you|y all|them)(?: \w+)?(?: \w+)? "
    r"(?:not to|to stop|to quit|never to|to not|to take|to remove)\b",
    r"\b(?:never|do not|did not) (?:ever )?want to hear from (?:you|y all|your)\b",
    r"\b(?:never|do not|does not|did not) want (?:any more|anymore|more|these|your|any|the|those|you) ?(?:phone )?"
    r"(?:calls|calling|to call)\b",
    r"\b(?:do not|never) want (?:you|y all|your company|anyone|anybody) (?:\w+ )?(?:calling|to call|contacting|to contact|bothering)\b",
    r"\b(?:do not|does not|never) want to be (?:called|contacted|bothered)\b",
    r"\breport(?:ing)? (?:you|this|your|y all)\b", r"\b(?:report|reporting|reported|complain|complaining|complaint|call|calling|contact|contacting|tell|telling|"
    r"go to|going to(?! be)|goes to|file|filing|notify|notifying|write to|writing to|email) (?:\w+ ){0,4}(?:the )?"
    r"(?:ftc|fcc|attorney general|better business bureau|bbb|federal trade commission)\b",
    r"\b(?:ftc|fcc|bbb) (?:complaint|report|about (?:you|this))\b",
    # Legal threats -- a threat, not any mention of a lawyer ("my lawyer read the lease").
    r"\b(?:sue|suing|lawsuit|legal action|take (?:you|y all|your company|you people|you guys) to court|"
    r"see you in court)\b",
    r"\b(?:call|calling|contact|contacting|get|getting|involve|involving|talk to|talking to|speak to|"
    r"phone|hear from|hearing from|sic) (?:my|our|an?) (?:lawyer|attorney|abogado)\b",
    r"\b(?:my|our) (?:lawyer|attorney) (?:will|is going to|would|can|is gonna|shall|going to)\b"
    r"(?! (?:look|review|read|check|go over|handle|explain))",
    r"(?<!not )\b(?:call|calling|get|getting|contact|phone|phoning|sic) (?:the )?(?:police|cops)\b",
    r"\bif (?:you|y all|you guys|you people|anyone|anybody|somebody|someone|your company) (?:\w+ ){0,2}"
    r"(?:call|calls|ring|rings|contact|contacts|dial|dials|bother|bothers)\w* (?:me |us |here |this number |"
    r"this phone |my \w+ )?(?:again|one more time|ever again|anymore|any more)\b",
    r"\b(?:been|being|be|getting|get|got) reported\b",
    r"\b(?:i|we) (?:have |already |just |already have )?reported (?:you|this|your|y all|the number|it)\b",
    # Spanish threats and refusals of consent.
    r"\b(?:voy|vamos) a (?:reportar|denunciar|demandar|llamar a (?:la policia|mi abogado|un abogado))\w*",
    r"\b(?:los|la|lo|les) (?:voy|vamos) a (?:reportar|denunciar|demandar)\b", r"\bacoso\b",
    r"\bno (?:tienen|tiene|tienes) (?:mi )?(?:permiso|derecho|autorizacion|consentimiento)\b",
    r"\bno (?:les|le|te) (?:di|dimos|he dado|hemos dado) (?:mi )?(?:permiso|autorizacion|consentimiento)\b",
    r"\b(?:retiro|revoco|cancelo|quito) (?:mi |el )?(?:consentimiento|permiso|autorizacion)\b",
    # Letting go of the number, or refusing ever again.
    r"\b(?:lose|forget|toss|trash|burn|shred|ditch|throw (?:away|out)) (?:the|my|our|this|that) "
    r"(?:number|phone number|info|information|details|contact info|digits)\b",
    r"\bforget (?:you |that you )?(?:\w+ )?(?:ever )?(?:had|have|got) (?:this|my|our) (?:phone )?number\b",
    r"^(?:(?:no|and|just|so)\s+)*never again\b(?: (?:ok|okay|please|thanks|alright|all right|got it))*$",
    r"\bnot now (?:and |or )?(?:not )?ever\b", r"\bnot now not ever\b",
    # Having asked before, in any tense ("I keep telling you to stop").
    r"\b(?:i|we) (?:\w+ ){0,2}(?:told|tell|telling|asked|ask|asking|begged|begging|said) (?:you|y all|them|"
    r"you people|you guys|your \w+)(?: \w+){0,2} (?:to stop|not to|to quit|never to|to not|to take|to remove|"
    r"to leave)\b",
    r"\bi am begging you\b.*\bstop\b",
    # "Again" said another way: going forward, from now on, in the future, ever.
    r"\b(?:do not|never|not) (?:ever )?(?:call|contact|ring|phone|text|dial)\w* (?:me |us |here |this number |"
    r"this phone |this line )?(?:going forward|in the future|from now on|ever)\b",
    r"\b(?:going forward|from now on|in the future),? (?:please )?(?:do not|never) (?:call|contact|ring|phone)\b",
    r"\b(?:stop|quit|cut|knock|enough|give it a rest|give me a break|lay off|ease up|cool it|let up)(?: it| that)?"
    r"(?: out| off)? "
    r"with (?:the|these|your|all the|all these|those) "
    r"(?:phone )?(?:calls|calling)\b", r"\b(?:enough|stop|done) with (?:the )?calling\b",
    r"\bcut (?:out|off) (?:the|these|your) (?:phone )?calls\b",
    # Wanting the calls over, in any words: "I want them stopped", "the calls to end".
    r"\b(?:want|need|would like) (?:the calls |these calls |these phone calls |the phone calls |them |it |this |"
    r"(?:it )?all )?(?:to )?(?:stopped|to stop|to quit|ended|to end|to be over|over with)\b"
    # "I'd like to stop paying so much": stopping something else.
    r"(?! (?!(?:receiving|getting|being|hearing|the|these|this|your|them|it|all|calls|calling|please|now|already|"
    r"immediately|right|today|for|and|so|because|okay|thanks|thank)\b)\w+)",
    r"\b(?:not interested|no thanks|no thank you|nope)\s+(?:please\s+)?(?:remove|delete|unsubscribe)\b",
    r"\b(?:remove|delete|pull|drop|erase|purge|scrub|wipe|strike|clear) (?:this|that) (?:number|phone(?: number)?|line)\b",
    r"\b(?:stop|quit|cease) (?:\w+ing )?(?:and \w+ing )?(?:me )?(?:these |the |your |those )?(?:phone )?calls\b",
    r"\b(?:stop|quit|cease) (?:ringing|phoning|texting|dialing|dialling|contacting)\b",
    # Off any record of theirs.
    r"\b(?:off|out of|from) (?:your|the|ur|all your|all of your) (?:books|records|roster|rolodex|files|database|"
    r"system|systems|lists|call list|calling list|contact list)\b",
    r"\b(?:on|registered on|registered with|signed up for) (?:the|a) (?:national |federal |state )?(?:do not call|dnc)\b",
    r"\b(?:are|is) not to (?:be )?(?:call|contact|ring|dial|phone)\w*\b",
    r"\b(?:request|requesting|requested|process|processing) (?:my |for |the )?(?:removal|deletion|opt out)\b",
    r"\b(?:request|requesting|asking) (?:to be|that i be|that we be) (?:removed|taken off|deleted)\b",
    r"\b(?:get|stay|keep) off (?:my|our|this) (?:phone|line|cell)\b",
    r"\b(?:take|get) it off(?: now| right now| please| immediately)?$",
    r"\b(?:remove|delete) it(?: now| right now| please| immediately)?$",
    r"\bno (?:me |nos )?(?:sigan|siga|sigas) (?:llamando|marcando|molestando)\b",
    r"\b(?:quit|saqu|sac|borr|elimin)\w* de (?:su|sus|la|las|esta|tu|tus) (?:lista|listas|llamadas|base de datos|"
    r"sistema|registros?)\b",
    r"\bno quiero que (?:me |nos )?(?:\w+ )?(?:contact|marqu|marc|llam|molest|habl)\w*", r"\bno (?:me |nos )?contact(?:e|en|es|ar|arme|arnos)\b",
    r"^(?:(?:please|just|now|so|okay)\s+)*(?:cease|desist|cease and desist)(?: now| please| immediately)?$",
    r"^(?:(?:please|just|no|okay|so)\s+)*no (?:more |further )?(?:phone )?(?:calls?|calling|contact)\b(?! (?:me|us|back)\b)"
    r"(?! (?:during|before|after|until|till|between|at (?:work|night)|on (?:weekends?|sundays?|saturdays?)|"
    r"in the (?:morning|evening)|while)\b)",
    r"\bno (?:more|further) (?:phone )?(?:calls?|calling|contact)\b",
    r"\bnot (?:be )?on (?:your|the|any|ur) (?:\w+ )?list (?:anymore|any more|again|no more)\b",
    r"^(?:(?:please|seriously|just|like|okay|so)\s+)*(?:can|could|would) you (?:please |just |like |kindly )?not"
    r"(?: (?:call|ring|contact|phone|dial))?(?: me| us| here)?(?: please| anymore| any more)?$",
    r"\b(?:could|can|would|will) you (?:like |just like )(?:not|never) (?:call|contact|ring|dial)\b",
    r"\breport(?:ing)? (?:it|that|the call|this call|the number|this number)\b",
    r"\b(?:call|letter|visit|email) from (?:my|our) (?:lawyer|attorney)\b",
    r"\b(?:get|getting|be|being|got) (?:you )?sued\b",
    r"^(?:(?:oh|just|well|and|so|now)\s+)*(?:shove off|buzz off|bug off|get bent|take a hike|beat it|drop dead|"
    r"sod off|screw off|back off|get off my back)\b",
    r"\b(?:dejen|deje|deja|dejes)(?:me|nos)? (?:en paz|tranquil[oa]s?)\b", r"\b(?:dejenme|dejeme|dejame|dejanos|dejennos) tranquil[oa]s?\b",
    r"\bno mas (?:calls|llamadas|llamados)\b", r"\bno (?:me|nos) (?:call|calles|callen|calls|calling)\b",
    # "Never" as the time to call.
    # "Don't phone this house again": a verb for calling, whatever it is aimed at, then "again".
    # Said to us, not about someone else ("the last guy never called again").
    r"(?:\bdo not|(?:^|\b(?:please|you|and|so|just|now|okay|i said|but) )(?:never|not)) (?:ever )?"
    r"(?:call|contact|phone|ring|dial|text)\w* (?:\w+ ){0,3}(?:again|anymore|any more|no more|ever again)\b",
    # ESL and telegraphic: "no call again", "please no calling me anymore".
    r"\bno (?:call|calling|calls)(?: me| us| here| this number)? (?:again|anymore|any more|no more|more|ever)\b",
    # Formal: "please discontinue", "refrain from calling", "kindly discontinue contact".
    r"\bdiscontinue(?: (?:all |these |the |your |any |further )*(?:calls|calling|contact|contacting|phone calls))?"
    r"(?: please| now| immediately)?$",
    r"\brefrain from (?:\w+ ){0,2}(?:call|contact|phon|dial|ring|reach|solicit|bother)\w*",
    # The last call wished for: "this is the last time I want to hear from you".
    r"\blast (?:time|call) (?:\w+ ){0,2}(?:want|wish|will|going to|ever) (?:\w+ ){0,2}(?:hear|get|call|talk)\w*\b",
    r"\b(?:want|wish|need|better|should|has to|going to) (?:\w+ ){0,3}(?:the )?last (?:time|call)\b"
    r"(?! (?:you|we|i) (?:called|talked|spoke))",
    r"\b(?:no need|no reason) (?:for you |for anyone )?to (?:ever )?(?:call|contact|ring|phone|dial)\w* (?:\w+ ){0,2}"
    r"(?:again|anymore|any more|ever|this number|here|this phone)\b",
    r"\bno need (?:for you |for anyone )?to ever (?:call|contact|ring|phone|dial)\w*",
    r"\bon (?:the|a) (?:national |federal |state )?registry\b",
    # ESL: "i am not needing calls", "not wanting more calls".
    r"\b(?:am not|not) (?:needing|wanting|want|need) (?:any |more |these |your |the |no )*(?:phone )?calls\b",
    r"\byou (?:can|could) (?:please |just )?not (?:call|contact|ring|phone|dial)\w*\b",
    r"\b(?:never|did not|have not) (?:opted in|signed up|agreed|consented)\b(?! (?:for|to) (?!(?:calls|this|these|you|your|any|be)\b))",
    # Found by saying tune opt-outs inside a longer ramble.
    r"\b(?:screw you|go to hell|piss off|bugger off|f off|fuck off|eff off|fuck you|shove off|buzz off|"
    r"bug off|sod off|screw off)\b",
    r"\b(?:tell|let) (?:you|y all|them|the company|your company|your boss|your manager|your people|whoever|"
    r"everyone|everybody) (?:know )?(?:not to|to stop|to quit|never to|i want no|we want no)\b",
    r"\bwant no (?:more |further )?(?:phone )?calls\b", r"\bno want (?:more |any )?calls?\b",
    r"\b(?:put an end to|end) (?:these|the|your|all these|all the|all) (?:phone )?calls\b",
    r"\b(?:nobody|no one) (?:\w+ ){0,3}wants? (?:your|these|the|any) (?:phone )?calls\b",
    r"\b(?:do not|does not|will not) accept (?:\w+ )?(?:calls|solicitation\w*)\b",
    r"\b(?:stop|quit|cease) reaching out\b", r"\bwant to be left alone\b",
    r"\b(?:requested|asked for|said) no (?:more )?(?:phone )?calls\b",
    r"\bnot (?:get|receive|have) (?:these|your|any|the|more|any more) (?:\w+ )?calls\b",
    r"\bthis is (?:a )?(?:spam|scam)(?: call| likely)?\b", r"\bdo not be (?:calling|contacting|ringing|bothering)\b",
    r"\bmake (?:this|it) the last (?:call|time)\b", r"\bcancel\w* (?:las|sus|estas) llamadas\b",
    r"\bya basta\b|\bbasta ya\b", r"\b(?:delete|remove|erase) (?:the |this |my )?number\b",
    r"\b(?:stop|quit) (?:to )?call (?:me|us|here|this)\b", r"\b(?:stop|quit|cease) (?:\w+ )?(?:bugging|pestering)\b",
    r"\bconsent (?:is |has been )?(?:revoked|withdrawn|rescinded)\b",
    r"\b(?:you|y all|you guys|you people|your company) (?:were|have been|was|has been) told not to\b",
    r"\b(?:nobody|no one) (?:here )?(?:asked|wants|wanted|told|invited) (?:you|y all) to (?:call|contact|ring|phone)\b",
    r"\b(?:do not|never|does not) want to (?:get|receive|have) (?:any |these |your )?(?:more |further )?(?:\w+ )?calls\b",
    r"\bdo not want that you (?:call|contact|ring|phone)\b",
    r"\bni (?:me |nos )?(?:llame|llamen|llames|marquen|marque)\b",
    r"\b(?:fregando|chingando|molestando|jodiendo) con (?:\w+ )?llamadas\b",
    r"\bparen(?:le)? (?:con )?(?:las|sus|estas|tantas) llamadas\b",
    r"\bdej\w* de (?:estar )?(?:llam|molest|marc|freg)\w*", r"\bsalir(?:me)? de (?:su|sus|la|esta|tu) lista\b",
    r"\bya estuvo (?:bueno )?(?:de|con) (?:las |sus |tantas )?llamadas\b",
    r"\bno (?:me |nos )?(?:vuelva|vuelvan|vuelvas) a (?:contactar|buscar)\b",
    r"\b(?:done|finished|through) (?:being|getting) (?:called|contacted|bothered|phoned)\b",
    r"\bcall (?:me |us )?(?:back )?never\b", r"\b(?:time|day|when) (?:\w+ ){0,4}is never\b",
    r"^(?:(?:oh|so|well|yeah)\s+)*(?:how about|what about|try) never\b",
    r"^(?:i|we) (?:want|wanna|would like|need) off(?: please| now)?$",
    # Having opted out before.
    r"\b(?:already |have |had |i |we )(?:opted out|unsubscribed|been removed|asked to be removed|"
    r"was removed|were removed|asked not to be called)\b(?! from (?:(?!(?:you|your|y all|these|this|the calls|calls|it)\b)|"
    r"your (?:e ?mails?|newsletters?|mailing|texts?|magazine|app)\b))",
    # Mexican Spanish "hablar" for calling, in requests to stop.
    r"\bno (?:me |nos )?(?:vuelva|vuelvan|vuelvas) a hablar\b", r"\b(?:dejen|deje|deja|dejes) de hablar(?:me|nos)\b",
    r"\bya no (?:me |nos )?(?:hable|hablen|hables)\b", r"\bno (?:me |nos )?(?:hable|hablen|hables) (?:mas|nunca)\b",
    r"\bno quiero que (?:me |nos )?(?:vuelvan a |sigan )?(?:hablen|hable|hablar|hablando)\b",
    r"\b(?:take|get|pull) (?:my|our|this) (?:number|name|info\w*|details|data|phone number) (?:out|off|away)\b",
    r"\b(?:take|get|pull|remove|delete|erase|scratch|cross|strike) (?:my|our|this|the) (?:name|number|info\w*|details|"
    r"phone number|data)(?: and (?:my |our |the )?(?:name|number|info\w*|details|phone number|data|address))+ "
    r"(?:off|out|from)\b",
    r"\b(?:cancel|rid of|ditch|scrap) (?:my|our|this) (?:number|name|info\w*|details|data|phone number)\b",
    r"\bleave (?:this|our|my) (?:phone number|number|phone|line|house|family) alone\b",
    r"\b(?:do not|does not|no longer) consent\b", r"\bsee (?:you|y all) (?:\w+ )?in court\b",
    r"\b(?:i am|we are|i feel|i am being|we are being|i have been|we have been) (?:\w+ )?harassed\b(?! (?:by|at)\b(?! (?:you|y all|your|these|this|the calls)\b))",
    r"\bget (?:you|y all) (?:\w+ )?sued\b",
    r"\bstop (?:robo ?calling|spam calling|spamming|telemarketing)\b",
    r"\bdo not solicit\b", r"\bno soliciting\b",
    r"\b(?:i|we) (?:do not|never) (?:do|take|accept|answer|deal with) (?:phone |telephone |any )?(?:sales|solicitations?|"
    r"telemarketing|soliciting|marketing)(?: calls)?\b",
    # Calls of a kind: "no more robocalls", "stop with the spam calls".
    r"\b(?:no more|no|stop|quit|enough|done|sick of|tired of)(?: with)? (?:the |these |your |all the |all these )?"
    r"(?:robo ?|spam |sales |telemarketing |junk |scam |marketing )(?:calls?|calling)\b",
    # The number itself as the object: "don't call me at this number (anymore)".
    r"\b(?:do not|never) (?:ever )?(?:call|contact|ring|phone|dial|text)\w* (?:me |us |her |him )?(?:at|on) "
    r"(?:this|that) (?:\w+ )?(?:number|phone|line|cell|cellphone|landline)\b",
    r"\b(?:do not|never) (?:ever )?(?:call|contact|ring|phone|dial|text)\w* (?:me |us |her |him )?(?:at|on) "
    r"(?:my|our|her|his) (?:\w+ ){1,2}(?:again|anymore|any more|no more|ever again)\b",
    # A request cut off by the recogniser where nothing else could follow ("don't call this",
    # "put me on do not", "i want off this", "i don't want any more").
    r"\b(?:do not|never) (?:ever )?(?:call|contact|ring|phone|dial|text)\w* (?:this|that|my|our)"
    r"(?: num| numb| numbe| numer| phon| nu)?$",
    r"\b(?:want|like|need|wish) to be (?:remo|remov|rem|re|taken|taken of|tak|delet|dele)$",
    r"^(?:(?:please|just|so|okay)\s+)*(?:remove|delete|erase) (?:my|our)$",
    r"\b(?:put|add|place) (?:me|us|my number|this number|our number) on (?:the |your |a )?do not$",
    r"\b(?:i|we) (?:want|need|would like) off (?:this|the|your|that)$",
    r"\b(?:i|we) (?:do not|never) want (?:any more|anymore|these|those|your|more|no more)$",
    r"^(?:(?:please|just|okay|so|and)\s+)+no more$", r"\b(?:want|like|need) to opt$",
    r"\b(?:i|we) (?:hereby )?(?:revoke|withdraw)\b", r"\b(?:stop|quit) (?:llam|marc|molest)\w*",
    r"\b(?:unlist|delist|de list|unenroll|disenroll)\w* (?:me|us|my|this|our)\b|^(?:please )?(?:list |number |call list )?removal(?: please| now)?$",
    r"\b(?:poner|levantar|presentar|hacer|meter) (?:una |la )?(?:queja|denuncia|demanda|reporte)\b",
    r"\bno (?:autorizo|acepto|deseo|quiero|aceptamos|deseamos) (?:\w+ ){0,2}llamadas\b|\bno deseo que (?:me |nos )?(?:\w+ )?llam",
    # Found by tune probes (brain_tune_stop10.csv), each a class: no need to call ever,
    # the police set on us, the TCPA by its name, someone else having asked before.
    # Oblique refusals (brain_tune_stop10d.csv): a call-free home, a number not for sales,
    # calls saved for someone else, not wanting to see the number again.
    r"\b(?:call|calls|solicitation|telemarketing|sales call) free (?:home|house|zone|household|number|line|phone)\b",
    r"\bsave (?:your|the|these|those) (?:phone )?calls\b",
    r"\b(?:number|phone|line|cell) is not (?:for|taking|accepting) (?:\w+ )?(?:telemarket\w*|sales|solicit\w*|marketing|"
    r"calls)\b",
    r"\b(?:do not|never) waste (?:another|any more|more|a|one more) (?:\w+ )?call\b|\bwaste your time calling (?:me|us|here|"
    r"this|again)\b",
    r"\bforget (?:about )?(?:calling|contacting|ringing|dialing) (?:me|us|here|this|my)\b",
    r"\b(?:do not|never|not) (?:\w+ ){0,3}(?:see|hear) (?:this|your|that) (?:number|name|company|voice)\b",
    r"\bdo not call (?:on|in|to) (?:my|the|this|our) (?:file|account|record|records|number|profile)\b|"
    r"\b(?:put|add|mark|note|flag|set) do not call\b|\bdo not call status\b",
    r"\bno (?:quiero|queremos) saber (?:nada )?(?:mas )?de (?:ustedes|usted|ti|su \w+|esta \w+)\b",
    r"\b(?:do not|never) (?:ever )?(?:call|contact|ring|phone)\w* (?:me |us |here |back |this number )*at all\b",
    r"\bno need (?:for you )?(?:to )?(?:call|calling|contact)\w* (?:\w+ )?(?:again|anymore|any more|no more)\b",
    r"\bya no (?:call|calling|calls|llamadas|llamen|llamar)\b",
    r"\b(?:would|do) you mind (?:not (?:calling|contacting|ringing|phoning)|removing|deleting|taking (?:me|us|my|this) off|"
    r"taking (?:me|us|my \w+|this \w+) (?:off|out))\b|^mind not calling\b",
    r"\b(?:be|is) (?:great|nice|good|best|appreciated|wonderful|lovely) if (?:you|y all|you guys) (?:\w+ )?(?:stopped|"
    r"stop|quit|did not call|would not call|never called|never call|took (?:me|us|my \w+) off|removed)\b",
    r"\b(?:do not|does not|will not) need to (?:ever )?(?:call|contact|ring|phone|dial)\w* (?:\w+ ){0,3}"
    r"(?:again|anymore|any more|ever)\b",
    r"\b(?:have|get|put|sic|send|set) (?:the )?(?:police|cops) (?:on|after) (?:you|y all|your)\b",
    r"\b(?:telephone )?consumer protection (?:act|law)\b|\bviolat\w* (?:of )?(?:the )?(?:tcpa|do not call|"
    r"telephone consumer)\b",
    r"\b(?:he|she|they|my \w+|our \w+) (?:\w+ ){0,2}(?:told|asked|begged|said to) (?:you|y all|them|you people|"
    r"you guys|your \w+)(?: \w+){0,2} (?:to stop|not to|to quit|never to|to not|to take|to remove)\b",
    r"^(?:(?:por favor|ya|mejor)\s+)*(?:borr|saqu|quit|elimin|remuev)\w*(?:me|nos)(?: (?:por favor|ya|de una vez))*$",
    r"\b(?:would rather|rather|prefer|prefer that|would prefer|would appreciate it if|wish) (?:you|y all|that you|if you) "
    r"(?:\w+ )?(?:did not|do not|would not|never|not|wouldnt|didnt) (?:call|contact|phone|bother)\w*\b",
    r"\b(?:add|put|place|keep) (?:me|us|my number|this number|our number|my name) (?:on|to|in) (?:your|the|a) "
    r"(?:\w+ )?(?:do not call|dnc|do not contact|suppression|no call|opt out)\b",
    r"^(?:(?:you are|you re|youre|number|this number is|you have been)\s+)?blocked$",
    r"\btell (?:you|y all|them|your \w+) (?:not to|to stop|to quit|never to)\b",
    r"\bbloque(?:ar|o|e|are|ado|ados|amos|arlos|arte)\b", r"\b(?:los|lo|la|te|les) (?:voy a |vamos a )?bloque\w*",
    r"\b(?:had|have had|had it with|fed up with|done with) (?:enough of )?(?:these|your|the|all these|all the|all your|"
    r"you and your) (?:\w+ )?(?:calls|calling)\b",
    r"\b(?:do not|never|not supposed to|should not|no longer) (?:want to |wish to )?be on (?:your|any|the|this|"
    r"that|ur) (?:\w+ )?list\b",
    r"\b(?:revoke|revoking|withdraw|withdrawing|cancel|take back) (?:my |any |all |the )?(?:consent|permission)\b",
    r"\b(?:did not|never) (?:consent|agree|sign up|opt in|give (?:you )?(?:my )?(?:consent|permission|my number))\b",
    r"\b(?:never )?(?:gave|give) (?:you|y all) (?:my )?permission\b",
    r"\b(?:do not|no longer) have (?:my )?(?:permission|consent)\b",
    r"(?<!never )(?<!not )\b(?:stop|quit|cease) (?:\w+ )?(?:bothering|pestering|harassing|hounding|spamming|calling)\b",
    r"\b(?:stop|enough|quit|done) (?:with )?(?:the|these|your|all the|all these|those) (?:calls|phone calls|calling)\b",
    r"\bno mas (?:llamadas|llamen|me llamen)\b",
    r"\b(?:last|final) time (?:you|y all|you guys|you people) (?:call|ring|contact)\b",
    r"\bremove (?:it|that|this)(?: please| now)?$",
    r"^(?:(?:oh|just|well|and|so)\s+)*(?:screw you|go to hell|get lost|piss off|bugger off|f off|fuck off|"
    r"eff off|fuck you|f you)\b", r"^(?:ya )?basta\b", r"\bbasta de (?:llamadas|llamar)\b",
    r"\bno (?:me |nos )?(?:vuelvan|vuelva|vuelvas) a (?:marcar|llamar)\b",
    r"\b(?:have no|do not have the|do not have any) right to (?:call|contact)\b",
    r"\b(?:not allowed|not supposed|not permitted|should not be) (?:to )?(?:be )?(?:call|calling|contact)\w*\b",
    r"\bdo not (?:ever )?(?:call|contact) (?:me|us|here) at all\b",
    r"\benough (?:calls|calling)\b", r"\b(?:no more|not any more) (?:phone )?(?:calls|calling)\b",
    r"\b(?:sick|tired) (?:and tired )?of (?:these|your|the|you|y all|all the|all these|being)\b",
    r"(?<!not )\b(?:stop|quit) (?:it|that|this)\b", r"(?:^|\b(?:no|please|just|i said|okay|so|now|yeah|oh|hey|"
    r"alright|all right|seriously|god|man|dude|lady|look|listen) )(?:stop|quit)(?: please| now| already)?$",
    r"^(?!.*\b(?:hold on|hang on|wait|one sec|one second|talking|so fast)\b).*(?<!not )\bstop(?: please| now| already)?$",
    r"^(?!.*\b(?:hold on|hang on|wait|one sec|one second|talking|so fast|job|smoking|drinking)\b).*"
    r"(?<!not )(?<!i )(?<!to )(?<!going )\bquit(?: it)?(?: please| now| already)?$",
    r"\b(?:keep|keeps) (?:calling|call) (?:me |us |here )?(?:and|or)\b.*\b(?:stop|quit)\b",
    r"\bgo away\b", r"\bdo not (?:ever )?call (?:me |us |here )?\w+ either\b",
    # Spanish (accents stripped): no me llame, deje de llamar, quiteme de su lista ...
    r"\bno (?:me |nos )?(?:vuelva|vuelvas|vuelvan|vuelvan a|vuelva a|vuelvas a)? ?(?:a )?"
    r"(?:llame|llames|llamen|llamar|llamarme|llamarnos|marque|marquen|marques|marcar|marcarme|molest\w*)\b"
    # "No llames ahorita, mejor mañana": not now, not never.
    r"(?! (?:ahorita|ahora|hoy|manana|en la (?:manana|tarde|noche)|por la (?:manana|tarde|noche)|tan temprano|"
    r"tan tarde|temprano|antes de|despues de|hasta|a esta hora|a estas horas|en el trabajo|al trabajo)\b)",
    r"\b(?:deje|dejen|deja|dejes|dejar) de (?:llamar|molestar|marcar)\w*",
    r"\bya no (?:me |nos )?(?:llame|llames|llamen|llamar)\b",
    # Not "¿de dónde sacaron mi número?" (where did you get it).
    r"\b(?:borr|quit|saqu|sac(?!aron|aste|o\b|an\b|amos)|elimin|remuev|remov|tach)\w* (?:\w+ ){0,2}(?:de (?:su|la|sus|tu|esta|esa) lista|"
    r"(?:mi|mis|nuestro) (?:numero|nombre|informacion|telefono|datos))",
    r"\bno (?:quiero|queremos|quiere|quieren) (?:\w+ )?(?:mas )?llamadas\b", r"\bno quiero que (?:me |nos )?(?:\w+ )?(?:llame|llamen|llames|molest)",
    r"\bno (?:me )?(?:llame|llamen|llames) (?:mas|nunca)\b", r"\b(?:dejen|deje|deja)(?:me|nos) en paz\b",
    r"\bdar(?:me|nos)? de baja\b", r"\blista de no llamar\b", r"\bnunca (?:me |mas )?(?:llame|llamen)\b",
    r"\bno quiero que (?:me |nos )?(?:\w+ ){0,2}(?:llam|molest)\w*",
    r"\b(?:could|can|would|will) you (?:please |just |kindly )?(?:not|never) (?:call|contact|ring|dial)\b"
    rf"(?! (?:me |us |here |this number )?{_LIMITS})",
    # Polite or indirect stop requests, also said mid-ramble (batch 4d): "can you (guys)
    # not", "could you not do this", "can you not keep calling", "please discontinue
    # (these)", "I'd rather you didn't call". Not "can you not hear me?", "could you not
    # tell me the price?", "don't discontinue my service", nor a limit ("can you not call
    # me at work", "... tomorrow instead": when, not whether).
    rf"(?<!why )(?<!how )\b(?:can|could|would|will) you {_YOU_ALL}(?:please |just |like |kindly )?not"
    r"(?: (?:(?:call|ring|contact|phone|dial)\w*(?: me| us| here| this number)?))?(?: please| anymore| any more| again)?$",
    rf"\b(?:can|could|would|will) you {_YOU_ALL}(?:please |just |like |kindly )?not (?:(?:just |please )?do (?:this|that)"
    r"(?: to (?:me|us))?(?! (?:for|with|cheaper|over|by|via|online|instead|deal|now|later|today|tomorrow|another|"
    r"some|in|on|at|without|right|first|quickly|faster|better|yourself|properly)\b)|keep (?:on )?"
    r"(?:calling|phoning|dialing|texting|bothering|bugging|pestering|harassing|doing (?:this|that)))",
    rf"\b(?:can|could|would|will) you {_YOU_ALL}(?:please |just |like |kindly )?(?:not|never) "
    rf"(?:call|contact|ring|phone|dial)\w*\b(?! (?:me |us |here |this number )?{_LIMITS})",
    r"(?<!not )(?<!never )(?<!to )\b(?:please|kindly|just) discontinue\b"
    r"(?! (?:my|our|the|his|her|this|that) (?:\w+ )?(?:service|account|plan|subscription|order|membership|policy|"
    r"coverage|insurance|warranty|medication|meds|treatment|product|line)\b)",
    r"(?<!not )(?<!never )(?<!to )\bdiscontinue (?:these|those|them|it)\b(?! (?:\w+ )?(?:service|account|plan|"
    r"subscription|order|membership|policy|coverage|insurance|warranty|medication|meds|treatment|product)\b)",
    r"(?<!not )(?<!never )(?<!to )\bdiscontinue (?:all |these |the |your |any |further |those )*"
    r"(?:calls|calling|contact\w*|phoning|dialing|ringing|texting|bothering|communication\w*|solicit\w*)\b",
    r"\b(?:rather|prefer(?: it)?(?: if)?|appreciate it if|be grateful if|happier if) you (?:did not|do not|would not|"
    r"never|not) (?:ever )?(?:call|contact|ring|phone|dial|bother)\w*\b"
    rf"(?! (?:me |us |here |this number )?{_LIMITS})",
    r"\bor at all\b(?: really)?$",
    r"\b(?:appreciate it|be grateful|be happy|be happier|prefer it|like it|be nice|be great) if you (?:would |could |just |all |guys )?"
    r"(?:stopped|stop|ceased|cease|quit|discontinued|discontinue) (?:calling|contacting|phoning|ringing|dialing|texting|"
    r"bothering|bugging|pestering|harassing|(?:these|the|your|all|those|with the) (?:\w+ )?(?:calls|calling|contact))\b",
    r"\b(?:please|kindly) (?:refrain|desist)(?: please| now| immediately)?$",
    r"\b(?:did not|would not|do not|not|never) (?:call|contact|ring) (?:me |us |here |this number |this phone )?"
    r"(?:again|anymore|any more|no more|ever again)\b",
    r"^(?:please )?remove(?: please| me| it| us)?$", r"\b(?:want|get|be|take me|keep me|stay) off (?:of )?(?:the|your|this|that|ur|y alls) (?:\w+ )?list\b",
    r"\boff (?:the|your|this|that) (?:calling |call |phone |contact |mailing |dialing )?list\b",
    r"\b(?:block|blocking|blocked|report) (?:you|this number|your number|this|the number|y all)\b",
    r"\b(?:you are|you re|i have you|i got you) blocked\b", r"\bno call list\b",
    r"\b(?:illegal\w*|breaking the law|against the law|tcpa|cease and desist)\b",
    r"\b(?:call|calling) (?:me |here )?(?:again|one more time) and\b", r"\bkeep calling and\b",
    r"^(?:no )?no more$", r"\bknock it off\b", r"^never again$", r"\bi am done with (?:these|your|the) calls\b",
    r"\b(?:make|get) (?:these|the|your) calls (?:to )?stop\b", r"\bstop (?:these|the|your) calls\b",
    r"^(?:please )?no (?:more )?calls\b(?! (?:during|before|after|until|till|between|at (?:work|night)|"
    r"on (?:weekends?|sundays?|saturdays?)|in the (?:morning|evening)|while)\b)", r"\bno (?:solicit\w*|telemarket\w*|sales calls|robocalls)\b",
    # Not "I don't want to miss your calls".
    r"\b(?:do not|never|will not) (?:take|accept|want|allow|answer) (?!(?:\w+ ){0,2}miss)(?:\w+ ){0,3}"
    r"(?:calls|solicit\w*|telemarket\w*)\b",
    r"^(?:this is |that is |it is )?(?:spam|a scam|scam)(?: call| likely)?$",
    r"\bdo not (?:\w+ ){0,4}call(?:ing)? (?:me |us |here )?(?:again|anymore|any more)\b",
    r"\b(?:not|never) to be (?:called|contacted)\b", r"\bto not be (?:called|contacted)\b",
    r"\b(?:file|filing|make|making|lodge|submit) a complaint\b",
    r"\bno (?:me |nos )?(?:este|esten|estes) (?:llamando|molestando|chingando|fregando|jodiendo|marcando|hablando)\b",
    r"\bsi (?:me |nos )?(?:vuelven|vuelve|vuelves|siguen|sigue|sigues) (?:a )?(?:llam|marc|molest)\w*",
    r"\b(?:me|nos) (?:estan|esta|estas) acosando\b|\bacos(?:ando|an|ar|adores?)\b", r"^(?:ya )?no mas(?: por favor)?$",
    r"\b(?:last|final) time i am (?:asking|telling|saying)\b|\bi dare you to (?:call|contact|ring|dial)\b",
    r"\bhow many (?:more )?times (?:do|will|must|should|have) i (?:have to |need to |got to )?(?:ask|tell|say|told|asked)\b",
    r"\b(?:want|need|like) (?:my|our|this) (?:name|number|info\w*|data|details|phone number) "
    r"(?:removed|deleted|taken off|erased|off|gone)\b",
    r"\b(?:want|need|like) (?:it|that|them) (?:gone|removed|deleted|erased|taken off)\b",
    r"\b(?:do not|never) want (?:to (?:get|receive|have) )?any more of (?:these|those|them|this|you|your calls)$", r"^enough(?: already| is enough| of this)?$",
    r"\b(?:i am|we are) (?:done|finished|through) with (?:you|y all|this|these|your)\b",
    r"\bbetter not (?:get|call|hear|receive)\b", r"\b(?:one more|another) call (?:and|from you)\b",
    r"\bdo not call (?:this|my|our) (?:house|home|residence|line|cell|phone|household)\b",
    r"\bout of (?:your|the|this|that) (?:system|database|records|list|files)\b",
    r"\b(?:do not|never|no longer) (?:wish|care|desire) to be (?:called|contacted|bothered|phoned)\b",
    r"\b(?:do not|never|no longer) (?:wish|care) to (?:receive|get|have) (?:\w+ )?(?:calls|phone calls)\b",
    # Found by tune probes (brain_tune_stop11.csv), each a class: formal cessation of
    # communication, "best not to call again", no callback wanted, "don't you ever call",
    # Spain's vosotros forms, sarcasm ("call me again, said nobody ever").
    r"\b(?:cease|discontinue|stop|end|halt) (?:all |any |further |any further |these |the )*"
    r"(?:communications?|contact|correspondence|calls)\b",
    r"\b(?:best|better|wise|smart|wiser) (?:not to|to not|if you did not|if you do not|if you never|you do not) "
    r"(?:ever )?(?:call|contact|ring|phone|dial)\w* (?:me |us |here |this number )?(?:again|anymore|any more|ever)\b",
    r"\b(?:do not|never) want (?:a|any|another|your|no) (?:call back|callback|follow up call|return call)s?\b",
    r"\bdo not you (?:ever |dare |even )+(?:\w+ )?(?:call|contact|ring|phone|dial|text)\w*",
    r"\bno (?:me |nos )?(?:volvais a )?(?:llameis|marqueis|molesteis)\b|\bdejad de (?:llamar|molestar|marcar)\w*",
    r"\b(?:call|calls|calling|contact)\w* (?:\w+ ){0,4}said (?:nobody|no one|noone) ever\b",
    r"\bopt (?:us|this number|my number|our number|this phone) out\b",
    # brain_tune_stop11b.csv: someone else's name off the list, a note not to call,
    # "no quiero volver a recibir", "no vuelvan a contactarme".
    r"\b(?:take|remove|delete|get|scratch|cross|strike) (?:his|her|their) (?:name|number|info\w*|details|phone)"
    r"(?: number)? (?:off|from|out)\b",
    r"\bnot to (?:ever )?(?:call|contact|ring|phone|dial)\w* (?:me|us|here|this number)(?: \w+)? "
    r"(?:again|anymore|any more|ever)\b",
    r"\bno (?:quiero|queremos|deseo|deseamos) (?:volver a )?(?:recibir|tener) (?:\w+ ){0,2}llamadas?\b",
    r"\bno (?:me |nos )?(?:vuelva|vuelvan|vuelvas) a (?:contact|llam|marc|molest|habl)\w*",
    # Letting go of the number, in Spanish: "pierdan/boten/retire/olviden mi número".
    r"\b(?:retir|pierd|bot|tir|olvid)\w* (?:de )?(?:mi|nuestro|este|el) (?:numero|telefono|nombre|datos)\b",
    # Perturbed tune opt-outs (a sign-off after, a ramble around): found as classes.
    r"\bdo not make me (?:tell|ask|say)\w* (?:you |it |this |that )?again\b",
    r"\b(?:hearing|hear) from (?:the |my |our )?(?:ftc|fcc|attorney general|lawyer|attorney|bbb|abogado)\b",
    r"\b(?:den|de|da|dan)(?:me|nos) de baja\b",
    r"\bno (?:quiero|queremos|deseo|deseamos) (?:estar|seguir|aparecer|quedar) en (?:su|sus|la|esa|esta|tu) "
    r"(?:\w+ )?lista\b",
    # brain_tune_stop11d.csv: excluded or suppressed, any of their lists, "this ends now",
    # "not okay to keep calling", Mexican "párenle".
    r"\b(?:exclude|suppress|omit|blacklist)\w* (?:me|us|my (?:number|name|phone)|this number|our number)\b|"
    r"\bexcluded from (?:your|the|these|all) (?:\w+ )?(?:calls|lists?|calling|campaigns?)\b",
    r"\b(?:do not|never|no longer) (?:want to |wish to )?be on (?:any|all) (?:of )?(?:your|ur|these|those) (?:\w+ )?lists?\b",
    r"\b(?:this|it|that|the calling|these calls) (?:ends|stops) (?:now|today|here)\b",
    r"\b(?:do not|never) (?:put|keep|add|store|save|enter) (?:me|us|my (?:number|name|info\w*|details)|this number) "
    r"(?:in|on|into|onto) (?:your|the|any) (?:system|database|list|records|files|lists)\b",
    r"\bnot (?:okay|ok|alright|acceptable|cool|right) (?:for (?:you|y all|you guys|your company) )?to keep "
    r"(?:call|contact|ring|phon|dial)\w*",
    r"^(?:ya )?(?:parenle|parale|parele)(?: ya| por favor| con las llamadas)*$|"
    r"\b(?:parenle|parale|parele) (?:con|de) (?:las llamadas|llamar|marcar)",
    # brain_tune_stop11c.csv: not using the number, pretending never to have had it, a plain
    # ESL "please not call me", calling again called a mistake.
    r"\b(?:stop|quit|do not|never) (?:ever )?us(?:e|ing) (?:my|this|our) (?:phone )?(?:number|phone|info\w*|data|details)\b|"
    r"\bnumber\b.* (?:stop|quit) using it\b|\b(?:permission|consent|right) to use (?:my|this|our) (?:phone )?"
    r"(?:number|phone|info\w*)\b",
    r"\b(?:act like|act as if|pretend|pretend that) (?:you )?(?:never|did not ever) (?:had|have|got) (?:my|this|our) "
    r"(?:phone )?number\b",
    r"\b(?:do not|never) want to get (?:called|contacted|bothered)\b",
    r"\b(?:call|calling|contact)\w* (?:me|us|here) again (?:would be|is|will be) (?:a )?(?:big |huge )?(?:mistake|bad idea)\b",
    r"^(?:(?:please|just|so)\s+)+(?:do )?not (?:call|contact|ring|phone|dial)\w* (?:me|us|here|this number)(?: please)?$",
)


def _may_name(s: str) -> bool:
    """Cheap test first: could ``_NAMING`` find anything in ``s``?"""
    return "call" in s or "llam" in s or "not " in s


#: "Don't call me ma'am" is about a name, not about calling; "I'm not saying stop
#: calling", "no, don't remove me" take back the words of a request.
_NAMING = re.compile(
    r"\b(?:am|was|is|are) not (?:saying|asking|telling (?:you|y all)|asking (?:you|y all)|trying to (?:say|get you to)|"
    r"going to (?:say|ask))(?: (?:you|y all))?(?: to)? (?:stop|quit|not|never|remove|take|cease)\w*"
    r"(?: (?:calling|call|contacting|me|us|it|that|off|the calls))*\b|"
    r"(?:^|\b(?:no|please|but) )(?:do not|you do not have to|no need to) (?:remove|delete|unsubscribe|block|take) "
    r"(?:me|us|my number|this number)(?: (?:off|from|out)(?: (?:the|your) list)?)?\b|"
    r"\bdo not call (?:me|her|him) (?:maam|madam|sir|mister|miss|mrs|ms|mr|honey|sweetie|dear|"
    r"buddy|hon|babe|that|by (?:my|that)|a \w+)\b|\bdo not call me \w+(?: \w+)? call me\b|"
    r"\bdo not call (?:it|that|this) (?!(?:again|anymore|any more|ever|number|phone|line|house|home|cell|old|young|"
    r"okay|thanks|thank|bye|goodbye|please|alright|right|man|dude|sir|maam|now|or|and|i|we|you|ever|"
    r"poor|lady|man|woman|guy|person|family|household|residence|address|elderly|sick)\b)\w+|"
    # "No llames a mi esposo ... háblame a mí": a redirect, as "don't call the landline, call the cell".
    r"\bno (?:le )?llames? a (?:mi|su|tu) \w+\b(?= .*\b(?:hablame|llamame|marcame|hableme|llameme)\b)|"
    r"\bno (?:me )?llames? (?:senora|senor|senorita|don|dona|doctora?|mami|papi|mija|mijo|amor|asi|por mi nombre|"
    r"\w+ llamame)\b|\bno (?:me )?llames? (?:\w+ ){1,3}(?:dime|digame|llamame|llameme|soy)\b|"
    r"\bdo not call (?:back )?(?:(?:me|us) (?:at|on) )?(?:the|my|that|this) (?:\w+ )?(?:landline|home|house|office|"
    r"work|cell|number|phone|line)\b(?= .*\b(?:call|try|reach) (?:me )?(?:on |at )?(?:the|my|me on|me at)\b)|"
    r"\bstop calling me (?:maam|madam|sir|miss|mrs|ms|mr|mister|honey|sweetie|dear|hon|babe|buddy|pal|that)"
    r"(?= (?:i am|it is|call me|my name|just|im)\b)|"
    r"\bstop calling (?:it|that|this) (?:a |an |the )?(?!(?:again|anymore|any more|ever|now|please|already|number|"
    r"okay|thanks|thank|bye|goodbye|alright|right|man|dude|sir|maam|or|and|i|we|you|because|cause|since|so|if|"
    r"phone|line|house|place|home|family|household|office|business|cell|landline|residence|guy|lady|person)\b)\w+|"
    # A question about the list, not a request to be put on it ("is this a do not call registry thing?").
    # (With a greeting before or a sign-off after: "yeah hi is this a do not call thing okay bye".)
    r"^(?:(?:hi|hello|hey|yes|yeah|okay|ok|so|wait|and|well|oh)\s+)*(?:is|are|am|was|were) (?:this|that|it|i|we)"
    r"(?: \w+){0,3} (?:the |a |your |on the )?(?:national )?do not call (?:list|registry)(?: \w+){0,2}"
    r"(?: (?:okay|ok|thanks|thank you|bye|bye bye|goodbye|alright|all right|have a (?:good|nice) (?:one|day)))*$|"
    r"^(?:(?:hi|hello|hey|yes|yeah|okay|ok|so|wait|and|well|oh)\s+)*(?:i am|we are|i am not|we are not) on "
    r"(?:the|a|any|your) (?:\w+ ){0,4}list (?:am i|are we|right|is it)"
    r"(?: (?:okay|ok|thanks|thank you|bye|bye bye|goodbye|alright|all right|have a (?:good|nice) (?:one|day)))*$|"
    # Told to stop calling someone: "my sister told me to stop calling companies back".
    r"\b(?:told|tell|tells|telling|asked|asks|wants|want) me (?:to )?(?:stop|quit|not) (?:to )?(?:call|calling|contact|"
    r"contacting)\w*\b(?! (?:me|us)\b)|"
    # The caller's own habits: "I don't call back numbers I don't know", "we never call companies".
    r"\b(?:i|we) (?:\w+ )?(?:do not|never|rarely|usually do not) (?:call|ring|phone|contact|answer)\b(?! (?:me|us)\b)|"
    r"\b(?:i|we) (?:usually |always |normally |just |often )?(?:block|screen|ignore|report) (?:most|all|every|any|"
    r"unknown|spam|these kinds of|those)(?: \w+)? calls\b|"
    # "No me llame al celular, llame a la casa": a redirect.
    r"\bno (?:me )?(?:llame|llames|llamen) (?:al|a la|a mi|en el|en la) (?:celular|cel|casa|trabajo|oficina|telefono|"
    r"numero|fijo)\b(?= .*\b(?:llam|marqu|habl)\w*)")

#: Complaints about being called that may or may not be a revocation: the agent asks
#: once whether to stop calling ("why do you keep calling me?").
_MAYBE_OPT_OUT = _any(
    r"\b(?:why|how come) (?:do|does|are|did|have|is|you)? ?(?:you|y all|you all|you guys|you people|they|"
    r"u|this number|your company|somebody|someone) (?:\w+ )?(?:keep|keeps|always|still|continue to|"
    r"constantly|been|keep on|calling)(?: \w+)? ?(?:calling|call|ringing|phoning|me|here)?\b",
    r"\bwho (?:keeps|is always|keep) calling\b",
    r"\b(?:you|y all|you guys|you people|they) (?:\w+ )?(?:keep|always|constantly|continually|still) "
    r"(?:on )?(?:calling|call|ringing|phoning)\b",
    r"\bhow many times (?:are|is|do|will|have|has|did|you|y all)\b",
    r"\byou (?:guys |people |all )?(?:already )?(?:called|call) (?:me |here |this number )?"
    r"(?:yesterday|earlier|before|last week|this morning|already|twice|again|too|every day)\b",
    r"\b(?:so many|too many|a lot of|all these|all the|all of these|constant|nonstop|non stop) (?:phone )?calls\b",
    r"\b(?:the|like the|this is the|that is the|it is the) (?:\w+ )?(?:second|third|fourth|fifth|sixth|"
    r"seventh|tenth|hundredth|millionth|umpteenth|\d+(?:st|nd|rd|th)?) (?:time|call)\b",
    r"\b(?:\d+|two|three|four|five|six|seven|eight|nine|ten|twenty|a hundred|several|many|multiple) "
    r"(?:times|calls)\b",
    r"\b(?:siguen|sigue|sigues) llamando\b", r"\bpor que (?:me )?(?:llaman|llama) tanto\b",
    r"\bevery (?:day|single day|week)\b.*\bcall", r"\bcall\w*\b.*\bevery (?:single )?(?:day|week|morning|night|hour)\b",
    r"^(?:(?:ugh|oh|oh god|seriously|man|god|jeez|geez)\s+)*not you (?:guys |people |again)",
    r"\byou (?:guys |people |all )?(?:just|already) called\b", r"^(?:seriously|really|what) again\b",
    r"\bcalls? (?:a|per|every) day\b",
    r"\b(?:tired|sick|fed up|had enough|exhausted) (?:of|with) (?:this|it|you|all this|these)\b",
    r"\b(?:getting|i am getting) (?:tired|sick|fed up|annoyed)\b",
    r"\b(?:company|people|guys|number|ones|same \w+) (?:that|who) (?:keeps? calling|called|calls|were calling)"
    r"(?: me| us| here)?(?: yesterday| earlier| before| last \w+| this morning| again| every day| all the time)\b",
)


_VOICEMAIL = _any(
    r"\b(?:leave|record) (?:me |us )?(?:a |your )?(?:brief |short )?(?:message|name and number)\b",
    r"\b(?:after|at) the (?:tone|beep)\b", r"(?<!your )(?<!a )(?<!the )(?<!my )\bvoice ?mail\b",
    r"\bmailbox\b", r"\bvoice ?mail (?:of|for|box)\b", r"\byou know what to do\b",
    r"\b(?:office|we) (?:is|are) (?:currently |now )?closed\b", r"\bour (?:office |business )?hours are\b",
    r"\bplease hold while we\b", r"\bconnect your call\b", r"\ball circuits are busy\b", r"\breached (?:\w+ ){0,3}voice ?mail\b",
    r"\b(?:not available|unavailable|can not come to the phone|unable to (?:take|answer) your call)\b"
    r".*\b(?:message|tone|beep)\b",
    r"\bthe (?:person|number|subscriber) you (?:are trying to reach|have dialed|called)\b",
    # Carrier and machine messages.
    r"\b(?:customer|subscriber|party|person|number|user|mobile|cellular customer) you (?:are |were |have )?"
    r"(?:calling|called|trying to reach|try to reach|dialed|have dialed|reached)\b",
    r"\bthe (?:person|party|subscriber|customer|user|extension|wireless customer)\b.*"
    r"\b(?:is not available|is unavailable|is not reachable)\b",
    r"\b(?:not|no longer) in service\b", r"\b(?:been|is|was) disconnected\b",
    r"\b(?:can not|could not|cannot) be completed\b", r"\bcall (?:has been |was )?forwarded\b",
    r"\b(?:automated|automatic) (?:voice|message|messaging)\b", r"\bvoice messag\w*\b",
    r"\baway from (?:my|the|our) (?:desk|phone)\b", r"^(?:hi |hello |hey )?(?:you have|youve) reached\b",
    r"\b(?:has|have) reached (?:the )?(?:voicemail|mailbox|residence|office)\b",
    r"\b(?:can not|unable to|not able to) (?:come to|get to|answer|take) (?:the|my|your) (?:phone|call)\b",
    r"\bsorry i missed (?:your|the|you)\b.*\b(?:message|get back)\b",
    r"\bplease try (?:your call )?(?:again )?later\b.*", r"\btry your call again\b",
    r"\b(?:deje|deja|dejen) (?:su|tu|un) (?:mensaje|recado)\b", r"\bdespues del tono\b",
    r"\bno (?:esta|se encuentra) disponible\b", r"\bbuzon\b", r"\b(?:ha|has) llamado a\b",
    r"\bfuera de servicio\b", r"\b(?:esta apagado|fuera del area)\b",
    # Call screeners (Google Call Screen, iPhone call screening): a machine asking who
    # calls and why, heard before any person.
    r"\b(?:say|state|record|leave|tell me) (?:your|their) (?:full )?name and (?:the )?(?:reason|why|what)\b",
    # Phone assistants that answer for their owner ("I'm an assistant answering this call").
    r"\b(?:virtual|automated|ai|digital) assistant\b|\bassistant (?:answering|screening|taking) (?:this|the|your) call\b",
    r"^(?:(?:hi|hello|please)\s+)*(?:say|state|record) your name\b",
    r"\bscreening (?:service|their calls|your call|this call)\b|\bcall screen(?:ing|er)?\b|\bbeing screened\b|"
    r"\b(?:is|are) screening (?:their|his|her|the|this|your) call",
    r"\bsee if (?:this person|the person|they|he|she|the user|your party) (?:is|are) available\b",
    r"\bel numero (?:que )?(?:usted )?(?:marco|ha marcado|llamo|esta llamando|solicitado)\b",
    r"\bnumero\b.*\bno existe\b",
)


# Name-specific patterns are compiled once around a placeholder word; the lead's first
# name is swapped for it in the text. Compiling per name (thousands of distinct names
# in a real list) cost milliseconds per new name -- more than the whole conversation.
_NAME = "xleadnamex"


def _named_patterns() -> tuple[AnyOf, AnyOf, AnyOf, AnyOf]:
    n = _NAME
    return (
        _any(*_WRONG_NUMBER), _any(*_name_patterns(n)),
        _any(*_ASK_WHO_FOR), _any(rf"\bwho (?:the hell |the heck |on earth )?is {n}\b", rf"\b{n} who\b",
                                  rf"^(?:(?:um|so|wait|oh|hi|hello|yes|yeah)\s+)*(?:is (?:this|it|that)|this is|"
                                  rf"you are|are you) (?:a call |calling |looking |asking )?for {n}\b"),
    )


def _with_placeholder(s: str, first: str) -> str | None:
    """``s`` with the lead's first name (a whole word) replaced by the placeholder."""
    if not first or first not in s:
        return None
    words = s.split(" ")
    possessive = f"{first}s"         # "maria's phone" (the apostrophe is gone)
    if first not in words and possessive not in words:
        return None
    return " ".join(_NAME if w == first else f"{_NAME}s" if w == possessive else w for w in words)


def _name_patterns(first: str) -> list[str]:
    if not first:
        return []
    n = re.escape(first)
    return [
        rf"\b(?:there is|there are) no {n}\b", rf"\bno {n} (?:here|at this number)\b",
        rf"\b(?:this|i) (?:is|am) not {n}\b", rf"\b(?:i do not know|never heard of) (?:a |any )?{n}\b",
        rf"\b{n} does not live here\b", rf"\bno one (?:here )?(?:named|called) {n}\b",
        rf"^(?:no |nope )?not {n}\b", rf"\b(?:do not know|dunno) (?:no|any|nobody|no one|a) {n}\b",
        rf"\bwrong {n}\b", rf"\b(?:ninguna?|ningun) {n}\b",
        rf"\b(?:this|that|it) is not {n}s (?:phone|number|cell|line|house)\b", rf"\bno soy {n}\b",
        rf"\b(?:no|este no|esta no) es (?:el (?:numero|telefono|celular) de )?{n}\b",
        rf"\b{n} (?:passed away|passed|died|moved|moved out|moved away|is deceased|no longer lives|does not have "
        rf"this number)\b",
    ]


_WRONG_NUMBER = [
    r"\bwrong (?:number|person|guy|lady|house|people|phone|one|name|household|address)\b",
    r"\b(?:no one|nobody|noone|no body|no person) (?:here |lives here |at this number )?"
    r"(?:by|with|named|called|of) (?:that|this|the|such a) ?(?:name)?\b",
    r"\bno one here (?:named|called|by that name)\b",
    r"\b(?:you have|you got|you have got|got the) (?:the )?wrong\b",
    r"\bnot the right (?:number|person)\b",
    r"\b(?:does|do) not live here\b", r"\bnever heard of (?:him|her|them|that person|that name|this person)\b",
    r"\bi do not know (?:who (?:that|this) is|who you are (?:talking about|looking for)|(?:any|a|an) \w+ by that name|anyone (?:by|named|called)|anybody (?:by|named|called)|that person|this person|him|her)\b",
    r"\b(?:he|she|they) (?:passed away|died|moved (?:out|away)?)\b",
    r"\b(?:this|it) is (?:a|my) new number\b", r"\bjust got this number\b",
    r"\bthis number (?:belongs|is registered) to\b",
    r"\b(?:nobody|no one|noone|no body) (?:here |lives here )?(?:named|called|by the name)\b",
    r"\bthere (?:is|are) no (?:\w+ )?(?:here|at this number|living here|that lives here)\b",
    r"\b(?:passed away|passed on|is deceased|was deceased|are deceased|deceased|died|is dead)\b",
    r"\b(?:this|it) is (?:a |my |our )?(?:new|brand new) (?:number|phone)\b",
    r"\b(?:number|phone|cell phone|cell|line) i (?:just|recently) got\b|\bi (?:just|recently) got (?:this|the|a new) "
    r"(?:number|phone|cell phone|cell|line)\b",
    r"\b(?:had|have had|got) (?:this|the) (?:number|phone) (?:for|since)\b", r"\bjust got this (?:phone|line)\b",
    r"\b(?:this|it) is a (?:business|company|work|office|store|restaurant)(?: line| number| phone)?$",
    r"\byou (?:have )?reached a (?:business|company|store|restaurant|office)\b",
    r"^(?:this is|you have reached|you reached) (?:\w+ ){0,2}(?:pizza|restaurant|store|shop|salon|clinic|"
    r"church|school|hotel|bar|grill|cafe|bakery|garage|dental|law office|auto)\b",
    r"\b(?:dialed|dialled|called|got) (?:the )?wrong\b", r"\bmisdial\w*\b",
    r"^(?:that is|this is|it is|that|it) not me\b", r"^not me\b",
    r"\b(?:i do not know|no idea) who you (?:are )?(?:looking|asking|trying|calling)\b",
    r"\b(?:cause|because) it (?:is not|ain t|is no) me\b", r"\bit is not me\b",
    r"\b(?:numero|number) (?:equivocado|incorrecto|wrong)\b", r"\bequivocad[oa]s?\b", r"\bse equivoc\w*\b",
    r"\b(?:aqui )?no (?:vive|conozco|hay|tenemos) (?:a )?(?:ningun|ninguna|nadie|ningun)\b",
    r"\baqui no vive\b", r"\bno es aqui\b", r"\bno es (?:el|mi) numero\b", r"\bfallecio\b", r"\bmurio\b",
    r"\bno vive (?:aqui|aca|en esta casa)\b", r"\bno longer with us\b", r"\baqui no es\b", r"\bno (?:se encuentra|esta) (?:aqui|aca)\b.*\b(?:nunca|no vive)\b",
    r"\b(?:she|he|they|mom|dad|mother|father|wife|husband) (?:has |have )?passed\b",
    r"\b(?:a|an|some|totally|completely) (?:different|other) (?:person|people|family|name)\b",
    r"\b(?:got|had|have had|have) (?:this|the|that) (?:number|phone|line) (?:a|an|for|since|about|like|only|just) ",
    r"\b(?:you are|you re) (?:calling|trying) (?:a|the) (?:business|company|store|office|hotel|restaurant)\b",
    r"\bfront desk\b", r"\bthis is (?:the )?(?:reception|front office|main office)\b",
    r"\b(?:bought|purchased|rent|rented) (?:this|the) (?:house|home|place|apartment|number) from\b",
    r"\b(?:previous|former|last|old) (?:owner|owners|tenant|tenants|resident|residents)\b",
    r"\byou (?:want|mean|need|are looking for) my (?:neighbor|neighbour)\b",
    r"^(?:i )?(?:do not|dont) know (?:her|him|them|that person)\b", r"\bmy name (?:is not|isnt)\b",
    r"^(?:no |sorry )?i am not (?:her|him|the person|the one|who you|the guy|the lady)\b",
    r"\b(?:number|phone|line) (?:was|has been|got|is) (?:reassigned|recycled|given to me|new)\b",
]

_CALLBACK = _any(
    # "Thanks for calling back" is gratitude, not a request.
    r"(?<!for )\bcall(?:ing)? (?:me |us |her |him )?(?:back|again|later|another time|some other time)\b",
    rf"\bcall (?:me |us )?(?:back )?(?:{_TIME_WORDS}|in the|first thing|after work|around|sometime)\b",
    r"\b(?:try|ring|phone|reach|reach (?:back )?out(?: to)?|catch|contact|get back to|call back) (?:me |us )?"
    r"(?:again |back )?(?:later|back|again|another|some other|tomorrow|tonight|next|this|on|at|in |"
    r"after|around|monday|tuesday|wednesday|thursday|friday|saturday|sunday|the)",
    r"\bi am (?:really |kind of |a bit |a little |just |so |very |pretty )?(?:busy|driving|at work|working|in a meeting|"
    r"in class|at the doctor|on my way|about to|eating|cooking|in the middle of|with (?:a |my )?"
    r"(?:customer|client|patient|kids|family|someone)|on (?:the other line|another call|a call)|"
    r"not (?:free|available) (?:right )?now|out|outside|away|running late|headed out|on the road)\b",
    r"\b(?:not|bad|terrible|awkward) (?:really |exactly |quite |the )?(?:a )?(?:good |great |convenient |best |right )?time\b",
    r"\bnot a good moment\b", r"\bbad moment\b",
    r"\b(?:can not|unable to|not able to) (?:really )?(?:talk|speak|chat)\b",
    r"\bnot (?:right )?now\b", r"\bnow is not\b",
    r"\b(?:another|some other|a better|a different) time\b",
    r"\b(?:later|tomorrow|tonight|next week|another day) (?:would be|is|works|might be) (?:better|good|best|fine)\b",
    r"\b(?:i will|i would) be (?:free|available|around|home|back)\b",
    r"\bi am (?:free|available) (?:tomorrow|later|after|on|at|in|next|this|tonight)\b",
    r"\bin a hurry\b",
    # The lead is away: "she's not here", "he's at work right now" (not "not here anymore").
    r"^(?:(?:no|sorry|oh|um|well|uh)\s+)*(?:she|he) is (?:not (?:here|home|in|available|around)|out|away|at work|"
    r"busy|sleeping|asleep|in the shower|at school)(?: (?:right now|at the moment|now|today|yet))?$",
    r"(?<!to you )\b(?:talk|speak|chat) (?:more )?(?:later|tomorrow|another time)\b",
    r"\b(?:estoy|ando) (?:ocupad[oa]|trabajando|manejando|en (?:una reunion|el trabajo|junta|clase))\b",
    r"\bno puedo (?:hablar|ahorita|ahora)\b", r"\bahorita no\b", r"\bmas tarde\b",
    r"\bllam(?:e|a|en)(?:me|nos) (?:mas tarde|despues|luego|otro dia|otra vez)\b",
)
#: words that make a lone time phrase a callback request ("Friday works better")
_CALLBACK_HINT = re.compile(r"\b(?:better|works|work|good|prefer|free|available|best|fine|okay|instead|then|"
                            r"llam\w*|marc\w*|mejor)\b")

_NOT_INTERESTED = _any(
    r"\bnot (?:\w+ ){0,2}interested\b", r"\bno (?:real )?interest\b", r"\buninterested\b",
    r"\bno,? (?:thanks|thank you|thankyou)\b", r"\bno thanks\b", r"\bthanks but no\b",
    r"\bnot for (?:me|us)\b", r"\bnot at all\b", r"\bno way\b",
    # Not "not really a good time", "not really sure": there it says how much, not no.
    r"\bnot really\b(?! (?:a |the )?(?:good|great|best|right|convenient|sure|certain|free|available|now)\b)",
    # "I'm good" alone may answer "how are you?"; only a clear decline counts.
    r"\b(?:i|we) (?:am|are) all set\b",
    r"\b(?:i|we) (?:am|are) (?:good|fine|okay|covered|happy) (?:with (?:what|my|our|the)|already)\b",
    r"\balready (?:have|got|using|use|with|signed)\b",
    r"\b(?:do not|does not) (?:really )?(?:want|need)\b(?! to (?:talk|speak) (?:right )?now| to think| to miss| to lose| to forget| to bother)",
    r"\bno need\b", r"\b(?:i will|i would rather|we will|going to) pass\b", r"\bpass on (?:it|that|this)\b",
    r"\bnot (?:looking|buying|shopping) (?:for|to)?\b", r"\bcan not afford\b",
    r"\bnot something (?:i|we) (?:want|need)\b", r"\bno i am good\b", r"\bno we are good\b",
    r"\bnot happening\b", r"\bforget it\b", r"\bdecline\b",
    r"\b(?:do not|never) bother\b", r"^(?:no |nah |nope )*never\b(?! mind)(?:$| (?:ever|in a million years|going to happen|gonna happen|no))",
    r"\b(?:i|we) (?:will|would) never\b(?! (?:have|miss|forget))", r"\bcount (?:me|us) out\b",
    # Polite and oblique declines, "yeah no", sarcasm.
    r"^(?:(?:yeah|yes|oh|nah|no|well|honestly|um|uh|thanks|thank you)\s+)*(?:i am|we are|i think i am|"
    r"i think we are) (?:good|fine|okay|all good|set|covered|straight|alright|all right|ok)"
    r"(?: (?:thanks|thank you|on that|with that|on this|for now|though|here|man|buddy|maam|sir|"
    r"really|actually|right now|at the moment|no|appreciate it))*$",
    r"^(?:(?:oh|well)\s+)*(?:no|nah)\s+(?:that is|it is) (?:ok|okay|alright|all right|fine)\b",
    r"^(?:(?:yeah|oh|no|well|nah)\s+)*(?:that is|it is) (?:ok|okay|alright|all right|fine)"
    r"(?: (?:thanks|thank you|i am fine|we are fine|i am good|we are good|i am okay|really|no))+$",
    r"^(?:no |nah |oh )?all good(?: thanks| thank you| here)?$", r"\b(?:i am|we are) (?:set|covered)\b",
    r"\b(?:hard|gonna|going to|i will|we will|i am going to|i am gonna|have to|got to) pass\b",
    r"^pass(?: thanks| thank you)?$", r"\bi pass\b",
    r"\balready (?:did|done|went|bought|switched|installed|taken care)\b",
    r"\bwent with (?:another|someone|somebody|a different|a competitor|the other)\b",
    r"\b(?:stick|sticking|staying|stay) with (?:what|my|our|the one)\b",
    r"\btoo (?:expensive|pricey|much money|costly)\b", r"\bout of (?:my|our) (?:budget|price range)\b",
    r"\b(?:definitely|absolutely|certainly|of course|hell|heck|oh) not\b", r"\bhell no\b", r"\bheck no\b",
    r"^no(?: no)+$", r"\b(?:thanks|thank you|appreciate it|appreciate that|appreciate the call|"
    r"i appreciate it),? but no\b", r"\bbut no(?: thanks| thank you)?$",
    r"\b(?:satisfied|happy|content|fine) with (?:what|my|our|the one|the current|current)\b",
    r"\b(?:i|we) (?:rent|are renting|am renting|am a renter|are renters|do not own)\b(?!.*\bbut\b)",
    r"\bchanged (?:my|our) minds?\b", r"^(?:no |nah )?not (?:anymore|any more)\b",
    r"\bno longer (?:interested|need|want)\b", r"\b(?:i|we) do not think so\b", r"\bprobably not\b",
    r"\bi doubt it\b", r"\b(?:do not|never|will not) (?:buy|do business|purchase|sign up for) (?:\w+ )?"
    r"(?:over the phone|on the phone|from (?:cold )?calls)\b",
    r"\bnot (?:going to|gonna) (?:buy|sign|do)\b", r"\bzero interest\b",
    r"\b(?:i am|we are) (?:good|fine|okay|set) (?:on|with) (?:that|this|it)\b",
    r"\b(?:going to|gonna) say no\b", r"\bthe answer is no\b", r"\bi said no\b",
    r"\bno means no\b", r"\bno es no\b", r"^(?:no |nah )?not today(?: thanks| thank you| sorry)?$",
    r"\byeah right\b", r"\boh sure\b.*\b(?:because|cause|right)\b", r"\bmoney to burn\b",
    r"\banother (?:sales|robo|spam|telemarketing|scam|junk)\w* ?call\b",
    r"\blike i need\b", r"\bnot (?:my|our) thing\b", r"\bnot something (?:i|we) need\b",
    r"\b(?:i|we) am not (?:doing|buying)\b", r"\bi am not doing (?:that|this|it)\b",
    r"\bno (?:me |nos )?interesa\b", r"\bno (?:estoy|estamos) interesad[oa]s?\b", r"\bno necesit\w+\b",
    r"\bno,? gracias\b", r"\bya (?:tengo|tenemos)\b", r"\bno quiero\b(?! que)",
    r"^(?:(?:nah|no|yeah|oh)\s+)*(?:we|i) (?:good|fine|straight|set|cool)(?: (?:thanks|thank you|bro|man|though))*$",
    r"\bnot at (?:this|the moment|the present) ?(?:time|moment)?(?: (?:thanks|thank you|sorry))*$",
    r"\bnot (?:right )?now,? (?:thanks|thank you)\b", r"\b(?:so|but|and|says|said) no(?: thanks| thank you)?$",
    r"\b(?:we|i) am not buying\b", r"\bwe are not buying\b", r"\bnot (?:my|our) cup of tea\b",
    r"^(?:i|we) do not care\b", r"\bnot (?:for|in) (?:the market|me right now)\b",
    r"\b(?:selling|sold|moving|about to move|relocating)\b.*\b(?:house|home|soon|out|place)\b",
    r"^(?:(?:oh|well|no|yeah|actually|sorry)\s+)*(?:we are|i am) (?:moving|relocating|selling)"
    r"(?: (?:soon|away|out|next month|this year|anyway))?$",
    r"\b(?:does not|would not|do not think it would) make sense\b", r"\bno (?:lo|la|los|las) necesit\w+\b",
    r"\b(?:do not|dont) think (?:i am|we are|i would be|we would be|i will be) interested\b",
    r"^(?:no |nope |okay |ok )?(?:thanks|thank you) (?:anyway|anyways|though)$",
    r"\b(?:it is|that is|thats|its) a (?:no|hard no|pass)\b", r"^(?:no sorry|sorry no|no no sorry)$",
    r"\bdecided (?:against|not to)\b", r"\b(?:i am|we are) (?:too old|too busy|retired) for (?:that|this|it)\b", r"^nope (?:i am|we are) (?:fine|good|okay|ok|set)\b",
    r"^not today,? not tomorrow\b",
)

_INTERESTED = _any(
    # "not interested" never reaches here: the decline wins in ``read``.
    r"\b(?:i am|we are|i would be|i might be|"
    r"definitely|very|really|sounds) (?:still |also |actually |definitely |really |very |so |kind of |kinda |"
    r"somewhat |quite |pretty |super )?interest(?:ed|ing)\b",
    r"\b(?:i|we) (?:would|do) like to (?!know (?:who|how|why|what))(?:set|sign|get|start|enroll|"
    r"schedule|book|go|move|hear|learn|know more|try|apply|buy|do|make|talk|speak|see)\w*\b",
    r"\b(?:i|we) want (?:to (?:set|sign|get|start|enroll|schedule|book|go ahead|move|apply|buy|try|"
    r"do (?:it|that|this))|(?:it|that|this|one|in))\b",
    r"\bsign (?:me|us) up\b", r"\bcount (?:me|us) in\b", r"\blet us do (?:it|that|this)\b",
    r"\blet us go (?:ahead|for it)\b", r"\bi am in\b", r"\bgo ahead and (?:set|sign|book|schedule)\b",
    r"\bset (?:it|that|me|us|one|this) up\b", r"\bhow do (?:i|we) (?:sign up|get started|start|enroll|apply)\b",
    r"\bwhat (?:do|would) (?:i|we) need to do\b", r"\bi need (?:that|this|help with)\b",
    r"\bthat would be (?:great|helpful|nice|good|perfect|wonderful)\b", r"\byes please\b",
    r"\b(?:sounds|that is|it is) (?:great|perfect|wonderful|amazing|fantastic)\b",
    r"\b(?:i|we) will (?:take|do) (?:it|one|that|this|them)\b", r"\b(?:book|schedule|sign) (?:me|us)\b",
    r"\bset (?:me|us) up\b", r"\blet us (?:set up|schedule|book|get started|get it)\b",
    r"^(?:(?:yes|yeah|okay|ok|well)\s+)*(?:i am|we are) ready\b", r"\bwhere do (?:i|we) sign\b",
    r"\b(?:send|email|text|mail) (?:me|us) (?:a |an |the |some )?(?:quote|info|information|details|estimate|"
    r"brochure|offer|proposal)\b",
    r"\b(?:i|we) would like (?:a|an|the|to get a) (?:quote|estimate|appointment|consultation|visit)\b",
    r"\b(?:a way|how) to get (?:a|an|my) (?:free )?(?:quote|estimate)\b",
    r"\b(?:how (?:do|can) (?:i|we)|(?:i|we) (?:want|would like) to) opt in\b",
    r"\bhave (?:someone|somebody|a rep|an agent|him|her|them) (?:call|reach|contact|come|get in touch)\b",
    # Information in writing instead of the call: "shoot me an email", "can you email me instead".
    r"(?<!not )(?<!never )\b(?:send|shoot|drop|fire) (?:me|us) (?:an? )?(?:e ?mail|email|text|message)\b",
    r"(?<!not )(?<!never )(?<!do you )(?<!did you )(?<!to )\be ?mail (?:me|us)(?: (?:instead|please|then|something|about it))*$",
    r"\b(?:can|could|when can|when could|when will) (?:someone|somebody|you)(?: guys| all| people)? (?:come out|come by|"
    r"come over|give me an estimate|send someone)\b",
    r"\bwhat (?:is|are) (?:the )?next steps?\b|\bhow do (?:we|i) (?:move forward|proceed|go about (?:it|that|this))\b",
    r"(?<!not )\b(?:you can|you could|just) (?:e ?mail|text|send) (?:me|us)\b",
    r"\b(?:e ?mail|email|text|texting|emailing) (?:is|would be|works|sounds) (?:fine|good|great|better|best|okay|perfect)\b",
    r"\b(?:been|was|were) (?:waiting for|expecting) (?:your|this|you|a)\b", r"\bbeen meaning to\b",
    r"\b(?:hoping|waiting for) (?:you|someone|somebody|y all) (?:would |to |will )?call\b",
    r"(?<!not )\bsend (?:it|that|them|everything|the (?:info|information|details|quote|estimate)) (?:over )?(?:to|by) "
    r"(?:my )?(?:e ?mail|email|inbox)\b",
    r"\b(?:i|we) (?:want|would like|need|would love) to save\b",
    r"\b(?:i|we) would love\b", r"\b(?:i|we) (?:want|wanna) to (?:know|hear|learn|see) more\b",
    r"\b(?:me|nos) interesa\b", r"\b(?:estoy|estamos) interesad[oa]s?\b",
    r"\bquiero (?:mas )?informacion\b",
    r"\bme (?:gustaria|interesaria) (?:saber|conocer|recibir|tener|escuchar) (?:mas|informacion|una cotizacion)\b",
    r"\b(?:was|were) (?:actually |just )?(?:going|about|planning|meaning) to call you\b", r"\bperfect timing\b",
    r"\b(?:i|we) (?:want|need|would like|would love|could use) (?:a|an|the|some) (?:quote|estimate|appointment|"
    r"consultation|visit|plan|payment plan)\b", r"\b(?:i|we) could (?:really )?use (?:that|this|it|one|some)\b",
    r"\b(?:i am|we are) sold\b", r"\byou had me at\b", r"\b(?:mande|mandeme|mandenme|envie|envieme|envienme|mandame) (?:la|mas)? ?informacion\b",
    r"\bsend (?:me|us) (?:something|it|that|info|details) (?:in writing|by email|by mail|over)\b",
    r"\bput (?:me|us) down\b", r"\b(?:exactly|just) what (?:i|we) (?:need|want|were looking for)\b",
    r"\b(?:pay|settle|take care of|clear) (?:it|this|that|the balance|my balance|the debt|the bill|"
    r"what i owe)(?: off)?\b", r"\bpayment plan\b",
    r"\b(?:i|we) would appreciate (?:that|it)\b", r"\b(?:that|it) would be (?:awesome|amazing|lovely|"
    r"fantastic|excellent|cool|ideal|great|helpful|nice|good|perfect|wonderful)\b",
    r"\b(?:want|like|love) to hear (?:the|your|about the|about your|more about the) (?:offer|deal|options|details|plan)\b",
    r"\b(?:can|could|shall) we (?:set up|schedule|book|arrange) (?:a|an|the) (?:appointment|consultation|call|"
    r"meeting|time|visit)\b", r"\bavailable for (?:a|an|the) (?:consultation|appointment|visit|estimate)\b",
    r"^(?:okay |ok |alright )?(?:deal|it is a deal|you have a deal|you got a deal)$", r"\bconvinced me\b",
    r"\b(?:i|we) can pay\b", r"\bmake a payment\b", r"\b(?:mandenme|mandeme|envienme) a alguien\b",
    r"\bagend\w+ (?:una )?cita\b", r"^(?:i am|we are) (?:game|down)$", r"\b(?:let us|i want to|we want to|ready to) (?:move forward|proceed|go ahead)\b",
    r"\b(?:me gustaria|quisiera|quiero) (?:recibir )?(?:mas )?(?:informacion|info)\b", r"\bsounds like a plan\b", r"\b(?:open|down) (?:to|for) (?:it|that|this)\b",
    r"\b(?:can|could|may) (?:i|we) (?:get|have|schedule|book) (?:a|an|the|my|our) (?:free )?"
    r"(?:quote|estimate|appointment|consultation|visit)\b", r"^si (?:quiero|me interesa)\b",
)

_ASK_WHO_FOR = [
    r"\bwho (?:are|were) you (?:looking|asking|calling|trying to reach)(?: for)?\b",
    r"\bwho (?:do|did) you (?:want|need|wish to speak)\b", r"^(?:sorry |excuse me )?who\??$",
    r"\bwho did you say\b", r"\bwho do you want\b",
]
_ASK_IDENTITY = _any(
    r"\bwho (?:is|was) (?:this|that|it|calling|speaking|on the (?:line|phone))\b", r"\bwho are you\b",
    r"\bwhat is your name\b", r"\bwho (?:do you|are you) (?:work|calling) (?:for|with|from)\b",
    r"\bwhere (?:are you|is this|you) calling from\b", r"\bwhat company\b",
    r"\bwho you (?:are|work for|represent)\b",
    r"^(?:(?:so|wait|oh|um|hi|hello|yes|yeah|okay)\s+)*(?:are you|is this|is that)(?: guys| people)? (?:calling )?"
    r"(?:from|with|on behalf of) \w+(?: \w+){0,2}$",
    r"\bwho do you (?:represent|work for)\b", r"\bwho is calling\b", r"\bmay i ask who\b",
    r"\bwith who(?:m)?\b", r"\bwho am i (?:talking|speaking) (?:to|with)\b",
    # Spanish (accents are folded): "¿quién habla?", "¿con quién hablo?", "¿de dónde llama?"
    r"\bquien (?:habla|llama|me llama|es usted|eres|son ustedes)\b", r"^(?:y )?quien es\b",
    r"\bcon quien (?:hablo|estoy hablando)\b", r"\bde parte de quien\b",
    r"\bde donde (?:me )?(?:llama|llaman|habla|hablan)\b",
    r"\bde (?:que|cual) (?:compania|empresa)\b",
)
_ASK_PURPOSE = _any(
    r"\bwhat (?:is|was) (?:this|it|that|the call) (?:about|regarding|for|concerning|in regards to)\b",
    r"\bwhy (?:are|were|did) you (?:calling|call)\b", r"\bwhat do you want\b",
    r"\bwhat (?:are|were) you (?:calling about|selling|offering|calling for)\b",
    r"\breason (?:for|of) (?:the|your|this) call\b", r"\bwhat (?:can|may) i (?:do|help) (?:for )?you\b",
    r"\bwhat is this\b", r"\bhow can i help\b", r"\bwhat is going on\b", r"^why$",
    r"\bde que se trata\b", r"\bpara que (?:me )?(?:llama|llaman|es)\b",
    r"\bcual es el motivo\b", r"^(?:que|en que) (?:desea|quiere|necesita|se le ofrece)\b",
    r"\bque (?:vende|venden|ofrece|ofrecen)\b",
)
_ASK_NUMBER_SOURCE = re.compile(
    r"\b(?:how|where) (?:did|do) you get (?:my|this|our) (?:number|phone|info|information|details|name)\b"
    r"|\bwho gave you (?:my|this) (?:number|info)\b"
    r"|\b(?:como|de donde) (?:consiguio|consiguieron|obtuvo|obtuvieron|saco|sacaron|tiene|tienen) "
    r"(?:mi|este) (?:numero|telefono)\b|\bquien (?:le|les) dio mi (?:numero|telefono)\b")
_ASK_ROBOT = re.compile(
    r"\b(?:are you|is this|am i (?:talking|speaking) (?:to|with)|is that) (?:a |an )?(?:real )?"
    r"(?:robot|bot|machine|computer|ai|artificial|human|person|recording|automated|real person|"
    r"live person)\b"
    r"|\b(?:you are|you re|youre) (?:just )?(?:a |an )?(?:robot|bot|machine|computer|ai|recording)\b"
    r"|\b(?:are you|is this|is that) (?:chat ?gpt|siri|alexa|an? (?:ai|artificial intelligence|chat ?bot))\b"
    # Asking for a person is asking what is on the line: the answer says so, and offers one.
    r"|\b(?:talk|speak) (?:to|with) (?:a |an |some )?(?:real |live |actual )?(?:person|human|human being|representative|"
    r"agent|operator|somebody real|someone real)\b"
    r"|\b(?:transfer|connect|put) (?:me )?(?:to |through to |on with )?(?:a |an )?(?:real |live )?(?:person|human|"
    r"representative|agent|operator)\b(?! (?:on|in) the line)|\bput (?:a|an) (?:real |live )?(?:person|human) on\b"
    r"|^(?:operator|representative|agent|human|real person|live person)(?: please)?$"
    r"|\b(?:es usted|eres|es esto|es esta|estoy hablando con|hablo con) (?:un |una )?"
    r"(?:robot|maquina|grabacion|computadora|inteligencia artificial|persona real|persona de verdad)\b")
_ASK_REPEAT = re.compile(
    r"\b(?:say|repeat) (?:that|it|this)(?: again)?\b|\bwhat did you (?:say|just say)\b|\bpardon\b|"
    r"\bcome again\b|\bi (?:did not|could not) (?:catch|hear|get|understand) (?:that|you|what)\b|"
    r"^(?:sorry |excuse me )?what\??$|^(?:sorry|excuse me|huh)\??$|\bcan not hear you\b|"
    r"\byou are breaking up\b"
    r"|^(?:perdon |disculpe )?(?:que|como)$|\b(?:puede|podria) repetir\b|\bcomo dice\b"
    r"|^no (?:le )?(?:entiendo|entendi|escucho|escuche|oigo)$")
_ASK_INFO = re.compile(
    r"\btell me (?:more|about)\b|\bwhat are (?:my|the|your) options\b|\bhow does (?:it|this|that) work\b|"
    r"\bgo on\b|\bi am listening\b|\b(?:more|any) (?:info|information|details)\b|"
    r"\bwhat (?:do|can) you (?:offer|have|do)\b|\bwhat is the (?:deal|offer|catch|price|cost|rate)\b|"
    r"\bhow much\b|\bexplain\b|\bwhat kind of\b|\bi am all ears\b|\bwhat would (?:it|that|i)\b|"
    r"\bkeep going\b|\bcontinue\b"
    r"|\bcuanto (?:cuesta|cobran|sale|seria|me costaria)\b|\bcomo funciona\b|\bexpliqueme\b"
    r"|\bque (?:opciones|planes) (?:hay|tienen|tengo)\b")
_GOODBYE = re.compile(
    r"\b(?:good ?bye|bye(?: bye)?|see you|see ya|take care|cheers|have a (?:good|nice|great) "
    r"(?:day|one|night|evening|afternoon|weekend)|talk (?:to you )?(?:later|soon|then)|"
    r"(?:got to|have to|need to|must) (?:go|run|hang up)|i am hanging up|hanging up now)\b")
_HOLD = re.compile(
    r"\b(?:hold on|hang on|wait(?: a)?(?: sec(?:ond)?| minute| moment)?|one (?:sec|second|moment|minute)|"
    r"just a (?:sec|second|moment|minute)|give me (?:a|one) (?:sec|second|moment|minute)|"
    r"bear with me)\b"
    r"|^(?:espere|espereme|espera|un momento|un segundo|un momentito|momentito|permitame)\b")
_AFFIRM = re.compile(
    r"^(?:yes|yeah|yep|yup|ya|yea|yah|sure|okay|alright|all right|of course|certainly|absolutely|"
    r"definitely|go ahead|please do|please|why not|sounds good|sounds great|that works|works for me|"
    r"fine|right|correct|uh huh|mhm|indeed|i guess so|i suppose|that is fine|great|perfect|cool|"
    r"you bet|totally|yes sir|yes maam|si|claro|dale|por supuesto|de acuerdo|esta bien|"
    r"do it|do that|exactly|obviously|duh|that is what i (?:want|said|asked for|am saying)|i said yes|"
    # A glad yes ("that would be great", to "would you like me to stop calling?").
    r"that would be (?:great|nice|good|perfect|wonderful|lovely|helpful|appreciated|best)|"
    r"i would (?:like|love|appreciate) (?:that|it)|would love (?:that|it)|i would appreciate)\b|"
    r"\b(?:yes|yeah|sure) (?:please|definitely|of course)\b")
_DENY = re.compile(r"^(?:no|nope|nah|negative|no sir|no maam|not really|no no)\b")
_HESITANT = re.compile(
    r"\b(?:maybe|perhaps|possibly|not sure|i do not know|i am unsure|depends|it depends|"
    r"i will think about it|let me think|i need to think|i have to think)\b")
_GREETING = re.compile(r"^(?:hello|hi|hey|hiya|hallo|yes|yeah|good (?:morning|afternoon|evening))\b")
_ANY_TIME = re.compile(r"\b(?:any ?time|whenever|does not matter|any day|either|your choice|up to you)\b")
_QUESTION_START = re.compile(
    r"^(?:who|what|when|where|why|how|is|are|do|does|did|can|could|will|would)\b(?! not\b)")


_CONFIRM_IDENTITY = _any(
    r"\bspeaking\b", r"\b(?:this|it|that) is (?:me|she|he|him|her)\b", r"\bthat is me\b",
    r"\byou (?:have|got) (?:him|her|me)\b", r"\b(?:yes|yeah) it is\b", r"\bthis is (?:she|he)\b",
    r"\bthat would be me\b", r"\bi am (?:she|he|him|her)\b", r"\bthat is right\b",
)
_CONFIRM_NAME = _any(rf"\b(?:this is|it is|i am|yes) {_NAME}\b", rf"^{_NAME}\b")
_WRONG_STATIC, _WRONG_NAME, _WHO_STATIC, _WHO_NAME = _named_patterns()


def first_name(full: str | None) -> str:
    """The first word of a lead's name, normalized ('' when unknown)."""
    words = normalize(full or "").split()
    return words[0] if words and words[0] != "there" else ""


def prepare() -> None:
    """Read what reading a line needs (the opt-out model) once, now."""
    classifier.model()


def read(text: str, first: str = "") -> Reading:
    """Classify one caller utterance. ``first`` is the lead's normalized first name.

    A reading depends only on the words and, when they contain it, the lead's first
    name; callers say the same short things over and over ("yes", "who is this?"),
    so readings are remembered (bounded: a few MB at most).
    """
    raw = text or ""
    s = _normalized(raw)
    if first and first not in s.split(" ") and f"{first}s" not in s.split(" "):
        first = ""           # the name only matters where it is said ("maria", "maria's")
    r = _read_line(raw, s, first)
    if r.intent not in (Intent.OPT_OUT, Intent.WRONG_NUMBER, Intent.VOICEMAIL) and _cut_off_opt_out(s, first):
        return Reading(Intent.OPT_OUT, r.flags | {Intent.OPT_OUT}, r.time_phrase, r.text, r.rule_intent or r.intent)
    return r


#: Readings a short turn may have and still be the end of the caller's previous one
#: ("i asked not to | be called", "enough with | the calls").
_FRAGMENT_READINGS = frozenset({Intent.UNCLEAR, Intent.ASK_OTHER, Intent.AFFIRM, Intent.DENY, Intent.GREETING,
                                Intent.HESITANT, Intent.MAYBE_OPT_OUT, Intent.TIME, Intent.ANY_TIME})
_CONTINUATION_WORDS = 4


def continued_opt_out(previous: str, text: str, first: str = "") -> bool:
    """Is ``text`` -- a short turn the speech-to-text service cut from the caller's
    ``previous`` one ("i asked not to" | "be called") -- with it an opt-out, where neither
    alone is one? The joined line is read as if said at once."""
    if not previous or not text or len(text.split()) > _CONTINUATION_WORDS:
        return False
    r = read(text, first)
    if r.intent not in _FRAGMENT_READINGS or read(previous, first).intent is Intent.OPT_OUT:
        return False
    return read(f"{previous.rstrip(' .!?,;')} {text}", first).intent is Intent.OPT_OUT


#: Words a request to stop calling ends with, whose start is all that speech-to-text
#: may give of them when the line is cut off ("no and stop calli", "take me off your l").
_KEY_WORDS = tuple(
    "calling call calls called stop list lists number remove removed delete contact contacted contacting "
    "again anymore alone unsubscribe complaint court legal lawyer attorney permission consent harassing "
    "harassment bothering phone house registry reported report discontinue desist cease opted records "
    "database system out ever either robocalls sales solicit soliciting action general scam spam stopped "
    "removal tcpa llamar llamen llame llames llamando llamadas lista marquen marcar molestar molestando "
    "permiso numero".split())
_FRAGMENT = re.compile(r" ([a-z]{3,9})$")


@lru_cache(maxsize=8192)
def _cut_off_opt_out(s: str, first: str) -> bool:
    """Does the line, cut off in its last word, complete to a request the rules read as
    an opt-out ("stop calli" -> "stop calling")? The fragment must be no word callers
    say, and the start of exactly the words tried."""
    m = _FRAGMENT.search(s)
    if not m or m.group(1) in _KEY_WORDS or classifier.is_word(m.group(1)) or (
            s.count(" ") < 2 and _QUESTION_START.match(s)):      # "who dis" is no "who discontinue"
        return False
    frag, head = m.group(1), s[:m.start(1)]
    for word in _KEY_WORDS:
        if word.startswith(frag):
            line = head + word
            done = _read_line(line, line, first)
            if done.intent is Intent.OPT_OUT and done.rule_intent is None:
                return True
    return False


_MEMO = 8192
_BARE_STOP = re.compile(r"^(?:stop|quit|wait)(?: (?:stop|quit|wait))*$")


@lru_cache(maxsize=_MEMO)
def _read_line(raw: str, s: str, first: str) -> Reading:
    """``read`` of one line, its clauses included, remembered whole."""
    r = _reading(raw, s, first)
    if r.intent not in (Intent.OPT_OUT, Intent.WRONG_NUMBER, Intent.VOICEMAIL) and \
            (_SENTENCE_END.search(raw.strip()[:-1]) or s.count(" ") >= 5) and _CLAUSE_GATE.search(s) \
            and not _NOT_A_CLAUSE_OPT_OUT.search(s):
        # Several sentences ("Sorry, I was in the shower. Can you not. Seriously."), or
        # unpunctuated clauses of three words or more: one that alone reads as an
        # opt-out (rules, safety net or model) makes the line one.
        sentences = _SENTENCE_END.split(raw.strip())
        if len([t for t in sentences if t.strip()]) < 2 and s.count(" ") >= 5:
            # A part that is the whole line, its names marked ("don't call my cell, call my
            # house phone"), was read above with them understood: not again without.
            whole = " ".join(_unnamed(s).split())
            sentences = [p for p in _CLAUSE_BREAK.split(f" {_unnamed(s)} ")
                         if p.strip().count(" ") >= 2 and _CLAUSE_GATE.search(p)
                         and " ".join(p.split()) != whole]
        said = [t for t in sentences if t.strip()]
        # What the whole line shows to be a name or a redirect ("Don't call my cell. Call
        # my office line.") is not an opt-out in a sentence of its own either.
        named = [m.group(0) for m in _NAMING.finditer(s)] if _may_name(s) else []
        for k, sentence in enumerate(said):
            if named and any(n in normalize(sentence) for n in named):
                continue
            if k < len(said) - 1 and _BARE_STOP.match(_core(normalize(sentence))):
                continue         # "Stop, stop. Let me grab a pen.": a bare stop mid-line may mean "wait"
            if sentence.strip() == raw.strip():
                continue
            part = read(sentence, first)
            # A clause around a name or redirect the line made ("xnamedx call my house
            # phone") is the rules' to judge: the model never saw the marker.
            if part.intent is Intent.OPT_OUT and not ("xnamedx" in sentence and part.rule_intent is not None):
                return Reading(Intent.OPT_OUT, r.flags | {Intent.OPT_OUT}, r.time_phrase, r.text,
                               r.rule_intent or r.intent)
    return r


@lru_cache(maxsize=_MEMO)
def _normalized(raw: str) -> str:
    return normalize(raw)


def _reading(raw: str, s: str, first: str) -> Reading:
    flags: set[Intent] = set()
    spec = scan(raw) if s else None
    time_phrase = None if spec is None or spec.empty else spec.words
    question = raw.strip().endswith("?") or bool(_QUESTION_START.match(s))

    def hit(intent: Intent, pattern: AnyOf | re.Pattern[str],
            named: AnyOf | re.Pattern[str] | None = None) -> None:
        if pattern.search(s) or (named is not None and with_name is not None
                                 and named.search(with_name)):
            flags.add(intent)

    with_name = _with_placeholder(s, first)

    # "Don't call me ma'am", "I never call back numbers I don't know": about a name or
    # the caller's own habits, not about our calls -- for the rules and the model alike.
    plain = _NAMING.sub(" ", s) if _may_name(s) else s
    if _OPT_OUT.search(plain) or ((core := _core(plain)) != plain and _OPT_OUT.search(core)) or \
            _opt_out_in_a_clause(s, raw):
        flags.add(Intent.OPT_OUT)
    hit(Intent.MAYBE_OPT_OUT, _MAYBE_OPT_OUT)
    if Intent.MAYBE_OPT_OUT in flags:
        # "The fourth time you called today" is a complaint, not a date.
        time_phrase = None
    hit(Intent.WRONG_NUMBER, _WRONG_STATIC, _WRONG_NAME)
    hit(Intent.VOICEMAIL, _VOICEMAIL)
    hit(Intent.CALLBACK, _CALLBACK)
    if time_phrase and _CALLBACK_HINT.search(s):
        flags.add(Intent.CALLBACK)
    hit(Intent.NOT_INTERESTED, _NOT_INTERESTED)
    hit(Intent.INTERESTED, _INTERESTED)
    hit(Intent.ASK_IDENTITY, _ASK_IDENTITY)
    hit(Intent.ASK_WHO_FOR, _WHO_STATIC, _WHO_NAME)
    hit(Intent.ASK_PURPOSE, _ASK_PURPOSE)
    hit(Intent.ASK_NUMBER_SOURCE, _ASK_NUMBER_SOURCE)
    hit(Intent.ASK_ROBOT, _ASK_ROBOT)
    hit(Intent.ASK_REPEAT, _ASK_REPEAT)
    hit(Intent.ASK_INFO, _ASK_INFO)
    hit(Intent.GOODBYE, _GOODBYE)
    hit(Intent.HOLD, _HOLD)
    hit(Intent.CONFIRM_IDENTITY, _CONFIRM_IDENTITY, _CONFIRM_NAME)
    hit(Intent.DENY, _DENY)
    hit(Intent.HESITANT, _HESITANT)
    hit(Intent.ANY_TIME, _ANY_TIME)
    if _AFFIRM.search(s) and not (question and len(s.split()) <= 2):
        flags.add(Intent.AFFIRM)
    if _GREETING.match(s) and len(s.split()) <= 3:
        flags.add(Intent.GREETING)
    if time_phrase and _only_time(spec.rest):
        flags.add(Intent.TIME)     # "tomorrow at 3", "how about Friday?" -- not "nice weather today"
    if question and not flags & _QUESTIONS and (_QUESTION_START.match(s) or len(s.split()) >= 3):
        flags.add(Intent.ASK_OTHER)
    # "Not interested" also matches the negated interest patterns' words; the explicit
    # decline wins. A request to stop calling is never just "not interested".
    if Intent.INTERESTED in flags and Intent.CALLBACK in flags and not time_phrase and _SOMEONE_TO_CALL.search(s):
        # "Can you have someone call me back about the quote": a follow-up asked for.
        flags.discard(Intent.CALLBACK)
    if Intent.NOT_INTERESTED in flags:
        flags.discard(Intent.INTERESTED)
        if not time_phrase and _DECLINE_LAST.search(s):
            flags.discard(Intent.CALLBACK)    # "maybe some other time, but no"
    if Intent.OPT_OUT in flags and _TIMING_ONLY.match(s):
        # "Stop calling so early": about when, or maybe about whether -- the agent asks.
        flags.discard(Intent.OPT_OUT)
        flags.add(Intent.MAYBE_OPT_OUT)
    intent = next((i for i in _PRIORITY if i in flags), Intent.UNCLEAR)
    if intent is Intent.GOODBYE and Intent.DENY in flags:
        intent = Intent.NOT_INTERESTED       # "No. Goodbye."
    rule_intent = None
    if intent in _OPT_OUT_LOOK and _CESSATION_CALLING.search(plain) and not _NOT_ABOUT_US.search(s):
        # A word for ending next to a word for calling, in a line the rules did not read
        # as an opt-out: most likely a way of saying "stop calling" that no pattern has
        # yet -- also inside a question or a complaint ("who gave you my number? take
        # it off").
        rule_intent, intent = intent, Intent.OPT_OUT
        flags.add(intent)
    elif intent in _OPT_OUT_LOOK and intent not in _SECOND_OPINION and intent is not Intent.HOLD:
        # A question the rules read: only a sure opt-out replaces it (a complaint
        # that may be one keeps its question).
        if intent is not Intent.MAYBE_OPT_OUT and s.count(" ") >= 3 and \
                classifier.believed(plain) == "OPT_OUT":
            rule_intent, intent = intent, Intent.OPT_OUT
            flags.add(intent)
    elif intent in _SECOND_OPINION:
        # The rules found nothing decisive: ask the trained model (classifier.py).
        # A short yes, no or question ("what calling list?") is too little to go on.
        words = s.count(" ") + 1
        sure = intent not in _OPT_OUT_ONLY      # over a decline the rules read, an anchor is needed
        guess = classifier.believed(s, unanchored=sure) if (
            words >= 5 if intent in _SHORT_OK else words >= 4 if intent is Intent.ASK_OTHER else True) else None
        if guess == "OPT_OUT" and plain != s:
            guess = classifier.believed(plain, unanchored=sure)
        if guess == "OPT_OUT" and words <= 2 and not _SHORT_OPT_OUT.search(s):
            # "Call." "Again?" "You again": a fragment the recogniser cut from a longer
            # turn ("call | me back tomorrow") is no request -- the agent asks instead.
            guess = None
        if guess == "OPT_OUT" or (guess and intent not in _OPT_OUT_ONLY):
            rule_intent, intent = intent, Intent(guess.lower())
            flags.add(intent)
        elif guess is None and intent not in _OPT_OUT_ONLY and classifier.doubts_opt_out(plain):
            # Most likely a way of saying "stop calling" no rule knows, but not sure
            # enough to act on: the agent asks its one question, and a yes opts out.
            rule_intent, intent = intent, Intent.MAYBE_OPT_OUT
            flags.add(intent)
    return Reading(intent, frozenset(flags), time_phrase, s, rule_intent)


#: Words that start a new clause in unpunctuated speech ("i was in the shower and |
#: stop calling | i have got a newborn"). Patterns written for a whole utterance
#: ("enough", "f off", "make it stop please") then also read it said mid-ramble.
_CLAUSE_BREAK = re.compile(r" (?:and|but|because|cause|so|okay|alright|anyway|anyways|well|oh|thanks|"
                           r"thank you|sorry|i am sorry|yeah|yes|hello|hi|you know|look|listen|honestly|"
                           r"seriously)(?= )| (?=(?:i|we|she|he|they) )|"
                           # "... | my husband said the same": not "unsubscribe from my cable".
                           r"(?<!from)(?<!with)(?<! to)(?<! of)(?<!for)(?<! at)(?<! on)(?<! in)(?<!off)(?<!call)"
                           r"(?<!bout)(?<!into)(?<!ling)(?<!move)(?<!lete)(?<!lose)(?<!take)(?<!rase) "
                           r"(?=my (?:husband|wife|son|daughter|mom|mother|dad|father|kids|family|boss|partner) )")
#: A clause said next to these is not a request to stop calling ("stop, I'm
#: interested", "stop, I have a question", "hold on, stop").
_NOT_A_CLAUSE_OPT_OUT = re.compile(r"(?<!not )(?<!no )\b(?:interested|question|hold on|hang on|wait|one sec|one second|"
                                   r"how much|tell me|go on|keep going|sign me up|go ahead(?! and)|hear the rest|hear more|"
                                   r"but (?:okay|ok|fine|alright|all right|sure)(?: then)? (?:what|tell me|shoot|how)|"
                                   r"calling (?:me |us |here )?(?:so|this) (?:early|late))\b")


#: Cheap test first: a line with none of these words has no opt-out clause to find.
_CLAUSE_GATE = re.compile(r"\b(?:stop\w*|quit|cease|enough|call\w*|contact\w*|remov\w*|delet\w*|eras\w*|off|"
                          r"never|more|basta|llam\w*|marc\w*|block\w*|report\w*|alone|spam|scam|sue|lawyer|"
                          r"attorney|police|consent|list|number|hell|lost|away|unsubscribe|opt|dnc|end|done|"
                          r"molest\w*|saq\w*|quit\w*|borr\w*|bother\w*|harass\w*|discontinue|(?:can|could|would|will) you (?:\w+ )?not)\b")


_SENTENCE_END = re.compile(r"[.!?;]+(?:\s+|$)")


def _unnamed(s: str) -> str:
    """``s`` with "don't call me ma'am" and its kind marked, not cut out: what is left
    on either side is not a clause of its own ("don't call it a scam" is no "scam")."""
    return _NAMING.sub(" xnamedx ", s) if _may_name(s) else s


def _opt_out_in_a_clause(s: str, raw: str = "") -> bool:
    """An opt-out said as one clause of a longer line: every run of one to three
    clauses (cut at the line's own sentence ends and at discourse words) is read as
    if said alone, without its courtesies; a bare "stop" only at the end of the line."""
    if s.count(" ") < 3 or not _CLAUSE_GATE.search(s) or _NOT_A_CLAUSE_OPT_OUT.search(s):
        return False
    sentences = [t for t in _SENTENCE_END.split(raw.strip()) if t.strip()] if raw else []
    if len(sentences) > 1:
        # Names and redirects as the whole line shows them ("Don't call my cell. Call my office line.").
        named = [m.group(0) for m in _NAMING.finditer(s)] if _may_name(s) else []
        said = []
        for t in sentences:
            t = _unnamed(normalize(t))
            for n in named:
                t = t.replace(n, " xnamedx ")
            said.append(t)
    else:
        said = [_unnamed(s)]
    if len(said) == 1 and s.count(" ") < 5:
        return False
    parts = [p.strip() for t in said for p in _CLAUSE_BREAK.split(f" {t} ")]
    if len(parts) < 2:
        return False
    last = max((k for k, p in enumerate(parts) if _core(p)), default=0)
    for i in range(len(parts)):
        for j in range(i + 1, min(i + 4, len(parts) + 1)):
            span = " ".join(p for p in parts[i:j] if p)
            if not span or span == s:
                continue
            core = _core(span)
            if _BARE_STOP.match(core) and core == span and j <= last:
                continue         # "stop, let me think": a bare stop mid-line may mean "wait"
            if _OPT_OUT.search(span) or _OPT_OUT.search(core):
                return True
    return False


#: Words that may stand around a time phrase in a line that is only about when
#: ("how about Friday?", "maybe tomorrow at 3 then", "el lunes").
_TIME_FRAME = frozenset(
    "how about what whats maybe perhaps um uh er hmm well so try call me us back again at on in the "
    "is good fine okay ok works work better best then sure yeah yes yep i guess would be could you do "
    "it around ish or and like can we please let lets say that sounds great perfect for just any "
    "time either free im available should probably sometime no not but instead actually if possible "
    "give ring a an anytime oh alright all right thats thanks thank el la las a por en de si mejor "
    "llameme llamame llamenme llamen llame marqueme mas tal vez quizas bueno o to this".split())


def _only_time(rest: str) -> bool:
    return all(w in _TIME_FRAME for w in re.findall(r"[a-z']+", rest.replace("'", "")))


#: Readings the trained model may replace (yes/no lines only with 5+ words; a
#: decline only by an opt-out; a complaint about calls never: it gets the question).
_SECOND_OPINION = frozenset({Intent.UNCLEAR, Intent.ASK_OTHER, Intent.AFFIRM,
                             Intent.DENY, Intent.GREETING, Intent.NOT_INTERESTED})
#: Readings an opt-out the rules missed may still replace (the safety net): all but
#: the decisive ones, whose own words say what the caller wants.
_OPT_OUT_LOOK = frozenset(Intent) - {Intent.OPT_OUT, Intent.CALLBACK, Intent.INTERESTED,
                                     Intent.WRONG_NUMBER, Intent.VOICEMAIL, Intent.TIME}
_SHORT_OK = frozenset({Intent.AFFIRM, Intent.DENY, Intent.GREETING})
_OPT_OUT_ONLY = frozenset({Intent.NOT_INTERESTED})

_CESSATION_CALLING = re.compile(
    r"\b(?:stop|quit|cease|remove|delete|erase|unsubscribe|block|no more|off of|taken off|take off)"
    r"(?: \w+){0,2} (?:call|calls|calling|called|number|list|contact|contacting|phone|ringing|dialing|"
    r"llamadas|llamar)\b")
_NOT_ABOUT_US = re.compile(r"\b(?:my|our|his|her) (?:\w+ )?(?:boss|mom|mother|dad|father|wife|husband|son|"
                           r"daughter|kids?|friend|sister|brother|work|job|bank|doctor|ex)\b|\bstop by\b|"
                           r"\b(?:do not|dont) mind\b|\bcall (?:me|us) back\b|\bthe call dropped\b|"
                           r"^(?:(?:please|just|can you|could you|would you)\s+)*(?:stop|quit) calling (?:me |us |here )?"
                           r"(?:so|this|that) (?:early|late)\b")

#: What a line of one or two words must say for the model's opt-out to be believed.
_SHORT_OPT_OUT = re.compile(r"\b(?:stop\w*|remov\w*|unsub\w*|quit\w*|delet\w*|eras\w*|enough|basta|block\w*|report\w*|spam|"
                            r"scam|opt|dnc|harass\w*|sue|lawyer|attorney|police|never|off|leave|alone|list|lista|"
                            r"llam\w*|marc\w*|borr\w*|quit\w*|saq\w*|molest\w*)\b")
_TIMING_ONLY = re.compile(r"^(?:(?:please|just|can you|could you|would you)\s+)*(?:stop|quit) calling (?:me |us |here )?"
                          r"(?:so|this|that) (?:early|late)(?: in the (?:morning|day|evening))?(?: please)?$")
_SOMEONE_TO_CALL = re.compile(r"\bhave (?:someone|somebody|a rep\w*|an agent|a specialist|one of your \w+) "
                              r"(?:call|reach|contact|get in touch)")
_DECLINE_LAST = re.compile(r"\b(?:but|so) no(?: thanks| thank you)?$|\bnot right now,? thank|"
                           r"\b(?:ahorita|ahora|por ahora) no,? gracias\b|"
                           r"\bnot at this time\b")


_QUESTIONS = frozenset({Intent.ASK_IDENTITY, Intent.ASK_WHO_FOR, Intent.ASK_PURPOSE,
                        Intent.ASK_NUMBER_SOURCE, Intent.ASK_ROBOT, Intent.ASK_REPEAT,
                        Intent.ASK_INFO})

_PRIORITY = (
    Intent.OPT_OUT, Intent.WRONG_NUMBER, Intent.VOICEMAIL, Intent.MAYBE_OPT_OUT, Intent.CALLBACK,
    Intent.NOT_INTERESTED, Intent.INTERESTED, Intent.TIME, Intent.ASK_NUMBER_SOURCE, Intent.ASK_ROBOT,
    Intent.ASK_WHO_FOR, Intent.ASK_IDENTITY, Intent.ASK_PURPOSE, Intent.ASK_INFO,
    Intent.ASK_REPEAT, Intent.ASK_OTHER, Intent.GOODBYE, Intent.HOLD,
    Intent.CONFIRM_IDENTITY, Intent.DENY, Intent.HESITANT, Intent.ANY_TIME, Intent.AFFIRM,
    Intent.GREETING,
)


def clear_memo() -> None:
    """Forget remembered readings (benchmarks measure a first reading)."""
    _normalized.cache_clear()
    _read_line.cache_clear()
    _cut_off_opt_out.cache_clear()
    from dialcli.conversation import time_phrases
    time_phrases.clear_memo()
