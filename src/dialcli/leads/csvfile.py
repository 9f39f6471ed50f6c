"""Reading a lead CSV: encoding, delimiter, header plan, and records with line numbers.

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

Encoding: UTF-8 (a BOM is dropped), UTF-16 with a BOM (Excel's "Unicode text"),
otherwise Windows-1252, then Latin-1, with a notice. The whole file is checked
before the first row is read, so a late invalid byte cannot switch encodings
halfway through an import.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import shlex
from dataclasses import dataclass, field
from bisect import bisect_right
from itertools import accumulate, chain, islice, repeat
from operator import itemgetter
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

from dialcli import textfiles
from dialcli.errors import InputError
from dialcli.phones import PHONE_SLOTS, US_STATES
from dialcli.templates import normalize_header

ISO_RE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
#: A lead's consent columns (normalized tokens): when, what kind, the proof's source.
CONSENT_AT, CONSENT_TYPE, CONSENT_SOURCE = "CONSENT_AT", "CONSENT_TYPE", "CONSENT_SOURCE"
CONSENT_COLUMNS = (CONSENT_AT, CONSENT_TYPE, CONSENT_SOURCE)
#: Columns that become a lead's own fields, not template variables (normalized tokens).
STRUCTURED = frozenset({"NAME", "EMAIL", "TIMEZONE", *CONSENT_COLUMNS}
                       | {f"PHONE{i}" for i in range(1, PHONE_SLOTS + 1)})
_PHONE_TOKEN = re.compile(r"PHONE(\d+)")
#: A structured column's name without its underscores -> that column: 'Phone 1',
#: 'phone_1', 'E-mail', 'Time zone' and 'Consent type' name the columns they read as.
_STRUCTURED_KEYS = {t.replace("_", ""): t for t in STRUCTURED}
#: A lone phone column, read as phone1 when no column is phone1.
_PHONE1_ALIASES = frozenset({"PHONE", "PHONE_NUMBER", "PHONENUMBER"})
_LOOKS_LIKE_PHONE = re.compile(r"(PHONE|MOBILE|CELL|TEL|NUMBER)", re.I)
_LOOKS_LIKE_NAME = re.compile(r"(NAME|CONTACT|CUSTOMER|CLIENT|NOMBRE)", re.I)
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


@dataclass
class HeaderPlan:
    """Where each kind of column is; built once per import from the header row."""

    raw: list[str]                     # header cells as written (BOM stripped)
    width: int
    tokens: list[str]                  # normalized tokens of used columns, file order
    name: int
    email: int | None
    timezone: int | None
    state: int | None
    phones: list[tuple[int, int]]      # (slot, column index), by slot
    variables: list[tuple[str, int]]   # (token, column index), file order
    ignored: list[int] = field(default_factory=list)  # columns without a usable name
    warnings: list[str] = field(default_factory=list)
    consent: dict[str, int] = field(default_factory=dict)  # CONSENT_* token -> column index

    @property
    def var_tokens(self) -> list[str]:
        return [t for t, _ in self.variables]


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
    if b"\x00" in head and not head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise InputError(f"{path.name} contains NUL bytes, so it is not a text CSV.",
                         hint="Save it as 'CSV UTF-8' from your spreadsheet and import again.")
    encoding, notices, newlines = textfiles.sniff(path, head)
    with path.open("r", encoding=encoding, newline="") as f:
        first = ""
        for _ in range(100):
            first = f.readline(65536)
            if first.strip() or not first:
                break
    delimiter = _sniff_delimiter(first)
    header, header_line = None, 0
    for rows, starts, _pos in read_records(path, encoding, delimiter, 64, header=True):
        for row, start in zip(rows, starts):
            if any(cell.strip() for cell in row):
                header, header_line = row, start
                break
        break
    if header is None:
        raise InputError(f"{path.name} has no header row (only blank lines).",
                         hint="Start from the template: dialcli template -o leads.csv")
    return FileInfo(size, encoding, delimiter, header, header_line,
                    max(0, newlines - header_line), notices)


def read_records(path: Path, encoding: str, delimiter: str, chunk_rows: int, *,
                 header: bool = False) -> Iterator[tuple[list[list[str]], list[int], int]]:
    """Chunks of ``(rows, start line of each row, bytes read so far)``.

    Blank lines come back as empty rows (so callers can skip them while the line
    count stays right). Without ``header=True`` the first non-blank record (the
    header) is not returned.
    """
    raw = path.open("rb")
    try:
        text = io.TextIOWrapper(raw, encoding=encoding, newline="")
        reader = csv.reader(text, delimiter=delimiter)
        last = 0
        skipping = not header
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
            if skipping:
                for i, row in enumerate(rows):
                    if any(cell.strip() for cell in row):
                        del rows[: i + 1]
                        del starts[: i + 1]
                        skipping = False
                        break
                else:
                    continue
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
                 reader: str = "pandas") -> Iterator[tuple[list[list[str]], list[int], int]]:
    """Chunks of ``(columns, start line of each record, bytes read so far)``, header skipped.

    ``columns`` has at least ``width`` columns; short records are padded with ''
    and blank lines are records of ''. The pandas reader (C tokenizer, columns
    without a per-row step) is about twice as fast as the csv module; both give
    the same records, and the csv reader is the exact fallback.
    """
    if reader == "csv":
        for rows, starts, pos in read_records(path, encoding, delimiter, chunk_rows):
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
        skipping = True
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
            if skipping:
                first = next((i for i in range(n) if any(c[i].strip() for c in cols)), None)
                if first is None:
                    continue
                cols = [c[first + 1:] for c in cols]
                starts = starts[first + 1:]
                skipping = False
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


def _aliased(tokens: list[str]) -> list[str]:
    """Structured columns written another way (``PHONE_1``, ``E_MAIL``) read as the
    column they name -- unless the file also has that column as such, or two columns
    claim it: those stay variables, as before."""
    present = set(tokens)
    claims: dict[str, list[int]] = {}
    for i, token in enumerate(tokens):
        column = _structured(token)
        if column != token and column not in present:
            claims.setdefault(column, []).append(i)
    out = list(tokens)
    for column, where in claims.items():
        if len(where) == 1:
            out[where[0]] = column
    return out


def _structured(token: str) -> str:
    """``token``, or the structured column it names written another way (``PHONE_1``)."""
    return _STRUCTURED_KEYS.get(token.replace("_", ""), token) if token else token


def parse_column_map(pairs: Iterable[str]) -> dict[str, str]:
    """``['Mobile Phone=phone1', ...]`` (``import --map``) -> {CSV column: column}."""
    out: dict[str, str] = {}
    for pair in pairs:
        source, sep, target = pair.rpartition("=")
        source, target = source.strip(), target.strip()
        if not sep or not source or not normalize_header(target):
            raise InputError(
                f"--map {pair!r} is not CSV_COLUMN=COLUMN.",
                hint="Name a column of the file and what it is, e.g. --map 'Mobile Phone=phone1' "
                     "--map 'First Name=name'.")
        if source in out:
            raise InputError(f"--map names the column {source!r} twice.")
        out[source] = target
    return out


def _mapped(raw: list[str], tokens: list[str], columns: Mapping[str, str]) -> list[str]:
    """The tokens with the user's ``--map`` applied: each named CSV column (as written,
    in any case, or by its normalized name) is read as the column it maps to."""
    tokens = list(tokens)
    for source, target in columns.items():
        wanted = source.strip().casefold()
        hits = [i for i, c in enumerate(raw) if c.casefold() == wanted] or \
            [i for i, t in enumerate(tokens) if t and t == normalize_header(source)]
        if not hits:
            found = ", ".join(repr(c) for c in raw if c) or "(none)"
            raise InputError(f"--map {source}={target}: the file has no column {source!r}.",
                             hint=f"Its columns: {found}.")
        tokens[hits[0]] = _structured(normalize_header(target))
    return tokens


def plan_header(cells: list[str], line: int,
                columns: Mapping[str, str] | None = None) -> HeaderPlan:
    """Normalize the header; raise ``InputError`` for missing or colliding columns.

    A structured column may be written with separators (``Phone 1``, ``E-mail``); a
    lone ``phone`` column is phone1 when no column is; ``columns`` (``import --map``)
    says what other columns are."""
    raw = [c.replace("\ufeff", "").strip() for c in cells]
    tokens = _aliased([normalize_header(c) for c in raw])
    if "PHONE1" not in tokens and not (columns and any(
            _structured(normalize_header(t)) == "PHONE1" for t in columns.values())):
        lone = [i for i, t in enumerate(tokens) if t in _PHONE1_ALIASES]
        if len(lone) == 1:
            tokens[lone[0]] = "PHONE1"
    if columns:
        tokens = _mapped(raw, tokens, columns)
    warnings: list[str] = []
    seen: dict[str, int] = {}
    ignored = []
    for i, token in enumerate(tokens):
        if not token:
            ignored.append(i)
            if raw[i]:
                warnings.append(f"Column {i + 1} ({raw[i]!r}) has no letters or digits in "
                                "its name; its values were not imported.")
            continue
        if token in seen:
            j = seen[token]
            raise InputError(
                f"Columns {raw[j]!r} (column {j + 1}) and {raw[i]!r} (column {i + 1}) both "
                f"become {token} after normalization (uppercase, non-alphanumerics -> _"
                + (", separators in a lead's own column ignored" if token in STRUCTURED
                   else "") + (", --map applied" if columns else "") + ").",
                hint="Rename or remove one of them so every column has its own name, "
                     "then import again.",
            )
        seen[token] = i
    missing = [t.lower() for t in ("NAME", "PHONE1") if t not in seen]
    if missing:
        found = ", ".join(repr(c) for c in raw if c) or "(none)"
        hint = [f"Columns found on line {line}: {found}.",
                f"Every lead needs a 'name' and a 'phone1' column; phone2..phone{PHONE_SLOTS}, "
                "email, timezone and consent_at/consent_type/consent_source are optional and "
                "every other column becomes a {{VARIABLE}}."]
        for token, looks_like in (("PHONE1", _LOOKS_LIKE_PHONE), ("NAME", _LOOKS_LIKE_NAME)):
            like = [] if token in seen else \
                [c for c, t in zip(raw, tokens) if t and looks_like.search(c)]
            if like:
                column = token.lower()
                hint.append(f"Did you mean {like[0]!r}? Import with --map "
                            f"{shlex.quote(like[0] + '=' + column)} (or rename the column to "
                            f"{column}).")
        hint.append("Start from the template: dialcli template -o leads.csv")
        raise InputError(
            f"The CSV is missing the required column{'s' if len(missing) > 1 else ''} "
            + " and ".join(repr(m) for m in missing) + ".",
            hint="\n".join(hint),
        )
    phones, variables = [], []
    for token, i in seen.items():
        m = _PHONE_TOKEN.fullmatch(token)
        if token in STRUCTURED:
            if m:
                phones.append((int(m.group(1)), i))
        else:
            if m:
                warnings.append(f"Column {raw[i]!r} is not dialed (only phone1..phone{PHONE_SLOTS} are "
                                f"phones); it was imported as the variable {token}.")
            variables.append((token, i))
    phones.sort()
    variables.sort(key=lambda tv: tv[1])
    consent = {t: seen[t] for t in CONSENT_COLUMNS if t in seen}
    if consent and not {CONSENT_AT, CONSENT_TYPE} <= set(consent):
        have = " and ".join(repr(raw[i]) for i in consent.values())
        raise InputError(
            f"The CSV has {have} but not both 'consent_at' and 'consent_type': a consent "
            "record needs when it was given and whether it was written.",
            hint="Add the missing column (consent_type is 'written' or 'express'; consent_at "
                 "a date or date-time), or remove the consent columns, then import again.")
    return HeaderPlan(
        raw=raw, width=len(raw), tokens=[t for t in tokens if t], name=seen["NAME"],
        email=seen.get("EMAIL"), timezone=seen.get("TIMEZONE"), state=seen.get("STATE"),
        phones=phones, variables=variables, ignored=ignored, warnings=warnings,
        consent=consent,
    )


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


def canonical_zone(value: str) -> str | None:
    """An IANA zone name, matched case-insensitively ('america/chicago'); else None."""
    text = value.strip()
    if not text:
        return None
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
