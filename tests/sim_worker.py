"""A simulated campaign runner in its own process, for the kill/resume tests.

Usage: python tests/sim_worker.py DB SEED [--no-group-commit] -- runs (or resumes)
campaign 1 to the end on a virtual clock with the simulator journal next to DB.
Exit 0 when completed.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from dialcli.clock import SystemClock, VirtualClock  # noqa: E402
from dialcli.engine.loop import Engine  # noqa: E402
from dialcli.providers.simulator import SimulatedProvider  # noqa: E402
from dialcli.engine.runner import journal_path, simulated_start  # noqa: E402
from dialcli.store import Store  # noqa: E402
from fakes.keyword_brain import KeywordBrain  # noqa: E402


def main() -> int:
    db, seed = sys.argv[1], int(sys.argv[2])
    group_commit = "--no-group-commit" not in sys.argv
    store = Store(db)
    if store.scalar("SELECT status FROM campaigns WHERE id = 1") == "COMPLETED":
        print("completed (already)", flush=True)
        return 0
    wall = SystemClock()
    from datetime import datetime, timezone

    base = datetime(2026, 3, 3, 15, 0, tzinfo=timezone.utc)
    clock = VirtualClock(max(base, simulated_start(store, 1, base)))
    provider = SimulatedProvider(KeywordBrain(), seed=seed, journal_path=journal_path(store))
    result = Engine(store, 1, provider, clock, wall=wall, group_commit=group_commit).run()
    print(result.outcome, result.calls, result.reconciled, flush=True)
    return 0 if result.outcome == "completed" else 1


if __name__ == "__main__":
    sys.exit(main())
