"""The connection's state machine and the snapshot every view renders.

:class:`State` is the monitor's one state variable; :func:`transition` is the only way it changes
(an illegal move is a bug and raises). :class:`Snapshot` is an immutable picture of everything the
TUI, ``watch`` and the reports show about the connection *now*; each figure is measured, and a
figure that is not known is ``None`` (shown as "unknown"), never guessed.

:class:`MonitorAPI` is the interface the UI and the headless commands use; the monitor implements
it, tests may fake it.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from conndebug.core.events import EventBus
from conndebug.core.verdicts import Verdict

__all__ = [
    "EXIT_BY_STATE",
    "AckResult",
    "MonitorAPI",
    "SessionInfo",
    "Snapshot",
    "State",
    "transition",
]


class State(enum.Enum):
    """Where the connection stands."""

    IDLE = "idle"
    """Not started yet."""
    CONNECTING = "connecting"
    """A connection cycle runs (guest session, transports in order)."""
    CONNECTED = "connected"
    """The namespace is connected and life signs arrive."""
    STALLED = "stalled"
    """Connected on paper, but no sign of life for longer than the stall bound."""
    RECONNECTING = "reconnecting"
    """Dropped unexpectedly; waiting for or running an automatic reconnection attempt."""
    DISCONNECTED = "disconnected"
    """Closed on purpose (by the user or a server kick); no automatic reconnection."""
    FAILED = "failed"
    """Gave up: rejected, regeneration loop guard hit, or reconnection attempts exhausted."""
    STOPPED = "stopped"
    """The monitor was shut down."""


_ALLOWED: Mapping[State, frozenset[State]] = {
    State.IDLE: frozenset({State.CONNECTING, State.STOPPED}),
    State.CONNECTING: frozenset(
        {State.CONNECTED, State.RECONNECTING, State.FAILED, State.DISCONNECTED, State.STOPPED}
    ),
    State.CONNECTED: frozenset(
        {
            State.STALLED,
            State.RECONNECTING,
            State.DISCONNECTED,
            State.CONNECTING,
            State.FAILED,
            State.STOPPED,
        }
    ),
    State.STALLED: frozenset(
        {
            State.CONNECTED,
            State.RECONNECTING,
            State.DISCONNECTED,
            State.CONNECTING,
            State.FAILED,
            State.STOPPED,
        }
    ),
    State.RECONNECTING: frozenset(
        {State.CONNECTING, State.CONNECTED, State.FAILED, State.DISCONNECTED, State.STOPPED}
    ),
    State.DISCONNECTED: frozenset({State.CONNECTING, State.STOPPED}),
    State.FAILED: frozenset({State.CONNECTING, State.STOPPED}),
    State.STOPPED: frozenset(),
}

EXIT_BY_STATE: Mapping[State, int] = {
    State.CONNECTED: 0,
    State.STALLED: 1,
    State.RECONNECTING: 2,
    State.CONNECTING: 2,
    State.DISCONNECTED: 2,
    State.FAILED: 2,
    State.IDLE: 3,
    State.STOPPED: 3,
}
"""Exit code of ``watch`` by the final state (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN).

``watch`` refines CONNECTED to 1 when the connection is degraded (polling only after a fallback).
"""


def transition(current: State, new: State) -> State:
    """Return ``new`` if the state machine allows ``current → new``; staying put is always allowed."""
    if new is current or new in _ALLOWED[current]:
        return new
    raise ValueError(f"illegal state transition {current.value} → {new.value}")


@dataclass(frozen=True)
class SessionInfo:
    """The guest user and session in use (from the guest endpoint or a given token)."""

    username: str | None = None
    user_id: str | None = None
    session_id: str | None = None
    token_redacted: str | None = None
    """The token as it may be shown (masked unless ``--show-secrets``)."""
    expires_at: float | None = None
    """The token's ``exp`` claim, epoch seconds (read without verifying)."""
    source: str = "none"
    """``guest`` (created here), ``token`` (given), or ``none`` (connecting without auth)."""
    created_at: float | None = None
    """When this session was created or last regenerated (the seed's "Last Update")."""
    regenerations: int = 0


@dataclass(frozen=True)
class Snapshot:
    """Everything shown about the connection at one moment. ``None`` means unknown."""

    state: State = State.IDLE
    state_since: float | None = None
    """Wall-clock time the state was entered."""
    verdict: str | None = None
    """One plain-words line when something is wrong (why it failed, stalled, fell back)."""
    diagnosis: Verdict | None = None
    """The current diagnosis in the verdict catalogue's terms (code, title, explanation, fix),
    when the monitor has one; views show it in place of :attr:`verdict`, which stays the
    fallback."""
    url: str = ""
    path: str = "/socket.io"
    namespace: str = "/"
    proxy: str | None = None
    tls_verify: str = ""
    insecure: bool = False
    in_front: str | None = None
    """What answers in front of the server, by name (``nginx → server: aiohttp``), once the
    answers read named it (:mod:`conndebug.core.path`)."""
    sid: str | None = None
    """Socket.IO socket id."""
    engine_sid: str | None = None
    """Engine.IO session id."""
    transport: str | None = None
    how: str | None = None
    """How the transport was reached: ``direct``, ``upgraded``, or ``fell back: <why>``."""
    upgrades: tuple[str, ...] | None = None
    """Upgrades the server offered in its open packet."""
    ping_interval_ms: int | None = None
    ping_timeout_ms: int | None = None
    rtt_ms: float | None = None
    """The latest round trip."""
    rtt_recent: tuple[float, ...] = ()
    """Recent round trips, oldest first (for the sparkline and percentiles)."""
    rtt_method: str | None = None
    rtt_off: bool = False
    """Round trips are turned off (``--rtt-interval 0``): RTT is not measured, on purpose."""
    rtt_misses: int = 0
    """Round trips that got no answer in time, since the start."""
    pings_seen: int = 0
    """Server heartbeats seen on this connection."""
    last_ping_at: float | None = None
    """Monotonic time of the latest server heartbeat."""
    last_life_at: float | None = None
    """Monotonic time of the latest sign of life (any packet from the server)."""
    stall_bound_s: float | None = None
    reconnect_attempt: int = 0
    reconnect_max: int = 0
    next_attempt_at: float | None = None
    """Monotonic time of the next scheduled reconnection attempt."""
    connected_since: float | None = None
    session: SessionInfo = field(default_factory=SessionInfo)
    events_in: int = 0
    events_out: int = 0


@dataclass(frozen=True)
class AckResult:
    """What came back for an emit."""

    acked: bool
    value: Any = None
    ms: float | None = None
    error: str | None = None


class MonitorAPI(Protocol):
    """What the UI and the headless commands may do with a connection monitor."""

    bus: EventBus

    def snapshot(self) -> Snapshot:
        """The current figures (cheap; call it on every refresh)."""
        ...

    async def start(self) -> None:
        """Begin the first connection cycle (returns once it is under way)."""
        ...

    async def stop(self) -> None:
        """Disconnect and release everything (sessions, sockets, tasks). Idempotent."""
        ...

    async def reconnect(self) -> None:
        """Clean disconnect, then a fresh connection cycle."""
        ...

    async def drop_transport(self) -> None:
        """Close the transport underneath: an unexpected drop that automatic reconnection handles."""
        ...

    async def toggle(self) -> None:
        """Disconnect when connected (or connecting); connect when disconnected, failed or idle."""
        ...

    async def simulate_expiry(self) -> None:
        """Make the session expire the way the real one does, so the regeneration path runs."""
        ...

    async def emit(
        self, name: str, payload: Any = None, *, ack: bool = False, timeout: float = 5.0
    ) -> AckResult:
        """Send an event (recorded as ``event_out``); with ``ack`` wait for the answer."""
        ...

    def set_trace(self, on: bool) -> None:
        """Publish a ``packet`` event per Engine.IO packet from now on (``False``: stop)."""
        ...
