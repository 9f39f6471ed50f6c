"""Cells as spreadsheets and exports leave them, made what the user meant.

``clean_cells`` runs on every chunk before anything reads it: NUL characters and a
byte-order mark at the start of a line are damage, never data; a cell holding an
Excel error ('#N/A', '#REF!') is an empty cell. ``same_number_once`` keeps one number
written in two phone columns of a row in the first of them. Both work a column at a
time and walk a column only when one scan of its text says there is something to do
(see ``prepare`` on why per-row Python work is avoided).

The other way, **safe in a spreadsheet**: a cell from lead data (names, emails,
variables, numbers) written to any output file -- an export, the audit, a rejects
file -- that starts with ``=``, ``+``, ``-``, ``@``, tab or carriage return would be
run as a formula by spreadsheet programs (CSV injection); ``neutralise`` gives it a
leading ``'``, which spreadsheets hide and drop when they save. A number written
``+14155551200`` is left as it is: a spreadsheet reads it as a number.
"""

from __future__ import annotations

import re
from typing import Any

from dialcli.phones import is_e164

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> str:
    """A lead-data cell made safe for spreadsheets (see the module docstring)."""
    if value is None:
        return ""
    text = str(value)
    if text.startswith(FORMULA_PREFIXES) and not is_e164(text):
        return "'" + text
    return text


#: What Excel writes in a cell whose formula failed: no value, never words to say.
EXCEL_ERRORS = frozenset({"#N/A", "#VALUE!", "#REF!", "#DIV/0!", "#NAME?", "#NUM!", "#NULL!",
                          "#SPILL!", "#CALC!", "#FIELD!", "#GETTING_DATA", "#ERROR!"})
_EXCEL_ERROR = re.compile("(?:^|\n)[ \t]*(?:" + "|".join(map(re.escape, EXCEL_ERRORS))
                          + ")[ \t]*(?:\n|$)", re.I)


def clean_cells(cols: list[list[str]]) -> int:
    """Drop the damage a spreadsheet leaves in cells, in place; returns how many cells
    held an Excel error. NUL characters go (a file padded or half-overwritten: never
    data), as does a byte-order mark that starts a line (files pasted together
    leave the second file's mark there), and a cell holding an Excel error ('#N/A',
    '#REF!') becomes empty, so ``{{AMOUNT}}`` falls back to nothing instead of being
    read out. One scan of each column's joined text finds them; only a column that
    has one is walked."""
    errors = 0
    for j, c in enumerate(cols):
        text = "\n".join(c)
        if "\x00" in text:
            c[:] = [v.replace("\x00", "") for v in c]
        if j == 0 and "\ufeff" in text:
            c[:] = [v[1:] if v[:1] == "\ufeff" else v for v in c]
        if "#" in text and _EXCEL_ERROR.search(text):
            hits = [i for i, v in enumerate(c)
                    if v[:1] in "# \t" and v.strip().upper() in EXCEL_ERRORS]
            for i in hits:
                c[i] = ""
            errors += len(hits)
    return errors


def same_number_once(parsed: list) -> None:
    """A number written in two phone columns of one row is dialed once, from the
    first: the later slot is dropped with the reason (counted like an invalid
    phone), so a pass never calls the same line twice. ``parsed`` holds, per phone
    column in slot order, ``(slot, column, e164s, info ids, errors)``; changed in place."""
    for k in range(1, len(parsed)):
        _slot, _j, e164s, info, errors = parsed[k]
        for earlier_slot, _j2, earlier, _i, _e in parsed[:k]:
            common = set(e164s).intersection(earlier)
            common.discard(None)
            if not common:
                continue    # no number of this column in that one (most chunks)
            for i in _same_rows(e164s, earlier, common):
                e164s[i] = None
                info[i] = -1
                errors[i] = f"the same number as phone{earlier_slot}"


def _same_rows(column: list, other: list, common: set) -> list[int]:
    """Rows where ``column`` and ``other`` hold the same number, given the numbers the
    two columns share (a few, usually: each is found with C-speed ``list.index``)."""
    if len(common) > 64:
        return [i for i, (a, b) in enumerate(zip(column, other)) if a is not None and a == b]
    rows = []
    for number in common:
        at = -1
        try:
            while True:
                at = column.index(number, at + 1)
                if other[at] == number:
                    rows.append(at)
        except ValueError:
            pass
    return sorted(rows)
