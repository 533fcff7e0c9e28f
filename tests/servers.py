"""Shared test helper: the reference server on a free loopback port, for any test that needs one.

    from tests.servers import reference_server

    async with reference_server(websocket="reject") as server:
        token, user = await server.create_guest()
        ...  # server.url, server.admin_key, server.set_blackhole(True), ...

Defaults differ from ``conndebug serve`` only where tests need speed: port 0 and a 1 s ping
interval (so python-engineio's long-polls turn over quickly); pass any ``ServerConfig`` field to
override.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from conndebug.core.clock import Clock
from conndebug.server import ReferenceServer, ServerConfig

__all__ = ["TEST_DEFAULTS", "reference_server"]

TEST_DEFAULTS: dict[str, Any] = {
    "host": "127.0.0.1",
    "port": 0,
    "ping_interval": 1.0,
    "ping_timeout": 10.0,
}


@contextlib.asynccontextmanager
async def reference_server(
    *, clock: Clock | None = None, **overrides: Any
) -> AsyncIterator[ReferenceServer]:
    """A started :class:`ReferenceServer` (stopped when the block ends)."""
    config = ServerConfig(**{**TEST_DEFAULTS, **overrides})
    server = ReferenceServer(config, clock=clock)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
