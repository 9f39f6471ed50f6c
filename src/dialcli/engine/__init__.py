"""The engine: runs one campaign -- claims dials, places them, settles their outcomes.

- ``loop``      ``Engine``: the loop only (wake, drain events, dispatch, pace)
- ``claim``     claiming a dial through every gate and placing it
- ``settle``    settling a finished call, opening passes, reconciling after a crash
- ``queue``     the dial queue over the ``leads_ready`` index; ``schedule`` (pure):
                next dial, wake-ups, ``Pacer``
- ``types``     in-memory records: ``InFlight``, ``Snapshot``, ``RunResult``, the event sink
- ``runner``    wiring a run (provider, brain, clock); ``lifecycle`` pause/restart/status
- ``plan``      the dry run (a simulation of the campaign); ``demo``; ``doctor`` (pre-flight)

Above ``providers`` and ``conversation``; below ``cli``.
"""
