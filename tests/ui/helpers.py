"""Helpers for UI tests: build the app on fakes, wait for conditions, read the panels' text."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from pathlib import Path

from textual.content import Content
from textual.dom import DOMNode
from textual.pilot import Pilot
from textual.widgets import RichLog, Static

from conndebug.config import Settings
from conndebug.core.clock import FakeClock
from conndebug.ui.app import ConndebugApp, ProbeRunner, make_app
from conndebug.ui.widgets import HistoryLog
from tests.ui.fakes import URL, FakeMonitor, FakeServer

SIZE = (120, 35)
SMALL = (80, 24)


def build(
    *,
    demo: bool = False,
    settings: Settings | None = None,
    report_dir: Path | None = None,
    probe: ProbeRunner | None = None,
) -> tuple[ConndebugApp, FakeMonitor, FakeServer | None]:
    """The app on a fake monitor (and a fake server for the demo), fixed clock, UTC times."""
    clock = FakeClock()
    monitor = FakeMonitor(clock)
    server = FakeServer(clock) if demo else None
    app = make_app(
        settings or Settings(url=URL),
        monitor=monitor,
        server=server,
        clock=clock,
        tz=dt.timezone.utc,
        session_ttl_s=120.0 if demo else None,
        report_dir=report_dir,
        probe=probe,
        find_probe=False,
    )
    return app, monitor, server


async def until(pilot: Pilot[object], condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Let the app run until ``condition()`` holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await pilot.pause(0.02)


def text(app: DOMNode, selector: str) -> str:
    """The plain text of a panel: its Statics' content, or a log's lines."""
    node = app.query_one(selector)
    parts: list[str] = []
    widgets = [node, *node.query("*")]
    for widget in widgets:
        if isinstance(widget, RichLog):
            parts.extend(strip.text for strip in widget.lines)
        elif isinstance(widget, Static):
            content = widget.content
            parts.append(content.plain if isinstance(content, Content) else str(content))
    return "\n".join(parts)


def history(app: ConndebugApp) -> list[str]:
    """The history panel's lines as plain text (time, kind, detail)."""
    return list(app.query_one(HistoryLog).shown)
