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
"""

from __future__ import annotations

import json
import re
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
        """Two-letter state/province when known (US and Canada)."""
        if "-" in self.region:
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
            raise PhoneError(
                f"looks like Excel scientific notation ({text}): the last digits are lost. "
                "Format the phone columns as Text in the spreadsheet and export again"
            )
        cleaned = _STRIP.sub("", text)
        if _DIGITS.fullmatch(cleaned):
            national = self._nanp_national(cleaned)
            if national is not None:
                return self._nanp(national)
        return self._slow(text)

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
            if value.isspace():
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
                hit = _describe_nanp(num)
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
        hit = self._cache[prefix] = answers[k]
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
        return _describe(num)


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
