"""How much a command says: ``-q``, ``-v``/``-vv``, ``$DIALCLI_LOG_LEVEL`` and
``--log-file``, the same on every command.

``app.py`` adds ``options()`` to the root and to every command and group it loads
(``LazyCommands``), so a command added to the registry gets them without declaring
anything; the options write into ``SETTINGS`` (they are not passed to the command's
function) and re-apply the logging setup each time one is parsed, so
``dialcli -v start`` and ``dialcli start -v`` mean the same.

Levels:

* ``-q``: no per-lead lines and no notes; warnings and errors still print.
* default: warnings from dialcli's loggers (a relay that failed, a rejected callback).
* ``-v``: also info (a call with no callback for a while, a price check that failed).
* ``-vv``: also debug and the live path's traffic: Twilio REST requests
  (``twilio.http_client``, whose Authorization header the library never logs), every
  ConversationRelay frame in and out, and each request the callback server answers.

Every record goes through ``Redact``, which replaces any secret dialcli knows (the
Twilio token and the Basic credentials built from it, the LLM key) with ``****``, on
stderr and in the log file alike. The log file gets at least info, with times in UTC.
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from dialcli.config import scrub

LEVEL_ENV = "DIALCLI_LOG_LEVEL"

#: Loggers dialcli configures: its own, the Twilio SDK's and the callback server's
#: (uvicorn's two by name: its parent may carry uvicorn's own handlers).
LOGGERS = ("dialcli", "twilio", "uvicorn.error", "uvicorn.access")

_NAMES = {"quiet": -1, "error": -1, "warning": 0, "warn": 0, "info": 1, "debug": 2}


@dataclass
class Settings:
    """What the command line and the environment asked for."""

    verbosity: int = 0          # -1 quiet, 0 default, 1 -v, 2 -vv
    log_file: Path | None = None
    from_flags: bool = False

    @property
    def quiet(self) -> bool:
        return self.verbosity < 0


SETTINGS = Settings()
_handlers: list[logging.Handler] = []


def level_from_env(value: str | None) -> int | None:
    """``$DIALCLI_LOG_LEVEL``: quiet, warning, info, debug (or -1, 0, 1, 2)."""
    if not value or not value.strip():
        return None
    text = value.strip().lower()
    if text in _NAMES:
        return _NAMES[text]
    try:
        return max(-1, min(2, int(text)))
    except ValueError:
        from dialcli.errors import InputError

        raise InputError(f"{LEVEL_ENV}={value!r} is not a log level.",
                         hint="Use quiet, warning, info or debug.") from None


class Redact(logging.Filter):
    """Replaces every known secret in a record's message (and its exception) with ****."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.msg, record.args = scrub(message), None
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
        return True


class _UTCFormatter(logging.Formatter):
    import time as _time

    converter = _time.gmtime

    def formatTime(self, record, datefmt=None):   # noqa: N802 (logging's name)
        t = self.converter(record.created)
        return (f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T{t.tm_hour:02d}:"
                f"{t.tm_min:02d}:{t.tm_sec:02d}.{int(record.msecs):03d}Z")


def _level(verbosity: int) -> int:
    return {-1: logging.ERROR, 0: logging.WARNING, 1: logging.INFO}.get(verbosity, logging.DEBUG)


def apply(settings: Settings = SETTINGS) -> None:
    """(Re)configure the loggers for ``settings``; idempotent."""
    verbosity = settings.verbosity
    if not settings.from_flags:
        env = level_from_env(os.environ.get(LEVEL_ENV))
        if env is not None:
            verbosity = settings.verbosity = env
    _remove_handlers()
    redact = Redact()
    stderr = logging.StreamHandler(sys.stderr)
    stderr.setLevel(_level(verbosity))
    stderr.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    stderr.addFilter(redact)
    if verbosity < 2:
        # The SDK logs each REST request at info: that is -vv's traffic, not -v's.
        stderr.addFilter(lambda r: r.levelno >= logging.WARNING
                         or not r.name.startswith(("twilio", "uvicorn")))
    _handlers.append(stderr)
    lowest = _level(verbosity)
    if settings.log_file is not None:
        try:
            fh = logging.FileHandler(settings.log_file, encoding="utf-8")
        except OSError as exc:
            from dialcli.errors import InputError

            raise InputError(f"Cannot write the log file {settings.log_file}: "
                             f"{exc.strerror or exc}.",
                             hint="Pass a path in a folder you can write to.") from None
        fh.setLevel(min(_level(verbosity), logging.INFO))
        fh.setFormatter(_UTCFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        fh.addFilter(redact)
        _handlers.append(fh)
        lowest = min(lowest, fh.level)
    for name in LOGGERS:
        logger = logging.getLogger(name)
        logger.setLevel(lowest)
        for handler in _handlers:
            logger.addHandler(handler)


def traffic() -> bool:
    """-vv (or a debug log file): the live path logs its requests and frames."""
    return logging.getLogger("dialcli").isEnabledFor(logging.DEBUG)


def _set_quiet(value: bool) -> None:
    if value:
        SETTINGS.verbosity, SETTINGS.from_flags = -1, True
        apply()


def _set_verbose(value: int) -> None:
    if value:
        SETTINGS.verbosity, SETTINGS.from_flags = min(2, value), True
        apply()


def _set_log_file(value: Optional[str]) -> None:
    if value:
        SETTINGS.log_file = Path(value).expanduser()
        apply()


def options() -> list:
    """Fresh ``-q``, ``-v``/``-vv`` and ``--log-file`` options for one command, made
    by Typer itself (a throwaway command's parameters) so they parse like the rest."""
    import typer   # lazy: only a command that runs needs Typer

    holder = typer.Typer(add_completion=False)

    @holder.command()
    def _common(
        quiet: bool = typer.Option(
            False, "--quiet", "-q", expose_value=False, callback=_set_quiet,
            help="Say less: no per-lead lines or notes."),
        verbose: int = typer.Option(
            0, "--verbose", "-v", count=True, expose_value=False, callback=_set_verbose, metavar="",
            show_default=False,
            help="Say more; -vv: Twilio requests, relay frames."),
        log_file: Optional[str] = typer.Option(
            None, "--log-file", metavar="PATH", expose_value=False, callback=_set_log_file,
            help="Also write the log to PATH."),
    ) -> None:
        """Not run: only its parameters are used."""

    return list(typer.main.get_command(holder).params)


def reset() -> None:
    """Back to the defaults before a command line is parsed (a process may run
    several: tests' CliRunner); the handlers come back with ``apply``."""
    SETTINGS.verbosity, SETTINGS.log_file, SETTINGS.from_flags = 0, None, False
    _remove_handlers()


def _remove_handlers() -> None:
    for name in LOGGERS:
        logger = logging.getLogger(name)
        for handler in _handlers:
            logger.removeHandler(handler)
        logger.setLevel(logging.NOTSET)
    for handler in _handlers:
        handler.close()
    _handlers.clear()
