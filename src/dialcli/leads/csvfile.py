"""Reading a lead CSV: encoding, delimiter, the top rows, and records with line numbers.

Two readers give the same records (``tests/test_importer.py`` checks it on a file
of edge cases). The default is pandas' C tokenizer (``read_columns``): it hands
back columns without any per-row Python step, which is about twice as fast as
the ``csv`` module at a million rows. Its one limit is a fixed column count, so
it makes room for ``EXTRA_COLUMNS`` more than the header (a row with an unquoted
comma or two is rejected on its own); a record with more than that raises
``ReaderFallback`` and the import starts over with the ``csv`` module, which
reads anything row by row (``read_records``; also used for the header).

Line numbers are physical lines, so a reject points at the line the user sees in
an editor: each record takes one line plus one per line break inside its quoted
values (CR, LF or CRLF), and blank lines are records too. pandas does not report
lines, so they are counted from the values; the csv reader cross-checks its
count against ``reader.line_num``.

Encoding: UTF-8 (a BOM is dropped), UTF-16 with a BOM (Excel's "Unicode text") or
without one, otherwise Windows-1252, then Latin-1, with a notice (``textfiles``).
A few NUL bytes (a damaged export) are dropped from the values; a file that is
mostly NULs is refused as not text. The delimiter is what Excel's ``sep=;`` first
line names, else the most frequent of , ; TAB | on the first line that has one; the
header is chosen among the first rows (``header.choose_header``). The whole file is checked
before the first row is read, so a late invalid byte cannot switch encodings
halfway through an import.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from bisect import bisect_right
from itertools import accumulate, chain, islice, repeat
from operator import itemgetter
from pathlib import Path
from typing import Any, Iterator

from dialcli import textfiles
from dialcli.errors import InputError
from dialcli.phones import PHONE_SLOTS, US_STATES

ISO_RE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
#: A lead's consent columns (normalized tokens): when, what kind, the proof's source.
CONSENT_AT, CONSENT_TYPE, CONSENT_SOURCE = "CONSENT_AT", "CONSENT_TYPE", "CONSENT_SOURCE"
CONSENT_COLUMNS = (CONSENT_AT, CONSENT_TYPE, CONSENT_SOURCE)
#: Columns that become a lead's own fields, not template variables (normalized tokens).
STRUCTURED = frozenset({"NAME", "EMAIL", "TIMEZONE", *CONSENT_COLUMNS}
                       | {f"PHONE{i}" for i in range(1, PHONE_SLOTS + 1)})
_DELIMITERS = (",", ";", "\t", "|")
FIELD_LIMIT = 1 << 20
csv.field_size_limit(max(csv.field_size_limit(), FIELD_LIMIT))


@dataclass
class FileInfo:
    size: int
    encoding: str
    delimiter: str
    header: list[str]
    header_line: int
    estimated_rows: int
    notices: list[str] = field(default_factory=list)
    #: The first non-blank rows (cells, start line): the header is the first that
    #: names the lead's columns; rows above it are a title or notes.
    candidates: list[tuple[list[str], int]] = field(default_factory=list)


def _sniff_delimiter(first_line: str) -> str:
    """The separator of the header line: the most frequent of , ; TAB |."""
    counts = {d: first_line.count(d) for d in _DELIMITERS}
    best = max(_DELIMITERS, key=lambda d: (counts[d], d == ","))
    return best if counts[best] else ","


def inspect(path: Path) -> FileInfo:
    """Check the file is a readable CSV; find encoding, delimiter and header row."""
    if not path.exists():
        raise InputError(f"{path} does not exist.", hint="Check the path and try again.")
    if not path.is_file():
        raise InputError(f"{path} is not a file.")
    size = path.stat().st_size
    if size == 0:
        raise InputError(f"{path.name} is empty: no header and no rows.",
                         hint="Start from the template: dialcli template -o leads.csv")
    with path.open("rb") as f:
        head = f.read(65536)
    if head.startswith(b"PK\x03\x04"):
        raise InputError(f"{path.name} looks like an Excel workbook (.xlsx), not a CSV.",
                         hint="In Excel use File > Save As > 'CSV UTF-8 (Comma delimited)'.")
    encoding, notices, newlines = textfiles.sniff(path, head)
    if not encoding.startswith("utf-16") and head.count(0) * 10 > len(head):
        raise InputError(f"{path.name} contains NUL bytes, so it is not a text CSV.",
                         hint="Save it as 'CSV UTF-8' from your spreadsheet and import again.")
    delimiter, sep_line = _first_lines(path, encoding, head)
    candidates: list[tuple[list[str], int]] = []
    for rows, starts, _pos in read_records(path, encoding, delimiter, 64, after=0):
        candidates = [(row, start) for row, start in zip(rows, starts)
                      if start > sep_line and any(cell.strip() for cell in row)]
        break
    if not candidates:
        raise InputError(f"{path.name} has no header row (only blank lines).",
                         hint="Start from the template: dialcli template -o leads.csv")
    header, header_line = candidates[0]
    return FileInfo(size, encoding, delimiter, header, header_line,
                    max(0, newlines - header_line), notices,
                    candidates=candidates[:HEADER_SEARCH_ROWS])


#: How many non-blank rows at the top may be a title or notes above the header row.
HEADER_SEARCH_ROWS = 10
_SEP_LINE = re.compile(r"\s*sep=(.)\s*", re.I)


def _first_lines(path: Path, encoding: str, head: bytes) -> tuple[str, int]:
    """(delimiter, line of Excel's ``sep=;`` line or 0).

    The delimiter is the one Excel's ``sep=`` line names, else the most frequent of
    , ; TAB | on the first non-blank line that has any of them: a title above the
    header (Numbers' 'Table 1') has none."""
    lines = []
    with path.open("r", encoding=encoding, newline="") as f:
        for _ in range(200):
            line = f.readline(65536)
            if not line:
                break
            lines.append(line)
            if len([x for x in lines if x.strip()]) > HEADER_SEARCH_ROWS:
                break
    text = [x.lstrip("\ufeff") for x in lines]
    first = next((x.strip() for x in text if x.strip()), "")
    if re.match(r"<(!doctype|html|\?xml|head|body)\b", first, re.I):
        raise InputError(f"{path.name} is a web page (HTML or XML), not a CSV: the download "
                         "may have failed or needed a sign-in.",
                         hint="Open it to see what it says, then export the leads as CSV again.")
    if first[:1] and first[:1] in "[{" and first[1:2] in ('"', "{", "[", "") and not any(
            d in first.split('"', 1)[0] for d in _DELIMITERS):
        raise InputError(f"{path.name} looks like JSON, not a CSV.",
                         hint="Export the leads as CSV (one row per lead, a header row with "
                              "name and phone1), then import again.")
    for number, line in enumerate(text, 1):
        if not line.strip():
            continue
        m = _SEP_LINE.fullmatch(line)
        if m and m.group(1) in _DELIMITERS:
            return m.group(1), number
        break
    for line in text:
        if any(d in line for d in _DELIMITERS):
            return _sniff_delimiter(line), 0
    return ",", 0


def read_records(path: Path, encoding: str, delimiter: str, chunk_rows: int, *,
                 after: int) -> Iterator[tuple[list[list[str]], list[int], int]]:
    """Chunks of ``(rows, start line of each row, bytes read so far)``.

    Blank lines come back as empty rows (so callers can skip them while the line
    count stays right). Records that start on or before line ``after`` (the header
    and any title above it) are not returned.
    """
    raw = path.open("rb")
    try:
        text = io.TextIOWrapper(raw, encoding=encoding, newline="")
        reader = csv.reader(text, delimiter=delimiter)
        last = 0
        # Small first chunks get the writer going while the reader is still warming
        # the phone cache (most new exchanges show up early in a file).
        sizes = chain((min(chunk_rows, 1_000), min(chunk_rows, 5_000)), repeat(chunk_rows))
        final: tuple[list[str], int] | None = None
        for size in sizes:
            try:
                rows = list(islice(reader, size))
            except csv.Error as exc:
                if "field larger than field limit" in str(exc):
                    raise too_long(path, reader.line_num) from None
                raise InputError(
                    f"{path.name}, line {reader.line_num}: cannot read the CSV ({exc}).",
                    hint="A value may be missing its closing quote; fix that line and "
                         "import again.",
                ) from None
            if not rows:
                if final is not None:
                    _check_closed(path, encoding, delimiter, *final)
                return
            starts = record_starts(rows, last, reader.line_num)
            last = reader.line_num
            final = rows[-1], starts[-1]
            if starts[0] <= after:
                keep = bisect_right(starts, after)
                del rows[:keep]
                del starts[:keep]
            if rows:
                yield rows, starts, raw.tell()
    finally:
        raw.close()


def too_long(path: Path, line: int) -> InputError:
    return InputError(
        f"{path.name}, line {line}: a value is longer than {FIELD_LIMIT:,} characters.",
        hint="A value may be missing its closing quote, so that it runs on over the lines "
             "after it; fix that line and import again.",
    )


def _check_closed(path: Path, encoding: str, delimiter: str, row: list[str], line: int) -> None:
    """Refuse a file whose last record is a quote that is never closed.

    The csv module (not strict) ends such a record at the end of the file, so
    every line after the stray quote would become part of one value and those
    leads would vanish without a word. Only a last record holding a line break
    can have swallowed lines; it alone is parsed again, strictly.
    """
    if not any("\n" in cell or "\r" in cell for cell in row):
        return
    with path.open("r", encoding=encoding, newline="") as f:
        try:
            for _ in csv.reader(islice(f, line - 1, None), delimiter=delimiter, strict=True):
                pass
        except csv.Error as exc:
            if "unexpected end of data" not in str(exc):
                return
            raise InputError(
                f"{path.name}, line {line}: a quoted value starts here and is never closed, "
                "so every line after it would be read as part of it.",
                hint='Add the missing closing quote (") or remove the stray one, then import '
                     "again.",
            ) from None


class ReaderFallback(Exception):
    """pandas cannot read this file the way the csv module does; use the csv reader."""


#: Columns beyond the header that the pandas reader makes room for: a row with an
#: unquoted comma or two is rejected on its own; a row with more fields than this
#: makes the whole import start over with the csv reader.
EXTRA_COLUMNS = 8


def read_columns(path: Path, encoding: str, delimiter: str, width: int, chunk_rows: int,
                 reader: str = "pandas", *, after: int
                 ) -> Iterator[tuple[list[list[str]], list[int], int]]:
    """Chunks of ``(columns, start line of each record, bytes read so far)`` of the
    records after line ``after`` (the header's).

    ``columns`` has at least ``width`` columns; short records are padded with ''
    and blank lines are records of ''. The pandas reader (C tokenizer, columns
    without a per-row step) is about twice as fast as the csv module; both give
    the same records, and the csv reader is the exact fallback.
    """
    if reader == "csv":
        for rows, starts, pos in read_records(path, encoding, delimiter, chunk_rows,
                                              after=after):
            w = max(width, max(map(len, rows)))
            for r in rows:
                if len(r) < w:
                    r.extend([""] * (w - len(r)))
            yield [list(map(itemgetter(j), rows)) for j in range(w)], starts, pos
        return
    import pandas as pd

    raw = path.open("rb")
    try:
        try:  # the reader tokenizes its first rows at once: a short file fails here
            frames = pd.read_csv(
                raw, sep=delimiter, header=None, names=list(range(width + EXTRA_COLUMNS)),
                dtype=object, na_filter=False, keep_default_na=False, skip_blank_lines=False,
                encoding=encoding, engine="c", iterator=True, quotechar='"', doublequote=True,
            )
        except (pd.errors.ParserError, ValueError, UnicodeDecodeError) as exc:
            raise ReaderFallback(str(exc)) from None
        line = 1
        sizes = chain((min(chunk_rows, 1_000), min(chunk_rows, 5_000)), repeat(chunk_rows))
        for size in sizes:
            try:
                frame = frames.get_chunk(size)
            except StopIteration:
                return
            except (pd.errors.ParserError, ValueError, UnicodeDecodeError) as exc:
                raise ReaderFallback(str(exc)) from None
            if not len(frame):
                return
            cols = [frame[j].tolist() for j in frame.columns]
            starts, long = _starts_from_columns(cols, line)
            if long is not None:
                # The csv reader refuses such a value; so must this one, wherever it is.
                raise too_long(path, starts[long])
            n = len(starts)
            line = starts[-1] + 1 + _breaks_in_record(cols, n - 1)
            if starts[0] <= after:
                keep = bisect_right(starts, after)
                cols = [c[keep:] for c in cols]
                starts = starts[keep:]
            if starts:
                yield cols, starts, raw.tell()
    finally:
        raw.close()


def _breaks_in_record(cols: list[list[str]], i: int) -> int:
    return sum(v.count("\n") + v.count("\r") - v.count("\r\n") for v in (c[i] for c in cols))


def _starts_from_columns(cols: list[list[str]], line: int) -> tuple[list[int], int | None]:
    """Start line of each record: one line each plus the breaks in its values; and the
    first record with a value longer than ``FIELD_LIMIT`` (None: there is none)."""
    n = len(cols[0])
    extra = None
    long: int | None = None
    for c in cols:
        text = "\x00".join(c)
        if len(text) > FIELD_LIMIT:      # rare: only then is each value measured
            i = next((i for i, v in enumerate(c) if len(v) > FIELD_LIMIT), None)
            if i is not None and (long is None or i < long):
                long = i
        if "\n" in text or "\r" in text:
            counts = [v.count("\n") + v.count("\r") - v.count("\r\n") if v else 0 for v in c] \
                if "\r" in text else [v.count("\n") for v in c]
            extra = counts if extra is None else [a + b for a, b in zip(extra, counts)]
    if extra is None:
        return list(range(line, line + n)), long
    return [line + i + e for i, e in enumerate(accumulate(chain((0,), extra[:-1])))], long


_BREAK = re.compile(r"\r\n|\r|\n")


def record_starts(rows: list[list[str]], before: int, after: int) -> list[int]:
    """The physical line each record starts on, given the line count before and after.

    Every record takes one line plus one per line break inside its quoted values.
    When the counts say there are none (the usual chunk) this is a ``range``;
    otherwise the breaks are found in one pass over the chunk's text and mapped
    back to their rows -- no Python work per row either way.
    """
    n = len(rows)
    if after - before == n:
        return list(range(before + 1, before + 1 + n))
    flat = list(map("".join, rows))
    ends = list(accumulate(map(len, flat)))
    text = "".join(flat)
    if "\r" in text:
        breaks = [m.start() for m in _BREAK.finditer(text)]
    else:  # the usual case: str.find is a memchr, far faster than a regex scan
        breaks = []
        at = text.find("\n")
        while at >= 0:
            breaks.append(at)
            at = text.find("\n", at + 1)
    extra = [0] * (n + 1)
    for at in breaks:
        extra[bisect_right(ends, at) + 1] += 1
    return [before + 1 + i + e for i, e in enumerate(accumulate(extra[:n]))]


# -- values -------------------------------------------------------------------------

_STATE_CODES = {name.upper(): code for name, code in US_STATES.items()}
_STATE_CODES.update({code: code for code in US_STATES.values()})
_STATE_CODES.update({"DC": "DC", "D.C.": "DC", "WASHINGTON DC": "DC"})


def merge_region(region: str, state: str | None) -> str:
    """The phone's region widened by the lead's ``state`` column: 'US-FL' + GA -> 'US-FL,US-GA'."""
    if not state:
        return region
    extra = f"US-{state}"
    parts = {p for p in region.split(",") if p}
    if extra in parts:
        return region
    parts.add(extra)
    parts.discard("US")  # the state is now known
    return ",".join(sorted(parts))


class Memo(dict):
    """value -> resolve(value), computed once; ``bad`` holds non-blank values that gave None."""

    resolve: Any = None

    def __init__(self) -> None:
        super().__init__()
        self.bad: set[str] = set()

    def __missing__(self, value: str) -> str | None:
        out = self[value] = self.resolve(value)
        if out is None and value.strip():
            self.bad.add(value)
        return out


_TZ_NAMES: dict[str, str] = {}


#: How lead lists write US and Canadian zones: the place whose clock they mean (with
#: its daylight saving time; the tz database's fixed 'EST' and 'MST' are an hour off
#: all summer).
ZONE_WORDS = {
    **dict.fromkeys(("est", "edt", "et", "eastern", "eastern time", "us eastern"),
                    "America/New_York"),
    **dict.fromkeys(("cst", "cdt", "ct", "central", "central time", "us central"),
                    "America/Chicago"),
    **dict.fromkeys(("mst", "mdt", "mt", "mountain", "mountain time", "us mountain"),
                    "America/Denver"),
    **dict.fromkeys(("pst", "pdt", "pt", "pacific", "pacific time", "us pacific"),
                    "America/Los_Angeles"),
    **dict.fromkeys(("akst", "akdt", "alaska", "alaska time"), "America/Anchorage"),
    **dict.fromkeys(("hst", "hawaii", "hawaii time"), "Pacific/Honolulu"),
    **dict.fromkeys(("ast", "adt", "atlantic", "atlantic time"), "America/Halifax"),
    "arizona": "America/Phoenix",
}


def canonical_zone(value: str) -> str | None:
    """An IANA zone name, matched case-insensitively ('america/chicago'), or the zone a
    lead list means by 'EST', 'Pacific', 'Central Time' (``ZONE_WORDS``); else None."""
    text = value.strip()
    if not text:
        return None
    word = ZONE_WORDS.get(" ".join(text.lower().replace("(", " ").replace(")", " ").split()))
    if word:
        return word
    if not _TZ_NAMES:
        import zoneinfo

        _TZ_NAMES.update((z.lower(), z) for z in zoneinfo.available_timezones())
    from dialcli.compliance.rules import zone_info

    name = _TZ_NAMES.get(text.lower(), text)
    return name if zone_info(name) is not None else None


def state_code(value: str) -> str | None:
    """'fl', 'Florida', 'D.C.' -> 'FL', 'FL', 'DC'; None when not a US state or DC."""
    text = " ".join(value.replace(".", ". ").split()).upper().replace(". ", ".").strip()
    return _STATE_CODES.get(text) or _STATE_CODES.get(text.rstrip("."))
