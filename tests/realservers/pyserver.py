"""Python Socket.IO servers as their users write them, run as a child process by the matrix.

    python tests/realservers/pyserver.py aiohttp   python-socketio's AsyncServer on aiohttp
    python tests/realservers/pyserver.py flask     Flask-SocketIO, threading mode, Werkzeug's server

Library defaults everywhere (ping interval, timeouts, CORS: same origin only); the only handler
emits ``welcome`` {id} on connect, as servers commonly greet a client. Prints one JSON line
``{"event": "listening", "port": N, "version": "..."}`` once it accepts connections.

This file is run by path, not imported by the tests: it must not import conndebug or the tests.
"""

from __future__ import annotations

import json
import sys
from importlib.metadata import version
from typing import Any


def _listening(port: int, package: str) -> None:
    print(json.dumps({"event": "listening", "port": port, "version": version(package)}), flush=True)


def run_aiohttp() -> None:
    import asyncio

    import socketio
    from aiohttp import web

    sio = socketio.AsyncServer(async_mode="aiohttp")
    app = web.Application()
    sio.attach(app)

    @sio.event  # type: ignore[untyped-decorator]
    async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        await sio.emit("welcome", {"id": sid}, to=sid)

    async def main() -> None:
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        _listening(int(runner.addresses[0][1]), "python-socketio")
        await asyncio.Event().wait()  # until the test ends the process

    asyncio.run(main())


def run_flask() -> None:
    from flask import Flask, request
    from flask_socketio import SocketIO, emit
    from werkzeug.serving import make_server

    app = Flask(__name__)
    socketio = SocketIO(app, async_mode="threading")

    @socketio.on("connect")  # type: ignore[untyped-decorator]
    def connect(auth: Any = None) -> None:
        emit("welcome", {"id": request.sid})  # type: ignore[attr-defined]

    # What socketio.run(app) does in threading mode (Werkzeug's threaded development server),
    # with port 0 so the test gets a free port without a race.
    server = make_server("127.0.0.1", 0, app, threaded=True)
    _listening(server.port, "flask-socketio")
    server.serve_forever()


if __name__ == "__main__":
    {"aiohttp": run_aiohttp, "flask": run_flask}[sys.argv[1]]()
