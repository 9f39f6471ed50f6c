"""Files dialcli writes for the user: checked before any change, replaced atomically.

Every output path a command takes (import rejects, report and call exports, the
audit CSV, ``dnc export``, ``template -o``, downloads) goes through this module, so
the same promises hold everywhere:

- **Checked before anything changes.** ``check_target`` refuses, as an
  ``InputError`` (exit 2) naming the path and the fix, a target that is a folder, a
  device, a FIFO or a socket, a symbolic link (we never write through one: it may
  point anywhere), a read-only file, a missing or unwritable folder. A command calls
  it *before* its transaction, so an import with a bad ``--rejects`` imports nothing.
- **Temporary files beside the target.** ``AtomicFile`` writes a hidden
  ``.NAME.PID.dialcli-tmp`` in the target's folder (same file system, so the final
  ``os.replace`` is atomic; created ``0o600`` then given the user's umask mode, since
  a rejects file holds names and phone numbers) and removes it on every exit path but
  SIGKILL. What a SIGKILL leaves behind, the next write to the same folder removes
  (``sweep``): a temp file whose pid is no longer alive on this host.
- **Faults are messages.** A full disk, a quota or a permission change between the
  check and the write becomes an ``InputError``/``DialcliError`` naming the file,
  never a traceback.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import IO, Iterator

from dialcli.errors import DialcliError, InputError

SUFFIX = ".dialcli-tmp"


class OutputError(DialcliError):
    """Writing an output file failed part-way (disk full, quota, I/O): nothing was replaced."""


def check_target(path: str | os.PathLike[str], *, what: str = "output file",
                 option: str | None = None) -> Path:
    """The target as a ``Path`` if dialcli may create or replace it; else ``InputError``.

    Does not create anything. ``what`` names the file in messages ("rejects file"),
    ``option`` the flag that chose it ("--rejects"), for the fix.
    """
    raw = os.fspath(path)
    if not str(raw).strip():
        raise InputError(f"The {what} path is empty.", hint=_fix(option))
    target = Path(raw).expanduser()
    fix = _fix(option)
    try:
        st = os.lstat(target)
    except FileNotFoundError:
        st = None
    except NotADirectoryError:
        raise InputError(f"Cannot write the {what} {target}: part of its path is a file, "
                         "not a folder.", hint=fix) from None
    except PermissionError:
        raise InputError(f"Cannot write the {what} {target}: permission denied reading its "
                         "folder.", hint=fix) from None
    except OSError as exc:
        raise InputError(f"Cannot write the {what} {target}: {exc.strerror or exc}.",
                         hint=fix) from None
    if st is not None:
        mode = st.st_mode
        if stat.S_ISLNK(mode):
            raise InputError(f"The {what} {target} is a symbolic link; dialcli does not write "
                             "through links (it could replace any file).",
                             hint=f"Give the real path, or remove the link. {fix}")
        if stat.S_ISDIR(mode):
            raise InputError(f"The {what} {target} is a folder; give a file name, e.g. "
                             f"{target / 'out.csv'}.", hint=fix)
        if not stat.S_ISREG(mode):
            kind = ("a FIFO (named pipe)" if stat.S_ISFIFO(mode) else "a socket"
                    if stat.S_ISSOCK(mode) else "a device" if (stat.S_ISCHR(mode) or
                                                                 stat.S_ISBLK(mode))
                    else "not a regular file")
            raise InputError(f"The {what} {target} is {kind}; dialcli writes regular files "
                             "only (it would replace it).", hint=fix)
        # The mode bits, not only access(): root may write anything, but a file its
        # owner made read-only is not one dialcli should replace.
        if not mode & stat.S_IWUSR or not os.access(target, os.W_OK):
            raise InputError(f"The {what} {target} is read-only; dialcli will not replace it.",
                             hint=f"Make it writable (chmod u+w) or choose another file. {fix}")
    parent = target.parent
    try:
        pst = os.stat(parent)
    except FileNotFoundError:
        raise InputError(f"Cannot write the {what} {target}: folder {parent} does not exist.",
                         hint=f"Create it (mkdir -p {parent}) or choose another file. {fix}"
                         ) from None
    except OSError as exc:
        raise InputError(f"Cannot write the {what} {target}: folder {parent}: "
                         f"{exc.strerror or exc}.", hint=fix) from None
    if not stat.S_ISDIR(pst.st_mode):
        raise InputError(f"Cannot write the {what} {target}: {parent} is not a folder.",
                         hint=fix)
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"Cannot write the {what} {target}: folder {parent} is not writable "
                         "(permission denied).",
                         hint=f"Choose a folder you can write to. {fix}")
    return target


def _fix(option: str | None) -> str:
    return f"Pass another path with {option}." if option else "Choose another path."


def temp_path(target: Path, pid: int | None = None) -> Path:
    """The hidden temp file beside ``target`` for process ``pid`` (default: this one)."""
    return target.with_name(f".{target.name}.{pid or os.getpid()}{SUFFIX}")


def sweep(target: Path) -> int:
    """Remove temp files a killed dialcli left beside ``target`` (their pid is not
    alive); the number removed. Never raises: cleaning up is best effort."""
    removed = 0
    prefix = f".{target.name}."
    try:
        names = os.listdir(target.parent)
    except OSError:
        return 0
    for name in names:
        if not (name.startswith(prefix) and name.endswith(SUFFIX)):
            continue
        pid_text = name[len(prefix):-len(SUFFIX)]
        if not pid_text.isdigit() or _alive(int(pid_text)):
            continue
        try:
            os.unlink(target.parent / name)
            removed += 1
        except OSError:
            pass
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True          # another user's live process
    except OSError:
        return True
    return True


def _umask_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


class AtomicFile:
    """A temp file beside a checked target that replaces it on ``commit``.

    ``open`` creates the temp file exclusively (``O_EXCL | O_NOFOLLOW``); ``commit``
    flushes, fsyncs and renames it over the target; ``discard`` (or leaving the
    ``with`` block on an exception) removes it. Used directly when the content is
    written by another process (the import worker writes the rejects).
    """

    def __init__(self, target: str | os.PathLike[str], *, what: str = "output file",
                 option: str | None = None, checked: bool = False):
        self.target = Path(target) if checked else check_target(target, what=what,
                                                                 option=option)
        self.what = what
        self.option = option
        self.tmp = temp_path(self.target)
        sweep(self.target)

    def create(self) -> None:
        """Create the empty temp file (so another process can write it)."""
        _unlink(self.tmp)
        try:
            fd = os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o600)
        except OSError as exc:
            raise self.fault(exc) from None
        os.close(fd)

    def open_text(self, *, encoding: str = "utf-8", newline: str = "") -> IO[str]:
        self.create()
        try:
            return open(self.tmp, "w", encoding=encoding, newline=newline)
        except OSError as exc:
            self.discard()
            raise self.fault(exc) from None

    def commit(self) -> None:
        """Put the written temp file in place of the target (atomic rename)."""
        try:
            os.chmod(self.tmp, _umask_mode())
            fd = os.open(self.tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            # Re-checked at the last moment: the target may have become a link or
            # a folder since the check (rename never follows a link; a folder fails).
            check_target(self.target, what=self.what, option=self.option)
            os.replace(self.tmp, self.target)
        except InputError:
            self.discard()
            raise
        except OSError as exc:
            self.discard()
            raise self.fault(exc) from None

    def discard(self) -> None:
        _unlink(self.tmp)

    def fault(self, exc: OSError) -> DialcliError:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
            return OutputError(f"Cannot write the {self.what} {self.target}: the disk is full "
                               f"({exc.strerror}); nothing was replaced.",
                               hint="Free some space, or write to another disk.")
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            return InputError(f"Cannot write the {self.what} {self.target}: "
                              f"{exc.strerror}.", hint=_fix(self.option))
        return OutputError(f"Cannot write the {self.what} {self.target}: "
                           f"{exc.strerror or exc}; nothing was replaced.",
                           hint=_fix(self.option))

    def __enter__(self) -> "AtomicFile":
        return self

    def __exit__(self, *exc: object) -> None:
        self.discard()        # after commit the temp file is gone: a no-op


_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def write_text_atomically(target: AtomicFile, *, encoding: str = "utf-8",
                          newline: str = "") -> "_TextWriter":
    """``with write_text_atomically(AtomicFile(p)) as fh: ...``: committed if the block
    finishes, removed if it raises (any exception, Ctrl-C included)."""
    return _TextWriter(target, encoding, newline)


class _TextWriter:
    def __init__(self, target: AtomicFile, encoding: str, newline: str):
        self.target = target
        self.encoding = encoding
        self.newline = newline
        self.fh: IO[str] | None = None

    def __enter__(self) -> IO[str]:
        self.fh = self.target.open_text(encoding=self.encoding, newline=self.newline)
        return self.fh

    def __exit__(self, exc_type, exc, tb) -> bool:
        assert self.fh is not None
        try:
            try:
                self.fh.close()
            except OSError as close_exc:
                if exc_type is None:
                    raise self.target.fault(close_exc) from None
            if exc_type is None:
                self.target.commit()
        finally:
            self.target.discard()
        if isinstance(exc, OSError) and exc.errno is not None:
            raise self.target.fault(exc) from None
        return False


def _unlink(path: Path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


__all__ = ["OutputError", "check_target", "temp_path", "sweep", "AtomicFile",
           "write_text_atomically", "SUFFIX"]


def iter_leftovers(folder: Path) -> Iterator[Path]:
    """Every dialcli temp file in ``folder`` (for tests and doctor)."""
    try:
        for name in os.listdir(folder):
            if name.startswith(".") and name.endswith(SUFFIX):
                yield folder / name
    except OSError:
        return
