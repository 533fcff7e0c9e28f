"""N reference servers in one process, each on its own free loopback port (for the fleet benchmark).

    python -m bench.fleet_server N

Prints one JSON line ``{"urls": [...]}`` once all listen, then runs until SIGTERM. The REST rate
limits are raised (a fleet run creates a guest session per probe); everything else is
``conndebug serve``'s defaults.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys


async def main(count: int) -> None:
    from conndebug.server import ReferenceServer, ServerConfig

    servers = [
        ReferenceServer(
            ServerConfig(
                host="127.0.0.1",
                port=0,
                api_rate_limit=(1_000_000, 60.0),
                socket_rate_limit=(1_000_000, 60.0),
            )
        )
        for _ in range(count)
    ]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        for server in servers:
            await server.start()
        print(json.dumps({"urls": [s.url for s in servers]}), flush=True)
        await stop.wait()
    finally:
        for server in servers:
            with contextlib.suppress(Exception):
                await server.stop()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
