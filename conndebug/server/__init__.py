"""The reference server: the chat backend's contract plus fault switches.

    from conndebug.server import ReferenceServer, ServerConfig

    async with ReferenceServer(ServerConfig(port=0)) as server:
        token, user = await server.create_guest()
        server.set_websocket("reject")        # a proxy that refuses upgrades
        await server.restart(down_s=2)        # refuse connections for 2 s

Importing this package is cheap: python-socketio and aiohttp load on first use of
``ReferenceServer`` (so ``conndebug serve`` reports bad flags instantly). Never imports Textual.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from conndebug.server.config import Faults, ServerConfig, parse_duration
from conndebug.server.store import MemorySessionStore, SessionStore

if TYPE_CHECKING:
    from conndebug.server.core import ReferenceServer, ServerStats

__all__ = [
    "Faults",
    "MemorySessionStore",
    "ReferenceServer",
    "ServerConfig",
    "ServerStats",
    "SessionStore",
    "parse_duration",
]


def __getattr__(name: str) -> Any:
    if name in ("ReferenceServer", "ServerStats"):
        return getattr(importlib.import_module("conndebug.server.core"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
