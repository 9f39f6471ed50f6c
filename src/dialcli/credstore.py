"""Where ``dialcli auth login`` keeps credentials: the OS keyring, or a 0600 file.

The Twilio Account SID and auth token and the LLM API key are stored with the
``keyring`` library (macOS Keychain, Windows Credential Locker, the Secret Service
on a Linux desktop), under the service name ``dialcli``. Where no keyring backend
exists, as on a headless Linux box, they go to ``credentials.json`` in the user's
config folder (``platformdirs``; ``$DIALCLI_HOME`` instead when set), created
readable by its owner only (0600), as gh does with ``hosts.yml``; ``where()`` says
which, so the command can tell the user.

``config.py`` asks ``stored(name)`` only when the environment variable is unset
(environment variables always win), and reads the store once per process. Both
``keyring`` and ``platformdirs`` are imported on first use: commands that never need
a credential never load them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from dialcli.errors import InputError

SERVICE = "dialcli"
#: What can be stored, by the environment variable that overrides it.
NAMES = ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "DIALCLI_LLM_API_KEY")
#: The ones that are secret (the Account SID is an identifier, shown in URLs).
SECRET_NAMES = ("TWILIO_AUTH_TOKEN", "DIALCLI_LLM_API_KEY")
HOME_ENV = "DIALCLI_HOME"
FILE_NAME = "credentials.json"

_cache: dict[str, tuple[str, str]] | None = None     # name -> (value, where)


def config_dir() -> Path:
    """dialcli's per-user config folder: $DIALCLI_HOME, else the platform's
    (~/.config/dialcli on Linux, ~/Library/Application Support/dialcli on macOS)."""
    home = os.environ.get(HOME_ENV, "").strip()
    if home:
        return Path(home).expanduser()
    import platformdirs   # lazy: only credential commands need it

    return Path(platformdirs.user_config_dir("dialcli", appauthor=False))


def file_path() -> Path:
    return config_dir() / FILE_NAME


def _keyring():
    """The keyring backend, or None where there is none worth the name."""
    try:
        import keyring   # lazy: importing it discovers backends (tens of ms)
    except ImportError:
        return None
    try:
        backend = keyring.get_keyring()
    except Exception:      # a broken keyring configuration: fall back, like gh
        return None
    return backend if getattr(backend, "priority", 0) > 0 else None


def backend_name() -> str | None:
    """The keyring backend's name (``Keyring`` of ``keyring.backends.macOS``), or None."""
    backend = _keyring()
    if backend is None:
        return None
    return f"{type(backend).__module__.rsplit('.', 1)[-1]} {type(backend).__name__}"


def _read_file() -> dict[str, str]:
    path = file_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise InputError(f"Cannot read stored credentials in {path}: {exc}.",
                         hint="Fix or delete the file, then run: dialcli auth login") from None
    return {k: v for k, v in data.items() if k in NAMES and isinstance(v, str) and v}


def _write_file(values: dict[str, str]) -> None:
    path = file_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(values, fh, indent=2)
    os.chmod(tmp, 0o600)          # an existing tmp file keeps its mode under O_CREAT
    os.replace(tmp, path)


def load() -> dict[str, tuple[str, str]]:
    """Every stored credential: name -> (value, where it is kept). Read once."""
    global _cache
    if _cache is None:
        found: dict[str, tuple[str, str]] = {}
        backend = _keyring()
        if backend is not None:
            where = f"keyring ({backend_name()})"
            for name in NAMES:
                try:
                    value = backend.get_password(SERVICE, name)
                except Exception:
                    value = None      # locked or unreachable keyring: as if not stored
                if value:
                    found[name] = (value, where)
        for name, value in _read_file().items():
            found.setdefault(name, (value, f"file {file_path()}"))
        _cache = found
    return _cache


def stored(name: str) -> str | None:
    """The stored value of ``name`` (one of ``NAMES``), or None."""
    item = load().get(name)
    return item[0] if item else None


def loaded_values() -> list[str]:
    """The stored secrets this process has read (none when it never needed one: a
    secret it never sent cannot be echoed back to it), for scrubbing output."""
    return [value for name, (value, _) in (_cache or {}).items() if name in SECRET_NAMES]


def save(values: dict[str, str]) -> str:
    """Store ``values`` (name -> value); where they went. The keyring when there is
    one; otherwise, or if the keyring refuses, the 0600 file."""
    global _cache
    bad = set(values) - set(NAMES)
    assert not bad, bad
    backend = _keyring()
    where = None
    if backend is not None:
        try:
            for name, value in values.items():
                backend.set_password(SERVICE, name, value)
            where = f"keyring ({backend_name()})"
        except Exception:
            where = None          # e.g. no D-Bus session: the file, as with no keyring
    if where is None:
        current = _read_file()
        current.update(values)
        _write_file(current)
        where = f"file {file_path()} (no keyring available; readable by you only)"
    _cache = None
    return where


def delete(names: tuple[str, ...] = NAMES) -> list[str]:
    """Remove ``names`` from the keyring and the file; what was removed, and from where."""
    global _cache
    removed: list[str] = []
    backend = _keyring()
    if backend is not None:
        for name in names:
            try:
                if backend.get_password(SERVICE, name):
                    backend.delete_password(SERVICE, name)
                    removed.append(f"{name} from the keyring")
            except Exception:
                pass
    current = _read_file()
    left = {k: v for k, v in current.items() if k not in names}
    if left != current:
        removed += [f"{name} from {file_path()}" for name in names if name in current]
        if left:
            _write_file(left)
        else:
            file_path().unlink(missing_ok=True)
    _cache = None
    return removed


def forget() -> None:
    """Drop what was read (tests; a login in the same process)."""
    global _cache
    _cache = None
