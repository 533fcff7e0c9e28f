"""The peers of the wire benchmark, as a subprocess (their CPU is not the client's).

    python -m bench.wire_peer http     # answers every request at once, keep-alive
    python -m bench.wire_peer ws       # a websocket that bursts COUNT frames when told "go COUNT"

Prints ``{"port": N}`` when it listens, then serves until it is stopped.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import sys

BODY = b'42["tick",{"i":1,"t":"2026-01-01T00:00:00Z"}]'
"""A small Engine.IO polling answer (one Socket.IO event)."""
ANSWER = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=UTF-8\r\n"
    b"Content-Length: " + str(len(BODY)).encode() + b"\r\n\r\n" + BODY
)
MESSAGE = b'42["storm",{"i":12345,"pad":"xxxxxxxxxx"}]'
"""A small websocket message (a Socket.IO event as the storm benchmark's server sends it)."""
FRAME = bytes([0x81, len(MESSAGE)]) + MESSAGE
_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


async def _http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            if b"content-length:" in head.lower():
                length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                await reader.readexactly(length)
            writer.write(ANSWER)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, OSError):
        pass
    finally:
        writer.close()


async def _ws(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
        key = next(
            line.split(b":", 1)[1].strip()
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"sec-websocket-key:")
        )
        accept = base64.b64encode(hashlib.sha1(key + _GUID).digest())
        writer.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n"
        )
        # The client's one text frame "go N" (masked): read and unmask it.
        _b0, b1 = await reader.readexactly(2)
        mask = await reader.readexactly(4)
        data = await reader.readexactly(b1 & 0x7F)
        text = bytes(b ^ mask[i % 4] for i, b in enumerate(data)).decode()
        count = int(text.split()[1])
        batch = FRAME * 1000
        for _ in range(count // 1000):
            writer.write(batch)
            await writer.drain()
        writer.write(FRAME * (count % 1000) + b"\x88\x02\x03\xe8")
        await writer.drain()
        await reader.read()
    except (asyncio.IncompleteReadError, ConnectionError, OSError, StopIteration, ValueError):
        pass
    finally:
        writer.close()


async def main(mode: str) -> None:
    server = await asyncio.start_server(_http if mode == "http" else _ws, "127.0.0.1", 0)
    print(json.dumps({"port": server.sockets[0].getsockname()[1]}), flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
