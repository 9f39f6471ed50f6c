"""Workspace settings: a small registry of known keys, each with a validator.

Settings live in the workspace's ``settings`` table as canonical text. Every key a
user may set is declared here or by the module that owns it, as a ``Setting``: a
summary for ``dialcli config list``, a ``parse`` function that turns what the user
typed into a typed value (raising ``InputError`` with a message that says how to fix
it), a default, and an optional ``check`` that validates the value against the
workspace itself (e.g. a per-number cap that must not be looser than a state allows
for numbers already imported).

Unknown keys are refused with the list of known ones: a typo in ``config set`` must
not silently do nothing. Modules that register keys are listed in
``REGISTERING_MODULES`` and imported on first use, so ``dialcli config`` sees every
key without importing the whole application at start-up and without import cycles
(those modules import this one at their top).

To add a key from another module::

    from dialcli.store.settings import Setting, register, parse_int_range
    register(Setting("dial_cap_per_24h", "Dial attempts per number per rolling 24 h.",
                     parse=parse_int_range(1, 50), default=3))

(``compliance.policy`` registers that one, and the settings beside it, this way)

and add the module to ``REGISTERING_MODULES``.
"""

from __future__ import annotations

import difflib
import importlib
import math
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Callable

from dialcli.errors import ConfigError, InputError

if TYPE_CHECKING:
    from dialcli.store import Store

#: Modules whose import registers more settings (imported lazily by ``_load``).
REGISTERING_MODULES: tuple[str, ...] = ("dialcli.compliance.policy",)

RATE_PER_MINUTE = "rate_per_minute"
DEFAULT_RATE_PER_MINUTE = 0.014


@dataclass(frozen=True)
class Setting:
    """One known key: how to validate it, its default, and what it means."""

    key: str
    summary: str
    parse: Callable[[str], Any]
    default: Any = None
    format: Callable[[Any], str] = str
    check: Callable[["Store", Any], None] | None = None
    example: str = ""

    def default_text(self) -> str | None:
        return None if self.default is None else self.format(self.default)


@dataclass(frozen=True)
class SettingValue:
    """A key as ``config list`` shows it."""

    key: str
    value: str | None          # stored canonical text; None when unset
    default: str | None
    summary: str
    known: bool
    updated_at: str | None

    @property
    def effective(self) -> str | None:
        return self.value if self.value is not None else self.default


_REGISTRY: dict[str, Setting] = {}
_loaded = False


def register(setting: Setting) -> Setting:
    """Declare a key (re-registering a key replaces it, e.g. on module reload)."""
    key = normalize_key(setting.key)
    if key != setting.key:
        raise ValueError(f"setting key {setting.key!r} must be lowercase snake_case")
    _REGISTRY[key] = setting
    return setting


def _load() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for name in REGISTERING_MODULES:
        importlib.import_module(name)


def normalize_key(key: str) -> str:
    return str(key).strip().lower().replace("-", "_")


def known() -> list[Setting]:
    """Every registered setting, sorted by key."""
    _load()
    return [_REGISTRY[k] for k in sorted(_REGISTRY)]


def spec(key: str) -> Setting:
    """The registered setting for ``key``; unknown keys raise with suggestions."""
    _load()
    norm = normalize_key(key)
    found = _REGISTRY.get(norm)
    if found is not None:
        return found
    close = difflib.get_close_matches(norm, list(_REGISTRY), n=1)
    hint = f"Did you mean {close[0]!r}? " if close else ""
    raise InputError(
        f"Unknown setting {key!r}.",
        hint=hint + "Known settings: " + ", ".join(sorted(_REGISTRY))
        + ". See them with: dialcli config list",
    )


def get(store: "Store", key: str) -> Any:
    """The typed value of ``key`` (its default when unset)."""
    setting = spec(key)
    text = store.get_setting(setting.key)
    if text is None:
        return setting.default
    try:
        return setting.parse(text)
    except InputError as exc:
        raise ConfigError(
            f"The workspace setting {setting.key} holds an invalid value: {exc.message}",
            hint=f"Fix it with: dialcli config set {setting.key} VALUE "
                 f"(or dialcli config unset {setting.key})",
        ) from None


def is_set(store: "Store", key: str) -> bool:
    return store.get_setting(spec(key).key) is not None


def set_value(store: "Store", key: str, text: str, *, now_iso: str) -> str:
    """Validate and store ``text``; returns the canonical text stored."""
    setting = spec(key)
    value = setting.parse(str(text).strip())
    if setting.check is not None:
        setting.check(store, value)
    canonical = setting.format(value)
    store.set_setting(setting.key, canonical, now_iso)
    return canonical


def unset(store: "Store", key: str) -> bool:
    """Remove a stored value (back to the default). Unknown stored keys may be removed."""
    norm = normalize_key(key)
    _load()
    if norm not in _REGISTRY and store.get_setting(norm) is None:
        spec(key)  # raises the helpful unknown-key error
    return store.delete_setting(norm)


def list_all(store: "Store") -> list[SettingValue]:
    """Known settings (set or not) plus any unknown keys stored in the workspace."""
    stored = {r["key"]: (r["value"], r["updated_at"])
              for r in store.all("SELECT key, value, updated_at FROM settings")}
    rows = []
    for setting in known():
        value, updated = stored.pop(setting.key, (None, None))
        rows.append(SettingValue(setting.key, value, setting.default_text(), setting.summary,
                                 True, updated))
    for key in sorted(stored):
        value, updated = stored[key]
        rows.append(SettingValue(key, value, None, "(not a setting this version knows)",
                                 False, updated))
    return rows


# -- reusable parsers ------------------------------------------------------------------

def parse_decimal_range(low: float | None, high: float | None, *, unit: str = "",
                        allow_dollar: bool = False) -> Callable[[str], float]:
    """A parser for a finite number in [low, high]."""

    def parse(text: str) -> float:
        raw = text.strip()
        if allow_dollar and raw.startswith("$"):
            raw = raw[1:].strip()
        try:
            value = Decimal(raw)
        except (InvalidOperation, ValueError):
            raise InputError(f"{text!r} is not a number{unit and ' of ' + unit}.",
                             hint="Use a plain decimal number, e.g. 0.014") from None
        if not value.is_finite():
            raise InputError(f"{text!r} is not a finite number.")
        number = float(value)
        if low is not None and number < low:
            raise InputError(f"{text} is below the minimum of {low:g}{unit and ' ' + unit}.")
        if high is not None and number > high:
            raise InputError(f"{text} is above the maximum of {high:g}{unit and ' ' + unit}.")
        return number

    return parse


def parse_int_range(low: int | None, high: int | None) -> Callable[[str], int]:
    """A parser for a whole number in [low, high]."""

    def parse(text: str) -> int:
        try:
            value = int(text.strip())
        except ValueError:
            raise InputError(f"{text!r} is not a whole number.") from None
        if low is not None and value < low:
            raise InputError(f"{text} is below the minimum of {low}.")
        if high is not None and value > high:
            raise InputError(f"{text} is above the maximum of {high}.")
        return value

    return parse


def format_number(value: float) -> str:
    """Shortest text that round-trips (0.014 -> '0.014', 1.0 -> '1')."""
    if math.isfinite(value) and value == int(value):
        return str(int(value))
    return repr(float(value))


# -- the keys this module owns ---------------------------------------------------------

register(Setting(
    RATE_PER_MINUTE,
    "Dollars per billed minute, used for cost until the provider reports the real price.",
    parse=parse_decimal_range(0.0, 100.0, unit="dollars per minute", allow_dollar=True),
    default=DEFAULT_RATE_PER_MINUTE,
    format=format_number,
    example="dialcli config set rate_per_minute 0.014",
))


def rate_per_minute(store: "Store") -> tuple[float, bool]:
    """(rate, is_default): the configured rate, or the default 0.014 when unset."""
    text = store.get_setting(RATE_PER_MINUTE)
    if text is None:
        return DEFAULT_RATE_PER_MINUTE, True
    return float(get(store, RATE_PER_MINUTE)), False


#: The greeting gate's silence (conversation/greeting.py): a callee who picks up and
#: says nothing hears the agent after this long. At most 1.8 s: with text-to-speech
#: starting, a longer wait nears the 2 s after which 47 CFR 64.1200(a)(7) counts a
#: call as abandoned; at least 0.5 s, or answering machines (which start talking
#: within about a second) would be greeted.
GREET_AFTER_SILENCE = "greet_after_silence_s"

register(Setting(
    GREET_AFTER_SILENCE,
    "Seconds of silence after pick-up before the agent greets a callee who says nothing "
    "(0.5-1.8: under the 2 s abandonment limit, 47 CFR 64.1200(a)(7)).",
    parse=parse_decimal_range(0.5, 1.8, unit="seconds"), default=1.5, format=format_number,
    example=f"dialcli config set {GREET_AFTER_SILENCE} 1.2",
))
