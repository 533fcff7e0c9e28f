"""Hostile and broken peers for the hardening tests, each on a free loopback port.

The ones that need the Engine.IO protocol are built on a real python-socketio server
(:func:`sio_peer`) with a hook in front of it (``intercept``) that can answer any Engine.IO request
itself — a broken open packet, an endless chunked body, a websocket upgrade cut in the middle,
invalid frames after a correct handshake — and a hook after a client connects (``on_connect``)
that can send a 10 MB event or a flood. The others speak raw TCP (:func:`garbage_server`,
:func:`tls_garbage_server`). Every peer records what it saw (``seen``: method, target, headers,
body) so a test can check what did — or did not — reach it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import os
import socket
import struct
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import psutil
import socketio
from aiohttp import web

__all__ = [
    "OPEN_PACKET",
    "PeakRss",
    "Peer",
    "Seen",
    "garbage_server",
    "jwt_none",
    "sio_peer",
    "tls_garbage_server",
]

OPEN_PACKET = {
    "sid": "HostilePeerSid00001",
    "upgrades": ["websocket"],
    "pingInterval": 25000,
    "pingTimeout": 20000,
    "maxPayload": 1000000,
}
_WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


@dataclass(frozen=True)
class Seen:
    """One HTTP request a peer received."""

    method: str
    target: str
    headers: tuple[tuple[str, str], ...]
    body: bytes = b""

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((v for k, v in self.headers if k.lower() == lowered), None)

    def text(self) -> str:
        """Everything of the request as one string (to search for secrets)."""
        lines = [f"{self.method} {self.target}"] + [f"{k}: {v}" for k, v in self.headers]
        return "\n".join(lines) + "\n\n" + self.body.decode("utf-8", "replace")


@dataclass
class Peer:
    """A running peer: ``url`` is ``http://host:port``."""

    port: int
    host: str = "127.0.0.1"
    scheme: str = "http"
    seen: list[Seen] = field(default_factory=list)
    connections: int = 0
    sio: Any = None
    """The python-socketio server, for :func:`sio_peer`."""
    auths: list[Any] = field(default_factory=list)
    """The Socket.IO ``auth`` objects of the namespace connections (:func:`sio_peer`)."""
    sent: int = 0
    """Events (or bytes, for the raw peers) the peer's misbehaviour has sent so far."""

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    def dump(self) -> str:
        """Everything the peer received, as text (to search for secrets)."""
        requests = "\n---\n".join(s.text() for s in self.seen)
        return requests + "\n---\n" + json.dumps(self.auths, default=str)


Intercept = Callable[[web.Request, Peer], Awaitable[web.StreamResponse | None]]
OnConnect = Callable[[Any, str, Peer], Awaitable[None]]


@contextlib.asynccontextmanager
async def sio_peer(
    *,
    intercept: Intercept | None = None,
    on_connect: OnConnect | None = None,
    host: str = "127.0.0.1",
    ping_interval: float = 1.0,
    ping_timeout: float = 5.0,
    routes: list[web.RouteDef] | None = None,
) -> AsyncIterator[Peer]:
    """A python-socketio server (any auth accepted) behind an optional ``intercept`` hook.

    ``intercept(request, peer)`` sees every request first; a response it returns is the answer
    (``None``: the Socket.IO server answers). ``on_connect(sio, sid, peer)`` runs as a task after
    each namespace connection and is cancelled when the peer stops.
    """
    sio = socketio.AsyncServer(
        async_mode="aiohttp",
        ping_interval=ping_interval,
        ping_timeout=ping_timeout,
        cors_allowed_origins="*",
        logger=False,
        engineio_logger=False,
        max_http_buffer_size=1_000_000,
    )
    peer = Peer(port=0, host=host, sio=sio)
    tasks: set[asyncio.Task[None]] = set()

    @web.middleware
    async def record(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        # Engine.IO reads the body from the stream itself: only other bodies are recorded.
        engineio = request.path.startswith("/socket.io")
        body = await request.read() if request.can_read_body and not engineio else b""
        peer.seen.append(
            Seen(request.method, request.path_qs, tuple(request.headers.items()), body)
        )
        if intercept is not None:
            answer = await intercept(request, peer)
            if answer is not None:
                return answer
        return await handler(request)

    async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        peer.auths.append(auth)
        if on_connect is None:
            return

        async def later() -> None:
            # The CONNECT answer goes out after this handler returns; events must follow it.
            for _ in range(200):
                if sio.manager.is_connected(sid, "/"):
                    break
                await asyncio.sleep(0.005)
            with contextlib.suppress(ConnectionError, OSError, asyncio.CancelledError):
                await on_connect(sio, sid, peer)

        task = asyncio.ensure_future(later())
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    sio.on("connect", connect)
    app = web.Application(middlewares=[record], client_max_size=2_000_000)
    if routes:
        app.add_routes(routes)
    sio.attach(app)
    runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, host, 0)
    await site.start()
    peer.port = int(runner.addresses[0][1])
    try:
        yield peer
    finally:
        for task in list(tasks):
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=2.0)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(sio.shutdown(), 2.0)
        await asyncio.wait_for(runner.cleanup(), 5.0)


# ---- building blocks for intercept hooks --------------------------------------------------------


def is_handshake(request: web.Request) -> bool:
    """The first Engine.IO request of a session (polling or websocket, no sid yet)."""
    return request.path.startswith("/socket.io") and "sid" not in request.query


def wants_websocket(request: web.Request) -> bool:
    return request.path.startswith("/socket.io") and (
        request.query.get("transport") == "websocket"
        or request.headers.get("Upgrade", "").lower() == "websocket"
    )


def text_response(
    body: bytes | str, status: int = 200, content_type: str = "text/plain"
) -> web.Response:
    data = body.encode() if isinstance(body, str) else body
    return web.Response(status=status, body=data, content_type=content_type)


async def endless_chunked(
    request: web.Request, peer: Peer, chunk: bytes = b"x" * 65536
) -> web.StreamResponse:
    """A 200 with a chunked body that never ends (until the client goes)."""
    response = web.StreamResponse(status=200, headers={"Content-Type": "text/plain"})
    response.enable_chunked_encoding()
    await response.prepare(request)
    with contextlib.suppress(ConnectionError, OSError, RuntimeError):
        while True:
            await response.write(chunk)
            peer.sent += len(chunk)
    return response


async def gigantic_open(
    request: web.Request, peer: Peer, size: int = 64 * 1024 * 1024
) -> web.StreamResponse:
    """An open packet whose JSON carries ``size`` bytes of padding (sent with a Content-Length)."""
    head = (
        b'0{"sid":"GiganticOpen0001","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"pad":"'
    )
    tail = b'"}'
    response = web.StreamResponse(status=200, headers={"Content-Type": "text/plain"})
    response.content_length = len(head) + size + len(tail)
    await response.prepare(request)
    chunk = b"x" * 65536
    with contextlib.suppress(ConnectionError, OSError, RuntimeError):
        await response.write(head)
        left = size
        while left > 0:
            part = chunk[: min(left, len(chunk))]
            await response.write(part)
            peer.sent += len(part)
            left -= len(part)
        await response.write(tail)
    return response


async def slowloris(request: web.Request, peer: Peer, interval: float = 1.0) -> web.StreamResponse:
    """An answer whose head arrives one byte per ``interval`` seconds, forever."""
    transport = request.transport
    assert transport is not None
    transport.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
    with contextlib.suppress(ConnectionError, OSError, RuntimeError):
        while not transport.is_closing():
            transport.write(b"x")
            peer.sent += 1
            await asyncio.sleep(interval)
    raise asyncio.CancelledError  # nothing more to say; aiohttp closes the connection


def _accept(key: str) -> str:
    return base64.b64encode(hashlib.sha1((key + _WS_GUID).encode()).digest()).decode()


async def cut_upgrade(request: web.Request, peer: Peer) -> web.StreamResponse:
    """Half of a ``101 Switching Protocols`` head, then the connection is closed."""
    transport = request.transport
    assert transport is not None
    transport.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConn")
    await asyncio.sleep(0.05)
    transport.abort()
    raise asyncio.CancelledError


def frame(payload: bytes, opcode: int = 0x1, *, fin: bool = True, rsv: int = 0) -> bytes:
    """An unmasked server websocket frame."""
    first = (0x80 if fin else 0) | (rsv << 4) | opcode
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", first, n)
    elif n < 65536:
        head = struct.pack("!BBH", first, 126, n)
    else:
        head = struct.pack("!BBQ", first, 127, n)
    return head + payload


BAD_FRAMES = (
    frame(b"\xff\xfe not utf-8 \xc3\x28", 0x1)  # a text frame that is not UTF-8
    + frame(b"reserved", 0x3)  # a reserved opcode
    + frame(b"rsv bits", 0x1, rsv=0b111)  # reserved bits set without an extension
    + b"\x81\xfe\x00"  # a truncated length
    + os.urandom(256)
)


async def bad_frames(
    request: web.Request, peer: Peer, *, after_connect: bool
) -> web.StreamResponse:
    """A correct websocket handshake, then frames no websocket peer may send.

    ``after_connect``: first a correct Engine.IO open and Socket.IO connect, so the client is
    connected when the garbage comes.
    """
    key = request.headers.get("Sec-WebSocket-Key", "")
    transport = request.transport
    assert transport is not None
    transport.write(
        (
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Accept: {_accept(key)}\r\n\r\n"
        ).encode()
    )
    if after_connect:
        transport.write(frame(b"0" + json.dumps({**OPEN_PACKET, "upgrades": []}).encode()))
        await asyncio.sleep(0.3)  # the client sends its CONNECT; this peer does not read it
        transport.write(frame(b'40{"sid":"HostileSocketId000001"}'))
        await asyncio.sleep(0.3)
    transport.write(BAD_FRAMES)
    peer.sent += len(BAD_FRAMES)
    await asyncio.sleep(0.5)
    transport.abort()
    raise asyncio.CancelledError


# ---- raw TCP peers --------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def _raw(
    on_client: Callable[[asyncio.StreamReader, asyncio.StreamWriter, Peer], Awaitable[None]],
    *,
    scheme: str = "http",
) -> AsyncIterator[Peer]:
    peer = Peer(port=0, scheme=scheme)
    tasks: set[asyncio.Task[None]] = set()

    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer.connections += 1
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)  # type: ignore[arg-type]
        try:
            await on_client(reader, writer, peer)
        except (ConnectionError, OSError, asyncio.CancelledError):
            pass
        finally:
            tasks.discard(task)  # type: ignore[arg-type]
            writer.transport.abort()

    server = await asyncio.start_server(client, "127.0.0.1", 0)
    peer.port = server.sockets[0].getsockname()[1]
    try:
        yield peer
    finally:
        server.close()
        for task in list(tasks):
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=2.0)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(server.wait_closed(), 2.0)


@contextlib.asynccontextmanager
async def garbage_server(limit: int = 4 * 1024 * 1024) -> AsyncIterator[Peer]:
    """Answers every connection with random bytes (up to ``limit``), whatever was asked."""

    async def on_client(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: Peer
    ) -> None:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(reader.read(4096), 1.0)
        while peer.sent < limit:
            chunk = os.urandom(16384)
            writer.write(chunk)
            peer.sent += len(chunk)
            await writer.drain()

    async with _raw(on_client) as peer:
        yield peer


@contextlib.asynccontextmanager
async def tls_garbage_server() -> AsyncIterator[Peer]:
    """Reads the TLS ClientHello and answers with bytes that are not TLS (``https://`` URL)."""

    async def on_client(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: Peer
    ) -> None:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(reader.read(4096), 1.0)
        # A TLS record header that claims a handshake of absurd length, then noise.
        writer.write(b"\x16\x03\x03\xff\xff" + os.urandom(8192))
        peer.sent += 8197
        await writer.drain()
        await asyncio.sleep(0.2)

    async with _raw(on_client, scheme="https") as peer:
        yield peer


# ---- JWTs and memory ---------------------------------------------------------------------------


def jwt_none(claims: dict[str, Any]) -> str:
    """An unsigned JWT (``alg: none``), as an attacker or a broken server would mint it."""

    def part(value: dict[str, Any]) -> str:
        raw = json.dumps(value, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


class PeakRss:
    """Samples a process's resident memory in a thread; ``growth`` is peak minus the start."""

    def __init__(self, pid: int | None = None, every: float = 0.01) -> None:
        self.process = psutil.Process(pid or os.getpid())
        self.every = every
        self.start = self.process.memory_info().rss
        self.peak = self.start
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                rss = self.process.memory_info().rss
            except psutil.Error:
                return
            self.peak = max(self.peak, rss)
            self._stop.wait(self.every)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(2.0)

    @property
    def growth_mb(self) -> float:
        return (self.peak - self.start) / 1e6


def free_loopback_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def elapsed_since(start: float) -> float:
    return time.monotonic() - start
