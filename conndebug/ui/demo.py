"""The demo's fault switches as the TUI sees them: what the keys flip, in which order.

The app talks to the in-process reference server only through :class:`DemoServer` (the real
``ReferenceServer`` satisfies it; tests pass a fake). Each key press becomes one call on the server
plus one plain-words history note, so its effect is on screen at once.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Protocol

__all__ = [
    "LATENCY_STEPS",
    "RESTART_DOWN_S",
    "WEBSOCKET_MODES",
    "DemoServer",
    "Faults",
    "latency_step",
    "next_websocket_mode",
    "settle",
]

WEBSOCKET_MODES = ("allow", "reject", "blackhole")
"""The firewall cycle of ``f``."""

WEBSOCKET_WORDS = {
    "allow": "allow",
    "reject": "reject (403 on upgrade)",
    "blackhole": "blackhole (no answer)",
}
"""What each websocket mode means, for the demo panel (short: the words and their label fit the
side panel's 36 columns at 120×35; narrower, they wrap under themselves)."""

LATENCY_STEPS = (0.0, 50.0, 200.0, 500.0, 1000.0)
"""Added latency steps (ms) of ``+`` and ``-``."""

RESTART_DOWN_S = 4.0
"""How long ``t`` keeps the server down (long enough to see the reconnection countdown)."""


class Faults(Protocol):
    """The server's current fault switches (read-only view)."""

    @property
    def websocket(self) -> str: ...

    @property
    def blackhole(self) -> bool: ...

    @property
    def latency_ms(self) -> float: ...

    @property
    def cors(self) -> str: ...

    @property
    def down_until(self) -> float | None: ...


class DemoServer(Protocol):
    """What the demo needs from the reference server."""

    @property
    def url(self) -> str: ...

    @property
    def faults(self) -> Faults: ...

    def set_websocket(self, mode: str) -> object: ...

    def set_blackhole(self, on: bool) -> object: ...

    def set_latency(self, ms: float) -> object: ...

    def kick_all(self) -> Awaitable[object]: ...

    def restart(self, down_s: float) -> Awaitable[object]: ...

    def on_change(self, callback: Callable[[str], None]) -> object: ...

    def stop(self) -> Awaitable[object]: ...


def next_websocket_mode(current: str) -> str:
    """allow → reject → blackhole → allow (anything unknown goes back to allow)."""
    if current not in WEBSOCKET_MODES:
        return "allow"
    return WEBSOCKET_MODES[(WEBSOCKET_MODES.index(current) + 1) % len(WEBSOCKET_MODES)]


def latency_step(current: float, direction: int) -> float:
    """The next latency step up (``direction`` > 0) or down from ``current`` ms."""
    if direction > 0:
        return next((s for s in LATENCY_STEPS if s > current), LATENCY_STEPS[-1])
    return next((s for s in reversed(LATENCY_STEPS) if s < current), LATENCY_STEPS[0])


async def settle(result: object) -> object:
    """Await ``result`` when a switch turned out to be a coroutine; return it otherwise."""
    if inspect.isawaitable(result):
        return await result
    return result
