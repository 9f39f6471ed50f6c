"""The live dashboard shows the last lines of a call in progress, as they are said."""

from __future__ import annotations

from datetime import datetime, timezone

from rich.console import Console

import builders
from builders import add_leads
from dialcli.cli.ui import dashboard
from dialcli.clock import VirtualClock
from dialcli.engine.loop import Engine
from dialcli.providers.simulator import SimProfile, SimulatedProvider
from fakes.keyword_brain import KeywordBrain

T0 = datetime(2026, 3, 3, 15, 0, tzinfo=timezone.utc)   # Tue 10:00 New York
NUMBER = "+12125550100"


def test_the_dashboard_shows_a_call_in_progress_line_by_line(store):
    cid = builders.campaign(store, greeting="Hi {{NAME}}, this is Zara from Acme.")
    add_leads(store, cid, [{"name": "Alex Chen", "phones": [NUMBER]}])
    prof = SimProfile.from_dict({"numbers": [{"number": NUMBER, "attempts": ["human"],
                                              "lines": ["Who is this?", "I'm interested"]}]})
    seen: list = []
    engine: Engine

    class Watched(VirtualClock):
        watched = True      # as when the dashboard plays the run: progress events are made

        def wait(self, inbox, until):
            snap = engine.snapshot()
            if snap.live_calls:
                seen.append(snap)
            super().wait(inbox, until)

    engine = Engine(store, cid, SimulatedProvider(KeywordBrain(), seed=1, profile=prof),
                    Watched(T0))
    assert engine.run().outcome == "completed"
    assert seen, "no snapshot had a call in progress with lines"
    # The lines grow one at a time, in the order they were said.
    said = [[(line["role"], line["text"]) for line in s.live_calls[0]["lines"]] for s in seen]
    assert said[0] == [("agent", "Hi Alex Chen, this is Zara from Acme.")]
    assert any(("caller", "Who is this?") in lines for lines in said)
    assert ("caller", "I'm interested") in said[-1]
    assert all(len(b) >= len(a) or len(b) == 4 for a, b in zip(said, said[1:]))
    assert all(s.live_calls[0]["lead"] == "Alex Chen" for s in seen)
    console = Console(width=100, record=True)
    console.print(dashboard(seen[-1]))
    page = console.export_text()
    assert "Live" in page and "I'm interested" in page and "Alex Chen" in page
    # Once the call has ended it is not live any more.
    assert engine.snapshot().live_calls == []


def test_a_live_twilio_call_reports_each_line_as_it_is_said(fake):
    from dialcli.providers.base import EventKind
    from fakes.fake_twilio import Scenario, say, start_provider
    from test_live_path import dial

    provider = start_provider(fake, KeywordBrain())
    try:
        fake.script(NUMBER, Scenario(lines=[say("Who is this?"), say("I'm interested")]))
        dial(provider, 1, NUMBER)
        provider.sink.ended(1, timeout=20)
        lines = [(e.detail["role"], e.detail["text"])
                 for e in provider.sink.of(1, EventKind.LINE)]
        (conv,) = provider.sink.of(1, EventKind.CONVERSATION)
    finally:
        provider.close()
    assert lines == [(u["role"], u["text"]) for u in conv.transcript]
    assert ("caller", "Who is this?") in lines and lines[0][0] == "agent"


def test_a_line_waits_for_the_loops_next_wake_up_instead_of_waking_it(store):
    # A live call says a dozen lines or more; each used to wake the engine thread (a
    # loop turn and its transaction, on the GIL the callback server needs). They wait
    # for the next wake-up, which a watched live run makes every LINE_EVERY.
    from datetime import timedelta

    from dialcli.clock import SystemClock
    from dialcli.engine.types import LINE_EVERY, InFlight, Sink
    from dialcli.providers.base import CallEvent, EventKind

    sink = Sink()
    line = CallEvent(call_id=7, kind=EventKind.LINE, at=T0,
                     detail={"role": "caller", "text": "Who is this?", "at_s": 1.0})
    sink.emit(line)
    assert sink.inbox.empty() and list(sink.lines) == [line]
    sink.emit(CallEvent(call_id=7, kind=EventKind.RINGING, at=T0))
    assert sink.inbox.qsize() == 1          # everything else still wakes the loop

    cid = builders.campaign(store)
    add_leads(store, cid, [{"name": "Alex Chen", "phones": [NUMBER]}])
    engine = Engine(store, cid, SimulatedProvider(KeywordBrain(), seed=1), SystemClock())
    now = SystemClock().now()
    assert engine._next_wake(now) <= now + timedelta(seconds=1)
    engine.state.in_flight[7] = object.__new__(InFlight)     # a call in progress
    engine.pacer.next_at = None
    assert engine._next_wake(now) <= now + LINE_EVERY


def test_the_tally_lines_break_between_items_never_inside_one():
    from dialcli.cli.ui import disposition_line
    from dialcli.engine.types import Snapshot

    counts = {"NO_ANSWER": 25, "VOICEMAIL": 18, "INTERESTED": 7, "NOT_INTERESTED": 7,
              "CALLBACK": 6, "FAILED": 6, "WRONG_NUMBER": 4, "OPT_OUT": 3}
    snap = Snapshot(campaign="Demo", status="RUNNING", now=T0, run=1, pass_no=1, max_passes=3,
                    next_pass_at=None, calls_made=76, reached=23, interested=7, opted_out=3,
                    in_flight=0, minutes=49, cost=0.686, dispositions=counts,
                    leads_by_status={"EXHAUSTED": 9, "REACHED": 23}, recent_leads=[],
                    recent_events=[])
    for width in (40, 60, 100, 120):
        console = Console(width=width, record=True)
        console.print(disposition_line(snap))
        lines = console.export_text().splitlines()
        assert all(len(line) <= width for line in lines)
        words = " ".join(lines).split()
        for name, n in counts.items():      # every name is followed by its own count
            assert words[words.index(name) + 1] == str(n), (width, lines)
        assert not any(line.strip().isdigit() for line in lines), lines
    # A console that does not wrap (a pipe) keeps each tally on one line.
    piped = Console(width=40, record=True, soft_wrap=True)
    piped.print(disposition_line(snap))
    assert piped.export_text().splitlines()[0].endswith("OPT_OUT 3")


def _busy_snapshot(live_calls=()):
    from dialcli.engine.types import Snapshot

    leads = [{"at": T0, "lead_id": i, "name": f"Lead number {i}", "status": "RETRY",
              "disposition": "NO_ANSWER", "slot": 2, "pass": 1} for i in range(12)]
    events = [{"at": T0, "lead": f"Lead number {i}", "e164": NUMBER, "event": "ringing"}
              for i in range(12)]
    return Snapshot(campaign="Demo", status="RUNNING", now=T0, run=1, pass_no=1, max_passes=3,
                    next_pass_at=None, calls_made=76, reached=23, interested=7, opted_out=3,
                    in_flight=len(live_calls), minutes=49, cost=0.686,
                    dispositions={"NO_ANSWER": 25, "VOICEMAIL": 18, "INTERESTED": 7},
                    leads_by_status={}, recent_leads=leads, recent_events=events,
                    live_calls=list(live_calls))


def test_the_dashboard_fits_a_small_terminal_tables_giving_way_first():
    """80x24: the page (one line is kept for the pass bar below it) fits, so the status,
    the cards and the live call lines stay on screen; the tables lose rows instead."""
    from dialcli.cli.ui import EVENT_ROWS, LEAD_ROWS, dashboard, fit_rows

    call = {"lead": "Alex Chen", "e164": NUMBER,
            "lines": [{"role": "agent", "text": "Hi Alex"}, {"role": "caller", "text": "Who?"}]}
    for live in ((), (call,)):
        snap = _busy_snapshot(live)
        small = Console(width=80, height=24, record=True)
        small.print(dashboard(snap, console=small, height=23))
        lines = small.export_text().splitlines()
        assert len(lines) <= 23, "\n".join(lines)
        page = "\n".join(lines)
        assert "Demo" in page and "Calls made" in page and "NO_ANSWER 25" in page
        assert ("Who?" in page) == bool(live)
        assert "Recently changed leads" in page
        tall = Console(width=80, height=60, record=True)
        tall.print(dashboard(snap, console=tall, height=59))
        text = tall.export_text()
        assert text.count("Lead numb") == LEAD_ROWS + EVENT_ROWS, text
    # The order tables give way in: events to 2 rows, leads to 3, events gone, leads gone.
    assert fit_rows(20, 8, 6) == (8, 6)
    assert fit_rows(16, 8, 6) == (8, 2)
    assert fit_rows(11, 8, 6) == (3, 2)
    assert fit_rows(10, 8, 6) == (7, 0)
    assert fit_rows(6, 8, 6) == (3, 0)
    assert fit_rows(3, 8, 6) == (0, 0)
