"""Deterministic snapshots of the main states: fake monitor, fixed clock and ids, UTC, fixed size.

pytest-textual-snapshot's ``snap_compare`` works only from sync test functions. Update the
snapshots after a deliberate change with ``uv run pytest tests/ui/test_snapshots.py --snapshot-update``
and look at the SVGs before committing them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from textual.pilot import Pilot

from conndebug.config import Settings
from conndebug.core.model import State
from conndebug.core.verdicts import Verdict
from conndebug.ui.app import ConndebugApp
from conndebug.ui.screens import HelpScreen
from conndebug.ui.screens.reason_screen import ReasonScreen
from conndebug.ui.widgets._bounded_log import BoundedLog
from tests.ui.helpers import SIZE, SMALL, build, history, until

BIG = (200, 50)

FELL_BACK = {
    "transport": "polling",
    "how": "fell back: HTTP 403 Forbidden to the websocket handshake",
    "verdict": "connected over polling only: the websocket failed "
    "(HTTP 403 Forbidden to the websocket handshake: “Forbidden: websocket upgrades are "
    "blocked here”)",
}
BLOCKED = Verdict(
    code="websocket_blocked",
    title="Websocket blocked: the upgrade is answered 403",
    explanation="The websocket handshake was answered HTTP 403 Forbidden (“Forbidden: websocket "
    "upgrades are blocked here”) before any upgrade, as a proxy that forbids websockets answers; "
    "the client fell back to HTTP long-polling, which works but costs a request per message.",
    fix="Allow websocket upgrades on this path (nginx: proxy_http_version 1.1; proxy_set_header "
    "Upgrade $http_upgrade; proxy_set_header Connection “upgrade”), then press r.",
    exit_code=1,
)

Compare = Callable[..., bool]


def settled(
    app: ConndebugApp, then: Callable[[Pilot[Any]], Awaitable[None]] | None = None
) -> Callable[[Pilot[Any]], Awaitable[None]]:
    """Wait for the fake connection, run ``then``, and draw the panels once more."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await until(pilot, lambda: any(" connected " in line for line in history(app)))
        if then is not None:
            await then(pilot)
        app.refresh_panels()
        await pilot.pause()

    return run_before


def test_connected_wide(snap_compare: Compare) -> None:
    app, _, _ = build()
    assert snap_compare(app, terminal_size=SIZE, run_before=settled(app))


def test_connected_small(snap_compare: Compare) -> None:
    app, _, _ = build()
    assert snap_compare(app, terminal_size=SMALL, run_before=settled(app))


def test_demo_wide(snap_compare: Compare) -> None:
    app, _, _ = build(demo=True)
    assert snap_compare(app, terminal_size=SIZE, run_before=settled(app))


def test_demo_small(snap_compare: Compare) -> None:
    app, _, _ = build(demo=True)
    assert snap_compare(app, terminal_size=SMALL, run_before=settled(app))


def test_reconnecting_countdown(snap_compare: Compare) -> None:
    app, monitor, _ = build()

    async def drop(pilot: Pilot[Any]) -> None:
        await pilot.press("d")
        await until(pilot, lambda: monitor.snap.state is State.RECONNECTING)

    assert snap_compare(app, terminal_size=SIZE, run_before=settled(app, drop))


def test_fell_back_to_polling(snap_compare: Compare) -> None:
    app, monitor, _ = build()

    async def fall_back(pilot: Pilot[Any]) -> None:
        monitor.set(**FELL_BACK)

    assert snap_compare(app, terminal_size=SIZE, run_before=settled(app, fall_back))


def test_fell_back_small(snap_compare: Compare) -> None:
    app, monitor, _ = build(demo=True)

    async def fall_back(pilot: Pilot[Any]) -> None:
        monitor.set(**FELL_BACK)

    assert snap_compare(app, terminal_size=SMALL, run_before=settled(app, fall_back))


def test_diagnosis_big(snap_compare: Compare) -> None:
    app, monitor, _ = build(demo=True)

    async def diagnose(pilot: Pilot[Any]) -> None:
        monitor.set(**FELL_BACK, diagnosis=BLOCKED)

    assert snap_compare(app, terminal_size=BIG, run_before=settled(app, diagnose))


def test_diagnosis_small_points_to_the_detail_view(snap_compare: Compare) -> None:
    app, monitor, _ = build()

    async def diagnose(pilot: Pilot[Any]) -> None:
        monitor.set(**FELL_BACK, diagnosis=BLOCKED)

    assert snap_compare(app, terminal_size=SMALL, run_before=settled(app, diagnose))


def test_detail_view(snap_compare: Compare) -> None:
    app, monitor, _ = build()

    async def details(pilot: Pilot[Any]) -> None:
        monitor.set(**FELL_BACK, diagnosis=BLOCKED)
        app.refresh_panels()
        await pilot.press("i")
        await until(pilot, lambda: isinstance(app.screen, ReasonScreen))

    assert snap_compare(app, terminal_size=SMALL, run_before=settled(app, details))


def laid_out(app: ConndebugApp, size: tuple[int, int]) -> bool:
    """The app has laid its panels out for ``size`` and its logs are drawn for their new width
    (Textual debounces resizes, and the logs re-draw on the step after: under load that takes
    longer than any fixed pause)."""
    if tuple(app.size) != size or app._laid_out_for != size:
        return False
    logs = app.query(BoundedLog)
    widths = [(log.drawn_width, log.scrollable_content_region.width) for log in logs]
    return all(drawn == width for drawn, width in widths if drawn and width)  # 0: not shown


def test_resized_from_wide_to_small(snap_compare: Compare) -> None:
    app, monitor, _ = build(demo=True)

    async def resize(pilot: Pilot[Any]) -> None:
        monitor.set(**FELL_BACK)
        app.refresh_panels()
        await pilot.pause()
        await pilot.resize_terminal(*BIG)
        await until(pilot, lambda: laid_out(app, BIG))
        await pilot.resize_terminal(*SMALL)
        await until(pilot, lambda: laid_out(app, SMALL))

    assert snap_compare(app, terminal_size=SIZE, run_before=settled(app, resize))


def test_insecure_banner_and_stall(snap_compare: Compare) -> None:
    settings = Settings(url="https://chat.example.test", insecure=True)
    app, monitor, _ = build(settings=settings)

    async def stall(pilot: Pilot[Any]) -> None:
        monitor.set(
            url="https://chat.example.test",
            tls_verify="DISABLED (--insecure)",
            insecure=True,
            state=State.STALLED,
            last_life_at=monitor.clock.monotonic() - 4.2,
            stall_bound_s=3.0,
            verdict="the server went silent (nothing for more than 3.0 s): the path may be "
            "black-holed; the heartbeat would notice only after 85 s (pingInterval + pingTimeout)",
        )

    assert snap_compare(app, terminal_size=SIZE, run_before=settled(app, stall))


def test_help_screen(snap_compare: Compare) -> None:
    app, _, _ = build(demo=True)

    async def help_(pilot: Pilot[Any]) -> None:
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))

    assert snap_compare(app, terminal_size=SIZE, run_before=settled(app, help_))


def _packets(app: ConndebugApp) -> Callable[[Pilot[Any]], Awaitable[None]]:
    """Open the wire inspector (``w``) and put a few packets of each kind on it."""
    from conndebug.core.events import Packet
    from conndebug.ui.widgets import WireLog

    async def run(pilot: Pilot[Any]) -> None:
        await pilot.press("w")
        await until(pilot, lambda: app.wire is not None and bool(app.query(WireLog)))
        bus = app.monitor.bus
        emit = bus.emit
        emit(Packet, direction="in", transport="websocket", eio_type="PING", size=1, preview="")
        emit(
            Packet, direction="out", transport="websocket", eio_type="PONG", size=1, preview="",
            pong_ms=0.2,
        )  # fmt: skip
        for n in range(3):
            emit(
                Packet, direction="out", transport="websocket", eio_type="MESSAGE", size=21,
                preview=f'2{n}["conndebug:ping"]', sio_type="EVENT", ack_id=n,
            )  # fmt: skip
            emit(
                Packet, direction="in", transport="websocket", eio_type="MESSAGE", size=33,
                preview=f'3{n}[{{"serverTime":1764316800000}}]', sio_type="ACK", ack_id=n,
            )  # fmt: skip
        emit(
            Packet, direction="in", transport="websocket", eio_type="MESSAGE", size=185,
            preview='2["connection:established",{"userId":"guest_00000001","username":'
            '"SwiftTiger42","sessionId":"00000000-0000-4000-8000-000000000001"}]',
            sio_type="EVENT",
        )  # fmt: skip
        app.refresh_panels()
        await pilot.pause()

    return run


def test_wire_inspector_wide(snap_compare: Compare) -> None:
    app, _, _ = build(demo=True)
    assert snap_compare(app, terminal_size=SIZE, run_before=settled(app, _packets(app)))


def test_wire_inspector_small(snap_compare: Compare) -> None:
    app, _, _ = build(demo=True)
    assert snap_compare(app, terminal_size=SMALL, run_before=settled(app, _packets(app)))


def test_demo_big_with_the_path_named(snap_compare: Compare) -> None:
    app, monitor, _ = build(demo=True)

    async def named(pilot: Pilot[Any]) -> None:
        monitor.set(in_front="nginx → HAProxy → server: aiohttp (python-engineio)")

    assert snap_compare(app, terminal_size=BIG, run_before=settled(app, named))
