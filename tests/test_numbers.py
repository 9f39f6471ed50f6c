"""From-numbers: parsing what users type, the in-use guard, the ``numbers`` commands."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dialcli.workspace import agents

from dialcli.workspace import campaigns

from dialcli.workspace import numbers
from dialcli.errors import ConflictError, InputError, NotFoundError

T0 = datetime(2026, 3, 3, 15, 0, tzinfo=timezone.utc)


def said(text: str, fragment: str) -> bool:
    """``fragment`` appears in ``text`` however Rich wrapped the lines (stderr is
    hard-wrapped at the console width, which depends on the terminal)."""
    return "".join(fragment.split()) in "".join(text.split())


@pytest.mark.parametrize("typed", [
    "+14155550100", "+1 415 555 0100", "(415) 555-0100", "415.555.0100", "4155550100",
    "1-415-555-0100", " +1 (415) 555-0100 ",
])
def test_us_formats_store_e164(store, typed):
    n = numbers.add_number(store, typed, label=" Sales ", now=T0)
    assert n.e164 == "+14155550100"
    assert n.label == "Sales"
    assert n.voice_capable is None and n.provider_sid is None
    assert n.added_at == "2026-03-03T15:00:00.000Z"


@pytest.mark.parametrize("typed, e164", [
    ("+44 20 7946 0958", "+442079460958"),
    ("011 44 20 7946 0958", "+442079460958"),
    ("+1 800 555 0199", "+18005550199"),        # toll-free numbers can call out
    ("+1 604 555 0100", "+16045550100"),        # Canada
])
def test_international_and_toll_free(store, typed, e164):
    assert numbers.add_number(store, typed, now=T0).e164 == e164


@pytest.mark.parametrize("typed, match", [
    ("020 7946 0958", "Without a country code only US/Canada"),   # UK number without +44
    ("555-0100", "Without a country code"),
    ("+1 900 555 0100", "premium-rate"),
    ("+1 415 555 0100 ext 12", "extension"),
    ("+1 123 555 0100", "not usable"),                             # no area code 123
    ("", "empty"),
    ("call me", "not usable"),
])
def test_unusable_input_refused(store, typed, match):
    with pytest.raises(InputError) as exc:
        numbers.add_number(store, typed, now=T0)
    assert match in str(exc.value)
    assert store.scalar("SELECT COUNT(*) FROM numbers") == 0


@settings(max_examples=60, deadline=None)
@given(npa=st.sampled_from(["212", "415", "617", "305", "312", "206"]),
       line=st.integers(min_value=0, max_value=9999),
       style=st.sampled_from(["+1{n}", "({a}) {x}-{l}", "{a}.{x}.{l}", "1 {a} {x} {l}", "{n}"]))
def test_any_nanp_formatting_parses_to_the_same_e164(npa, line, style):
    national = f"{npa}555{line:04d}"
    typed = style.format(n=national, a=npa, x="555", l=f"{line:04d}")
    assert numbers.parse_number(typed) == f"+1{national}"


def test_duplicate_refused_in_any_format(store):
    numbers.add_number(store, "+14155550100", now=T0)
    with pytest.raises(InputError, match=r"\+14155550100 is already in this workspace"):
        numbers.add_number(store, "(415) 555-0100", now=T0)


def test_bad_label_refused(store):
    with pytest.raises(InputError, match="limit is 80"):
        numbers.add_number(store, "+14155550100", label="x" * 81, now=T0)
    with pytest.raises(InputError, match="line breaks"):
        numbers.add_number(store, "+14155550100", label="a\nb", now=T0)
    assert numbers.list_numbers(store) == []


def test_remove_refused_while_campaigns_dial_from_it(store):
    numbers.add_number(store, "+14155550100", now=T0)
    numbers.add_number(store, "+14155550111", now=T0)
    agents.create_agent(store, name="Zara", greeting="Hi", prompt="p", now=T0)
    campaigns.create_campaign(store, name="Spring", agent="Zara", from_number="+14155550100",
                              purpose="informational", now=T0)
    with pytest.raises(ConflictError) as exc:
        numbers.remove_number(store, "415 555 0100")
    assert "campaign 'Spring' dials from it" in exc.value.message
    assert len(numbers.list_numbers(store)) == 2
    campaigns.edit_campaign(store, "Spring", from_number="+14155550111", now=T0)
    assert numbers.remove_number(store, "(415) 555-0100").e164 == "+14155550100"
    assert [n.e164 for n in numbers.list_numbers(store)] == ["+14155550111"]
    with pytest.raises(NotFoundError, match="not one of this workspace's numbers"):
        numbers.remove_number(store, "+14155550100")


def test_require_dialable_refuses_numbers_sync_marked_incapable(store):
    numbers.add_number(store, "+14155550100", now=T0)
    store.execute("UPDATE numbers SET voice_capable = 0")
    with pytest.raises(InputError, match="cannot make voice calls"):
        numbers.require_dialable(store, "+14155550100")
    store.execute("UPDATE numbers SET voice_capable = 1")
    assert numbers.require_dialable(store, "4155550100").e164 == "+14155550100"


# -- CLI --------------------------------------------------------------------------------

def test_cli_add_list_remove(cli):
    r = cli("numbers", "add", "(415) 555-0100", "--label", "Sales")
    assert r.exit_code == 0, r.output
    assert said(r.stderr, "Added +14155550100 (from '(415) 555-0100'), label 'Sales'.")
    r = cli("numbers", "add", "+442079460958")
    assert r.exit_code == 0

    r = cli("numbers", "list", "--json")
    assert r.exit_code == 0
    data = json.loads(r.stdout)
    assert [(n["e164"], n["label"], n["voice_capable"], n["campaigns"]) for n in data] == [
        ("+14155550100", "Sales", None, []), ("+442079460958", None, None, [])]

    r = cli("numbers", "list")
    assert r.exit_code == 0
    assert "+14155550100" in r.stdout and "Sales" in r.stdout and "not synced" in r.stdout

    r = cli("numbers", "remove", "+14155550100")
    assert r.exit_code == 2 and said(r.stderr, "Add --yes to confirm")
    r = cli("numbers", "remove", "+14155550100", "--yes")
    assert r.exit_code == 0 and said(r.stderr, "Removed +14155550100.")
    r = cli("numbers", "list", "--json")
    assert [n["e164"] for n in json.loads(r.stdout)] == ["+442079460958"]


def test_cli_errors(cli, store):
    r = cli("numbers", "add", "020 7946 0958")
    assert r.exit_code == 2
    assert said(r.stderr, "country code") and r.stdout == ""
    r = cli("numbers", "remove", "+14155550100")
    assert r.exit_code == 2 and said(r.stderr, "not one of this workspace's numbers")

    numbers.add_number(store, "+14155550100", now=T0)
    agents.create_agent(store, name="Zara", greeting="Hi", prompt="p", now=T0)
    campaigns.create_campaign(store, name="Spring", agent="Zara", from_number="+14155550100",
                              purpose="informational", now=T0)
    r = cli("numbers", "remove", "+14155550100")
    assert r.exit_code == 1
    assert said(r.stderr, "Can't remove +14155550100") and said(r.stderr, "'Spring'")
    r = cli("numbers", "list", "--json")
    assert json.loads(r.stdout)[0]["campaigns"] == ["Spring"]


def test_cli_list_empty(cli, store):
    r = cli("numbers", "list")
    assert r.exit_code == 0 and r.stdout == "" and said(r.stderr, "No numbers yet")
