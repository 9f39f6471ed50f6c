"""Resource bounds, quick versions (the long soaks are ``bench/soak.py``).

- **Memory does not grow with calls**: a real ``dialcli start --simulate`` runner
  (a subprocess) dials a 9,000-lead campaign; its resident memory is sampled as the
  call log grows, and the growth between 5,000 and 20,000 calls must stay under a
  few MB (a leak of a few hundred bytes per call would show).
- **No file-descriptor leak on the live path**: a runner process against the fake
  Twilio (callback server, relay WebSockets, REST client, price watcher, webhook
  delivery) places a few hundred calls; its open descriptors once the calls are over
  (and idle keep-alive connections have timed out) equal those it had before the
  first dial.
"""

from __future__ import annotations

import random
import subprocess
import sys
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).parent / "chaos"))

import builders  # noqa: E402
from chaos_common import (  # noqa: E402
    SECRET, child_env, free_port, write_leads,
)
from chaos_receiver import ChaosReceiver  # noqa: E402
from dialcli.store import Store  # noqa: E402
from fakes.fake_twilio import FakeTwilio, Scenario, say  # noqa: E402

MB = 2 ** 20


def _calls(db: Path) -> int:
    with Store(db, migrate=False) as st:
        return st.scalar("SELECT COALESCE(MAX(id), 0) FROM calls")


def test_runner_memory_does_not_grow_with_calls(tmp_path):
    db = tmp_path / "mem.db"
    write_leads(tmp_path / "leads.csv", 9000, random.Random(3), max_phones=3)
    with builders.workspace(db) as st:
        builders.campaign(st, "Chaos", csv=tmp_path / "leads.csv", max_attempts=3,
                          max_concurrent=20, cps=20)
    proc = subprocess.Popen(
        [sys.executable, "-m", "dialcli", "--db", str(db), "start", "Chaos", "--simulate",
         "--seed", "3"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env=child_env(tmp_path), cwd=str(tmp_path))
    ps = psutil.Process(proc.pid)
    samples: dict[int, int] = {}
    try:
        while proc.poll() is None and len(samples) < 2:
            n = _calls(db)
            for mark in (5000, 20000):
                if mark not in samples and n >= mark:
                    samples[mark] = ps.memory_info().rss
            time.sleep(0.02)
    finally:
        proc.kill()
        proc.communicate()
    assert len(samples) == 2, f"the run ended before 20,000 calls: {samples}"
    growth = (samples[20000] - samples[5000]) / MB
    print(f"runner RSS at 5k calls {samples[5000] / MB:.1f} MB, at 20k {samples[20000] / MB:.1f} "
          f"MB (+{growth:.1f} MB)")
    assert growth < 5, f"RSS grew {growth:.1f} MB from 5,000 to 20,000 calls"


def test_live_runner_keeps_no_file_descriptors(tmp_path):
    calls = 300
    port = free_port()
    public = "https://fd-soak.tunnel.example"
    receiver = ChaosReceiver(SECRET)
    with FakeTwilio(tunnel={public: f"http://127.0.0.1:{port}"}) as fake:
        rng = random.Random(4)
        phones = write_leads(tmp_path / "leads.csv", calls, rng, awake=True,
                             max_phones=1)
        lines = ([say("Hello?"), say("No thanks, I'm not interested")],
                 [say("Hi"), say("Yes, I'm interested")], [say("Hello?")])
        for (number,) in phones:
            fake.script(number, Scenario(lines=list(rng.choice(lines))) if rng.random() < 0.7
                        else Scenario(answer=rng.choice(("machine", "no-answer", "busy"))))
        db = tmp_path / "fd.db"
        with builders.workspace(db) as st:
            builders.campaign(st, "Chaos", csv=tmp_path / "leads.csv", max_attempts=1,
                              max_concurrent=20, cps=50, voicemail="message")
            builders.subscribe(st, receiver.url, secret=SECRET)
        env = child_env(tmp_path, TWILIO_ACCOUNT_SID=fake.account_sid,
                        TWILIO_AUTH_TOKEN=fake.auth_token, TWILIO_API_BASE=fake.base_url)
        worker = Path(__file__).parent / "chaos" / "chaos_live_worker.py"
        done = subprocess.run([sys.executable, str(worker), str(db), "Chaos", public, str(port),
                               "--fds"], capture_output=True, text=True, env=env,
                              cwd=str(tmp_path), timeout=180)
    receiver.close()
    assert done.returncode == 0, done.stderr[-2000:]
    assert len(fake.calls) == calls
    before, after = (int(x) for x in done.stdout.split("fds ")[1].split()[:2])
    print(f"runner fds before the run {before}, after {calls} calls {after}")
    assert after == before, f"{after - before} descriptor(s) left open after {calls} calls:\n" + "\n".join(l for l in done.stderr.splitlines() if l.startswith("fd "))
