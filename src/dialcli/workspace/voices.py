"""Voices that work on both of a live call's speech paths.

A call speaks through two Twilio engines with different voice names:

* ConversationRelay (the conversation): ``ttsProvider`` + that provider's voice id,
  and ``language`` (which also sets transcription). Providers and id formats, from
  twilio.com/docs/voice/conversationrelay/voice-configuration:
  Google ``en-US-Journey-O``, ``es-US-Neural2-A``, ``en-US-Chirp3-HD-Aoede``;
  Amazon (Polly) ``Joanna-Neural``, ``Lupe-Generative``; ElevenLabs a 20-character
  voice id, optionally with model and settings (``UgBBYS2sOqTuMpoF3BR0-flash_v2_5``).
* ``<Say>`` (the voicemail message after the beep, played by a call redirect):
  ``man``, ``woman``, ``alice``, ``Polly.<Name>[-Neural|-Generative|-LongForm]`` or
  ``Google.<lang>-<REGION>-<Type>-<Variant>`` (twilio.com/docs/voice/twiml/say).

The agent therefore has ``tts_provider`` + ``voice`` for the relay and
``voicemail_voice`` for ``<Say>``. Keeping the voicemail on ``<Say>`` (rather than
speaking it through the relay after the beep) is deliberate: the redirect replaces
the relay session, so the message plays whole even if the WebSocket or the brain is
gone, and AMD's ``machine_end_beep`` is exactly when ``<Say>`` should start.

When ``voicemail_voice`` is not set it is derived: the same Polly or Google voice
when the relay voice has a ``<Say>`` twin, else a standard neural Polly voice for
the language (``SAY_DEFAULTS``) -- so an ``es-US`` agent's message is never read by
an English voice. A Google or known Polly voice whose language is not the agent's is
refused: Spanish text in an English voice is unintelligible.

Everything here is validation of names, offline: whether an account has a voice
enabled is only known to Twilio (``doctor`` says so).
"""

from __future__ import annotations

import re
from typing import Any

from dialcli.errors import InputError

#: ConversationRelay ``ttsProvider`` values, canonical spelling by lower-case key.
TTS_PROVIDERS = {"google": "Google", "amazon": "Amazon", "elevenlabs": "ElevenLabs"}

_GOOGLE = re.compile(r"^([a-z]{2,3})-([A-Z]{2}|\d{3})-([A-Za-z0-9]+)(?:-[A-Za-z0-9]+)*$")
_POLLY_ENGINES = ("Neural", "Generative", "Standard", "LongForm")
_AMAZON = re.compile(r"^([A-Z][a-zA-Z]+)(?:-(%s))?$" % "|".join(_POLLY_ENGINES))
_ELEVEN = re.compile(r"^[A-Za-z0-9]{20}(?:-[A-Za-z0-9_]+(?:-[0-9.]+_[0-9.]+_[0-9.]+)?)?$")
_SAY_POLLY = re.compile(r"^Polly\.([A-Z][a-zA-Z]+)(?:-(?:Neural|Generative|LongForm))?$")
_SAY_GOOGLE = re.compile(r"^Google\.([a-z]{2,3})-([A-Z]{2}|\d{3})-[A-Za-z0-9]+(?:-[A-Za-z0-9]+)+$")
_SAY_BASIC = ("man", "woman", "alice")
#: Google voice types <Say> also offers (Journey and other conversational-only types
#: are ConversationRelay's alone).
_SAY_GOOGLE_TYPES = ("Standard", "Wavenet", "Neural2", "Chirp3", "Chirp", "Polyglot", "News",
                     "Studio")

EXAMPLES = {
    "Google": "en-US-Journey-O, en-US-Neural2-F, es-US-Neural2-A, en-US-Chirp3-HD-Aoede",
    "Amazon": "Joanna-Neural, Matthew-Generative, Lupe-Neural (es-US)",
    "ElevenLabs": "UgBBYS2sOqTuMpoF3BR0 (a voice id), UgBBYS2sOqTuMpoF3BR0-flash_v2_5",
}
SAY_EXAMPLES = "Polly.Joanna-Neural, Polly.Lupe-Neural (es-US), Google.en-US-Neural2-F, alice"

#: Languages of common Polly voices (US English and Spanish, and a few others), to
#: catch an English voice on a Spanish agent. Names not listed are accepted.
POLLY_LANGUAGES = {
    **{n: "en-US" for n in ("Joanna", "Matthew", "Ivy", "Kendra", "Kimberly", "Salli", "Joey",
                            "Justin", "Kevin", "Ruth", "Stephen", "Danielle", "Gregory",
                            "Patrick")},
    **{n: "es-US" for n in ("Lupe", "Penelope", "Miguel", "Pedro")},
    **{n: "es-MX" for n in ("Mia", "Andres")},
    **{n: "es-ES" for n in ("Conchita", "Lucia", "Enrique", "Sergio")},
    **{n: "en-GB" for n in ("Amy", "Emma", "Brian", "Arthur")},
    **{n: "fr-CA" for n in ("Chantal", "Gabrielle", "Liam")},
    **{n: "fr-FR" for n in ("Celine", "Lea", "Mathieu", "Remi")},
    **{n: "de-DE" for n in ("Marlene", "Vicki", "Hans", "Daniel")},
}
#: The <Say> voice for a voicemail message when the agent names none.
SAY_DEFAULTS = {"en-US": "Polly.Joanna-Neural", "es-US": "Polly.Lupe-Neural",
                "es-MX": "Polly.Mia-Neural", "es-ES": "Polly.Lucia-Neural",
                "en-GB": "Polly.Amy-Neural", "fr-CA": "Polly.Gabrielle-Neural",
                "fr-FR": "Polly.Lea-Neural", "de-DE": "Polly.Vicki-Neural"}


def _same_language(a: str, b: str) -> bool:
    return a.lower() == b.lower()


def clean_tts_provider(value: str | None) -> str | None:
    """``google``/``Amazon``/``elevenlabs`` -> Twilio's spelling; None when empty."""
    raw = (value or "").strip()
    if not raw:
        return None
    name = TTS_PROVIDERS.get(raw.lower().replace(" ", "").replace("polly", "amazon"))
    if name is None:
        raise InputError(f"Text-to-speech provider {raw!r} is not one ConversationRelay offers.",
                         hint="Use one of: " + ", ".join(TTS_PROVIDERS.values()) + ".")
    return name


def guess_provider(voice: str) -> str | None:
    """The provider a voice id belongs to, from its shape (None: cannot tell)."""
    if _GOOGLE.match(voice):
        return "Google"
    if _ELEVEN.match(voice):
        return "ElevenLabs"
    if _AMAZON.match(voice):
        return "Amazon"
    return None


def check_relay_voice(provider: str | None, voice: str | None, language: str) -> tuple[str | None, str | None]:
    """The (provider, voice) pair for ConversationRelay, checked.

    A voice without a provider gets the provider its shape names (``Joanna-Neural``:
    Amazon); a Polly-style ``Polly.Joanna`` given as the relay voice is translated
    (``Amazon`` + ``Joanna``). Raises ``InputError`` listing examples otherwise.
    """
    if not voice:
        return provider, None
    voice = voice.strip()
    say = _SAY_POLLY.match(voice)
    if say and provider in (None, "Amazon"):
        voice = voice[len("Polly."):]
        provider = "Amazon"
    elif voice.startswith("Google.") and provider in (None, "Google"):
        voice, provider = voice[len("Google."):], "Google"
    if provider is None:
        provider = guess_provider(voice)
        if provider is None:
            raise InputError(
                f"Voice {voice!r} is not a ConversationRelay voice id.",
                hint="Give --tts-provider and one of its voices, e.g. "
                     + "; ".join(f"{p}: {e}" for p, e in EXAMPLES.items()) + ".")
    pattern = {"Google": _GOOGLE, "Amazon": _AMAZON, "ElevenLabs": _ELEVEN}[provider]
    m = pattern.match(voice)
    if m is None:
        raise InputError(f"Voice {voice!r} is not a {provider} voice id.",
                         hint=f"{provider} voices look like: {EXAMPLES[provider]}.")
    spoken = None
    if provider == "Google":
        spoken = f"{m.group(1)}-{m.group(2)}"
    elif provider == "Amazon":
        spoken = POLLY_LANGUAGES.get(m.group(1))
    if spoken and not _same_language(spoken, language):
        raise InputError(
            f"Voice {voice!r} speaks {spoken}, but the agent's language is {language}.",
            hint=f"Pick a {language} voice, or change --language to {spoken}.")
    return provider, voice


def check_say_voice(voice: str | None, language: str) -> str | None:
    """A ``<Say>`` voice for the voicemail message, checked (None: derived later)."""
    raw = (voice or "").strip()
    if not raw:
        return None
    if raw.lower() in _SAY_BASIC:
        return raw.lower()
    polly, google = _SAY_POLLY.match(raw), _SAY_GOOGLE.match(raw)
    if not polly and not google:
        hint = f"Use a <Say> voice such as {SAY_EXAMPLES}."
        if guess_provider(raw) == "Amazon":
            hint = f"For <Say> write Polly.{raw}. " + hint
        elif guess_provider(raw) == "Google":
            hint = f"For <Say> write Google.{raw}. " + hint
        raise InputError(f"Voicemail voice {raw!r} is not a voice <Say> can use.", hint=hint)
    spoken = POLLY_LANGUAGES.get(polly.group(1)) if polly else \
        f"{google.group(1)}-{google.group(2)}"  # type: ignore[union-attr]
    if spoken and not _same_language(spoken, language):
        raise InputError(
            f"Voicemail voice {raw!r} speaks {spoken}, but the agent's language is {language}.",
            hint=f"Pick a {language} voice, e.g. {SAY_DEFAULTS.get(language, SAY_EXAMPLES)}.")
    return raw


def say_voice_for(agent: Any) -> str | None:
    """The ``<Say>`` voice the voicemail message is read in (see the module docstring).

    ``agent`` is an ``Agent`` or an agent row (mapping).
    """
    get = agent.get if isinstance(agent, dict) else (lambda k: getattr(agent, k, None))
    if get("voicemail_voice"):
        return get("voicemail_voice")
    provider, voice, language = get("tts_provider"), get("voice"), get("language") or "en-US"
    if voice and provider == "Amazon":
        m = _AMAZON.match(voice)
        if m and (m.group(2) or "Neural") != "Standard":
            return f"Polly.{voice}"
    if voice and provider == "Google":
        m = _GOOGLE.match(voice)
        if m and m.group(3) in _SAY_GOOGLE_TYPES:
            return f"Google.{voice}"
    return SAY_DEFAULTS.get(language)


def voice_problems(agent: Any) -> list[str]:
    """What is wrong with a stored agent's voices (for ``doctor``): names written
    before validation existed, or a language changed after the voice was picked."""
    get = agent.get if isinstance(agent, dict) else (lambda k: getattr(agent, k, None))
    language = get("language") or "en-US"
    problems = []
    try:
        check_relay_voice(get("tts_provider"), get("voice"), language)
    except InputError as exc:
        problems.append(f"conversation voice: {exc.message}" + (f" {exc.hint}" if exc.hint else ""))
    try:
        check_say_voice(get("voicemail_voice"), language)
    except InputError as exc:
        problems.append(f"voicemail voice: {exc.message}" + (f" {exc.hint}" if exc.hint else ""))
    if get("voice") and not get("tts_provider") and guess_provider(get("voice") or "") is None:
        problems.append("conversation voice has no text-to-speech provider")
    if not get("voicemail_voice") and say_voice_for(agent) is None:
        problems.append(f"no voicemail voice for {language}: Twilio's default <Say> voice "
                        "may not speak it (set --voicemail-voice)")
    return problems
