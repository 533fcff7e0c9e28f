"""The reference server: the chat backend's contract plus fault switches.

    from conndebug.server import ReferenceServer, ServerConfig

    async with ReferenceServer(ServerConfig(port=0)) as server:
        token, user = await server.create_guest()
        server.set_websocket("reject")        # a proxy that refuses upgrades
        await server.restart(down_s=2)        # refuse connections for 2 s

Importing this package pulls in python-socketio and aiohttp, never Textual.
"""

from conndebug.server.config import Faults, ServerConfig, parse_duration
from conndebug.server.core import ReferenceServer, ServerStats
from conndebug.server.store import MemorySessionStore, SessionStore

__all__ = [
    "Faults",
    "MemorySessionStore",
    "ReferenceServer",
    "ServerConfig",
    "ServerStats",
    "SessionStore",
    "parse_duration",
]
