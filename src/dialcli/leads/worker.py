"""Running the import preparer in a second process.

SQLite writing is single-threaded and threads would fight over the GIL around
every row, so a large import validates in a worker process while the importer
inserts: the worker reads and prepares chunk N+1 while the parent writes chunk N.

* The worker is a fresh interpreter (``python -m dialcli.leads.worker``), not a
  fork: the parent holds an open SQLite connection inside a write transaction,
  which a forked child must never touch, and ``multiprocessing``'s spawn would
  re-import the caller's ``__main__``. The worker never opens the database:
  everything it needs arrives as one pickled ``PrepareSpec`` on stdin.
* Chunks come back on stdout as pickles; the pipe's small buffer is the flow
  control (the worker blocks until the parent has taken the previous chunk), so
  memory stays flat when the writer is slower than the reader.
* A chunk crosses the pipe as a few big objects -- each string column joined
  with NUL (a CSV value cannot hold one: the csv module refuses NUL bytes), each
  int column as an int64 buffer -- so the parent spends its time in SQLite, not
  in unpickling millions of small objects.
* The worker runs in its own session, so Ctrl-C reaches only the parent, which
  rolls back and then stops the worker. Errors travel back as data.
"""

from __future__ import annotations

import pickle
import subprocess
import sys
import traceback
from array import array
from typing import Iterator

from dialcli.errors import DialcliError, InputError
from dialcli.leads.csvfile import ReaderFallback
from dialcli.leads.prepare import LeadColumns, Payload, PhoneColumns, Preparer, PrepareSpec

_SEP = "\x00"


def _strs(values: list[str]) -> tuple[int, str]:
    return len(values), _SEP.join(values)


def _unstrs(packed: tuple[int, str]) -> list[str]:
    n, text = packed
    return text.split(_SEP) if n else []


def _ints(values: list[int]) -> bytes:
    return array("q", values).tobytes()


def _unints(data: bytes) -> list[int]:
    out = array("q")
    out.frombytes(data)
    return out.tolist()


def pack(p: Payload) -> tuple:
    """A payload as a handful of large picklable objects."""
    leads = phones = None
    if p.leads is not None:
        c = p.leads
        leads = (c.first_id, _ints(c.lines), _strs(c.names), _strs(c.emails), _strs(c.phone1),
                 _strs(c.vars), None if c.timezones is None else _strs(c.timezones),
                 None if c.status is None else _strs(c.status), _ints(c.phone_slot),
                 _ints(c.cur_group), None if c.skip_reason is None else _strs(c.skip_reason))
    if p.phones is not None:
        c2 = p.phones
        phones = (_ints(c2.lead_id), _ints(c2.slot), _strs(c2.e164), _ints(c2.info),
                  _ints(c2.group_id), _strs(c2.dead_reason), c2.zones_of, c2.region_of)
    consents = None
    if p.consents:
        ids, kinds, ats, sources = zip(*p.consents)
        consents = (_ints(list(ids)), _strs(list(kinds)), _strs(list(ats)), _strs(list(sources)))
    return (p.groups, leads, phones, p.bytes_read, p.final, consents)


def unpack(t: tuple) -> Payload:
    groups, leads, phones, bytes_read, final, consents = t
    lc = pc = None
    if leads is not None:
        (first_id, lines, names, emails, phone1, vars_, tzs, status, pslot, cgroup, skip) = leads
        lc = LeadColumns(first_id, _unints(lines), _unstrs(names), _unstrs(emails),
                         _unstrs(phone1), _unstrs(vars_), None if tzs is None else _unstrs(tzs),
                         None if status is None else _unstrs(status), _unints(pslot),
                         _unints(cgroup), None if skip is None else _unstrs(skip))
    if phones is not None:
        lid, slot, e164, info, gid, dead, zones_of, region_of = phones
        pc = PhoneColumns(_unints(lid), _unints(slot), _unstrs(e164), _unints(info),
                          _unints(gid), _unstrs(dead), zones_of, region_of)
    cs = None
    if consents is not None:
        ids, kinds, ats, sources = consents
        cs = list(zip(_unints(ids), _unstrs(kinds), _unstrs(ats), _unstrs(sources)))
    return Payload(groups=groups, leads=lc, phones=pc, bytes_read=bytes_read, final=final,
                   consents=cs)


def main() -> None:
    """Worker entry point: a spec on stdin, payload frames on stdout."""
    out = sys.stdout.buffer
    # Load what the first chunk needs while the parent is still checking the file
    # and opening its transaction. The geocoder (~0.5 s, ~100 MB) only when there
    # is no exchange table: with one, US/Canadian numbers never need it.
    import pandas  # noqa: F401

    from dialcli.phones import warm_up

    warm_up()
    spec: PrepareSpec = pickle.load(sys.stdin.buffer)
    preparer = Preparer(spec)
    try:
        for payload in preparer.run():
            pickle.dump(("payload", pack(payload)), out, protocol=pickle.HIGHEST_PROTOCOL)
            out.flush()
    except BrokenPipeError:
        return  # the parent stopped reading (error or Ctrl-C): nothing to report
    except DialcliError as exc:
        pickle.dump(("input", (exc.message, exc.hint)), out)
    except ReaderFallback as exc:
        pickle.dump(("fallback", str(exc)), out)
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which re-raises
        pickle.dump(("crash", f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"), out)
    finally:
        preparer.close()
    out.flush()


class WorkerUnavailable(Exception):
    """The worker exited before sending anything (e.g. a frozen or sandboxed install)."""


def start_worker() -> subprocess.Popen:
    """Start the worker early: it imports its modules while the caller gets ready."""
    return subprocess.Popen(
        [sys.executable, "-m", "dialcli.leads.worker"], stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True,
    )


def stop_worker(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait()
    for stream in (proc.stdin, proc.stdout):
        if stream is not None and not stream.closed:
            stream.close()


def run_in_worker(spec: PrepareSpec, proc: subprocess.Popen | None = None) -> Iterator[Payload]:
    """Payloads prepared by a worker process; stops the worker when closed early."""
    proc = proc or start_worker()
    assert proc.stdin is not None and proc.stdout is not None
    try:
        try:
            pickle.dump(spec, proc.stdin, protocol=pickle.HIGHEST_PROTOCOL)
            proc.stdin.close()
        except BrokenPipeError:
            raise WorkerUnavailable(f"exit code {proc.wait()}") from None
        started = False
        while True:
            try:
                kind, value = pickle.load(proc.stdout)
            except EOFError:
                code = proc.wait()
                if not started:
                    raise WorkerUnavailable(f"exit code {code}") from None
                raise DialcliError(
                    f"The import worker stopped unexpectedly (exit code {code}); "
                    "nothing was imported.") from None
            started = True
            if kind == "payload":
                payload = unpack(value)
                yield payload
                if payload.final is not None:
                    return
            elif kind == "input":
                raise InputError(value[0], hint=value[1])
            elif kind == "fallback":
                raise ReaderFallback(value)
            else:
                raise DialcliError(f"The import failed; nothing was imported.\n{value}")
    finally:
        stop_worker(proc)


if __name__ == "__main__":
    main()
