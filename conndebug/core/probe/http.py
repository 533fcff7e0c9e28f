"""Bounded HTTP/1.1 requests over asyncio streams: every answer is read in size and time limits.

The probe's own small client (no HTTP library: httpx cost ~100 ms to import and ~10 ms of CPU per
target of a fleet, one client each). :func:`fetch` sends one request and reads the answer:

- the head up to :data:`HEAD_LIMIT` bytes (a status line that is not ``HTTP/1.x NNN`` fails at
  once: "the answer is not HTTP");
- the body by ``Content-Length``, ``chunked`` framing, or up to the close, never more than
  ``limit`` bytes (the rest is dropped with the connection: ``truncated``); gzip and deflate
  bodies are decoded within the same limit;
- the whole request (connect, proxy tunnel, TLS, head, body) within ``timeout``, so a server that
  drips bytes or sends gigabytes costs at most ``timeout`` seconds and ``limit`` bytes.

Redirects are never followed. :class:`HttpClient` keeps idle keep-alive connections per origin
(one probe's requests mostly share one), the cookies the server set (as a browser would, for
sticky load balancers), and goes through the settings' proxy: absolute-form requests for http
targets, a ``CONNECT`` tunnel for https (:func:`~conndebug.core.probe.net.open_stream`, which the
websocket uses too), ``Proxy-Authorization`` from the proxy URL's credentials.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
import time
import urllib.parse
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from conndebug.config import Settings, effective_proxy
from conndebug.core.probe.net import (
    NetFailure,
    open_stream,
    proxy_authorization,
    tls_error_text,
    within,
)
from conndebug.core.text import one_line

__all__ = [
    "BODY_LIMIT",
    "HEAD_LIMIT",
    "HttpAnswer",
    "HttpClient",
    "HttpFailure",
    "fetch",
]

BODY_LIMIT = 64 * 1024
"""The most bytes of a body the probe reads."""
HEAD_LIMIT = 64 * 1024
"""The largest answer head (status line and headers) read."""
_LINE_LIMIT = 1024
"""The largest chunk-size line of a chunked body."""
_IDLE_PER_ORIGIN = 4
_READ = 65536


class HttpFailure(Exception):
    """No HTTP answer: ``kind`` is ``refused``, ``connect_timeout``, ``timeout`` (no answer in
    time after connecting), ``closed``, ``protocol``, ``proxy`` or ``tls``; ``cause`` is the
    network failure's own kind when there is one (``dns``, ``unreachable``...)."""

    def __init__(self, kind: str, error: str, ms: float, cause: str | None = None) -> None:
        # An HTTP parser's message may quote the line it could not parse as ``bytearray(b'...')``:
        # a hostile server's bytes, dropped; the rest is kept to one short line.
        error = one_line(error.partition(": bytearray(")[0])
        super().__init__(error)
        self.kind = kind
        self.error = error
        self.ms = ms
        self.cause = cause or kind


class _NotHttp(Exception):
    """What came back cannot be read as HTTP/1.x (the text says why)."""


class _Closed(Exception):
    """The connection ended (or was reset) before the answer was complete."""

    def __init__(self, error: str, *, nothing: bool = False) -> None:
        super().__init__(error)
        self.nothing = nothing
        """Not one byte of an answer arrived (a reused connection may be retried)."""


@dataclass(frozen=True)
class HttpAnswer:
    """An HTTP answer, its body cut at the limit."""

    status: int
    reason: str
    headers: Mapping[str, str]
    """Lower-case names; repeated headers joined with ``, ``."""
    body: bytes
    truncated: bool
    ms: float
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def status_line(self) -> str:
        return f"HTTP {self.status} {self.reason}".rstrip()

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    def json(self) -> Any:
        """The body as JSON, or None when it is not JSON."""
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            return None

    def sample(self, n: int = 80) -> str:
        """The start of the body, one line, printable."""
        text = "".join(ch if ch.isprintable() else "." for ch in self.text[:n])
        return text + ("…" if len(self.body) > n else "")


class _Conn:
    """One connection: its streams and the bytes read from it but not used yet."""

    __slots__ = ("buf", "reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.buf = bytearray()

    def alive(self) -> bool:
        return not self.writer.is_closing() and not self.reader.at_eof() and not self.buf

    async def fill(self) -> bool:
        """Read more into ``buf``; False at the end of the stream."""
        try:
            chunk = await self.reader.read(_READ)
        except (ConnectionError, OSError) as exc:
            raise _Closed(f"the connection was reset ({exc.strerror or exc})") from None
        if not chunk:
            return False
        self.buf += chunk
        return True

    def drop(self) -> None:
        """Close at once, unread data and all (a truncated or broken answer)."""
        transport = self.writer.transport
        transport.abort()


@dataclass(frozen=True)
class _Route:
    key: tuple[str, str, int, str | None]
    """Connections are shared by requests with the same key (origin and proxy)."""
    host: str
    host_header: str
    forward: bool
    """Through a forward proxy in absolute form (plain http): the target URL is the request's."""
    proxy_auth: str | None


def _split_origin(url: str) -> tuple[str, str]:
    """``scheme://authority`` and the rest (path, query, fragment) of ``url``."""
    start = url.find("://")
    end = len(url)
    if start >= 0:
        for mark in "/?#":
            found = url.find(mark, start + 3)
            if 0 <= found < end:
                end = found
    return url[:end], url[end:]


class HttpClient:
    """The probe's HTTP client: the settings' TLS verification, proxy (flag or environment,
    ``NO_PROXY`` honoured) and extra headers; no redirects, no compression asked for."""

    def __init__(self, settings: Settings, timeout: float) -> None:
        self.settings = settings
        self.timeout = timeout
        self.headers: dict[str, tuple[str, str]] = {}
        """Lower-case name → (name as written, value): sent with every request."""
        for name, value in (
            ("Accept", "*/*"),
            ("Accept-Encoding", "identity"),
            ("User-Agent", "conndebug-probe"),
            *settings.headers,
        ):
            self.headers[name.lower()] = (name, value)
        self.cookies: dict[str, dict[str, str]] = {}
        """Host → cookie name → value, from the answers' ``Set-Cookie``."""
        self._idle: dict[tuple[str, str, int, str | None], list[_Conn]] = {}
        self._routes: dict[str, _Route] = {}
        """``scheme://authority`` → how to reach it (split and looked up once, not per request)."""
        self.connections = 0
        """Connections opened (for tests and figures)."""
        self.on_answer: Callable[[str, str, HttpAnswer], None] | None = None
        """Called with (method, url, answer) for every answer read (the path witness)."""

    async def aclose(self) -> None:
        """Close the idle connections."""
        conns = [conn for idle in self._idle.values() for conn in idle]
        self._idle.clear()
        for conn in conns:
            conn.writer.close()
        for conn in conns:
            with contextlib.suppress(OSError, ssl.SSLError, asyncio.TimeoutError):
                await asyncio.wait_for(conn.writer.wait_closed(), 0.5)

    def adopt(self, url: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Keep a connection opened elsewhere (through the proxy and TLS as a request to ``url``
        would be) for the next request to ``url``'s origin."""
        self._give(self._route(_split_origin(url)[0]).key, _Conn(reader, writer))

    # -- connections ------------------------------------------------------------------------
    def _route(self, origin: str) -> _Route:
        cached = self._routes.get(origin)
        if cached is not None:
            return cached
        parts = urllib.parse.urlsplit(origin)
        scheme = parts.scheme.lower()
        try:
            port = parts.port
        except ValueError:
            port = -1
        if scheme not in ("http", "https") or not parts.hostname or port == -1:
            raise _NotHttp(f"cannot request {origin!r}")
        host = parts.hostname
        tls = scheme == "https"
        port = port or (443 if tls else 80)
        proxy = effective_proxy(self.settings, origin)
        shown = f"[{host}]" if ":" in host else host
        if port != (443 if tls else 80):
            shown = f"{shown}:{port}"
        forward = proxy is not None and not tls
        route = _Route(
            key=(scheme, host, port, proxy),
            host=host,
            host_header=shown,
            forward=forward,
            proxy_auth=proxy_authorization(proxy) if forward and proxy else None,
        )
        self._routes[origin] = route
        return route

    def _take(self, key: tuple[str, str, int, str | None]) -> _Conn | None:
        idle = self._idle.get(key)
        while idle:
            conn = idle.pop()
            if conn.alive():
                return conn
            conn.drop()
        return None

    def _give(self, key: tuple[str, str, int, str | None], conn: _Conn) -> None:
        idle = self._idle.setdefault(key, [])
        if len(idle) < _IDLE_PER_ORIGIN:
            idle.append(conn)
        else:
            conn.drop()

    async def _connect(self, url: str, route: _Route) -> _Conn:
        reader, writer = await open_stream(
            self.settings, self.timeout, url=url, forward=route.forward
        )
        self.connections += 1
        return _Conn(reader, writer)

    # -- one exchange -----------------------------------------------------------------------
    def _head(
        self,
        method: str,
        url: str,
        rest: str,
        route: _Route,
        headers: Mapping[str, str] | None,
        content: bytes | None,
    ) -> bytes:
        target = (url if route.forward else rest).partition("#")[0]
        if not route.forward and not target.startswith("/"):
            target = "/" + target
        merged = dict(self.headers)
        for name, value in (headers or {}).items():
            merged[name.lower()] = (name, value)
        lines = [f"{method} {target} HTTP/1.1", f"Host: {route.host_header}"]
        lines += [f"{name}: {value}" for name, value in merged.values()]
        if content is not None or method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(content or b'')}")
        jar = self.cookies.get(route.host)
        if jar and "cookie" not in merged:
            lines.append("Cookie: " + "; ".join(f"{k}={v}" for k, v in jar.items()))
        if route.proxy_auth:
            lines.append(f"Proxy-Authorization: {route.proxy_auth}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None,
        content: bytes | None,
        limit: int,
        stage: list[str],
        started: float,
    ) -> HttpAnswer:
        """One request and its answer (unbounded in time: :func:`fetch` bounds it)."""
        origin, rest = _split_origin(url)
        route = self._route(origin)
        data = self._head(method, url, rest, route, headers, content) + (content or b"")
        for attempt in (1, 2):
            conn = self._take(route.key)
            reused = conn is not None
            if conn is None:
                stage[0] = "connect"
                conn = await self._connect(url, route)
            stage[0] = "answer"
            try:
                conn.writer.write(data)
                await conn.writer.drain()
                answer, keep = await _read_answer(conn, method, limit, started)
            except _Closed as exc:
                conn.drop()
                if reused and exc.nothing and attempt == 1:
                    continue  # a kept-alive connection the server had closed meanwhile
                raise
            except (ConnectionError, OSError) as exc:
                conn.drop()
                if reused and attempt == 1:
                    continue
                raise _Closed(f"the connection was reset ({exc.strerror or exc})") from None
            except BaseException:
                conn.drop()
                raise
            if "set_cookie" in answer.extra:
                self._remember_cookies(route.host, answer)
            if self.on_answer is not None:
                self.on_answer(method, url, answer)
            if keep:
                self._give(route.key, conn)
            else:
                conn.drop()
            return answer
        raise AssertionError("unreachable")  # pragma: no cover

    def _remember_cookies(self, host: str, answer: HttpAnswer) -> None:
        for line in answer.extra.get("set_cookie", ()):
            pair = line.split(";", 1)[0]
            name, sep, value = pair.partition("=")
            name, value = name.strip(), value.strip()
            if not sep or not name:
                continue
            jar = self.cookies.setdefault(host, {})
            if "max-age=0" in line.lower().replace(" ", "") or (not value and name in jar):
                jar.pop(name, None)
            elif len(jar) < 50:
                jar[name] = value


async def _read_answer(
    conn: _Conn, method: str, limit: int, started: float
) -> tuple[HttpAnswer, bool]:
    """The answer on ``conn`` and whether the connection can carry another request."""
    for _ in range(8):  # interim 1xx answers (100 Continue...) come before the real one
        version, status, reason, raw = await _read_head(conn)
        if not (100 <= status < 200) or status == 101:
            break
    else:
        raise _NotHttp("too many interim answers")
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in raw:
        if name == "set-cookie":
            cookies.append(value)
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    connection = headers.get("connection", "").lower()
    keep = (
        "close" not in connection if version == "HTTP/1.1" else "keep-alive" in connection
    ) and status != 101
    if method == "HEAD" or status in (101, 204, 304):
        body, truncated, complete = b"", False, True
    elif "transfer-encoding" in headers:
        if headers["transfer-encoding"].lower().rsplit(",", 1)[-1].strip() == "chunked":
            body, truncated, complete = await _read_chunked(conn, limit)
        else:
            body, truncated = await _read_to_close(conn, limit)
            complete = False
    elif "content-length" in headers:
        values = {v.strip() for v in headers["content-length"].split(",")}
        if len(values) != 1 or not next(iter(values)).isdigit():
            raise _NotHttp(f"bad Content-Length {headers['content-length'][:40]!r}")
        body, truncated = await _read_length(conn, int(values.pop()), limit)
        complete = not truncated
    else:
        body, truncated = await _read_to_close(conn, limit)
        complete = False
    coding = headers.get("content-encoding", "").strip().lower()
    if body and coding in ("gzip", "x-gzip", "deflate"):
        body, cut = _decode(body, coding, limit)
        truncated = truncated or cut
    answer = HttpAnswer(
        status=status,
        reason=reason,
        headers=headers,
        body=body,
        truncated=truncated,
        ms=(time.monotonic() - started) * 1000,
        extra={"set_cookie": tuple(cookies)} if cookies else {},
    )
    return answer, keep and complete and not conn.buf


async def _read_head(conn: _Conn) -> tuple[str, int, str, list[tuple[str, str]]]:
    buf = conn.buf
    searched = 0
    while True:
        if len(buf) >= 5 and not buf.startswith(b"HTTP/"):
            raise _NotHttp("illegal status line")
        end = buf.find(b"\r\n\r\n", searched)
        bare = buf.find(b"\n\n", searched, end if end >= 0 else len(buf))
        if bare >= 0:
            head, rest = bytes(buf[:bare]), bytes(buf[bare + 2 :])
            break
        if end >= 0:
            head, rest = bytes(buf[:end]), bytes(buf[end + 4 :])
            break
        if len(buf) > HEAD_LIMIT:
            raise _NotHttp(f"an answer head larger than {HEAD_LIMIT // 1024} KiB")
        searched = max(0, len(buf) - 3)
        if not await conn.fill():
            if buf:
                raise _Closed("the server closed the connection in the middle of the answer")
            raise _Closed("the server closed the connection without answering", nothing=True)
    conn.buf = bytearray(rest)
    lines = head.decode("latin-1").split("\n")
    first = lines[0].rstrip("\r")
    version, _, tail = first.partition(" ")
    code, _, reason = tail.partition(" ")
    if version not in ("HTTP/1.1", "HTTP/1.0") or len(code) != 3 or not code.isdigit():
        raise _NotHttp("illegal status line")
    raw: list[tuple[str, str]] = []
    for line in lines[1:]:
        line = line.rstrip("\r")
        if line[:1] in (" ", "\t") and raw:  # an obsolete folded continuation
            name, value = raw[-1]
            raw[-1] = (name, f"{value} {line.strip()}")
            continue
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise _NotHttp("illegal header line")
        raw.append((name.lower(), value.strip()))
    return version, int(code), reason.strip(), raw


async def _read_length(conn: _Conn, length: int, limit: int) -> tuple[bytes, bool]:
    want = min(length, limit)
    while len(conn.buf) < want:
        if not await conn.fill():
            raise _Closed(
                f"the server closed the connection after {len(conn.buf)} of {length} bytes"
            )
    body = bytes(conn.buf[:want])
    del conn.buf[:want]
    return body, length > limit


async def _read_to_close(conn: _Conn, limit: int) -> tuple[bytes, bool]:
    while len(conn.buf) <= limit and await conn.fill():
        pass
    body = bytes(conn.buf[:limit])
    truncated = len(conn.buf) > limit
    conn.buf.clear()
    return body, truncated


async def _read_chunked(conn: _Conn, limit: int) -> tuple[bytes, bool, bool]:
    """A chunked body up to ``limit`` bytes → (body, truncated, complete)."""
    out = bytearray()
    buf = conn.buf
    while True:
        while (eol := buf.find(b"\n")) < 0:
            if len(buf) > _LINE_LIMIT:
                raise _NotHttp("a chunk size line too long")
            if not await conn.fill():
                raise _Closed("the server closed the connection in the middle of the body")
            buf = conn.buf
        size_text = bytes(buf[:eol]).split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise _NotHttp("a bad chunk size") from None
        if size < 0:
            raise _NotHttp("a bad chunk size")
        del buf[: eol + 1]
        if size == 0:
            break
        take = min(size, limit - len(out))
        while len(buf) < take:
            if not await conn.fill():
                raise _Closed("the server closed the connection in the middle of the body")
            buf = conn.buf
        out += buf[:take]
        del buf[:take]
        if take < size:  # the limit: the rest of the body is not read
            return bytes(out), True, False
        while len(buf) < 2:
            if not await conn.fill():
                raise _Closed("the server closed the connection in the middle of the body")
            buf = conn.buf
        if buf[:2] == b"\r\n":
            del buf[:2]
        elif buf[:1] == b"\n":
            del buf[:1]
        else:
            raise _NotHttp("a chunk without its line end")
        if len(out) >= limit:
            return bytes(out), True, False
    # Trailer fields, then the blank line (bounded like a head).
    while True:
        eol = buf.find(b"\n")
        if eol < 0:
            if len(buf) > HEAD_LIMIT:
                raise _NotHttp("trailer fields too large")
            if not await conn.fill():
                return bytes(out), False, False
            buf = conn.buf
            continue
        line = bytes(buf[:eol]).strip()
        del buf[: eol + 1]
        if not line:
            return bytes(out), False, True


def _decode(body: bytes, coding: str, limit: int) -> tuple[bytes, bool]:
    """A gzip or deflate body decoded up to ``limit`` bytes → (decoded, cut at the limit)."""
    wbits = 47 if coding != "deflate" else 15  # 47: gzip or zlib header, detected
    decoder = zlib.decompressobj(wbits)
    try:
        out = decoder.decompress(body, limit + 1)
    except zlib.error:
        if coding != "deflate":
            raise _NotHttp(f"a {coding} body that does not decode") from None
        try:  # some servers send raw deflate without the zlib header
            out = zlib.decompressobj(-15).decompress(body, limit + 1)
        except zlib.error:
            raise _NotHttp("a deflate body that does not decode") from None
    return out[:limit], len(out) > limit


async def fetch(
    client: HttpClient,
    method: str,
    url: str,
    *,
    timeout: float,
    headers: Mapping[str, str] | None = None,
    content: bytes | None = None,
    limit: int = BODY_LIMIT,
) -> HttpAnswer:
    """One request, its body read up to ``limit`` bytes, the whole bounded by ``timeout``."""
    start = time.monotonic()
    stage = ["connect"]
    try:
        return await within(
            client.request(
                method,
                url,
                headers=headers,
                content=content,
                limit=limit,
                stage=stage,
                started=start,
            ),
            timeout,
        )
    except asyncio.TimeoutError:
        if stage[0] == "connect":
            raise HttpFailure(
                "connect_timeout",
                f"no answer to the connection within {timeout:g} s",
                _ms(start),
            ) from None
        raise HttpFailure(
            "timeout", f"no complete answer within {timeout:g} s", _ms(start)
        ) from None
    except NetFailure as exc:
        raise _from_net(exc, timeout, start) from None
    except ssl.SSLError as exc:
        raise HttpFailure("tls", tls_error_text(exc), _ms(start)) from None
    except _NotHttp as exc:
        raise HttpFailure("protocol", f"the answer is not HTTP ({exc})", _ms(start)) from None
    except _Closed as exc:
        raise HttpFailure("closed", str(exc), _ms(start)) from None
    except (ConnectionError, OSError) as exc:
        text = exc.strerror or str(exc) or type(exc).__name__
        raise HttpFailure("closed", f"the connection was reset ({text})", _ms(start)) from None


def _from_net(exc: NetFailure, timeout: float, start: float) -> HttpFailure:
    kind = {
        "timeout": "connect_timeout",
        "proxy": "proxy",
        "tls": "tls",
        "closed": "closed",
        "protocol": "protocol",
    }.get(exc.kind, "refused")  # dns, refused, unreachable: no connection
    error = exc.error
    if exc.kind == "timeout":
        error = f"no answer to the connection within {timeout:g} s"
    return HttpFailure(kind, error, _ms(start), cause=exc.kind)


def _ms(start: float) -> float:
    return (time.monotonic() - start) * 1000
