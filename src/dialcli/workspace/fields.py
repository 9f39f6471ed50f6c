"""Extracted fields: what an agent wants to learn from each conversation.

An agent declares its fields (``agent edit --field best_time:text:"When to call
back"`` or ``--fields-file fields.json``); each is a name, a type and a one-line
description, stored as JSON in ``agents.fields``. The LLM fills them when it ends
the call (the ``end_call`` tool gets a ``fields`` object built by ``json_schema``);
without an LLM the rules fill what they can (``conversation.extract``). Either way
the values pass ``validate`` before they are stored in ``calls.fields``: a value of
the wrong type is dropped and said so, never stored as if it were true -- a model's
tool arguments are untrusted input.

Types: ``text`` (one line, at most ``MAX_TEXT``), ``number`` (a JSON number or a
numeric string such as ``"$1,200.50"``), ``bool`` (true/false, yes/no), ``date``
(ISO ``YYYY-MM-DD``) and ``datetime`` (ISO 8601 with an offset). Names are
lower-case identifiers, so they are safe as CSV column suffixes and JSON keys.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import asdict, dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from dialcli.errors import InputError

TYPES = ("text", "number", "bool", "date", "datetime")
MAX_FIELDS = 20
MAX_TEXT = 500
MAX_DESCRIPTION = 200
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
#: Names the call export already uses for its own columns.
RESERVED = frozenset({"summary", "disposition", "callback", "id"})
_TRUE = {"true", "yes", "y", "1"}
_FALSE = {"false", "no", "n", "0"}
_JSON_TYPES = {"text": "string", "number": "number", "bool": "boolean", "date": "string",
               "datetime": "string"}


@dataclass(frozen=True)
class FieldSpec:
    name: str
    type: str
    description: str = ""

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def _spec(name: str, type_: str, description: str, where: str) -> FieldSpec:
    name = (name or "").strip().lower()
    type_ = (type_ or "").strip().lower()
    description = " ".join((description or "").split())
    if not _NAME.match(name):
        raise InputError(f"{where}: field name {name!r} is not a name.",
                         hint="Use lower-case letters, digits and _ (starting with a letter), "
                              "e.g. best_time.")
    if name in RESERVED:
        raise InputError(f"{where}: {name!r} is a column dialcli already exports; "
                         "choose another field name.")
    if type_ not in TYPES:
        raise InputError(f"{where}: field {name!r} has type {type_!r}.",
                         hint="Types: " + ", ".join(TYPES) + ".")
    if len(description) > MAX_DESCRIPTION:
        raise InputError(f"{where}: the description of {name!r} is {len(description)} "
                         f"characters; keep it to one line ({MAX_DESCRIPTION} at most).")
    return FieldSpec(name, type_, description)


def parse_field_option(text: str) -> FieldSpec:
    """``--field NAME:TYPE[:DESCRIPTION]`` (the description may contain ':')."""
    parts = (text or "").split(":", 2)
    if len(parts) < 2:
        raise InputError(f"--field {text!r} needs a name and a type.",
                         hint='e.g. --field best_time:text:"When they want to be called back"')
    return _spec(parts[0], parts[1], parts[2] if len(parts) > 2 else "", "--field")


def load_fields_file(path: str | Path) -> list[FieldSpec]:
    """A schema file: JSON (a list of {name, type, description}, or an object
    name -> {type, description}) or TOML (``[[field]]`` tables)."""
    p = Path(path).expanduser()
    try:
        raw = p.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError(f"The fields file {str(p)!r} does not exist.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"Cannot read the fields file {str(p)!r}: {exc}.") from None
    try:
        data: Any = json.loads(raw) if p.suffix.lower() != ".toml" else tomllib.loads(raw)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise InputError(f"The fields file {str(p)!r} is not valid "
                         f"{'TOML' if p.suffix.lower() == '.toml' else 'JSON'}: {exc}.") from None
    if isinstance(data, dict) and "field" in data and isinstance(data["field"], list):
        data = data["field"]
    if isinstance(data, dict):
        data = [{"name": k, **(v if isinstance(v, dict) else {"type": v})} for k, v in data.items()]
    if not isinstance(data, list) or not all(isinstance(d, dict) for d in data):
        raise InputError(f"The fields file {str(p)!r} should list fields: "
                         '[{"name": "best_time", "type": "text", "description": "..."}].')
    where = f"fields file {p.name}"
    return check_set([_spec(str(d.get("name", "")), str(d.get("type", "")),
                            str(d.get("description", "")), where) for d in data])


def check_set(specs: list[FieldSpec]) -> list[FieldSpec]:
    seen: set[str] = set()
    for s in specs:
        if s.name in seen:
            raise InputError(f"Field {s.name!r} is declared twice.")
        seen.add(s.name)
    if len(specs) > MAX_FIELDS:
        raise InputError(f"{len(specs)} fields; an agent may extract at most {MAX_FIELDS}.")
    return specs


def merge(current: list[FieldSpec], added: list[FieldSpec], dropped: list[str]) -> list[FieldSpec]:
    """``agent edit``: replace same-named fields, append new ones, drop named ones."""
    names = {d.strip().lower() for d in dropped}
    unknown = names - {s.name for s in current} - {s.name for s in added}
    if unknown:
        raise InputError(f"The agent has no field {sorted(unknown)[0]!r} to drop.")
    by_name = {s.name: s for s in current}
    for s in added:
        by_name[s.name] = s
    return check_set([s for n, s in by_name.items() if n not in names])


def loads(text: str | None) -> list[FieldSpec]:
    """``agents.fields`` as stored (None/empty: no fields)."""
    if not text:
        return []
    return [FieldSpec(d["name"], d["type"], d.get("description", "")) for d in json.loads(text)]


def dumps(specs: list[FieldSpec]) -> str | None:
    return json.dumps([s.as_dict() for s in specs]) if specs else None


def json_schema(specs: list[FieldSpec] | tuple[FieldSpec, ...]) -> dict[str, Any]:
    """The ``fields`` property of the ``end_call`` tool: one optional property each."""
    props = {}
    for s in specs:
        prop: dict[str, Any] = {"type": [_JSON_TYPES[s.type], "null"]}
        desc = s.description or s.name.replace("_", " ")
        if s.type == "date":
            desc += " (YYYY-MM-DD)"
        elif s.type == "datetime":
            desc += " (ISO 8601 with offset)"
        prop["description"] = desc + ". Null if the conversation did not say."
        props[s.name] = prop
    return {"type": "object", "properties": props, "additionalProperties": False,
            "description": "What the conversation told you, per field; null when unknown."}


def coerce(spec: FieldSpec, value: Any) -> Any:
    """``value`` as ``spec``'s type; ``ValueError`` when it is not one."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if spec.type == "text":
        if isinstance(value, (dict, list)):
            raise ValueError("not text")
        text = " ".join(str(value).split())
        return text[:MAX_TEXT]
    if spec.type == "number":
        if isinstance(value, bool):
            raise ValueError("a yes/no, not a number")
        if isinstance(value, (int, float)):
            number = float(value)
        else:
            cleaned = re.sub(r"[\s,$€£]", "", str(value))
            number = float(cleaned)       # ValueError on words
        if number != number or number in (float("inf"), float("-inf")):
            raise ValueError("not a finite number")
        return int(number) if number.is_integer() and abs(number) < 2**53 else number
    if spec.type == "bool":
        if isinstance(value, bool):
            return value
        word = str(value).strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
        raise ValueError("not yes or no")
    if spec.type == "date":
        return date.fromisoformat(str(value).strip()[:10]).isoformat()
    when = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    if when.tzinfo is None:
        raise ValueError("a date-time without an offset")
    return when.isoformat()


def validate(specs: list[FieldSpec] | tuple[FieldSpec, ...],
             values: Any) -> tuple[dict[str, Any], list[str]]:
    """(the values that fit the schema, what was dropped and why)."""
    if values is None:
        return {}, []
    if not isinstance(values, dict):
        return {}, [f"fields was {type(values).__name__}, not an object"]
    out: dict[str, Any] = {}
    problems: list[str] = []
    known = {s.name: s for s in specs}
    for key, value in values.items():
        spec = known.get(str(key).lower())
        if spec is None:
            problems.append(f"{key}: not a declared field")
            continue
        try:
            coerced = coerce(spec, value)
        except (ValueError, TypeError, OverflowError) as exc:
            problems.append(f"{spec.name}: {str(value)[:40]!r} is {exc or 'not a ' + spec.type}")
            continue
        if coerced is not None:
            out[spec.name] = coerced
    return out, problems


__all__ = ["TYPES", "FieldSpec", "parse_field_option", "load_fields_file", "check_set", "merge",
           "loads", "dumps", "json_schema", "coerce", "validate"]
