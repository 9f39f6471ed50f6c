"""A live-path campaign runner in its own process, for the live chaos runs.

Usage: python chaos_live_worker.py DB CAMPAIGN PUBLIC_URL PORT [--fds]
(credentials and TWILIO_API_BASE from the environment, as ``dialcli start`` reads them).
With ``--fds`` it prints its open file descriptors before building anything and after
the run (provider closed, webhook thread done) as ``fds BEFORE AFTER``, and lists the
sockets still open on stderr (what a failing descriptor test wants to see).

It is ``dialcli start CAMPAIGN --public-url URL --port PORT`` -- the same provider,
callback server, rule brain, engine and webhook delivery thread (``runner``) -- with
the waiting times shortened so a test can afford them: the engine polls calls whose
callbacks went quiet after 1 s instead of 30 s, retries a refused create after 0.2 s,
and Twilio REST requests time out after 2 s. Exit 0 when the campaign completed;
3 on a provider error (what ``dialcli start`` does); SIGKILL at any moment.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import timedelta

from dialcli.clock import SystemClock
from dialcli.config import TwilioCredentials
from dialcli.engine.loop import Engine
from dialcli.engine.types import Timing
from dialcli.errors import DialcliError
from dialcli.providers.twilio.provider import TwilioProvider
from dialcli.engine.runner import make_brain, start_thread
from dialcli.store import Store


def _fds() -> int:
    import os

    return len(os.listdir("/proc/self/fd"))


def main() -> int:
    db, campaign, public_url, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    if "--fds" in sys.argv:
        # uvloop (libuv) keeps two descriptors for the whole process once its first loop
        # has run; made here, they are not counted as the run's.
        from dialcli.providers.twilio.server_thread import new_event_loop

        loop = new_event_loop()
        loop.run_until_complete(asyncio.sleep(0))
        loop.close()
    fds_before = _fds() if "--fds" in sys.argv else None
    store = Store(db)
    cid = store.scalar("SELECT id FROM campaigns WHERE name = ?", (campaign,))
    try:
        provider = TwilioProvider(TwilioCredentials.from_env(), public_url=public_url, port=port,
                                  brain=make_brain(), store_path=store.path, http_timeout=2.0,
                                  quiet_s=1.0, poll_every_s=0.5, finish_grace_s=1.0,
                                  freeze_gc=False, price_backoff=(0.3, 0.6, 1.2))
        engine = Engine(store, cid, provider, SystemClock(), wall=SystemClock(),
                        timing=Timing(poll_every=timedelta(seconds=0.5),
                                      retry_backoff=timedelta(seconds=0.2),
                                      conversation_grace=timedelta(seconds=1)))
        handle = start_thread(engine, webhooks=True)
        handle.thread.join()
        if handle.error is not None:
            raise handle.error
    except DialcliError as exc:
        print(f"Error: {exc}", file=sys.stderr, flush=True)
        return int(exc.exit_code)
    result = handle.result
    if fds_before is not None:
        store.close()
        print(f"fds {fds_before} {_fds()}", flush=True)
        import psutil

        for c in psutil.Process().net_connections(kind="all"):
            print(f"fd {c.fd} -> {c.laddr} {c.raddr} {c.status}", file=sys.stderr)
    print(result.outcome, result.calls, result.reconciled, flush=True)
    print(result.outcome, file=sys.stderr, flush=True)
    return 0 if result.outcome == "completed" else 1


if __name__ == "__main__":
    sys.exit(main())
