"""Pilot tests of the wire inspector (``w``) on the real monitor against the real socket.io 4
server: the packets of a session in order, its filter (``l``) and search (``/``), pausing while
scrolled, the tap only while it is open, and ``s`` writing a HAR beside the report."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path

import pytest
from textual.widgets import Input

from conndebug.core.har_export import HarRecorder
from conndebug.core.model import State
from conndebug.core.monitor import make_monitor
from conndebug.ui.app import ConndebugApp, make_app
from conndebug.ui.widgets import HistoryLog, WireInspector, WireLog
from tests.core.helpers import settings_for
from tests.node_peers import node_server
from tests.ui.helpers import SIZE, SMALL, history, until

pytestmark = [pytest.mark.node, pytest.mark.timeout(90)]


def wire_lines(app: ConndebugApp) -> list[str]:
    return list(app.query_one(WireLog).shown)


def lines_with(app: ConndebugApp, *needles: str) -> list[str]:
    return [line for line in wire_lines(app) if all(n in line for n in needles)]


def build(url: str, tmp_path: Path) -> tuple[ConndebugApp, object]:
    settings = settings_for(url, transports=("polling", "websocket"), token="tok-secret-123")
    monitor = make_monitor(settings, har=HarRecorder())
    app = make_app(
        settings,
        monitor=monitor,
        tz=dt.timezone.utc,
        report_dir=tmp_path,
        find_probe=False,
    )
    return app, monitor


@pytest.mark.parametrize("size", [SIZE, SMALL], ids=["120x35", "80x24"])
async def test_the_inspector_shows_a_session_s_packets_with_filter_search_and_close(
    node_dir: Path, tmp_path: Path, size: tuple[int, int]
) -> None:
    async with node_server("--ping-interval", "300") as server:
        app, monitor = build(server.url, tmp_path)
        async with app.run_test(size=size) as pilot:
            await until(pilot, lambda: monitor.state is State.CONNECTED, 10)
            assert not monitor.trace
            await pilot.press("w")
            await until(pilot, lambda: app.wire is not None and bool(app.query(WireLog)), 15)
            assert monitor.trace  # the tap runs while the inspector is open
            assert (
                app.query_one(HistoryLog).display is False
                or not app.query_one(HistoryLog).region.height
            )
            # A reconnection shows the whole handshake: open, CONNECT, upgrade, then traffic.
            await pilot.press("r")
            await until(pilot, lambda: bool(lines_with(app, "→ websocket", "UPGRADE")), 10)
            await until(
                pilot,
                lambda: (
                    monitor.state is State.CONNECTED and monitor.snapshot().transport == "websocket"
                ),
                10,
            )
            await monitor.emit("echo", {"hello": "world"}, ack=True)
            await until(pilot, lambda: bool(lines_with(app, "→ websocket", "PONG", "ping]")), 10)
            await until(pilot, lambda: bool(lines_with(app, "ACK", "430[")), 10)
            order = [
                ("← polling", "OPEN", "0{"),
                ("→ polling", "CONNECT", "POST #"),
                ("← polling", "CONNECT", '40{"sid"'),
                ("→ websocket", "PING", "2probe"),
                ("← websocket", "PONG", "3probe"),
                ("→ websocket", "UPGRADE", " 5"),
                ("→ websocket", "EVENT", '420["echo"'),
                ("← websocket", "ACK", "430["),
            ]
            lines = wire_lines(app)
            at = [
                next(i for i, ln in enumerate(lines) if all(n in ln for n in want))
                for want in order
            ]
            assert at == sorted(at), lines
            assert not any("tok-secret-123" in line for line in lines)
            assert any("── disconnected" in line for line in lines)  # the reconnection's marker

            await pilot.press("l")  # no heartbeats or round trips
            await until(
                pilot, lambda: "no heartbeats" in str(app.query_one(WireLog).border_subtitle)
            )
            heartbeats = [ln for ln in lines_with(app, "PING ") if "probe" not in ln]
            assert not heartbeats
            assert not lines_with(app, "conndebug-probe")
            assert lines_with(app, "PING", "2probe")  # the upgrade's probe is no heartbeat
            assert lines_with(app, "EVENT", "echo")

            await pilot.press("slash")
            search = app.query_one("#wire-search", Input)
            await until(pilot, lambda: search.has_focus, 15)
            await pilot.press(*"hello")
            await pilot.press("enter")
            await until(pilot, lambda: app.query_one(WireLog).search == "hello", 15)
            assert wire_lines(app)
            assert all("hello" in line for line in wire_lines(app))
            await pilot.press("escape")
            await until(pilot, lambda: app.query_one(WireLog).search == "", 15)

            await pilot.press("w")
            await until(pilot, lambda: app.wire is None, 15)
            assert not monitor.trace
            assert any("wire inspector closed" in line for line in history(app))
            await pilot.press("q")


async def test_scrolling_up_pauses_it_and_s_writes_a_har_beside_the_report(
    node_dir: Path, tmp_path: Path
) -> None:
    async with node_server("--ping-interval", "100") as server:
        app, monitor = build(server.url, tmp_path)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: monitor.state is State.CONNECTED, 10)
            await pilot.press("w")
            await until(pilot, lambda: app.wire is not None and bool(app.query(WireLog)), 15)
            log = app.query_one(WireLog)
            await until(pilot, lambda: log.max_scroll_y > 3, 15)
            log.scroll_to(y=0, animate=False)
            await until(pilot, lambda: not log.following, 15)
            await until(pilot, lambda: log.new_below > 0, 15)
            assert str(log.border_subtitle).startswith("↓ ")
            top = log.scroll_y
            await pilot.pause(0.5)
            assert log.scroll_y == top  # it stays where the reader is
            await pilot.press("end")
            await until(pilot, lambda: log.following and log.new_below == 0, 15)

            await pilot.press("s")
            await until(pilot, lambda: bool(list(tmp_path.glob("*.har"))), 10)
            (har_path,) = await asyncio.to_thread(lambda: list(tmp_path.glob("*.har")))
            assert har_path.with_suffix(".json").exists()
            har = json.loads(har_path.read_text(encoding="utf-8"))
            sockets = [e for e in har["log"]["entries"] if e["_resourceType"] == "websocket"]
            assert sockets
            assert sockets[0]["_webSocketMessages"]
            assert "tok-secret-123" not in har_path.read_text(encoding="utf-8")
            assert isinstance(app.query_one(WireInspector), WireInspector)
            await pilot.press("q")
