"""The periodic-drop rule, on exact event streams (FakeClock): when it fires, what it says."""

from __future__ import annotations

import asyncio

from conndebug.core.clock import FakeClock
from conndebug.core.drops import DropPattern, watch_drops
from conndebug.core.events import Connected, ConnectError, Disconnected, Event, EventBus, Note

CLOSE = "transport close (the websocket was closed underneath)"


def _cycle(
    bus: EventBus, clock: FakeClock, lifetime: float, *, reason: str = CLOSE, gap: float = 1.0
) -> None:
    bus.emit(
        Connected,
        transport="websocket",
        sid="s",
        engine_sid="e",
        ping_interval_ms=2000,
        ping_timeout_ms=3000,
    )
    clock.advance(lifetime)
    bus.emit(Disconnected, reason=reason, will_reconnect=True)
    clock.advance(gap)


def _connected(bus: EventBus) -> None:
    """The reconnection after the last drop (which makes that drop count)."""
    bus.emit(
        Connected,
        transport="websocket",
        sid="s",
        engine_sid="e",
        ping_interval_ms=2000,
        ping_timeout_ms=3000,
    )


def _notes(bus: EventBus) -> list[Note]:
    return [e for e in bus.history if isinstance(e, Note) and e.topic == "drops"]


def test_two_alike_drops_below_the_heartbeat_name_the_rule() -> None:
    clock = FakeClock()
    bus = EventBus(clock=clock)
    watch_drops(bus)
    _cycle(bus, clock, 1.0)
    assert _notes(bus) == []
    _cycle(bus, clock, 1.1)
    assert _notes(bus) == []  # not before the reconnection shows it was no restart
    _connected(bus)
    [note] = _notes(bus)
    assert note.level == "warning"
    assert note.text.startswith("connections drop every ~1.1 s (2 in a row, transport close)")
    assert "shorter than pingInterval + pingTimeout = 5 s" in note.text
    assert "the server pings every 2 s" in note.text
    assert "nginx proxy_read_timeout" in note.text
    assert "raise it above 5 s" in note.text


def test_the_finding_is_said_once_per_pattern() -> None:
    clock = FakeClock()
    bus = EventBus(clock=clock)
    watch_drops(bus)
    for _ in range(5):
        _cycle(bus, clock, 1.0)
    _connected(bus)
    assert len(_notes(bus)) == 1


def test_unlike_lifetimes_are_no_pattern() -> None:
    clock = FakeClock()
    bus = EventBus(clock=clock)
    watch_drops(bus)
    for lifetime in (1.0, 3.0, 0.2, 4.0):
        _cycle(bus, clock, lifetime)
    _connected(bus)
    assert _notes(bus) == []


def test_kicks_and_ping_timeouts_break_the_pattern() -> None:
    pattern = DropPattern()
    clock = FakeClock()
    bus = EventBus(clock=clock)
    findings = []
    bus.subscribe(lambda e: findings.append(pattern.observe(e)))
    _cycle(bus, clock, 1.0)
    _cycle(bus, clock, 1.0, reason="io server disconnect")
    _cycle(bus, clock, 1.0, reason="ping timeout")
    _cycle(bus, clock, 1.0)
    _cycle(bus, clock, 1.0)
    assert [f for f in findings if f is not None] == []
    _connected(bus)
    assert [f.count for f in findings if f is not None] == [2]


def test_drops_slower_than_the_heartbeat_are_said_without_the_proxy_rule() -> None:
    clock = FakeClock()
    bus = EventBus(clock=clock)
    watch_drops(bus)
    _cycle(bus, clock, 60.0)
    _cycle(bus, clock, 60.2)
    _connected(bus)
    [note] = _notes(bus)
    assert note.level == "info"
    assert "every ~60.1 s" in note.text
    assert "cuts connections on a timer" in note.text
    assert "pingInterval" not in note.text


def test_without_a_known_heartbeat_no_rule_is_claimed() -> None:
    pattern = DropPattern()
    found = None
    t = 0.0
    for _ in range(3):
        found = (
            pattern.observe(Connected(ts=t, t=t, transport="polling", sid="s", engine_sid="e"))
            or found
        )
        t += 1.0
        pattern.observe(Disconnected(ts=t, t=t, reason=CLOSE, will_reconnect=True))
    assert found is not None
    assert not found.below_heartbeat
    assert found.heartbeat_s is None


async def test_inside_a_loop_the_note_follows_the_drop_for_every_subscriber() -> None:
    clock = FakeClock()
    bus = EventBus(clock=clock)
    watch_drops(bus)  # subscribed first, as the monitor does
    seen: list[Event] = []
    bus.subscribe(seen.append)
    _cycle(bus, clock, 1.0)
    _cycle(bus, clock, 1.0)
    _connected(bus)
    assert not any(isinstance(e, Note) for e in seen)  # not yet: after this turn of the loop
    await asyncio.sleep(0)
    kinds = [e.kind for e in seen]
    assert kinds[-2:] == ["connected", "note"]
    assert kinds.count("note") == 1


def test_broken_websockets_are_not_a_proxys_timeout() -> None:
    """Drops whose cause conndebug saw — invalid UTF-8, bad frames, the server's own close —
    come at a regular interval here too; no proxy rule is claimed."""
    clock = FakeClock()
    bus = EventBus(clock=clock)
    watch_drops(bus)
    for reason in (
        "transport error (the websocket broke: invalid utf-8 in a text frame)",
        "transport error (the websocket broke: received a frame with a reserved opcode)",
        "transport close (the server closed the Engine.IO session)",
    ):
        for _ in range(4):
            _cycle(bus, clock, 1.0, reason=reason)
        _connected(bus)
    assert _notes(bus) == []


def test_a_restart_conndebug_watched_is_not_a_proxys_timeout() -> None:
    """Restarts every second: the drop, then "connection refused" or the monitor's "listens
    again" — the cause is seen, whatever the interval."""
    clock = FakeClock()
    bus = EventBus(clock=clock)
    watch_drops(bus)
    for n in range(6):
        _cycle(bus, clock, 1.0)
        if n % 2:
            bus.emit(
                ConnectError,
                message="connection refused (nothing listens there)",
                source="transport",
            )
        else:
            bus.emit(
                Note,
                text="127.0.0.1:3001 listens again: reconnecting after 0.21 s instead of the "
                "scheduled 1.00 s",
                topic="reconnect",
            )
    _connected(bus)
    assert _notes(bus) == []
