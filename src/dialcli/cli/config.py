"""Commands: ``dialcli config set|get|list|unset`` (workspace settings).

Validation and the registry of known keys live in ``dialcli.store.settings``; this module
parses arguments and renders.
"""

from __future__ import annotations

import typer
from rich.table import Table

from dialcli.cli.common import note, now, out, print_json, result, show, store, success
from dialcli.clock import to_iso
from dialcli.store import settings as core

app = typer.Typer(
    name="config",
    help="Workspace settings (rate per minute, compliance options, ...).\n\n"
         "\b\nExample:\n  dialcli config set rate_per_minute 0.014",
    no_args_is_help=True,
)


def settings_table(rows: list[core.SettingValue]) -> Table:
    table = Table(title="Workspace settings", title_justify="left")
    table.add_column("Key", style="bold")
    table.add_column("Value")
    table.add_column("Meaning")
    for row in rows:
        if row.value is not None:
            value = row.value
        elif row.default is not None:
            value = f"[dim]{row.default} (default)[/dim]"
        else:
            value = "[dim]unset[/dim]"
        table.add_row(row.key, value, row.summary if row.known else f"[yellow]{row.summary}[/]")
    return table


@app.command("set", context_settings={"ignore_unknown_options": True})
def set_cmd(
    ctx: typer.Context,
    key: str = typer.Argument(..., help="Setting name, e.g. rate_per_minute."),
    value: str = typer.Argument(..., help="New value."),
) -> None:
    """Set a workspace setting (validated).

    \b
    Example:
      dialcli config set rate_per_minute 0.014
    """
    st = store(ctx)
    canonical = core.set_value(st, key, value, now_iso=to_iso(now(ctx)))
    result(key=core.normalize_key(key), value=canonical)
    success(f"{core.normalize_key(key)} = {canonical}")


@app.command("get")
def get_cmd(
    ctx: typer.Context,
    key: str = typer.Argument(..., help="Setting name."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Print one setting's value (its default when unset).

    \b
    Example:
      dialcli config get rate_per_minute
    """
    st = store(ctx)
    setting = core.spec(key)
    stored = st.get_setting(setting.key)
    if as_json:
        print_json({"key": setting.key, "value": stored, "default": setting.default_text(),
                    "effective": stored if stored is not None else setting.default_text()})
        return
    # A value is data, not Rich markup: a path like ``~/lists/[2026]/x.txt`` prints whole.
    if stored is not None:
        out.print(stored, markup=False)
    elif setting.default is not None:
        out.print(setting.default_text(), markup=False)
        note(f"{setting.key} is not set; that is the default.")
    else:
        note(f"{setting.key} is not set.")


@app.command("list")
def list_cmd(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List every known setting with its value or default.

    \b
    Example:
      dialcli config list
    """
    rows = core.list_all(store(ctx))
    if as_json:
        print_json([{"key": r.key, "value": r.value, "default": r.default,
                     "effective": r.effective, "summary": r.summary, "known": r.known,
                     "updated_at": r.updated_at} for r in rows])
        return
    show(settings_table(rows))


@app.command("unset")
def unset_cmd(
    ctx: typer.Context,
    key: str = typer.Argument(..., help="Setting name."),
) -> None:
    """Remove a setting, going back to its default.

    \b
    Example:
      dialcli config unset rate_per_minute
    """
    removed = core.unset(store(ctx), key)
    name = core.normalize_key(key)
    result(key=name, removed=bool(removed))
    if removed:
        success(f"{name} unset.")
    else:
        success(f"{name} was not set.")
