"""Regenerate ``screenshots/*.svg`` from the real app in real states.

    uv run python -m conndebug.ui.screenshots [FOLDER]

Starts the reference server in-process on a free loopback port, runs the demo app headless on the
real monitor (120×35, one shot at 80×24), presses the keys a presenter would, waits for each state
(with a deadline), and saves an SVG of the screen:

- ``connected.svg``: connected over websocket;
- ``fallback.svg``: after ``f`` (firewall rejects websockets) and ``r``: fallen back to polling,
  with the reason;
- ``regenerated.svg``: after ``x``: the server forgot the session, a new guest session replaced it;
- ``reconnecting.svg``: after ``t`` (server restart): the numbered attempt and its countdown;
- ``stalled.svg``: after ``b`` (all traffic black-holed): the stall, its silence counted live;
- ``help.svg``: the help screen;
- ``wire.svg``: the wire inspector (``w``): the packets in and out, round trips among them;
- ``small.svg``: the 80×24 layout, fallen back to polling after ``f`` and ``r``.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable
from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import Static

from conndebug.config import Settings
from conndebug.core.model import State
from conndebug.ui.app import ConndebugApp, make_app

__all__ = ["main", "take_screenshots"]

WIDE = (120, 35)
SMALL = (80, 24)


class StateNotReached(Exception):
    """The app did not reach a state in time."""


async def _until(
    pilot: Pilot[object], what: str, condition: Callable[[], bool], limit: float
) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            raise StateNotReached(f"not reached within {limit:g} s: {what}")
        await pilot.pause(0.05)


def _badge(app: ConndebugApp) -> str:
    content = app.query_one("#badge", Static).content
    return str(getattr(content, "plain", content))


async def _session(folder: Path, size: tuple[int, int], script: str) -> list[Path]:
    from conndebug.commands.tui import DEMO_RTT_EVENT
    from conndebug.core.monitor import make_monitor
    from conndebug.server import ReferenceServer, ServerConfig

    server = ReferenceServer(
        ServerConfig(host="127.0.0.1", port=0, session_ttl=120, ping_interval=5, ping_timeout=10)
    )
    await server.start()
    saved: list[Path] = []
    # A new guest session, as the demo takes: one kept from an earlier run on a reused port is
    # signed with another server's key.
    settings = Settings(url=server.url, rtt_event=DEMO_RTT_EVENT, new_session=True)
    monitor = make_monitor(settings, admin_key=server.admin_key)
    app = make_app(settings, monitor=monitor, server=server, session_ttl_s=120)

    async def shoot(pilot: Pilot[object], name: str) -> None:
        app.clear_notifications()
        app.refresh_panels()
        await pilot.pause(0.1)  # the layout pass that gives a longer reason its rows
        path = folder / f"{name}.svg"
        path.write_text(app.export_screenshot(title=f"conndebug demo — {name}"), encoding="utf-8")
        saved.append(path)

    async def connected(pilot: Pilot[object]) -> None:
        await _until(pilot, "connected", lambda: monitor.snapshot().state is State.CONNECTED, 20)
        await _until(
            pilot, "a few round trips", lambda: len(monitor.snapshot().rtt_recent) >= 4, 20
        )

    async def run(pilot: Pilot[object]) -> None:
        await connected(pilot)
        if script == "small":
            await pilot.press("f", "r")
            await _until(
                pilot,
                "fallen back to polling",
                lambda: (
                    (monitor.snapshot().how or "").startswith("fell back")
                    and monitor.snapshot().state is State.CONNECTED
                ),
                20,
            )
            await _until(
                pilot,
                "round trips over polling",
                lambda: len(monitor.snapshot().rtt_recent) >= 3,
                20,
            )
            await shoot(pilot, "small")
            return
        await shoot(pilot, "connected")
        await pilot.press("f")
        await pilot.press("r")
        await _until(
            pilot,
            "fallen back to polling",
            lambda: (
                (monitor.snapshot().how or "").startswith("fell back")
                and monitor.snapshot().state is State.CONNECTED
            ),
            20,
        )
        await _until(
            pilot, "round trips over polling", lambda: len(monitor.snapshot().rtt_recent) >= 3, 20
        )
        await shoot(pilot, "fallback")
        await pilot.press("f", "f")  # reject → blackhole → allow
        await pilot.press("x")
        await _until(
            pilot,
            "session regenerated",
            lambda: (
                monitor.snapshot().session.regenerations >= 1
                and monitor.snapshot().state is State.CONNECTED
            ),
            20,
        )
        await pilot.pause(0.5)
        await shoot(pilot, "regenerated")
        await pilot.press("t")
        await _until(
            pilot,
            "reconnection countdown",
            lambda: _badge(app).startswith("Reconnecting") and " in " in _badge(app),
            20,
        )
        await shoot(pilot, "reconnecting")
        await _until(pilot, "back up", lambda: monitor.snapshot().state is State.CONNECTED, 30)
        await _until(
            pilot, "round trips again", lambda: len(monitor.snapshot().rtt_recent) >= 3, 20
        )
        await pilot.press("b")
        await _until(pilot, "stalled", lambda: monitor.snapshot().state is State.STALLED, 20)
        await pilot.pause(2.0)
        await shoot(pilot, "stalled")
        await pilot.press("b")
        await _until(pilot, "recovered", lambda: monitor.snapshot().state is State.CONNECTED, 20)
        await pilot.press("question_mark")
        await pilot.pause(0.3)
        await shoot(pilot, "help")
        await pilot.press("escape")
        await pilot.press("w")
        await _until(pilot, "the wire inspector", lambda: app.wire is not None, 10)
        wire = app.wire
        assert wire is not None
        await _until(pilot, "packets on the wire", lambda: wire.log_widget.seen >= 8, 20)
        await shoot(pilot, "wire")

    async def auto_pilot(pilot: Pilot[object]) -> None:
        try:
            await run(pilot)
        finally:
            await monitor.stop()
            app.exit(0)

    try:
        await app.run_async(headless=True, size=size, auto_pilot=auto_pilot)
    finally:
        await monitor.stop()
        await server.stop()
    return saved


async def take_screenshots(folder: Path) -> list[Path]:
    """Make every screenshot into ``folder`` (which exists); returns the files written."""
    saved = await _session(folder, WIDE, "story")
    saved += await _session(folder, SMALL, "small")
    return saved


def main(argv: list[str] | None = None) -> int:
    """Entry point: ``python -m conndebug.ui.screenshots [FOLDER]`` (default ``screenshots``)."""
    args = sys.argv[1:] if argv is None else argv
    folder = Path(args[0] if args else "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    try:
        saved = asyncio.run(take_screenshots(folder))
    except StateNotReached as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for path in saved:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
