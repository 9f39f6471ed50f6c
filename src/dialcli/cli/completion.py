"""Command: ``dialcli completion show|install`` -- shell completion, with the names of
the campaigns, agents and numbers in the workspace.

The scripts are Typer's (bash, zsh, fish, PowerShell); the shell calls ``dialcli``
back with ``_DIALCLI_COMPLETE`` set, which ``cli.main`` hands to the application.
``app.with_common_options`` gives every argument or option that names a campaign
(metavar CAMPAIGN, ``--campaign``), an agent (AGENT, ``--agent``) or a from-number
(E164, ``--from``) the matching completer below. The completers read the workspace
the command would use (``--db`` on the line, else $DIALCLI_DB or the upward search)
read-only, and answer nothing rather than fail: completion must never print an error.
"""

from __future__ import annotations

import os
import sqlite3
from typing import Optional

import typer

from dialcli.cli.common import note, success
from dialcli.config import find_workspace

app = typer.Typer(
    name="completion",
    help="Shell completion for dialcli, including names from your workspace.\n\n"
         "\b\nExample:\n  dialcli completion install\n  dialcli completion show zsh",
    no_args_is_help=True,
)

PROG = "dialcli"
COMPLETE_VAR = "_DIALCLI_COMPLETE"
SHELLS = ("bash", "zsh", "fish", "pwsh", "powershell")

_QUERIES = {
    "campaign": "SELECT name FROM campaigns ORDER BY name",
    "agent": "SELECT name FROM agents ORDER BY name",
    "number": "SELECT e164 FROM numbers ORDER BY e164",
}


def names(kind: str, incomplete: str, db_option: Optional[str] = None) -> list[str]:
    """The ``kind`` names in the workspace that start with ``incomplete`` (any case)."""
    where = find_workspace(db_option)
    if not where.exists:
        return []
    try:
        conn = sqlite3.connect(f"file:{where.path}?mode=ro", uri=True, timeout=0.5)
        try:
            rows = [r[0] for r in conn.execute(_QUERIES[kind])]
        finally:
            conn.close()
    except sqlite3.Error:
        return []
    low = incomplete.lower()
    return [n for n in rows if str(n).lower().startswith(low)]


def completer(kind: str):
    """A shell-complete function for Click parameters naming a ``kind``."""

    def complete(ctx, param, incomplete: str) -> list[str]:
        root = ctx.find_root() if ctx is not None else None
        db = root.params.get("db") if root is not None else None
        return names(kind, incomplete, db)

    return complete


def kind_of(param) -> str | None:
    """Which names a parameter takes, from its metavar or option names."""
    meta = (getattr(param, "metavar", None) or "").strip("[]").upper()
    opts = set(getattr(param, "opts", []))
    if meta == "CAMPAIGN" or "--campaign" in opts or param.name in ("campaign", "campaign_arg"):
        return "campaign"
    if meta == "AGENT" or "--agent" in opts:
        return "agent"
    if meta == "E164" or "--from" in opts:
        return "number"
    return None


def _shell(shell: Optional[str]) -> str:
    if shell is None:
        shell = os.path.basename(os.environ.get("SHELL", "")) or "bash"
    shell = shell.lower()
    if shell not in SHELLS:
        from dialcli.errors import InputError

        raise InputError(f"Unknown shell {shell!r}.", hint="Use bash, zsh, fish or pwsh.")
    return shell


@app.command("show")
def show_cmd(
    shell: Optional[str] = typer.Argument(None, help="bash, zsh, fish or pwsh (default: "
                                                     "the current shell)."),
) -> None:
    """Print the completion script, to copy or to source from your shell's startup file.

    \b
    Example:
      dialcli completion show bash >> ~/.bashrc
      eval "$(dialcli completion show zsh)"
    """
    from typer.completion import completion_init, get_completion_script

    completion_init()
    typer.echo(get_completion_script(prog_name=PROG, complete_var=COMPLETE_VAR,
                                     shell=_shell(shell)))


@app.command("install")
def install_cmd(
    shell: Optional[str] = typer.Argument(None, help="bash, zsh, fish or pwsh (default: "
                                                     "the current shell)."),
) -> None:
    """Install completion for your shell (takes effect in a new terminal).

    Completes commands, options, and the campaign, agent and number names of the
    workspace you are in.

    \b
    Example:
      dialcli completion install
    """
    from typer.completion import completion_init, install

    completion_init()
    name, path = install(shell=_shell(shell), prog_name=PROG, complete_var=COMPLETE_VAR)
    success(f"{name} completion installed in {path}.")
    note("It takes effect in a new terminal.")
