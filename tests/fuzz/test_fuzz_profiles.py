"""Hostile simulator profiles (``--sim-profile FILE``, TOML).

Random bytes, broken TOML and well-formed TOML with wrong types, odd numbers
(inf, nan, huge, negative), unknown keys and hostile strings: ``SimProfile.load``
raises nothing but ``InputError``; a profile it accepts plays calls without an
error; and through the CLI every case ends with exit 0, 1 or 2 and a message,
never a traceback, with no lead left DIALING.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import shutil
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as hs

from dialcli.clock import VirtualClock
from dialcli.conversation.rules import RuleBrain
from dialcli.errors import InputError
from dialcli.providers.base import DialRequest
from dialcli.providers.simulator import OUTCOMES, PERSONAS, SimProfile, SimulatedProvider
from dialcli.store import Store
import builders
from fuzzkit import GREETING, HOSTILE_VALUES, NOW, PROMPT, budget, fuzz, no_traceback
from test_live_path import ctx

_n = itertools.count()


def toml_value(v) -> str:
    """A TOML literal for ``v`` (the profile writer the stdlib does not have)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)               # JSON string escapes are valid TOML basic strings
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(v)


def to_toml(data: dict) -> str:
    lines = []
    for key, value in data.items():
        if isinstance(value, list) and value and all(isinstance(x, dict) for x in value):
            for entry in value:
                lines.append(f"[[{json.dumps(key)}]]")
                lines += [f"{json.dumps(k)} = {toml_value(v)}" for k, v in entry.items()]
        else:
            lines.append(f"{json.dumps(key)} = {toml_value(value)}")
    return "\n".join(lines) + "\n"


number = hs.one_of(hs.floats(allow_nan=True), hs.integers(-10**30, 10**30),
                   hs.sampled_from([0, 1, 0.5, -1, 1e308, 1e-308, float("inf"), 10**18]))
scalar = hs.one_of(number, hs.booleans(), hs.text(max_size=10), hs.sampled_from(HOSTILE_VALUES))
anything = hs.recursive(scalar, lambda inner: hs.lists(inner, max_size=4)
                        | hs.dictionaries(hs.text(max_size=6), inner, max_size=3), max_leaves=8)
weights = lambda names: hs.dictionaries(hs.sampled_from(names) | hs.text(max_size=6),  # noqa: E731
                                        number | scalar, max_size=len(names))
timing = hs.dictionaries(
    hs.sampled_from(["ring", "voicemail_greeting", "ring_timeout", "words_per_second",
                     "reply_delay"]) | hs.text(max_size=6),
    number | hs.lists(number, min_size=0, max_size=4) | scalar, max_size=5)
pinned = hs.fixed_dictionaries(
    {}, optional={"number": hs.sampled_from(["+14155550101", "+12125550102", "911", "x", ""])
                  | scalar,
                  "attempts": hs.lists(hs.sampled_from(list(OUTCOMES) + ["no-answer", "?"]),
                                       max_size=4) | anything,
                  "lines": hs.lists(hs.sampled_from(HOSTILE_VALUES) | hs.text(max_size=20),
                                    max_size=3) | anything,
                  "persona": hs.sampled_from(list(PERSONAS) + ["robot"]) | anything})
profiles = hs.fixed_dictionaries(
    {}, optional={"outcomes": weights(list(OUTCOMES)) | anything,
                  "personas": weights(list(PERSONAS)) | anything,
                  "timing": timing | anything, "price_per_minute": number | scalar,
                  "numbers": hs.lists(pinned, max_size=3) | anything,
                  "junk": anything})


edge = hs.one_of(hs.floats(0, 50), hs.sampled_from([0, 0.1, 1, 599, 3600, 3601, 1e9, -0.0]))
plausible = hs.fixed_dictionaries({}, optional={
    "outcomes": hs.dictionaries(hs.sampled_from(OUTCOMES), hs.floats(0, 1) | hs.just(0),
                                max_size=5),
    "personas": hs.dictionaries(hs.sampled_from(PERSONAS), hs.floats(0, 1), max_size=6),
    "timing": hs.fixed_dictionaries({}, optional={
        "ring": edge | hs.lists(edge, min_size=3, max_size=3).map(sorted),
        "voicemail_greeting": hs.lists(edge, min_size=3, max_size=3).map(sorted),
        "ring_timeout": edge, "words_per_second": hs.floats(0.05, 200),
        "reply_delay": hs.lists(edge, min_size=3, max_size=3).map(sorted)}),
    "price_per_minute": hs.floats(0, 10),
    "numbers": hs.lists(hs.fixed_dictionaries(
        {"number": hs.sampled_from(["+14155550101", "+12125550102", "(312) 555-0103"])},
        optional={"attempts": hs.lists(hs.sampled_from(OUTCOMES), max_size=4),
                  "lines": hs.lists(hs.sampled_from(HOSTILE_VALUES) | hs.text(max_size=30),
                                    max_size=4),
                  "persona": hs.sampled_from(PERSONAS)}), max_size=3),
})
profiles = hs.one_of(plausible, plausible, profiles)


def play(profile: SimProfile) -> None:
    """Place a few calls with the profile; every call must end."""
    from dialcli.providers.base import EventKind

    class Sink:
        lazy_progress = False

        def __init__(self):
            self.events = []

        def emit(self, e):
            self.events.append(e)

        def schedule(self, at, e):
            self.events.append(e)

    sink = Sink()
    provider = SimulatedProvider(RuleBrain(), seed=3, profile=profile)
    provider.bind(sink, VirtualClock(NOW))
    for i, to in enumerate(["+14155550101", "+12125550102", "+13125550103"], 1):
        provider.place(DialRequest(i, to, "+14155550100", ctx(i, to), f"k{i}",
                                   ring_timeout_s=20))
    ended = [e for e in sink.events if e.kind == EventKind.ENDED]
    assert len(ended) == 3
    for e in ended:
        assert e.duration_s is None or 0 <= e.duration_s < 10**7
        assert e.price is None or (math.isfinite(e.price) and e.price >= 0)
        assert e.at - NOW < timedelta(days=3650)


def load_or_refuse(tmp_path, text: bytes) -> SimProfile | None:
    path = tmp_path / f"p{next(_n)}.toml"
    path.write_bytes(text)
    try:
        return SimProfile.load(path)
    except InputError as exc:
        assert str(exc).strip()
        return None


@pytest.mark.parametrize("examples", budget(300, 5000))
def test_structured_profiles_load_or_refuse_and_accepted_ones_play(tmp_path, examples):
    @fuzz(examples)
    @given(profiles)
    def run(data):
        profile = load_or_refuse(tmp_path, to_toml(data).encode())
        if profile is not None:
            play(profile)

    run()


@pytest.mark.parametrize("examples", budget(200, 3000))
def test_broken_toml_is_an_input_error(tmp_path, examples):
    fragments = hs.sampled_from(["[outcomes]", "[[numbers]]", "human = ", "0.5", "= =", "[",
                                 "]", '"', "'''", "\n", "inf", "nan", "number = '+1415'",
                                 "timing.ring = [1, 2]", "\x00", "\ufeff", "[outcomes.x]",
                                 "a.b.c = 1", "1979-05-27T07:32:00Z", "{", "}", ",", "\\u0000"])

    @fuzz(examples)
    @given(hs.one_of(hs.binary(max_size=200),
                     hs.lists(fragments, max_size=12).map(lambda f: "".join(f).encode()),
                     hs.text(max_size=80).map(lambda t: t.encode("utf-8", "surrogatepass"))))
    def run(text):
        profile = load_or_refuse(tmp_path, text)
        if profile is not None:
            play(profile)

    run()


@pytest.mark.parametrize("case", ["missing", "folder", "unreadable"])
def test_unusable_profile_paths_are_input_errors(tmp_path, case):
    if case == "unreadable" and os.geteuid() == 0:
        pytest.skip("root reads any file")
    path = tmp_path / "p.toml"
    if case == "folder":
        path.mkdir()
    elif case == "unreadable":
        path.write_text("[outcomes]\nhuman = 1\n")
        path.chmod(0)
    try:
        with pytest.raises(InputError, match=str(path.name)):
            SimProfile.load(path)
    finally:
        if case == "unreadable":
            path.chmod(0o600)


# -- through the CLI ----------------------------------------------------------------------

@pytest.fixture
def pristine(tmp_path):
    """A workspace with three importable leads, copied fresh for each run."""
    db = tmp_path / "pristine.db"
    with builders.workspace(db) as st:
        builders.campaign(st, greeting=GREETING, prompt=PROMPT,
                          csv="name,phone1,timezone\nA,+14155550101,America/New_York\n"
                              "B,+12125550102,America/New_York\nC,+13125550103,America/New_York\n")
    return db


@pytest.mark.parametrize("examples", budget(40, 600))
def test_cli_start_with_hostile_profiles_never_shows_a_traceback(pristine, tmp_path, examples):
    from typer.testing import CliRunner

    from dialcli.cli.app import app

    runner = CliRunner()
    codes: list[int] = []

    @fuzz(examples)
    @given(hs.one_of(profiles.map(lambda d: to_toml(d).encode()), hs.binary(max_size=100)))
    def run(text):
        db = tmp_path / f"w{next(_n)}.db"
        shutil.copy(pristine, db)
        profile = tmp_path / f"cli{next(_n)}.toml"
        profile.write_bytes(text)
        r = runner.invoke(app, ["--db", str(db), "start", "--simulate", "--seed", "1",
                                "--sim-profile", str(profile)], catch_exceptions=False)
        no_traceback(r.output)
        assert r.exit_code in (0, 1, 2), (r.exit_code, r.output[-2000:])
        if r.exit_code == 2:
            assert "Error:" in r.stderr
        codes.append(r.exit_code)
        with Store(db) as st:
            assert st.scalar("SELECT COUNT(*) FROM leads WHERE status = 'DIALING'") == 0
            assert st.scalar("SELECT COUNT(*) FROM calls WHERE disposition IS NULL") == 0

    run()
    assert 0 in codes and 2 in codes, codes      # both accepted and refused profiles ran


@pytest.mark.parametrize("text,fragment", [
    ("price_per_minute = inf\n", "finite"), ("price_per_minute = nan\n", "finite"),
    ("[outcomes]\nhuman = inf\n", "finite"), ("[timing]\nring = [1, 2, nan]\n", "finite"),
    ("[timing]\nring = 1e300\n", "over 3,600 seconds"),
    ("[timing]\nwords_per_second = 0\n", "words_per_second"),
    ("[timing]\nreply_delay = [0, 1, 1e12]\n", "over 3,600 seconds"),
])
def test_numbers_no_call_can_take_are_refused_at_the_cli(pristine, tmp_path, text, fragment):
    from typer.testing import CliRunner

    from dialcli.cli.app import app

    profile = tmp_path / "p.toml"
    profile.write_text(text)
    r = CliRunner().invoke(app, ["--db", str(pristine), "start", "--simulate",
                                 "--sim-profile", str(profile)], catch_exceptions=False)
    assert r.exit_code == 2, r.output
    assert fragment in r.stderr and "Traceback" not in r.output
