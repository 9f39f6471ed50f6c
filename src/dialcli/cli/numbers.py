"""Commands: ``dialcli number add|list|remove|sync`` (the numbers campaigns dial from)."""

from __future__ import annotations

from typing import Optional

import typer
from rich import box
from rich.console import Group
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from dialcli import formats
from dialcli.cli import common
from dialcli.config import TwilioCredentials
from dialcli.models import Number
from dialcli.providers.twilio.numbers import SyncResult, sync_numbers
from dialcli.workspace import numbers as core

app = typer.Typer(
    name="number",
    help="Manage the phone numbers campaigns dial from.\n\n"
         "\b\nExample:\n  dialcli number add +14155550100 --label \"Main line\"\n"
         "  dialcli number sync",
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


@app.command("add")
def add(
    ctx: typer.Context,
    number: str = typer.Argument(..., metavar="E164",
                                 help="The number in E.164, e.g. +14155550100 (US/Canada may omit +1)."),
    label: Optional[str] = typer.Option(None, "--label", help="A note to recognise it by, e.g. 'Sales line'."),
) -> None:
    """Add a phone number that campaigns can dial from.

    The number should be one your Twilio account owns (or a verified caller ID);
    dialcli number sync checks that with Twilio. Numbers are stored in E.164:
    "(415) 555-0100" is +14155550100. Without a + only US/Canada numbers are
    understood.

    \b
    Example:
      dialcli number add +14155550100 --label "Sales line"
    """
    added = core.add_number(common.store(ctx, create=True), number, label=label, now=common.now(ctx))
    typed = number.strip()
    common.result(number={"e164": added.e164, "label": added.label})
    common.success(f"Added {added.e164}" + (f" (from {escape(repr(typed))})" if typed != added.e164 else "")
                    + (f", label {escape(repr(added.label))}." if added.label else "."))


@app.command("list")
def list_(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """List the workspace's numbers and the campaigns dialing from each.

    \b
    Example:
      dialcli number list
      dialcli number list --json
    """
    st = common.store(ctx)
    numbers = core.list_numbers(st)
    usage = core.usage(st)
    if as_json:
        common.print_json([core.number_as_dict(n, campaigns=usage.get(n.e164, [])) for n in numbers])
        return
    if not numbers:
        common.note("No numbers yet. Add one with: dialcli number add +14155550100")
        return
    common.show(numbers_table(numbers, usage))


@app.command("remove")
def remove(
    ctx: typer.Context,
    number: str = typer.Argument(..., metavar="E164", help="The number to remove."),
    yes: bool = common.YES,
) -> None:
    """Remove a number that no campaign dials from.

    \b
    Example:
      dialcli number remove +14155550100 --yes
    """
    st = common.store(ctx)
    found = core.get_number(st, number)
    if not core.campaigns_using(st, found.e164):   # else remove_number says why it can't
        common.confirm(f"Remove from-number {found.e164}?", yes=yes,
                       action="Removing a from-number")
    removed = core.remove_number(st, number)
    common.result(removed={"e164": removed.e164, "label": removed.label})
    common.success(f"Removed {removed.e164}.")


def sync_view(result: SyncResult) -> Group:
    """The numbers after a sync, with what changed."""
    table = Table(box=box.SIMPLE_HEAD, show_edge=False)
    for col in ("Number", "Label", "Voice", "On Twilio as", "Change"):
        table.add_column(col, no_wrap=col != "Label")
    for n in result.numbers:
        voice = Text("yes", style="green") if n.voice else Text("no", style="red")
        table.add_row(n.e164, Text(n.label or "—"), voice, n.kind, n.change)
    lines = [table]
    if result.missing:
        lines.append(Text(
            f"{formats.count(len(result.missing))} number(s) are not on this Twilio account; "
            "campaigns cannot "
            "dial from them. Buy or verify them at console.twilio.com.", style="yellow"))
    return Group(*lines)


@app.command("sync")
def sync(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Bring in the numbers your Twilio account owns, and check the ones you added.

    Owned numbers are added to the workspace with their voice capability; numbers you
    added that are verified caller IDs count as voice-capable; numbers Twilio does not
    know are marked unusable so a campaign does not fail on its first dial. Needs
    TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN.

    \b
    Example:
      dialcli number sync
    """
    # lazy: the Twilio SDK only for the one command of the group that talks to Twilio
    from dialcli.providers.twilio.account import TwilioAccount

    account = TwilioAccount(TwilioCredentials.from_env())
    result = sync_numbers(common.store(ctx, create=True), account, now=common.now(ctx))
    if as_json:
        common.print_json([n.as_dict() for n in result.numbers])
        return
    if not result.numbers:
        common.note("The Twilio account has no phone numbers, and the workspace has none. "
                     "Buy one at console.twilio.com > Phone Numbers.")
        return
    common.show(sync_view(result))
    common.success(escape(f"Synced: {formats.count(result.count('added'))} added, "
                          f"{formats.count(result.count('updated'))} "
                          f"updated, {formats.count(len(result.missing))} not on the account."))
