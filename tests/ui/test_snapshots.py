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
from conndebug.ui.app import ConndebugApp
from conndebug.ui.screens import HelpScreen
from tests.ui.helpers import SIZE, SMALL, build, history, until

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
        monitor.set(
            transport="polling",
            how="fell back: HTTP 403 Forbidden to the websocket handshake",
            verdict="connected over polling only: the websocket failed "
            "(HTTP 403 Forbidden to the websocket handshake)",
        )

    assert snap_compare(app, terminal_size=SIZE, run_before=settled(app, fall_back))


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
            verdict="no sign of life for 4.2 s (bound 3.0 s): the path may be black-holed",
        )

    assert snap_compare(app, terminal_size=SIZE, run_before=settled(app, stall))


def test_help_screen(snap_compare: Compare) -> None:
    app, _, _ = build(demo=True)

    async def help_(pilot: Pilot[Any]) -> None:
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))

    assert snap_compare(app, terminal_size=SIZE, run_before=settled(app, help_))
