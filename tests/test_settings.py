import json

import pytest

from dialcli.store import settings
from dialcli.errors import ConfigError, InputError
from dialcli.store.settings import Setting, parse_int_range

NOW = "2026-03-03T15:00:00.000Z"


@pytest.fixture
def temp_setting():
    """A registered key for the duration of one test."""
    def check(store, value):
        if value == 7:
            raise InputError("7 is unlucky in this workspace.")

    spec = settings.register(Setting("test_cap", "A test cap.", parse=parse_int_range(1, 10),
                                     default=3, check=check))
    yield spec
    settings._REGISTRY.pop("test_cap", None)


def test_rate_default_when_unset(store):
    assert settings.rate_per_minute(store) == (0.014, True)
    assert settings.get(store, "rate_per_minute") == 0.014
    assert not settings.is_set(store, "rate_per_minute")


@pytest.mark.parametrize("text, stored, value", [
    ("0.014", "0.014", 0.014),
    ("$0.02", "0.02", 0.02),
    (" 1 ", "1", 1.0),
    ("0", "0", 0.0),
    ("1e-2", "0.01", 0.01),
])
def test_rate_set_canonical(store, text, stored, value):
    assert settings.set_value(store, "rate_per_minute", text, now_iso=NOW) == stored
    assert store.get_setting("rate_per_minute") == stored
    assert settings.rate_per_minute(store) == (value, False)


@pytest.mark.parametrize("text, fragment", [
    ("-0.01", "below the minimum"),
    ("abc", "not a number"),
    ("nan", "not a finite number"),
    ("inf", "not a finite number"),
    ("1000", "above the maximum"),
    ("", "not a number"),
])
def test_rate_rejects_bad_values_and_keeps_old(store, text, fragment):
    settings.set_value(store, "rate_per_minute", "0.02", now_iso=NOW)
    with pytest.raises(InputError) as exc:
        settings.set_value(store, "rate_per_minute", text, now_iso=NOW)
    assert fragment in str(exc.value)
    assert store.get_setting("rate_per_minute") == "0.02"


def test_unknown_key_suggests_close_match(store):
    with pytest.raises(InputError) as exc:
        settings.set_value(store, "rate_per_minut", "1", now_iso=NOW)
    assert "Unknown setting 'rate_per_minut'" in exc.value.message
    assert "Did you mean 'rate_per_minute'" in exc.value.hint
    assert store.scalar("SELECT COUNT(*) FROM settings") == 0


def test_key_normalised(store):
    settings.set_value(store, "Rate-Per-Minute", "0.03", now_iso=NOW)
    assert store.get_setting("rate_per_minute") == "0.03"


def test_registered_setting_parse_and_check(store, temp_setting):
    assert settings.get(store, "test_cap") == 3
    assert settings.set_value(store, "test_cap", "5", now_iso=NOW) == "5"
    assert settings.get(store, "test_cap") == 5
    with pytest.raises(InputError, match="unlucky"):
        settings.set_value(store, "test_cap", "7", now_iso=NOW)
    with pytest.raises(InputError, match="above the maximum of 10"):
        settings.set_value(store, "test_cap", "11", now_iso=NOW)
    assert settings.get(store, "test_cap") == 5
    assert [s.key for s in settings.known()] == sorted(s.key for s in settings.known())


def test_register_rejects_bad_key():
    with pytest.raises(ValueError):
        settings.register(Setting("Bad-Key", "x", parse=str))


def test_corrupt_stored_value_is_a_config_error(store):
    store.set_setting("rate_per_minute", "lots", NOW)
    with pytest.raises(ConfigError) as exc:
        settings.rate_per_minute(store)
    assert "dialcli config set rate_per_minute" in exc.value.hint


def test_list_includes_unknown_stored_keys(store):
    store.set_setting("legacy_key", "x", NOW)
    rows = {r.key: r for r in settings.list_all(store)}
    assert rows["rate_per_minute"].value is None
    assert rows["rate_per_minute"].effective == "0.014"
    assert rows["legacy_key"].known is False
    assert settings.unset(store, "legacy_key") is True
    assert store.get_setting("legacy_key") is None


def test_unset(store):
    settings.set_value(store, "rate_per_minute", "0.02", now_iso=NOW)
    assert settings.unset(store, "rate_per_minute") is True
    assert settings.unset(store, "rate_per_minute") is False
    with pytest.raises(InputError):
        settings.unset(store, "no_such_key")


# -- CLI -------------------------------------------------------------------------------

def test_cli_set_get_unset(cli, store):
    result = cli("config", "set", "rate_per_minute", "0.02")
    assert result.exit_code == 0, result.output
    assert "rate_per_minute = 0.02" in result.output
    result = cli("config", "get", "rate_per_minute")
    assert result.exit_code == 0
    assert result.stdout.strip() == "0.02"
    result = cli("config", "get", "rate_per_minute", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {"key": "rate_per_minute", "value": "0.02",
                                         "default": "0.014", "effective": "0.02"}
    result = cli("config", "unset", "rate_per_minute")
    assert result.exit_code == 0
    result = cli("config", "get", "rate_per_minute")
    assert result.exit_code == 0
    assert result.stdout.strip() == "0.014"
    assert "default" in result.stderr


def test_cli_negative_value_is_validated_not_parsed_as_option(cli, store):
    result = cli("config", "set", "rate_per_minute", "-1")
    assert result.exit_code == 2
    assert "below the minimum of 0" in result.stderr


def test_cli_unknown_key(cli, store):
    result = cli("config", "set", "colour", "blue")
    assert result.exit_code == 2
    assert "Unknown setting 'colour'" in result.stderr
    assert "rate_per_minute" in result.stderr


def test_cli_list(cli, store):
    result = cli("config", "list")
    assert result.exit_code == 0
    assert "rate_per_minute" in result.stdout
    assert "0.014 (default)" in result.stdout
    result = cli("config", "list", "--json")
    assert result.exit_code == 0
    data = {r["key"]: r for r in json.loads(result.stdout)}
    assert data["rate_per_minute"]["effective"] == "0.014"
    assert data["rate_per_minute"]["value"] is None
