"""Capture what customers send in, from real clients against the lab's failure cases.

Three real clients, each against the same cases:

- a headless **Chromium** (Debian's ``chromium``) driven through its DevTools protocol by
  ``tests/node/har.js``: it opens a small page (``tests/explain/page/``) that loads the real
  socket.io-client and connects with the seed's options, and writes a HAR as DevTools does;
- the **Node** client ``tests/node/client.js`` with ``DEBUG=socket.io-client:*,engine.io-client:*``
  (its stderr is the log a customer pastes);
- the **python-socketio** client with ``logger=True, engineio_logger=True`` (``pyclient.py``).

The cases (:data:`CASES`) are the lab's: the reference server (`conndebug serve`) with its fault
switches, two nodes behind nginx round robin for sticky sessions, and a port where nothing listens.
Every process is started here and ended by its own id; every wait is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import sys
import tempfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from aiohttp import web

from tests.conftest import NODE_DIR, ROOT, require
from tests.infra import free_port, nginx, redis_server
from tests.lab.helpers import NGINX_GOOD, nginx_location, serve_node, serve_nodes, upstream

__all__ = [
    "CASES",
    "Case",
    "Target",
    "capture_har",
    "capture_node_log",
    "capture_python_log",
    "chromium",
    "page_server",
]

PAGE_DIR = Path(__file__).resolve().parent / "page"
PYCLIENT = Path(__file__).resolve().parent / "pyclient.py"
SOCKET_IO_DIST = NODE_DIR / "node_modules" / "socket.io-client" / "dist" / "socket.io.min.js"
DEVTOOLS_LINE = re.compile(rb"DevTools listening on (ws://\S+)")
INVALID_TOKEN = "not-a-valid-token-0123456789"


def chromium_binary() -> str:
    """The Chromium to drive (skips, or fails in CI, when it is missing)."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    require(path is not None, "chromium", "install Debian's chromium package")
    assert path is not None
    return path


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[str]:
    """A headless Chromium with a fresh profile; yields its DevTools browser endpoint."""
    binary = chromium_binary()
    with tempfile.TemporaryDirectory(prefix="conndebug-chromium-") as profile:
        proc = await asyncio.create_subprocess_exec(
            binary,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            f"--user-data-dir={profile}",
            "--remote-debugging-address=127.0.0.1",
            "--remote-debugging-port=0",
            "--no-proxy-server",
            "about:blank",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            assert proc.stderr is not None
            endpoint = None
            seen = b""
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 60
            while endpoint is None and loop.time() < deadline:
                try:
                    line = await asyncio.wait_for(proc.stderr.readline(), deadline - loop.time())
                except asyncio.TimeoutError:
                    break
                if not line:
                    break
                seen += line
                found = DEVTOOLS_LINE.search(line)
                if found:
                    endpoint = found.group(1).decode()
            if endpoint is None:
                raise RuntimeError(f"chromium did not start:\n{seen.decode(errors='replace')}")

            async def drain() -> None:  # keep reading so chromium never blocks on a full pipe
                assert proc.stderr is not None
                while await proc.stderr.read(65536):
                    pass

            drainer = asyncio.create_task(drain())
            try:
                yield endpoint
            finally:
                drainer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await drainer
        finally:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    await asyncio.wait_for(proc.wait(), 10)
                except asyncio.TimeoutError:
                    proc.kill()
                    await proc.wait()


@contextlib.asynccontextmanager
async def page_server() -> AsyncIterator[str]:
    """Serve the capture page and the real socket.io-client bundle on loopback; yields its origin."""
    require(SOCKET_IO_DIST.is_file(), "socket.io-client", "run `npm ci` in tests/node")

    async def index(_request: web.Request) -> web.StreamResponse:
        return web.FileResponse(PAGE_DIR / "index.html")

    async def script(_request: web.Request) -> web.StreamResponse:
        return web.FileResponse(PAGE_DIR / "page.js")

    async def bundle(_request: web.Request) -> web.StreamResponse:
        return web.FileResponse(SOCKET_IO_DIST)

    async def favicon(_request: web.Request) -> web.StreamResponse:
        return web.Response(status=204)

    app = web.Application()
    app.router.add_get("/", index)
    app.router.add_get("/page.js", script)
    app.router.add_get("/socket.io.min.js", bundle)
    app.router.add_get("/favicon.ico", favicon)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@dataclass
class Target:
    """A running case: where the client connects and how the page should behave."""

    url: str
    page: dict[str, str] = field(default_factory=dict)
    """Query parameters of the capture page (transports, timeout, attempts, token)."""
    node_args: list[str] = field(default_factory=list)
    """Arguments of ``client.js``."""
    py_args: list[str] = field(default_factory=list)
    """Arguments of ``pyclient.py``."""


@dataclass(frozen=True)
class Case:
    """One lab case and what ``explain`` must say about each client's record of it."""

    name: str
    start: Callable[[str], contextlib.AbstractAsyncContextManager[Target]]
    """Given the page's origin, runs the setup and yields the :class:`Target`."""
    har: str
    """The verdict code expected from the browser's HAR."""
    node: str
    """The verdict code expected from the Node client's DEBUG log."""
    python: str
    """The verdict code expected from the python-socketio client's log."""
    system: bool = False
    """Needs nginx and redis-server."""


async def guest_token(url: str) -> str:
    """A guest token from the reference server (what the web client keeps in its storage)."""
    async with httpx.AsyncClient(timeout=10, trust_env=False) as client:
        answer = await client.post(url + "/api/guest", json={})
        answer.raise_for_status()
        token: str = answer.json()["data"]["token"]
        return token


FAST = {"timeout": "3000", "attempts": "1"}
"""Page options that bound a failing case: a 3 s connect timeout and one reconnection attempt."""


def _serve_case(
    *flags: str,
    allow_page: bool = True,
    token: str = "guest",
    page: dict[str, str] | None = None,
    node_extra: tuple[str, ...] = (),
    py_extra: tuple[str, ...] = (),
) -> Callable[[str], contextlib.AbstractAsyncContextManager[Target]]:
    @contextlib.asynccontextmanager
    async def start(origin: str) -> AsyncIterator[Target]:
        cors = ["--cors-origin", origin] if allow_page else []
        async with serve_node(*flags, *cors, "--ping-interval", "1", "--ping-timeout", "3") as node:
            client_token = INVALID_TOKEN if token == "invalid" else await guest_token(node.url)
            yield Target(
                url=node.url,
                page={"token": INVALID_TOKEN if token == "invalid" else "guest", **(page or {})},
                node_args=["--token", client_token, *node_extra],
                py_args=["--token", client_token, *py_extra],
            )

    return start


@contextlib.asynccontextmanager
async def _server_down(_origin: str) -> AsyncIterator[Target]:
    port = free_port()  # free a moment ago: nothing listens there
    yield Target(
        url=f"http://127.0.0.1:{port}",
        page={"token": "guest", **FAST},
        node_args=["--token", INVALID_TOKEN],
        py_args=["--token", INVALID_TOKEN],
    )


STICKY_SECRET = "explain-sticky-secret-0123456789abcdef"


@contextlib.asynccontextmanager
async def _sticky_missing(origin: str) -> AsyncIterator[Target]:
    async with redis_server() as redis:
        flags = [
            "--redis",
            f"redis://127.0.0.1:{redis.port}/0",
            "--secret",
            STICKY_SECRET,
            "--cors-origin",
            origin,
            "--ping-interval",
            "1",
            "--ping-timeout",
            "3",
        ]
        async with serve_nodes(2, *flags) as (a, b):
            block = nginx_location("cluster", NGINX_GOOD)
            async with nginx(block, http_extra=upstream("cluster", [a.port, b.port])) as proxy:
                token = await guest_token(proxy.url)
                # Sticky sessions matter while polling is used: the socket.io-client default
                # (polling first, then upgrade) shows it; a websocket-first client never needs them.
                polling_first = ["--transports", "polling,websocket"]
                yield Target(
                    url=proxy.url,
                    page={
                        "token": "guest",
                        "transports": "polling,websocket",
                        "deadline": "6000",
                        **FAST,
                    },
                    node_args=["--token", token, *polling_first],
                    py_args=["--token", token, *polling_first],
                )


CASES: tuple[Case, ...] = (
    Case("healthy", _serve_case(), har="ok", node="ok", python="ok"),
    Case(
        "websocket_refused",
        _serve_case("--websocket", "reject", page=FAST),
        har="websocket_blocked",
        node="websocket_blocked",
        # python-engineio does not log why the websocket failed; the program's exception says
        # only "Connection error": refused port and HTTP 403 look alike.
        python="inconclusive",
    ),
    Case(
        "websocket_blackholed",
        _serve_case(
            "--websocket",
            "blackhole",
            page=FAST,
            node_extra=("--timeout", "3000"),
            py_extra=("--timeout", "3"),
        ),
        har="websocket_blocked",
        # Without the browser's guest request in the record, nothing shows that HTTP works.
        node="connect_timeout",
        python="connect_timeout",
    ),
    Case(
        "cors_rejected",
        _serve_case(allow_page=False),
        har="cors_rejected",
        # Outside a browser there is no CORS: these clients connect.
        node="ok",
        python="ok",
    ),
    Case(
        "auth_rejected",
        _serve_case(token="invalid"),
        har="auth_rejected",
        node="auth_rejected",
        python="auth_rejected",
    ),
    Case(
        "sticky_session_missing",
        _sticky_missing,
        har="sticky_session_missing",
        node="sticky_session_missing",
        python="sticky_session_missing",
        system=True,
    ),
    Case(
        "server_down",
        _server_down,
        har="connection_refused",
        node="connection_refused",
        python="inconclusive",
    ),
)


async def capture_har(endpoint: str, page_url: str, out: Path, *, max_ms: int = 30_000) -> Any:
    """Open ``page_url`` in the browser at ``endpoint``, write its HAR to ``out``; returns what
    the page reported (its socket.io-client events) or None when it did not finish in time."""
    proc = await asyncio.create_subprocess_exec(
        "node",
        str(NODE_DIR / "har.js"),
        "--browser",
        endpoint,
        "--page",
        page_url,
        "--out",
        str(out),
        "--max-ms",
        str(max_ms),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=NODE_DIR,
    )
    try:
        stdout, stderr = await asyncio.wait_for(proc.communicate(), max_ms / 1000 + 30)
    except asyncio.TimeoutError:
        proc.kill()
        stdout, stderr = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"har.js failed ({proc.returncode}): {stderr.decode(errors='replace')}")
    return json.loads(stdout.decode().strip().splitlines()[-1])


async def capture_node_log(target: Target, out: Path, *, timeout: float = 30) -> str:
    """Run the Node client with ``DEBUG=socket.io-client:*,engine.io-client:*`` against the
    target; its output, debug lines (stderr) and its own lines (stdout) together as a customer
    pastes ``node app.js 2>&1``, goes to ``out`` and is returned."""
    proc = await asyncio.create_subprocess_exec(
        "node",
        str(NODE_DIR / "client.js"),
        target.url,
        "--reconnection-attempts",
        "1",
        "--max-ms",
        str(int(timeout * 1000) - 5000),
        *target.node_args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=NODE_DIR,
        env={
            **os.environ,
            "NO_PROXY": "*",
            "DEBUG": "socket.io-client:*,engine.io-client:*",
            "DEBUG_COLORS": "0",
        },
    )
    try:
        merged, _ = await asyncio.wait_for(proc.communicate(), timeout)
    except asyncio.TimeoutError:
        proc.kill()
        merged, _ = await proc.communicate()
    text = merged.decode(errors="replace")
    await asyncio.to_thread(out.write_text, text)
    return text


async def capture_python_log(target: Target, out: Path, *, timeout: float = 30) -> str:
    """Run the python-socketio client (``logger=True, engineio_logger=True``) against the target;
    its log (stderr) and its own output together go to ``out`` and are returned."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(PYCLIENT),
        target.url,
        *target.py_args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=ROOT,
        env={**os.environ, "NO_PROXY": "*"},
    )
    try:
        merged, _ = await asyncio.wait_for(proc.communicate(), timeout)
    except asyncio.TimeoutError:
        proc.kill()
        merged, _ = await proc.communicate()
    text = merged.decode(errors="replace")
    await asyncio.to_thread(out.write_text, text)
    return text
