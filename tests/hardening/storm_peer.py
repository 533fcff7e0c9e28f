"""A Socket.IO server that storms every client from the moment it connects, in its own process.

    python -m tests.hardening.storm_peer [SIZE]   # prints {"port": N} once listening

Each client gets numbered events (``storm`` ``{"i": n, "pad": "x" * SIZE}``) as fast as the server
can send them, until it goes. A separate process, so the storm does not compete with the client
under test for its event loop (as a real server would not). :func:`storm_peer` runs it for a
``async with`` block and ends it by its pid.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import AsyncIterator
from typing import Any

from tests.conftest import ROOT
from tests.hardening.peers import Peer, sio_peer

__all__ = ["storm", "storm_peer"]


async def storm(sio: Any, sid: str, peer: Peer, pad: str = "") -> None:
    """Emit numbered events to ``sid`` without end."""
    i = 0
    while True:
        await sio.emit("storm", {"i": i, "pad": pad} if pad else {"i": i}, to=sid)
        peer.sent = i = i + 1
        if i % 100 == 0:
            await asyncio.sleep(0)


@contextlib.asynccontextmanager
async def storm_peer(size: int = 0) -> AsyncIterator[str]:
    """Run the storming server in a subprocess; yields its URL."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.hardening.storm_peer",
        str(size),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        cwd=ROOT,
    )
    assert proc.stdout is not None
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), 20)
        assert line, "the storm peer did not start"
        yield f"http://127.0.0.1:{json.loads(line)['port']}"
    finally:
        if proc.returncode is None:
            proc.kill()
        await asyncio.wait_for(proc.wait(), 10)


async def _main(size: int) -> None:
    pad = "x" * size

    async def on_connect(sio: Any, sid: str, peer: Peer) -> None:
        await storm(sio, sid, peer, pad)

    async with sio_peer(on_connect=on_connect) as peer:
        print(json.dumps({"port": peer.port}), flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


if __name__ == "__main__":
    asyncio.run(_main(int(sys.argv[1]) if len(sys.argv) > 1 else 0))
