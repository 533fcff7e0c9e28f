"""``conndebug watch URL``: the monitor without a screen — the history as it happens.

Each event is printed the moment it is published: with ``--jsonl`` exactly
:meth:`~conndebug.core.events.Event.to_json` per line (flushed), otherwise one readable line (local
time with milliseconds, the kind in colour, the detail) through rich, which honours ``NO_COLOR`` and
prints plain text when stdout is not a terminal. The first line names the target, the proxy and how
TLS is verified (loudly when ``--insecure``).

It stops after ``--duration`` seconds (``0``: as soon as the first connect settles — connected,
failed, or waiting to retry), on Ctrl-C or SIGTERM (no traceback), or when stdout goes away, and
exits by the final state: **0** connected over websocket (or over polling where the server offers
no upgrade), **1** connected but degraded (polling after a fallback or a failed upgrade, stalled),
**2** not connected, **3** bad configuration (raised before anything runs). ``--log`` works here
too. This module never imports Textual.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as _dt
import os
import signal
import sys
from typing import TextIO

from rich.console import Console
from rich.text import Text

from conndebug.config import Settings
from conndebug.core.events import Event, Note
from conndebug.core.model import EXIT_BY_STATE, State
from conndebug.core.monitor import Monitor, make_monitor

__all__ = ["exit_code", "run_watch"]

_STYLES = {
    "connecting": "cyan",
    "connected": "bold green",
    "transport": "cyan",
    "upgrade_failed": "yellow",
    "fallback": "yellow",
    "connect_error": "bold red",
    "disconnected": "red",
    "reconnect_scheduled": "magenta",
    "reconnect_failed": "bold red",
    "session_created": "blue",
    "session_expired": "yellow",
    "session_regenerated": "blue",
    "stall": "bold yellow",
    "rtt": "dim",
    "event_in": "default",
    "event_out": "default",
    "probe_step": "default",
}
_NOTE_STYLES = {"debug": "dim", "info": "default", "warning": "yellow", "error": "bold red"}


def exit_code(monitor: Monitor) -> int:
    """0 OK, 1 degraded, 2 not connected, 3 unknown — from the monitor's state now."""
    state = monitor.state
    if state is State.CONNECTED:
        return 1 if monitor.degraded else 0
    return EXIT_BY_STATE[state]


class _Printer:
    """A bus subscriber that prints each event at once; stops quietly if stdout goes away."""

    def __init__(self, out: TextIO, *, jsonl: bool, stop: asyncio.Event) -> None:
        self.out = out
        self.jsonl = jsonl
        self.stop = stop
        self.dead = False
        self.console = Console(file=out, highlight=False, emoji=False, markup=False)

    def __call__(self, event: Event) -> None:
        if self.dead:
            return
        try:
            if self.jsonl:
                self.out.write(event.to_json() + "\n")
                self.out.flush()
            elif not (isinstance(event, Note) and event.level == "debug"):
                self.console.print(self._line(event), soft_wrap=True)
                self.out.flush()
        except (BrokenPipeError, ValueError, OSError):
            self.dead = True
            self.stop.set()  # nobody reads any more: stop watching
            _silence(self.out)

    @staticmethod
    def _line(event: Event) -> Text:
        moment = _dt.datetime.fromtimestamp(event.ts).strftime("%H:%M:%S.%f")[:-3]
        style = (
            _NOTE_STYLES.get(event.level, "default")
            if isinstance(event, Note)
            else _STYLES.get(event.kind, "default")
        )
        line = Text(moment + " ", style="dim")
        line.append(f"{event.kind:<19}", style=style)
        line.append(" ")
        line.append(event.detail)
        return line


def _silence(out: TextIO) -> None:
    """Point a dead stdout at /dev/null so the interpreter's final flush does not complain."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, out.fileno())
        os.close(devnull)


async def _watch(settings: Settings, *, jsonl: bool, duration: float | None, out: TextIO) -> int:
    stop = asyncio.Event()
    monitor = make_monitor(settings)
    monitor.bus.subscribe(_Printer(out, jsonl=jsonl, stop=stop))
    loop = asyncio.get_running_loop()
    handled: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
            handled.append(sig)
    try:
        await monitor.start()
        waiters = [asyncio.ensure_future(stop.wait())]
        if duration == 0:
            waiters.append(asyncio.ensure_future(monitor.settled.wait()))
        try:
            await asyncio.wait(
                waiters,
                timeout=duration if duration else None,
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            for waiter in waiters:
                waiter.cancel()
        code = exit_code(monitor)
        snap = monitor.snapshot()
    finally:
        await monitor.stop()
        for sig in handled:
            loop.remove_signal_handler(sig)
    summary = f"watch: {snap.state.value}"
    if snap.state in (State.CONNECTED, State.STALLED) and snap.transport:
        summary += f" over {snap.transport}"
    if snap.verdict:
        summary += f" — {snap.verdict}"
    with contextlib.suppress(OSError, ValueError):
        print(monitor.redactor.text(summary) + f" (exit {code})", file=sys.stderr)
    return code


def run_watch(settings: Settings, *, jsonl: bool, duration: float | None) -> int:
    """Watch the connection headlessly; returns the exit code (see the module docstring)."""
    return asyncio.run(_watch(settings, jsonl=jsonl, duration=duration, out=sys.stdout))
