"""Agents: validation, CRUD, the delete guard, and the ``agent`` commands."""

from __future__ import annotations

import io
import json
from datetime import datetime, timedelta, timezone

import pytest

import builders
from dialcli.errors import ConflictError, InputError, NotFoundError
from dialcli.workspace import agents, campaigns

T0 = datetime(2026, 3, 3, 15, 0, tzinfo=timezone.utc)


def said(text: str, fragment: str) -> bool:
    """``fragment`` appears in ``text`` however Rich wrapped the lines (stderr is
    hard-wrapped at the console width, which depends on the terminal)."""
    return "".join(fragment.split()) in "".join(text.split())


def dump(store) -> list[str]:
    return list(store.conn.iterdump())


def make_agent(store, name="Zara", **kw):
    kw.setdefault("greeting", "Hi {{NAME}}, this is Zara from Acme.")
    kw.setdefault("prompt", "You are Zara. Case {{CASE_NUMBER}}.")
    return agents.create_agent(store, name=name, now=T0, **kw)


# -- core -------------------------------------------------------------------------------

def test_create_stores_normalized_fields(store):
    a = make_agent(store, greeting="  Hi {{NAME}}\n", voice="  Polly.Mia ", language="es-mx",
                   voicemail_message="Call {{ name }} back\n")
    assert a.id > 0
    assert a.name == "Zara"
    assert a.greeting == "Hi {{NAME}}"
    # A <Say> name given as the conversation voice is read as its relay provider's id.
    assert (a.tts_provider, a.voice) == ("Amazon", "Mia")
    assert a.language == "es-MX"
    assert a.voicemail_message == "Call {{ name }} back"
    assert a.created_at == a.updated_at == "2026-03-03T15:00:00.000Z"
    assert agents.agent_tokens(a) == ["CASE_NUMBER", "NAME"]
    assert agents.get_agent(store, "zara") == a


@pytest.mark.parametrize("tag, expected", [
    ("en-US", "en-US"), ("EN-us", "en-US"), ("fr", "fr"), ("zh-hans-cn", "zh-Hans-CN"),
    ("es-419", "es-419"),
])
def test_language_tags_are_canonicalized(tag, expected):
    assert agents.clean_language(tag) == expected


@pytest.mark.parametrize("tag", ["", "english", "en_US", "e", "en-", "12-US"])
def test_bad_language_tags_are_refused(tag):
    with pytest.raises(InputError, match="language tag"):
        agents.clean_language(tag)


def test_names_are_unique_case_insensitively(store):
    make_agent(store)
    before = dump(store)
    with pytest.raises(InputError, match="already exists"):
        make_agent(store, name="  zARA ")
    assert dump(store) == before


@pytest.mark.parametrize("name, match", [
    ("", "empty"), ("   ", "empty"), ("a\nb", "line breaks"), ("x" * 81, "limit is 80"),
    ("-x", "option"),
])
def test_bad_names_are_refused(store, name, match):
    with pytest.raises(InputError, match=match):
        make_agent(store, name=name)
    assert store.scalar("SELECT COUNT(*) FROM agents") == 0


@pytest.mark.parametrize("field, kw", [
    ("greeting", {"greeting": "Hi {{ NAME }"}),
    ("system prompt", {"prompt": "ok\n{% if X %}never closed"}),
    ("voicemail message", {"voicemail_message": "Call {{ }}"}),
])
def test_malformed_template_refused_with_position(store, field, kw):
    with pytest.raises(InputError) as exc:
        make_agent(store, **kw)
    assert f"The {field} is not a valid template (line " in str(exc.value)
    assert store.scalar("SELECT COUNT(*) FROM agents") == 0


def test_error_position_points_at_the_bad_line(store):
    with pytest.raises(InputError) as exc:
        make_agent(store, greeting="Hello {{NAME}}\nabout {{ CASE }")
    assert "line 2, column 7" in exc.value.message
    assert "about {{ CASE }" in exc.value.hint


def test_private_attribute_access_refused(store):
    with pytest.raises(InputError, match="may not"):
        make_agent(store, prompt="{{ NAME.__class__ }}")


@pytest.mark.parametrize("kw, match", [
    ({"greeting": "   "}, "greeting is empty"),
    ({"prompt": ""}, "system prompt is empty"),
    ({"prompt": "a\x00b"}, "NUL"),
    ({"prompt": "x" * 100_001}, "limit is 100,000"),
    ({"voice": "a" * 201}, "not a voice name"),
])
def test_bad_texts_refused(store, kw, match):
    with pytest.raises(InputError, match=match):
        make_agent(store, **kw)


def test_get_agent_not_found_lists_agents(store):
    make_agent(store)
    make_agent(store, name="Sam")
    with pytest.raises(NotFoundError) as exc:
        agents.get_agent(store, "Nobody")
    assert "No agent named 'Nobody'" in exc.value.message
    assert "Sam, Zara" in exc.value.hint


def test_edit_changes_only_what_is_given(store):
    a = make_agent(store, voice="Polly.Joanna", voicemail_message="Bye {{NAME}}")
    later = T0 + timedelta(hours=1)
    b = agents.edit_agent(store, "zara", greeting="Hello {{NAME}}!", now=later)
    assert b.greeting == "Hello {{NAME}}!"
    assert (b.system_prompt, b.voice, b.language, b.voicemail_message) == \
        (a.system_prompt, a.voice, a.language, a.voicemail_message)
    assert b.created_at == a.created_at and b.updated_at == "2026-03-03T16:00:00.000Z"
    c = agents.edit_agent(store, "Zara", voice="", llm_model="gpt-4o", now=later)
    assert c.voice is None and c.llm_model == "gpt-4o" and c.greeting == b.greeting


def test_edit_rename(store):
    make_agent(store)
    make_agent(store, name="Sam")
    assert agents.edit_agent(store, "zara", new_name="ZARA", now=T0).name == "ZARA"
    with pytest.raises(InputError, match="'Sam' already exists"):
        agents.edit_agent(store, "zara", new_name="sam", now=T0)
    with pytest.raises(InputError, match="Nothing to change"):
        agents.edit_agent(store, "zara", now=T0)
    with pytest.raises(InputError, match="not a valid template"):
        agents.edit_agent(store, "zara", prompt="{{", now=T0)
    assert agents.get_agent(store, "zara").name == "ZARA"


def test_clearing_voicemail_refused_while_a_campaign_relies_on_it(store):
    make_agent(store, voicemail_message="Please call back.")
    builders.campaign(store, voicemail="message")
    before = dump(store)
    with pytest.raises(ConflictError) as exc:
        agents.edit_agent(store, "Zara", voicemail_message="", now=T0)
    assert "'Spring'" in exc.value.message
    assert dump(store) == before
    # With its own message the campaign no longer needs the agent's.
    campaigns.edit_campaign(store, "Spring", voicemail_message="Our own message.", now=T0)
    assert agents.edit_agent(store, "Zara", voicemail_message="", now=T0).voicemail_message is None


def test_delete_refused_while_campaigns_use_it(store):
    make_agent(store)
    builders.campaign(store, "Spring")
    builders.campaign(store, "autumn")
    with pytest.raises(ConflictError) as exc:
        agents.delete_agent(store, "zara")
    msg = exc.value.message
    assert msg.startswith("Can't delete this voice agent. The agent is still attached to these "
                          "campaigns: 'autumn', 'Spring'.")
    assert "Reassign the campaign's agent or delete the campaign first." in msg
    assert agents.get_agent(store, "Zara")
    campaigns.delete_campaign(store, "Spring")
    campaigns.delete_campaign(store, "autumn")
    assert agents.delete_agent(store, "zara").name == "Zara"
    assert store.scalar("SELECT COUNT(*) FROM agents") == 0


def test_read_text_option(tmp_path):
    f = tmp_path / "g.txt"
    f.write_bytes("\ufeffHi {{NAME}} — café\n".encode("utf-8"))
    assert agents.read_text_option(None, f, field="greeting", option="greeting",
                                   required=True) == "Hi {{NAME}} — café\n"
    assert agents.read_text_option("inline", None, field="greeting", option="greeting",
                                   required=True) == "inline"
    assert agents.read_text_option(None, None, field="v", option="v", required=False) is None
    with pytest.raises(InputError, match="either --greeting or --greeting-file"):
        agents.read_text_option("x", f, field="greeting", option="greeting", required=True)
    with pytest.raises(InputError, match="greeting is missing"):
        agents.read_text_option(None, None, field="greeting", option="greeting", required=True)
    with pytest.raises(InputError, match="nope.txt' does not exist"):
        agents.read_text_option(None, tmp_path / "nope.txt", field="greeting", option="greeting",
                                required=True)
    with pytest.raises(InputError, match="is a folder"):
        agents.read_text_option(None, tmp_path, field="greeting", option="greeting", required=True)
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("caf\xe9".encode("latin-1"))
    with pytest.raises(InputError, match="not UTF-8 text"):
        agents.read_text_option(None, bad, field="greeting", option="greeting", required=True)


# -- CLI --------------------------------------------------------------------------------

@pytest.fixture
def files(tmp_path):
    (tmp_path / "greeting.txt").write_text("Hi {{NAME}}, this is Zara about {{case number}}.\n")
    (tmp_path / "prompt.txt").write_text("You are Zara.\nBe brief.\n")
    return tmp_path


def test_cli_create_show_list(cli, files):
    r = cli("agent", "create", "Zara", "--greeting-file", files / "greeting.txt",
            "--prompt-file", files / "prompt.txt", "--voicemail-message", "Call us, {{NAME}}.")
    assert r.exit_code == 0, r.output
    assert said(r.stderr, "Created agent 'Zara' (tokens: CASE_NUMBER, NAME)")
    assert r.stdout == ""

    r = cli("agent", "show", "zara", "--json")
    assert r.exit_code == 0
    data = json.loads(r.stdout)
    assert data["greeting"] == "Hi {{NAME}}, this is Zara about {{case number}}."
    assert data["system_prompt"] == "You are Zara.\nBe brief."
    assert data["voicemail_message"] == "Call us, {{NAME}}."
    assert data["language"] == "en-US" and data["campaigns"] == []
    assert data["tokens"] == ["CASE_NUMBER", "NAME"]

    r = cli("agent", "show", "Zara")
    assert r.exit_code == 0
    assert "Greeting" in r.stdout and "Be brief." in r.stdout

    r = cli("agent", "list", "--json")
    assert r.exit_code == 0
    assert [a["name"] for a in json.loads(r.stdout)] == ["Zara"]
    r = cli("agent", "list")
    assert r.exit_code == 0 and "Zara" in r.stdout and "en-US" in r.stdout


def test_cli_list_empty(cli, store):
    r = cli("agent", "list")
    assert r.exit_code == 0
    assert r.stdout == ""
    assert said(r.stderr, "No agents yet")
    r = cli("agent", "list", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout) == []


def test_cli_create_needs_greeting_and_prompt(cli, files, db_path):
    r = cli("agent", "create", "Zara", "--prompt", "p")
    assert r.exit_code == 2
    assert said(r.stderr, "greeting is missing")
    r = cli("agent", "create", "Zara", "--greeting", "g", "--greeting-file",
            files / "greeting.txt", "--prompt", "p")
    assert r.exit_code == 2
    assert said(r.stderr, "either --greeting or --greeting-file")
    r = cli("agent", "create", "Zara", "--greeting", "g", "--prompt-file", files / "missing.txt")
    assert r.exit_code == 2
    assert said(r.stderr, str(files / "missing.txt"))
    # A create that fails leaves no workspace behind: the next command finds none.
    assert not db_path.exists()
    r = cli("agent", "list", "--json")
    assert r.exit_code == 2 and r.stdout == "" and said(r.stderr, "No dialcli workspace")


def test_cli_malformed_template_shows_position(cli):
    r = cli("agent", "create", "Zara", "--greeting", "Hi {{ NAME }", "--prompt", "p")
    assert r.exit_code == 2
    assert said(r.stderr, "line 1, column 4")
    assert said(r.stderr, "Hi {{ NAME }")


def test_cli_edit_and_delete(cli, store):
    make_agent(store, voice="Polly.Joanna")
    r = cli("agent", "edit", "zara", "--voice", "", "--language", "en-gb", "--name", "Zara Two")
    assert r.exit_code == 0, r.output
    a = agents.get_agent(store, "zara two")
    assert (a.voice, a.language) == (None, "en-GB")
    r = cli("agent", "edit", "zara two")
    assert r.exit_code == 2 and said(r.stderr, "Nothing to change")

    builders.campaign(store, agent_name="Zara Two")
    r = cli("agent", "delete", "Zara Two")
    assert r.exit_code == 1
    assert said(r.stderr, "Can't delete this voice agent") and said(r.stderr, "'Spring'")
    assert agents.get_agent(store, "Zara Two")

    campaigns.delete_campaign(store, "Spring")
    r = cli("agent", "delete", "Zara Two")
    assert r.exit_code == 2 and said(r.stderr, "--yes")     # no terminal to ask on
    assert agents.get_agent(store, "Zara Two")
    r = cli("agent", "delete", "Zara Two", "--yes")
    assert r.exit_code == 0
    assert said(r.stderr, "Deleted agent 'Zara Two'")
    assert agents.list_agents(store) == []


def test_cli_names_with_markup_are_shown_literally(cli, store):
    r = cli("agent", "create", "[/x] [bold]Zed", "--greeting", "Hi [red]{{NAME}}", "--prompt", "p")
    assert r.exit_code == 0
    assert said(r.stderr, "[/x] [bold]Zed")
    r = cli("agent", "show", "[/x] [bold]zed")
    assert r.exit_code == 0 and "Hi [red]{{NAME}}" in r.stdout
    r = cli("agent", "show", "[/nope]")
    assert r.exit_code == 2 and said(r.stderr, "No agent named '[/nope]'")


@pytest.mark.parametrize("width", [40, 60, 79, 120])
def test_list_table_keeps_names_at_any_width(store, width):
    from rich.console import Console

    from dialcli.cli.agent import agents_table

    make_agent(store, name="Zara the collections agent", voice="Polly.Joanna")
    make_agent(store, name="Sam")
    console = Console(width=width, record=True, file=io.StringIO())
    console.print(agents_table(agents.list_agents(store), {}, width=width))
    text = console.export_text()
    assert "Sam" in text and "Zara" in text and "en-US" in text
    assert all(len(line) <= width for line in text.splitlines())
