"""Commands: ``dialcli numbers add|list|remove``.

``numbers_app`` is a module-level Typer group so other modules can attach commands
to it (``numbers sync`` lives with the live-calls code); ``register`` mounts it.
"""

from __future__ import annotations

from typing import Optional

import typer
from rich import box
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from dialcli.workspace import numbers as core
from dialcli.cli import common
from dialcli.models import Number

numbers_app = typer.Typer(
    name="numbers",
    help="Manage the phone numbers campaigns dial from.",
    no_args_is_help=True,
)


def _capable(n: Number) -> Text:
    if n.voice_capable is None:
        return Text("not synced", style="dim")
    return Text("yes", style="green") if n.voice_capable else Text("no", style="red")


def numbers_table(numbers: list[Number], usage: dict[str, list[str]]) -> Table:
    """The number list as a Rich table."""
    table = Table(box=box.SIMPLE_HEAD, show_edge=False)
    table.add_column("Number", no_wrap=True, style="bold")
    table.add_column("Label", min_width=8)
    table.add_column("Voice", no_wrap=True)
    table.add_column("Campaigns", min_width=12)
    table.add_column("Added", no_wrap=True)
    for n in numbers:
        table.add_row(n.e164, Text(n.label or "—"), _capable(n),
                      Text(", ".join(usage.get(n.e164, [])) or "—"), n.added_at[:10])
    return table


@numbers_app.command("add")
def add(
    ctx: typer.Context,
    number: str = typer.Argument(..., metavar="E164",
                                 help="The number in E.164, e.g. +14155550100 (US/Canada may omit +1)."),
    label: Optional[str] = typer.Option(None, "--label", help="A note to recognise it by, e.g. 'Sales line'."),
) -> None:
    """Add a phone number that campaigns can dial from.

    The number should be one your Twilio account owns (or a verified caller ID);
    dialcli numbers sync checks that with Twilio. Numbers are stored in E.164:
    "(415) 555-0100" is +14155550100. Without a + only US/Canada numbers are
    understood.

    \b
    Example:
      dialcli numbers add +14155550100 --label "Sales line"
    """
    added = core.add_number(common.store(ctx), number, label=label, now=common.now(ctx))
    typed = number.strip()
    common.success(f"Added {added.e164}" + (f" (from {escape(repr(typed))})" if typed != added.e164 else "")
                    + (f", label {escape(repr(added.label))}." if added.label else "."))


@numbers_app.command("list")
def list_(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """List the workspace's numbers and the campaigns dialing from each.

    \b
    Example:
      dialcli numbers list
      dialcli numbers list --json
    """
    st = common.store(ctx)
    numbers = core.list_numbers(st)
    usage = core.usage(st)
    if as_json:
        common.print_json([core.number_as_dict(n, campaigns=usage.get(n.e164, [])) for n in numbers])
        return
    if not numbers:
        common.note("No numbers yet. Add one with: dialcli numbers add +14155550100")
        return
    common.out.print(numbers_table(numbers, usage))


@numbers_app.command("remove")
def remove(
    ctx: typer.Context,
    number: str = typer.Argument(..., metavar="E164", help="The number to remove."),
) -> None:
    """Remove a number that no campaign dials from.

    \b
    Example:
      dialcli numbers remove +14155550100
    """
    removed = core.remove_number(common.store(ctx), number)
    common.success(f"Removed {removed.e164}.")


def register(app: typer.Typer) -> None:
    """Add the ``numbers`` group to the app."""
    app.add_typer(numbers_app, name="numbers")
