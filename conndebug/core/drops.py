"""Periodic drops: connections that keep dying after the same short time, and the rule behind it.

A proxy or load balancer in front of a Socket.IO server closes a connection that stays quiet longer
than its read (idle) timeout. The server pings every ``pingInterval``; a proxy whose timeout is
below the heartbeat therefore cuts every quiet connection after that timeout, again and again, and
clients see ``transport close`` at a regular interval. The rule: a proxy's read timeout must exceed
``pingInterval + pingTimeout`` (nginx ``proxy_read_timeout`` is 60 s by default).

:class:`DropPattern` reads the history (``connected``, ``disconnected``, ``connect_error`` and the
monitor's ``listens again`` note) and, once
:data:`MIN_DROPS` drops in a row came after about the same time connected, says so in plain words,
naming the rule when that time is shorter than the heartbeat. :func:`watch_drops` subscribes it to
a bus, publishing its finding as a ``note`` (topic ``drops``) after the event that completed the
pattern has reached every subscriber.

Only drops nothing else explains count — an unexplained ``transport close``. A drop is not a
proxy's timeout when conndebug saw its cause: the websocket broke on bad frames or invalid UTF-8
(``transport error``), the server closed its Engine.IO session itself, a kick, a ping timeout, or
a restart (after the drop the port refused connections, or the monitor saw it listen again). As the restart shows only after the drop, a
drop counts once the next connection succeeded without such a sign in between.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from conndebug.core.events import Connected, ConnectError, Disconnected, Event, EventBus, Note

__all__ = ["MIN_DROPS", "DropFinding", "DropPattern", "watch_drops"]

MIN_DROPS = 2
"""Drops in a row, each after about the same time connected, that make a pattern."""
_SPREAD_S = 0.5
"""Lifetimes this close (seconds) count as "about the same" ..."""
_SPREAD_RATIO = 0.2
"""... or this close, relative to their mean (whichever is wider)."""
_PROXY_REASON = "transport close"
"""The disconnect reason a proxy closing the connection produces (kicks, ping timeouts and broken
websockets — ``transport error`` — are not)."""
_EXPLAINED_CLOSES = ("(the server closed the Engine.IO session)", "(dropped on purpose)")
"""``transport close`` reasons whose cause is known: the server's own close, the user's drop."""
_RESTART_NOTE = "listens again"
"""The monitor's note (topic ``reconnect``) when the port of a server that went away listens
again: the drop before it was a restart."""
_KNOWN_CAUSES = frozenset({"user", "client"})
"""Who ended a connection (a live client's ``by``) when that is the cause: the person at the
keyboard (a drop, a reconnect), conndebug itself."""
_EXPLAINED_ENDS = frozenset({"server_close", "protocol"})
"""How a session ended (a live client's ``close``) when the client saw why: the server's own
Engine.IO CLOSE, a broken websocket or session (bad frames, invalid UTF-8, not Engine.IO)."""
_OBSERVED = frozenset({Connected, ConnectError, Disconnected, Note})
"""The events :meth:`DropPattern.observe` takes."""


@dataclass(frozen=True)
class DropFinding:
    """Connections drop after about ``every_s`` seconds, ``count`` times in a row."""

    every_s: float
    """The typical time a connection lived before it dropped (median)."""
    count: int
    """Drops in the pattern so far."""
    reason: str
    """The disconnect reason of the last drop."""
    heartbeat_s: float | None
    """``pingInterval + pingTimeout`` in seconds, when the server told it."""
    ping_interval_s: float | None

    @property
    def below_heartbeat(self) -> bool:
        """True when the connections die sooner than the heartbeat allows: a proxy timeout."""
        return self.heartbeat_s is not None and self.every_s < self.heartbeat_s

    @property
    def text(self) -> str:
        """The finding in plain words, with the fix."""
        seen = (
            f"connections drop every ~{self.every_s:.1f} s "
            f"({self.count} in a row, {self.reason.split(' (')[0]})"
        )
        if self.below_heartbeat:
            assert self.heartbeat_s is not None
            hb = f"{self.heartbeat_s:g}"
            pings = (
                f" (the server pings every {self.ping_interval_s:g} s)"
                if self.ping_interval_s
                else ""
            )
            return (
                f"{seen}, shorter than pingInterval + pingTimeout = {hb} s{pings}: a proxy's read "
                f"timeout (nginx proxy_read_timeout) is likely below the heartbeat. Rule: every "
                f"proxy's read/idle timeout must exceed pingInterval + pingTimeout; raise it above "
                f"{hb} s (nginx: proxy_read_timeout {max(60, int(self.heartbeat_s) + 1)}s;)"
            )
        return (
            f"{seen}: something in between cuts connections on a timer (a proxy or load "
            "balancer's connection age or idle limit); compare it with their timeouts"
        )


class DropPattern:
    """Notices connections that drop after about the same time, again and again, for no reason
    conndebug saw."""

    def __init__(self, *, min_drops: int = MIN_DROPS) -> None:
        self.min_drops = min_drops
        self._connected_at: float | None = None
        self._heartbeat_s: float | None = None
        self._ping_interval_s: float | None = None
        self._lifetimes: list[float] = []
        self._reported = False
        self._pending: tuple[float, str] | None = None
        """The last drop (lifetime, reason), counted once the next connection succeeds."""
        self._last_reason = ""

    @property
    def in_pattern(self) -> bool:
        """Drops alike so far (the pattern holds, or is forming)."""
        return bool(self._lifetimes) or self._pending is not None

    def observe(self, event: Event) -> DropFinding | None:
        """Take one history event; a finding the first time a pattern shows, else ``None``.

        Drops whose cause is known break the pattern: the user's (``d``, a reconnect), the
        server's own close, a session the client saw broken (bad frames, invalid UTF-8), and a
        restart (an attempt refused after the drop, or the port seen listening again)."""
        if isinstance(event, Connected):
            finding = self._confirm()
            self._connected_at = event.t
            if event.ping_interval_ms is not None and event.ping_timeout_ms is not None:
                self._ping_interval_s = event.ping_interval_ms / 1000
                self._heartbeat_s = (event.ping_interval_ms + event.ping_timeout_ms) / 1000
            return finding
        if isinstance(event, ConnectError):
            refused = event.failure == "connection_refused" or "refused" in event.message.lower()
            if refused:
                self._explained()  # the port was closed: a restart, not a proxy
            return None
        if isinstance(event, Note):
            if event.topic == "reconnect" and _RESTART_NOTE in event.text:
                self._explained()
            return None
        if not isinstance(event, Disconnected) or self._connected_at is None:
            return None
        lifetime = event.t - self._connected_at
        self._connected_at = None
        reason = event.reason
        unexplained = (
            event.will_reconnect
            and reason.startswith(_PROXY_REASON)
            and event.by not in _KNOWN_CAUSES
            and event.close not in _EXPLAINED_ENDS
            and not any(cause in reason for cause in _EXPLAINED_CLOSES)
        )
        if not unexplained:
            self._forget()  # a kick, a ping timeout, a broken websocket, the user: not this
            return None
        self._pending = (lifetime, reason)
        return None

    def _confirm(self) -> DropFinding | None:
        """The connection after a drop succeeded with no sign of a restart: the drop counts."""
        if self._pending is None:
            return None
        lifetime, reason = self._pending
        self._pending = None
        if self._lifetimes and not _alike([*self._lifetimes, lifetime]):
            self._forget()
        self._lifetimes.append(lifetime)
        self._last_reason = reason
        if len(self._lifetimes) < self.min_drops or self._reported:
            return None
        self._reported = True
        return DropFinding(
            every_s=_median(self._lifetimes),
            count=len(self._lifetimes),
            reason=reason,
            heartbeat_s=self._heartbeat_s,
            ping_interval_s=self._ping_interval_s,
        )

    def _explained(self) -> None:
        """A sign that the last drop was a restart: it and the drops before it are no pattern."""
        if self._pending is not None:
            self._forget()

    def _forget(self) -> None:
        self._lifetimes.clear()
        self._pending = None
        self._reported = False


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    half = len(ordered) // 2
    return ordered[half] if len(ordered) % 2 else (ordered[half - 1] + ordered[half]) / 2


def _alike(lifetimes: list[float]) -> bool:
    mean = sum(lifetimes) / len(lifetimes)
    return max(lifetimes) - min(lifetimes) <= max(_SPREAD_S, _SPREAD_RATIO * mean)


def watch_drops(bus: EventBus) -> Callable[[], None]:
    """Subscribe a :class:`DropPattern` to ``bus``; its findings become ``note`` events.

    The note is published once the event that completed the pattern (the ``connected`` after the
    last drop) has reached every subscriber (on the next turn of the running loop), so every
    reader sees them in order.
    Returns the unsubscribe function.
    """
    pattern = DropPattern()

    def publish(finding: DropFinding) -> None:
        level = "warning" if finding.below_heartbeat else "info"
        bus.emit(Note, text=finding.text, level=level, topic="drops")

    def on_event(event: Event) -> None:
        if type(event) not in _OBSERVED:
            return  # the server's events, round trips...: nothing for the pattern
        finding = pattern.observe(event)
        if finding is None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            publish(finding)  # no loop (a synchronous caller): nothing can interleave
        else:
            loop.call_soon(publish, finding)

    return bus.subscribe(on_event)
