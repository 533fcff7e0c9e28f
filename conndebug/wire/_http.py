"""HTTP/1.1 on h11: keep-alive connections per route, concurrent requests on separate
connections, a cookie jar, every read bounded in bytes and time, redirects never followed.

Why h11 and not httpx/httpcore here: see ``bench/notes.md`` (the wire section): h11 is the parser
httpcore itself uses; driving it directly costs less to import and per request, and leaves every
step (connection, tunnel, TLS, bytes) in our hands to time, bound and observe.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import h11

from conndebug.core.failure import FailureKind
from conndebug.wire._cookies import CookieJar
from conndebug.wire._errors import NotHttp, WireError
from conndebug.wire._proxy import HEAD_LIMIT
from conndebug.wire._route import ConnectTimings, Route, _climb, _Steps, _timeout
from conndebug.wire._stream import Stream
from conndebug.wire._util import printable, seconds, within

if TYPE_CHECKING:
    from conndebug.config import Settings
    from conndebug.wire._observe import Observer
    from conndebug.wire._ws import WebSocket

__all__ = ["BODY_LIMIT", "HttpClient", "Response", "Timings", "next_request_id"]

BODY_LIMIT = 1024 * 1024
"""The most bytes of a body read by default (a request can ask for more or less)."""

Headers = tuple[tuple[str, str], ...]
HeaderInput = Mapping[str, str] | Sequence[tuple[str, str]] | None


@dataclass(frozen=True)
class Timings:
    """Where the time of one exchange went, in milliseconds (HAR 1.2's phases).

    ``dns``/``tcp``/``proxy``/``tls`` are None on a reused connection (``reused``) or where the
    route has no such step. ``send`` is writing the request, ``wait`` from the request sent to the
    answer's first byte, ``receive`` from that byte to the end of the body read. ``ttfb`` counts
    from the start of the exchange (connection included) to the first byte, ``total`` to the end.
    """

    started_at: float
    """Wall clock (``time.time()``) when the exchange started."""
    dns: float | None = None
    tcp: float | None = None
    proxy: float | None = None
    tls: float | None = None
    send: float = 0.0
    wait: float = 0.0
    receive: float = 0.0
    ttfb: float | None = None
    total: float = 0.0
    reused: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "dns_ms": self.dns,
            "tcp_ms": self.tcp,
            "proxy_ms": self.proxy,
            "tls_ms": self.tls,
            "send_ms": self.send,
            "wait_ms": self.wait,
            "receive_ms": self.receive,
            "ttfb_ms": self.ttfb,
            "total_ms": self.total,
            "reused": self.reused,
        }


@dataclass(frozen=True)
class Response:
    """An HTTP answer, its body read up to the request's limit."""

    method: str
    url: str
    status: int
    reason: str
    http_version: str
    """``1.1`` or ``1.0``."""
    headers: Headers
    """Lower-case names, in order, repeated headers kept apart."""
    body: bytes
    """Decoded from gzip/deflate when the answer was (``content_encoding`` says which)."""
    truncated: bool
    """The body (or its decoding) went past the limit: ``body`` is its first ``limit`` bytes."""
    body_size: int
    """Bytes of the body received on the wire (before decoding; the part read)."""
    content_encoding: str | None
    """``gzip``/``deflate`` when the body was decoded, else None."""
    timings: Timings
    request_id: int
    connection_id: int
    peer: str
    """The address the connection went to (the proxy's for a forward proxy)."""
    set_cookies: tuple[str, ...] = ()
    """The ``Set-Cookie`` values of the answer (the client's jar keeps them)."""

    @property
    def status_line(self) -> str:
        return f"HTTP {self.status} {self.reason}".rstrip()

    def header(self, name: str) -> str | None:
        """The values of header ``name`` joined with ``, `` (None when absent)."""
        lowered = name.lower()
        values = [v for k, v in self.headers if k == lowered]
        return ", ".join(values) if values else None

    def header_list(self, name: str) -> list[str]:
        lowered = name.lower()
        return [v for k, v in self.headers if k == lowered]

    @property
    def content_type(self) -> str:
        """The media type, lower case, without parameters (``""`` when absent)."""
        return (self.header("content-type") or "").split(";")[0].strip().lower()

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        """The body as JSON, or None when it is not JSON."""
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return None

    def sample(self, n: int = 80) -> str:
        """The start of the body on one line, printable."""
        text = "".join(ch if ch.isprintable() else "." for ch in self.text[:n])
        return text + ("…" if len(self.body) > n else "")


class _Conn:
    """One connection of the client: its stream and its h11 state."""

    __slots__ = ("connect", "h11", "key", "stream")

    def __init__(self, stream: Stream, key: tuple[Any, ...], connect: ConnectTimings | None):
        self.stream = stream
        self.key = key
        self.h11 = h11.Connection(h11.CLIENT, max_incomplete_event_size=HEAD_LIMIT)
        self.connect = connect
        """How it was opened (None once it has carried a request, or when adopted)."""


STALE_RACE_S = 0.5
"""A reused connection that ends without a byte of answer within this long after the request was
sent met the server closing it while idle (a race every keep-alive client meets): the request is
sent once more on a new connection. Later, the server or a proxy held the request and cut it (a
long-poll cut by a proxy's request timeout): that is reported, never hidden by a retry."""


def _stale(sent_at: float) -> bool:
    return time.monotonic() - sent_at < STALE_RACE_S


class _Retry(Exception):
    """A kept-alive connection ended before any byte of the answer: try a fresh one."""


class _Exchange:
    """What one request has done so far (to name a timeout, to fill the observer's record)."""

    __slots__ = (
        "conn",
        "done",
        "first_byte",
        "graceful",
        "keep",
        "received",
        "request_id",
        "sent_at",
        "steps",
    )

    def __init__(self) -> None:
        self.done: _Conn | None = None
        """The connection of the answer, to keep or drop once the exchange is observed."""
        self.keep = False
        self.graceful = False
        self.request_id = 0
        self.steps = _Steps()
        self.steps.phase = "dns"
        self.conn: _Conn | None = None
        self.sent_at: float | None = None
        self.first_byte: float | None = None
        self.received = 0


_request_ids = itertools.count(1)
_NO_HEADERS: Headers = ()


def next_request_id() -> int:
    """A new request number (unique in this process), for a caller that must name a request
    before it sends it: the packet tap records a polling POST's packets as they leave."""
    return next(_request_ids)


def _header_pairs(headers: HeaderInput) -> Sequence[tuple[str, str]]:
    if not headers:
        return ()
    if isinstance(headers, Mapping):
        return list(headers.items())
    return headers


def _split(url: str) -> tuple[str, str]:
    """``scheme://authority`` and the rest (path and query; the fragment dropped) of ``url``."""
    start = url.find("://")
    end = len(url)
    if start >= 0:
        for mark in "/?#":
            found = url.find(mark, start + 3)
            if 0 <= found < end:
                end = found
    rest = url[end:].partition("#")[0]
    if not rest.startswith("/"):
        rest = "/" + rest
    return url[:end], rest


def _decode(body: bytes, coding: str, limit: int) -> tuple[bytes, bool]:
    """A gzip or deflate body decoded up to ``limit`` bytes → (decoded, cut at the limit)."""
    wbits = 47 if coding != "deflate" else 15  # 47: gzip or zlib header, detected
    try:
        out = zlib.decompressobj(wbits).decompress(body, limit + 1)
    except zlib.error:
        if coding != "deflate":
            raise NotHttp(f"a {coding} body that does not decode") from None
        try:  # some servers send raw deflate without the zlib header
            out = zlib.decompressobj(-15).decompress(body, limit + 1)
        except zlib.error:
            raise NotHttp("a deflate body that does not decode") from None
    return out[:limit], len(out) > limit


def _not_http(exc: h11.RemoteProtocolError, received: bytes) -> NotHttp:
    # h11 may quote the line it could not parse as ``bytearray(b'...')``: a hostile server's
    # bytes, left out of the words (the evidence keeps a printable sample).
    why = str(exc).partition(": bytearray(")[0] or "unreadable"
    if why == "Receive buffer too long":
        why = f"an answer head larger than {HEAD_LIMIT // 1024} KiB"
    return NotHttp(why, sample=printable(received, 60) or None)


class HttpClient:
    """HTTP/1.1 requests over the settings' route (proxy, TLS), keep-alive, cookies.

    Concurrent requests each get a connection of their own (Engine.IO polling holds a long GET
    while it POSTs on another); finished connections are kept for the next request of the same
    route, up to ``max_idle`` per route. Nothing is sent that the caller did not ask for, except
    ``Host``, ``User-Agent``, ``Content-Length`` (bodies, and POST/PUT/PATCH), the jar's
    ``Cookie`` and, to a forward proxy, ``Proxy-Authorization`` from the proxy URL.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        timeout: float = 10.0,
        headers: HeaderInput = None,
        user_agent: str | None = "conndebug",
        observer: Observer | None = None,
        max_idle: int = 4,
        verify: bool = True,
        observe_body_limit: int = 64 * 1024,
    ) -> None:
        """``settings`` give the route (proxy, ``--ca-bundle``, ``--insecure``); without them
        every URL is reached directly with the system's trust store. ``headers`` go with every
        request (a request's own headers replace them by name). ``timeout`` is the default
        limit of one whole request. ``verify=False`` turns TLS verification off for this client
        (e.g. to show an untrusted certificate). ``observe_body_limit`` bounds the request body
        handed to the observer."""
        self.settings = settings
        self.timeout = timeout
        self.observer = observer
        self.cookies = CookieJar()
        """The cookies servers set, sent back with later requests and websocket handshakes."""
        self.connections_opened = 0
        """Connections opened (for tests and figures)."""
        self.max_idle = max_idle
        self.verify = verify
        self.observe_body_limit = observe_body_limit
        defaults: dict[str, tuple[str, str]] = {}
        if user_agent:
            defaults["user-agent"] = ("User-Agent", user_agent)
        for name, value in _header_pairs(headers):
            defaults[name.lower()] = (name, value)
        self.headers = defaults
        """Lower-case name → (name as written, value): sent with every request."""
        self._idle: dict[tuple[Any, ...], list[_Conn]] = {}
        self._routes: dict[str, Route] = {}
        self._closed = False

    # -- routes and connections -------------------------------------------------------------
    def route(self, url: str) -> Route:
        """How ``url`` is reached (cached per origin)."""
        return self._route(_split(url)[0])

    def _route(self, origin: str) -> Route:
        route = self._routes.get(origin)
        if route is None:
            if self.settings is not None:
                route = Route.for_url(self.settings, origin, verify=self.verify)
            else:
                route = Route.direct(origin, verify=self.verify)
            self._routes[origin] = route
        return route

    def adopt(self, url: str, stream: Stream) -> None:
        """Keep ``stream`` (opened elsewhere along the route of ``url``: through the proxy and
        TLS as this client would) for the next request to ``url``'s origin."""
        self._give(_Conn(stream, self.route(url).key, None))

    def _take(self, key: tuple[Any, ...]) -> _Conn | None:
        idle = self._idle.get(key)
        while idle:
            conn = idle.pop()
            if conn.stream.reusable():
                return conn
            self._drop(conn)
        return None

    def _give(self, conn: _Conn) -> None:
        idle = self._idle.setdefault(conn.key, [])
        if len(idle) < self.max_idle and not self._closed:
            idle.append(conn)
        else:
            self._drop(conn, graceful=True)

    def _drop(self, conn: _Conn, *, graceful: bool = False) -> None:
        stream = conn.stream
        if graceful:
            stream.close()
        else:
            stream.abort()
        if self.observer is not None:
            from conndebug.wire._observe import ConnectionClosed

            self.observer.connection_closed(
                ConnectionClosed(
                    stream.connection_id,
                    stream.bytes_in,
                    stream.bytes_out,
                    time.time(),
                    stream.requests,
                )
            )

    async def _open(self, route: Route, state: _Exchange, timeout: float) -> _Conn:
        stream = await _climb(route, state.steps, timeout, False)
        self.connections_opened += 1
        if self.observer is not None:
            from conndebug.wire._observe import ConnectionOpened

            self.observer.connection_opened(
                ConnectionOpened(
                    stream.connection_id,
                    stream.peer,
                    route.origin.hostport,
                    route.mode,
                    route.origin.tls,
                    time.time(),
                )
            )
        return _Conn(stream, route.key, state.steps.timings)

    # -- one exchange -----------------------------------------------------------------------
    def _request_headers(
        self, route: Route, path: str, headers: HeaderInput, body: bytes | None, method: str
    ) -> list[tuple[str, str]]:
        if headers:
            merged = dict(self.headers)
            for name, value in _header_pairs(headers):
                merged[name.lower()] = (name, value)
        else:
            merged = self.headers  # the usual case: only read below
        out = [("Host", route.origin.host_header)]
        out.extend(pair for name, pair in merged.items() if name != "host")
        if (body or method in ("POST", "PUT", "PATCH")) and "content-length" not in merged:
            out.append(("Content-Length", str(len(body or b""))))
        if "cookie" not in merged and len(self.cookies):
            cookie = self.cookies.header(route.origin.host, path, route.origin.tls)
            if cookie:
                out.append(("Cookie", cookie))
        if route.mode == "forward" and route.proxy is not None and route.proxy.authorization:
            out.append(("Proxy-Authorization", route.proxy.authorization))
        return out

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: HeaderInput = None,
        body: bytes | None = None,
        timeout: float | None = None,
        limit: int = BODY_LIMIT,
        request_id: int | None = None,
    ) -> Response:
        """Send one request and read its answer, its body up to ``limit`` bytes (the rest is
        not read and the connection is dropped: ``truncated``), the whole within ``timeout``
        (default: the client's). A 3xx is returned, never followed. ``request_id``: the number
        the request and its observer record carry (one of :func:`next_request_id`; default: a
        new one).

        Raises :class:`~conndebug.wire.WireError` (``TIMEOUT`` with the phase that hung: a
        connection step, or ``http`` once the request is sent), :class:`~conndebug.wire.NotHttp`,
        :class:`~conndebug.wire.TlsError`, :class:`~conndebug.wire.ProxyError`.
        """
        limit_s = self.timeout if timeout is None else timeout
        started_at = time.time()
        start = time.monotonic()
        if request_id is None:
            request_id = next(_request_ids)
        method = method.upper()
        state = _Exchange()
        state.request_id = request_id
        sent: list[tuple[str, str]] = []
        try:
            origin, path = _split(url)
            try:
                route = self._route(origin)
            except ValueError as exc:
                raise WireError(
                    FailureKind.OTHER, "http", f"cannot request {url[:80]!r} ({exc})"
                ) from None
            target = url.partition("#")[0] if route.mode == "forward" else path
            sent = self._request_headers(route, path, headers, body, method)
            response = await within(
                self._exchange(
                    state, route, method, url, target, sent, body, limit, limit_s, start
                ),
                limit_s,
            )
        except asyncio.TimeoutError:
            error = self._timed_out(state, route, limit_s)
            self._fail(state, error, request_id, started_at, start, method, url, sent, body)
            raise error from None
        except WireError as exc:
            self._fail(state, exc, request_id, started_at, start, method, url, sent, body)
            raise
        except BaseException:
            if state.conn is not None:
                self._drop(state.conn)
            raise
        if response.set_cookies:
            self.cookies.extract(route.origin.host, path, response.set_cookies)
        if self.observer is not None:
            self._observe(response, sent, body)
        done = state.done
        if done is not None:
            if state.keep:
                done.h11.start_next_cycle()
                self._give(done)
            else:
                self._drop(done, graceful=state.graceful)
        return response

    def _timed_out(self, state: _Exchange, route: Route, limit_s: float) -> WireError:
        if state.conn is not None:
            self._drop(state.conn)
            state.conn = None
        phase = state.steps.phase
        if phase != "http":
            return _timeout(route, phase, limit_s)
        if state.first_byte is None:
            return WireError(
                FailureKind.TIMEOUT,
                "http",
                f"no answer within {seconds(limit_s)} s",
                reason="no_answer",
            )
        return WireError(
            FailureKind.TIMEOUT,
            "http",
            f"no complete answer within {seconds(limit_s)} s ({state.received} bytes received)",
            reason="incomplete",
            evidence={"received": state.received},
        )

    async def _exchange(
        self,
        state: _Exchange,
        route: Route,
        method: str,
        url: str,
        target: str,
        headers: list[tuple[str, str]],
        body: bytes | None,
        limit: int,
        timeout: float,
        start: float,
    ) -> Response:
        for attempt in (1, 2):
            conn = self._take(route.key)
            reused = conn is not None
            if conn is None:
                state.steps = _Steps()
                conn = await self._open(route, state, timeout)
            state.conn = conn
            state.steps.phase = "http"
            try:
                response = await self._once(
                    conn, state, method, url, target, headers, body, limit, start, reused
                )
            except _Retry:
                self._drop(conn)
                state.conn = None
                if attempt == 1:
                    continue
                raise WireError(
                    FailureKind.CLOSED,
                    "http",
                    "the server closed the connection without answering",
                    reason="closed",
                ) from None
            except BaseException:
                self._drop(conn)
                state.conn = None
                raise
            return response
        raise AssertionError("unreachable")  # pragma: no cover

    async def _once(
        self,
        conn: _Conn,
        state: _Exchange,
        method: str,
        url: str,
        target: str,
        headers: list[tuple[str, str]],
        body: bytes | None,
        limit: int,
        start: float,
        reused: bool,
    ) -> Response:
        stream = conn.stream
        h = conn.h11
        try:
            data = h.send(h11.Request(method=method, target=target, headers=headers)) or b""
            if body:
                data += h.send(h11.Data(data=body)) or b""
            data += h.send(h11.EndOfMessage()) or b""
        except h11.LocalProtocolError as exc:
            raise WireError(
                FailureKind.OTHER,
                "http",
                f"cannot send this request ({exc})",
                reason="bad_request",
            ) from None
        send_start = time.monotonic()
        stream.requests += 1
        try:
            stream.write(data)
            await stream.drain()
        except (ConnectionError, OSError) as exc:
            if reused:
                raise _Retry from None
            raise _reset(exc) from None
        state.sent_at = sent_at = time.monotonic()
        head_bytes = bytearray()
        eof = False
        # The answer's head (interim 1xx answers skipped).
        interim = 0
        while True:
            try:
                event = h.next_event()
            except h11.RemoteProtocolError as exc:
                if eof:
                    if not head_bytes and reused and _stale(sent_at):
                        raise _Retry from None
                    raise _closed_early(head_bytes) from None
                raise _not_http(exc, bytes(head_bytes)) from None
            if event is h11.NEED_DATA:
                try:
                    chunk = await stream.read()
                except (ConnectionError, OSError) as exc:
                    if not head_bytes and reused and _stale(sent_at):
                        raise _Retry from None
                    raise _reset(exc) from None
                if chunk:
                    if state.first_byte is None:
                        state.first_byte = time.monotonic()
                    state.received += len(chunk)
                    if len(head_bytes) < HEAD_LIMIT + 1:
                        head_bytes += chunk[: HEAD_LIMIT + 1 - len(head_bytes)]
                    if len(head_bytes) >= 5 and not head_bytes.startswith(b"HTTP/"):
                        raise NotHttp("illegal status line", sample=printable(head_bytes, 60))
                else:
                    eof = True
                h.receive_data(chunk)
                continue
            if isinstance(event, h11.InformationalResponse):
                interim += 1
                if event.status_code == 101 or interim > 8:
                    raise NotHttp(
                        "an unexpected 101 Switching Protocols"
                        if event.status_code == 101
                        else "too many interim answers"
                    )
                continue
            if isinstance(event, h11.Response):
                head = event
                break
            if isinstance(event, h11.ConnectionClosed):  # pragma: no cover - h11 raises instead
                raise _closed_early(head_bytes)
            raise NotHttp(f"unexpected {type(event).__name__}")
        # The body, up to the limit.
        parts: list[bytes] = []
        size = 0
        truncated = False
        complete = False
        while True:
            try:
                event = h.next_event()
            except h11.RemoteProtocolError as exc:
                if eof:
                    raise WireError(
                        FailureKind.CLOSED,
                        "http",
                        f"the server closed the connection in the middle of the body "
                        f"({size} bytes received)",
                        reason="closed",
                        evidence={"received": size, "status": head.status_code},
                    ) from None
                raise _not_http(exc, b"") from None
            if event is h11.NEED_DATA:
                try:
                    chunk = await stream.read()
                except (ConnectionError, OSError) as exc:
                    raise _reset(exc) from None
                if chunk:
                    state.received += len(chunk)
                else:
                    eof = True
                h.receive_data(chunk)
                continue
            if isinstance(event, h11.Data):
                piece = bytes(event.data)
                if size + len(piece) > limit:
                    parts.append(piece[: limit - size])
                    size = limit
                    truncated = True
                    break
                parts.append(piece)
                size += len(piece)
                continue
            if isinstance(event, h11.EndOfMessage):
                complete = True
                break
            if isinstance(event, h11.ConnectionClosed):
                break
            raise NotHttp(f"unexpected {type(event).__name__}")  # pragma: no cover
        end = time.monotonic()
        body_bytes = parts[0] if len(parts) == 1 else b"".join(parts)
        response_headers = tuple(
            [(k.decode("latin-1"), v.decode("latin-1")) for k, v in head.headers]
        )
        coding: str | None = None
        set_cookies: list[str] = []
        for name, value in response_headers:
            if name == "content-encoding":
                coding = value.strip().lower()
            elif name == "set-cookie":
                set_cookies.append(value)
        decoded: str | None = None
        if body_bytes and coding in ("gzip", "x-gzip", "deflate"):
            body_bytes, cut = _decode(body_bytes, coding, limit)
            truncated = truncated or cut
            decoded = "deflate" if coding == "deflate" else "gzip"
        first = state.first_byte or end
        connect = conn.connect
        timings = Timings(
            started_at=time.time() - (end - start),
            dns=connect.dns_ms if connect else None,
            tcp=connect.tcp_ms if connect else None,
            proxy=connect.proxy_ms if connect else None,
            tls=connect.tls_ms if connect else None,
            send=(sent_at - send_start) * 1000,
            wait=(first - sent_at) * 1000,
            receive=(end - first) * 1000,
            ttfb=(first - start) * 1000,
            total=(end - start) * 1000,
            reused=reused or connect is None,
        )
        conn.connect = None
        state.conn = None
        state.done = conn
        state.keep = (
            complete and h.our_state is h11.DONE and h.their_state is h11.DONE and not self._closed
        )
        state.graceful = complete
        return Response(
            method=method,
            url=url,
            status=head.status_code,
            reason=head.reason.decode("latin-1"),
            http_version=head.http_version.decode("latin-1"),
            headers=response_headers,
            body=body_bytes,
            truncated=truncated,
            body_size=size,
            content_encoding=decoded,
            timings=timings,
            request_id=state.request_id,
            connection_id=stream.connection_id,
            peer=stream.peer,
            set_cookies=tuple(set_cookies),
        )

    # -- the observer -----------------------------------------------------------------------
    def _observe(self, response: Response, sent: list[tuple[str, str]], body: bytes | None) -> None:
        from conndebug.wire._observe import HttpExchange

        assert self.observer is not None
        request_body = body or b""
        self.observer.http_exchange(
            HttpExchange(
                request_id=response.request_id,
                connection_id=response.connection_id,
                started_at=response.timings.started_at,
                method=response.method,
                url=response.url,
                http_version=response.http_version,
                request_headers=tuple(sent),
                request_body=request_body[: self.observe_body_limit],
                request_body_size=len(request_body),
                status=response.status,
                reason=response.reason,
                response_headers=response.headers,
                response_body=response.body,
                response_body_size=response.body_size,
                truncated=response.truncated,
                timings=response.timings,
            )
        )

    def _fail(
        self,
        state: _Exchange,
        error: WireError,
        request_id: int,
        started_at: float,
        start: float,
        method: str,
        url: str,
        sent: list[tuple[str, str]],
        body: bytes | None,
    ) -> None:
        if state.conn is not None:
            self._drop(state.conn)
            state.conn = None
        if self.observer is None:
            return
        from conndebug.wire._observe import HttpExchange

        t = state.steps.timings
        now = time.monotonic()
        request_body = body or b""
        self.observer.http_exchange(
            HttpExchange(
                request_id=request_id,
                connection_id=None,
                started_at=started_at,
                method=method,
                url=url,
                http_version="1.1",
                request_headers=tuple(sent),
                request_body=request_body[: self.observe_body_limit],
                request_body_size=len(request_body),
                status=None,
                reason=None,
                response_headers=_NO_HEADERS,
                response_body=b"",
                response_body_size=0,
                truncated=False,
                timings=Timings(
                    started_at=started_at,
                    dns=t.dns_ms,
                    tcp=t.tcp_ms,
                    proxy=t.proxy_ms,
                    tls=t.tls_ms,
                    total=(now - start) * 1000,
                ),
                error=error,
            )
        )

    # -- websockets and the end ---------------------------------------------------------------
    async def websocket(
        self,
        url: str,
        *,
        headers: HeaderInput = None,
        timeout: float | None = None,
        subprotocols: Sequence[str] = (),
        max_message: int | None = None,
    ) -> WebSocket:
        """A websocket to ``url`` (``ws(s)://``) along this client's route, with its cookies and
        default headers and observer (see :func:`~conndebug.wire.connect_websocket`)."""
        from conndebug.wire._ws import MAX_MESSAGE, connect_websocket

        merged = {k: v for k, v in self.headers.items() if k != "host"}
        for name, value in _header_pairs(headers):
            merged[name.lower()] = (name, value)
        return await connect_websocket(
            url,
            route=self.route(url),
            headers=list(merged.values()),
            timeout=self.timeout if timeout is None else timeout,
            cookies=self.cookies,
            subprotocols=subprotocols,
            max_message=max_message or MAX_MESSAGE,
            observer=self.observer,
        )

    async def aclose(self) -> None:
        """Close the idle connections (requests still running keep theirs until they end)."""
        self._closed = True
        conns = [conn for idle in self._idle.values() for conn in idle]
        self._idle.clear()
        for conn in conns:
            self._drop(conn, graceful=True)
        for conn in conns:
            with contextlib.suppress(OSError):
                await conn.stream.aclose(0.5)

    async def __aenter__(self) -> HttpClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def _reset(exc: BaseException) -> WireError:
    text = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return WireError(
        FailureKind.CLOSED,
        "http",
        f"the connection was reset ({text or type(exc).__name__})",
        reason="reset",
    )


def _closed_early(head: bytearray) -> WireError:
    if head:
        return WireError(
            FailureKind.CLOSED,
            "http",
            "the server closed the connection in the middle of the answer",
            reason="closed",
            evidence={"received": len(head), "sample": printable(bytes(head), 60)},
        )
    return WireError(
        FailureKind.CLOSED,
        "http",
        "the server closed the connection without answering",
        reason="closed",
    )
