"""The TUI stays responsive while a hostile server misbehaves: a key still answers, in time.

A representative subset of test_hostile.py's peers, each with the real app on the real monitor:
a server that accepts and never answers, a slowloris, an endless chunked body, invalid websocket
frames once connected, a flood of events (from another process, as a real server would: in this
one it would take the event loop from the app under test), an event built to make redaction
slow, and a 10 MB event. While the peer misbehaves, ``?`` must
open the help screen and ``escape`` close it within a generous bound, the panel must show what is
going on, and memory must stay bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest

from conndebug.core.model import State
from conndebug.core.monitor import Monitor, make_monitor
from conndebug.ui.app import ConndebugApp, make_app
from conndebug.ui.screens import HelpScreen
from tests import hostile
from tests.core.helpers import events_of, settings_for
from tests.hardening import peers
from tests.hardening.storm_peer import storm_peer
from tests.hardening.test_hostile import (
    _frames_when_connected,
    _handshakes,
    _redaction_bomb,
    _slowloris,
    _ten_megabytes,
    _websockets,
)
from tests.ui.helpers import SIZE, text, until

pytestmark = pytest.mark.timeout(90)

KEY_BOUND_S = 2.0
"""A key's effect is on screen within this (generous: a frame is 1/15 s; but the preview of a
10 MB event is redacted on the event loop, about 0.9 s here, longer on a loaded machine)."""
RSS_MB = 200.0


@dataclass(frozen=True)
class TuiCase:
    id: str
    peer: Callable[[], contextlib.AbstractAsyncContextManager[str]]
    misbehaving: Callable[[Monitor], bool]
    """True once the peer is doing its worst (the moment the key is pressed)."""
    badge: str
    """What the status badge says meanwhile."""


def _url_of(
    factory: Callable[[], contextlib.AbstractAsyncContextManager[peers.Peer]]
    | Callable[[], contextlib.AbstractAsyncContextManager[hostile.Running]],
) -> Callable[[], contextlib.AbstractAsyncContextManager[str]]:
    @contextlib.asynccontextmanager
    async def run() -> AsyncIterator[str]:
        async with factory() as peer:
            yield peer.url

    return run


def _sio(**kwargs: object) -> Callable[[], contextlib.AbstractAsyncContextManager[str]]:
    @contextlib.asynccontextmanager
    async def run() -> AsyncIterator[str]:
        async with peers.sio_peer(**kwargs) as peer:  # type: ignore[arg-type]
            yield peer.url

    return run


def _attempting(monitor: Monitor) -> bool:
    return monitor.state is State.CONNECTING and bool(events_of(monitor.bus, "connecting"))


CASES = [
    TuiCase("accept-and-never-answer", _url_of(hostile.silent_server), _attempting, "Connecting"),
    TuiCase("slowloris", _sio(intercept=_handshakes(_slowloris)), _attempting, "Connecting"),
    TuiCase(
        "endless-chunked-body",
        _sio(intercept=_handshakes(peers.endless_chunked)),
        lambda m: bool(events_of(m.bus, "connecting")),
        "",
    ),
    TuiCase(
        "invalid-frames-once-connected",
        _sio(intercept=_websockets(_frames_when_connected)),
        lambda m: bool(events_of(m.bus, "disconnected")),
        "",
    ),
    TuiCase(
        "event-flood",
        storm_peer,
        lambda m: m.snapshot().events_in > 2000,
        "Connected",
    ),
    TuiCase(
        "redaction-bomb-event",
        _sio(on_connect=_redaction_bomb),
        lambda m: any(e.kind == "event_in" for e in m.bus.history),
        "Connected",
    ),
    TuiCase(
        "ten-megabyte-event",
        _sio(on_connect=_ten_megabytes),
        lambda m: m.state is State.CONNECTED,
        "Connected",
    ),
]


async def answers_in_time(app: ConndebugApp, key: str, done: Callable[[], bool]) -> float:
    """Seconds from a key press to its effect on screen (Pilot's ``press`` also waits for every
    widget to go idle, which a flood never lets happen: the key is sent as a terminal would)."""
    started = time.monotonic()
    app.simulate_key(key)
    deadline = started + KEY_BOUND_S + 3
    while not done():
        assert time.monotonic() < deadline, f"{key!r} had no effect in {KEY_BOUND_S + 3} s"
        await asyncio.sleep(0.005)
    return time.monotonic() - started


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
async def test_keys_answer_while_a_hostile_server_misbehaves(case: TuiCase) -> None:
    async with case.peer() as url:
        settings = settings_for(
            url, no_guest=True, connect_timeout=10.0, ws_timeout=5.0, reconnect_delay=0.2
        )
        monitor = make_monitor(settings)
        app = make_app(settings, monitor=monitor, find_probe=False)
        try:
            with peers.PeakRss() as rss:
                async with app.run_test(size=SIZE) as pilot:
                    await until(pilot, lambda: case.misbehaving(monitor), timeout=20)
                    opened = await answers_in_time(
                        app, "question_mark", lambda: isinstance(app.screen, HelpScreen)
                    )
                    closed = await answers_in_time(
                        app, "escape", lambda: not isinstance(app.screen, HelpScreen)
                    )
                    if case.badge:
                        await until(pilot, lambda: case.badge in text(app, "#badge"), timeout=5)
                    assert app.is_running
                    await pilot.press("q")
        finally:
            await monitor.stop()
    assert opened < KEY_BOUND_S, f"help took {opened:.2f} s"
    assert closed < KEY_BOUND_S, f"escape took {closed:.2f} s"
    assert rss.growth_mb < RSS_MB, f"{rss.growth_mb:.0f} MB"
