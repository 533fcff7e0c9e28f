"""Start the TUI (``conndebug --url URL``) and ``conndebug demo``.

Both run one asyncio loop: the monitor (and, for the demo, the reference server) live on it beside
the Textual app, and are closed in ``finally`` blocks whatever way the app ends, so quitting leaves
no open sockets, no "Unclosed client session" and a restored terminal.

SIGTERM, SIGHUP, SIGQUIT (and a SIGINT sent from outside: in the app, Ctrl-C is a key) end the app
the way ``q`` does: Textual restores the terminal (alternate screen off, mouse reporting off,
cursor shown), the monitor's final ``disconnected`` reaches the history and the ``--log`` file,
and the exit code is 128 + the signal's number. Without a terminal (stdin or stdout not a tty)
neither starts: one line points to ``conndebug watch``, exit 3. A ``--log`` that stopped (a full
disk, a reader gone) is said on stderr after the screen is gone, and the exit code is 3.

The wire is always recorded (bounded, :mod:`conndebug.core.har_export`): ``s`` writes a HAR beside
its report, and ``--har FILE`` is written once the app has ended (a HAR that cannot be written is
said on stderr, exit 3).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import importlib
import os
import signal
from pathlib import Path
from typing import TYPE_CHECKING

from conndebug.config import Settings, settings_from_args
from conndebug.core.clock import SystemClock
from conndebug.core.errors import ConfigError

if TYPE_CHECKING:
    from conndebug.core.har_export import HarRecorder
    from conndebug.core.monitor import Monitor
    from conndebug.ui.app import ConndebugApp

__all__ = ["DEMO_RTT_EVENT", "demo_settings", "require_terminal", "run_demo", "run_tui"]

_END_SIGNALS = tuple(
    sig
    for sig in (getattr(signal, n, None) for n in ("SIGTERM", "SIGHUP", "SIGQUIT", "SIGINT"))
    if sig
)

DEMO_RTT_EVENT = "conndebug:ping"
"""The reference server's ack event, used for round trips in the demo."""


def _isatty(fd: int) -> bool:
    try:
        return os.isatty(fd)
    except OSError:
        return False


def require_terminal(command: str) -> None:
    """A ConfigError (one line, exit 3) unless stdin and stdout are both terminals."""
    if not (_isatty(0) and _isatty(1)):
        raise ConfigError(
            f"{command} needs a terminal (stdin and stdout are not both terminals)",
            "for the live history without a screen use `conndebug watch URL` "
            "(add --jsonl for JSON lines)",
        )


async def _run_app(app: ConndebugApp, monitor: Monitor) -> int:
    """Run the app; a signal ends it as ``q`` does; the monitor is stopped whatever happens."""
    loop = asyncio.get_running_loop()
    caught: list[signal.Signals] = []

    def on_signal(sig: signal.Signals) -> None:
        if not caught:
            caught.append(sig)
            app.exit(return_code=128 + int(sig))

    handled = []
    for sig in _END_SIGNALS:
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, on_signal, sig)
            handled.append(sig)
    har_problem = None
    try:
        await app.run_async()
    finally:
        try:
            await monitor.stop()  # the final ``disconnected``, in the history and the log
            har_problem = await _save_har(monitor)
        finally:
            for sig in handled:
                loop.remove_signal_handler(sig)
    code = app.return_code or 0
    log = monitor.log
    problems = [p for p in (log.problem if log is not None else None, har_problem) if p]
    if problems:
        from conndebug.core.output import write_bounded

        write_bounded(2, "\n".join(problems) + "\n")
        code = code or 3
    return code


async def _save_har(monitor: Monitor) -> str | None:
    """Write ``--har`` once the app is gone; the problem in words if it could not be."""
    settings = monitor.settings
    if monitor.har is None or not settings.har:
        return None
    from conndebug.core.har_export import save_har

    try:
        await save_har(
            monitor.har, Path(settings.har), monitor.redactor, title=f"conndebug {settings.url}"
        )
    except (OSError, asyncio.TimeoutError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        return f"--har {settings.har} could not be written: {reason}"
    return None


def _recorder() -> HarRecorder:
    """The TUI always records the wire (bounded): ``s`` writes a HAR beside its report."""
    from conndebug.core.har_export import HarRecorder

    return HarRecorder()


def run_tui(settings: Settings) -> int:
    """Open the live panel against ``settings.url``; returns the exit code."""
    require_terminal("conndebug --url")
    return asyncio.run(_tui(settings))


async def _tui(settings: Settings) -> int:
    from conndebug.core.monitor import make_monitor

    clock = SystemClock()
    monitor = make_monitor(settings, clock=clock, har=_recorder())
    try:
        # Connect while Textual loads (its import takes a few hundred ms in a thread, beside the
        # loop): the app replays what happened before it subscribed, so nothing is lost.
        await monitor.start()
        ui = await asyncio.to_thread(importlib.import_module, "conndebug.ui.app")
        app = ui.make_app(settings, monitor=monitor, clock=clock)
    except BaseException:
        await monitor.stop()
        raise
    return await _run_app(app, monitor)


def demo_settings(args: argparse.Namespace, url: str) -> Settings:
    """The demo's connection settings: the user's options, on ``url``, timing round trips with
    the server's ack event unless ``--rtt-event`` names another, and always with a new guest
    session: each demo server signs with a key of its own, so a session kept from an earlier
    demo on the same (reused) port would be refused ("Invalid token") and the demo would open
    on Failed."""
    settings = settings_from_args(args, url)
    return dataclasses.replace(
        settings, rtt_event=settings.rtt_event or DEMO_RTT_EVENT, new_session=True
    )


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
        require_terminal("conndebug demo")  # after the port: a busy port is said first
        settings = demo_settings(args, server.url)
        monitor = make_monitor(settings, clock=clock, admin_key=server.admin_key, har=_recorder())
        app = make_app(
            settings,
            monitor=monitor,
            server=server,
            clock=clock,
            session_ttl_s=session_ttl,
            report_dir=report_dir,
        )
        return await _run_app(app, monitor)
    finally:
        await server.stop()
