"""Liveness of the connection in use: round trips every ``--rtt-interval``, and stalls.

:class:`LiveWatch` runs two small tasks per connection (see :mod:`conndebug.core.liveness` for
the rules):

- **the ticker** samples the link's signs of life every 0.25 s (at most a quarter of the stall
  bound): a read from the server since the last tick is life (a recovery if the connection was
  stalled), a new heartbeat is counted; silence longer than the bound is a stall. Sampling a
  marker costs nothing per packet, so a storm of events adds no work here;
- **the round trips**: every ``--rtt-interval`` seconds an ack of ``--rtt-event`` or a namespace
  probe; a sample that spanned a stall is shown but not counted (it timed the silence).

It reports through callbacks (the monitor owns the state): ``stalled(silent_s, bound_s)`` and
``recovered(silent_s)``. Times come from the injected clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from conndebug.config import Settings
from conndebug.core.clock import Clock
from conndebug.core.events import Rtt, Stall
from conndebug.core.liveness import Liveness, LivenessChange
from conndebug.core.monitor.link import LinkLike

__all__ = ["PASSIVE_STALL_GRACE_S", "LiveWatch"]

PASSIVE_STALL_GRACE_S = 5.0
"""Without round trips (``--rtt-interval 0``): how late the server's heartbeat may be."""


class LiveWatch:
    """Round trips and stall detection for the connection in use (one per monitor)."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock,
        emit: Callable[..., Any],
        note: Callable[..., None],
        stalled: Callable[[float, float], None],
        recovered: Callable[[], None],
    ) -> None:
        self.settings = settings
        self.clock = clock
        self._emit = emit
        self._note = note
        self._on_stalled = stalled
        self._on_recovered = recovered
        self.liveness = Liveness(stall_after=settings.stall_after)
        self.rtt_ms: float | None = None
        """The latest round trip that measured the path (not one that spanned a stall)."""
        self.misses_in_a_row = 0
        self.misses = 0
        """Round trips without an answer in time, since the start (for the report)."""
        self.link: LinkLike | None = None
        self._marks: tuple[object, int] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._ping_interval_ms: int | None = None
        self._ping_timeout_ms: int | None = None

    # -- per connection ---------------------------------------------------------------------

    def start(self, link: LinkLike) -> None:
        """Watch ``link`` (just connected)."""
        facts = link.facts
        self.link = link
        self._ping_interval_ms = facts.ping_interval_ms
        self._ping_timeout_ms = facts.ping_timeout_ms
        self.liveness.reset(self.clock.monotonic())
        self.liveness.stall_after = self.stall_after()
        self._marks = link.marks()
        self._tasks = [asyncio.create_task(self._tick(link), name="conndebug-stall")]
        if self.settings.rtt_interval > 0:
            self._tasks.append(asyncio.create_task(self._round_trips(link), name="conndebug-rtt"))

    async def stop(self) -> None:
        """Stop watching (the connection ended or is being closed)."""
        self.link = None
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=2.0)

    # -- signs of life ------------------------------------------------------------------------

    def life(self, *, ping: bool = False) -> None:
        """Something arrived now (the ticker calls this; so may a test)."""
        now = self.clock.monotonic()
        if ping:
            self.liveness.ping(now)
        since = self.liveness.stalled_since_life
        if self.liveness.life(now) is LivenessChange.RECOVERED:
            silent = now - since if since is not None else 0.0
            self._emit(
                Stall, silent_s=round(silent, 3), bound_s=self.liveness.bound, recovered=True
            )
            self._on_recovered()

    def sample(self) -> None:
        """Look at the link's signs of life now (the ticker does this every tick)."""
        if self.link is not None:
            self._sample(self.link)

    def _sample(self, link: LinkLike) -> None:
        marks = link.marks()
        previous = self._marks
        if marks == previous:
            return
        self._marks = marks
        pings = marks[1] - (previous[1] if previous is not None else 0)
        for _ in range(max(0, pings) - 1):
            self.liveness.ping(self.clock.monotonic())
        self.life(ping=pings > 0)

    async def _tick(self, link: LinkLike) -> None:
        while link is self.link:
            await self.clock.sleep(min(0.25, self.liveness.bound / 4.0))
            if link is not self.link:
                return
            self._sample(link)
            now = self.clock.monotonic()
            if self.liveness.check(now) is LivenessChange.STALLED:
                silent = self.liveness.silence(now)
                bound = self.liveness.bound
                self._emit(Stall, silent_s=round(silent, 3), bound_s=round(bound, 3))
                self._on_stalled(silent, bound)

    # -- round trips ------------------------------------------------------------------------

    async def _round_trips(self, link: LinkLike) -> None:
        event = self.settings.rtt_event
        method = event or "namespace-probe"
        while link is self.link:
            timeout = max(2.0, 2.0 * self.liveness.bound)
            stalls = self.liveness.stalls
            ms = await link.round_trip(event, timeout)
            if link is not self.link:
                return
            if ms is not None:
                self._sample(link)  # the answer is a sign of life, seen now
                self.misses_in_a_row = 0
                if self.liveness.rtt(ms, stalls_at_send=stalls):
                    # One that spanned a stall timed the silence: in the history, not in RTT.
                    self.rtt_ms = round(ms, 3)
                self._emit(Rtt, ms=round(ms, 3), method=method)
            else:
                self.misses_in_a_row += 1
                self.misses += 1
                if self.misses_in_a_row == 1 and event:
                    self._note(
                        f"no ack for --rtt-event “{event}” within {timeout:.1f} s",
                        level="warning",
                        topic="rtt",
                    )
            await self.clock.sleep(self.settings.rtt_interval)

    # -- bounds ---------------------------------------------------------------------------------

    def stall_after(self) -> float:
        """The least silence that counts as a stall on this connection.

        With round trips every ``--rtt-interval`` seconds, a healthy path shows life at least that
        often: ``--stall-after``. Without them (``--rtt-interval 0``) the server's heartbeat is the
        only regular traffic: it is due every pingInterval, so the bound is pingInterval + 5 s.
        """
        if self.settings.rtt_interval > 0:
            return self.settings.stall_after
        if self._ping_interval_ms is None:
            return max(self.settings.stall_after, self.settings.connect_timeout)
        return self._ping_interval_ms / 1000.0 + PASSIVE_STALL_GRACE_S

    def heartbeat_deadline(self) -> str:
        """When the heartbeat alone would notice a dead path, in words."""
        if self._ping_interval_ms is None or self._ping_timeout_ms is None:
            return "pingInterval + pingTimeout"
        total = (self._ping_interval_ms + self._ping_timeout_ms) / 1000
        return f"{total:.0f} s (pingInterval + pingTimeout)"
