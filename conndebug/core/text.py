"""Text from the outside world made fit for one line of history, a verdict title or a log line.

A hostile or broken server's bytes can end up in an exception's message (an HTTP parser quotes
the "status line" it could not read); :func:`one_line` keeps such text printable, on one line and
short.
"""

from __future__ import annotations

__all__ = ["one_line"]

ONE_LINE = 240
"""The default length of :func:`one_line`."""


def one_line(text: str, limit: int = ONE_LINE) -> str:
    """``text`` as one printable line of at most ``limit`` characters (``…`` marks a cut)."""
    flat = " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
