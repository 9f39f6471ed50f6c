"""How long ``dialcli --version`` and ``dialcli --help`` take, and which imports cost it.

Each command runs N times in a fresh ``python -m dialcli`` process; the median wall
time is printed next to the 0.15 s anchor, with the interpreter alone, ``import typer``
and (for ``--help``) Typer's rich help module measured the same way: the floors no CLI
built on Typer's rich help can go below. On a busy machine all of them rise together,
so the load average is printed too, and the CPU time, which rises less. Then
``python -X importtime`` lists the ten imports with the largest cumulative time for
each command.

Usage: ``python bench/cli_startup.py [-n N]``
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ANCHOR_S = 0.15
ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "COLUMNS": "100"}


def run_times(argv: list[str], n: int) -> tuple[list[float], list[float]]:
    """Wall and CPU (user + system) seconds of ``n`` runs of ``argv``."""
    wall, cpu = [], []
    for _ in range(n):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run(argv, env=ENV, cwd=ROOT, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=True)
        wall.append(time.perf_counter() - t0)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return wall, cpu


def top_imports(args: list[str], k: int = 10) -> list[tuple[int, int, str]]:
    """(cumulative us, self us, module) of the ``k`` slowest imports, by cumulative time."""
    run = subprocess.run([sys.executable, "-X", "importtime", "-m", "dialcli", *args], env=ENV,
                         cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                         check=True)
    rows = []
    for line in run.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        own, cumulative, name = (part.strip() for part in line[len("import time:"):].split("|"))
        rows.append((int(cumulative), int(own), name))
    return sorted(rows, reverse=True)[:k]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=15, help="runs per command (default 15)")
    n = parser.parse_args().n
    py = [sys.executable]
    cases = [("python -c pass", py + ["-c", "pass"], None),
             ("python -c 'import typer'", py + ["-c", "import typer"], None),
             # What Typer's rich help loads before it prints a line (rich, markdown-it).
             ("python -c 'import typer.rich_utils'", py + ["-c", "import typer.rich_utils"],
              None),
             ("dialcli --version", py + ["-m", "dialcli", "--version"], ANCHOR_S),
             ("dialcli --help", py + ["-m", "dialcli", "--help"], ANCHOR_S)]
    print(f"{n} fresh processes each: median wall time [min], median CPU time; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    for label, argv, anchor in cases:
        wall, cpu = run_times(argv, n)
        median = statistics.median(wall)
        verdict = "" if anchor is None else (
            f"   anchor {anchor:.2f} s: {'ok' if median <= anchor else 'OVER'}")
        print(f"  {label:<36} {median:6.3f} s [{min(wall):.3f}]  cpu {statistics.median(cpu):.3f} s"
              f"{verdict}")
    for args in (["--version"], ["--help"]):
        print(f"\ntop 10 imports of dialcli {' '.join(args)} by cumulative time "
              "(python -X importtime)")
        for cumulative, own, name in top_imports(args):
            print(f"  {cumulative / 1000:7.1f} ms  (self {own / 1000:5.1f} ms)  {name}")


if __name__ == "__main__":
    main()
