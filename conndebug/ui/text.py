"""Plain formatting for the panels: times, durations, percentiles, the state badge.

Pure functions of a :class:`~conndebug.core.model.Snapshot` and the clock's readings, so the words
on screen are tested without a terminal. A figure that is not known is shown as ``unknown``,
never guessed.
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Sequence
from dataclasses import dataclass

from conndebug.core.model import Snapshot, State

__all__ = [
    "LINE_CHARS",
    "UNKNOWN",
    "Badge",
    "Now",
    "age",
    "badge",
    "clip",
    "duration",
    "local_time",
    "millis",
    "percentile",
    "short_id",
]

UNKNOWN = "unknown"
"""What a panel shows for a figure nobody measured."""

LINE_CHARS = 2_000
"""The most characters of one server-supplied text (an event's name, detail or preview) a log
widget renders: a 1 MB event name must not become a line that takes seconds to wrap and draw."""


def clip(text: str, limit: int = LINE_CHARS) -> str:
    """``text`` cut to ``limit`` characters, saying how much was left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… (+{len(text) - limit:,} characters)"


@dataclass(frozen=True)
class Now:
    """One reading of the clock, shared by every panel in a refresh."""

    mono: float
    """Monotonic seconds (the clock of ages and countdowns)."""
    wall: float
    """Epoch seconds (the clock of timestamps)."""
    tz: _dt.tzinfo | None = None
    """Time zone of displayed times (``None``: the local one)."""

    def time_of(self, ts: float) -> str:
        """``ts`` (epoch seconds) as ``HH:MM:SS.mmm`` in this reading's time zone."""
        return local_time(ts, self.tz)


def local_time(ts: float, tz: _dt.tzinfo | None = None) -> str:
    """Wall-clock ``ts`` (epoch seconds) as local ``HH:MM:SS.mmm`` (or in ``tz`` when given)."""
    moment = _dt.datetime.fromtimestamp(ts, tz=tz) if tz else _dt.datetime.fromtimestamp(ts)
    return moment.strftime("%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def duration(seconds: float) -> str:
    """A duration in the largest sensible units: ``0.4 s``, ``12 s``, ``4 min 03 s``, ``6 d 23 h``."""
    if not math.isfinite(seconds):
        return UNKNOWN
    s = max(0.0, seconds)
    if s < 10:
        return f"{s:.1f} s"
    if s < 60:
        return f"{s:.0f} s"
    whole = int(s)
    if whole < 3600:
        return f"{whole // 60} min" + (f" {whole % 60:02d} s" if whole % 60 else "")
    if whole < 86400:
        return f"{whole // 3600} h {(whole % 3600) // 60:02d} min"
    return f"{whole // 86400} d {(whole % 86400) // 3600} h"


def age(since: float | None, now: float) -> str:
    """How long ago ``since`` was (same clock as ``now``), or ``unknown``."""
    if since is None:
        return UNKNOWN
    return f"{duration(now - since)} ago"


def millis(ms: float | None) -> str:
    """A latency: ``0.62 ms``, ``12.4 ms``, ``230 ms``, ``1.50 s``; ``unknown`` when not measured."""
    if ms is None or not math.isfinite(ms):
        return UNKNOWN
    if ms < 1:
        return f"{ms:.2f} ms"
    if ms < 100:
        return f"{ms:.1f} ms"
    if ms < 1000:
        return f"{ms:.0f} ms"
    return f"{ms / 1000:.2f} s"


def percentile(values: Sequence[float], p: float) -> float | None:
    """The nearest-rank ``p``-th percentile (0 < p ≤ 100) of ``values``; ``None`` when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def short_id(value: str | None, width: int = 24) -> str:
    """An id cut to ``width`` characters with an ellipsis, or ``unknown``."""
    if not value:
        return UNKNOWN
    return value if len(value) <= width else value[: width - 1] + "…"


@dataclass(frozen=True)
class Badge:
    """The big state badge: its words and the CSS class that colours it."""

    label: str
    css_class: str


_LABELS = {
    State.IDLE: "Starting",
    State.CONNECTING: "Connecting",
    State.CONNECTED: "Connected",
    State.STALLED: "Stalled",
    State.RECONNECTING: "Reconnecting",
    State.DISCONNECTED: "Disconnected",
    State.FAILED: "Failed",
    State.STOPPED: "Stopped",
}


def badge(snap: Snapshot, now: Now) -> Badge:
    """The badge for ``snap``: e.g. ``Reconnecting 3/10 in 3.2 s`` or ``Connected · polling``.

    A stalled badge counts the time since the state was entered, from the same reading as the
    Status panel's "since" line, so the two never disagree.
    """
    now_mono = now.mono
    label = _LABELS[snap.state]
    css = f"-{snap.state.value}"
    if snap.state is State.RECONNECTING:
        if snap.reconnect_attempt:
            of = f"/{snap.reconnect_max}" if snap.reconnect_max else ""
            label += f" {snap.reconnect_attempt}{of}"
        if snap.next_attempt_at is not None:
            left = snap.next_attempt_at - now_mono
            label += f" in {max(0.0, left):.1f} s" if left > 0 else " (trying now)"
    elif snap.state is State.CONNECTED and snap.transport == "polling":
        label += " · polling"
        css += " -polling"
    elif snap.state is State.STALLED and snap.state_since is not None:
        label += f" {duration(now.wall - snap.state_since)}"
    return Badge(label, css)
