"""Fixed-window rate limiting per key, as express-rate-limit's memory store counts."""

from __future__ import annotations

import math
from dataclasses import dataclass

from conndebug.core.clock import Clock

__all__ = ["Verdict", "WindowLimiter"]


@dataclass(frozen=True)
class Verdict:
    """The outcome of one hit."""

    allowed: bool
    limit: int
    remaining: int
    reset_s: int
    """Seconds until the key's window ends (rounded up)."""


class WindowLimiter:
    """At most ``limit`` hits per key in a window of ``window`` seconds from the key's first hit."""

    def __init__(self, limit: int, window: float, clock: Clock) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._windows: dict[str, tuple[float, int]] = {}

    def hit(self, key: str) -> Verdict:
        """Count one hit for ``key``."""
        now = self._clock.monotonic()
        if len(self._windows) > 10_000:  # forget finished windows now and then
            self._windows = {k: v for k, v in self._windows.items() if v[0] + self.window > now}
        start, count = self._windows.get(key, (now, 0))
        if start + self.window <= now:
            start, count = now, 0
        count += 1
        self._windows[key] = (start, count)
        reset = max(0, math.ceil(start + self.window - now))
        return Verdict(count <= self.limit, self.limit, max(0, self.limit - count), reset)
