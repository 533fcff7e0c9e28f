"""The reference server alone in a process, for resource tests (descriptors, memory).

    python -m tests.server.resource_peer [--nofile N] [--memory-mb M]   # prints {"port": P, ...}

``--nofile`` lowers ``RLIMIT_NOFILE`` first (as ``ulimit -n N`` would), ``--memory-mb`` the
address space (``ulimit -v``). It runs until its stdin
closes; the test ends it by its pid.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys

from conndebug.server import ReferenceServer, ServerConfig


async def _main(nofile: int | None, memory_mb: int | None) -> None:
    if nofile is not None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
    if memory_mb is not None:
        limit = memory_mb << 20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    server = ReferenceServer(
        ServerConfig(host="127.0.0.1", port=0, ping_interval=5.0, ping_timeout=5.0)
    )
    await server.start()
    try:
        print(json.dumps({"port": server.port, "admin_key": server.admin_key}), flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    finally:
        await server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--nofile", type=int)
    parser.add_argument("--memory-mb", type=int)
    args = parser.parse_args()
    asyncio.run(_main(args.nofile, args.memory_mb))
