"""Errors the core raises and the exit codes they map to.

The core never prints and never exits. It raises a ``DialcliError`` subclass whose
message tells the user what was wrong and how to fix it; ``cli.main`` is the one
place that turns these into a message on stderr and a named exit code.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    ERROR = 1
    USAGE = 2
    PROVIDER = 3
    INTERRUPTED = 130


class DialcliError(Exception):
    """Base class for errors shown to the user as a message, not a traceback."""

    exit_code: ExitCode = ExitCode.ERROR

    def __init__(self, message: str, *, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n{self.hint}"


class InputError(DialcliError):
    """The user gave a value, file or argument that cannot be used (exit 2)."""

    exit_code = ExitCode.USAGE


class NotFoundError(InputError):
    """A named agent, number, campaign or lead does not exist (exit 2)."""


class ConflictError(DialcliError):
    """The request clashes with the workspace's current state (exit 1)."""


class LeaseHeldError(ConflictError):
    """Another live runner holds the campaign (exit 1)."""


class ProviderError(DialcliError):
    """The phone provider refused or could not be reached (exit 3)."""

    exit_code = ExitCode.PROVIDER

    def __init__(self, message: str, *, hint: str | None = None, code: int | None = None,
                 status: int | None = None, retryable: bool = False):
        super().__init__(message, hint=hint)
        self.code = code
        self.status = status
        self.retryable = retryable


class ConfigError(InputError):
    """Credentials or settings are missing or invalid (exit 2)."""


class Interrupted(DialcliError):
    """The user pressed Ctrl-C; state was committed before exiting (exit 130)."""

    exit_code = ExitCode.INTERRUPTED
