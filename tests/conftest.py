"""Fixtures that isolate all state: a temp workspace, a fixed clock, no real env."""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from typer.testing import CliRunner

from dialcli.clock import VirtualClock
from dialcli.store import Store

T0 = datetime(2026, 3, 3, 15, 0, tzinfo=timezone.utc)  # a Tuesday, 10:00 in New York

# The suite runs on every core at once (xdist): a property test whose inputs are slow
# to draw on a busy machine is not a failing property. Timing is never what they test.
settings.register_profile("suite", suppress_health_check=[HealthCheck.too_slow], deadline=None)
settings.load_profile("suite")

# The CLI's Rich consoles take their width from COLUMNS when first imported (under
# xdist that can be before any fixture runs): pin it for every worker.
os.environ["COLUMNS"] = "120"


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", default=False,
                     help="run slow tests (chaos long mode, soaks)")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--runslow"):
        return
    skip = pytest.mark.skip(reason="slow: pass --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def env_setup(monkeypatch, tmp_path):
    """No test reads the developer's workspace, credentials or LLM settings."""
    monkeypatch.chdir(tmp_path)
    for name in ("DIALCLI_DB", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_API_BASE",
                 "DIALCLI_PUBLIC_URL", "DIALCLI_LLM_BASE_URL", "DIALCLI_LLM_MODEL",
                 "DIALCLI_LLM_API_KEY", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DIALCLI_HOME", str(tmp_path))
    # The upward search for dialcli.db stays inside the test's folder.
    monkeypatch.setenv("DIALCLI_CEILING_DIRECTORIES", str(tmp_path.parent))
    monkeypatch.setenv("COLUMNS", "120")


@pytest.fixture
def db_path(tmp_path) -> Path:
    return tmp_path / "test.db"


@pytest.fixture
def store(db_path):
    st = Store(db_path)
    yield st
    st.close()


@pytest.fixture
def fake():
    """The local fake of Twilio's REST API (``tests/fakes/fake_twilio.py``), running."""
    from fakes.fake_twilio import FakeTwilio

    with FakeTwilio() as f:
        yield f


@pytest.fixture
def clock():
    return VirtualClock(T0)


@pytest.fixture
def cli(db_path):
    """Invoke the CLI against the test workspace: ``cli("agent", "list")``."""
    from dialcli.cli.app import app

    runner = CliRunner()

    def invoke(*args, input=None, db=True):
        argv = (["--db", str(db_path)] if db else []) + [str(a) for a in args]
        return runner.invoke(app, argv, input=input, catch_exceptions=False)

    return invoke
