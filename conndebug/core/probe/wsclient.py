"""A small websocket client over a raw stream, for evidence the libraries hide.

The probe needs the exact answer to a websocket handshake (status, headers, the JSON body of a
400), and to tell a refusal from a reset and from a hang. This client writes the upgrade request
itself, reads the answer head and body in size and time bounds, and speaks just enough of RFC 6455
(masked text frames out; text, binary, ping, pong, close and continuation frames in).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import os
import struct
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from conndebug.core.probe.net import NetFailure, parse_head, read_head, within

__all__ = ["FRAME_LIMIT", "RawWebSocket", "WsClosed", "WsRefused", "read_body"]

FRAME_LIMIT = 1024 * 1024
"""The largest message accepted from the server."""
_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


@dataclass
class WsRefused(Exception):
    """The server answered the upgrade with something other than 101."""

    status: int
    reason: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""

    def __str__(self) -> str:
        return f"HTTP {self.status} {self.reason}".rstrip()


class WsClosed(Exception):
    """The websocket was closed (a close frame, or the connection ended)."""

    def __init__(self, error: str, code: int | None = None) -> None:
        super().__init__(error)
        self.code = code


async def read_body(
    reader: asyncio.StreamReader,
    headers: Mapping[str, str],
    rest: bytes,
    *,
    limit: int,
    timeout: float,
) -> bytes:
    """Read a response body (Content-Length, chunked, or up to the close), bounded."""
    deadline = time.monotonic() + timeout
    buf = bytearray(rest)

    async def more() -> bool:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or len(buf) >= limit * 2:
            return False
        try:
            chunk = await within(reader.read(4096), remaining)
        except (asyncio.TimeoutError, OSError):
            return False
        buf.extend(chunk)
        return bool(chunk)

    length = headers.get("content-length", "")
    if length.isdigit():
        want = min(int(length), limit)
        while len(buf) < want and await more():
            pass
        return bytes(buf[:want])
    if "chunked" in headers.get("transfer-encoding", "").lower():
        out = bytearray()
        pos = 0
        while len(out) < limit:
            while b"\r\n" not in buf[pos:] and await more():
                pass
            end = buf.find(b"\r\n", pos)
            if end < 0:
                break
            try:
                size = int(bytes(buf[pos:end]).split(b";")[0].strip() or b"0", 16)
            except ValueError:
                break
            if size == 0:
                break
            start = end + 2
            while len(buf) < start + size and await more():
                pass
            out += buf[start : start + size]
            pos = start + size + 2
        return bytes(out[:limit])
    while len(buf) < limit and await more():
        pass
    return bytes(buf[:limit])


def _masked(payload: bytes, mask: bytes) -> bytes:
    """``payload`` XOR the 4-byte ``mask`` repeated (RFC 6455 masking), as one big-integer XOR
    rather than a Python loop over every byte."""
    n = len(payload)
    if not n:
        return b""
    key = (mask * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(key, "big")).to_bytes(n, "big")


class RawWebSocket:
    """One client websocket over an already opened stream."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self.closed = False
        self.response_headers: dict[str, str] = {}
        self._pending = b""
        """Bytes that arrived with the 101 answer, read before the stream."""

    @classmethod
    async def handshake(
        cls,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        host: str,
        target: str,
        headers: Mapping[str, str],
        timeout: float,
    ) -> RawWebSocket:
        """Send the upgrade request for ``target`` (path and query) and check the answer.

        Raises :class:`WsRefused` (a non-101 answer), :class:`NetFailure` (``closed``,
        ``timeout``, ``protocol``).
        """
        key = base64.b64encode(os.urandom(16)).decode("ascii")
        lines = [
            f"GET {target} HTTP/1.1",
            f"Host: {host}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13",
            "User-Agent: conndebug-probe",
        ]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        try:
            await within(writer.drain(), timeout)
        except asyncio.TimeoutError:
            raise NetFailure(
                "timeout", f"could not send the upgrade within {timeout:g} s"
            ) from None
        except (ConnectionError, OSError) as exc:
            raise NetFailure("closed", f"connection reset ({exc})") from None
        start = time.monotonic()
        head, rest = await read_head(reader, timeout)
        _version, status, reason, resp_headers = parse_head(head)
        if status != 101:
            remaining = max(0.2, timeout - (time.monotonic() - start))
            body = await read_body(reader, resp_headers, rest, limit=16 * 1024, timeout=remaining)
            raise WsRefused(status, reason, resp_headers, body)
        expected = base64.b64encode(hashlib.sha1((key + _GUID).encode()).digest()).decode()
        if resp_headers.get("sec-websocket-accept", "") != expected:
            raise NetFailure("protocol", "the 101 answer has a wrong Sec-WebSocket-Accept")
        ws = cls(reader, writer)
        ws.response_headers = resp_headers
        ws._pending = rest
        return ws

    async def _read_exactly(self, n: int) -> bytes:
        if self._pending:
            take, self._pending = self._pending[:n], self._pending[n:]
            if len(take) == n:
                return take
            return take + await self._reader.readexactly(n - len(take))
        return await self._reader.readexactly(n)

    async def send_text(self, text: str) -> None:
        await self._send_frame(0x1, text.encode("utf-8"))

    async def _send_frame(self, opcode: int, payload: bytes) -> None:
        if self.closed:
            raise WsClosed("the websocket is closed")
        header = bytearray([0x80 | opcode])
        n = len(payload)
        if n < 126:
            header.append(0x80 | n)
        elif n < 65536:
            header.append(0x80 | 126)
            header += struct.pack("!H", n)
        else:
            header.append(0x80 | 127)
            header += struct.pack("!Q", n)
        mask = os.urandom(4)
        header += mask
        masked = _masked(payload, mask)
        try:
            self._writer.write(bytes(header) + masked)
            await self._writer.drain()
        except (ConnectionError, OSError) as exc:
            self.closed = True
            raise WsClosed(f"connection reset while sending ({exc})") from None

    async def recv_text(self, timeout: float) -> str:
        """The next text (or binary, decoded) message; bounded by ``timeout``.

        Raises :class:`WsClosed` or :class:`asyncio.TimeoutError`.
        """
        return await within(self._recv(), timeout)

    async def _recv(self) -> str:
        parts: list[bytes] = []
        size = 0
        while True:
            try:
                b1, b2 = await self._read_exactly(2)
                n = b2 & 0x7F
                if n == 126:
                    (n,) = struct.unpack("!H", await self._read_exactly(2))
                elif n == 127:
                    (n,) = struct.unpack("!Q", await self._read_exactly(8))
                mask = await self._read_exactly(4) if b2 & 0x80 else b""
                if n > FRAME_LIMIT or size + n > FRAME_LIMIT:
                    self.closed = True
                    raise WsClosed(f"a message larger than {FRAME_LIMIT} bytes")
                payload = await self._read_exactly(n)
            except (asyncio.IncompleteReadError, ConnectionError, OSError) as exc:
                self.closed = True
                raise WsClosed(
                    "the connection ended"
                    if isinstance(exc, asyncio.IncompleteReadError)
                    else f"connection reset ({exc})"
                ) from None
            if mask:
                payload = _masked(payload, mask)
            opcode = b1 & 0x0F
            if opcode == 0x8:
                self.closed = True
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                reason = payload[2:].decode("utf-8", "replace")
                raise WsClosed(
                    f"closed by the server (code {code}{': ' + reason if reason else ''})", code
                )
            if opcode == 0x9:
                await self._send_frame(0xA, payload)
                continue
            if opcode == 0xA:
                continue
            parts.append(payload)
            size += n
            if b1 & 0x80:
                return b"".join(parts).decode("utf-8", "replace")

    async def close(self) -> None:
        """Send a close frame (best effort) and close the stream."""
        if not self.closed:
            with contextlib.suppress(WsClosed, OSError, asyncio.TimeoutError):
                await asyncio.wait_for(self._send_frame(0x8, struct.pack("!H", 1000)), 1)
        self.closed = True
        self._writer.close()
        with contextlib.suppress(OSError, asyncio.TimeoutError, ConnectionError):
            await asyncio.wait_for(self._writer.wait_closed(), 1)
