"""``{{TOKEN}}`` rendering for greetings, system prompts and voicemail messages.

Rules (product doc, "Using variables in the agent"):

* Tokens are CSV headers normalized with ``normalize_header``: uppercase, every run
  of non-alphanumerics becomes one ``_`` (``case number`` -> ``CASE_NUMBER``,
  ``Tax-ID`` -> ``TAX_ID``). In a template, ``{{ name }}``, ``{{Name}}`` and
  ``{{NAME}}`` are the same token: names are resolved case-insensitively.
* ``{{NAME}}`` falls back to ``there``; ``{{EMAIL}}`` and any missing or empty token
  render as the empty string, and the doubled space an empty token leaves behind
  is collapsed, so "Hi , this is..." never happens.
* CSV values are data, never templates: a value holding ``{{`` or ``{%`` is shown
  literally (Jinja never re-renders variable values).
* Rendering uses Jinja2's ``ImmutableSandboxedEnvironment``, so a template cannot
  reach Python internals; ``{% if AMOUNT %}...{% endif %}`` and filters still work.
  ``template_limits`` adds size limits on top, so no template (and no lead value fed
  to one) can ask for gigabytes or loop for hours: it gets an ``InputError`` instead.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Mapping

from jinja2 import TemplateSyntaxError, Undefined, meta, nodes
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context

from dialcli.errors import InputError
from dialcli.template_limits import MAX_OUTPUT, BoundedSandbox, render_bounded

NAME_FALLBACK = "there"
_EMPTY = "\x00"  # marks where an empty token rendered, so spacing can be repaired
_NON_ALNUM = re.compile(r"[^A-Za-z0-9]+")


def normalize_header(header: str) -> str:
    """CSV header -> token: uppercase, runs of non-alphanumerics -> '_'.

    Accents are folded (``Café`` -> ``CAFE``); a leading digit gets a ``_`` prefix so
    the token stays a valid template name. Returns '' for a header with no letters
    or digits.
    """
    text = unicodedata.normalize("NFKD", str(header))
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    token = _NON_ALNUM.sub("_", text.strip()).strip("_").upper()
    if token and token[0].isdigit():
        token = "_" + token
    return token


class _Undefined(Undefined):
    """A missing token renders as the empty-marker instead of raising."""

    def __str__(self) -> str:
        return _EMPTY

    def __iter__(self):
        return iter(())

    def __bool__(self) -> bool:
        return False


class _TokenContext(Context):
    """Resolve names case-insensitively: ``name`` / ``Name`` -> ``NAME``."""

    def resolve_or_missing(self, key: str) -> Any:
        value = super().resolve_or_missing(key)
        if value is _MISSING_SENTINEL() and key != key.upper():
            value = super().resolve_or_missing(key.upper())
            if value is _MISSING_SENTINEL():
                value = super().resolve_or_missing(normalize_header(key) or key)
        return value


@lru_cache(maxsize=1)
def _MISSING_SENTINEL() -> Any:  # noqa: N802 - mirrors jinja2.utils.missing
    from jinja2.utils import missing

    return missing


def _finalize(value: Any) -> Any:
    if value is None:
        return _EMPTY
    if isinstance(value, str) and value.strip() == "":
        return _EMPTY
    return value


class _Env(BoundedSandbox):
    context_class = _TokenContext


_env = _Env(
    undefined=_Undefined,
    autoescape=False,
    keep_trailing_newline=True,
    finalize=_finalize,
)

# A run of empty-token markers and the spaces between them ("Dear {{A}} {{B}} Smith"
# has one run: "\x00 \x00"); the blanks around it are found by hand. (A pattern that
# starts with [ \t]* would rescan every long run of spaces in a value from each of
# its positions: quadratic, minutes for a 1 MB value.)
_EMPTY_RUN = re.compile(r"\x00(?:[ \t]*\x00)*")
_NO_SPACE_BEFORE = frozenset(",.;:!?)]}")
_NO_SPACE_AFTER = frozenset("([{")


def _repair(text: str) -> str:
    """Remove empty-token markers and the doubled/odd spaces they leave.

    A run of empty tokens becomes one space between two words, and nothing at the
    start or end of a line, before punctuation or after an opening bracket:
    "Hi {{X}}, there" -> "Hi, there"; "Dear {{A}} {{B}} Smith" -> "Dear Smith".
    """
    if _EMPTY not in text:
        return text
    out: list[str] = []
    pos, size = 0, len(text)
    for m in _EMPTY_RUN.finditer(text):
        start, end = m.start(), m.end()
        if start < pos:               # already taken in by the previous run's blanks
            continue
        while start > pos and text[start - 1] in " \t":
            start -= 1
        while end < size and text[end] in " \t":
            end += 1
        prev = text[start - 1] if start > 0 else "\n"
        nxt = text[end] if end < size else "\n"
        out.append(text[pos:start])
        if not (prev in "\r\n" or nxt in "\r\n" or nxt in _NO_SPACE_BEFORE
                or prev in _NO_SPACE_AFTER) and (start < m.start() or end > m.end()):
            out.append(" ")
        pos = end
    out.append(text[pos:])
    return "".join(out)


@dataclass(frozen=True)
class TemplateProblem:
    line: int
    column: int | None
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}" + (f", column {self.column}" if self.column else "")
        return f"{where}: {self.message}"


_SPACED_TOKEN = re.compile(r"\{\{(\s*[A-Za-z_][A-Za-z0-9_]*(?:[ \-]+[A-Za-z0-9_]+)+\s*)\}\}")


_BRACED = re.compile(r"\{\{([^{}\n]*)\}\}")
# What a CSV header may look like when pasted between braces: "Owner's name",
# "Amount ($)", "Due date (UTC)". Operators such as + | * ~ are deliberately absent,
# so a mistyped expression is still reported, not silently turned into a token.
_HEADERISH = re.compile(r"[A-Za-z][A-Za-z0-9 _'\u2019\-./&#()?$%]*")


def _prepare(source: str) -> str:
    """Let users write a header as it was: ``{{case number}}``, ``{{Tax-ID}}``,
    ``{{Owner's name}}``."""
    source = _SPACED_TOKEN.sub(lambda m: "{{ " + normalize_header(m.group(1)) + " }}", source)
    if "{{" not in source:
        return source

    def header(m: re.Match[str]) -> str:
        inner = m.group(1).strip()
        if not _HEADERISH.fullmatch(inner) or _is_expression(inner):
            return m.group(0)
        return "{{ " + (normalize_header(inner) or inner) + " }}"

    return _BRACED.sub(header, source)


@lru_cache(maxsize=1024)
def _is_expression(text: str) -> bool:
    try:
        _env.parse("{{ " + text + " }}")
    except TemplateSyntaxError:
        return False
    return True


@lru_cache(maxsize=256)
def _compile(source: str):
    return _env.from_string(_prepare(source))


def check_template(source: str, *, field: str = "template") -> None:
    """Raise ``InputError`` with the position of a syntax error, if any."""
    try:
        _env.parse(_prepare(source))
    except TemplateSyntaxError as exc:
        line = exc.lineno or 1
        lines = source.splitlines() or [""]
        opener = _unclosed_opener(source)
        if opener is not None and opener[0] <= line:
            # Jinja notices an unclosed {{ where the next token surprises it, often a
            # later line; the mistake is the opener.
            line, column = opener
            text = lines[line - 1]
        else:
            text = lines[line - 1] if 0 < line <= len(lines) else ""
            column = _guess_column(text)
        problem = TemplateProblem(line, column, exc.message or "syntax error")
        raise InputError(
            f"The {field} is not a valid template ({problem}).",
            hint=f"  {text}\n  " + (" " * ((column or 1) - 1)) + "^\n"
                 "Write variables as {{TOKEN}}, e.g. {{NAME}} or {{CASE_NUMBER}}.",
        ) from None
    ast = _env.parse(_prepare(source))
    _check_private_access(ast, source, field)
    _check_loader_tags(ast, source, field)
    try:
        compiled = _compile(source)
    except TemplateSyntaxError as exc:   # e.g. an unknown filter or test: found at compile
        line = exc.lineno or 1
        lines = source.splitlines() or [""]
        text = lines[line - 1] if 0 < line <= len(lines) else ""
        named = re.search(r"No (?:filter|test) named '([^']+)'", exc.message or "")
        at = text.find(named.group(1)) if named else -1
        column = at + 1 if at >= 0 else _guess_column(text)
        problem = TemplateProblem(line, column, (exc.message or "syntax error").rstrip("."))
        raise InputError(f"The {field} is not a valid template ({problem}).",
                         hint=f"  {text}\n  " + " " * ((column or 1) - 1) + "^\nUse a built-in Jinja filter or test, e.g. "
                              "{{NAME|upper}} or {{AMOUNT|default('0')}}.") from None
    try:  # a trial render catches sandbox violations the AST walk cannot see
        render_bounded(compiled, {})
    except SecurityError as exc:
        raise InputError(f"The {field} uses something templates may not: {str(exc).rstrip('.')}.") from None
    except Exception:  # noqa: BLE001 - data-dependent errors surface at render time
        pass


def _check_private_access(ast: nodes.Template, source: str, field: str) -> None:
    """Refuse ``x.__class__``, ``x['_y']`` and ``x|attr('_y')`` up front.

    At render time the sandbox turns such an access into an undefined value, which
    our lenient ``_Undefined`` renders as empty -- safe, but silent. Saying so at
    ``agent create`` is kinder than a greeting that quietly loses words.
    """
    for node in ast.find_all((nodes.Getattr, nodes.Getitem, nodes.Filter)):
        name = None
        if isinstance(node, nodes.Getattr):
            name = node.attr
        elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
            name = node.arg.value
        elif isinstance(node, nodes.Filter) and node.name == "attr" and node.args \
                and isinstance(node.args[0], nodes.Const):
            name = node.args[0].value
        if isinstance(name, str) and name.startswith("_"):
            lines = source.splitlines() or [""]
            text = lines[node.lineno - 1] if 0 < node.lineno <= len(lines) else ""
            raise InputError(
                f"The {field} uses something templates may not (line {node.lineno}: "
                f"attribute {name!r}; names starting with _ are private).",
                hint=f"  {text}\nWrite variables as {{{{TOKEN}}}}, e.g. {{{{NAME}}}} or {{{{CASE_NUMBER}}}}.",
            )


#: Tags that load another template. Templates live in the workspace, not in files: the
#: sandbox has no loader, so each would fail at render for every lead ("no loader").
_LOADER_TAGS = {nodes.Include: "include", nodes.Extends: "extends", nodes.Import: "import",
                nodes.FromImport: "from ... import"}


def _check_loader_tags(ast: nodes.Template, source: str, field: str) -> None:
    """Refuse ``{% include %}``, ``{% extends %}``, ``{% import %}`` and ``{% from %}``
    at create/edit, with the line and column, instead of skipping every lead at start."""
    for node in ast.find_all(tuple(_LOADER_TAGS)):
        tag = _LOADER_TAGS[type(node)]
        lines = source.splitlines() or [""]
        text = lines[node.lineno - 1] if 0 < node.lineno <= len(lines) else ""
        keyword = tag.split()[0]
        found = re.search(r"\{%-?\s*" + keyword + r"\b", text)
        column = found.start() + 1 if found else None
        problem = TemplateProblem(node.lineno, column,
                                  f"{{% {tag} %}} loads another template, which agent "
                                  "templates cannot do")
        raise InputError(
            f"The {field} is not a valid template ({problem}).",
            hint=f"  {text}\n  " + " " * ((column or 1) - 1) + "^\n"
                 "Put the text itself in the template; use {{TOKEN}} for lead values.")


_OPENER = re.compile(r"\{[{%#]")
_CLOSER = {"{{": "}}", "{%": "%}", "{#": "#}"}


def _unclosed_opener(source: str) -> tuple[int, int] | None:
    """(line, column) of the first ``{{``/``{%``/``{#`` that is never closed, 1-based."""
    pos = 0
    while True:
        m = _OPENER.search(source, pos)
        if m is None:
            return None
        end = source.find(_CLOSER[m.group(0)], m.end())
        nested = _OPENER.search(source, m.end()) if m.group(0) != "{#" else None
        if end < 0 or (nested is not None and nested.start() < end):
            line = source.count("\n", 0, m.start()) + 1
            column = m.start() - (source.rfind("\n", 0, m.start()) + 1) + 1
            return line, column
        pos = end + 2


def _guess_column(line: str) -> int | None:
    """Column of the first unbalanced ``{{``/``{%`` on the error line (1-based)."""
    for opener, closer in (("{{", "}}"), ("{%", "%}"), ("{#", "#}")):
        start = 0
        while True:
            i = line.find(opener, start)
            if i < 0:
                break
            j = line.find(closer, i + 2)
            if j < 0:
                return i + 1
            start = j + 2
    return 1 if line else None


def tokens_used(source: str) -> set[str]:
    """Normalized names of the variables a template reads."""
    try:
        ast = _env.parse(_prepare(source))
    except TemplateSyntaxError:
        return set()
    names = meta.find_undeclared_variables(ast)
    # Names bound by {% for x in ... %} / {% set %} are excluded by find_undeclared.
    return {normalize_header(n) or n for n in names}


def lead_context(name: str | None, email: str | None, variables: Mapping[str, Any]) -> dict[str, Any]:
    """The token values for one lead (NAME/EMAIL defaults applied)."""
    ctx: dict[str, Any] = {k: v for k, v in variables.items()}
    name = (name or "").strip()
    ctx["NAME"] = name or NAME_FALLBACK
    ctx["EMAIL"] = (email or "").strip()
    return ctx


_PLAIN_TOKEN = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


@lru_cache(maxsize=256)
def _plain_parts(source: str) -> tuple[str, ...] | None:
    """Split a template made only of text and bare ``{{TOKEN}}``s: literal, token, ...

    None when it uses anything else (blocks, filters, whitespace control), which then
    goes through Jinja. Rendering the split form gives the same text as Jinja does for
    such templates, without building a Jinja context per call -- the engine renders
    three templates per dial.
    """
    prepared = _prepare(source)
    parts: list[str] = []
    pos = 0
    for m in _PLAIN_TOKEN.finditer(prepared):
        parts.append(prepared[pos:m.start()])
        parts.append(m.group(1))
        pos = m.end()
    parts.append(prepared[pos:])
    literal = "".join(parts[0::2])
    if "{{" in literal or "{%" in literal or "{#" in literal:
        return None
    return tuple(parts)


def _lookup(ctx: Mapping[str, Any], name: str) -> Any:
    """Same resolution order as ``_TokenContext``: exact, UPPER, normalized."""
    if name in ctx:
        return ctx[name]
    if name != name.upper():
        if name.upper() in ctx:
            return ctx[name.upper()]
        return ctx.get(normalize_header(name) or name)
    return None


def render(source: str | None, context: Mapping[str, Any]) -> str:
    """Render a template for one lead; missing/empty tokens degrade gracefully."""
    if not source:
        return ""
    parts = _plain_parts(source)
    if parts is not None:
        out_parts = []
        for i, part in enumerate(parts):
            if i % 2 == 0:
                out_parts.append(part)
                continue
            value = _lookup(context, part)
            if part.upper() == "NAME" and not str(value or "").strip():
                value = NAME_FALLBACK
            out_parts.append(_finalize(value) if value is not None else _EMPTY)
        texts = [str(p) for p in out_parts]
        if sum(map(len, texts)) > MAX_OUTPUT:
            raise InputError(f"Could not render the template: the text comes out longer than "
                             f"{MAX_OUTPUT:,} characters.")
        return _repair("".join(texts))
    template = _compile(source)
    ctx = dict(context)
    if not str(ctx.get("NAME") or "").strip():
        ctx["NAME"] = NAME_FALLBACK
    try:
        out = render_bounded(template, ctx)
    except TemplateSyntaxError:  # pragma: no cover - checked at agent create/edit
        raise
    except Exception as exc:  # sandbox violations, bad filters on data: fail soft
        raise InputError(f"Could not render the template: "
                         f"{str(exc).rstrip('.') or type(exc).__name__}.") from None
    return _repair(out)


def render_for_lead(source: str | None, *, name: str | None, email: str | None,
                    variables: Mapping[str, Any]) -> str:
    return render(source, lead_context(name, email, variables))


__all__ = [
    "NAME_FALLBACK", "check_template", "lead_context", "normalize_header", "render",
    "render_for_lead", "tokens_used", "TemplateProblem",
]
