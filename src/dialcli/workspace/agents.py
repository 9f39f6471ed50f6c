"""Voice agents: the greeting, system prompt and voicemail message a campaign speaks.

An agent is workspace configuration, referenced by campaigns through ``agent_id``.
Names are unique case-insensitively (the column is ``COLLATE NOCASE``); every
lookup here is case-insensitive too, so ``Zara`` and ``zara`` are one agent.

Validation happens before anything is written and inside the write transaction
(``BEGIN IMMEDIATE``), so a check-then-insert cannot be overtaken by another
process: templates are checked with ``templates.check_template`` (a malformed
``{{TOKEN}}`` is refused with its line and column), the language must look like a
BCP-47 tag (``en-US``), and texts must be non-empty, real text and of sane size.

Two cross-entity rules live here because an agent edit or delete can break a
campaign: an agent that campaigns use cannot be deleted (the product doc's "Can't
delete this voice agent" message, naming the campaigns), and the agent's voicemail
message cannot be cleared while a campaign that leaves messages relies on it.
"""

from __future__ import annotations

import re
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

from dialcli.clock import to_iso
from dialcli.errors import ConflictError, InputError, NotFoundError
from dialcli.models import Agent
from dialcli.store import Store
from dialcli.templates import check_template, tokens_used
from dialcli.workspace import fields as extracted
from dialcli.workspace.voices import check_relay_voice, check_say_voice, clean_tts_provider

MAX_NAME = 80
MAX_TEXT = 100_000      # a prompt is a few KB; more is almost surely the wrong file
MAX_VOICE = 200
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_LANG = re.compile(r"^([A-Za-z]{2,3})((?:-[A-Za-z0-9]{1,8})*)$")

#: Sentinel for "option not given" where ``None``/"" would be meaningful.
UNSET: Any = object()


# -- shared validation (campaigns reuse these) -------------------------------------

def clean_name(value: str | None, *, what: str) -> str:
    """A display name: stripped, non-empty, one line, at most ``MAX_NAME`` chars."""
    name = (value or "").strip()
    if not name:
        raise InputError(f"The {what} name is empty.", hint=f"Give the {what} a name, e.g. \"Spring outreach\".")
    if _CONTROL.search(name):
        raise InputError(f"The {what} name {name!r} contains control characters or line breaks.")
    if len(name) > MAX_NAME:
        raise InputError(f"The {what} name is {len(name)} characters long; the limit is {MAX_NAME}.")
    if name.startswith("-"):
        raise InputError(f"The {what} name {name!r} starts with '-', which reads like an option.",
                         hint="Choose a name that starts with a letter or digit.")
    return name


def clean_text(value: str, *, field: str, required: bool = True) -> str | None:
    """A template text (greeting, prompt, voicemail): checked, and None when empty."""
    if value is None:
        value = ""
    if "\x00" in value:
        raise InputError(f"The {field} contains NUL bytes; is it a binary file?")
    if len(value) > MAX_TEXT:
        raise InputError(f"The {field} is {len(value):,} characters long; the limit is {MAX_TEXT:,}.",
                         hint="Is it the right file?")
    if not value.strip():
        if required:
            raise InputError(f"The {field} is empty.", hint=f"Write the {field} the agent should use.")
        return None
    # Editors end files with a newline; a spoken greeting should not carry it.
    value = value.strip()
    check_template(value, field=field)
    return value


def read_text_option(text: str | None, path: str | Path | None, *, field: str,
                     option: str, required: bool) -> str | None:
    """The value of a ``--X TEXT`` / ``--X-file F`` pair (mutually exclusive).

    Returns None when neither was given and the pair is optional. Files are read as
    UTF-8 (a BOM is dropped); a missing or unreadable file is an ``InputError``
    naming the path.
    """
    if text is not None and path is not None:
        raise InputError(f"Give either --{option} or --{option}-file, not both.")
    if path is not None:
        p = Path(path).expanduser()
        try:
            raw = p.read_bytes()
        except FileNotFoundError:
            raise InputError(f"The {field} file {str(p)!r} does not exist.",
                             hint=f"Check the path given to --{option}-file.") from None
        except IsADirectoryError:
            raise InputError(f"{str(p)!r} is a folder, not a {field} file.") from None
        except OSError as exc:
            raise InputError(f"Cannot read the {field} file {str(p)!r}: {exc.strerror or exc}.") from None
        try:
            return raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise InputError(
                f"The {field} file {str(p)!r} is not UTF-8 text (byte {exc.start + 1} cannot be read).",
                hint="Save the file as UTF-8 and try again.",
            ) from None
    if text is None and required:
        raise InputError(f"The {field} is missing: give --{option} TEXT or --{option}-file FILE.")
    return text


def clean_language(value: str | None) -> str:
    """A BCP-47 language tag, canonically cased: ``en-us`` -> ``en-US``."""
    raw = (value or "").strip()
    m = _LANG.match(raw)
    if not m:
        raise InputError(f"Language {raw!r} is not a language tag.",
                         hint="Use a BCP-47 tag such as en-US, es-MX or fr-FR.")
    parts = [m.group(1).lower()]
    for sub in m.group(2).split("-")[1:]:
        if len(sub) == 2 and sub.isalpha() or len(sub) == 3 and sub.isdigit():
            parts.append(sub.upper())          # region: US, 419
        elif len(sub) == 4 and sub.isalpha():
            parts.append(sub.title())          # script: Hans
        else:
            parts.append(sub.lower())
    return "-".join(parts)


def clean_voice(value: str | None) -> str | None:
    voice = (value or "").strip()
    if not voice:
        return None
    if _CONTROL.search(voice) or len(voice) > MAX_VOICE:
        raise InputError(f"Voice {voice[:40]!r} is not a voice name.",
                         hint="Use the provider's voice name, e.g. en-US-Journey-O or Polly.Joanna.")
    return voice


# -- queries ------------------------------------------------------------------------

def get_agent(store: Store, name: str) -> Agent:
    """The agent called ``name`` (case-insensitive); ``NotFoundError`` lists the others."""
    row = store.one("SELECT * FROM agents WHERE name = ? COLLATE NOCASE", ((name or "").strip(),))
    if row is None:
        names = [r[0] for r in store.all("SELECT name FROM agents ORDER BY name COLLATE NOCASE")]
        raise NotFoundError(
            f"No agent named {name!r}.",
            hint=("Agents here: " + ", ".join(names)) if names else
            "Create one with: dialcli agent create NAME --greeting-file greeting.txt "
            "--prompt-file prompt.txt",
        )
    return Agent.from_row(row)


def get_agent_by_id(store: Store, agent_id: int) -> Agent:
    row = store.one("SELECT * FROM agents WHERE id = ?", (agent_id,))
    if row is None:
        raise NotFoundError(f"No agent with id {agent_id}.")
    return Agent.from_row(row)


def list_agents(store: Store) -> list[Agent]:
    return [Agent.from_row(r) for r in store.all("SELECT * FROM agents ORDER BY name COLLATE NOCASE")]


def campaigns_using(store: Store, agent_id: int) -> list[str]:
    """Names of the campaigns whose agent this is."""
    return [r[0] for r in store.all(
        "SELECT name FROM campaigns WHERE agent_id = ? ORDER BY name COLLATE NOCASE", (agent_id,))]


def campaign_counts(store: Store) -> dict[int, int]:
    """agent id -> number of campaigns using it (for list views)."""
    return {r[0]: r[1] for r in store.all(
        "SELECT agent_id, COUNT(*) FROM campaigns GROUP BY agent_id")}


def agent_tokens(agent: Agent) -> list[str]:
    """Every ``{{TOKEN}}`` the agent's greeting, prompt and voicemail message read."""
    used: set[str] = set()
    for text in (agent.greeting, agent.system_prompt, agent.voicemail_message):
        if text:
            used |= tokens_used(text)
    return sorted(used)


def agent_as_dict(agent: Agent, *, campaigns: list[str] | None = None) -> dict[str, Any]:
    data = asdict(agent)
    data["tokens"] = agent_tokens(agent)
    data["fields"] = [f.as_dict() for f in extracted.loads(agent.fields)]
    if campaigns is not None:
        data["campaigns"] = campaigns
    return data


# -- changes ------------------------------------------------------------------------

def _ensure_name_free(store: Store, name: str, *, except_id: int | None = None) -> None:
    row = store.one("SELECT id, name FROM agents WHERE name = ? COLLATE NOCASE", (name,))
    if row is not None and row[0] != except_id:
        raise InputError(f"An agent named {row[1]!r} already exists.",
                         hint=f"Choose another name, or change it with: dialcli agent edit {row[1]!r} ...")


def create_agent(store: Store, *, name: str, greeting: str, prompt: str, voice: str | None = None,
                 language: str = "en-US", voicemail_message: str | None = None,
                 llm_model: str | None = None, tts_provider: str | None = None,
                 voicemail_voice: str | None = None, now: datetime,
                 fields: list[extracted.FieldSpec] | None = None) -> Agent:
    """Validate and insert an agent; returns the stored record.

    Voices are checked by ``voices``: the conversation voice against its provider's
    id format and the language, the voicemail voice against ``<Say>``'s names."""
    name = clean_name(name, what="agent")
    greeting_text = clean_text(greeting, field="greeting")
    prompt_text = clean_text(prompt, field="system prompt")
    vm_text = clean_text(voicemail_message or "", field="voicemail message", required=False)
    lang = clean_language(language)
    provider, voice_name = check_relay_voice(clean_tts_provider(tts_provider), clean_voice(voice),
                                             lang)
    vm_voice = check_say_voice(clean_voice(voicemail_voice), lang)
    model = (llm_model or "").strip() or None
    stamp = to_iso(now)
    with store.tx():
        _ensure_name_free(store, name)
        columns = {"name": name, "greeting": greeting_text, "system_prompt": prompt_text,
                   "voice": voice_name, "language": lang, "voicemail_message": vm_text,
                   "llm_model": model, "created_at": stamp, "updated_at": stamp}
        # Later columns only when set: tests that build an older schema through this
        # function keep working, and NULL is their default anyway.
        if provider is not None:
            columns["tts_provider"] = provider
        if vm_voice is not None:
            columns["voicemail_voice"] = vm_voice
        extracted_fields = extracted.dumps(extracted.check_set(list(fields or [])))
        if extracted_fields is not None:
            columns["fields"] = extracted_fields
        cur = store.execute(
            f"INSERT INTO agents ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
            tuple(columns.values()),
        )
        agent_id = cur.lastrowid
    return get_agent_by_id(store, agent_id)


def edit_agent(store: Store, name: str, *, new_name: str | None = None, greeting: str | None = None,
               prompt: str | None = None, voice: Any = UNSET, language: str | None = None,
               voicemail_message: Any = UNSET, llm_model: Any = UNSET,
               tts_provider: Any = UNSET, voicemail_voice: Any = UNSET,
               now: datetime,
               add_fields: list[extracted.FieldSpec] = (), drop_fields: list[str] = ()) -> Agent:
    """Change only the given fields. ``voice``/``voicemail_message``/``llm_model``/
    ``tts_provider``/``voicemail_voice`` = "" clears them (``UNSET`` leaves them alone).
    The voices are checked again as they will be after the change (a new language
    must suit the voices kept). ``add_fields`` adds or replaces extracted fields by
    name, ``drop_fields`` removes them."""
    changes: dict[str, Any] = {}
    if new_name is not None:
        changes["name"] = clean_name(new_name, what="agent")
    if greeting is not None:
        changes["greeting"] = clean_text(greeting, field="greeting")
    if prompt is not None:
        changes["system_prompt"] = clean_text(prompt, field="system prompt")
    if voice is not UNSET:
        changes["voice"] = clean_voice(voice)
    if tts_provider is not UNSET:
        changes["tts_provider"] = clean_tts_provider(tts_provider)
    if voicemail_voice is not UNSET:
        changes["voicemail_voice"] = clean_voice(voicemail_voice)
    if language is not None:
        changes["language"] = clean_language(language)
    if voicemail_message is not UNSET:
        changes["voicemail_message"] = clean_text(voicemail_message or "", field="voicemail message",
                                                  required=False)
    if llm_model is not UNSET:
        changes["llm_model"] = (llm_model or "").strip() or None
    if not changes and not add_fields and not drop_fields:
        raise InputError("Nothing to change.",
                         hint="Give at least one of --name, --greeting, --prompt, --voice, --language, "
                              "--voicemail-message, --tts-provider, --voicemail-voice.")
    with store.tx():
        agent = get_agent(store, name)
        if changes.keys() & {"voice", "tts_provider", "voicemail_voice", "language"}:
            lang = changes.get("language", agent.language)
            provider = changes.get("tts_provider", agent.tts_provider)
            if "voice" in changes and "tts_provider" not in changes and changes["voice"]:
                provider = None       # a new voice names its own provider unless given
            provider, voice_name = check_relay_voice(
                provider, changes.get("voice", agent.voice), lang)
            if voice_name is not None or "voice" in changes:
                changes["voice"], changes["tts_provider"] = voice_name, provider
            changes["voicemail_voice"] = check_say_voice(
                changes.get("voicemail_voice", agent.voicemail_voice), lang)
        if "name" in changes:
            _ensure_name_free(store, changes["name"], except_id=agent.id)
        if "voicemail_message" in changes and changes["voicemail_message"] is None \
                and agent.voicemail_message:
            relying = [r[0] for r in store.all(
                "SELECT name FROM campaigns WHERE agent_id = ? AND voicemail_action = 'message' "
                "AND (voicemail_message IS NULL OR TRIM(voicemail_message) = '') "
                "ORDER BY name COLLATE NOCASE", (agent.id,))]
            if relying:
                raise ConflictError(
                    "Can't clear this agent's voicemail message: it is the voicemail left by "
                    + _campaign_phrase(relying) + ".",
                    hint="Give the campaign its own message (dialcli campaign edit NAME "
                         "--voicemail-message TEXT) or set it to --voicemail hangup first.",
                )
        if add_fields or drop_fields:
            changes["fields"] = extracted.dumps(extracted.merge(
                extracted.loads(agent.fields), list(add_fields), list(drop_fields)))
        sets = ", ".join(f"{col} = ?" for col in changes)
        store.execute(f"UPDATE agents SET {sets}, updated_at = ? WHERE id = ?",
                      (*changes.values(), to_iso(now), agent.id))
    return get_agent_by_id(store, agent.id)


def delete_agent(store: Store, name: str) -> Agent:
    """Delete an agent no campaign uses; ``ConflictError`` (exit 1) names the campaigns."""
    with store.tx():
        agent = get_agent(store, name)
        using = campaigns_using(store, agent.id)
        if using:
            raise ConflictError(
                "Can't delete this voice agent. The agent is still attached to "
                + _campaign_phrase(using) + ". Reassign the campaign's agent or delete the "
                "campaign first.",
                hint=f"  dialcli campaign edit {using[0]!r} --agent OTHER_AGENT\n"
                     f"  dialcli campaign delete {using[0]!r}",
            )
        store.execute("DELETE FROM agents WHERE id = ?", (agent.id,))
    return agent


def _campaign_phrase(names: list[str]) -> str:
    quoted = ", ".join(repr(n) for n in names)
    return f"this campaign: {quoted}" if len(names) == 1 else f"these campaigns: {quoted}"
