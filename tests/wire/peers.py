"""Scripted peers for the wire tests, on 127.0.0.1 port 0.

- :func:`scripted`: an HTTP server that answers each request with the raw bytes a test gives it
  (``None``: close without a word), on a connection it keeps open unless told to close it.
- :func:`ws_peer`: a websocket server that does the handshake by hand (or refuses it) and then
  runs a test's script on the raw connection: frames of any shape, close frames, EOF, resets.
- :func:`frame`: one websocket frame as a server (or, masked, a client) would send it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import socket
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

from tests.hostile import Request, read_request

Answer = Callable[[Request, int], bytes | None]
"""The raw bytes to send for a request (the request and its number from 0), or None to close the
connection without a word."""

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


@dataclass
class Peer:
    url: str
    port: int
    requests: list[Request] = field(default_factory=list)
    connections: int = 0
    received: bytearray = field(default_factory=bytearray)
    """websocket peers: the raw bytes the client sent after the handshake."""


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(OSError, asyncio.TimeoutError):
        await asyncio.wait_for(writer.wait_closed(), 1)


@contextlib.asynccontextmanager
async def _server(
    handler: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
    state: Peer,
    scheme: str,
) -> AsyncIterator[Peer]:
    tasks: set[asyncio.Task[None]] = set()

    async def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)  # type: ignore[arg-type]
        state.connections += 1
        try:
            await handler(reader, writer)
        except (ConnectionError, OSError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass  # cancelled: the test is over (asyncio's stream callback must not see it)
        finally:
            tasks.discard(task)  # type: ignore[arg-type]
            await _close(writer)

    server = await asyncio.start_server(on_client, "127.0.0.1", 0)
    state.port = server.sockets[0].getsockname()[1]
    state.url = f"{scheme}://127.0.0.1:{state.port}"
    try:
        yield state
    finally:
        server.close()
        for task in list(tasks):
            task.cancel()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(server.wait_closed(), 2)


@contextlib.asynccontextmanager
async def scripted(answer: Answer, *, close_after: bool = False) -> AsyncIterator[Peer]:
    """An HTTP server answering with ``answer``; ``close_after``: one answer per connection."""
    state = Peer("", 0)

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while (request := await read_request(reader)) is not None:
            number = len(state.requests)
            state.requests.append(request)
            data = answer(request, number)
            if data is None:
                break
            writer.write(data)
            await writer.drain()
            if close_after or b"connection: close" in data.lower():
                break

    async with _server(handler, state, "http") as running:
        yield running


def ok(body: bytes, *headers: str, status: str = "200 OK") -> bytes:
    head = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}", *headers]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def frame(
    opcode: int, payload: bytes, *, fin: bool = True, mask: bool = False, rsv: int = 0
) -> bytes:
    """One websocket frame (``opcode`` 1 text, 2 binary, 0 continuation, 8 close, 9 ping...)."""
    head = bytearray([(0x80 if fin else 0) | (rsv << 4) | opcode])
    n = len(payload)
    bit = 0x80 if mask else 0
    if n < 126:
        head.append(bit | n)
    elif n < 65536:
        head.append(bit | 126)
        head += struct.pack("!H", n)
    else:
        head.append(bit | 127)
        head += struct.pack("!Q", n)
    if mask:
        key = b"\x01\x02\x03\x04"
        head += key
        payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return bytes(head) + payload


def close_frame(code: int | None = 1000, reason: str = "") -> bytes:
    payload = b"" if code is None else struct.pack("!H", code) + reason.encode()
    return frame(8, payload)


Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter, Peer], Awaitable[None]]


def accept_key(key: str) -> str:
    return base64.b64encode(hashlib.sha1(key.encode() + _GUID).digest()).decode()


@contextlib.asynccontextmanager
async def ws_peer(
    script: Script,
    *,
    refuse: bytes | None = None,
    answer: Callable[[Request], bytes | None] | None = None,
    extra_head: str = "",
) -> AsyncIterator[Peer]:
    """A websocket server: ``refuse`` (raw bytes sent instead of the 101), ``answer`` (the raw
    handshake answer for a request: None says nothing), else a correct 101 (plus
    ``extra_head`` lines), then ``script``."""
    state = Peer("", 0)

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await read_request(reader)
        if request is None:
            return
        state.requests.append(request)
        if refuse is not None:
            writer.write(refuse)
            await writer.drain()
            return
        if answer is not None:
            data = answer(request)
            if data is None:
                await asyncio.sleep(3600)
                return
            writer.write(data)
            await writer.drain()
        else:
            key = request.header("sec-websocket-key") or ""
            writer.write(
                (
                    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                    f"Connection: Upgrade\r\nSec-WebSocket-Accept: {accept_key(key)}\r\n"
                    f"{extra_head}\r\n"
                ).encode()
            )
            await writer.drain()
        await script(reader, writer, state)

    async with _server(handler, state, "ws") as running:
        yield running


async def read_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """One (masked) frame from the client: ``(opcode, unmasked payload)``."""
    b0, b1 = await reader.readexactly(2)
    n = b1 & 0x7F
    if n == 126:
        (n,) = struct.unpack("!H", await reader.readexactly(2))
    elif n == 127:
        (n,) = struct.unpack("!Q", await reader.readexactly(8))
    key = await reader.readexactly(4) if b1 & 0x80 else b"\x00\x00\x00\x00"
    data = await reader.readexactly(n)
    return b0 & 0x0F, bytes(b ^ key[i % 4] for i, b in enumerate(data))


def reset(writer: asyncio.StreamWriter) -> None:
    """End the connection with a TCP reset (SO_LINGER 0), not a FIN."""
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
