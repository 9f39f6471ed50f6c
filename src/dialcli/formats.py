"""How counts, shares, durations, money and instants are shown to a person: one place,
so the dashboard, ``status``, ``report``, ``plan``, the KPI cards and every table
write ``187,317``, ``2m 05s``, ``$0.056`` and ``2026-03-03 10:00 EST`` the same way.

Plain functions returning text, at the bottom layer so the engine's messages (doctor,
plan notes) use them as well as ``cli/``. Machine output never goes through here:
``--json``, ``--csv`` and piped tables carry raw numbers and RFC 3339 UTC instants.

Rules:

* A count has thousands separators (``f"{n:,}"``), always.
* Money is dollars: cents from a dollar up, up to four decimals below one (a call's
  price, ``$0.056``), so a small price is not rounded to ``$0.06`` or ``$0.00``.
* A duration is the two largest units: ``45s``, ``2m 05s``, ``1h 02m``, ``3d 04h``.
* An instant names its zone: the recipient's IANA zone where the time is theirs (a
  callback, the next dial), else UTC.
* A missing value is ``–`` unless the caller asks for another ``none``.
"""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dialcli.clock import from_iso

DASH = "–"


def count(n: int | float | None, *, none: str = DASH) -> str:
    """``187317`` -> ``'187,317'`` (a float is rounded to a whole number)."""
    if n is None:
        return none
    return f"{round(n):,}"


def pct(part: float, whole: float | None, digits: int = 1, *, none: str = DASH) -> str:
    """``part`` as a share of ``whole``: ``'12.5%'``; ``none`` when ``whole`` is 0."""
    return f"{100 * part / whole:.{digits}f}%" if whole else none


def ratio(value: float | None, digits: int = 1, *, none: str = DASH) -> str:
    """A rate already divided (0.125) as ``'12.5%'``."""
    return none if value is None else f"{100 * value:.{digits}f}%"


def money(amount: float | None, *, none: str = DASH) -> str:
    """Dollars: ``$1,234.50``; below a dollar up to four decimals (``$0.056``,
    ``$0.50``), so a per-call price keeps its meaning."""
    if amount is None:
        return none
    if abs(amount) >= 1 or amount == 0:
        return f"${amount:,.2f}" if amount >= 0 else f"-${-amount:,.2f}"
    text = f"{abs(amount):.4f}".rstrip("0")
    if len(text.split(".")[1]) < 2:
        text = f"{abs(amount):.2f}"
    return ("-$" if amount < 0 else "$") + text


def rate(per_minute: float) -> str:
    """A price per minute as typed in settings: ``'$0.014/min'``."""
    return f"${per_minute:g}/min"


def duration(seconds: float | None, *, none: str = DASH) -> str:
    """``45s``, ``2m 05s``, ``1h 02m``, ``3d 04h``: the two largest units."""
    if seconds is None:
        return none
    s = int(round(seconds))
    if s < 0:
        return "-" + duration(-s)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h {s % 3600 // 60:02d}m"
    return f"{s // 86400}d {s % 86400 // 3600:02d}h"


def zone_info(name: str | None) -> ZoneInfo | None:
    """The zone called ``name`` (IANA), or None for none or a name this system lacks.
    A lead may carry several (an area code spanning two): the first is used."""
    if not name:
        return None
    try:
        return ZoneInfo(name.split(",")[0].strip())
    except (ZoneInfoNotFoundError, ValueError):
        return None


def parse_instant(value: datetime | str | None) -> datetime | None:
    """An aware datetime from a datetime or ISO 8601 text (naive text is UTC)."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)
    try:
        return from_iso(value)
    except ValueError:
        return None


def instant(value: datetime | str | None, zone: str | None = None, *, none: str = DASH,
            fmt: str = "%Y-%m-%d %H:%M") -> str:
    """``'2026-03-03 10:00 EST'``: in ``zone`` (the recipient's, where it matters) or
    UTC, always naming the zone. Text that is not an instant is shown as it is."""
    dt = parse_instant(value)
    if dt is None:
        return none if value is None or value == "" else str(value)
    info = zone_info(zone)
    shown = dt.astimezone(info) if info is not None else dt.astimezone(timezone.utc)
    label = shown.strftime("%Z") if info is not None else "UTC"
    return f"{shown.strftime(fmt)} {label}"


def local_clock(dt: datetime | None, *, none: str = "-", zone: bool = True) -> str:
    """An instant in this computer's zone, naming it (``'Mon 12-07 14:03:07 PST'``):
    the dashboard's clock; ``zone=False`` where a column header names it. The date is
    there because a simulated week passes in a minute: a callback dialed a week on
    read "Tue 20:00" above "Wed 01:01", as if time had run backwards."""
    if dt is None:
        return none
    return dt.astimezone().strftime("%a %m-%d %H:%M:%S %Z" if zone
                                    else "%a %m-%d %H:%M:%S").strip()


def utc_z(value: datetime | str | None) -> str:
    """RFC 3339 UTC, ``'2026-03-03T15:00:00Z'`` (machine output); '' for none."""
    dt = parse_instant(value)
    return "" if dt is None else dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
