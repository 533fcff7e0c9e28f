"""Where guest-session records live: a small async store with per-record lifetimes.

The chat backend keeps each guest session under ``guest:<sessionId>`` with a TTL (Redis ``SETEX``
or an in-memory map). :class:`SessionStore` is that seam; :class:`MemorySessionStore` is the
in-memory kind, timed by the injected clock so tests can expire sessions without waiting; the Redis
kind is :class:`conndebug.server.redis_store.RedisSessionStore`, chosen by :func:`make_store`.
"""

from __future__ import annotations

import copy
from typing import Any, Protocol

from conndebug.core.clock import Clock

__all__ = ["MemorySessionStore", "SessionStore", "make_store", "session_key"]

Record = dict[str, Any]


def session_key(session_id: str) -> str:
    """The backend's key of a session record."""
    return f"guest:{session_id}"


class SessionStore(Protocol):
    """Guest-session records with lifetimes."""

    async def get(self, session_id: str) -> Record | None:
        """The live record of ``session_id``, or ``None`` (never stored, expired or deleted)."""
        ...

    async def put(self, session_id: str, record: Record, ttl: float) -> None:
        """Store ``record`` for ``ttl`` seconds (replacing any earlier one)."""
        ...

    async def delete(self, session_id: str) -> bool:
        """Delete one record; True if a live one was there."""
        ...

    async def delete_all(self) -> int:
        """Delete every record; the number of live ones deleted."""
        ...

    async def count(self) -> int:
        """How many live records there are."""
        ...

    async def close(self) -> None:
        """Release connections (a no-op in memory)."""
        ...


class MemorySessionStore:
    """Records in a dict, each with a deadline on the clock's monotonic time."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._records: dict[str, tuple[float, Record]] = {}

    def _purge(self) -> None:
        now = self._clock.monotonic()
        for key in [k for k, (deadline, _) in self._records.items() if deadline <= now]:
            del self._records[key]

    async def get(self, session_id: str) -> Record | None:
        self._purge()
        entry = self._records.get(session_key(session_id))
        return copy.deepcopy(entry[1]) if entry else None

    async def put(self, session_id: str, record: Record, ttl: float) -> None:
        self._purge()
        deadline = self._clock.monotonic() + ttl
        self._records[session_key(session_id)] = (deadline, copy.deepcopy(record))

    async def delete(self, session_id: str) -> bool:
        self._purge()
        return self._records.pop(session_key(session_id), None) is not None

    async def delete_all(self) -> int:
        self._purge()
        count = len(self._records)
        self._records.clear()
        return count

    async def count(self) -> int:
        self._purge()
        return len(self._records)

    async def close(self) -> None:
        self._records.clear()


def make_store(redis_url: str | None, clock: Clock) -> SessionStore:
    """The store a configuration asks for: Redis with a URL (``redis`` loads only then)."""
    if redis_url:
        from conndebug.server.redis_store import RedisSessionStore

        return RedisSessionStore(redis_url)
    return MemorySessionStore(clock)
