"""A second silent drop is a stall as quickly as the first (found by the stall benchmark).

A round trip sent just before a server froze is answered after it thaws: it timed the silence, not
the path. Counted as a sample it made ``k × p95`` four times the freeze, so the next freeze went
unnoticed for that long. FakeClock and fake connections, as in ``test_monitor_unit``.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from conndebug.core.model import State
from conndebug.core.monitor import AttemptRequest
from tests.core.helpers import events_of, wait_until
from tests.core.test_monitor_unit import FakeLink, Script, make, settle

pytestmark = pytest.mark.timeout(10)


class FreezableLink(FakeLink):
    """Answers ``answers_left`` round trips (with their real time), then the server freezes."""

    clock: Any = None

    def __init__(self, request: AttemptRequest) -> None:
        super().__init__(request)
        self.thawed = asyncio.Event()
        self.thawed.set()
        self.answers_left = 3

    async def round_trip(self, event: str | None, timeout: float) -> float | None:
        started = self.clock.monotonic()
        await asyncio.sleep(0)
        if self.answers_left <= 0:
            self.thawed.clear()
        await self.thawed.wait()
        self.answers_left -= 1
        self.life()
        return (self.clock.monotonic() - started) * 1000.0


class FreezableScript(Script):
    async def __call__(self, request: AttemptRequest) -> FakeLink:
        self.requests.append(request)
        link = FreezableLink(request)
        self.made.append(link)
        return link


async def test_the_second_freeze_stalls_within_the_same_bound() -> None:
    script = FreezableScript(None)
    monitor, clock = make(script, stall_after=3.0)
    FreezableLink.clock = clock
    await monitor.start()
    # Three answered round trips, then the server freezes (the fourth is never answered).
    await settle(monitor, State.STALLED)
    conn = script.made[0]
    assert isinstance(conn, FreezableLink)
    assert len(events_of(monitor.bus, "rtt")) == 3
    first = events_of(monitor.bus, "stall")[0]
    assert first.bound_s == 3.0
    # It thaws after two more seconds: the pending round trip is answered (it spanned the
    # stall), and the server freezes again at once.
    clock.advance(2.0)
    conn.answers_left = 1
    conn.thawed.set()
    await wait_until(lambda: len(events_of(monitor.bus, "stall")) == 3, 5, "recovery, stall")
    spanning = events_of(monitor.bus, "rtt")[-1]
    assert spanning.ms > 3000.0  # shown: it happened
    second = [e for e in events_of(monitor.bus, "stall") if not e.recovered][1]
    assert second.bound_s == 3.0, f"the second stall waited for {second.bound_s} s of silence"
    assert second.silent_s <= 3.0 + 1.0 + 0.25
    assert max(monitor.snapshot().rtt_recent) < 3000.0  # left out of the bound's samples
    await monitor.stop()
