"""Real Socket.IO servers from the registries, each a child process on a free loopback port.

    async with node_server("--transports", "polling") as server:    # socket.io 4, polling only
        server.url, server.version, server.lines, await server.post("/_test/drop")

Factories (each returns an async context manager yielding a :class:`RealServer`; the server is
stopped by its own process id when the block ends):
- :func:`node_server` runs ``tests/node/realserver.js`` (socket.io 4, 3 or 2 with ``--io``; the
  options it takes are each one line of a real server's set-up: see the script's header);
- :func:`python_server` runs ``pyserver.py``: python-socketio's AsyncServer on aiohttp, or
  Flask-SocketIO in threading mode on Werkzeug's server;
- :func:`behind_nginx` puts nginx (the lab's snippets) in front of any of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import signal
import sys
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import NODE_DIR, ROOT, require

__all__ = [
    "NODE_PACKAGES",
    "RealServer",
    "ServerFactory",
    "behind_nginx",
    "node_server",
    "python_server",
    "require_node_peers",
]

NODE_PACKAGES = (
    "socket.io",
    "socket.io-v2",
    "socket.io-v3",
    "socket.io-client",
    "socket.io-client-v2",
    "socket.io-msgpack-parser",
)
"""What ``tests/node/package.json`` must have installed for the matrix."""

PYSERVER = Path(__file__).resolve().parent / "pyserver.py"

ServerFactory = Callable[[], AbstractAsyncContextManager["RealServer"]]
"""Starts one server when entered, stops it when left."""


def require_node_peers() -> None:
    """Skip (developer machine) or fail (CI) without node and the matrix's Node packages."""
    require(shutil.which("node") is not None, "node", "install Node.js")
    missing = [p for p in NODE_PACKAGES if not (NODE_DIR / "node_modules" / p).is_dir()]
    require(
        not missing, f"tests/node/node_modules ({', '.join(missing)})", "run `npm ci` in tests/node"
    )


@dataclass
class RealServer:
    """One running server: where it listens and what it printed."""

    kind: str
    """What it is, e.g. ``socket.io 4.8.4``."""
    port: int
    version: str
    process: asyncio.subprocess.Process
    stderr_path: Path
    lines: list[dict[str, Any]] = field(default_factory=list)
    """The JSON lines it printed after the listening line (connections, disconnections)."""
    hook_port: int | None = None
    """Where the test hooks answer when ``port`` is a proxy's (default: ``port``)."""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")[-3000:]

    async def post(self, path: str) -> dict[str, Any]:
        """POST a test hook of ``realserver.js`` (e.g. ``/_test/token?kind=expired``)."""
        async with httpx.AsyncClient(trust_env=False, timeout=10) as client:
            answer = await client.post(f"http://127.0.0.1:{self.hook_port or self.port}{path}")
        answer.raise_for_status()
        body: dict[str, Any] = answer.json()
        return body


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(process.wait(), 5)
    except asyncio.TimeoutError:
        process.kill()
        await process.wait()


@contextlib.asynccontextmanager
async def _child(kind: str, argv: list[str], cwd: Path) -> AsyncIterator[RealServer]:
    """Run ``argv`` until its listening line, yield it, stop it by its pid."""
    with tempfile.TemporaryDirectory(prefix="conndebug-real-") as tmp:
        stderr_path = Path(tmp) / "stderr.log"
        with stderr_path.open("wb") as stderr:
            process = await asyncio.create_subprocess_exec(
                *argv, stdout=asyncio.subprocess.PIPE, stderr=stderr, cwd=cwd
            )
            try:
                assert process.stdout is not None
                try:
                    line = await asyncio.wait_for(process.stdout.readline(), 30)
                except asyncio.TimeoutError:
                    line = b""
                try:
                    first = json.loads(line)
                except ValueError:
                    first = {}
                if first.get("event") != "listening":
                    raise RuntimeError(
                        f"{kind} did not start ({line!r}):\n"
                        + stderr_path.read_text(errors="replace")
                    )
                server = RealServer(
                    kind=f"{kind} {first['version']}",
                    port=int(first["port"]),
                    version=str(first["version"]),
                    process=process,
                    stderr_path=stderr_path,
                )

                async def collect() -> None:
                    assert process.stdout is not None
                    while raw := await process.stdout.readline():
                        with contextlib.suppress(ValueError):
                            server.lines.append(json.loads(raw))

                collector = asyncio.create_task(collect())
                try:
                    yield server
                finally:
                    collector.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await collector
            finally:
                await _stop(process)


def node_server(*flags: str) -> AbstractAsyncContextManager[RealServer]:
    """``node tests/node/realserver.js FLAGS`` (socket.io 4 unless ``--io 3``/``--io 2``)."""
    require_node_peers()
    argv = ["node", str(NODE_DIR / "realserver.js"), *flags]
    return _child("socket.io", argv, NODE_DIR)


def python_server(kind: str) -> AbstractAsyncContextManager[RealServer]:
    """``aiohttp``: python-socketio's AsyncServer; ``flask``: Flask-SocketIO (threading)."""
    label = {"aiohttp": "python-socketio (aiohttp)", "flask": "Flask-SocketIO (threading)"}[kind]
    return _child(label, [sys.executable, str(PYSERVER), kind], ROOT)


@contextlib.asynccontextmanager
async def behind_nginx(factory: ServerFactory, settings: str) -> AsyncIterator[RealServer]:
    """``factory``'s server with nginx in front (``settings``: the lab's ``NGINX_GOOD`` or
    ``NGINX_NO_UPGRADE``); the yielded server's ``url`` is nginx's, ``post`` still reaches the
    server itself."""
    from tests.infra import nginx
    from tests.lab.helpers import nginx_location

    async with contextlib.AsyncExitStack() as stack:
        upstream = await stack.enter_async_context(factory())
        location = nginx_location(f"127.0.0.1:{upstream.port}", settings)
        proxy = await stack.enter_async_context(nginx(location))
        front = RealServer(
            kind=f"{upstream.kind} behind nginx",
            port=proxy.port,
            version=upstream.version,
            process=upstream.process,
            stderr_path=upstream.stderr_path,
            lines=upstream.lines,
            hook_port=upstream.port,
        )
        yield front
