"""The command table: every command's module and the line ``dialcli --help`` shows for
it, the root help's text, and that help drawn without Typer or Rich.

Light on purpose: ``dialcli --help`` and ``--version`` import this module and nothing
else of dialcli's; ``app.py`` builds the Typer application from the same table.

Rules every command follows; a command added here gets the first three for free:

* ``-q``, ``-v``/``-vv`` and ``--log-file`` are added to it (``app.with_common_options``).
* ``--json``: a command that declares none gets the shared one, which prints
  ``{"ok", "workspace", "messages", ...}``; add the changed object with
  ``common.result(name=...)`` beside ``common.success(...)``. A command with data of
  its own shape declares ``--json`` itself (``print_json``: instants always ``...Z``).
* The workspace must exist: ``common.store(ctx)`` exits 2 where there is none. Only a
  command that creates something a user means to keep passes ``create=True``.
* A destructive command takes ``yes: bool = common.YES`` and asks with
  ``common.confirm`` (or ``confirm_by_name``): on stderr, an error naming --yes when
  no terminal can answer. ``--force`` means only "overwrite an existing file".
* Tables go through ``common.show`` (drawn on a terminal; tab-separated, full values
  and RFC 3339 UTC times when piped); times in cells through ``common.when``, which
  names the zone.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Entry:
    """Where a command is defined, and the line ``dialcli --help`` shows for it."""

    module: str             # under dialcli.cli
    help: str               # the first paragraph of the command's own help, on one line
    group: bool = False     # the module's app is the group (``agent``), not a holder

    def load(self, name: str):
        """The Click command (or group) ``name``, importing its module now."""
        import typer   # lazy: only a command that runs needs Typer

        module = importlib.import_module(f"dialcli.cli.{self.module}")
        group = typer.main.get_group(module.app)
        return group if self.group else group.commands[name]


#: Every command, in the order ``dialcli --help`` lists them.
COMMANDS: dict[str, Entry] = {
    "template": Entry("template", 'Write a starter leads CSV with good column names (the '
                                  '"Download template").'),
    "import": Entry("import_", "Import leads from a CSV into a campaign, all or nothing."),
    "preview": Entry("preview", "Show the greeting, system prompt and voicemail message "
                                "rendered for a lead."),
    "start": Entry("start", "Start dialing a campaign (the foreground loop with a live "
                            "dashboard)."),
    "resume": Entry("start", "Resume a paused (or crashed) campaign where it left off."),
    "pause": Entry("pause", "Pause a running campaign: no new dials; calls in progress "
                            "finish."),
    "restart": Entry("start", "Restart a campaign from the top: every lead back to PENDING, "
                              "counters zeroed."),
    "status": Entry("status", "Show a campaign's live snapshot once (KPIs, recent leads, "
                              "recent calls)."),
    "demo": Entry("demo", "Run a whole simulated campaign from the examples, live in your "
                          "terminal."),
    "report": Entry("report", "Show a campaign's results: KPIs, dispositions, leads and cost "
                              "with a 30-day trend."),
    "plan": Entry("plan", "Dry run: when each number may be dialed, and why. Places no "
                          "calls."),
    "audit": Entry("audit", "Export the audit log: one row per dial decision and per skip."),
    "calls": Entry("calls", "Review calls: the log, each conversation, the transcripts.",
                   group=True),
    "doctor": Entry("doctor", "Check that live calls will work from this laptop, and say how "
                              "to fix what won't."),
    "call": Entry("call", "Place one test call to your own phone and print the conversation "
                          "live.", group=True),
    "agent": Entry("agent", "Create and manage voice agents (greeting, system prompt, voice, "
                            "voicemail message).", group=True),
    "number": Entry("numbers", "Manage the phone numbers campaigns dial from.", group=True),
    "campaign": Entry("campaign", "Create and manage campaigns: agent, from-number, calling "
                                  "hours, retries, pacing.", group=True),
    "dnc": Entry("dnc", "The workspace opt-out (do-not-call) list: never dialed by any "
                        "campaign.", group=True),
    "consent": Entry("consent", "Consent records: whose numbers may get AI-voice calls, and "
                                "the proof.", group=True),
    "webhook": Entry("webhooks", "Send campaign.lead.updated events to your endpoint, signed, "
                                  "with retries.", group=True),
    "config": Entry("config", "Workspace settings (rate per minute, compliance options, ...).",
                    group=True),
    "auth": Entry("auth", "Store Twilio and LLM credentials in your OS keyring (env vars still "
                          "win).", group=True),
    "completion": Entry("completion", "Shell completion for dialcli, including names from "
                                      "your workspace.", group=True),
}


#: The root help's text: what dialcli is (``app.py`` gives it to Typer too).
ABOUT = ("Run outbound AI voice-call campaigns from your laptop.\n\n"
         "Import leads from a CSV, pick a voice agent and a from-number, set calling\n"
         "hours and a retry policy, and start: dialcli dials every lead breadth-first\n"
         "inside calling hours, lets the AI agent talk, and labels each outcome.\n\n"
         "Try it without a phone bill: dialcli demo")

#: The root options, as ``app.py`` declares them: (names, metavar, help).
ROOT_OPTIONS = (
    ("--db", "PATH", "Workspace file (default: $DIALCLI_DB or ./dialcli.db)."),
    ("--version", "", "Show the version and exit."),
    ("--quiet -q", "", "Say less: no per-lead lines or notes."),
    ("--verbose -v", "", "Say more; -vv: Twilio requests, relay frames."),
    ("--log-file", "PATH", "Also write the log to PATH."),
    ("--help -h", "", "Show this message and exit."),
)


def root_help(width: int, color: bool = False) -> str:
    """``dialcli --help`` drawn from the tables above, in Typer's layout, without
    importing Typer or Rich (a tenth of a second and more before the first line)."""
    width = max(60, min(width, 120))
    bold = (lambda t: f"\x1b[1;36m{t}\x1b[0m") if color else (lambda t: t)
    lines = ["", " Usage: dialcli [OPTIONS] COMMAND [ARGS]...", ""]
    lines += [f" {line}".rstrip() for line in ABOUT.split("\n")]
    lines.append("")

    def box(title: str, rows: list[tuple[str, str]], left: int) -> None:
        inner = width - 4
        lines.append("╭─ " + title + " " + "─" * (width - len(title) - 5) + "╮")
        for name, text in rows:
            room = inner - left - 2
            words, line, out = text.split(), "", []
            for w in words:
                if line and len(line) + 1 + len(w) > room:
                    out.append(line)
                    line = w
                else:
                    line = f"{line} {w}" if line else w
            out.append(line)
            for i, chunk in enumerate(out):
                label = name if i == 0 else ""
                pad = left - len(label)
                lines.append("│ " + bold(label) + " " * pad + "  " + chunk.ljust(room) + " │")
        lines.append("╰" + "─" * (width - 2) + "╯")

    options = [(f"{names.split()[0]:<10} {' '.join(names.split()[1:]):<3} {metavar:<5}".rstrip(),
                text) for names, metavar, text in ROOT_OPTIONS]
    box("Options", options, max(len(o[0]) for o in options))
    box("Commands", [(name, e.help) for name, e in COMMANDS.items()],
        max(len(n) for n in COMMANDS))
    return "\n".join(lines) + "\n"
