"""``conndebug watch URL``: the monitor without a screen — the history as it happens.

Each event is printed the moment it is published: with ``--jsonl`` exactly
:meth:`~conndebug.core.events.Event.to_json` per line (flushed), otherwise one readable line (local
time with milliseconds, the kind in colour, the detail) through rich, which honours ``NO_COLOR`` and
prints plain text when stdout is not a terminal. The first line names the target, the proxy and how
TLS is verified (loudly when ``--insecure``).

The diagnosis follows along: a ``verdict`` event each time it changes (the one engine of
:mod:`conndebug.core.diagnosis`, the probe's too), and at the end the final verdict (code, title,
explanation, fix; in ``--jsonl`` the last ``verdict`` event is it). ``--trace`` adds one
``packet`` event per Engine.IO packet in and out.

It stops after ``--duration`` seconds (``0``: as soon as the first connect settles — connected,
failed, or waiting to retry), on Ctrl-C, SIGTERM or SIGHUP (no traceback; the summary line on
stderr), or when stdout goes away or fails, and exits by the final verdict's exit code, as
``probe`` does on the same server: **0** ok, **1** connected but degraded (polling only, a
polling-only server, stalled, drops on a timer), **2** not connected (without a verdict yet, by
the state), **3** bad configuration (raised before anything runs) — or an output that stopped: a
full disk, a closed stdout, a reader that stopped reading. Lines go out through a
:class:`~conndebug.core.output.LineOutput`, so a stdout nobody reads never freezes the watch: it is
said on stderr (``stdout stopped after N lines: <reason>``), as a ``--log`` that stopped is
(``--log stopped after N events: <reason>``, also a note in the history). A reader that went away
(``watch | head``) is the normal end of a pipeline: the watch stops quietly, with the state's exit
code. ``--prom-textfile FILE`` keeps a node_exporter textfile with the live state, uptime and drop
counters (:mod:`.textfile`). ``--har FILE`` writes the session's polling requests and websocket
messages as HAR 1.2 when it ends (:mod:`conndebug.core.har_export`; a HAR that cannot be written
is said on stderr, exit 3). This module never imports Textual.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as _dt
import gc
import io
import os
import signal
import time
from pathlib import Path
from typing import TYPE_CHECKING

from conndebug.config import Settings
from conndebug.core.events import Event, Note
from conndebug.core.model import EXIT_BY_STATE, State
from conndebug.core.monitor import Monitor, make_monitor
from conndebug.core.output import LineOutput, write_bounded
from conndebug.core.text import visible

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text

    from conndebug.core.har_export import HarRecorder
    from conndebug.core.verdicts import Verdict

__all__ = ["BURST_FLUSH_S", "exit_code", "run_watch"]

BURST_FLUSH_S = 0.01
"""During a burst, lines wait at most this long to be written together."""

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
    "packet": "dim",
    "verdict": "bold",
}
_NOTE_STYLES = {"debug": "dim", "info": "default", "warning": "yellow", "error": "bold red"}


def exit_code(monitor: Monitor) -> int:
    """0 OK, 1 degraded, 2 not connected, 3 unknown — the current verdict's exit code; without
    a verdict yet, from the monitor's state."""
    verdict = monitor.verdict
    if verdict is not None:
        return verdict.exit_code
    state = monitor.state
    if state is State.CONNECTED:
        return 1 if monitor.degraded else 0
    return EXIT_BY_STATE[state]


class _Printer:
    """A bus subscriber that prints each event through a bounded :class:`LineOutput`.

    A line is written at the end of the event loop's current step; while events keep coming (a
    storm), lines gather for at most :data:`BURST_FLUSH_S` and go out in one write: a system call
    per event (a pipe write wakes the reader) cost more than everything else the watch does per
    event. :meth:`flush` writes whatever is left. When stdout fails (a full disk, a closed
    descriptor, the reader gone) the watch stops; when it stalls, the watch goes on (``--log`` may
    still be written) and the lines are counted as not written.
    """

    def __init__(self, fd: int, *, jsonl: bool, stop: asyncio.Event) -> None:
        self.jsonl = jsonl
        self.stop = stop
        self.output = LineOutput(fd, name="stdout", on_stop=self._stopped)
        self._lines: list[str] = []
        self._scheduled = False
        self._last_flush = 0.0
        self.console: Console | None = None
        if not jsonl:
            from rich.console import Console

            # Rich only formats (into a capture): it must never write or flush stdout itself,
            # or a full or closed stdout would fail inside it. Colours as for stdout.
            self.console = Console(
                file=io.StringIO(),
                force_terminal=True if _isatty(fd) else None,
                highlight=False,
                emoji=False,
                markup=False,
            )

    @property
    def dead(self) -> bool:
        """True once stdout stopped taking lines."""
        return self.output.stopped

    def _stopped(self, output: LineOutput) -> None:
        if not output.stalled:
            self.stop.set()  # nothing can be shown any more: stop watching

    def __call__(self, event: Event) -> None:
        if self.console is None:
            self._lines.append(event.to_json() + "\n")
        elif not (isinstance(event, Note) and event.level == "debug"):
            with self.console.capture() as capture:
                self.console.print(self._line(event), soft_wrap=True)
            self._lines.append(capture.get())
        else:
            return
        if not self._scheduled:
            self._scheduled = True
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # no loop (tests calling it directly): write now
                self.flush()
                return
            wait = self._last_flush + BURST_FLUSH_S - time.monotonic()
            if wait > 0:  # a burst: gather its lines for a moment
                loop.call_later(wait, self.flush)
            else:
                loop.call_soon(self.flush)

    def flush(self) -> None:
        """Hand the pending lines to the output (idempotent; waits only while a reader reads)."""
        self._scheduled = False
        self._last_flush = time.monotonic()
        if not self._lines:
            return
        text, self._lines = "".join(self._lines), []
        self.output.write(text)

    def final(self, verdict: Verdict) -> None:
        """The final verdict, as the probe prints one: code, title, what was seen, the fix."""
        if self.console is None:
            return
        from rich.text import Text

        block = Text("verdict ", style="bold")
        block.append(f"{verdict.code} (exit {verdict.exit_code}): ", style="bold")
        block.append(visible(verdict.title))
        block.append("\n  " + visible(verdict.explanation))
        block.append("\n  fix: " + visible(verdict.fix))
        with self.console.capture() as capture:
            self.console.print(block, soft_wrap=True)
        self._lines.append(capture.get())
        self.flush()

    @staticmethod
    def _line(event: Event) -> Text:
        moment = _dt.datetime.fromtimestamp(event.ts).strftime("%H:%M:%S.%f")[:-3]
        style = (
            _NOTE_STYLES.get(event.level, "default")
            if isinstance(event, Note)
            else _STYLES.get(event.kind, "default")
        )
        from rich.text import Text

        line = Text(moment + " ", style="dim")
        line.append(f"{event.kind:<19}", style=style)
        line.append(" ")
        line.append(visible(event.detail))
        return line


GC_THRESHOLD = (20_000, 20, 20)
"""The collector's thresholds while watching (CPython's default is 700, 10, 10)."""


def _tune_collector() -> None:
    """Fewer collector passes while events stream in.

    Every event allocates a handful of objects that live on in the bounded history, none of them
    in a reference cycle; at the default threshold (a young pass every 700 allocations) the
    collector's passes took a quarter of a storm's time. What was loaded at start-up is frozen
    out of the collector's view, and young passes come every 20,000 allocations: the history is
    bounded (``history_size``), so memory stays bounded too.
    """
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLD)


def _isatty(fd: int) -> bool:
    try:
        return os.isatty(fd)
    except OSError:
        return False


def _silence(fd: int) -> None:
    """Point a dead stdout at /dev/null so the interpreter's final flush does not complain."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fd)
        os.close(devnull)


_STOP_SIGNALS = tuple(
    sig for sig in (getattr(signal, n, None) for n in ("SIGINT", "SIGTERM", "SIGHUP")) if sig
)


async def _watch(
    settings: Settings,
    *,
    jsonl: bool,
    duration: float | None,
    fd: int = 1,
    trace: bool = False,
    textfile: Path | None = None,
    textfile_interval: float = 5.0,
) -> int:
    stop = asyncio.Event()
    har = None
    if settings.har:
        from conndebug.core.har_export import HarRecorder

        har = HarRecorder()
    monitor = make_monitor(settings, trace=trace, har=har)
    _tune_collector()
    printer = _Printer(fd, jsonl=jsonl, stop=stop)
    monitor.bus.subscribe(printer)
    writer = None
    if textfile is not None:
        from conndebug.commands.textfile import TextfileWriter

        writer = TextfileWriter(
            textfile,
            bus=monitor.bus,
            snapshot=monitor.snapshot,
            interval=textfile_interval,
            redactor=monitor.redactor,
        )
    loop = asyncio.get_running_loop()
    handled: list[signal.Signals] = []
    for sig in _STOP_SIGNALS:
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
            handled.append(sig)
    try:
        if printer.dead:  # stdout was closed before anything ran
            stop.set()
        if writer is not None:
            writer.start()
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
        if writer is not None:
            await writer.stop()
        har_problem = await _save_har(monitor, har, settings)
        printer.flush()
        final = monitor.verdict
        if final is not None and not jsonl:
            printer.final(final)  # in --jsonl the last verdict event is the final verdict
        await printer.output.aclose()
        for sig in handled:
            loop.remove_signal_handler(sig)
    if printer.output.stopped:
        _silence(fd)  # nothing more for it; the interpreter's own flush must not fail either
    summary = f"watch: {snap.state.value}"
    if snap.state in (State.CONNECTED, State.STALLED) and snap.transport:
        summary += f" over {snap.transport}"
    verdict = snap.diagnosis
    if verdict is not None:
        summary += f" — {verdict.code}: {verdict.title}"
    elif snap.verdict:
        summary += f" — {snap.verdict}"
    problems = []
    stdout = printer.output
    if stdout.problem and not stdout.gone:
        problems.append(stdout.problem)
    log = monitor.log
    if log is not None and log.problem:
        problems.append(log.problem)
    if har_problem:
        problems.append(har_problem)
    if problems:
        code = 3
    lines = [monitor.redactor.text(summary) + f" (exit {code})", *problems]
    write_bounded(2, "\n".join(lines) + "\n")
    return code


async def _save_har(monitor: Monitor, har: HarRecorder | None, settings: Settings) -> str | None:
    """Write ``--har`` (in a worker thread); the problem in words if it could not be."""
    if har is None or not settings.har:
        return None
    from conndebug.core.har_export import save_har

    try:
        await save_har(
            har, Path(settings.har), monitor.redactor, title=f"conndebug watch {settings.url}"
        )
    except (OSError, asyncio.TimeoutError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        return f"--har {settings.har} could not be written: {reason}"
    return None


def run_watch(
    settings: Settings,
    *,
    jsonl: bool,
    duration: float | None,
    trace: bool = False,
    textfile: Path | None = None,
    textfile_interval: float = 5.0,
) -> int:
    """Watch the connection headlessly; returns the exit code (see the module docstring).

    ``textfile``: keep this node_exporter textfile up to date (:mod:`.textfile`)."""
    return asyncio.run(
        _watch(
            settings,
            jsonl=jsonl,
            duration=duration,
            fd=1,
            trace=trace,
            textfile=textfile,
            textfile_interval=textfile_interval,
        )
    )
