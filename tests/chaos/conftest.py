"""Chaos runs: one test item per run (so xdist spreads them), figures in the summary.

``chaos_run`` is parametrized with the run numbers: 1 run in quick mode, N in the
long mode (``--runslow``: 10, or ``DIALCLI_CHAOS_RUNS=N``). Each test attaches its
figures to its report; ``pytest_terminal_summary`` prints them with a total per path,
also when the runs happened in xdist workers (user properties travel with reports).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from chaos_common import runs  # noqa: E402

_FIGURES: list[dict] = []


def pytest_generate_tests(metafunc):
    if "chaos_run" in metafunc.fixturenames:
        quick, long = getattr(metafunc.function, "chaos_runs", (1, 10))
        metafunc.parametrize("chaos_run", range(runs(metafunc.config, quick, long)))


def pytest_runtest_logreport(report):
    if report.when != "call":
        return
    for key, value in report.user_properties:
        if key == "chaos_figures" and isinstance(value, dict):
            _FIGURES.append(value)


def pytest_terminal_summary(terminalreporter):
    if not _FIGURES:
        return
    terminalreporter.section("chaos figures")
    totals: dict[str, dict] = {}
    for fig in sorted(_FIGURES, key=lambda f: (f["mode"], f.get("seed", 0))):
        terminalreporter.write_line(fig["line"])
        t = totals.setdefault(fig["mode"], {"runs": 0, "kills": 0, "faults": {}, "calls": 0,
                                            "events": 0, "violations": 0})
        for k in ("runs", "kills", "calls", "events", "violations"):
            t[k] += fig[k]
        for k, v in fig["faults"].items():
            t["faults"][k] = t["faults"].get(k, 0) + v
    if len(_FIGURES) > len(totals):
        for mode, t in sorted(totals.items()):
            faults = ", ".join(f"{k} {v}" for k, v in sorted(t["faults"].items()))
            terminalreporter.write_line(
                f"TOTAL {mode}: runs {t['runs']}, kills {t['kills']}, faults injected "
                f"{sum(t['faults'].values())} ({faults}), calls {t['calls']}, webhook events "
                f"{t['events']}, violations {t['violations']}")
