"""HTTP/1.1 on h11: keep-alive connections per route, concurrent requests on separate
connections, a cookie jar, every read bounded in bytes and time, redirects never followed.

Why h11 and not httpx/httpcore here: see ``bench/notes.md`` (the wire section): h11 is the parser
httpcore itself uses; driving it directly costs less to import and per request, and leaves every
step (connection, tunnel, TLS, bytes) in our hands to time, bound and observe.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from conndebug.wire._cookies import CookieJar
from conndebug.wire._route import Route
from conndebug.wire._stream import Stream

if TYPE_CHECKING:
    from conndebug.config import Settings
    from conndebug.wire._observe import Observer

__all__ = ["BODY_LIMIT", "HttpClient", "Response", "Timings"]

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
        raise NotImplementedError

    def route(self, url: str) -> Route:
        """How ``url`` is reached (cached per origin)."""
        raise NotImplementedError

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: HeaderInput = None,
        body: bytes | None = None,
        timeout: float | None = None,
        limit: int = BODY_LIMIT,
    ) -> Response:
        """Send one request and read its answer, its body up to ``limit`` bytes (the rest is
        not read and the connection is dropped: ``truncated``), the whole within ``timeout``
        (default: the client's). A 3xx is returned, never followed.

        Raises :class:`~conndebug.wire.WireError` (``TIMEOUT`` with the phase that hung: a
        connection step, or ``http`` once the request is sent), :class:`~conndebug.wire.NotHttp`,
        :class:`~conndebug.wire.TlsError`, :class:`~conndebug.wire.ProxyError`.
        """
        raise NotImplementedError

    def adopt(self, url: str, stream: Stream) -> None:
        """Keep ``stream`` (opened elsewhere along the route of ``url``: through the proxy and
        TLS as this client would) for the next request to ``url``'s origin."""
        raise NotImplementedError

    async def websocket(
        self,
        url: str,
        *,
        headers: HeaderInput = None,
        timeout: float | None = None,
        subprotocols: Sequence[str] = (),
        max_message: int | None = None,
    ) -> Any:
        """A websocket to ``url`` (``ws(s)://``) along this client's route, with its cookies and
        default headers and observer (see :func:`~conndebug.wire.connect_websocket`)."""
        raise NotImplementedError

    async def aclose(self) -> None:
        """Close the idle connections (requests still running keep theirs until they end)."""
        raise NotImplementedError

    async def __aenter__(self) -> HttpClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def _monotonic() -> float:
    return time.monotonic()
