"""The header row: which row it is, what each column is, and what the file's own names mean.

``plan_header`` normalizes the header cells (``normalize_header``) and says where
each kind of column is: the lead's own columns (name, phones, email, timezone,
state, consent) and the ``{{TOKEN}}`` variables. ``choose_header`` picks the header
among the top rows of the file, so a title above it (Numbers' 'Table 1', a report
date) is skipped with a warning instead of refusing the file.

Columns as CRMs, address books and spreadsheets export them: a file with no
``phone1`` or ``name`` column is read by what its columns are called. HubSpot's
'Mobile Phone Number', Salesforce's 'MobilePhone', Google Contacts' 'Phone 1 - Value',
Outlook's 'Business Phone' and 'Home Phone', a plain 'Phone', 'Cell' or 'Telephone'
are phones, in file order; 'Full Name', 'Contact Name' or 'Customer' is the name,
else 'First Name' with 'Last Name' (Salesforce 'FirstName'/'LastName', Google
'Given Name'/'Family Name') joined by a space. Only names that say what they are
count: a 'Phone Type', 'Phone Ext', 'Business Fax' or 'Number of Employees' is not a
phone, so nothing is dialed that the user did not mean. Each such reading is named
in the import's notices. ``import --map`` says what any other column is.

Two variable columns of one name (two 'Notes') both keep their values, the second
as ``NOTES_2``; two columns that would both be one of the lead's own columns are
refused, since either choice could dial or greet the wrong person.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from typing import Iterable, Mapping

from dialcli.errors import InputError
from dialcli.leads.csvfile import CONSENT_AT, CONSENT_COLUMNS, CONSENT_TYPE, STRUCTURED, FileInfo
from dialcli.phones import PHONE_SLOTS
from dialcli.templates import normalize_header

_PHONE_TOKEN = re.compile(r"PHONE(\d+)")
#: A structured column's name without its underscores -> that column: 'Phone 1',
#: 'phone_1', 'E-mail', 'Time zone' and 'Consent type' name the columns they read as.
_STRUCTURED_KEYS = {t.replace("_", ""): t for t in STRUCTURED}
_LOOKS_LIKE_PHONE = re.compile(r"(PHONE|MOBILE|CELL|TEL|NUMBER)", re.I)
_LOOKS_LIKE_NAME = re.compile(r"(NAME|CONTACT|CUSTOMER|CLIENT|NOMBRE)", re.I)


@dataclass
class HeaderPlan:
    """Where each kind of column is; built once per import from the header row."""

    raw: list[str]                     # header cells as written (BOM stripped)
    width: int
    line: int                          # the header's line; records after it are leads
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
    #: When no column is the name: the columns joined into it (first and last name).
    name_parts: list[int] = field(default_factory=list)
    #: Columns read by what their names say ('Mobile Phone' as phone1), for the summary.
    notices: list[str] = field(default_factory=list)

    @property
    def var_tokens(self) -> list[str]:
        return [t for t, _ in self.variables]


_QUALIFIER = (r"MOBILE|CELL|CELLULAR|HOME|WORK|BUSINESS|OFFICE|PRIMARY|MAIN|OTHER|DIRECT|"
              r"PERSONAL|CONTACT|DAY|DAYTIME|EVENING|NIGHT|ALT|ALTERNATE|ALTERNATIVE|"
              r"SECONDARY|LANDLINE|COMPANY|CALLBACK|BEST|LEAD|PREFERRED|CUSTOMER|CLIENT|"
              r"PRIVATE|DEFAULT|DIRECTDIAL|PERSON")
#: Words that make 'number' a phone number ('Contact Number'; a 'Customer Number' is an id).
_NUMBER_QUALIFIER = (r"MOBILE|CELL|CELLULAR|HOME|WORK|BUSINESS|OFFICE|CONTACT|DAYTIME|DAY|"
                     r"EVENING|ALT|ALTERNATE|LANDLINE|DIRECT|CALLBACK|BEST|PHONE|TELEPHONE")
#: A phone column, underscores removed: qualifiers, a phone word, more qualifiers
#: (Pipedrive's 'Person - Phone - Mobile'), an optional 'number' word, an ordinal and
#: Google's '- Value'.
PHONE_COLUMN = re.compile(
    rf"(?:{_QUALIFIER})*(?:PHONE|TELEPHONE|TEL|MOBILE|CELL|CELLPHONE|CELLULAR|TELEFONO|"
    rf"TELEFON|TELEFONE|TELEFONNUMMER|HANDY|MOVIL|CELULAR|PORTABLE)(?:{_QUALIFIER})*"
    rf"(?:NUMBER|NO|NUM|NR|NBR)?\d{{0,2}}(?:VALUE)?"
    rf"|(?:{_NUMBER_QUALIFIER})+(?:NUMBER|NO|NUM|NBR)\d{{0,2}}"
)
#: A column holding the whole name of the person ('Account Name' is a company's).
FULL_NAME = frozenset({"FULLNAME", "CONTACTNAME", "CONTACT", "CUSTOMERNAME", "CUSTOMER",
                       "CLIENTNAME", "CLIENT", "LEADNAME", "DISPLAYNAME", "NAMEFULL",
                       "PERSONNAME", "RECIPIENTNAME", "RECIPIENT", "NOMBRECOMPLETO",
                       "NOMBRE", "CONTACTFULLNAME", "LEADFULLNAME"})
FIRST_NAME = frozenset({"FIRSTNAME", "FIRST", "GIVENNAME", "FNAME", "FORENAME", "FIRSTNAMES",
                        "CONTACTFIRSTNAME", "LEADFIRSTNAME", "PRIMERNOMBRE", "NOMBRE"})
_EMAIL_QUALIFIER = r"PRIMARY|PERSONAL|HOME|WORK|BUSINESS|CONTACT|LEAD|PERSON|OTHER|MAIN"
EMAIL_COLUMN = re.compile(rf"(?:{_EMAIL_QUALIFIER})*EMAIL(?:{_EMAIL_QUALIFIER})*"
                          r"(?:ADDRESS)?(?:1)?(?:VALUE)?|CORREO(?:ELECTRONICO)?")
LAST_NAME = frozenset({"LASTNAME", "LAST", "SURNAME", "FAMILYNAME", "LNAME", "APELLIDO",
                       "APELLIDOS", "CONTACTLASTNAME", "LEADLASTNAME"})


def _compact(token: str) -> str:
    return token.replace("_", "")


def is_phone_column(token: str) -> bool:
    """True for a column whose name says it holds a phone number ('Mobile Phone Number',
    'Phone 1 - Value', 'Cell'); never a fax, type, extension or count."""
    return bool(token) and PHONE_COLUMN.fullmatch(_compact(token)) is not None


def phone_columns(tokens: list[str], taken: set[int]) -> list[int]:
    """Indexes of the phone columns among ``tokens`` (file order), except ``taken``."""
    return [i for i, t in enumerate(tokens) if i not in taken and is_phone_column(t)]


def name_columns(tokens: list[str]) -> tuple[list[int], bool]:
    """The columns a lead's name is read from when no column is called name, and
    whether that is one full-name column; else a first name and, when there is one,
    a last name ('Nombre' with 'Apellido' is a first name; alone, the whole name)."""
    compact = [_compact(t) for t in tokens]
    last = next((i for i, t in enumerate(compact) if t in LAST_NAME), None)
    for i, t in enumerate(compact):
        if t in FULL_NAME and not (t == "NOMBRE" and last is not None):
            return [i], True
    first = next((i for i, t in enumerate(compact) if t in FIRST_NAME), None)
    if first is None:
        return [], False
    return ([first] if last is None else [first, last]), False


def email_column(tokens: list[str]) -> int | None:
    """The column that holds the email when none is called email ('Email Address',
    Outlook's 'E-mail Address', Google's 'E-mail 1 - Value')."""
    return next((i for i, t in enumerate(tokens) if EMAIL_COLUMN.fullmatch(_compact(t))), None)


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


_UNNAMED = re.compile(r"Unnamed: \d+(?:_level_\d+)?")   # pandas' name for a nameless column


_PLAIN_PHONE = frozenset({"PHONE", "PHONENUMBER", "TELEPHONE"})


def _recognized(raw: list[str], tokens: list[str], notices: list[str]) -> list[int]:
    """Read CRM and address-book columns as the lead's own (``aliases``), in place:
    phone columns take the free phone slots when no column is phone1; an email
    address column is the email; a full-name column becomes the name. Returns the
    columns whose values are joined into the name (a first and a last name, or a
    first name alone; they stay variables too), or []."""
    if "PHONE1" not in tokens:
        taken = {i for i, t in enumerate(tokens) if t in STRUCTURED}
        free = [s for s in range(1, PHONE_SLOTS + 1) if f"PHONE{s}" not in tokens]
        found = phone_columns(tokens, taken)
        for slot, i in zip(free, found):
            tokens[i] = f"PHONE{slot}"
        plain = len(found) == 1 and _compact(normalize_header(raw[found[0]])) in _PLAIN_PHONE
        if found and not plain:     # a lone 'Phone' column is phone1, as it always was
            read = ", ".join(f"{raw[i]!r} as phone{s}" for s, i in zip(free, found))
            notices.append(f"Read {read} (no column is called phone1).")
    if "EMAIL" not in tokens:
        email = email_column(tokens)
        if email is not None:
            tokens[email] = "EMAIL"
            notices.append(f"Read {raw[email]!r} as the email (no column is called email).")
    if "NAME" in tokens:
        return []
    parts, full = name_columns(tokens)
    if full:
        tokens[parts[0]] = "NAME"
        notices.append(f"Read {raw[parts[0]]!r} as the name (no column is called name).")
        return []
    if len(parts) == 1:
        notices.append(f"Read {raw[parts[0]]!r} as the name (no column is called name); "
                       f"{{{{{tokens[parts[0]]}}}}} is there too.")
    elif parts:
        notices.append(f"The name is {raw[parts[0]]!r} and {raw[parts[1]]!r} joined (no "
                       f"column is called name); {{{{{tokens[parts[0]]}}}}} and "
                       f"{{{{{tokens[parts[1]]}}}}} are there too.")
    return parts


def plan_header(cells: list[str], line: int,
                columns: Mapping[str, str] | None = None) -> HeaderPlan:
    """Normalize the header; raise ``InputError`` for missing or colliding columns.

    A structured column may be written with separators (``Phone 1``, ``E-mail``);
    ``columns`` (``import --map``) says what other columns are; without phone1 or
    name columns, CRM names are read (``phone_columns``, ``name_columns``)."""
    raw = [c.replace("\ufeff", "").replace("\x00", "").strip() for c in cells]
    tokens = _aliased([normalize_header(c) if not _UNNAMED.fullmatch(c) else "" for c in raw])
    if columns:
        tokens = _mapped(raw, tokens, columns)
    notices: list[str] = []
    name_parts = _recognized(raw, tokens, notices)
    warnings: list[str] = []
    seen: dict[str, int] = {}
    ignored = []
    for i, token in enumerate(tokens):
        if not token:
            ignored.append(i)
            if raw[i] and not _UNNAMED.fullmatch(raw[i]):
                warnings.append(f"Column {i + 1} ({raw[i]!r}) has no letters or digits in "
                                "its name; its values were not imported.")
            continue
        if token in seen and token not in STRUCTURED:
            # Two columns of the same name (two 'Notes'): each keeps its values,
            # the second as NOTES_2, rather than refusing a file the user cannot fix
            # in the CRM that wrote it.
            n = 2
            while f"{token}_{n}" in seen or f"{token}_{n}" in tokens:
                n += 1
            warnings.append(f"Columns {raw[seen[token]]!r} (column {seen[token] + 1}) and "
                            f"{raw[i]!r} (column {i + 1}) have the same name; the second is "
                            f"{{{{{token}_{n}}}}}.")
            token = tokens[i] = f"{token}_{n}"
        elif token in seen:
            j = seen[token]
            raise InputError(
                f"Columns {raw[j]!r} (column {j + 1}) and {raw[i]!r} (column {i + 1}) both "
                f"become {token} after normalization (uppercase, non-alphanumerics -> _"
                + ", separators in a lead's own column ignored"
                + (", --map applied" if columns else "") + ").",
                hint="Rename or remove one of them so every column has its own name, "
                     "then import again.",
            )
        seen[token] = i
    if name_parts:
        seen.setdefault("NAME", name_parts[0])
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
                warnings.append(f"Column {raw[i]!r} is not dialed (only phone1..phone"
                                f"{PHONE_SLOTS} are phones); it was imported as the "
                                f"variable {token}.")
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
        raw=raw, width=len(raw), line=line, name_parts=name_parts, notices=notices,
        tokens=[t for t in tokens if t], name=seen["NAME"],
        email=seen.get("EMAIL"), timezone=seen.get("TIMEZONE"), state=seen.get("STATE"),
        phones=phones, variables=variables, ignored=ignored, warnings=warnings,
        consent=consent,
    )


def choose_header(info: FileInfo, columns: Mapping[str, str] | None = None) -> HeaderPlan:
    """The header row and its plan: the first of the top rows that names a lead's
    columns. Rows above it (a title such as Numbers' 'Table 1', a date, notes) are
    skipped with a warning; when no row qualifies, the error is about the first row
    with more than one value (the header the user meant)."""
    rows = info.candidates or [(info.header, info.header_line)]
    errors: list[InputError] = []
    for cells, line in rows:
        try:
            plan = plan_header(cells, line, columns)
        except InputError as exc:
            errors.append(exc)
            continue
        if line != rows[0][1]:
            above = rows[0][1] if line - 1 == rows[0][1] else f"{rows[0][1]}-{line - 1}"
            title = next((c.strip() for c in rows[0][0] if c.strip()), "")
            plan.warnings.insert(0, f"The header is on line {line}; line {above} above it "
                                    f"({title[:60]!r}) was skipped.")
        info.header, info.header_line = cells, line
        return plan
    wide = [e for e, (cells, _) in zip(errors, rows) if sum(1 for c in cells if c.strip()) > 1]
    raise (wide or errors)[0]
