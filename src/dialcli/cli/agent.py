"""Commands: ``dialcli agent create|list|show|edit|delete``.

Thin: each command parses options, calls one function in ``dialcli.workspace.agents`` and
renders the result. User-written text (names, greetings, prompts) is always put in
``rich.text.Text`` so brackets in a prompt are never read as Rich markup.
"""

from __future__ import annotations

from typing import Optional

import typer
from rich import box
from rich.console import Group, RenderableType
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from dialcli.cli import common
from dialcli.models import Agent
from dialcli.workspace import agents as core
from dialcli.workspace.voices import say_voice_for

app = typer.Typer(
    name="agent",
    help="Create and manage voice agents (greeting, system prompt, voice, voicemail message).",
    no_args_is_help=True,
)

_TOKENS_NOTE = "Use {{TOKEN}} for lead variables, e.g. {{NAME}} or {{CASE_NUMBER}}."


def voice_label(agent: Agent) -> str:
    """The conversation voice as the user picked it: "Amazon Joanna-Neural"."""
    if not agent.voice:
        return f"{agent.tts_provider} default" if agent.tts_provider else "Twilio default"
    return f"{agent.tts_provider} {agent.voice}" if agent.tts_provider else agent.voice


def say_voice_label(agent: Agent) -> str:
    """The voicemail (<Say>) voice, and whether it was derived."""
    chosen = say_voice_for(agent)
    if agent.voicemail_voice:
        return chosen or ""
    return f"{chosen} (derived)" if chosen else "Twilio default"


def agents_table(agents: list[Agent], counts: dict[int, int], *, width: int | None = None) -> Table:
    """The agent list as a Rich table (``width``: the console's, to fit narrow ones)."""
    # The greeting takes what the other columns leave (expand + ratio), cut with
    # "…". Too narrow for that, Rich would squeeze the names away: drop it instead.
    narrow = width is not None and width < 76
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, expand=not narrow)
    table.add_column("Name", no_wrap=narrow, overflow="ellipsis",
                     max_width=max(8, width - 36) if narrow and width else None)
    table.add_column("Language", no_wrap=True)
    if not narrow:
        table.add_column("Voice", no_wrap=True, overflow="fold")
    table.add_column("Voicemail", no_wrap=True)
    table.add_column("Campaigns", no_wrap=True)
    if not narrow:
        table.add_column("Greeting", ratio=1, no_wrap=True, overflow="ellipsis")
    for a in agents:
        vm = "message" if a.voicemail_message else "—"
        used = str(counts.get(a.id, 0))
        if narrow:
            table.add_row(Text(a.name, style="bold"), a.language, vm, used)
        else:
            table.add_row(Text(a.name, style="bold"), a.language, Text(voice_label(a)), vm,
                          used, Text(" ".join(a.greeting.split())))
    return table


def agent_detail(agent: Agent, campaigns: list[str]) -> RenderableType:
    """One agent: settings, then its texts verbatim."""
    info = Table.grid(padding=(0, 2))
    info.add_column(style="dim", no_wrap=True)
    info.add_column()
    info.add_row("Agent", Text(agent.name, style="bold"))
    info.add_row("Language", agent.language)
    info.add_row("Voice", Text(voice_label(agent)))
    info.add_row("Voicemail voice", Text(say_voice_label(agent)))
    info.add_row("LLM model", Text(agent.llm_model or "workspace default"))
    info.add_row("Tokens", Text(", ".join(core.agent_tokens(agent)) or "none"))
    info.add_row("Extracts", Text("; ".join(
        f"{f['name']} ({f['type']})" + (f": {f['description']}" if f["description"] else "")
        for f in core.agent_as_dict(agent)["fields"]) or "nothing"))
    info.add_row("Campaigns", Text(", ".join(campaigns) or "none"))
    info.add_row("Updated", common.when(agent.updated_at))
    parts: list[RenderableType] = [
        info,
        Panel(Text(agent.greeting), title="Greeting", title_align="left", box=box.ROUNDED),
        Panel(Text(agent.system_prompt), title="System prompt", title_align="left", box=box.ROUNDED),
    ]
    if agent.voicemail_message:
        parts.append(Panel(Text(agent.voicemail_message), title="Voicemail message",
                           title_align="left", box=box.ROUNDED))
    return Group(*parts)


@app.command("create")
def create(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="NAME", help="Agent name (unique, case-insensitive)."),
    greeting: Optional[str] = typer.Option(None, "--greeting", help="First thing the agent says. " + _TOKENS_NOTE),
    greeting_file: Optional[str] = typer.Option(None, "--greeting-file", metavar="FILE",
                                                help="Read the greeting from a UTF-8 file."),
    prompt: Optional[str] = typer.Option(None, "--prompt", help="System prompt for the conversation."),
    prompt_file: Optional[str] = typer.Option(None, "--prompt-file", metavar="FILE",
                                              help="Read the system prompt from a UTF-8 file."),
    voice: Optional[str] = typer.Option(
        None, "--voice", help="Conversation voice id of --tts-provider, e.g. en-US-Journey-O (Google), "
                              "Joanna-Neural (Amazon), an ElevenLabs voice id. Default: Twilio's."),
    tts_provider: Optional[str] = typer.Option(
        None, "--tts-provider", help="ConversationRelay text-to-speech: Google, Amazon or ElevenLabs "
                                     "(guessed from --voice when omitted)."),
    voicemail_voice: Optional[str] = typer.Option(
        None, "--voicemail-voice", help="<Say> voice for the voicemail message, e.g. Polly.Joanna-Neural, "
                                        "Google.en-US-Neural2-F (default: matches --voice/--language)."),
    language: str = typer.Option("en-US", "--language",
                                 help="Language tag for speech and transcription, e.g. en-US, es-US."),
    voicemail_message: Optional[str] = typer.Option(
        None, "--voicemail-message", help="Message left on answering machines (campaigns with --voicemail message)."),
    voicemail_file: Optional[str] = typer.Option(None, "--voicemail-message-file", metavar="FILE",
                                                 help="Read the voicemail message from a UTF-8 file."),
    llm_model: Optional[str] = typer.Option(None, "--llm-model", metavar="MODEL",
                                            help="Chat model for this agent (default: $DIALCLI_LLM_MODEL)."),
    field: list[str] = typer.Option([], "--field", metavar="SPEC",
                                    help="Extract a field from each call: NAME:TYPE[:DESCRIPTION], "
                                         "TYPE text, number, bool, date or datetime; repeatable."),
    fields_file: Optional[str] = typer.Option(None, "--fields-file", metavar="FILE",
                                              help="The fields of a JSON or TOML schema file."),
) -> None:
    """Create a voice agent.

    The greeting, system prompt and voicemail message may use {{TOKEN}} variables from
    the lead's CSV columns; {{NAME}} falls back to "there" and missing values to empty.
    A malformed template is refused with the line and column of the error.

    \b
    Example:
      dialcli agent create Zara --greeting-file greeting.txt \\
        --prompt-file prompt.txt
      dialcli agent create Sam --greeting "Hi {{NAME}}, this is Sam from Acme." \\
        --prompt "You are Sam, a polite assistant." \\
        --voicemail-message "Please call us back."
      dialcli agent create Lupe --language es-US --tts-provider Amazon \\
        --voice Lupe-Neural \\
        --greeting-file saludo.txt --prompt-file prompt.txt
    """
    g = core.read_text_option(greeting, greeting_file, field="greeting", option="greeting", required=True)
    p = core.read_text_option(prompt, prompt_file, field="system prompt", option="prompt", required=True)
    vm = core.read_text_option(voicemail_message, voicemail_file, field="voicemail message",
                               option="voicemail-message", required=False)
    from dialcli.workspace import fields as extracted   # lazy: only with field specs

    specs = [extracted.parse_field_option(f) for f in field]
    if fields_file:
        specs += extracted.load_fields_file(fields_file)
    agent = core.create_agent(
        common.store(ctx, create=True), name=name, greeting=g or "", prompt=p or "",
        voice=voice, language=language, voicemail_message=vm, llm_model=llm_model,
        tts_provider=tts_provider, voicemail_voice=voicemail_voice, now=common.now(ctx),
        fields=specs,
    )
    tokens = core.agent_tokens(agent)
    common.result(agent=core.agent_as_dict(agent))
    common.success(f"Created agent {escape(repr(agent.name))}"
                    + (f" (tokens: {', '.join(tokens)})." if tokens else "."))


@app.command("list")
def list_(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """List the workspace's agents.

    \b
    Example:
      dialcli agent list
      dialcli agent list --json
    """
    st = common.store(ctx)
    agents = core.list_agents(st)
    counts = core.campaign_counts(st)
    if as_json:
        common.print_json([core.agent_as_dict(a) | {"campaign_count": counts.get(a.id, 0)}
                            for a in agents])
        return
    if not agents:
        common.note("No agents yet. Create one with: dialcli agent create NAME "
                     "--greeting-file greeting.txt --prompt-file prompt.txt")
        return
    common.show(agents_table(agents, counts, width=common.table_width()))


@app.command("show")
def show(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="AGENT", help="Agent name."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show an agent's settings, greeting, system prompt and voicemail message.

    \b
    Example:
      dialcli agent show Zara
      dialcli agent show Zara --json
    """
    st = common.store(ctx)
    agent = core.get_agent(st, name)
    campaigns = core.campaigns_using(st, agent.id)
    if as_json:
        common.print_json(core.agent_as_dict(agent, campaigns=campaigns))
        return
    common.show(agent_detail(agent, campaigns))


@app.command("edit")
def edit(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="AGENT", help="Agent to change."),
    new_name: Optional[str] = typer.Option(None, "--name", help="Rename the agent."),
    greeting: Optional[str] = typer.Option(None, "--greeting", help="New greeting."),
    greeting_file: Optional[str] = typer.Option(None, "--greeting-file", metavar="FILE",
                                                help="Read the new greeting from a file."),
    prompt: Optional[str] = typer.Option(None, "--prompt", help="New system prompt."),
    prompt_file: Optional[str] = typer.Option(None, "--prompt-file", metavar="FILE",
                                              help="Read the new system prompt from a file."),
    voice: Optional[str] = typer.Option(None, "--voice", help='New conversation voice id ("" = provider default).'),
    tts_provider: Optional[str] = typer.Option(
        None, "--tts-provider", help='Google, Amazon or ElevenLabs ("" = Twilio default).'),
    voicemail_voice: Optional[str] = typer.Option(
        None, "--voicemail-voice", help='New <Say> voice for the voicemail message ("" = derived).'),
    language: Optional[str] = typer.Option(None, "--language", help="New language tag."),
    voicemail_message: Optional[str] = typer.Option(
        None, "--voicemail-message", help='New voicemail message ("" removes it).'),
    voicemail_file: Optional[str] = typer.Option(None, "--voicemail-message-file", metavar="FILE",
                                                 help="Read the voicemail message from a file."),
    llm_model: Optional[str] = typer.Option(None, "--llm-model", metavar="MODEL",
                                            help='Chat model ("" = workspace default).'),
    field: list[str] = typer.Option([], "--field", metavar="SPEC",
                                    help="Extract a field from each call: NAME:TYPE[:DESCRIPTION], "
                                         "TYPE text, number, bool, date or datetime; repeatable; "
                                         "the same NAME replaces."),
    fields_file: Optional[str] = typer.Option(None, "--fields-file", metavar="FILE",
                                              help="Add the fields of a JSON or TOML schema file."),
    drop_field: list[str] = typer.Option([], "--drop-field", metavar="NAME",
                                         help="Stop extracting this field."),
) -> None:
    """Change an agent; only the options given are changed.

    Campaigns using the agent pick up the change for their next call.

    \b
    Example:
      dialcli agent edit Zara --greeting-file greeting-v2.txt
      dialcli agent edit Zara --name "Zara (collections)" \\
        --tts-provider Amazon --voice Joanna-Neural
      dialcli agent edit Zara \\
        --field "best_time:text:When they want a call back" \\
        --field amount_promised:number --field wants_brochure:bool
    """
    from dialcli.workspace import fields as extracted   # lazy: only edit reads field specs

    added = [extracted.parse_field_option(f) for f in field]
    if fields_file:
        added += extracted.load_fields_file(fields_file)
    g = core.read_text_option(greeting, greeting_file, field="greeting", option="greeting", required=False)
    p = core.read_text_option(prompt, prompt_file, field="system prompt", option="prompt", required=False)
    vm = core.read_text_option(voicemail_message, voicemail_file, field="voicemail message",
                               option="voicemail-message", required=False)
    agent = core.edit_agent(
        common.store(ctx), name, new_name=new_name, greeting=g, prompt=p,
        voice=core.UNSET if voice is None else voice, language=language,
        voicemail_message=core.UNSET if vm is None else vm,
        llm_model=core.UNSET if llm_model is None else llm_model,
        tts_provider=core.UNSET if tts_provider is None else tts_provider,
        voicemail_voice=core.UNSET if voicemail_voice is None else voicemail_voice,
        now=common.now(ctx), add_fields=added, drop_fields=drop_field,
    )
    common.result(agent=core.agent_as_dict(agent))
    common.success(f"Updated agent {escape(repr(agent.name))}.")


@app.command("delete")
def delete(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="AGENT", help="Agent to delete."),
    yes: bool = common.YES,
) -> None:
    """Delete an agent that no campaign uses.

    An agent attached to a campaign cannot be deleted: reassign the campaign's agent
    or delete the campaign first.

    \b
    Example:
      dialcli agent delete Zara
      dialcli agent delete Zara --yes
    """
    st = common.store(ctx)
    found = core.get_agent(st, name)
    if not core.campaigns_using(st, found.id):     # else delete_agent says why it can't
        common.confirm(f"Delete agent {found.name!r}?", yes=yes, action="Deleting an agent")
    agent = core.delete_agent(st, name)
    common.result(deleted=core.agent_as_dict(agent))
    common.success(f"Deleted agent {escape(repr(agent.name))}.")


from dialcli.cli.agent_eval import register as register_eval_commands  # noqa: E402

register_eval_commands(app)   # dialcli agent test / agent try
