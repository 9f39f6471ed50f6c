"""Build ``src/dialcli/data/nanp_exchanges.bin``: what every US/Canadian NPA-NXX means.

    python tools/build_nanp_table.py          # after upgrading phonenumbers

For each NPA-NXX (200-999 x 200-999) it asks ``PhoneParser`` -- the same code an
import runs, with the table switched off -- what a number of that exchange is,
and keeps the valid US and Canadian answers (candidate time zones, region,
country); everything else (invalid exchanges, Caribbean countries whose
metadata splits below NPA-NXX) is left to the parser at run time. The file
names the phonenumbers version it was built with and is ignored under any
other version, so an upgrade costs speed, never correctness.
tests/test_phones_table.py checks a sample against the live library.
"""

from __future__ import annotations

import json
import sys
import time
import zlib
from pathlib import Path

import phonenumbers

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from dialcli import phones  # noqa: E402

OUT = ROOT / "src" / "dialcli" / "data" / phones.EXCHANGE_TABLE


def build() -> bytes:
    phones._exchange_table.cache_clear()
    parser = phones.PhoneParser("US", exchange_table=False)
    infos: dict[tuple, int] = {}
    body = bytearray([phones.NO_ENTRY]) * (phones.SPAN * phones.SPAN)
    for npa in range(phones.FIRST, phones.FIRST + phones.SPAN):
        for nxx in range(phones.FIRST, phones.FIRST + phones.SPAN):
            prefix = f"{npa}{nxx}"
            try:
                parser.parse(f"+1{prefix}0000")
            except phones.PhoneError:
                continue
            hit = parser._cache.get(prefix)
            if not isinstance(hit, phones.Phone) or hit.country not in phones._PREFIX_CACHEABLE:
                continue
            key = (hit.zones, hit.region, hit.country)
            if key not in infos:
                if len(infos) >= phones.NO_ENTRY:
                    raise SystemExit("more distinct answers than a byte can name")
                infos[key] = len(infos)
            body[(npa - phones.FIRST) * phones.SPAN + nxx - phones.FIRST] = infos[key]
    head = {"phonenumbers": phonenumbers.__version__,
            "infos": [[list(z), r, c] for (z, r, c) in infos]}
    return zlib.compress(json.dumps(head).encode() + b"\n" + bytes(body), 9)


def main() -> None:
    t = time.perf_counter()
    data = build()
    OUT.write_bytes(data)
    print(f"{OUT.relative_to(ROOT)}: {len(data):,} bytes for phonenumbers "
          f"{phonenumbers.__version__} in {time.perf_counter() - t:.0f} s")


if __name__ == "__main__":
    main()
