"""The ``--log`` file: every history event appended as one JSON line, as it happens.

The file is opened with ``O_APPEND`` and each complete line (``event.to_json() + "\\n"``) goes out
with a single ``os.write``: no user-space buffer, so nothing is lost when the process is killed
(even with SIGKILL), and lines from two processes appending to one file never interleave. A write
costs a few microseconds, so thousands of events per second keep up.
"""

from __future__ import annotations

import contextlib
import os

from conndebug.core.errors import ConfigError
from conndebug.core.events import Event

__all__ = ["JsonlLog"]


class JsonlLog:
    """An :class:`~conndebug.core.events.EventBus` subscriber that appends JSON lines to a file."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.lines = 0
        self.error: str | None = None
        """Set when a write failed (disk full...); later events are not written."""
        try:
            self._fd: int | None = os.open(
                path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644
            )
        except OSError as exc:
            raise ConfigError(
                f"--log {path!r} cannot be opened", exc.strerror or str(exc)
            ) from None

    def __call__(self, event: Event) -> None:
        self.write_line(event.to_json())

    def write_line(self, line: str) -> None:
        """Append one line (a newline is added) with one system call."""
        if self._fd is None:
            return
        data = (line + "\n").encode("utf-8", "surrogateescape")
        try:
            written = os.write(self._fd, data)
            while written < len(data):  # only on odd file systems; regular files write whole
                written += os.write(self._fd, data[written:])
        except OSError as exc:
            self.error = exc.strerror or str(exc)
            self.close()
            return
        self.lines += 1

    def close(self) -> None:
        """Close the file (idempotent)."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            with contextlib.suppress(OSError):  # already bad after a failed write: nothing to save
                os.close(fd)
