"""The ``--log`` file: every history event appended as one JSON line, as it happens.

The file is opened with ``O_APPEND`` and written through a :class:`~conndebug.core.output.LineOutput`:
a regular file gets each complete line (``event.to_json() + "\\n"``) with a single ``os.write`` —
no user-space buffer, so nothing is lost when the process is killed (even with SIGKILL), and lines
from two processes appending to one file never interleave; a FIFO or a pipe gets them from a writer
thread, so a reader that stops reading cannot freeze the caller. When the disk fills up (or the
reader goes away, or stalls) the log ends on a whole line and stops; :attr:`JsonlLog.problem` says
``--log stopped after N events: <reason>`` and ``on_stop`` is called once, so the owner can say it
in the history too.
"""

from __future__ import annotations

from collections.abc import Callable

from conndebug.core.events import Event
from conndebug.core.output import CLOSE_S, LineOutput, open_for_writing

__all__ = ["JsonlLog"]


class JsonlLog:
    """An :class:`~conndebug.core.events.EventBus` subscriber that appends JSON lines to a file."""

    def __init__(self, path: str, *, on_stop: Callable[[JsonlLog], None] | None = None) -> None:
        self.path = path
        self._on_stop = on_stop
        fd = open_for_writing(path, name="--log")  # a ConfigError when it cannot be opened
        self.output = LineOutput(
            fd, name="--log", unit="events", owns_fd=True, on_stop=self._stopped
        )

    @property
    def lines(self) -> int:
        """Events written as whole lines."""
        return self.output.lines

    @property
    def error(self) -> str | None:
        """Why the log stopped (disk full, reader gone or stalled), else ``None``; later events
        are counted, not written."""
        return self.output.error

    @property
    def problem(self) -> str | None:
        """``--log stopped after N events: <reason>``, or ``None`` while all is well."""
        return self.output.problem

    def _stopped(self, _output: LineOutput) -> None:
        if self._on_stop is not None:
            self._on_stop(self)

    def __call__(self, event: Event) -> None:
        self.output.write(event.to_json() + "\n")

    def write_line(self, line: str) -> None:
        """Append one line (a newline is added): one system call for a regular file."""
        self.output.write(line + "\n")

    def close(self, timeout: float = CLOSE_S) -> None:
        """Close the file, waiting at most ``timeout`` for a FIFO's reader (idempotent)."""
        self.output.close(timeout)
