"""Reconnection delays exactly as socket.io-client computes them (its ``Backoff`` class).

For attempt ``n`` (0-based) the delay in milliseconds is ``ms = min × 2ⁿ``; with a jitter factor
``j`` one random number ``r`` in [0, 1) gives the deviation ``floor(r × j × ms)``, which is
*subtracted* when ``floor(r × 10)`` is even and *added* when it is odd; the result is capped at
``max`` and truncated to whole milliseconds. With the seed's policy (1 s, 5 s, 0.5) the delays are
0.5–1.5 s, 1–3 s, 2–5 s, then 5 s.

Unlike the JavaScript original, a huge attempt number cannot overflow into ``NaN`` (which would
make socket.io-client retry after 0 ms): the exponent is bounded. Randomness is injected.
"""

from __future__ import annotations

import math
import random

__all__ = ["Backoff"]

_MAX_EXPONENT = 64


class Backoff:
    """Delays for successive reconnection attempts; :meth:`reset` after a success."""

    def __init__(
        self,
        *,
        min_s: float,
        max_s: float,
        jitter: float,
        rng: random.Random | None = None,
    ) -> None:
        self.min_ms = min_s * 1000.0
        self.max_ms = max_s * 1000.0
        self.jitter = jitter
        self.rng = rng or random.Random()
        self.attempts = 0
        """Delays handed out since the last reset (socket.io-client's ``backoff.attempts``)."""

    def duration(self) -> float:
        """The next delay in seconds (and count the attempt)."""
        ms = self.min_ms * 2.0 ** min(self.attempts, _MAX_EXPONENT)
        self.attempts += 1
        if self.jitter:
            rand = self.rng.random()
            deviation = math.floor(rand * self.jitter * ms)
            ms = ms - deviation if (math.floor(rand * 10) & 1) == 0 else ms + deviation
        return int(min(ms, self.max_ms)) / 1000.0

    def reset(self) -> None:
        """Start again from the first delay."""
        self.attempts = 0
