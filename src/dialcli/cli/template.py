"""Command: ``dialcli template`` -- the starter leads CSV (the "Download template")."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape

from dialcli.cli import common
from dialcli.errors import InputError
from dialcli.leads import importer

app = typer.Typer()


@app.command("template")
def template(
    file: Optional[Path] = typer.Argument(
        None, metavar="[FILE]", help="Write to FILE (the same as -o FILE)."),
    output: Optional[Path] = typer.Option(
        None, "-o", "--output", metavar="FILE", help="Write to FILE instead of stdout."),
    header_only: bool = typer.Option(
        False, "--header-only", help="Only the header row, no example leads."),
    force: bool = typer.Option(False, "--force", help="Overwrite FILE if it exists."),
) -> None:
    """Write a starter leads CSV with good column names (the "Download template").

    Columns: name and phone1 (required), phone2, phone3, email, timezone (an IANA
    zone that overrides the phone's), consent_at, consent_type (written or
    express) and consent_source (the proof: form URL, recording id) -- the
    consent the lead gave, which the campaign's purpose requires before a dial --
    and example variables (state, amount, case_number, due_date, address): every
    other column becomes a {{VARIABLE}} for the agent's greeting and prompt.
    The two example rows use fictional 555-01xx numbers: replace them.

    \b
    Example:
      dialcli template leads.csv
      dialcli template --header-only > leads.csv
    """
    if file is not None and output is not None and file != output:
        raise InputError(f"Two files given ({file} and -o {output}); name one.")
    output = output or file

    text = importer.template_csv(examples=not header_only)
    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    if output.exists() and not force:
        raise InputError(f"{output} already exists.",
                         hint="Pass --force to overwrite it, or choose another name with -o.")
    # lazy: only when a file is written
    from dialcli import outfiles

    with outfiles.write_text_atomically(outfiles.AtomicFile(
            output, what="template file", option="-o")) as fh:
        fh.write(text)
    common.success(f"Wrote {escape(str(output))}. Fill in one lead per row, then: "
                    f"dialcli import {escape(str(output))}")
