"""Small hostile and odd servers on loopback, for probe and hardening tests.

Each is an ``async with`` context manager on a free 127.0.0.1 port that yields an object with
``.url``, ``.port`` and ``.requests`` (the request lines it saw), and stops everything it started
when the block ends:

- :func:`http_server` — a plain HTTP/1.1 server around a handler (``Request`` → ``Response``, or
  ``None`` to never answer); a malformed request line (e.g. a TLS ClientHello) gets an immediate
  400, as real servers do. :func:`plain_http_server` answers every request the same way.
- :func:`silent_server` — accepts connections and never sends a byte.
- :func:`flood_server` — a 200 whose body never ends; :func:`drip_server` — a response head that
  arrives one byte at a time, forever.
- :func:`tls_server` — the same HTTP server behind TLS with a trustme certificate: ``"good"``,
  ``"untrusted"`` (its CA is not given to the client), ``"expired"`` or ``"wrong_host"``;
  ``.ca_file`` is the CA's PEM for ``--ca-bundle``.
- :func:`forward_proxy` — an HTTP forward proxy: ``"pass"`` (CONNECT tunnels and absolute-form
  requests forwarded; optional Basic credentials), ``"407"`` (always asks for credentials) or
  ``"502"`` (cannot reach anything).
- :func:`reverse_proxy` — an HTTP reverse proxy over several backends: round-robin per request
  without affinity (or ``affinity=True``: always the first backend), websocket upgrades tunnelled
  (or ``strip_upgrade=True``: forwarded without ``Upgrade``/``Connection``, as a misconfigured
  nginx does; ``drop_upgrade=True``: the connection is cut).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as _dt
import itertools
import ssl
import tempfile
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "Request",
    "Response",
    "Running",
    "drip_server",
    "flood_server",
    "forward_proxy",
    "http_server",
    "plain_http_server",
    "reverse_proxy",
    "silent_server",
    "tls_server",
]

_HEAD_LIMIT = 64 * 1024
_BODY_LIMIT = 1024 * 1024
_IO_TIMEOUT = 30.0


@dataclass
class Request:
    """A parsed HTTP request."""

    method: str
    target: str
    version: str
    headers: list[tuple[str, str]]
    body: bytes = b""

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((v for k, v in self.headers if k.lower() == lowered), None)

    @property
    def head(self) -> bytes:
        lines = [f"{self.method} {self.target} {self.version}"]
        lines += [f"{k}: {v}" for k, v in self.headers]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


@dataclass
class Response:
    """An HTTP response to send (``Content-Length`` and ``Connection: close`` are added)."""

    status: int = 200
    reason: str = "OK"
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def encode(self) -> bytes:
        lines = [f"HTTP/1.1 {self.status} {self.reason}"]
        lines += [f"{k}: {v}" for k, v in self.headers]
        lines += [f"Content-Length: {len(self.body)}", "Connection: close"]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + self.body


@dataclass
class Running:
    """A running test server."""

    port: int
    scheme: str = "http"
    requests: list[str] = field(default_factory=list)
    """The request lines received, in order."""
    ca_file: str | None = None
    """For TLS servers: the PEM file of the CA that signed the certificate."""
    connections: int = 0

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"


Handler = Callable[[Request], Awaitable[Response | None]]


class _BadRequest(Exception):
    pass


async def read_request(reader: asyncio.StreamReader) -> Request | None:
    """Read one request (None at a clean end of the connection); raise _BadRequest if malformed."""
    try:
        first = await asyncio.wait_for(reader.readline(), _IO_TIMEOUT)
    except (asyncio.TimeoutError, ValueError, OSError):
        return None
    if not first:
        return None
    parts = first.decode("latin-1").rstrip("\r\n").split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1.") or not parts[0].isalpha():
        raise _BadRequest(first[:40])
    headers: list[tuple[str, str]] = []
    size = len(first)
    while True:
        try:
            line = await asyncio.wait_for(reader.readline(), _IO_TIMEOUT)
        except (asyncio.TimeoutError, ValueError, OSError):
            return None
        size += len(line)
        if size > _HEAD_LIMIT:
            raise _BadRequest(b"head too large")
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        headers.append((name.strip(), value.strip()))
    request = Request(parts[0], parts[1], parts[2], headers)
    length = request.header("content-length")
    if length and length.isdigit() and int(length) <= _BODY_LIMIT:
        with contextlib.suppress(asyncio.TimeoutError, asyncio.IncompleteReadError, OSError):
            request.body = await asyncio.wait_for(reader.readexactly(int(length)), _IO_TIMEOUT)
    return request


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(OSError, asyncio.TimeoutError, ssl.SSLError):
        await asyncio.wait_for(writer.wait_closed(), 2)


@contextlib.asynccontextmanager
async def _serve(
    on_client: Callable[[asyncio.StreamReader, asyncio.StreamWriter, Running], Awaitable[None]],
    *,
    ssl_context: ssl.SSLContext | None = None,
    scheme: str = "http",
) -> AsyncIterator[Running]:
    tasks: set[asyncio.Task[None]] = set()
    running = Running(port=0, scheme=scheme)

    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        running.connections += 1
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)  # type: ignore[arg-type]
        try:
            await on_client(reader, writer, running)
        except (ConnectionError, OSError, ssl.SSLError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            pass  # the server is stopping; end quietly (asyncio logs a cancelled handler task)
        finally:
            tasks.discard(task)  # type: ignore[arg-type]
            await _close(writer)

    server = await asyncio.start_server(client, "127.0.0.1", 0, ssl=ssl_context)
    running.port = server.sockets[0].getsockname()[1]
    try:
        yield running
    finally:
        server.close()
        for task in list(tasks):
            task.cancel()
        for task in list(tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, 2)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(server.wait_closed(), 2)


def _http_client(
    handler: Handler,
) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter, Running], Awaitable[None]]:
    async def on_client(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, running: Running
    ) -> None:
        try:
            request = await read_request(reader)
        except _BadRequest:
            writer.write(
                Response(
                    400, "Bad Request", [("Content-Type", "text/plain")], b"bad request\n"
                ).encode()
            )
            await writer.drain()
            return
        if request is None:
            return
        running.requests.append(f"{request.method} {request.target}")
        response = await handler(request)
        if response is None:  # never answer: hold the connection until the client goes
            await reader.read()
            return
        writer.write(response.encode())
        await writer.drain()

    return on_client


@contextlib.asynccontextmanager
async def http_server(handler: Handler) -> AsyncIterator[Running]:
    """A plain HTTP server; one request per connection."""
    async with _serve(_http_client(handler)) as running:
        yield running


def _fixed(status: int, reason: str, body: bytes, content_type: str) -> Handler:
    async def handler(request: Request) -> Response:
        return Response(status, reason, [("Content-Type", content_type)], body)

    return handler


_NOT_FOUND = b"<!doctype html><html><body><h1>404 Not Found</h1></body></html>\n"


@contextlib.asynccontextmanager
async def plain_http_server(
    status: int = 404,
    reason: str = "Not Found",
    body: bytes = _NOT_FOUND,
    content_type: str = "text/html; charset=utf-8",
) -> AsyncIterator[Running]:
    """A web server that answers every request the same way (default: an HTML 404)."""
    async with http_server(_fixed(status, reason, body, content_type)) as running:
        yield running


@contextlib.asynccontextmanager
async def silent_server() -> AsyncIterator[Running]:
    """Accepts TCP connections and never sends a byte (reads and discards what comes)."""

    async def on_client(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, running: Running
    ) -> None:
        while await reader.read(4096):
            pass

    async with _serve(on_client) as running:
        yield running


@contextlib.asynccontextmanager
async def flood_server(chunk: bytes = b"x" * 65536) -> AsyncIterator[Running]:
    """Answers ``200`` without a length, then sends ``chunk`` after ``chunk`` until the client
    goes: a body without end."""

    async def on_client(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, running: Running
    ) -> None:
        try:
            request = await read_request(reader)
        except _BadRequest:
            return
        if request is None:
            return
        running.requests.append(f"{request.method} {request.target}")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n")
        while True:
            writer.write(chunk)
            await writer.drain()

    async with _serve(on_client) as running:
        yield running


@contextlib.asynccontextmanager
async def drip_server(interval: float = 0.05) -> AsyncIterator[Running]:
    """Answers one byte of an endless response head every ``interval`` seconds."""

    async def on_client(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, running: Running
    ) -> None:
        try:
            request = await read_request(reader)
        except _BadRequest:
            return
        if request is None:
            return
        running.requests.append(f"{request.method} {request.target}")
        writer.write(b"HTTP/1.1 200 OK\r\nX-Drip: ")
        while True:
            writer.write(b"x")
            await writer.drain()
            await asyncio.sleep(interval)

    async with _serve(on_client) as running:
        yield running


@contextlib.asynccontextmanager
async def tls_server(kind: str = "good", handler: Handler | None = None) -> AsyncIterator[Running]:
    """An HTTPS server with a trustme certificate of the given ``kind``.

    ``good`` and ``untrusted`` certificates name 127.0.0.1 and localhost; ``expired`` ended a
    day ago; ``wrong_host`` names only ``other.example``. Pass ``ca_file`` as ``--ca-bundle`` to
    trust the CA (every kind but ``untrusted`` is meant to be probed that way).
    """
    import trustme

    ca = trustme.CA()
    now = _dt.datetime.now(_dt.timezone.utc)
    if kind in ("good", "untrusted"):
        cert = ca.issue_cert("127.0.0.1", "localhost")
    elif kind == "expired":
        cert = ca.issue_cert(
            "127.0.0.1",
            "localhost",
            not_before=now - _dt.timedelta(days=30),
            not_after=now - _dt.timedelta(days=1),
        )
    elif kind == "wrong_host":
        cert = ca.issue_cert("other.example")
    else:
        raise ValueError(f"unknown certificate kind {kind!r}")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(ctx)
    with tempfile.TemporaryDirectory(prefix="conndebug-tls-") as tmp:
        ca_file = Path(tmp) / "ca.pem"
        ca.cert_pem.write_to_path(str(ca_file))
        on_client = _http_client(handler or _fixed(404, "Not Found", _NOT_FOUND, "text/html"))
        async with _serve(on_client, ssl_context=ctx, scheme="https") as running:
            running.ca_file = str(ca_file)
            yield running


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError, OSError, asyncio.CancelledError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    with contextlib.suppress(OSError, RuntimeError):
        if writer.can_write_eof():
            writer.write_eof()


async def _tunnel(
    a: tuple[asyncio.StreamReader, asyncio.StreamWriter],
    b: tuple[asyncio.StreamReader, asyncio.StreamWriter],
) -> None:
    await asyncio.gather(_pipe(a[0], b[1]), _pipe(b[0], a[1]))


async def _relay_once(
    request: Request,
    host: str,
    port: int,
    client: tuple[asyncio.StreamReader, asyncio.StreamWriter],
) -> None:
    """Send ``request`` to host:port; relay the answer (and tunnel after a 101)."""
    try:
        upstream = await asyncio.wait_for(asyncio.open_connection(host, port), 5)
    except (OSError, asyncio.TimeoutError):
        client[1].write(Response(502, "Bad Gateway", body=b"upstream unreachable\n").encode())
        await client[1].drain()
        return
    try:
        upstream[1].write(request.head + request.body)
        await upstream[1].drain()
        try:
            head = await asyncio.wait_for(upstream[0].readuntil(b"\r\n\r\n"), _IO_TIMEOUT)
        except (asyncio.TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            return  # the backend said nothing: the client sees the connection close
        lines = head.decode("latin-1").split("\r\n")
        if " 101 " not in lines[0] + " ":
            # One request per connection: tell the client, so it never reuses this one.
            lines = [ln for ln in lines if not ln.lower().startswith("connection:")]
            lines.insert(1, "Connection: close")
            head = "\r\n".join(lines).encode("latin-1")
        client[1].write(head)
        await client[1].drain()
        await _tunnel(client, upstream)
    finally:
        await _close(upstream[1])


@contextlib.asynccontextmanager
async def forward_proxy(
    mode: str = "pass", *, credentials: tuple[str, str] | None = None
) -> AsyncIterator[Running]:
    """An HTTP forward proxy: ``pass``, ``407`` or ``502`` (see the module docstring)."""
    expected = (
        "Basic " + base64.b64encode(f"{credentials[0]}:{credentials[1]}".encode()).decode()
        if credentials
        else None
    )

    async def on_client(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, running: Running
    ) -> None:
        try:
            request = await read_request(reader)
        except _BadRequest:
            return
        if request is None:
            return
        running.requests.append(f"{request.method} {request.target}")
        if mode == "407" or (expected and request.header("proxy-authorization") != expected):
            writer.write(
                Response(
                    407,
                    "Proxy Authentication Required",
                    [("Proxy-Authenticate", 'Basic realm="conndebug-test"')],
                    b"proxy authentication required\n",
                ).encode()
            )
            await writer.drain()
            return
        if mode == "502":
            writer.write(
                Response(
                    502, "Bad Gateway", [("Content-Type", "text/plain")], b"cannot reach\n"
                ).encode()
            )
            await writer.drain()
            return
        if request.method == "CONNECT":
            host, _, port = request.target.rpartition(":")
            try:
                upstream = await asyncio.wait_for(
                    asyncio.open_connection(host.strip("[]"), int(port)), 5
                )
            except (OSError, ValueError, asyncio.TimeoutError):
                writer.write(Response(502, "Bad Gateway").encode())
                await writer.drain()
                return
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            await writer.drain()
            try:
                await _tunnel((reader, writer), upstream)
            finally:
                await _close(upstream[1])
            return
        parts = urllib.parse.urlsplit(request.target)
        if not parts.hostname:
            writer.write(Response(400, "Bad Request").encode())
            await writer.drain()
            return
        request.target = urllib.parse.urlunsplit(("", "", parts.path or "/", parts.query, ""))
        request.headers = [
            (k, v)
            for k, v in request.headers
            if k.lower() not in ("proxy-authorization", "proxy-connection", "connection")
        ] + [("Connection", "close")]
        await _relay_once(request, parts.hostname, parts.port or 80, (reader, writer))

    if mode not in ("pass", "407", "502"):
        raise ValueError(f"unknown proxy mode {mode!r}")
    async with _serve(on_client) as running:
        yield running


@contextlib.asynccontextmanager
async def reverse_proxy(
    backends: list[int],
    *,
    affinity: bool = False,
    strip_upgrade: bool = False,
    drop_upgrade: bool = False,
) -> AsyncIterator[Running]:
    """A reverse proxy in front of loopback ``backends`` (ports); one request per connection.

    ``drop_upgrade=True`` closes the connection of a websocket upgrade without answering (a
    reset, as some firewalls do).
    """
    counter = itertools.count()

    async def on_client(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, running: Running
    ) -> None:
        try:
            request = await read_request(reader)
        except _BadRequest:
            return
        if request is None:
            return
        running.requests.append(f"{request.method} {request.target}")
        port = backends[0] if affinity else backends[next(counter) % len(backends)]
        upgrade = (request.header("upgrade") or "").lower() == "websocket"
        if upgrade and drop_upgrade:
            transport = writer.transport
            if isinstance(transport, asyncio.Transport):
                transport.abort()  # RST rather than FIN, where the platform allows
            return
        keep = {"upgrade", "connection"} if upgrade and not strip_upgrade else set()
        request.headers = [
            (k, v)
            for k, v in request.headers
            if k.lower() not in ({"connection", "upgrade", "keep-alive"} - keep)
        ]
        if not (upgrade and not strip_upgrade):
            request.headers.append(("Connection", "close"))
        await _relay_once(request, "127.0.0.1", port, (reader, writer))

    async with _serve(on_client) as running:
        yield running
