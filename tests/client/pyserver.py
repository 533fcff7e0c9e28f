"""A bare python-socketio AsyncServer on loopback (aiohttp), with the handlers the tests use."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import socketio
from aiohttp import web


@dataclass
class PyServer:
    sio: Any
    port: int
    connections: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextlib.asynccontextmanager
async def python_server(**options: Any) -> AsyncIterator[PyServer]:
    """python-socketio's own server; ``options`` go to ``AsyncServer`` (e.g. ``ping_interval``)."""
    # Short heartbeat: python-engineio holds a long-poll that long, and its shutdown waits for it.
    sio = socketio.AsyncServer(
        async_mode="aiohttp", **{"ping_interval": 1, "ping_timeout": 1, **options}
    )
    app = web.Application()
    sio.attach(app)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    server = PyServer(sio, port)

    @sio.event
    async def connect(sid: str, environ: Any, auth: Any = None) -> None:
        server.connections.append(sid)

    @sio.on("echo")
    async def echo(sid: str, *args: Any) -> tuple[Any, ...]:
        return args

    @sio.on("mixed")
    async def mixed(sid: str, spec: dict[str, int]) -> None:
        for i in range(spec["count"]):
            await sio.emit("bin", (i, bytes([i % 256, 1, 2, 3])), to=sid)
            await sio.emit("text", i, to=sid)
        await sio.emit("mixed:done", spec, to=sid)

    @sio.on("kick-me")
    async def kick_me(sid: str) -> str:
        async def later() -> None:
            await sio.sleep(0.01)
            await sio.disconnect(sid)

        sio.start_background_task(later)
        return "bye"

    try:
        yield server
    finally:
        await runner.cleanup()
