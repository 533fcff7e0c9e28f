"""Start the TUI (``conndebug --url URL``) and ``conndebug demo``.

Both run one asyncio loop: the monitor (and, for the demo, the reference server) live on it beside
the Textual app, and are closed in ``finally`` blocks whatever way the app ends, so quitting leaves
no open sockets, no "Unclosed client session" and a restored terminal.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import importlib
from pathlib import Path

from conndebug.config import Settings, settings_from_args
from conndebug.core.clock import SystemClock

__all__ = ["DEMO_RTT_EVENT", "demo_settings", "run_demo", "run_tui"]

DEMO_RTT_EVENT = "conndebug:ping"
"""The reference server's ack event, used for round trips in the demo."""


def run_tui(settings: Settings) -> int:
    """Open the live panel against ``settings.url``; returns the exit code."""
    return asyncio.run(_tui(settings))


async def _tui(settings: Settings) -> int:
    from conndebug.core.monitor import make_monitor

    clock = SystemClock()
    monitor = make_monitor(settings, clock=clock)
    try:
        # Connect while Textual loads (its import takes a few hundred ms in a thread, beside the
        # loop): the app replays what happened before it subscribed, so nothing is lost.
        await monitor.start()
        ui = await asyncio.to_thread(importlib.import_module, "conndebug.ui.app")
        app = ui.make_app(settings, monitor=monitor, clock=clock)
        await app.run_async()
    finally:
        await monitor.stop()
    return app.return_code or 0


def demo_settings(args: argparse.Namespace, url: str) -> Settings:
    """The demo's connection settings: the user's options, on ``url``, timing round trips with
    the server's ack event unless ``--rtt-event`` names another."""
    settings = settings_from_args(args, url)
    return dataclasses.replace(settings, rtt_event=settings.rtt_event or DEMO_RTT_EVENT)


def run_demo(args: argparse.Namespace) -> int:
    """Start the reference server on a free loopback port and open the TUI on it."""
    return asyncio.run(_demo(args))


async def _demo(args: argparse.Namespace, *, report_dir: Path | None = None) -> int:
    from conndebug.core.monitor import make_monitor
    from conndebug.server import ReferenceServer, ServerConfig, parse_duration
    from conndebug.ui.app import make_app

    session_ttl = parse_duration(args.session_ttl, name="--session-ttl")
    demo_settings(
        args, "http://127.0.0.1:1"
    )  # bad connection options fail before the server starts
    clock = SystemClock()
    server = ReferenceServer(
        ServerConfig(
            host="127.0.0.1",
            port=args.port,
            session_ttl=session_ttl,
            ping_interval=args.ping_interval,
            ping_timeout=args.ping_timeout,
        ),
        clock=clock,
    )
    await server.start()
    try:
        settings = demo_settings(args, server.url)
        monitor = make_monitor(settings, clock=clock, admin_key=server.admin_key)
        app = make_app(
            settings,
            monitor=monitor,
            server=server,
            clock=clock,
            session_ttl_s=session_ttl,
            report_dir=report_dir,
        )
        try:
            await app.run_async()
        finally:
            await monitor.stop()
    finally:
        await server.stop()
    return app.return_code or 0
