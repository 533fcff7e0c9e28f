"""Start the Node Socket.IO peers of ``tests/node`` as subprocesses, bounded in time.

``NodeServer`` runs ``server.js`` (socket.io 4, or 2 with ``v2=True``) on a free loopback port;
``run_client`` runs ``client.js`` (the seed's client policy) and returns its JSON lines.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

NODE_DIR = Path(__file__).resolve().parent / "node"


@dataclass
class NodeServer:
    """A running ``server.js``; ``url`` is its ``http://127.0.0.1:port``."""

    process: asyncio.subprocess.Process
    port: int
    version: str
    lines: list[dict[str, Any]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextlib.asynccontextmanager
async def node_server(
    *args: str, v2: bool = False, start_timeout: float = 15.0
) -> AsyncIterator[NodeServer]:
    """Run ``node server.js ARGS`` until the block ends (then SIGTERM, then SIGKILL)."""
    argv = ["node", str(NODE_DIR / "server.js"), *args]
    if v2:
        argv.append("--v2")
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=NODE_DIR
    )
    assert proc.stdout is not None
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), start_timeout)
        if not line:
            err = await proc.stderr.read() if proc.stderr else b""
            raise RuntimeError(f"node server.js did not start: {err.decode(errors='replace')}")
        first = json.loads(line)
        server = NodeServer(process=proc, port=int(first["port"]), version=str(first["version"]))

        async def collect() -> None:
            assert proc.stdout is not None
            while raw := await proc.stdout.readline():
                server.lines.append(json.loads(raw))

        collector = asyncio.create_task(collect())
        try:
            yield server
        finally:
            collector.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await collector
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 5)
            except asyncio.TimeoutError:
                proc.kill()
                await proc.wait()


async def run_client(url: str, *args: str, timeout: float = 30.0) -> list[dict[str, Any]]:
    """Run ``node client.js URL ARGS`` to its end (bounded by ``timeout``); return its JSON lines."""
    proc = await asyncio.create_subprocess_exec(
        "node",
        str(NODE_DIR / "client.js"),
        url,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=NODE_DIR,
        env={**os.environ, "NO_PROXY": "*"},
    )
    try:
        out, _err = await asyncio.wait_for(proc.communicate(), timeout)
    except asyncio.TimeoutError:
        proc.kill()
        out, _err = await proc.communicate()
    return [json.loads(line) for line in out.decode().splitlines() if line.strip()]
