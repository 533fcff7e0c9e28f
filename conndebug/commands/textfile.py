"""``conndebug watch URL --prom-textfile FILE``: the live connection for node_exporter's textfile
collector.

Every ``interval`` seconds, and soon after the connection connects, drops, stalls or gives up, the
file is rewritten atomically (prometheus_client's ``write_to_textfile``: a temporary file in the
same folder, then a rename, so node_exporter never reads half a file). It holds::

    conndebug_watch_info{url, namespace}          1 (which target this file is about)
    conndebug_watch_state{state}                  1 for the current state, 0 for the others
    conndebug_watch_transport{transport}          1 for the transport in use (while connected)
    conndebug_watch_up_seconds                    how long the current connection has lasted (0: none)
    conndebug_watch_running_seconds               how long the watch has run
    conndebug_watch_connects_total                connections made
    conndebug_watch_drops_total{reason}           connections lost, by reason (transport close,
                                                  ping timeout, io server disconnect, ...)
    conndebug_watch_rtt_seconds                   the latest round trip (while connected)

The counts come from the monitor's event stream (a subscriber on its bus); the state, transport
and round trip from its public snapshot. The writer never reaches into the monitor.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from conndebug.core.errors import ConfigError
from conndebug.core.events import Connected, Disconnected, Event, EventBus, ReconnectFailed, Stall
from conndebug.core.model import Snapshot, State
from conndebug.core.redact import Redactor

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

__all__ = ["DEFAULT_INTERVAL_S", "MAX_REASONS", "TextfileWriter", "check_textfile", "drop_reason"]

DEFAULT_INTERVAL_S = 5.0
MAX_REASONS = 16
"""Distinct drop reasons kept as labels; later new ones count as ``other`` (bounded cardinality)."""
_PROMPT_S = 0.2
"""After a state-changing event, the file is rewritten within this long."""
_OWN_REASON = "io client disconnect"
"""Disconnects conndebug itself made (stopping, a requested reconnect): not drops."""


def check_textfile(path: str) -> Path:
    """The textfile's path, if its folder exists and is writable (ConfigError otherwise)."""
    target = Path(path).expanduser()
    if target.is_dir():
        raise ConfigError(f"--prom-textfile {path!r} is a directory", "give a file name")
    if not target.name.endswith(".prom"):
        raise ConfigError(
            f"--prom-textfile {path!r} does not end in .prom",
            "node_exporter's textfile collector reads only *.prom files",
        )
    folder = target.parent
    if not folder.is_dir():
        raise ConfigError(
            f"--prom-textfile: the folder {str(folder)!r} does not exist",
            "use node_exporter's --collector.textfile.directory",
        )
    if not os.access(folder, os.W_OK):
        raise ConfigError(
            f"--prom-textfile: the folder {str(folder)!r} is not writable",
            "the file is written next to itself and renamed into place",
        )
    return target


def drop_reason(reason: str) -> str:
    """A disconnect reason as a label: its head, without the details in parentheses."""
    head = reason.split(" (", 1)[0].split(": ", 1)[0].strip().lower()
    return head[:48] or "unknown"


class TextfileWriter:
    """Keeps ``path`` up to date with the monitor's state while the watch runs."""

    def __init__(
        self,
        path: Path,
        *,
        bus: EventBus,
        snapshot: Callable[[], Snapshot],
        interval: float = DEFAULT_INTERVAL_S,
        redactor: Redactor | None = None,
        errors: TextIO | None = None,
    ) -> None:
        self.path = path
        self.interval = interval
        self._snapshot = snapshot
        self._redactor = redactor or Redactor()
        self._started = time.monotonic()
        self._up_since: float | None = None
        self.connects = 0
        self.drops: dict[str, int] = {}
        self.writes = 0
        self.error: str | None = None
        """The last write's error, while writes fail."""
        self.errors = errors if errors is not None else sys.stderr
        self._task: asyncio.Task[None] | None = None
        self._soon: asyncio.TimerHandle | None = None
        self._unsubscribe = bus.subscribe(self.observe)

    # -- the event stream --------------------------------------------------------------------
    def observe(self, event: Event) -> None:
        """Count connects and drops; rewrite the file soon after a change of state."""
        if isinstance(event, Connected):
            self.connects += 1
            self._up_since = time.monotonic()
        elif isinstance(event, Disconnected):
            self._up_since = None
            if not event.reason.startswith(_OWN_REASON):
                reason = drop_reason(event.reason)
                if reason not in self.drops and len(self.drops) >= MAX_REASONS:
                    reason = "other"
                self.drops[reason] = self.drops.get(reason, 0) + 1
        elif not isinstance(event, (Stall, ReconnectFailed)):
            return
        self._write_soon()

    def _write_soon(self) -> None:
        if self._soon is not None or self._task is None:
            return
        with contextlib.suppress(RuntimeError):
            self._soon = asyncio.get_running_loop().call_later(_PROMPT_S, self._prompt_write)

    def _prompt_write(self) -> None:
        self._soon = None
        self._try_write()

    # -- the file ----------------------------------------------------------------------------
    def registry(self) -> CollectorRegistry:
        """The metrics as a prometheus_client collector registry."""
        from prometheus_client import CollectorRegistry
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
        from prometheus_client.registry import Collector

        snap = self._snapshot()
        now = time.monotonic()
        up = now - self._up_since if self._up_since is not None else 0.0
        writer = self

        class _Collector(Collector):
            def collect(self) -> Iterator[Metric]:
                info = GaugeMetricFamily(
                    "conndebug_watch_info",
                    "The target this file is about",
                    labels=["url", "namespace"],
                )
                info.add_metric([writer._redactor.text(snap.url), snap.namespace], 1.0)
                yield info
                state = GaugeMetricFamily(
                    "conndebug_watch_state",
                    "1 for the connection's current state",
                    labels=["state"],
                )
                for value in State:
                    state.add_metric([value.value], 1.0 if value is snap.state else 0.0)
                yield state
                transport = GaugeMetricFamily(
                    "conndebug_watch_transport", "The transport in use", labels=["transport"]
                )
                if snap.transport and snap.state in (State.CONNECTED, State.STALLED):
                    transport.add_metric([snap.transport], 1.0)
                yield transport
                yield GaugeMetricFamily(
                    "conndebug_watch_up_seconds",
                    "How long the current connection has lasted (0 while not connected)",
                    value=up,
                )
                yield GaugeMetricFamily(
                    "conndebug_watch_running_seconds",
                    "How long the watch has run",
                    value=now - writer._started,
                )
                yield CounterMetricFamily(
                    "conndebug_watch_connects", "Connections made", value=writer.connects
                )
                drops = CounterMetricFamily(
                    "conndebug_watch_drops", "Connections lost, by reason", labels=["reason"]
                )
                for reason, count in sorted(writer.drops.items()):
                    drops.add_metric([reason], count)
                yield drops
                if snap.rtt_ms is not None and snap.state in (State.CONNECTED, State.STALLED):
                    yield GaugeMetricFamily(
                        "conndebug_watch_rtt_seconds",
                        "The latest round trip",
                        value=snap.rtt_ms / 1000,
                    )

        registry = CollectorRegistry(auto_describe=False)
        registry.register(_Collector())
        return registry

    def write(self) -> None:
        """Rewrite the file now (atomically); an error is raised as OSError."""
        from prometheus_client import write_to_textfile

        write_to_textfile(str(self.path), self.registry())
        self.writes += 1

    def _try_write(self) -> None:
        """:meth:`write`, saying once on ``errors`` when it fails (the watch goes on)."""
        try:
            self.write()
        except OSError as exc:
            if self.error is None:
                self.error = f"{exc.strerror or exc}"
                with contextlib.suppress(OSError, ValueError):
                    print(
                        f"watch: cannot write {self.path}: {self.error} (retrying every "
                        f"{self.interval:g} s)",
                        file=self.errors,
                        flush=True,
                    )
        else:
            self.error = None

    async def _loop(self) -> None:
        while True:
            self._try_write()
            await asyncio.sleep(self.interval)

    def start(self) -> None:
        """Write now, then every ``interval`` seconds until :meth:`stop`."""
        self._task = asyncio.create_task(self._loop(), name="conndebug-textfile")

    async def stop(self) -> None:
        """Stop the periodic writes and write the final state once more."""
        self._unsubscribe()
        if self._soon is not None:
            self._soon.cancel()
            self._soon = None
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._try_write()
