"""Network plumbing for one connection attempt.

- :func:`make_session`: the aiohttp ``ClientSession`` the monitor owns (and closes) for each
  attempt: TLS as configured (``--ca-bundle`` through the connector's ``SSLContext``, ``--insecure``
  disables verification), the effective proxy as the session's default (so the polling requests use
  it), and a :class:`HttpTrace` that records every request's outcome (status or exception), because
  python-engineio reports a refused websocket only as "Connection error". Two guards against
  hostile servers: no redirect is ever followed (:class:`RedirectRefused`), and no answer body is
  read beyond :data:`MAX_ANSWER_BYTES` (:class:`AnswerTooLarge`).
- :func:`classify`: an exception → a :class:`FailureKind` and plain words.
- :func:`port_open`: a cheap TCP check, used to cut a reconnection wait short once a restarted
  server listens again.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import json
import os
import ssl
import urllib.parse
from dataclasses import dataclass, replace
from types import SimpleNamespace
from typing import Any

import aiohttp
import yarl
from aiohttp import http_exceptions
from aiohttp.client_proto import ResponseHandler
from aiohttp.client_reqrep import ClientRequest
from aiohttp.tracing import Trace

from conndebug.config import Settings, effective_proxy
from conndebug.core.failure import FailureKind
from conndebug.core.text import one_line

__all__ = [
    "MAX_ANSWER_BYTES",
    "AnswerTooLarge",
    "FailureKind",
    "HttpRecord",
    "HttpTrace",
    "ProxyTunnelFailed",
    "RedirectRefused",
    "TunnellingConnector",
    "ca_context",
    "classify",
    "host_port",
    "make_session",
    "port_open",
    "ssl_setting",
]


MAX_ANSWER_BYTES = 16 * 1024 * 1024
"""The largest polling answer (and websocket message) a connection takes in: 16 MiB holds a 10 MB
event or a long burst of small ones, and an endless or gigantic answer costs no more memory."""


class RedirectRefused(aiohttp.ClientConnectionError):
    """The server answered an Engine.IO request with a redirect, which is never followed.

    Socket.IO clients do not follow redirects (a browser's websocket cannot), and following one
    would carry the session's cookies, the request body (a 307 keeps the POST that carries the
    ``CONNECT`` packet and its token) and then the whole connection to wherever the redirect
    points — possibly another origin.
    """

    def __init__(self, status: int, reason: str, location: str) -> None:
        self.status = status
        self.reason = reason
        self.location = location
        where = one_line(location, 160) if location else "nowhere (no Location header)"
        super().__init__(f"HTTP {status} {reason}".rstrip() + f": a redirect to {where}")


class AnswerTooLarge(aiohttp.ClientPayloadError, ValueError):
    """An answer body larger than :data:`MAX_ANSWER_BYTES`; reading stopped there.

    Also a ``ValueError``: python-engineio takes that as an unreadable payload and ends the
    connection cleanly instead of leaking the exception out of its read loop.
    """

    def __init__(self, limit: int, announced: int | None = None) -> None:
        self.limit = limit
        self.announced = announced
        took = f"the {limit / 2**20:g} MiB a connection takes in"
        if announced is not None:
            text = f"the server announced an answer of {announced:,} bytes, more than {took}"
        else:
            text = f"the server's answer grew past {took} (cut off there)"
        super().__init__(text)


@dataclass(frozen=True)
class HttpRecord:
    """One HTTP request of an attempt: its status, or the exception it ended with."""

    method: str
    url: str
    status: int | None = None
    reason: str | None = None
    error: BaseException | None = None
    body: str | None = None
    """The start of an error answer's body (websocket handshakes only: nothing else reads it)."""
    content_type: str | None = None

    @property
    def body_message(self) -> str | None:
        """What an error body says: the ``message`` of Engine.IO's JSON ``{"code", "message"}``,
        or a short plain-text body (Node's engine.io answers a refused upgrade with plain text)."""
        if not self.body:
            return None
        try:
            data = json.loads(self.body)
        except ValueError:
            text = " ".join(self.body.split())
            if text.startswith("<") or len(text) > 200:
                return None
            return text
        message = data.get("message") if isinstance(data, dict) else None
        return message if isinstance(message, str) else None

    @property
    def transport(self) -> str | None:
        """``websocket`` or ``polling`` from the Engine.IO query, if any."""
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.url).query)
        values = query.get("transport")
        return values[0] if values else None


class HttpTrace:
    """Records the requests of one aiohttp session (bounded)."""

    def __init__(self, size: int = 64) -> None:
        self.records: collections.deque[HttpRecord] = collections.deque(maxlen=size)
        self.config = aiohttp.TraceConfig()
        self.config.on_request_end.append(self._on_end)
        self.config.on_request_exception.append(self._on_exception)

    async def _on_end(
        self,
        session: aiohttp.ClientSession,
        context: SimpleNamespace,
        params: aiohttp.TraceRequestEndParams,
    ) -> None:
        response = params.response
        record = HttpRecord(
            method=params.method,
            url=str(params.url),
            status=response.status,
            reason=response.reason,
            content_type=response.headers.get("Content-Type"),
        )
        if response.status >= 400 and record.transport == "websocket":
            record = replace(record, body=await _short_body(response))
        self.records.append(record)

    async def _on_exception(
        self,
        session: aiohttp.ClientSession,
        context: SimpleNamespace,
        params: aiohttp.TraceRequestExceptionParams,
    ) -> None:
        if isinstance(params.exception, asyncio.CancelledError):
            return  # our own time limit cut it short: the caller knows and says so
        self.records.append(
            HttpRecord(method=params.method, url=str(params.url), error=params.exception)
        )

    def last(self, transport: str) -> HttpRecord | None:
        """The latest request of ``transport`` (``websocket`` or ``polling``)."""
        for record in reversed(self.records):
            if record.transport == transport:
                return record
        return None


async def _short_body(response: aiohttp.ClientResponse, limit: int = 4096) -> str | None:
    """The body of a small error answer (a refused websocket handshake), read within 0.5 s."""
    if response.content_length is not None and response.content_length > limit:
        return None
    try:
        raw = await asyncio.wait_for(response.content.read(limit), 0.5)
    except (aiohttp.ClientError, asyncio.TimeoutError):
        return None
    return raw.decode("utf-8", "replace").strip() or None


def ssl_setting(settings: Settings, url: str | None = None) -> ssl.SSLContext | bool:
    """What the connector verifies TLS with: a CA bundle's context, ``False`` (insecure) or default.

    ``True`` (aiohttp's own verified context) also when no TLS is on the way to ``url`` (default:
    the target): plain http without an https proxy needs no certificates, and loading a bundle
    (``--ca-bundle`` or ``SSL_CERT_FILE``) costs tens of milliseconds per connection.
    """
    if settings.insecure:
        return False
    target = url or settings.url
    if target.startswith(("http://", "ws://")) and not (
        effective_proxy(settings, target) or ""
    ).startswith("https://"):
        return True
    if settings.ca_bundle:
        return ca_context(settings.ca_bundle)
    return True


def ca_context(ca_bundle: str) -> ssl.SSLContext:
    """A verifying context that trusts ``ca_bundle``, made once per file version and shared."""
    try:
        stamp = os.stat(ca_bundle).st_mtime_ns
    except OSError:
        stamp = -1  # ssl says what is wrong with it
    return _ca_context(ca_bundle, stamp)


@functools.lru_cache(maxsize=8)
def _ca_context(ca_bundle: str, _stamp: int) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=ca_bundle)


class _BoundedResponse(aiohttp.ClientResponse):
    """A response whose :meth:`read` stops at :data:`MAX_ANSWER_BYTES` (python-engineio reads
    every polling answer whole with ``read()``: an endless body would grow without bound)."""

    limit: int = MAX_ANSWER_BYTES
    trace: HttpTrace | None = None

    async def read(self) -> bytes:
        if self._body is None:
            try:
                self._body = await self._read_bounded()
            except BaseException:
                self.close()
                raise
        return await super().read()

    async def _read_bounded(self) -> bytes:
        announced = self.content_length
        if announced is not None and announced > self.limit:
            self._refuse(AnswerTooLarge(self.limit, announced))
        body = bytearray()
        while chunk := await self.content.read(65536):
            body += chunk
            if len(body) > self.limit:
                self._refuse(AnswerTooLarge(self.limit))
        return bytes(body)

    def _refuse(self, error: AnswerTooLarge) -> None:
        if self.trace is not None:  # python-engineio only says "Unexpected response": keep why
            self.trace.records.append(
                HttpRecord(self.method, str(self.url), self.status, self.reason, error=error)
            )
        raise error


async def _refuse_redirect(
    session: aiohttp.ClientSession,
    context: SimpleNamespace,
    params: aiohttp.TraceRequestRedirectParams,
) -> None:
    response = params.response
    raise RedirectRefused(
        response.status, response.reason or "", response.headers.get("Location", "")
    )


class ProxyTunnelFailed(aiohttp.ClientConnectionError):
    """The proxy was reached but did not open a ``CONNECT`` tunnel (no answer, reset, garbage)."""


class TunnellingConnector(aiohttp.TCPConnector):
    """aiohttp's connector, except that a ``ws://`` websocket crosses an HTTP proxy in a tunnel.

    aiohttp sends a plain-http request through a proxy as an absolute-form ``GET ws://host/...``
    with the ``Upgrade`` headers; most forward proxies do not pass that on, so the websocket
    failed behind proxies that browsers cross. Browsers (RFC 6455 §4.1) open a ``CONNECT
    host:port`` tunnel first and speak to the server through it; so does this connector, for
    websocket upgrades only. Polling stays an ordinary proxied request, as in a browser.
    """

    def __init__(self, *, tunnel_timeout: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._tunnel_timeout = tunnel_timeout

    async def _create_proxy_connection(
        self, req: ClientRequest, traces: list[Trace], timeout: aiohttp.ClientTimeout
    ) -> tuple[asyncio.BaseTransport, ResponseHandler]:
        upgrade = req.headers.get(aiohttp.hdrs.UPGRADE, "").lower() == "websocket"
        if req.is_ssl() or req.proxy is None or not upgrade or req.proxy.scheme != "http":
            return await super()._create_proxy_connection(req, traces, timeout)
        return await self._tunnel(req, req.proxy)

    async def _tunnel(
        self, req: ClientRequest, proxy: yarl.URL
    ) -> tuple[asyncio.BaseTransport, ResponseHandler]:
        from conndebug.wire import Origin, Proxy, WireError, resolve

        limit = self._tunnel_timeout
        target = Origin.of(str(req.url)).hostport
        hop = Proxy.from_url(str(proxy))
        headers = dict(req.proxy_headers or {})
        if req.proxy_auth is not None and proxy.user is None:
            headers[aiohttp.hdrs.PROXY_AUTHORIZATION] = req.proxy_auth.encode()
        elif hop.authorization:
            # Credentials in the proxy URL become its Proxy-Authorization header there.
            headers.setdefault(aiohttp.hdrs.PROXY_AUTHORIZATION, hop.authorization)
        try:
            resolved = await resolve(hop.host, hop.port, limit)
            sock = await _connect_socket([a.sockaddr for a in resolved.addresses], limit)
        except (WireError, OSError, asyncio.TimeoutError) as exc:
            raise aiohttp.ClientProxyConnectionError(
                req.connection_key, OSError(str(exc) or "no answer")
            ) from None
        try:
            status, reason = await _connect_answer(sock, target, headers, limit)
            if status != 200:
                raise aiohttp.ClientHttpProxyError(
                    req.request_info,
                    (),
                    status=status,
                    message=f"{reason} to CONNECT {target}".lstrip(),
                    headers=None,
                )
            transport, protocol = await self._loop.create_connection(self._factory, sock=sock)
        except (OSError, asyncio.TimeoutError, ValueError) as exc:
            sock.close()
            raise ProxyTunnelFailed(f"the proxy's tunnel failed: {exc or 'no answer'}") from None
        except BaseException:
            sock.close()
            raise
        # Through the tunnel the request goes as to the server itself: origin-form, no proxy
        # headers. The tunnel serves this one websocket and is never pooled for another request.
        req.proxy = None
        protocol.force_close()
        return transport, protocol


async def _connect_socket(addresses: list[tuple[Any, ...]], limit: float) -> Any:
    """A connected non-blocking socket to the first address that answers (for aiohttp)."""
    import socket

    loop = asyncio.get_running_loop()
    error: BaseException = OSError("no address")
    for sockaddr in addresses:
        family = socket.AF_INET6 if ":" in str(sockaddr[0]) else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            await asyncio.wait_for(loop.sock_connect(sock, sockaddr), limit)
        except (OSError, asyncio.TimeoutError) as exc:
            sock.close()
            error = exc
            continue
        return sock
    raise error


async def _connect_answer(
    sock: Any, target: str, headers: dict[str, str], limit: float
) -> tuple[int, str]:
    """Send ``CONNECT target`` on ``sock`` and read the proxy's answer (parsed by h11)."""
    import h11

    loop = asyncio.get_running_loop()
    conn = h11.Connection(h11.CLIENT, max_incomplete_event_size=64 * 1024)
    sent = [("Host", target), *headers.items()]
    data = conn.send(h11.Request(method="CONNECT", target=target, headers=sent))
    assert data is not None
    await asyncio.wait_for(loop.sock_sendall(sock, data), limit)
    while True:
        try:
            event = conn.next_event()
        except h11.RemoteProtocolError as exc:
            raise ValueError(f"the proxy's answer is not HTTP ({exc})") from None
        if event is h11.NEED_DATA:
            chunk = await asyncio.wait_for(loop.sock_recv(sock, 65536), limit)
            if not chunk:
                raise OSError("the proxy closed the connection")
            conn.receive_data(chunk)
            continue
        if isinstance(event, h11.InformationalResponse):
            continue
        if isinstance(event, h11.Response):
            return event.status_code, event.reason.decode("latin-1")
        raise ValueError(f"unexpected {type(event).__name__}")


def make_session(settings: Settings, trace: HttpTrace) -> aiohttp.ClientSession:
    """A fresh session for one attempt; the caller closes it.

    It never follows a redirect (:class:`RedirectRefused`, recorded in ``trace``) and reads no
    answer beyond :data:`MAX_ANSWER_BYTES` (:class:`AnswerTooLarge`).
    """
    # The tunnel gives up a little before the websocket attempt's own limit, so that a proxy
    # that never answers CONNECT is named as such rather than as a silent websocket handshake.
    tunnel_timeout = max(0.9 * settings.ws_timeout, settings.ws_timeout - 0.25)
    connector = TunnellingConnector(
        ssl=ssl_setting(settings), limit=16, tunnel_timeout=tunnel_timeout
    )
    no_redirects = aiohttp.TraceConfig()
    no_redirects.on_request_redirect.append(_refuse_redirect)
    response_class = type("BoundedResponse", (_BoundedResponse,), {"trace": trace})
    return aiohttp.ClientSession(
        connector=connector,
        trace_configs=[trace.config, no_redirects],
        proxy=effective_proxy(settings),
        trust_env=False,
        response_class=response_class,
    )


def host_port(url: str) -> tuple[str, int]:
    """The host and port of an ``http(s)`` URL (default ports filled in)."""
    parts = urllib.parse.urlsplit(url)
    port = parts.port or (443 if parts.scheme in ("https", "wss") else 80)
    return parts.hostname or "localhost", port


async def port_open(host: str, port: int, timeout: float = 0.25) -> bool:
    """True if a TCP connection to ``host:port`` succeeds within ``timeout`` (then closed)."""
    try:
        _reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except (OSError, asyncio.TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError, asyncio.TimeoutError):  # it listens: that is the answer
        await asyncio.wait_for(writer.wait_closed(), timeout)
    return True


def _os_reason(exc: BaseException) -> str:
    err = getattr(exc, "os_error", None) or exc
    text = getattr(err, "strerror", None) or str(err) or type(err).__name__
    return str(text)


def classify(exc: BaseException) -> tuple[FailureKind, str]:
    """An exception of a connection attempt → its kind and a short explanation (one line)."""
    if isinstance(exc, RedirectRefused):
        return FailureKind.HTTP, (
            f"{exc}, not followed (Socket.IO clients do not follow redirects; the token and "
            "cookies stay with the target)"
        )
    if isinstance(exc, AnswerTooLarge):
        return FailureKind.PROTOCOL, str(exc)
    if isinstance(exc, aiohttp.ClientHttpProxyError):
        return FailureKind.PROXY, f"the proxy answered HTTP {exc.status} {exc.message}".rstrip()
    if isinstance(exc, ProxyTunnelFailed):
        return FailureKind.PROXY, f"no tunnel through the proxy: {exc}"
    if isinstance(exc, aiohttp.ClientProxyConnectionError):
        return FailureKind.PROXY, f"cannot reach the proxy ({_os_reason(exc)})"
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return FailureKind.TLS, f"certificate not trusted ({exc.certificate_error})"
    if isinstance(exc, (aiohttp.ClientConnectorSSLError, aiohttp.ClientSSLError, ssl.SSLError)):
        return FailureKind.TLS, f"TLS handshake failed ({_os_reason(exc)})"
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return FailureKind.DNS, f"the host name does not resolve ({_os_reason(exc)})"
    if isinstance(exc, aiohttp.WSServerHandshakeError):
        return FailureKind.HTTP, f"HTTP {exc.status} to the websocket handshake"
    if isinstance(exc, aiohttp.ClientConnectorError):
        if isinstance(exc.os_error, ConnectionRefusedError):
            return FailureKind.REFUSED, "connection refused (nothing listens there)"
        return FailureKind.OTHER, f"cannot connect ({_os_reason(exc)})"
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return FailureKind.TIMEOUT, "no answer in time"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return FailureKind.CLOSED, "the server closed the connection"
    if isinstance(exc, aiohttp.TooManyRedirects):
        return FailureKind.HTTP, "the server redirects in a loop"
    if isinstance(exc, aiohttp.ClientResponseError) and isinstance(
        exc.__cause__, http_exceptions.HttpProcessingError
    ):
        # aiohttp's HTTP parser failed: what came back is not HTTP at all.
        first = one_line(str(exc.message).split("\n", 1)[0].rstrip(" :"), 80)
        return FailureKind.PROTOCOL, f"the answer is not HTTP ({first})"
    if isinstance(exc, ConnectionRefusedError):
        return FailureKind.REFUSED, "connection refused (nothing listens there)"
    if isinstance(exc, OSError):
        return FailureKind.OTHER, one_line(_os_reason(exc))
    return FailureKind.OTHER, one_line(str(exc) or type(exc).__name__)
