"""A fake MonitorAPI and a fake demo server: a real EventBus and a Snapshot the test controls.

Each operation of :class:`FakeMonitor` records its call and plays a short, fixed script of events
and snapshot changes (what a real monitor would report), so UI tests assert exact screens with
fixed ids and a :class:`~conndebug.core.clock.FakeClock`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from conndebug.core.clock import FakeClock
from conndebug.core.events import (
    Connected,
    Connecting,
    Disconnected,
    EventBus,
    EventIn,
    EventOut,
    ReconnectScheduled,
    Rtt,
    SessionCreated,
    SessionExpired,
    SessionRegenerated,
)
from conndebug.core.model import AckResult, SessionInfo, Snapshot, State

URL = "http://127.0.0.1:3001"
TOKEN = "‹redacted jwt #3f2a9c›"


def session(n: int = 1, *, created_at: float, regenerations: int = 0) -> SessionInfo:
    """A guest session with fixed ids (``n`` tells regenerated ones apart)."""
    return SessionInfo(
        username=["SwiftTiger42", "CalmOtter7", "BraveFalcon3"][(n - 1) % 3],
        user_id=f"guest_0000000{n}-aaaa-4bbb-8ccc-dddddddddddd",
        session_id=f"5e55105{n}-1111-4222-8333-444444444444",
        token_redacted=TOKEN,
        expires_at=created_at + 7 * 24 * 3600,
        source="guest",
        created_at=created_at,
        regenerations=regenerations,
    )


def connected_snapshot(clock: FakeClock, **changes: Any) -> Snapshot:
    """A healthy websocket connection, as of ``clock``."""
    base = Snapshot(
        state=State.CONNECTED,
        state_since=clock.time() - 12.0,
        url=URL,
        tls_verify="not used (plain HTTP)",
        sid="Xh3kQmZ0pL9sVbN2AAAB",
        engine_sid="q9WvT0cYb3LrP2mNAAAA",
        transport="websocket",
        how="direct",
        upgrades=(),
        ping_interval_ms=25_000,
        ping_timeout_ms=60_000,
        rtt_ms=0.62,
        rtt_recent=(0.55, 0.61, 0.58, 0.9, 0.62, 0.57, 0.7, 1.4, 0.6, 0.62),
        rtt_method="conndebug:ping",
        pings_seen=3,
        last_ping_at=clock.monotonic() - 4.0,
        last_life_at=clock.monotonic() - 0.3,
        stall_bound_s=3.0,
        connected_since=clock.monotonic() - 12.0,
        session=session(1, created_at=clock.time() - 13.0),
        events_in=2,
        events_out=0,
    )
    return dataclasses.replace(base, **changes)


class FakeMonitor:
    """Implements :class:`~conndebug.core.model.MonitorAPI` with scripted behaviour."""

    def __init__(self, clock: FakeClock | None = None, snapshot: Snapshot | None = None) -> None:
        self.clock = clock or FakeClock()
        self.bus = EventBus(clock=self.clock)
        self.snap = snapshot or Snapshot(url=URL, tls_verify="not used (plain HTTP)")
        self.calls: list[str] = []
        self.emitted: list[tuple[str, Any, bool]] = []
        self.ack = AckResult(acked=True, value={"ok": True}, ms=1.25)
        self.fail_next: Exception | None = None
        """Raised (once) by the next operation, to test error display."""
        self.sid_counter = 1
        self.session_counter = 1
        self.tracing = False

    # -- test helpers -------------------------------------------------------------------------

    def set(self, **changes: Any) -> None:
        """Change the snapshot."""
        self.snap = dataclasses.replace(self.snap, **changes)

    def _enter(self, name: str) -> None:
        self.calls.append(name)
        if self.fail_next is not None:
            exc, self.fail_next = self.fail_next, None
            raise exc

    def _connect(self, how: str = "direct", transport: str = "websocket") -> None:
        self.bus.emit(Connecting, url=URL, transport=transport)
        if self.snap.session.source == "none":
            s = session(self.session_counter, created_at=self.clock.time())
            self.bus.emit(
                SessionCreated,
                username=s.username,
                user_id=s.user_id,
                session_id=s.session_id,
                expires_at=s.expires_at,
                token=TOKEN,
            )
        sid = f"SocketId{self.sid_counter:04d}xxxxxxxxA"
        self.bus.emit(
            Connected,
            transport=transport,
            sid=sid,
            engine_sid=f"EngineId{self.sid_counter:04d}yyyyyyyyB",
            how=how,
            ping_interval_ms=25_000,
            ping_timeout_ms=60_000,
            elapsed_ms=4.0,
        )
        self.bus.emit(
            EventIn,
            name="connection:established",
            size=142,
            preview='{"userId":"guest_00000001","username":"SwiftTiger42"}',
        )
        current = connected_snapshot(self.clock)
        self.snap = dataclasses.replace(
            current,
            state_since=self.clock.time(),
            sid=sid,
            engine_sid=f"EngineId{self.sid_counter:04d}yyyyyyyyB",
            transport=transport,
            how=how,
            session=self.snap.session
            if self.snap.session.source != "none"
            else session(self.session_counter, created_at=self.clock.time()),
        )
        self.sid_counter += 1

    # -- MonitorAPI -----------------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        return self.snap

    async def start(self) -> None:
        self._enter("start")
        self._connect()

    async def stop(self) -> None:
        self.calls.append("stop")
        self.snap = dataclasses.replace(self.snap, state=State.STOPPED)

    async def reconnect(self) -> None:
        self._enter("reconnect")
        self.bus.emit(Disconnected, reason="io client disconnect")
        self._connect()

    async def drop_transport(self) -> None:
        self._enter("drop_transport")
        self.bus.emit(Disconnected, reason="transport close", will_reconnect=True)
        self.bus.emit(ReconnectScheduled, attempt=1, max_attempts=10, delay_s=1.0)
        self.set(
            state=State.RECONNECTING,
            state_since=self.clock.time(),
            reconnect_attempt=1,
            reconnect_max=10,
            next_attempt_at=self.clock.monotonic() + 3.2,
            verdict="the transport closed unexpectedly; reconnecting automatically",
        )

    async def toggle(self) -> None:
        self._enter("toggle")
        if self.snap.state in (State.CONNECTED, State.STALLED, State.CONNECTING):
            self.bus.emit(Disconnected, reason="io client disconnect")
            self.set(state=State.DISCONNECTED, state_since=self.clock.time(), sid=None)
        else:
            self._connect()

    async def simulate_expiry(self) -> None:
        self._enter("simulate_expiry")
        old = self.snap.session
        self.bus.emit(
            SessionExpired, message="Guest session not found or expired", session_id=old.session_id
        )
        self.session_counter += 1
        new = session(
            self.session_counter,
            created_at=self.clock.time(),
            regenerations=old.regenerations + 1,
        )
        self.bus.emit(
            SessionRegenerated,
            username=new.username,
            user_id=new.user_id,
            session_id=new.session_id,
            previous_session_id=old.session_id,
        )
        self.set(session=new)
        self._connect()

    async def emit(
        self, name: str, payload: Any = None, *, ack: bool = False, timeout: float = 5.0
    ) -> AckResult:
        self._enter("emit")
        if self.snap.state is not State.CONNECTED:
            return AckResult(acked=False, error="not connected")
        self.emitted.append((name, payload, ack))
        self.bus.emit(
            EventOut,
            name=name,
            size=len(str(payload)),
            preview=str(payload),
            ack="{'ok': True}" if ack else None,
            ack_ms=1.25 if ack else None,
        )
        return self.ack if ack else AckResult(acked=False)

    def set_trace(self, on: bool) -> None:
        self.calls.append(f"trace {'on' if on else 'off'}")
        self.tracing = on

    # -- load ---------------------------------------------------------------------------------

    def flood(self, n: int) -> None:
        """Publish ``n`` events at once (RTT samples and server events)."""
        for i in range(n):
            if i % 2:
                self.bus.emit(Rtt, ms=0.5 + (i % 7) / 10, method="conndebug:ping")
            else:
                self.bus.emit(EventIn, name="realtime:stats", size=120, preview=f'{{"n":{i}}}')


@dataclasses.dataclass
class FakeFaults:
    """The reference server's switches."""

    websocket: str = "allow"
    blackhole: bool = False
    latency_ms: float = 0.0
    cors: str = "strict"
    down_until: float | None = None


class FakeServer:
    """The demo server's API: switches change at once and say so through ``on_change``."""

    def __init__(self, clock: FakeClock | None = None) -> None:
        self.clock = clock or FakeClock()
        self.url = URL
        self.admin_key = "admin-key-for-tests"
        self.faults = FakeFaults()
        self.calls: list[tuple[str, Any]] = []
        self._listeners: list[Callable[[str], None]] = []

    def on_change(self, callback: Callable[[str], None]) -> None:
        self._listeners.append(callback)

    def _say(self, line: str) -> None:
        for listener in self._listeners:
            listener(line)

    def set_websocket(self, mode: str) -> None:
        self.calls.append(("set_websocket", mode))
        self.faults.websocket = mode
        self._say(f"websocket: {mode}")

    def set_blackhole(self, on: bool) -> None:
        self.calls.append(("set_blackhole", on))
        self.faults.blackhole = on
        self._say(f"black hole: {'on' if on else 'off'}")

    def set_latency(self, ms: float) -> None:
        self.calls.append(("set_latency", ms))
        self.faults.latency_ms = ms
        self._say(f"latency: {ms:.0f} ms")

    def set_cors(self, mode: str) -> None:
        self.calls.append(("set_cors", mode))
        self.faults.cors = mode

    async def kick_all(self) -> None:
        self.calls.append(("kick_all", None))
        self._say("kicked 1 socket")

    async def expire(self, session_id: str | None = None) -> None:
        self.calls.append(("expire", session_id))

    async def restart(self, down_s: float) -> None:
        self.calls.append(("restart", down_s))
        self.faults.down_until = self.clock.monotonic() + down_s
        self._say(f"restarting: down for {down_s:.0f} s")

    async def stop(self) -> None:
        self.calls.append(("stop", None))
