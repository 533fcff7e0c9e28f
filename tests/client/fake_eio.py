"""A scripted Engine.IO 4 server (aiohttp) whose websocket misbehaves on request.

The polling side is just enough for a session: the handshake, ``40`` answered to the first held
GET after a CONNECT is posted, POSTs taken, later GETs held until the session ends. The websocket
follows ``ws_mode``:

- ``normal``: open packet (direct) / ``3probe`` (upgrade), ``40`` to a CONNECT, then quiet;
- ``close_after_connect``: direct only: after answering the CONNECT, a close frame ``code``;
- ``eof_after_connect``: direct only: after answering the CONNECT, the TCP connection closed
  without a close frame;
- ``no_3probe``: the upgrade's ``2probe`` answered with ``3nope``;
- ``close_on_probe``: the upgrade's ``2probe`` answered with a close frame ``code``;
- ``close_packet``: direct only: after answering the CONNECT, an Engine.IO ``CLOSE`` packet.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

OPEN = {
    "sid": "FAKE",
    "upgrades": ["websocket"],
    "pingInterval": 25000,
    "pingTimeout": 20000,
    "maxPayload": 1000000,
}


@dataclass
class Fake:
    port: int
    ws_mode: str
    code: int
    posted: list[str] = field(default_factory=list)
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    answered: bool = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextlib.asynccontextmanager
async def fake_eio(ws_mode: str = "normal", *, code: int = 4000) -> AsyncIterator[Fake]:
    app = web.Application()
    stop = asyncio.Event()
    fake = Fake(0, ws_mode, code)

    async def engine(request: web.Request) -> web.StreamResponse:
        query = request.query
        if query.get("transport") == "websocket":
            return await websocket(request, upgrade="sid" in query)
        if "sid" not in query:
            return web.Response(text="0" + json.dumps(OPEN))
        if request.method == "POST":
            body = await request.text()
            fake.posted.append(body)
            if "40" in body.split("\x1e"):
                fake.connected.set()
            return web.Response(text="ok")
        if not fake.answered:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(fake.connected.wait(), 10)
            if fake.connected.is_set() and not fake.answered:
                fake.answered = True
                return web.Response(text='40{"sid":"S"}')
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), 30)
        return web.Response(text="6")

    async def websocket(request: web.Request, *, upgrade: bool) -> web.StreamResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        if not upgrade:
            await ws.send_str("0" + json.dumps({**OPEN, "upgrades": []}))
        async for msg in ws:
            if msg.type is not WSMsgType.TEXT:
                break
            data: Any = msg.data
            if data == "2probe":
                if fake.ws_mode == "no_3probe":
                    await ws.send_str("3nope")
                elif fake.ws_mode == "close_on_probe":
                    await ws.close(code=fake.code, message=b"no upgrades here")
                    break
                else:
                    await ws.send_str("3probe")
            elif data == "40":
                await ws.send_str('40{"sid":"W"}')
                if fake.ws_mode == "close_after_connect":
                    await ws.close(code=fake.code, message=b"bye")
                    break
                if fake.ws_mode == "eof_after_connect":
                    assert request.transport is not None
                    request.transport.close()
                    break
                if fake.ws_mode == "close_packet":
                    await ws.send_str("1")
        return ws

    app.router.add_route("*", "/socket.io/", engine)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    fake.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield fake
    finally:
        stop.set()
        await runner.cleanup()
