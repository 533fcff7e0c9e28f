"""One measurement of the wire benchmark, in its own process (its CPU time is only its own).

    python -m bench.wire_client import MODULES          # ms to import, after asyncio and ssl
    python -m bench.wire_client http KIND URL N         # N keep-alive GETs, one after the other
    python -m bench.wire_client ws KIND URL N           # receive a burst of N small messages

HTTP kinds: ``wire`` (conndebug.wire.HttpClient), ``httpcore`` (httpcore's pool on a network
backend made of the wire's own streams: the "httpx/httpcore with a custom network backend"
option), ``httpx`` (httpx as it comes, anyio backend). Websocket kinds: ``fast`` (conndebug.wire.WebSocket as shipped), ``wsproto`` (the same
with every frame through wsproto). Prints one JSON line: count, cpu_s, wall_s.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any


def _import(modules: str) -> dict[str, Any]:
    import asyncio as _asyncio  # noqa: F401 - every client needs them: not counted
    import ssl  # noqa: F401

    import conndebug.core  # noqa: F401 - loaded by every command before any network

    started = time.perf_counter()
    for name in modules.split(","):
        module = __import__(name.split(":")[0], fromlist=["_"])
        for attribute in name.split(":")[1:]:
            getattr(module, attribute)  # a lazily loaded part (the wire's websocket)
    return {"ms": (time.perf_counter() - started) * 1000}


def _wire_backend() -> Any:
    import httpcore

    from conndebug.wire import connect_tcp, resolve, start_tls, within

    class Stream(httpcore.AsyncNetworkStream):
        def __init__(self, stream: Any) -> None:
            self._stream = stream
            self._buffer = b""

        async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
            if not self._buffer:
                reading = self._stream.read()
                self._buffer = await (within(reading, timeout) if timeout else reading)
            data, self._buffer = self._buffer[:max_bytes], self._buffer[max_bytes:]
            return data

        async def write(self, buffer: bytes, timeout: float | None = None) -> None:
            self._stream.write(buffer)
            await self._stream.drain()

        async def aclose(self) -> None:
            self._stream.abort()

        async def start_tls(
            self, ssl_context: Any, server_hostname: Any = None, timeout: Any = None
        ) -> Any:
            await start_tls(self._stream, server_hostname, ssl_context, timeout or 10.0)
            return self

        def get_extra_info(self, info: str) -> Any:
            if info == "is_readable":
                return bool(self._buffer) or self._stream.buffered > 0 or self._stream.at_eof
            return self._stream.get_extra_info(info)

    class Backend(httpcore.AsyncNetworkBackend):
        async def connect_tcp(
            self,
            host: str,
            port: int,
            timeout: float | None = None,
            local_address: Any = None,
            socket_options: Any = None,
        ) -> Any:
            limit = timeout or 10.0
            connected = await connect_tcp(await resolve(host, port, limit), limit)
            return Stream(connected.stream)

        async def connect_unix_socket(
            self, path: str, timeout: Any = None, socket_options: Any = None
        ) -> Any:
            raise NotImplementedError

        async def sleep(self, seconds: float) -> None:
            await asyncio.sleep(seconds)

    return Backend()


async def _http(kind: str, url: str, count: int) -> dict[str, Any]:
    target = url + "/socket.io/?EIO=4&transport=polling&sid=abc"
    if kind == "wire":
        from conndebug.wire import HttpClient

        client = HttpClient(timeout=10)

        async def one() -> bytes:
            return (await client.request("GET", target)).body

        async def close() -> None:
            await client.aclose()
    elif kind == "httpcore":
        import httpcore

        pool = httpcore.AsyncConnectionPool(network_backend=_wire_backend())

        async def one() -> bytes:
            response = await pool.request("GET", target)
            return bytes(response.content)

        async def close() -> None:
            await pool.aclose()
    elif kind == "httpx":
        import httpx

        hx = httpx.AsyncClient(trust_env=False, follow_redirects=False)

        async def one() -> bytes:
            return (await hx.get(target)).content

        async def close() -> None:
            await hx.aclose()
    else:
        raise SystemExit(f"unknown HTTP client kind {kind!r}")

    assert (await one()).startswith(b"42")  # connected, and the answer is what it should be
    cpu = time.process_time()
    wall = time.perf_counter()
    for _ in range(count):
        await one()
    result = {
        "count": count,
        "cpu_s": time.process_time() - cpu,
        "wall_s": time.perf_counter() - wall,
    }
    await close()
    return result


async def _ws(kind: str, url: str, count: int) -> dict[str, Any]:
    from conndebug.wire import WsClosed, connect_websocket

    ws = await connect_websocket(url + "/socket.io/?EIO=4&transport=websocket", timeout=10)
    ws._fast = kind == "fast"
    await ws.send_text(f"go {count}")
    got = 0
    cpu = time.process_time()
    wall = time.perf_counter()
    try:
        while True:
            await ws.recv()
            got += 1
    except WsClosed:
        pass
    return {"count": got, "cpu_s": time.process_time() - cpu, "wall_s": time.perf_counter() - wall}


def main(argv: list[str]) -> None:
    what = argv[0]
    if what == "import":
        result = _import(argv[1])
    elif what == "http":
        result = asyncio.run(_http(argv[1], argv[2], int(argv[3])))
    else:
        result = asyncio.run(_ws(argv[1], argv[2], int(argv[3])))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
