"""Commands: ``dialcli auth login|status|logout`` (credentials in the OS keyring).

Storage is ``dialcli.credstore`` (the keyring, or a 0600 file where there is none);
which value wins is ``dialcli.config.credential`` (the environment, then the store).
Secrets are typed at a hidden prompt or piped on stdin, never given as arguments:
an argument is visible in ``ps`` and kept in shell history.
"""

from __future__ import annotations

import sys
from typing import Optional

import typer
from rich.markup import escape
from rich.table import Table

from dialcli import credstore
from dialcli.cli.common import interactive, note, print_json, show, success, warn
from dialcli.config import credential_source, env_value
from dialcli.errors import InputError

app = typer.Typer(
    name="auth",
    help="Store Twilio and LLM credentials in your OS keyring (env vars still win).\n\n"
         "\b\nExample:\n  dialcli auth login\n  dialcli auth status",
    no_args_is_help=True,
)

LABELS = {"TWILIO_ACCOUNT_SID": "Twilio Account SID", "TWILIO_AUTH_TOKEN": "Twilio auth token",
          "DIALCLI_LLM_API_KEY": "LLM API key"}


def _stdin_lines() -> list[str]:
    return [line.strip() for line in sys.stdin.read().splitlines() if line.strip()]


def _check_sid(sid: str) -> str:
    sid = sid.strip()
    if not (sid.startswith("AC") and len(sid) == 34 and sid[2:].isalnum()):
        raise InputError(f"{sid!r} does not look like an Account SID (AC + 32 characters).",
                         hint="Copy it from console.twilio.com, Account Info.")
    return sid


def _check_secret(value: str, what: str) -> str:
    value = value.strip()
    if not value:
        raise InputError(f"No {what} given.")
    if any(c.isspace() for c in value):
        raise InputError(f"The {what} contains spaces; paste it again.")
    return value


@app.command("login")
def login(
    sid: Optional[str] = typer.Option(None, "--sid", metavar="AC...",
                                      help="Twilio Account SID (not a secret)."),
    llm: bool = typer.Option(False, "--llm", help="Store an LLM API key instead of Twilio's "
                                                  "credentials."),
) -> None:
    """Store your Twilio Account SID and auth token (or an LLM API key) in the keyring.

    On a terminal the secret is asked for at a hidden prompt; otherwise it is read
    from stdin, never from an argument. Where the OS has no keyring (a headless
    Linux box) it goes to a file in your config folder readable by you only, and
    this says so. Environment variables, when set, still win.

    \b
    Example:
      dialcli auth login
      printf '%s\\n' "$TOKEN" | \\
        dialcli auth login --sid AC0123456789abcdef0123456789abcdef
      dialcli auth login --llm
    """
    values: dict[str, str] = {}
    tty = interactive()
    if llm:
        if tty:
            key = typer.prompt("LLM API key", hide_input=True, err=True)
        else:
            lines = _stdin_lines()
            key = lines[0] if lines else ""
        values["DIALCLI_LLM_API_KEY"] = _check_secret(key, "LLM API key")
    else:
        if sid is None:
            if not tty:
                raise InputError("Give the Account SID with --sid when piping the token.",
                                 hint="printf '%s\\n' \"$TOKEN\" | dialcli auth login --sid AC...")
            sid = typer.prompt("Twilio Account SID", err=True)
        values["TWILIO_ACCOUNT_SID"] = _check_sid(sid)
        if tty:
            token = typer.prompt("Twilio auth token", hide_input=True, err=True)
        else:
            lines = _stdin_lines()
            token = lines[0] if lines else ""
        values["TWILIO_AUTH_TOKEN"] = _check_secret(token, "Twilio auth token")
    where = credstore.save(values)
    names = ", ".join(LABELS[n] for n in values)
    success(f"Stored {names} in the {escape(where)}.")
    shadowed = [n for n in values if env_value(n)]
    if shadowed:
        warn(f"{', '.join(shadowed)} is set in your environment and wins over what was "
             "stored; unset it to use the stored value.")


def _masked_sid(sid: str) -> str:
    return f"{sid[:4]}…{sid[-4:]}" if len(sid) > 10 else "…"


@app.command("status")
def status(
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show where each credential comes from (never its value).

    \b
    Example:
      dialcli auth status
    """
    from dialcli.config import credential

    backend = credstore.backend_name()
    rows = []
    for name in credstore.NAMES:
        source = credential_source(name)
        if name == "DIALCLI_LLM_API_KEY" and source is None and env_value("OPENAI_API_KEY"):
            source = "environment (OPENAI_API_KEY)"
        shown = None
        if name == "TWILIO_ACCOUNT_SID" and source is not None:
            shown = _masked_sid(credential(name) or "")
        rows.append({"name": name, "label": LABELS[name], "set": source is not None,
                     "source": source, "shown": shown})
    if as_json:
        print_json({"keyring": backend, "file": str(credstore.file_path()),
                    "credentials": rows})
        return
    table = Table(title="Credentials", title_justify="left")
    for col in ("Credential", "From", "Value"):
        table.add_column(col)
    for row in rows:
        table.add_row(row["label"], row["source"] or "[yellow]not set[/yellow]",
                      row["shown"] or ("[dim]hidden[/dim]" if row["set"] else ""))
    show(table)
    note(f"Keyring: {backend}" if backend else
         f"Keyring: none on this system; dialcli auth login stores to {credstore.file_path()} "
         "(readable by you only).")


@app.command("logout")
def logout(
    llm: bool = typer.Option(False, "--llm", help="Remove only the LLM API key."),
    twilio: bool = typer.Option(False, "--twilio", help="Remove only the Twilio credentials."),
) -> None:
    """Remove stored credentials from the keyring (and the fallback file).

    Environment variables are not touched: this says which are still set.

    \b
    Example:
      dialcli auth logout
    """
    names = credstore.NAMES
    if llm and not twilio:
        names = ("DIALCLI_LLM_API_KEY",)
    elif twilio and not llm:
        names = ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN")
    removed = credstore.delete(names)
    if removed:
        success("Removed " + "; ".join(escape(r) for r in removed) + ".")
    else:
        note("Nothing was stored.")
    still = [n for n in names if env_value(n)]
    if still:
        warn(f"Still set in your environment: {', '.join(still)}.")
