"""Voices that work on both speech paths: ConversationRelay (ttsProvider + voice) and
the voicemail's <Say> (workspace/voices.py), through agent create/edit, doctor,
preview, the TwiML, and a Spanish call end to end on the fake Twilio."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from dialcli.conversation.base import CallContext
from dialcli.errors import InputError
from dialcli.models import Disposition, VoicemailAction
from dialcli.providers.base import DialRequest, EventKind
from dialcli.workspace import agents
from dialcli.workspace.voices import (
    check_relay_voice, check_say_voice, clean_tts_provider, say_voice_for, voice_problems,
)
from fakes.fake_twilio import Scenario, say, start_provider
from fakes.keyword_brain import KeywordBrain

T0 = datetime(2026, 3, 3, 15, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("provider,voice,language,expected", [
    ("Google", "en-US-Journey-O", "en-US", ("Google", "en-US-Journey-O")),
    (None, "en-US-Chirp3-HD-Aoede", "en-US", ("Google", "en-US-Chirp3-HD-Aoede")),
    ("google", "es-US-Neural2-A", "es-US", ("Google", "es-US-Neural2-A")),
    ("Amazon", "Joanna-Neural", "en-US", ("Amazon", "Joanna-Neural")),
    (None, "Lupe-Generative", "es-US", ("Amazon", "Lupe-Generative")),
    (None, "Polly.Matthew-Neural", "en-US", ("Amazon", "Matthew-Neural")),
    ("ElevenLabs", "UgBBYS2sOqTuMpoF3BR0", "en-US", ("ElevenLabs", "UgBBYS2sOqTuMpoF3BR0")),
    (None, "UgBBYS2sOqTuMpoF3BR0-flash_v2_5-1.2_1.0_1.0", "en-US",
     ("ElevenLabs", "UgBBYS2sOqTuMpoF3BR0-flash_v2_5-1.2_1.0_1.0")),
    ("Amazon", None, "en-US", ("Amazon", None)),
])
def test_relay_voices_of_each_provider(provider, voice, language, expected):
    assert check_relay_voice(clean_tts_provider(provider), voice, language) == expected


@pytest.mark.parametrize("provider,voice,language,words", [
    ("Google", "Joanna-Neural", "en-US", "not a Google voice id"),
    ("Amazon", "en-US-Journey-O", "en-US", "not a Amazon voice id"),
    ("ElevenLabs", "Rachel", "en-US", "not a ElevenLabs voice id"),
    (None, "my nice voice", "en-US", "not a ConversationRelay voice id"),
    ("Google", "en-US-Journey-O", "es-US", "speaks en-US, but the agent's language is es-US"),
    (None, "Joanna-Neural", "es-US", "speaks en-US"),
    (None, "Lupe-Neural", "en-US", "speaks es-US"),
])
def test_wrong_relay_voices_are_refused_with_examples(provider, voice, language, words):
    with pytest.raises(InputError) as info:
        check_relay_voice(clean_tts_provider(provider), voice, language)
    assert words in info.value.message
    assert any(e in (info.value.hint or "") for e in ("Journey-O", "Joanna-Neural", "UgBBYS",
                                                      "es-US voice", "en-US voice"))


def test_an_unknown_provider_lists_the_three():
    with pytest.raises(InputError) as info:
        clean_tts_provider("Azure")
    assert "Google, Amazon, ElevenLabs" in info.value.hint


@pytest.mark.parametrize("voice,language,ok", [
    ("Polly.Joanna-Neural", "en-US", True), ("Polly.Lupe", "es-US", True),
    ("Google.en-US-Neural2-F", "en-US", True), ("alice", "en-US", True), ("Man", "en-US", True),
    ("Joanna-Neural", "en-US", False), ("en-US-Neural2-F", "en-US", False),
    ("Polly.Joanna", "es-US", False), ("Google.en-US-Neural2-F", "es-US", False),
    ("UgBBYS2sOqTuMpoF3BR0", "en-US", False),
])
def test_say_voices(voice, language, ok):
    if ok:
        assert check_say_voice(voice, language)
    else:
        with pytest.raises(InputError) as info:
            check_say_voice(voice, language)
        assert "Polly." in info.value.hint or "e.g." in info.value.hint


def test_a_say_voice_hint_says_how_to_write_it():
    with pytest.raises(InputError) as info:
        check_say_voice("Joanna-Neural", "en-US")
    assert info.value.hint.startswith("For <Say> write Polly.Joanna-Neural.")


@pytest.mark.parametrize("row,expected", [
    ({"tts_provider": "Amazon", "voice": "Joanna-Neural", "language": "en-US"}, "Polly.Joanna-Neural"),
    ({"tts_provider": "Google", "voice": "es-US-Neural2-A", "language": "es-US"},
     "Google.es-US-Neural2-A"),
    ({"tts_provider": "Google", "voice": "en-US-Journey-O", "language": "en-US"},
     "Polly.Joanna-Neural"),                       # Journey has no <Say> twin
    ({"tts_provider": "ElevenLabs", "voice": "UgBBYS2sOqTuMpoF3BR0", "language": "es-US"},
     "Polly.Lupe-Neural"),
    ({"voice": None, "language": "es-US", "voicemail_voice": "Polly.Penelope"}, "Polly.Penelope"),
    ({"voice": None, "language": "ja-JP"}, None),
])
def test_the_voicemail_voice_is_derived_in_the_agents_language(row, expected):
    assert say_voice_for(row) == expected


def test_doctor_finds_voices_stored_before_validation():
    assert voice_problems({"voice": "Polly.Joanna", "language": "es-US"})
    assert voice_problems({"voice": None, "language": "ja-JP"})[0].startswith("no voicemail voice")
    assert voice_problems({"tts_provider": "Amazon", "voice": "Lupe-Neural",
                           "language": "es-US"}) == []


def test_edit_rechecks_voices_against_a_new_language(store):
    agents.create_agent(store, name="Zara", greeting="Hi", prompt="p", tts_provider="Amazon",
                        voice="Joanna-Neural", now=T0)
    with pytest.raises(InputError, match="speaks en-US"):
        agents.edit_agent(store, "Zara", language="es-US", now=T0)
    a = agents.edit_agent(store, "Zara", language="es-US", voice="Lupe-Neural", now=T0)
    assert (a.language, a.tts_provider, a.voice) == ("es-US", "Amazon", "Lupe-Neural")
    a = agents.edit_agent(store, "Zara", voicemail_voice="Polly.Penelope", now=T0)
    assert a.voicemail_voice == "Polly.Penelope" and a.voice == "Lupe-Neural"
    a = agents.edit_agent(store, "Zara", voice="", tts_provider="", now=T0)
    assert a.voice is None and a.tts_provider is None


def test_cli_create_refuses_a_bad_voice_with_exit_2_and_examples(cli, store):
    r = cli("agent", "create", "Zara", "--greeting", "Hi", "--prompt", "p",
            "--tts-provider", "Google", "--voice", "Joanna")
    assert r.exit_code == 2
    assert "not a Google voice id" in r.stderr and "en-US-Journey-O" in r.stderr
    assert json.loads(cli("agent", "list", "--json").stdout) == []     # nothing written
    r = cli("agent", "create", "Lupe", "--greeting", "Hola", "--prompt", "p", "--language",
            "es-US", "--voice", "Lupe-Neural", "--voicemail-voice", "Polly.Penelope")
    assert r.exit_code == 0, r.output
    data = json.loads(cli("agent", "show", "Lupe", "--json").stdout)
    assert (data["tts_provider"], data["voice"], data["voicemail_voice"]) == \
        ("Amazon", "Lupe-Neural", "Polly.Penelope")
    shown = cli("agent", "show", "Lupe").stdout
    assert "Amazon Lupe-Neural" in shown and "Polly.Penelope" in shown
    r = cli("agent", "edit", "Lupe", "--voicemail-voice", "Joanna")
    assert r.exit_code == 2 and "Polly." in r.stderr


def test_preview_shows_both_voices(cli):
    cli("agent", "create", "Lupe", "--greeting", "Hola {{NAME}}", "--prompt", "p",
        "--language", "es-US", "--tts-provider", "google", "--voice", "es-US-Neural2-A")
    r = cli("preview", "--agent", "Lupe")
    assert r.exit_code == 0, r.output
    assert "Google es-US-Neural2-A" in r.stdout and "Google.es-US-Neural2-A (derived)" in r.stdout
    data = json.loads(cli("preview", "--agent", "Lupe", "--json").stdout)
    assert data["voicemail_voice"] == "Google.es-US-Neural2-A" and data["language"] == "es-US"


def spanish_ctx(call_id: int, to: str) -> CallContext:
    return CallContext(call_id=call_id, campaign="Primavera", agent="Lupe", to=to,
                       from_="+14155550100", greeting="Hola Ana, habla Lupe de Acme.",
                       system_prompt="Eres Lupe.", voicemail_message="Hola Ana, llámenos.",
                       voicemail_action=VoicemailAction.MESSAGE, language="es-US",
                       tts_provider="Amazon", voice="Lupe-Neural",
                       voicemail_voice="Polly.Lupe-Neural", lead_name="Ana")


def test_spanish_works_end_to_end_on_the_fake(fake):
    provider = start_provider(fake, KeywordBrain())
    try:
        person, machine = "+14155550301", "+14155550302"
        fake.script(person, Scenario(hello="¿Bueno?", hello_at_s=0.4, amd_delay_s=2.0,
                                     lang="es-US", lines=[say("Sí, estoy interested")]))
        fake.script(machine, Scenario(answer="machine", lang="es-US",
                                      machine_greeting="Hola, ha llamado a Ana. | "
                                                       "Deje su mensaje después del tono.",
                                      greeting_at_s=0.3, greeting_s=1.5, amd_delay_s=2.5,
                                      machine_wait_s=6.0))
        sids = [provider.place(DialRequest(i, to, "+14155550100", spanish_ctx(i, to),
                                           f"1:1:{i}:1:1:pass", ring_timeout_s=20))
                for i, to in ((1, person), (2, machine))]
        provider.sink.ended(1, timeout=20)
        provider.sink.ended(2, timeout=20)
        call = fake.calls[sids[0]]
        attrs = call.relay_attrs
        assert (attrs["language"], attrs["ttsProvider"], attrs["voice"]) == \
            ("es-US", "Amazon", "Lupe-Neural")
        assert "welcomeGreeting" not in attrs
        assert call.heard[0] == "Hola Ana, habla Lupe de Acme."
        conv = provider.sink.of(1, EventKind.CONVERSATION)[0]
        assert conv.transcript[0]["text"] == "¿Bueno?"
        assert conv.end.disposition == Disposition.INTERESTED
        vm = fake.calls[sids[1]]
        assert vm.spoke_to_machine == [] and vm.said == ["Hola Ana, llámenos."]
        update = [d for k, d in vm.log if k == "update"][0]
        assert 'voice="Polly.Lupe-Neural"' in update["Twiml"]
        assert 'language="es-US"' in update["Twiml"]
    finally:
        provider.close()


def test_a_spanish_call_with_the_rule_brain_is_spanish_to_the_goodbye(fake):
    """No LLM: the rule brain holds a Spanish call. After the user's Spanish greeting the
    callee hears Spanish answers and a Spanish goodbye, never dialcli's English lines."""
    from dialcli.conversation.rules import RuleBrain

    provider = start_provider(fake, RuleBrain())
    try:
        person = "+14155550303"
        fake.script(person, Scenario(hello="¿Bueno?", hello_at_s=0.4, amd_delay_s=2.0,
                                     lang="es-US", lines=[say("¿Quién habla?"),
                                                          say("No me interesa, gracias.")]))
        sid = provider.place(DialRequest(3, person, "+14155550100", spanish_ctx(3, person),
                                         "1:1:3:1:1:pass", ring_timeout_s=20))
        provider.sink.ended(3, timeout=20)
        heard = fake.calls[sid].heard
        assert heard[0] == "Hola Ana, habla Lupe de Acme."
        assert heard[1].startswith("Le habla Lupe, de parte de Acme."), heard
        assert heard[-1] == "Entiendo. Gracias por su tiempo y que tenga un buen día. Adiós."
        conv = provider.sink.of(3, EventKind.CONVERSATION)[0]
        assert conv.end.disposition == Disposition.NOT_INTERESTED
    finally:
        provider.close()
