"""Text files users bring -- leads, consent records, opt-out registries: which encoding
they are in, as spreadsheets and other tools write them. One reading for every import,
so a file that one import reads is read the same by the others."""

from __future__ import annotations

import codecs
from pathlib import Path

from dialcli.errors import InputError

_BLOCK = 1 << 20


def sniff(path: Path, head: bytes | None = None) -> tuple[str, list[str], int]:
    """(encoding, notices, newline count) after checking every byte of the file.

    A byte-order mark names the encoding (UTF-8 or UTF-16, either order: Excel's
    "Unicode text"); without one, UTF-16 if every other byte is zero, UTF-8 if every
    byte is, else Mac Roman when lines end in a lone CR (Excel's "CSV (Macintosh)"),
    else Windows-1252 (Excel's CSV on Windows), else Latin-1, with a notice saying so.
    ``head`` is the file's first bytes, when the caller has read them."""
    if head is None:
        with path.open("rb") as f:
            head = f.read(65536)
    if head.startswith(codecs.BOM_UTF8):
        candidates = ["utf-8-sig"]
    elif head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        candidates = ["utf-16"]
    elif utf16 := utf16_without_bom(head):
        candidates = [utf16]
    elif b"\r" in head and b"\n" not in head:
        candidates = ["utf-8", "mac_roman"]
    else:
        candidates = ["utf-8", "cp1252", "latin-1"]
    for encoding in candidates:
        decoder = codecs.getincrementaldecoder(encoding)()
        newlines = done = 0
        try:
            with path.open("rb") as f:
                while block := f.read(_BLOCK):
                    decoder.decode(block)
                    newlines += block.count(b"\n")
                    done += len(block)
                decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            if len(candidates) > 1:
                continue
            # A byte-order mark names the encoding; bytes that contradict it mean a
            # file pasted together from two encodings, and guessing would garble one.
            pending = len(exc.object) - (len(block) if block else 0)
            at = done - pending + exc.start + 1
            label = "UTF-8" if encoding == "utf-8-sig" else "UTF-16"
            how = "starts with a {} byte-order mark" if encoding in ("utf-8-sig", "utf-16") \
                else "looks like {} text (every other byte zero)"
            raise InputError(
                f"{path.name} {how.format(label)}, but byte {at:,} is not "
                f"valid {label}: the file mixes encodings.",
                hint="Open it in your spreadsheet and save it as 'CSV UTF-8', then import again.",
            ) from None
        if encoding.startswith("utf-16"):
            newlines = max(1, done // 200)   # '\n' bytes say nothing in UTF-16
        notices = []
        if encoding == "cp1252":
            notices.append(
                f"{path.name} is not UTF-8; read it as Windows-1252 (cp1252), the usual "
                "encoding of Excel CSVs on Windows. If names look wrong, save the file as "
                "'CSV UTF-8' and import again.")
        elif encoding == "mac_roman":
            notices.append(
                f"{path.name} is not UTF-8 and its lines end the old Mac way; read it as Mac "
                "Roman, the encoding of Excel's 'CSV (Macintosh)'. If names look wrong, save "
                "the file as 'CSV UTF-8' and import again.")
        elif encoding == "latin-1":
            notices.append(
                f"{path.name} is neither UTF-8 nor Windows-1252; read it as Latin-1. If names "
                "look wrong, save the file as 'CSV UTF-8' and import again.")
        return encoding, notices, newlines
    raise AssertionError("latin-1 decodes any bytes")  # pragma: no cover


def utf16_without_bom(head: bytes) -> str | None:
    """'utf-16-le' or 'utf-16-be' when ``head`` is UTF-16 text saved without a
    byte-order mark (some exporters do): ASCII in UTF-16 is every other byte zero."""
    sample = head[: len(head) // 2 * 2][:4096]
    if len(sample) < 4:
        return None
    even, odd = sample[0::2], sample[1::2]
    half = len(sample) // 2
    if odd.count(0) * 10 >= half * 9 and even.count(0) * 10 < half:
        return "utf-16-le"
    if even.count(0) * 10 >= half * 9 and odd.count(0) * 10 < half:
        return "utf-16-be"
    return None
