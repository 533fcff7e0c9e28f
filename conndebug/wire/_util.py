"""Small shared helpers: a time limit without a task per call, clocks, printable samples."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable
from typing import TypeVar

__all__ = ["ms_since", "printable", "seconds", "within"]

T = TypeVar("T")

if sys.version_info >= (3, 11):

    async def within(awaitable: Awaitable[T], timeout: float) -> T:
        """``await awaitable``, bounded by ``timeout`` (``asyncio.TimeoutError``) in the caller's
        own task: ``asyncio.wait_for`` makes a task per call before Python 3.12, and a probe
        waits on dozens of reads (a fleet of targets, thousands)."""
        async with asyncio.timeout(timeout):
            return await awaitable

else:  # pragma: no cover - Python 3.10

    async def within(awaitable: Awaitable[T], timeout: float) -> T:
        """``await awaitable``, bounded by ``timeout`` (``asyncio.TimeoutError``)."""
        return await asyncio.wait_for(awaitable, timeout)


def ms_since(start: float) -> float:
    """Milliseconds since ``start`` (a ``time.monotonic()`` reading)."""
    return (time.monotonic() - start) * 1000.0


def printable(data: bytes | bytearray, n: int = 80) -> str:
    """The first ``n`` bytes as printable ASCII (anything else shown as ``.``)."""
    return "".join(chr(b) if 32 <= b < 127 else "." for b in data[:n])


def seconds(value: float) -> str:
    """A time limit in words' precision: ``3``, ``1.5``, ``0.25`` (what is left of a budget
    reads ``2``, not ``1.97199``)."""
    if value >= 10:
        return f"{value:.0f}"
    if value >= 1:
        return f"{value:.1f}".rstrip("0").rstrip(".")
    return f"{value:.2g}"
