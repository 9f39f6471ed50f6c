"""Resource limits for the template sandbox: no template can ask for a gigabyte.

Jinja's sandbox keeps templates away from Python internals, but not from asking for
a billion characters: ``{{ 'x' * 10**10 }}``, ``{{ NAME.ljust(10**9) }}``,
``{{ '%999999999s'|format(NAME) }}``, ``{{ [1]|batch(10**9, 0) }}``, two nested
``range(99999)`` loops -- or, fed by a lead file, ``{{ 'x' * AMOUNT|int }}``. A typo
or a hostile CSV value must end in a clear error, not a laptop out of memory or a
dial that never comes.

``BoundedSandbox`` checks every way a template can make something much bigger than
its inputs *before* it runs:

* ``*`` of a text or list by a number, ``**`` of integers and printf-style ``%``
  (intercepted binary operators; Jinja then stops folding them at compile time too);
* widths, padding, indents and batch sizes (``MAX_WIDTH``) in filters and in the
  ``str`` methods a template may call (``center``, ``ljust``, ``zfill``,
  ``expandtabs``, ``format`` specs, printf widths of ``|format``), and the growth of
  ``replace`` and ``join``;
* ``range``: at most ``RANGE_BUDGET`` numbers per rendering in total, so nested
  loops cannot multiply their way past it;

and every value a filter or call returns, and the whole rendering
(``render_bounded``), is held to ``MAX_OUTPUT`` characters. A breach raises
Jinja's ``SecurityError``, which ``templates`` turns into an ``InputError``.
"""

from __future__ import annotations

import functools
import inspect
import re
from contextvars import ContextVar
from typing import Any, Callable

from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

MAX_OUTPUT = 2_000_000      # characters in any value a template builds, and in the result
MAX_WIDTH = 1_000           # a width, indent, pad or batch size
RANGE_BUDGET = 100_000      # numbers from range() per rendering, all loops together
_BIG_INT_BITS = 64_000      # ~19,000 digits: more than any greeting says out loud

_SIZED = (str, list, tuple, dict, set, frozenset)
_PASSED = frozenset({"eval_ctx", "environment", "context", "env", "ctx"})
_WIDTH_ARGS = ("width", "linecount", "slices", "indent", "tabsize")
_PRINTF = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?")
_SPEC_NUMBER = re.compile(r"\d+")
_range_left: ContextVar[list[int] | None] = ContextVar("dialcli_range_left", default=None)


def _refuse(what: str) -> SecurityError:
    return SecurityError(what)


def _big(n: Any) -> bool:
    if isinstance(n, bool):
        return False
    if isinstance(n, int):
        return n > MAX_WIDTH
    if isinstance(n, str):
        return len(n) > MAX_WIDTH
    return False


def check_size(value: Any) -> Any:
    """``value`` itself, unless it is a text or collection over ``MAX_OUTPUT``."""
    if isinstance(value, _SIZED) and len(value) > MAX_OUTPUT:
        raise _refuse(f"a value of {len(value):,} characters or items (the limit is "
                      f"{MAX_OUTPUT:,})")
    return value


def _check_repeat(left: Any, right: Any) -> None:
    for seq, n in ((left, right), (right, left)):
        if isinstance(seq, (str, list, tuple)) and isinstance(n, int) \
                and not isinstance(n, bool) and n > 0 and len(seq) * n > MAX_OUTPUT:
            raise _refuse(f"repeating something {n:,} times (the result may have at most "
                          f"{MAX_OUTPUT:,} characters)")


def _check_power(base: Any, exp: Any) -> None:
    if isinstance(base, int) and isinstance(exp, int) and exp > 0 and abs(base) > 1 \
            and exp * abs(base).bit_length() > _BIG_INT_BITS:
        raise _refuse("a number that large")


def _check_growth(text: Any, old: Any, new: Any, count: Any = -1) -> None:
    """``text.replace(old, new, count)`` stays under ``MAX_OUTPUT``."""
    if not (isinstance(text, str) and isinstance(old, str) and isinstance(new, str)):
        return
    if len(new) <= len(old):
        return
    hits = text.count(old) if old else len(text) + 1
    if isinstance(count, int) and not isinstance(count, bool) and 0 <= count < hits:
        hits = count
    if len(text) + hits * (len(new) - len(old)) > MAX_OUTPUT:
        raise _refuse(f"a replace that would make {len(text):,} characters into more than "
                      f"{MAX_OUTPUT:,}")


def _check_join(sep: Any, items: Any) -> None:
    try:
        n = len(items)               # a range or a list; a generator is checked after
    except TypeError:
        return
    if isinstance(sep, str) and len(sep) * max(n - 1, 0) > MAX_OUTPUT:
        raise _refuse(f"a join of {n:,} items with a {len(sep):,}-character separator")


def _check_printf(fmt: Any) -> None:
    if not isinstance(fmt, str) or "%" not in fmt:
        return
    for m in _PRINTF.finditer(fmt):
        for number in m.groups():
            if number == "*" or (number and (len(number) > 6 or int(number) > MAX_WIDTH)):
                raise _refuse(f"a format width or precision over {MAX_WIDTH:,}")


def _check_format_spec(fmt: Any) -> None:
    """``str.format`` specs: no width past ``MAX_WIDTH``, no width taken from a value."""
    if not isinstance(fmt, str):
        return
    depth, spec = 0, False
    for i, ch in enumerate(fmt):
        if ch == "{":
            if depth and spec:
                raise _refuse("a format width taken from a value")
            depth += 1
        elif ch == "}":
            depth, spec = max(depth - 1, 0), False
        elif ch == ":" and depth:
            spec = True
            end = fmt.find("}", i)
            for number in _SPEC_NUMBER.findall(fmt[i:end if end > 0 else None]):
                if len(number) > 6 or int(number) > MAX_WIDTH:
                    raise _refuse(f"a format width or precision over {MAX_WIDTH:,}")


#: Filters (and globals) whose arguments can make their result far bigger than their input.
_AMPLIFIERS = frozenset({"center", "indent", "format", "join", "replace", "wordwrap", "batch",
                         "slice", "tojson", "lipsum"})


def _bounded_filter(name: str, fn: Callable) -> Callable:
    """``fn`` with its size arguments checked first and its result checked after."""
    if name not in _AMPLIFIERS:
        @functools.wraps(fn)
        def checked(*args: Any, **kwargs: Any) -> Any:
            return check_size(fn(*args, **kwargs))

        return checked
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
        signature = None
    # Jinja passes the context/environment first to a filter marked for it. Async-aware
    # filters (join, slice...) are marked on a wrapper whose signature is the plain
    # function's, which does not name that first argument: skip it before binding.
    skip = int(signature is not None and getattr(fn, "jinja_pass_arg", None) is not None
               and next(iter(signature.parameters), "") not in _PASSED)

    @functools.wraps(fn)
    def bounded(*args: Any, **kwargs: Any) -> Any:
        if signature is not None:
            try:
                bound = signature.bind(*args[skip:], **kwargs).arguments
            except TypeError:
                bound = {}               # the call itself will say what is wrong
            for key in _WIDTH_ARGS:
                if _big(bound.get(key)) and name != "wordwrap":   # a wrap width adds nothing
                    raise _refuse(f"{name}({key}={bound[key]!r}): at most {MAX_WIDTH:,}")
            if _big(bound.get("wrapstring")):
                raise _refuse(f"{name}: a wrap string over {MAX_WIDTH:,} characters")
            if name == "format":
                _check_printf(bound.get("value"))
            elif name == "replace":
                _check_growth(bound.get("s"), bound.get("old"), bound.get("new"),
                              bound.get("count", -1))
            elif name == "join":
                _check_join(bound.get("d", ""), bound.get("value"))
            elif name == "lipsum":
                if _big(bound.get("n")) or _big(bound.get("max")):
                    raise _refuse(f"lipsum: at most {MAX_WIDTH:,} paragraphs or words")
        return check_size(fn(*args, **kwargs))

    return bounded


def _range(*args: Any) -> range:
    numbers = range(*args)
    left = _range_left.get()
    if left is None:
        left = [RANGE_BUDGET]            # outside render_bounded: this call alone
    if len(numbers) > left[0]:
        raise _refuse(f"loops over more than {RANGE_BUDGET:,} numbers in all")
    left[0] -= len(numbers)
    return numbers


_STR_WIDTH_METHODS = frozenset({"center", "ljust", "rjust", "zfill"})


class BoundedSandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox with the size limits of this module."""

    intercepted_binops = frozenset({"*", "**", "%"})

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.filters = {name: _bounded_filter(name, fn) for name, fn in self.filters.items()}
        self.globals["range"] = _range
        self.globals["lipsum"] = _bounded_filter("lipsum", self.globals["lipsum"])

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            _check_repeat(left, right)
        elif operator == "**":
            _check_power(left, right)
        elif operator == "%":
            _check_printf(left)
        return check_size(super().call_binop(context, operator, left, right))

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        target = getattr(__obj, "__wrapped__", __obj)      # str.format arrives wrapped
        owner = getattr(target, "__self__", None)
        name = getattr(target, "__name__", "")
        if isinstance(owner, str):
            first = args[0] if args else next(iter(kwargs.values()), None)
            if name in _STR_WIDTH_METHODS and _big(first):
                raise _refuse(f"str.{name}({first!r}): at most {MAX_WIDTH:,}")
            if name == "expandtabs" and _big(first if first is not None else 8):
                raise _refuse(f"str.expandtabs({first!r}): at most {MAX_WIDTH:,}")
            if name == "replace" and len(args) >= 2:
                _check_growth(owner, args[0], args[1], args[2] if len(args) > 2 else -1)
            elif name == "join" and args:
                _check_join(owner, args[0])
            elif name in ("format", "format_map"):
                _check_format_spec(owner)
        return check_size(super().call(__context, __obj, *args, **kwargs))


def render_bounded(template: Any, context: dict[str, Any]) -> str:
    """Render with a fresh ``range`` budget, stopping once the text passes ``MAX_OUTPUT``."""
    token = _range_left.set([RANGE_BUDGET])
    try:
        parts: list[str] = []
        size = 0
        for part in template.generate(context):
            size += len(part)
            if size > MAX_OUTPUT:
                raise _refuse(f"the text comes out longer than {MAX_OUTPUT:,} characters")
            parts.append(part)
        return "".join(parts)
    finally:
        _range_left.reset(token)
