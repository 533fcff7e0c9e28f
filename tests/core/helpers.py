"""Helpers for the core's tests: settings for a URL, waiting for conditions, reading the history."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from conndebug.config import Settings
from conndebug.core.events import Event, EventBus
from conndebug.core.monitor import Monitor

__all__ = ["events_of", "kinds", "settings_for", "wait_for_event", "wait_until"]


def settings_for(url: str, **overrides: Any) -> Settings:
    """Settings for tests: short timeouts, no proxy from the environment unless asked."""
    values: dict[str, Any] = {
        "url": url,
        "ws_timeout": 1.0,
        "connect_timeout": 5.0,
        "env_proxy": False,
    }
    values.update(overrides)
    return Settings(**values)


async def wait_until(predicate: Callable[[], bool], timeout: float, what: str = "") -> None:
    """Poll ``predicate`` every 10 ms until it holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or predicate}")
        await asyncio.sleep(0.01)


def kinds(bus: EventBus, *, verdicts: bool = True) -> list[str]:
    """The kinds in the history, in order (``verdicts=False``: without the ``verdict`` events
    of the diagnosis following along)."""
    return [e.kind for e in bus.history if verdicts or e.kind != "verdict"]


def events_of(bus: EventBus, kind: str) -> list[Any]:
    return [e for e in bus.history if e.kind == kind]


async def wait_for_event(
    monitor: Monitor,
    kind: str,
    timeout: float,
    *,
    after: int = 0,
    match: Callable[[Any], bool] | None = None,
) -> Event:
    """Wait until an event of ``kind`` (matching ``match``) appears after position ``after``."""
    found: list[Event] = []

    def look() -> bool:
        for event in list(monitor.bus.history)[after:]:
            if event.kind == kind and (match is None or match(event)):
                found.append(event)
                return True
        return False

    await wait_until(look, timeout, f"a {kind!r} event")
    return found[0]
