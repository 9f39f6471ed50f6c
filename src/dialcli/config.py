"""Where the workspace is, and credentials.

Secrets (the Twilio auth token, the LLM key) come from the environment, or when a
variable is unset from what ``dialcli auth login`` stored (``credstore``: the OS
keyring or a 0600 file); ``credential()`` is the one resolver. They are held in
``Secret`` wrappers whose ``repr``/``str`` never show the value, and are never
written to the database, logs or reports.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from pathlib import Path

from dialcli import credstore
from dialcli.errors import ConfigError

DEFAULT_DB = "dialcli.db"
DB_ENV = "DIALCLI_DB"


#: Folders the upward search for ``dialcli.db`` does not climb into (``:``-separated),
#: as git's GIT_CEILING_DIRECTORIES.
CEILING_ENV = "DIALCLI_CEILING_DIRECTORIES"


def resolve_db_path(option: str | None) -> Path:
    """``--db`` beats ``$DIALCLI_DB`` beats ``./dialcli.db``."""
    value = option or os.environ.get(DB_ENV) or DEFAULT_DB
    return Path(value).expanduser()


@dataclass(frozen=True)
class WorkspaceLocation:
    """Where a command's workspace is, whether it exists yet, and how it was chosen
    (``option``: --db, ``env``: $DIALCLI_DB, ``found``: ./dialcli.db here or in a parent
    folder, ``default``: none found, so ./dialcli.db)."""

    path: Path
    exists: bool
    how: str

    @property
    def shown(self) -> str:
        """The path as a user would type it from here: ./dialcli.db, ../dialcli.db."""
        return display_path(self.path)


def find_workspace(option: str | None, *, cwd: Path | None = None) -> WorkspaceLocation:
    """The workspace a command means, never created here.

    ``--db`` and ``$DIALCLI_DB`` name a file exactly. Otherwise ``dialcli.db`` is looked
    for in the current folder, then each parent, as git finds ``.git``: an opt-out typed
    in a project's subfolder (``leads/``) reaches the project's workspace instead of
    vanishing into a new one. The search stops at a filesystem boundary and at the
    folders in $DIALCLI_CEILING_DIRECTORIES; every success message names the workspace
    used, so a find is never silent.
    """
    for how, value in (("option", option), ("env", _env(DB_ENV))):
        if value:
            path = Path(value).expanduser()
            return WorkspaceLocation(path, _present(path), how)
    here = Path(cwd) if cwd is not None else Path.cwd()
    ceilings = {Path(c).expanduser().resolve()
                for c in os.environ.get(CEILING_ENV, "").split(os.pathsep) if c.strip()}
    folder = here.resolve()
    try:
        device = folder.stat().st_dev
    except OSError:
        device = None
    while True:
        candidate = folder / DEFAULT_DB
        try:
            found = candidate.is_file()
        except OSError:      # a folder we may not look into: the search ends here
            break
        if found:
            path = here / DEFAULT_DB if folder == here.resolve() else candidate
            return WorkspaceLocation(path, True, "found")
        parent = folder.parent
        if parent == folder or parent in ceilings:
            break
        try:
            if device is not None and parent.stat().st_dev != device:
                break
        except OSError:
            break
        folder = parent
    return WorkspaceLocation(Path(DEFAULT_DB), False, "default")


def _present(path: Path) -> bool:
    """Whether ``path`` exists; a path we may not even look at (a folder without
    search permission) counts as present, so opening it says "permission denied"
    instead of a missing workspace being reported, or a traceback."""
    try:
        return path.exists()
    except PermissionError:
        return True


def display_path(path: str | os.PathLike[str]) -> str:
    """A path relative to the current folder when it is under it or one of its parents
    (``./dialcli.db``, ``../dialcli.db``), absolute otherwise."""
    p = Path(path)
    try:
        absolute = p.expanduser().resolve()
        rel = os.path.relpath(absolute, Path.cwd().resolve())
    except (OSError, ValueError):
        return str(p)
    if not rel.startswith(".."):
        return f".{os.sep}{rel}"
    parts = Path(rel).parts
    if len(parts) <= 4 and all(part == ".." for part in parts[:-1]):
        return rel                         # a parent folder's workspace: ../../dialcli.db
    return str(absolute)


class Secret:
    """A string that does not print itself."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('****')"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self._value)


def _env(name: str) -> str | None:
    value = os.environ.get(name)
    return value.strip() if value and value.strip() else None


def env_value(name: str) -> str | None:
    """An environment variable's value, stripped; None when unset or blank."""
    return _env(name)


def credential(name: str) -> str | None:
    """A credential (``credstore.NAMES``): the environment variable wins; otherwise
    what ``dialcli auth login`` stored."""
    return _env(name) or credstore.stored(name)


def credential_source(name: str) -> str | None:
    """Where ``credential(name)`` comes from, in words (never the value)."""
    if _env(name):
        return f"environment ({name})"
    item = credstore.load().get(name)
    return item[1] if item else None


@dataclass(frozen=True)
class TwilioCredentials:
    account_sid: str
    auth_token: Secret
    api_base: str | None = None   # TWILIO_API_BASE: a compatible server (tests)
    #: TWILIO_WEBHOOK_SHARED_KEY: the secret of a SharedKey, for an account whose Webhooks
    #: Rule makes Twilio sign callbacks with it instead of the auth token
    webhook_key: Secret | None = None

    @classmethod
    def from_env(cls) -> "TwilioCredentials":
        sid, token = credential("TWILIO_ACCOUNT_SID"), credential("TWILIO_AUTH_TOKEN")
        missing = [n for n, v in (("TWILIO_ACCOUNT_SID", sid), ("TWILIO_AUTH_TOKEN", token)) if not v]
        if missing:
            raise ConfigError(
                f"Twilio credentials are missing: set {' and '.join(missing)}.",
                hint="Find them at console.twilio.com (Account Info), then store them with\n"
                     "  dialcli auth login\n"
                     "or set them for this shell: export TWILIO_ACCOUNT_SID=AC...  "
                     "TWILIO_AUTH_TOKEN=...\n"
                     "To rehearse without Twilio, run with --simulate.",
            )
        assert sid and token
        if not sid.startswith("AC") or len(sid) != 34:
            raise ConfigError(
                "TWILIO_ACCOUNT_SID does not look like an Account SID (AC + 32 characters).",
            )
        shared = _env("TWILIO_WEBHOOK_SHARED_KEY")
        return cls(sid, Secret(token), _env("TWILIO_API_BASE"),
                   Secret(shared) if shared else None)


@dataclass(frozen=True)
class LLMSettings:
    base_url: str
    model: str
    api_key: Secret | None

    @classmethod
    def from_env(cls) -> "LLMSettings | None":
        """The configured LLM, or None when no LLM is configured (rule brain)."""
        base = _env("DIALCLI_LLM_BASE_URL")
        model = _env("DIALCLI_LLM_MODEL")
        stored_key = credential("DIALCLI_LLM_API_KEY")
        key = stored_key or _env("OPENAI_API_KEY")
        if not (base or model or stored_key):
            return None
        return cls(
            base_url=(base or "https://api.openai.com/v1").rstrip("/"),
            model=model or "gpt-4o-mini",
            api_key=Secret(key) if key else None,
        )


def path_text(path: str | os.PathLike[str]) -> str:
    """A path as text that can be stored and printed.

    Linux file names are bytes; Python keeps the ones that are not UTF-8 as lone
    surrogates, which SQLite and JSON refuse. Those bytes become U+FFFD here.
    """
    return os.fsencode(path).decode("utf-8", "replace")


def public_url(option: str | None) -> str | None:
    value = option or _env("DIALCLI_PUBLIC_URL")
    if not value:
        return None
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        parts, port = None, -1
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or (
            port is not None and not 1 <= port <= 65535):
        raise ConfigError(f"The public URL {value!r} is not an http(s) URL with a host and a "
                          "valid port (1-65535).",
                          hint="Pass your tunnel's address, e.g. --public-url "
                               "https://my-tunnel.trycloudflare.com")
    return value.strip().rstrip("/")


def secret_values() -> list[str]:
    """Every secret in the environment or read from the credential store, and the
    HTTP Basic credentials built from the Twilio token (an upstream error may echo
    the Authorization header), longest first."""
    names = ("TWILIO_AUTH_TOKEN", "DIALCLI_LLM_API_KEY", "OPENAI_API_KEY")
    # Stored secrets only once this process has read them (credstore.loaded_values):
    # scrubbing an error message must not open the keyring.
    values = [v for v in [*(_env(n) for n in names), *credstore.loaded_values()]
              if v and len(v) >= 6]
    loaded = credstore.loaded_values()
    sid = _env("TWILIO_ACCOUNT_SID") or (credstore.stored("TWILIO_ACCOUNT_SID") if loaded else None)
    token = _env("TWILIO_AUTH_TOKEN") or (credstore.stored("TWILIO_AUTH_TOKEN") if loaded else None)
    if sid and token:
        basic = base64.b64encode(f"{sid}:{token}".encode()).decode()
        values += [basic, basic.rstrip("=")]
    return sorted(values, key=len, reverse=True)


def scrub(text: str) -> str:
    """Replace any secret value in ``text`` with ****."""
    for value in secret_values():
        text = text.replace(value, "****")
    return text
