"""Liveness and latency: how the monitor knows the connection is alive, and how fast it is.

**Sign of life.** Every read from the server counts: messages, the server's heartbeat pings
(counted apart), no-ops, answers to our round trips. The client marks each read; the monitor's
ticker samples the mark (:mod:`conndebug.core.monitor.live`), so a storm costs nothing here.

**Round trips.** Every ``--rtt-interval`` seconds while connected, one sample:

- with ``--rtt-event NAME`` (e.g. the reference server's ``conndebug:ping``): an emit with an ack;
  the time until the ack arrives is the sample (method ``NAME``);
- otherwise a round trip that every Socket.IO v3/v4 server answers without any application code:
  a Socket.IO ``CONNECT`` packet for a random namespace that does not exist
  (``/conndebug-probe-<hex>``). The server answers ``CONNECT_ERROR`` ("Invalid namespace") at once;
  the time until that answer is the sample (method ``namespace-probe``). The client keeps these
  answers apart from its namespaces (:meth:`conndebug.client.SocketClient.round_trip`); a server
  that accepts any namespace answers ``CONNECT`` instead, which times the same round trip and is
  closed again with a ``DISCONNECT``. The probe carries no auth data.

At most one sample is in flight; one that gets no answer in time yields no sample (silence is
what the stall detector is for).

**Stall.** The heartbeat alone cannot tell a dead path quickly: a client notices a silent server
only after ``pingInterval + pingTimeout`` (85 s on the real backend). Because round trips are sent
every second or so, a healthy connection shows life at least that often; so the connection counts
as *stalled* when nothing at all arrived for ``max(stall_after, k × p95)`` seconds, where ``p95`` is
the 95th percentile of the recent round trips (``k`` = 4), so a slow but working path is not
called stalled. With ``--rtt-interval 0`` no round trips are sent, and the monitor sets
``stall_after`` to pingInterval + 5 s: the server's heartbeat is then the only regular traffic.
The first packet after a stall is a recovery. Times come from the injected clock;
:class:`Liveness` itself is pure logic, checked by a small ticker task in the monitor.
"""

from __future__ import annotations

import collections
import enum
import math

__all__ = ["Liveness", "LivenessChange", "percentile"]


def percentile(values: list[float], q: float) -> float:
    """The ``q`` (0..1) percentile of ``values`` by the nearest-rank method."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    rank = max(1, math.ceil(q * len(ordered)))
    return ordered[rank - 1]


class LivenessChange(enum.Enum):
    """What :meth:`Liveness.check` or :meth:`Liveness.life` found."""

    STALLED = "stalled"
    RECOVERED = "recovered"


class Liveness:
    """Signs of life, server pings and round trips of one connection; decides stalls."""

    def __init__(self, *, stall_after: float, k: float = 4.0, window: int = 30) -> None:
        self.stall_after = stall_after
        self.k = k
        self.rtts: collections.deque[float] = collections.deque(maxlen=window)
        """Recent round trips in ms, oldest first."""
        self.last_life: float | None = None
        self.last_ping: float | None = None
        self.pings = 0
        self.stalled = False
        self.stalled_since_life: float | None = None
        """``last_life`` when the stall was declared (to say how long the silence lasted)."""
        self.stalls = 0
        """Stalls declared so far: a round trip sent before a stall and answered after it measured
        the silence, not the path, and must not raise the bound (see :meth:`rtt`)."""

    def reset(self, now: float) -> None:
        """A new connection: forget pings and stall state, count ``now`` as life."""
        self.last_life = now
        self.last_ping = None
        self.pings = 0
        self.stalled = False
        self.stalled_since_life = None

    @property
    def bound(self) -> float:
        """Seconds of silence that make a stall: ``max(stall_after, k × p95 RTT)``."""
        if not self.rtts:
            return self.stall_after
        return max(self.stall_after, self.k * percentile(list(self.rtts), 0.95) / 1000.0)

    def life(self, now: float) -> LivenessChange | None:
        """Something arrived; returns ``RECOVERED`` if the connection was stalled."""
        self.last_life = now
        if self.stalled:
            self.stalled = False
            return LivenessChange.RECOVERED
        return None

    def ping(self, now: float) -> None:
        """A server heartbeat arrived (also a sign of life: call :meth:`life` too)."""
        self.pings += 1
        self.last_ping = now

    def rtt(self, ms: float, *, stalls_at_send: int | None = None) -> bool:
        """A round trip was measured (``stalls_at_send``: :attr:`stalls` when it was sent).

        It is not counted when a stall fell inside it: that sample timed the silence (a frozen
        server), not the path; it would show as the RTT, pollute p50/p95, and k × p95 would
        stretch the next stall's bound to 4× the silence. Returns whether it was counted.
        """
        if stalls_at_send is not None and (self.stalls != stalls_at_send or self.stalled):
            return False
        self.rtts.append(ms)
        return True

    def silence(self, now: float) -> float:
        """Seconds since the last sign of life (0 if none was ever recorded)."""
        return 0.0 if self.last_life is None else max(0.0, now - self.last_life)

    def check(self, now: float) -> LivenessChange | None:
        """Called periodically: returns ``STALLED`` once when the silence exceeds the bound."""
        if self.stalled or self.last_life is None:
            return None
        if now - self.last_life > self.bound:
            self.stalled = True
            self.stalls += 1
            self.stalled_since_life = self.last_life
            return LivenessChange.STALLED
        return None
