"""The event stream: JSON shape of design.md, stamping, bounded history, subscribers."""

from __future__ import annotations

import json

from conndebug.core.clock import FakeClock
from conndebug.core.events import (
    EVENT_TYPES,
    KINDS,
    Connected,
    EventBus,
    Fallback,
    Note,
    iso_utc,
)

DESIGN_KINDS = {
    "connecting", "connected", "transport", "upgrade_failed", "fallback", "connect_error",
    "disconnected", "reconnect_scheduled", "reconnect_failed", "session_created",
    "session_expired", "session_regenerated", "stall", "rtt", "event_in", "event_out",
    "probe_step", "note", "packet", "verdict",
}  # fmt: skip


def test_every_design_kind_has_exactly_one_type() -> None:
    assert KINDS == DESIGN_KINDS
    assert len(EVENT_TYPES) == len(DESIGN_KINDS)


def test_iso_utc_has_milliseconds_and_z() -> None:
    assert iso_utc(0.1234) == "1970-01-01T00:00:00.123Z"


def test_bus_stamps_with_its_clock_and_serialises_the_design_shape() -> None:
    clock = FakeClock(start=1_000_000.0)
    bus = EventBus(clock=clock)
    clock.advance(1.5)
    ev = bus.emit(Connected, transport="websocket", sid="abc", engine_sid="eio1", elapsed_ms=3.0)
    data = json.loads(ev.to_json())
    assert data["ts"] == iso_utc(1_000_001.5)
    assert data["t"] == 1.5
    assert data["kind"] == "connected"
    assert data["transport"] == "websocket"
    assert data["sid"] == "abc"
    assert data["engine_sid"] == "eio1"
    assert "socket id abc" in data["detail"]


def test_fallback_uses_from_and_to_in_json() -> None:
    bus = EventBus(clock=FakeClock())
    data = bus.emit(
        Fallback, from_transport="websocket", to_transport="polling", why="HTTP 403"
    ).to_dict()
    assert (data["from"], data["to"], data["why"]) == ("websocket", "polling", "HTTP 403")
    assert "falling back to polling" in data["detail"]


def test_history_is_bounded_but_published_counts_everything() -> None:
    bus = EventBus(clock=FakeClock(), history_size=3)
    for i in range(10):
        bus.emit(Note, text=str(i))
    assert [e.detail for e in bus.history] == ["7", "8", "9"]
    assert bus.published == 10


def test_subscribers_get_every_event_in_order_and_can_unsubscribe() -> None:
    bus = EventBus(clock=FakeClock())
    seen: list[str] = []
    bus.emit(Note, text="before")
    stop = bus.subscribe(lambda e: seen.append(e.detail), replay=True)
    bus.emit(Note, text="a")
    bus.emit(Note, text="b")
    stop()
    bus.emit(Note, text="after")
    assert seen == ["before", "a", "b"]


async def test_stream_yields_events_as_they_come() -> None:
    bus = EventBus(clock=FakeClock())
    stream = bus.stream()
    bus.emit(Note, text="one")  # not yet subscribed: the generator starts on first anext
    nxt = stream.__anext__()
    # the subscription happens when the generator first runs; emit after scheduling it
    import asyncio

    task = asyncio.ensure_future(nxt)
    await asyncio.sleep(0)
    bus.emit(Note, text="two")
    got = await asyncio.wait_for(task, 1)
    assert got.detail == "two"
    await stream.aclose()


def test_a_created_or_kept_session_names_both_ids_whole_in_the_history() -> None:
    """The Guest panel cuts the ids at 80 columns; the history line keeps them whole."""
    from conndebug.core.events import SessionCreated

    made = SessionCreated(
        ts=0.0, t=0.0, username="BoldPanda1", user_id="guest_u-1", session_id="sess-2"
    )
    assert made.detail == "guest session created: BoldPanda1 (guest_u-1, session sess-2)"
    kept = SessionCreated(
        ts=0.0, t=0.0, username="BoldPanda1", user_id="guest_u-1", session_id=None, source="stored"
    )
    assert kept.detail == "guest session kept from before reused: BoldPanda1 (guest_u-1)"
