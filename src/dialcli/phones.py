"""Phone numbers: E.164 validation, candidate time zones and region/state.

``PhoneParser.parse`` turns what a user typed ("(415) 555-0123", "+1 415.555.0123",
"14155550123") into a ``Phone``: the E.164 string, every candidate IANA time zone of
the number, and its region (``US-CA``, ``CA-ON``; ``US`` when the state is unknown).

phonenumbers costs ~60 us per number; a million-row import cannot afford that. For
North American Numbering Plan numbers (+1, 10 national digits) everything we derive
-- validity, number type, region, time zones, geocoded place -- depends only on the
area code and exchange (NPA-NXX, the first six national digits), so the result is
cached by that prefix and computed once per exchange. ``tests/test_phones.py``
checks the cached path against the uncached one on random numbers. Other countries
take the full parse every time.

Zones are () when unknown: invalid-for-zone numbers, toll-free and other
non-geographic numbers (for which phonenumbers returns the whole country's list).

Zones fail closed (``fail_closed``). phonenumbers knows the zone of most US and
Canadian exchanges, but an exchange it lacks falls back to one zone for the whole
area code -- in 219 (Indiana) 673 of 800 exchanges fall back to New York though most
of the area is on Central time. A +1 number whose exchange the zone data lacks takes
every zone its area code spans, and every state it spans (``data/zone_overrides.toml``
lists the multi-state area codes); known errors of the data (850-227 and 850-229,
Port St. Joe, Eastern time, which the data puts on Central) add the right zone from
the same versioned file. ``zone_origins`` says where each zone of a number came from.
"""

from __future__ import annotations

import json
import re
import tomllib
import zlib
from dataclasses import dataclass
from functools import lru_cache

import phonenumbers
from phonenumbers import PhoneNumberType
from phonenumbers import timezone as pn_timezone

#: A lead has up to this many phones: CSV columns phone1..phone10, ``lead_phones.slot``
#: 1..10 (the schema's CHECK says the same in SQL).
PHONE_SLOTS = 10
NANP_REGIONS = frozenset(phonenumbers.COUNTRY_CODE_TO_REGION_CODE[1])
_STRIP = re.compile(r"[\s\-.()/\u00a0\u2010-\u2015]")
_DIGITS = re.compile(r"\+?[0-9]+")
_EXCEL_SCI = re.compile(r"^[+-]?\d+(?:[.,]\d+)?[eE][+-]?\d+$")
_THOUSANDS = re.compile(r"\+?\d{1,3}(?:,\d{3}){2,4}")
#: A number a spreadsheet exported as a float ("4155550123.0"): the digits are whole.
_EXCEL_FLOAT = re.compile(r"^(\+?\d{7,15})\.0+$")
#: A label written with the number ("(cell)", "mobile:", "(casa)"): not part of it.
_LABEL_WORDS = (r"cell|cellphone|cell phone|mobile|home|work|office|main|personal|business|"
                r"direct|landline|other|primary|cel|celular|movil|casa|trabajo|oficina")
_LABEL = re.compile(rf"\(\s*(?:{_LABEL_WORDS})\s*\)|^\s*(?:{_LABEL_WORDS})\b\s*[:#\-]?\s*|"
                    rf"\s*[\-:]?\s*\b(?:{_LABEL_WORDS})\s*$", re.I)
_FAX = re.compile(r"\bfax\b", re.I)
#: Two numbers in one cell: separators between runs of seven or more digits.
_TWO_NUMBERS = re.compile(r"\d[\d\s().\-]{5,}\d\s*(?:[;,|/&\n]|\s+(?:or|and|o|y)\s+)\s*\+?[\d(]"
                          r"[\d\s().\-]{5,}\d")
#: What a spreadsheet holds where there is no number: treated as a blank cell.
NO_NUMBER = frozenset({"n/a", "na", "n.a.", "-", "--", "---", ".", "none", "null", "nil",
                       "#n/a", "tbd", "unknown", "0", "x", "?", "no", "no phone", "-none-"})
_NON_GEO_TYPES = frozenset({
    PhoneNumberType.TOLL_FREE, PhoneNumberType.PREMIUM_RATE, PhoneNumberType.SHARED_COST,
    PhoneNumberType.VOIP, PhoneNumberType.PERSONAL_NUMBER, PhoneNumberType.PAGER,
    PhoneNumberType.UAN, PhoneNumberType.VOICEMAIL,
})

US_STATES = {
    "Alabama": "AL", "Alaska": "AK", "Arizona": "AZ", "Arkansas": "AR", "California": "CA",
    "Colorado": "CO", "Connecticut": "CT", "Delaware": "DE", "Florida": "FL", "Georgia": "GA",
    "Hawaii": "HI", "Idaho": "ID", "Illinois": "IL", "Indiana": "IN", "Iowa": "IA",
    "Kansas": "KS", "Kentucky": "KY", "Louisiana": "LA", "Maine": "ME", "Maryland": "MD",
    "Massachusetts": "MA", "Michigan": "MI", "Minnesota": "MN", "Mississippi": "MS",
    "Missouri": "MO", "Montana": "MT", "Nebraska": "NE", "Nevada": "NV",
    "New Hampshire": "NH", "New Jersey": "NJ", "New Mexico": "NM", "New York": "NY",
    "North Carolina": "NC", "North Dakota": "ND", "Ohio": "OH", "Oklahoma": "OK",
    "Oregon": "OR", "Pennsylvania": "PA", "Rhode Island": "RI", "South Carolina": "SC",
    "South Dakota": "SD", "Tennessee": "TN", "Texas": "TX", "Utah": "UT", "Vermont": "VT",
    "Virginia": "VA", "Washington": "WA", "West Virginia": "WV", "Wisconsin": "WI",
    "Washington State": "WA",  # how phonenumbers' geocoder names every WA area code
    "Wyoming": "WY", "Washington D.C.": "DC", "Washington, D.C.": "DC",
    "District of Columbia": "DC",
}
CA_PROVINCES = {
    "Alberta": "AB", "British Columbia": "BC", "Manitoba": "MB", "New Brunswick": "NB",
    "Newfoundland and Labrador": "NL", "Nova Scotia": "NS", "Ontario": "ON",
    "Prince Edward Island": "PE", "Quebec": "QC", "Saskatchewan": "SK",
    "Northwest Territories": "NT", "Nunavut": "NU", "Yukon": "YT",
}
_STATE_CODES = {"US": set(US_STATES.values()), "CA": set(CA_PROVINCES.values())}
_STATE_NAMES = {"US": US_STATES, "CA": CA_PROVINCES}


_PREFIX_CACHEABLE = frozenset({"US", "CA"})

#: The exchange table (``tools/build_nanp_table.py``): one byte per NPA-NXX for
#: NPA and NXX in FIRST..FIRST+SPAN-1, naming an answer in its header, or NO_ENTRY.
EXCHANGE_TABLE = "nanp_exchanges.bin"
FIRST, SPAN, NO_ENTRY = 200, 800, 255


@lru_cache(maxsize=1)
def _exchange_table() -> "tuple[bytes, list[Phone]] | None":
    """What phonenumbers says of each valid US/Canadian exchange, computed ahead.

    Describing an exchange the first time costs ~50 us in phonenumbers (it tries
    the patterns of up to 25 NANP regions, several times); a million-row import
    meets ~20,000 of them. The table holds the same answers -- built by this
    module's own parser -- for the phonenumbers version it names; under any
    other version (or if the file is missing or damaged) it is not used.
    """
    from importlib.resources import files

    try:
        data = zlib.decompress(files("dialcli.data").joinpath(EXCHANGE_TABLE).read_bytes())
        head, _, body = data.partition(b"\n")
        meta = json.loads(head)
        if meta.get("phonenumbers") != phonenumbers.__version__ or len(body) != SPAN * SPAN:
            return None
        answers = [Phone("", tuple(z), r, c) for z, r, c in meta["infos"]]
    except (OSError, ValueError, KeyError, TypeError, zlib.error):
        return None
    return body, answers


def _exact_sci(text: str) -> str | None:
    """The digits of a number written in scientific notation when it holds them all
    ('1.4155550123E+10' -> '14155550123'); None when digits were cut ('4.15555E+09')."""
    mantissa, _, exp = text.upper().partition("E")
    sign = "+" if mantissa.startswith("+") else ""
    whole, _, frac = mantissa.lstrip("+-").replace(",", ".").partition(".")
    # Every digit written, none made up: as many after the point as the exponent.
    # Fewer means the spreadsheet rounded ('4.15555E+09' is not 4155550000).
    if mantissa.startswith("-") or len(frac) != int(exp):
        return None
    return sign + whole + frac


class PhoneError(ValueError):
    """A phone value that cannot be dialed; ``str(exc)`` is the reason for the user."""


@dataclass(frozen=True, slots=True)
class Phone:
    e164: str
    zones: tuple[str, ...]
    region: str          # 'US-CA', 'CA-ON', 'US' (state unknown), 'GB', ...
    country: str         # ISO region code of the number, e.g. 'US', 'PR', 'GB'

    @property
    def state(self) -> str | None:
        """Two-letter state/province when known (US and Canada) and only one."""
        if "-" in self.region and "," not in self.region:
            return self.region.split("-", 1)[1]
        return None


def region_from_place(country: str, place: str) -> str:
    """'Mountain View, CA' / 'Florida' -> 'US-CA' / 'US-FL'; otherwise the country."""
    names = _STATE_NAMES.get(country)
    if names and place:
        if ", " in place:
            code = place.rsplit(", ", 1)[1].strip()
            if code in _STATE_CODES[country]:
                return f"{country}-{code}"
        code = names.get(place.strip())
        if code:
            return f"{country}-{code}"
    return country


def _describe(num: phonenumbers.PhoneNumber) -> Phone:
    """The slow, exact path: every fact from phonenumbers' metadata."""
    if not phonenumbers.is_valid_number(num):
        reason = "not a valid phone number"
        possible = phonenumbers.is_possible_number_with_reason(num)
        if possible == phonenumbers.ValidationResult.TOO_SHORT:
            reason = "too few digits for a phone number"
        elif possible == phonenumbers.ValidationResult.TOO_LONG:
            reason = "too many digits for a phone number"
        elif possible == phonenumbers.ValidationResult.INVALID_COUNTRY_CODE:
            reason = "unknown country code"
        raise PhoneError(reason)
    ntype = phonenumbers.number_type(num)
    if ntype == PhoneNumberType.PREMIUM_RATE:
        raise PhoneError("premium-rate number (costs money to call); not dialed")
    e164 = phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)
    country = phonenumbers.region_code_for_number(num) or ""
    if ntype in _NON_GEO_TYPES or not phonenumbers.is_number_geographical(num):
        return Phone(e164, (), country, country)
    zones = tuple(
        z for z in pn_timezone.time_zones_for_geographical_number(num)
        if z != pn_timezone.UNKNOWN_TIMEZONE
    )
    place = _geocoder().description_for_number(num, "en")
    return Phone(e164, zones, region_from_place(country, place), country)


@lru_cache(maxsize=1)
def _geocoder():
    """phonenumbers' geocoder, imported on first use: its data costs ~100 MB and
    ~0.5 s to load, which commands that never describe a new number should not pay."""
    from phonenumbers import geocoder

    return geocoder


def _describe_nanp(num: phonenumbers.PhoneNumber) -> Phone:
    """``_describe`` for +1 numbers with each fact computed once (~2.5x faster).

    ``_describe`` asks phonenumbers for the region five times (each NANP lookup
    tries the 25 NANP regions' patterns); here the type is computed once and
    validity, geography and the place follow from it exactly as phonenumbers
    defines them (``is_valid_number`` is "has a type in its region";
    ``description_for_number`` of a valid geographic number is
    ``description_for_valid_number``). tests/test_importer.py checks equality
    with ``_describe`` on random numbers of every area code.
    """
    ntype = phonenumbers.number_type(num)
    if ntype == PhoneNumberType.UNKNOWN or ntype == PhoneNumberType.PREMIUM_RATE:
        return _describe(num)  # raises with the exact reason
    e164 = phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)
    country = phonenumbers.region_code_for_number(num) or ""
    if ntype in _NON_GEO_TYPES or not phonenumbers.is_number_type_geographical(ntype, 1):
        return Phone(e164, (), country, country)
    zones = tuple(
        z for z in pn_timezone.time_zones_for_geographical_number(num)
        if z != pn_timezone.UNKNOWN_TIMEZONE
    )
    place = _geocoder().description_for_valid_number(num, "en")
    return Phone(e164, zones, region_from_place(country, place), country)


_UNCACHEABLE = object()

#: The common NANP spellings in one pass: optional +1 / 1, area code (parentheses
#: optional), exchange, line, separated by space, dot or dash. Every string it
#: accepts is one ``parse`` would send down the NANP path with the same digits, so
#: ``parse_column`` can use the prefix cache without calling ``parse``.
_NANP_FAST = re.compile(
    r"[ \t]*(?:(\+)?1[ .\-]?)?\(?([0-9]{3})\)?[ .\-]?([0-9]{3})[ .\-]?([0-9]{4})[ \t]*"
)


@dataclass(frozen=True, slots=True)
class PhoneInfo:
    """What a number's prefix tells: candidate zones, region and country."""

    zones: tuple[str, ...]
    region: str
    country: str


class PhoneParser:
    """Validates and describes phone numbers; caches NANP results by NPA-NXX."""

    def __init__(self, default_region: str | None = "US", *, exchange_table: bool = True):
        if default_region is not None:
            default_region = default_region.upper()
            if default_region not in phonenumbers.SUPPORTED_REGIONS:
                raise ValueError(f"unknown region code {default_region!r}")
        self.default_region = default_region
        self._nanp_default = default_region in NANP_REGIONS
        # NPA-NXX -> Phone template (zones/region of that exchange), PhoneError,
        # or _UNCACHEABLE for exchanges whose metadata splits below NPA-NXX.
        self._cache: dict[str, object] = {}
        self._table = _exchange_table() if exchange_table else None
        # parse_column: NPA-NXX -> info id (int) or error reason (str); distinct
        # (zones, region, country) facts get small ids so callers key on an int.
        self._column_cache: dict[str, int | str] = {}
        self._info_ids: dict[tuple, int] = {}
        self.infos: list[PhoneInfo] = []

    def parse(self, raw: str) -> Phone:
        """Parse one phone value; raises ``PhoneError`` with a reason."""
        text = raw.strip()
        if not text:
            raise PhoneError("empty")
        if _EXCEL_SCI.match(text):
            whole = _exact_sci(text)
            if whole is None:
                raise PhoneError(
                    f"looks like Excel scientific notation ({text}): the last digits are "
                    "lost. Format the phone columns as Text in the spreadsheet and export again"
                )
            text = whole
        if _THOUSANDS.fullmatch(text):   # a number formatted '4,155,550,123'
            text = text.replace(",", "")
        if not text[0].isdigit() or not text[-1].isdigit():
            text = self._unlabelled(text)
        whole = _EXCEL_FLOAT.match(text)
        if whole:
            text = whole.group(1)
        cleaned = _STRIP.sub("", text)
        if _DIGITS.fullmatch(cleaned):
            national = self._nanp_national(cleaned)
            if national is not None:
                return self._nanp(national)
            if self._nanp_default and cleaned.startswith("00") and len(cleaned) > 9:
                # '00' is how most of the world dials out ('00 44 20 ...'); a US or
                # Canadian number never starts with 0, so it can only mean '+'.
                text = "+" + cleaned[2:]
            elif self._nanp_default and cleaned[0] == "0" and not cleaned.startswith("011"):
                raise PhoneError(
                    "starts with 0, so it is not a US or Canadian number: write it with its "
                    "country code (+44 ...) or import with --default-region (e.g. GB, DE)")
        if _TWO_NUMBERS.search(text):
            raise PhoneError("two numbers in one cell: put each in its own phone column "
                             "(phone1, phone2, ...)")
        return self._slow(text)

    @staticmethod
    def _unlabelled(text: str) -> str:
        """``text`` without a label written with the number ("(cell)", "mobile:"); a
        number labelled fax is refused with the reason."""
        if _FAX.search(text):
            raise PhoneError("labelled as a fax number; dialcli does not call fax lines")
        return _LABEL.sub("", text).strip() or text

    def info_id(self, phone: Phone) -> int:
        """A small int naming ``phone``'s (zones, region, country); see ``infos``."""
        key = (phone.zones, phone.region, phone.country)
        got = self._info_ids.get(key)
        if got is None:
            got = self._info_ids[key] = len(self.infos)
            self.infos.append(PhoneInfo(*key))
        return got

    def parse_column(self, values: list[str]) -> tuple[list[str | None], list[int], dict[int, str]]:
        """Parse many values at once: the bulk path of ``parse`` for imports.

        Returns ``(e164s, info_ids, errors)``: per value its E.164 (None when the
        value is blank or invalid) and the id of its ``PhoneInfo`` in ``self.infos``
        (-1 when None); ``errors`` maps the index of each non-blank invalid value
        to the reason ``parse`` would give. Results equal ``parse`` value by value;
        common NANP spellings of an already-seen exchange cost one regex match.
        """
        n = len(values)
        e164s: list[str | None] = [None] * n
        ids = [-1] * n
        errors: dict[int, str] = {}
        fast = _NANP_FAST.fullmatch
        cache = self._column_cache
        nanp_default = self._nanp_default
        for i, value in enumerate(values):
            if not value:
                continue
            m = fast(value)
            if m is not None and (nanp_default or m.group(1)):
                _plus, npa, nxx, line = m.groups()
                prefix = npa + nxx
                hit = cache.get(prefix)
                if hit is not None:
                    if hit.__class__ is int:
                        e164s[i] = "+1" + prefix + line
                        ids[i] = hit  # type: ignore[assignment]
                    else:
                        errors[i] = hit  # type: ignore[assignment]
                    continue
            else:
                prefix = None
            if value.isspace() or value.strip().lstrip("'").casefold() in NO_NUMBER:
                continue
            try:
                phone = self.parse(value)
            except PhoneError as exc:
                errors[i] = str(exc)
                if prefix is not None and isinstance(self._cache.get(prefix), PhoneError):
                    cache[prefix] = str(exc)
                continue
            e164s[i] = phone.e164
            ids[i] = info = self.info_id(phone)
            if prefix is not None and isinstance(self._cache.get(prefix), Phone):
                cache[prefix] = info
        return e164s, ids, errors

    def _nanp_national(self, cleaned: str) -> str | None:
        if cleaned.startswith("+"):
            digits = cleaned[1:]
            if len(digits) == 11 and digits[0] == "1":
                return digits[1:]
            return None
        if not self._nanp_default:
            return None
        if len(cleaned) == 10:
            return cleaned
        if len(cleaned) == 11 and cleaned[0] == "1":
            return cleaned[1:]
        return None

    def _nanp(self, national: str) -> Phone:
        prefix = national[:6]
        hit = self._cache.get(prefix)
        if hit is None and self._table is not None:
            hit = self._from_table(prefix)
        if hit is None:
            num = phonenumbers.parse("+1" + national, None)
            try:
                hit = fail_closed(_describe_nanp(num))
            except PhoneError as exc:
                hit = exc
            # Only US and Canadian metadata is uniform below NPA-NXX (checked for
            # every NPA-NXX with tools/check_nanp_prefix_cache.py); some Caribbean
            # exchanges (e.g. +1 246 521, +1 876 606) split further, so they always
            # take the exact path.
            country = hit.country if isinstance(hit, Phone) \
                else phonenumbers.region_code_for_number(num)
            if country not in _PREFIX_CACHEABLE:
                self._cache[prefix] = _UNCACHEABLE
            else:
                self._cache[prefix] = hit
        elif hit is _UNCACHEABLE:
            hit = self._exact("+1" + national)
        if isinstance(hit, PhoneError):
            raise PhoneError(str(hit))
        return Phone("+1" + national, hit.zones, hit.region, hit.country)

    def _from_table(self, prefix: str) -> "Phone | None":
        body, answers = self._table  # type: ignore[misc]
        npa, nxx = int(prefix[:3]) - FIRST, int(prefix[3:]) - FIRST
        if not (0 <= npa < SPAN and 0 <= nxx < SPAN):
            return None
        k = body[npa * SPAN + nxx]
        if k == NO_ENTRY:
            return None
        hit = self._cache[prefix] = fail_closed(answers[k], prefix)
        return hit

    @staticmethod
    def _exact(e164: str) -> "Phone | PhoneError":
        try:
            return _describe(phonenumbers.parse(e164, None))
        except PhoneError as exc:
            return exc

    def _slow(self, text: str) -> Phone:
        try:
            num = phonenumbers.parse(text, self.default_region)
        except phonenumbers.NumberParseException as exc:
            if exc.error_type == phonenumbers.NumberParseException.INVALID_COUNTRY_CODE:
                raise PhoneError(
                    "no country code: start the number with + and the country code, "
                    "or pass --default-region"
                ) from None
            raise PhoneError("not a phone number") from None
        if num.extension:
            raise PhoneError("has an extension; dialcli cannot dial extensions")
        return fail_closed(_describe(num))


# -- zones that fail closed -----------------------------------------------------------

#: Versioned corrections and additions to phonenumbers' zone/state data (sources inside).
ZONE_OVERRIDES = "zone_overrides.toml"


@dataclass(frozen=True, slots=True)
class ZoneFix:
    """One row of ``data/zone_overrides.toml``: zones/states a prefix ALSO has."""

    prefix: str                  # NPA (area code) or NPA-NXX digits
    zones: tuple[str, ...]
    states: tuple[str, ...]      # two-letter codes of the prefix's country
    when: str                    # "always" | "missing": only for exchanges the data lacks
    source: str
    confidence: str
    checked: str
    note: str = ""


def parse_zone_overrides(text: str) -> tuple[str, dict[str, ZoneFix]]:
    """(version, {prefix: fix}) from the TOML text; raises ValueError on a bad row."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    def known(zone: str) -> bool:
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            return False
        return True

    data = tomllib.loads(text)
    version = str(data.get("version") or "")
    if not version:
        raise ValueError("zone overrides: missing version")
    out: dict[str, ZoneFix] = {}
    for i, raw in enumerate(data.get("override", []), 1):
        prefix = str(raw.get("prefix", "")).replace("-", "")
        where = f"zone overrides row {i} ({prefix or '?'})"
        extra = set(raw) - {"prefix", "zones", "states", "when", "source", "confidence",
                            "checked", "note"}
        if extra:
            raise ValueError(f"{where}: unknown field(s) {sorted(extra)}")
        if not re.fullmatch(r"[2-9]\d\d([2-9]\d\d)?", prefix) or prefix in out:
            raise ValueError(f"{where}: prefix must be a new NPA or NPA-NXX, e.g. 850-227")
        zones, states = tuple(raw.get("zones", ())), tuple(raw.get("states", ()))
        if not zones and not states or not all(map(known, zones)):
            raise ValueError(f"{where}: needs zones (IANA names) or states")
        if any(st not in _STATE_CODES["US"] | _STATE_CODES["CA"] for st in states):
            raise ValueError(f"{where}: unknown state code in {states}")
        when = raw.get("when", "always")
        if when not in ("always", "missing"):
            raise ValueError(f"{where}: when is 'always' or 'missing'")
        if not raw.get("source") or not re.fullmatch(r"[HML](/[HML])?", raw.get("confidence", "")) \
                or not re.fullmatch(r"\d{4}-\d\d-\d\d", str(raw.get("checked", ""))):
            raise ValueError(f"{where}: needs a source, a confidence H, M or L and a "
                             "checked date (YYYY-MM-DD)")
        out[prefix] = ZoneFix(prefix, zones, states, when, raw["source"], raw["confidence"],
                              str(raw["checked"]), raw.get("note", ""))
    return version, out


@lru_cache(maxsize=1)
def zone_overrides() -> tuple[str, dict[str, ZoneFix]]:
    from importlib.resources import files

    return parse_zone_overrides(files("dialcli.data").joinpath(ZONE_OVERRIDES).read_text("utf-8"))


@lru_cache(maxsize=1)
def _tz_data() -> dict:
    from phonenumbers.tzdata import TIMEZONE_DATA

    return TIMEZONE_DATA


@lru_cache(maxsize=1)
def _area_spans() -> dict[str, tuple[str, ...]]:
    """Area code -> every zone phonenumbers names for it or any of its exchanges."""
    spans: dict[str, set[str]] = {}
    for key, zones in _tz_data().items():
        if key[:1] == "1" and len(key) >= 4:
            spans.setdefault(key[1:4], set()).update(
                z for z in zones if z != pn_timezone.UNKNOWN_TIMEZONE)
    return {npa: tuple(sorted(z)) for npa, z in spans.items()}


def exchange_in_zone_data(prefix: str) -> bool:
    """Does phonenumbers' zone data name this NPA-NXX (or a prefix of it below the
    area code)? When not, its zone is the area code's fallback: a guess."""
    data = _tz_data()
    return any(("1" + prefix[:k]) in data for k in (4, 5, 6))


def zone_origins(prefix: str, data_zones: tuple[str, ...]) -> dict[str, str]:
    """{zone: where it came from} for a US/Canadian exchange whose phonenumbers zones
    are ``data_zones``: the exchange's own data, its area code's span (an exchange
    the data lacks), or an override row."""
    return dict(_zone_origins(prefix[:6], tuple(data_zones)))


@lru_cache(maxsize=65_536)
def _zone_origins(prefix: str, data_zones: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """``zone_origins`` computed once per exchange (a plan or an import meets each
    exchange many times)."""
    npa, nxx = prefix[:3], prefix[3:6]
    origins: dict[str, str] = {}
    if exchange_in_zone_data(prefix):
        for z in data_zones:
            origins[z] = f"number (exchange {npa}-{nxx})"
    else:
        span = _area_spans().get(npa, ()) or data_zones
        many = len(span) > 1
        for z in (*data_zones, *span):
            origins.setdefault(z, f"area code {npa} span (exchange {npa}-{nxx} not in the "
                                  "zone data)" if many else f"number (area code {npa})")
    version, fixes = zone_overrides()
    missing = not exchange_in_zone_data(prefix)
    for key in (npa, prefix):
        fix = fixes.get(key)
        if fix is not None and (fix.when == "always" or missing):
            label = key if len(key) == 3 else f"{npa}-{nxx}"
            for z in fix.zones:
                origins.setdefault(z, f"override {label}: {fix.note or fix.source} "
                                      f"(zone_overrides {version})")
    return tuple(origins.items())


def fail_closed(phone: Phone, prefix: str | None = None) -> Phone:
    """``phone`` with every zone and state it could be in (see module docstring):
    idempotent, and a no-op outside the US and Canada or for non-geographic numbers."""
    if phone.country not in _PREFIX_CACHEABLE or not phone.zones:
        return phone
    prefix = prefix or phone.e164[2:8]
    origins = zone_origins(prefix, phone.zones)
    zones = tuple(sorted(origins)) if len(origins) > len(phone.zones) else phone.zones
    region = phone.region
    missing = not exchange_in_zone_data(prefix)
    fixes = zone_overrides()[1]
    for key in (prefix[:3], prefix):
        fix = fixes.get(key)
        if fix is not None and fix.states and (fix.when == "always" or missing):
            parts = {p for p in region.split(",") if "-" in p}
            parts.update(f"{phone.country}-{st}" for st in fix.states)
            region = ",".join(sorted(parts))
    if zones == phone.zones and region == phone.region:
        return phone
    return Phone(phone.e164, zones, region, phone.country)


@lru_cache(maxsize=4096)
def number_zone_origins(e164: str) -> dict[str, str]:
    """{zone: where it came from} for an E.164 number (what ``plan`` shows): its
    exchange's data, its area code's span, an override row; {} without zones."""
    phone = describe_e164(e164)
    if phone.country not in _PREFIX_CACHEABLE or not phone.zones:
        return {z: "number" for z in phone.zones}
    return zone_origins(e164[2:8], _data_zones(e164[2:8]))


@lru_cache(maxsize=65_536)
def _data_zones(prefix: str) -> tuple[str, ...]:
    """phonenumbers' own zones of a +1 exchange (its longest matching prefix), before
    ``fail_closed`` adds any: what ``zone_origins`` labels."""
    data = _tz_data()
    for k in range(len(prefix), 2, -1):
        zones = data.get("1" + prefix[:k])
        if zones is not None:
            return tuple(z for z in zones if z != pn_timezone.UNKNOWN_TIMEZONE)
    return ()


#: The time zones of each US state, DC and territory: a lead's ``state`` column adds
#: them to the number's zones (the person may live anywhere in the state). Zones that
#: observe a time unofficially (Phenix City AL on Eastern, Kenton OK on Mountain,
#: West Wendover NV on Mountain) are included: the window must be open there too.
STATE_ZONES: dict[str, tuple[str, ...]] = {
    "AL": ("America/Chicago", "America/New_York"), "AK": ("America/Anchorage", "America/Adak"),
    "AZ": ("America/Phoenix", "America/Denver"), "AR": ("America/Chicago",),
    "CA": ("America/Los_Angeles",), "CO": ("America/Denver",), "CT": ("America/New_York",),
    "DE": ("America/New_York",), "DC": ("America/New_York",),
    "FL": ("America/New_York", "America/Chicago"), "GA": ("America/New_York",),
    "HI": ("Pacific/Honolulu",), "ID": ("America/Boise", "America/Los_Angeles"),
    "IL": ("America/Chicago",), "IN": ("America/New_York", "America/Chicago"),
    "IA": ("America/Chicago",), "KS": ("America/Chicago", "America/Denver"),
    "KY": ("America/New_York", "America/Chicago"), "LA": ("America/Chicago",),
    "ME": ("America/New_York",), "MD": ("America/New_York",), "MA": ("America/New_York",),
    "MI": ("America/New_York", "America/Chicago"), "MN": ("America/Chicago",),
    "MS": ("America/Chicago",), "MO": ("America/Chicago",), "MT": ("America/Denver",),
    "NE": ("America/Chicago", "America/Denver"), "NV": ("America/Los_Angeles", "America/Denver"),
    "NH": ("America/New_York",), "NJ": ("America/New_York",), "NM": ("America/Denver",),
    "NY": ("America/New_York",), "NC": ("America/New_York",),
    "ND": ("America/Chicago", "America/Denver"), "OH": ("America/New_York",),
    "OK": ("America/Chicago", "America/Denver"), "OR": ("America/Los_Angeles", "America/Boise"),
    "PA": ("America/New_York",), "RI": ("America/New_York",), "SC": ("America/New_York",),
    "SD": ("America/Chicago", "America/Denver"), "TN": ("America/New_York", "America/Chicago"),
    "TX": ("America/Chicago", "America/Denver"), "UT": ("America/Denver",),
    "VT": ("America/New_York",), "VA": ("America/New_York",), "WA": ("America/Los_Angeles",),
    "WV": ("America/New_York",), "WI": ("America/Chicago",), "WY": ("America/Denver",),
    "PR": ("America/Puerto_Rico",), "VI": ("America/St_Thomas",), "GU": ("Pacific/Guam",),
    "AS": ("Pacific/Pago_Pago",), "MP": ("Pacific/Saipan",),
}


@lru_cache(maxsize=4096)
def describe_e164(e164: str) -> Phone:
    """Describe an already-E.164 number (used for from-numbers and DNC entries)."""
    return PhoneParser(None).parse(e164)


def is_e164(text: str) -> bool:
    return bool(re.fullmatch(r"\+[1-9]\d{6,14}", text or ""))


def normalize_e164(text: str, default_region: str | None = "US") -> str:
    """Validate a number typed on the command line; return E.164 or raise PhoneError."""
    return PhoneParser(default_region).parse(text).e164


def warm_up() -> None:
    """Load what parsing the first phone needs: the exchange table, or the geocoder
    (~0.5 s, ~100 MB) when there is none (with one, NANP numbers never need it)."""
    if _exchange_table() is None:
        _geocoder()


def group_zones(zones: tuple[str, ...], region: str, tz: str | None,
                state: str | None) -> tuple[str, ...]:
    """The candidate zones of a lead's phone: the number's own (``fail_closed``),
    plus the lead's ``timezone`` column, plus every zone of a ``state`` column naming a
    state the number is not already in. They only add: the window must be open in all
    of them, so a column can delay a call, never let one through (a 415 number tagged
    America/New_York is still not dialed at 05:00 Pacific)."""
    out = list(zones)
    if tz and tz not in out:
        out.append(tz)
    if state and f"US-{state}" not in region.split(","):
        out.extend(z for z in STATE_ZONES.get(state, ()) if z not in out)
    return tuple(out)
