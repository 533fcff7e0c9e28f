"""Small loopback proxies for tests (shared), each recording what it saw.

``forward_proxy()``: an HTTP forward proxy as a client is configured with (``--proxy`` /
``HTTP_PROXY``): ``CONNECT host:port`` is tunnelled; an absolute-URI request
(``GET http://host:port/path``) is forwarded in origin form with ``Connection: close`` (one request
per client connection keeps the proxy simple and honest); a websocket upgrade is forwarded as is
and then piped both ways. ``proxy.seen`` lists ``(method, target, upgrade)`` per request, and the
first request sent through a ``CONNECT`` tunnel in plain HTTP (its ``tunnel`` is the tunnel's
``host:port``).

``tcp_relay(backend_port)``: a reverse TCP relay in front of a server (e.g. the Node peer) with
fault switches like the reference server's: websocket ``allow`` / ``reject`` (answered 403) /
``blackhole`` (never answered), all traffic black-holed (bytes held, delivered on resume), a
"restart" (listener closed, connections aborted, back after a while), a lifetime cap
(``max_age``: every connection cut that long after it opened, whatever its traffic), and TLS
termination with a given ``ssl.SSLContext``.

Both listen on 127.0.0.1, port 0, and close everything they opened when their block ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import urllib.parse
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

__all__ = ["ForwardProxy", "Seen", "TcpRelay", "forward_proxy", "tcp_relay"]

_HEAD_LIMIT = 64 * 1024
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class Seen:
    """One request the forward proxy handled."""

    method: str
    target: str
    upgrade: bool
    headers: tuple[str, ...] = ()
    """The request's header lines as received (``Name: value``)."""
    tunnel: str | None = None
    """For the first request sent through a ``CONNECT`` tunnel: the tunnel's ``host:port``."""

    def header(self, name: str) -> str | None:
        """The value of header ``name`` (case-insensitive), if present."""
        prefix = name.lower() + ":"
        for line in self.headers:
            if line.lower().startswith(prefix):
                return line.split(":", 1)[1].strip()
        return None

    @property
    def transport(self) -> str | None:
        """The Engine.IO transport named in the target's query, if any."""
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.target).query)
        values = query.get("transport")
        return values[0] if values else None


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(_CHUNK):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError, OSError):
        pass
    finally:
        with contextlib.suppress(OSError, RuntimeError):
            if writer.can_write_eof():
                writer.write_eof()


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(OSError, asyncio.TimeoutError, ssl.SSLError):
        await asyncio.wait_for(writer.wait_closed(), 1.0)


async def _read_head(reader: asyncio.StreamReader) -> bytes | None:
    try:
        return await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
        return None


@dataclass
class ForwardProxy:
    """A running forward proxy; ``url`` is ``http://127.0.0.1:port``."""

    port: int = 0
    seen: list[Seen] = field(default_factory=list)
    connect: str = "tunnel"
    """What ``CONNECT`` gets: ``tunnel``, or ``hang`` (never answered, as a proxy that drops it)."""
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def transports(self) -> set[str]:
        """Engine.IO transports seen in forwarded requests (plain-HTTP targets only)."""
        return {s.transport for s in self.seen if s.transport}

    async def handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._handle(client_r, client_w)
        finally:
            self._tasks.discard(task)
            await _close(client_w)

    async def _handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        head = await _read_head(client_r)
        if head is None:
            return
        lines = head.decode("latin-1").split("\r\n")
        try:
            method, target, version = lines[0].split(" ", 2)
        except ValueError:
            client_w.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            return
        headers = [line for line in lines[1:] if line]
        upgrade = any(h.lower().startswith("upgrade:") for h in headers)
        self.seen.append(Seen(method, target, upgrade, tuple(headers)))
        if method == "CONNECT" and self.connect == "hang":
            with contextlib.suppress(ConnectionError, OSError):
                await client_r.read()  # until the client gives up and closes
            return
        if method == "CONNECT":
            host, _, port = target.rpartition(":")
            try:
                up_r, up_w = await asyncio.open_connection(host.strip("[]"), int(port))
            except OSError:
                client_w.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
                return
            client_w.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            await client_w.drain()
            inner = await self._first_bytes(client_r)
            if inner is None:
                await _close(up_w)
                return
            if not inner.startswith(b"\x16"):  # plain HTTP in the tunnel (not TLS): note it
                inner_lines = inner.decode("latin-1").split("\r\n")
                inner_method, inner_target, _ = [*inner_lines[0].split(" ", 2), "", ""][:3]
                inner_headers = tuple(line for line in inner_lines[1:] if line)
                inner_upgrade = any(h.lower().startswith("upgrade:") for h in inner_headers)
                self.seen.append(
                    Seen(inner_method, inner_target, inner_upgrade, inner_headers, tunnel=target)
                )
            up_w.write(inner)
            await up_w.drain()
            await self._splice(client_r, client_w, up_r, up_w)
            return
        parts = urllib.parse.urlsplit(target)
        if parts.scheme not in ("http", "ws") or not parts.hostname:
            client_w.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            return
        try:
            up_r, up_w = await asyncio.open_connection(parts.hostname, parts.port or 80)
        except OSError:
            client_w.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            return
        origin_form = urllib.parse.urlunsplit(("", "", parts.path or "/", parts.query, ""))
        kept = [
            h
            for h in headers
            if not h.lower().startswith(("proxy-connection:", "proxy-authorization:"))
            and (upgrade or not h.lower().startswith(("connection:", "keep-alive:")))
        ]
        if not upgrade:
            kept.append("Connection: close")
        out = "\r\n".join([f"{method} {origin_form} {version}", *kept]) + "\r\n\r\n"
        up_w.write(out.encode("latin-1"))
        await up_w.drain()
        await self._splice(client_r, client_w, up_r, up_w)

    @staticmethod
    async def _first_bytes(reader: asyncio.StreamReader) -> bytes | None:
        """What a client sends first through a tunnel: a TLS record, or a whole request head."""
        try:
            data = await asyncio.wait_for(reader.read(_CHUNK), 10)
            while data and not data.startswith(b"\x16") and b"\r\n\r\n" not in data:
                more = await asyncio.wait_for(reader.read(_CHUNK), 10)
                if not more:
                    break
                data += more
        except (ConnectionError, OSError, asyncio.TimeoutError):
            return None
        return data or None

    async def _splice(
        self,
        client_r: asyncio.StreamReader,
        client_w: asyncio.StreamWriter,
        up_r: asyncio.StreamReader,
        up_w: asyncio.StreamWriter,
    ) -> None:
        try:
            upstream = asyncio.ensure_future(_pipe(client_r, up_w))
            downstream = asyncio.ensure_future(_pipe(up_r, client_w))
            await asyncio.wait({upstream, downstream}, return_when=asyncio.FIRST_COMPLETED)
            if not downstream.done():  # the client finished sending: wait for the answer
                await downstream
            upstream.cancel()
            await asyncio.gather(upstream, return_exceptions=True)
        finally:
            await _close(up_w)


@contextlib.asynccontextmanager
async def forward_proxy(connect: str = "tunnel") -> AsyncIterator[ForwardProxy]:
    """Run a :class:`ForwardProxy` on a free loopback port for the block."""
    proxy = ForwardProxy(connect=connect)
    server = await asyncio.start_server(proxy.handle, "127.0.0.1", 0, limit=_HEAD_LIMIT)
    proxy.port = server.sockets[0].getsockname()[1]
    try:
        yield proxy
    finally:
        server.close()
        for task in list(proxy._tasks):
            task.cancel()
        if proxy._tasks:
            await asyncio.wait(list(proxy._tasks), timeout=2.0)
        await server.wait_closed()


class TcpRelay:
    """A reverse relay in front of ``127.0.0.1:backend_port`` with fault switches."""

    def __init__(self, backend_port: int, *, tls: ssl.SSLContext | None = None) -> None:
        self.backend_port = backend_port
        self.tls = tls
        self.port = 0
        self.websocket = "allow"
        """``allow`` | ``reject`` (answered 403) | ``blackhole`` (never answered)."""
        self.websocket_requests = 0
        self.max_age: float | None = None
        """Cut every connection this many seconds after it opened (a lifetime cap), if set."""
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def set_blackhole(self, on: bool) -> None:
        """Hold every byte in both directions (``True``) or deliver them again (``False``)."""
        if on:
            self._flowing.clear()
        else:
            self._flowing.set()

    async def listen(self) -> None:
        self._server = await asyncio.start_server(
            self._handle, "127.0.0.1", self.port, ssl=self.tls, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def restart(self, down_s: float) -> None:
        """Close the listener and every connection now; listen again after ``down_s``."""
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        await self._server.wait_closed()
        await asyncio.sleep(down_s)
        await self.listen()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=2.0)
        if self._server is not None:
            await self._server.wait_closed()

    async def _handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(client_w)
        up_w: asyncio.StreamWriter | None = None
        try:
            try:
                up_r, up_w = await asyncio.open_connection("127.0.0.1", self.backend_port)
            except OSError:
                return
            self._writers.add(up_w)
            upstream = asyncio.ensure_future(self._pump(client_r, up_w, client_w, inspect=True))
            downstream = asyncio.ensure_future(self._pump(up_r, client_w, None, inspect=False))
            _done, pending = await asyncio.wait(
                {upstream, downstream}, timeout=self.max_age, return_when=asyncio.FIRST_COMPLETED
            )
            if len(pending) == 2:  # the lifetime cap: cut both sides as a load balancer does
                client_w.transport.abort()
                up_w.transport.abort()
            for t in (upstream, downstream):
                t.cancel()
            await asyncio.gather(upstream, downstream, return_exceptions=True)
        finally:
            self._tasks.discard(task)
            self._writers.discard(client_w)
            await _close(client_w)
            if up_w is not None:
                self._writers.discard(up_w)
                await _close(up_w)

    async def _pump(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        client_w: asyncio.StreamWriter | None,
        *,
        inspect: bool,
    ) -> None:
        try:
            while data := await reader.read(_CHUNK):
                if (
                    inspect
                    and data.startswith(b"GET ")
                    and b"transport=websocket" in data.split(b"\r\n", 1)[0]
                ):
                    self.websocket_requests += 1
                    if self.websocket == "reject" and client_w is not None:
                        client_w.write(
                            b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n"
                            b"Connection: close\r\n\r\n"
                        )
                        await client_w.drain()
                        return
                    if self.websocket == "blackhole":
                        await asyncio.Event().wait()  # held until the connection goes away
                await self._flowing.wait()
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError, ssl.SSLError):
            return


@contextlib.asynccontextmanager
async def tcp_relay(
    backend_port: int, *, tls: ssl.SSLContext | None = None
) -> AsyncIterator[TcpRelay]:
    """Run a :class:`TcpRelay` to ``backend_port`` on a free loopback port for the block."""
    relay = TcpRelay(backend_port, tls=tls)
    await relay.listen()
    try:
        yield relay
    finally:
        await relay.close()
