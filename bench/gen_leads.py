"""Realistic lead CSVs for benchmarks and tests: ``generate(path, n, seed)``.

The rows look like what a user exports from a CRM or a spreadsheet:

* names from a mixed list (apostrophes, hyphens, accents, a few "Last, First"
  that need quoting), an email derived from the name, an amount, a case number,
  an address, city and state, a due date and free-text notes (some with quoted
  commas, quotes and line breaks);
* 1-3 phones per lead (``phones_dist``), written in the formats people type:
  ``+14155550123``, ``(415) 555-0123``, ``415-555-0123``, ``415.555.0123``,
  ``1 415 555 0123``, ``+1 (415) 555-0123``, ``4155550123``;
* numbers from real US area codes across every US time zone (Eastern ... Hawaii,
  Arizona without DST, and area codes whose exchanges span two zones such as 208,
  541, 775, 907, 986), with big-metro area codes weighted up and a pool of
  exchanges per area code (like a national list: many exchanges, not every
  exchange), every exchange one that phonenumbers accepts as a valid number;
* about ``bad_fraction`` bad rows: Excel scientific notation, too few digits,
  text instead of a number, no phone at all, a duplicate phone1, an unquoted
  comma that shifts the row; and a few leads whose ``state`` column differs from
  their phone's state (people who moved).

Deterministic for a given ``seed``. Run directly to write a file:
``python bench/gen_leads.py out.csv 100000 --seed 1``.
"""

from __future__ import annotations

import argparse
import csv
import random
from functools import lru_cache
from pathlib import Path

import phonenumbers
from phonenumbers import PhoneNumberType
from phonenumbers import timezone as pn_timezone

FIRST = (
    "Alex Jamie Priya Marcus Sofia Liam Emma Noah Olivia Ethan Ava Lucas Mia James Charlotte "
    "Benjamin Amelia Henry Harper Daniel Evelyn Michael Abigail Elijah Emily Logan Ella Jacob "
    "Madison Mason Scarlett Aiden Grace Carter Chloe Sebastian Zoe Jack Lily Owen Hannah Wyatt "
    "Aria Julian Nora Levi Riley Isaac Layla Gabriel Zara Anthony Victoria Dylan Penelope Leo "
    "Camila Lincoln Luna Jaxon Stella Asher Hazel Christopher Aurora Josiah Savannah Andrew "
    "Audrey Thomas Brooklyn Joshua Bella Ezra Claire Hudson Skylar Charles Lucy Caleb Paisley "
    "Isaiah Everly Ryan Anna Nathan Caroline Adrian Nova Christian Genesis Maverick Emilia "
    "Jose José María Zoë Renée Chloé Siobhan Niamh Seán Mohammed Fatima Aisha Omar Wei Mei Hiroshi "
    "Yuki Sanjay Anjali Rahul Deepa Kwame Ama Chinedu Ngozi Tomás Inés Mateo Valentina "
    "Santiago Ximena Dmitri Olga Ivan Katya Björn Astrid Pierre Amélie Giulia Marco"
).split()
LAST = (
    "Chen Lee Patel Johnson Garcia O'Brien Wilson Kim Brown Davis Martinez Nguyen Thompson "
    "Anderson Taylor Jackson White Harris Martin Thomas Moore Clark Lewis Robinson Walker Young "
    "Allen King Wright Scott Torres Hill Flores Green Adams Nelson Baker Hall Rivera Campbell "
    "Mitchell Carter Roberts Gomez Phillips Evans Turner Diaz Parker Cruz Edwards Collins Reyes "
    "Stewart Morris Morales Murphy Cook Rogers Gutierrez Ortiz Morgan Cooper Peterson Bailey "
    "Reed Kelly Howard Ramos Cox Ward Richardson Watson Brooks Chavez Wood James Bennett Gray "
    "Mendoza Ruiz Hughes Price Alvarez Castillo Sanders Myers Long Ross Foster Jiménez Núñez "
    "Müller Schröder Van-der-Berg Smith-Jones McDonald MacLeod D'Angelo Okafor Mensah Singh "
    "Khan Ali Ahmed Tanaka Suzuki Yamamoto Wang Zhang Liu Ivanov Petrova Kowalski Nowak Larsen"
).split()
STREETS = ("Main St", "Oak Ave", "Market St", "Elm St", "2nd Ave", "Park Blvd", "Maple Dr",
           "Cedar Ln", "Sunset Blvd", "Lake Shore Dr", "Pine St", "Washington Ave", "Broadway")
NOTES = ("", "", "", "", "", "prefers mornings", "asked about payment plan",
         "spoke to spouse, call back", 'said "not now", try next week',
         "Balance disputed, see email", "VIP, be polite", "moved recently\nnew address pending",
         "left voicemail, no reply", "wants paperwork mailed, not emailed")
DOMAINS = ("gmail.com", "yahoo.com", "outlook.com", "icloud.com", "aol.com", "example.com",
           "acme.io", "hotmail.com", "comcast.net")

#: Area codes of big metros get more leads (and more exchanges) than the rest.
METRO = {212: 5, 646: 4, 718: 4, 917: 4, 213: 5, 310: 4, 323: 3, 818: 3, 312: 5, 773: 4,
         415: 4, 408: 3, 404: 4, 678: 3, 305: 4, 786: 3, 713: 5, 832: 4, 214: 4, 972: 4,
         602: 4, 480: 3, 206: 4, 425: 2, 617: 4, 303: 4, 720: 3, 702: 4, 808: 2, 907: 2,
         208: 2, 986: 1, 541: 2, 775: 2, 850: 2, 215: 4, 267: 3, 202: 4, 313: 3, 612: 3,
         314: 3, 615: 3, 503: 3, 801: 3, 504: 2, 505: 2, 605: 1, 701: 1, 915: 2, 520: 2}
FORMATS = (
    lambda a, b, c: f"+1{a}{b}{c}",
    lambda a, b, c: f"({a}) {b}-{c}",
    lambda a, b, c: f"{a}-{b}-{c}",
    lambda a, b, c: f"{a}.{b}.{c}",
    lambda a, b, c: f"1 {a} {b} {c}",
    lambda a, b, c: f"+1 ({a}) {b}-{c}",
    lambda a, b, c: f"{a}{b}{c}",
)
FORMAT_WEIGHTS = (30, 20, 20, 6, 4, 8, 12)
HEADER = ("name", "phone1", "phone2", "phone3", "email", "amount", "case number",
          "address", "city", "state", "Due Date", "notes")
DEFAULT_PHONES_DIST = {1: 0.55, 2: 0.30, 3: 0.15}
_SPECIAL_NXX = frozenset({555, 950, 958, 959, 976})


def _is_local(npa: int, nxx: int) -> tuple[bool, tuple[str, ...], str]:
    num = phonenumbers.parse(f"+1{npa}{nxx}4567", None)
    if phonenumbers.region_code_for_number(num) != "US" or not phonenumbers.is_valid_number(num):
        return False, (), ""
    if phonenumbers.number_type(num) not in (PhoneNumberType.FIXED_LINE_OR_MOBILE,
                                             PhoneNumberType.FIXED_LINE,
                                             PhoneNumberType.MOBILE):
        return False, (), ""
    from phonenumbers import geocoder

    zones = tuple(pn_timezone.time_zones_for_geographical_number(num))
    place = geocoder.description_for_number(num, "en")
    return True, zones, place


@lru_cache(maxsize=None)
def us_area_codes() -> tuple[tuple[int, int, str], ...]:
    """(area code, weight, state code) for every US geographic area code phonenumbers knows."""
    from dialcli.phones import US_STATES, region_from_place

    out = []
    for npa in range(200, 1000):
        ok, _zones, place = _is_local(npa, 234)
        if not ok:
            continue
        region = region_from_place("US", place)
        state = region.split("-", 1)[1] if "-" in region else ""
        out.append((npa, METRO.get(npa, 1), state))
    assert {s for _, _, s in out} >= set(US_STATES.values()) - {"DC"} or out
    return tuple(out)


def _exchange_pool(rnd: random.Random, exchanges_per_npa: int) -> tuple[list, list]:
    """Valid (area code, exchange, state) prefixes and their weights."""
    from dialcli.phones import region_from_place

    pool, weights = [], []
    for npa, weight, _state in us_area_codes():
        want = min(790, exchanges_per_npa * weight)
        candidates = [x for x in range(200, 1000) if x % 100 != 11 and x not in _SPECIAL_NXX]
        rnd.shuffle(candidates)
        taken = 0
        for nxx in candidates:
            if taken >= want:
                break
            ok, _z, place = _is_local(npa, nxx)
            if ok:
                city = place.rsplit(", ", 1)[0] if ", " in place else ""
                region = region_from_place("US", place)
                state = region.split("-", 1)[1] if "-" in region else ""
                pool.append((npa, nxx, state, city))
                weights.append(weight)
                taken += 1
    return pool, weights


@lru_cache(maxsize=8)
def _pool_cached(seed: int, exchanges_per_npa: int):
    return _exchange_pool(random.Random(seed * 7919 + exchanges_per_npa), exchanges_per_npa)


def generate(path: str | Path, n: int, seed: int = 1, *,
             phones_dist: dict[int, float] | None = None, bad_fraction: float = 0.005,
             exchanges_per_npa: int = 40, moved_fraction: float = 0.03,
             extra_columns: int = 0) -> Path:
    """Write ``n`` lead rows (plus a header) to ``path``; returns the path.

    ``phones_dist`` maps a phone count (1..10) to its probability.
    ``exchanges_per_npa`` sets how many exchanges each area code draws from (metro
    area codes get a multiple); raise it to spread a list over more prefixes.
    ``extra_columns`` appends that many ``field_N`` variable columns.
    """
    rnd = random.Random(seed)
    dist = phones_dist or DEFAULT_PHONES_DIST
    counts, probs = zip(*sorted(dist.items()))
    if min(counts) < 0 or max(counts) > 10:
        raise ValueError("phones_dist keys must be 0..10")
    width = max(3, max(counts))
    pool, weights = _pool_cached(seed, exchanges_per_npa)
    states = sorted({p[2] for p in pool if p[2]})
    header = ["name"] + [f"phone{i}" for i in range(1, width + 1)] + list(HEADER[4:])
    header += [f"field_{i}" for i in range(1, extra_columns + 1)]
    path = Path(path)
    seen_phone1: list[str] = []
    batch = 4096
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        for start in range(0, n, batch):
            m = min(batch, n - start)
            prefixes = rnd.choices(pool, weights, k=m * width)
            nphones = rnd.choices(counts, probs, k=m)
            fmts = rnd.choices(FORMATS, FORMAT_WEIGHTS, k=m * width)
            for i in range(m):
                first, last = rnd.choice(FIRST), rnd.choice(LAST)
                name = f"{last}, {first}" if rnd.random() < 0.03 else f"{first} {last}"
                phones = []
                for k in range(nphones[i]):
                    npa, nxx = prefixes[i * width + k][:2]
                    phones.append(fmts[i * width + k](npa, nxx, f"{rnd.randrange(10000):04d}"))
                _npa, _nxx, state, city = prefixes[i * width]
                if rnd.random() < moved_fraction:
                    state = rnd.choice(states)
                amount = f"{rnd.randrange(50, 25000)}" if rnd.random() < 0.8 \
                    else f"{rnd.randrange(50, 25000)}.{rnd.randrange(100):02d}"
                email = "" if rnd.random() < 0.1 else (
                    f"{first.lower()}.{last.lower()}{rnd.randrange(100)}@{rnd.choice(DOMAINS)}")
                row = [name] + phones + [""] * (width - len(phones)) + [
                    email, amount, f"CASE-{rnd.randrange(1, 10**6):06d}",
                    f"{rnd.randrange(1, 9999)} {rnd.choice(STREETS)}", city, state,
                    f"2026-{rnd.randrange(1, 13):02d}-{rnd.randrange(1, 29):02d}",
                    rnd.choice(NOTES),
                ] + [f"v{rnd.randrange(1000)}" for _ in range(extra_columns)]
                if rnd.random() < bad_fraction:
                    spoiled = _spoil(rnd, row, seen_phone1)
                    if spoiled is None:  # an address with a comma written without quotes
                        cells = [c.replace(",", " ").replace('"', "").replace("\n", " ")
                                 for c in row]
                        at = header.index("address")
                        cells[at] = cells[at] + ", Apt " + str(rnd.randrange(1, 40))
                        f.write(",".join(cells) + "\n")
                        continue
                    row = spoiled
                elif phones and len(seen_phone1) < 2048:
                    seen_phone1.append(phones[0])
                w.writerow(row)
    return path


def _spoil(rnd: random.Random, row: list[str], seen: list[str]) -> list[str] | None:
    """Make one bad row the way real exports go wrong (None = write a shifted row)."""
    kind = rnd.randrange(6)
    if kind == 0:   # Excel turned the number into scientific notation
        digits = "".join(ch for ch in row[1] if ch.isdigit())[-10:] or "4155550123"
        row[1] = f"{digits[0]}.{digits[1:8]}E+{len(digits) - 1}"
    elif kind == 1:
        row[1] = row[1][:6] or "555-12"
    elif kind == 2:
        row[1] = rnd.choice(("n/a", "unknown", "call office", "-"))
    elif kind == 3:
        row[1:4] = ["", "", ""]
    elif kind == 4 and seen:
        row[1] = rnd.choice(seen)
    else:
        return None
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("path")
    parser.add_argument("rows", type=int)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--exchanges-per-npa", type=int, default=40)
    args = parser.parse_args()
    generate(args.path, args.rows, args.seed, exchanges_per_npa=args.exchanges_per_npa)


if __name__ == "__main__":
    main()
