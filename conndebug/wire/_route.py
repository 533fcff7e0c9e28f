"""How a URL is reached, from the settings: direct, through a forward proxy, or in a tunnel.

- ``direct``: TCP to the origin (TLS for https/wss).
- ``forward``: plain http through an http proxy: TCP to the proxy, requests in absolute form
  (``GET http://host/path``) with the proxy's credentials.
- ``tunnel``: https and wss always, and ws through an http proxy as browsers do (RFC 6455 §4.1;
  most proxies do not pass an absolute-form upgrade on): TCP to the proxy, ``CONNECT host:port``,
  then TLS to the origin inside for https/wss.

:func:`open_route` climbs those steps within one time limit and times each; a step that hangs is
named in the timeout (a proxy that never answers ``CONNECT`` is the proxy's fault, not the
websocket's).
"""

from __future__ import annotations

import asyncio
import functools
import ssl
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from conndebug.core.failure import FailureKind
from conndebug.wire._errors import Phase, ProxyError, WireError
from conndebug.wire._steps import connect_tcp, resolve
from conndebug.wire._stream import Stream
from conndebug.wire._tls import start_tls, tls_context
from conndebug.wire._util import seconds, within

if TYPE_CHECKING:
    from conndebug.config import Settings
    from conndebug.wire._proxy import Proxy

__all__ = ["ConnectTimings", "Origin", "Route", "open_route"]

Mode = Literal["direct", "forward", "tunnel"]


@dataclass(frozen=True)
class Origin:
    """Scheme, host and port of a URL (``ws``/``wss`` kept as given: they say it is a websocket)."""

    scheme: str
    host: str
    port: int

    @classmethod
    def of(cls, url: str) -> Origin:
        """The origin of an ``http(s)://`` or ``ws(s)://`` URL; ``ValueError`` for anything else."""
        parts = urllib.parse.urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https", "ws", "wss"):
            raise ValueError(f"not an http(s) or ws(s) URL: {url[:80]!r}")
        port = parts.port  # ValueError for a bad port
        host = parts.hostname
        if not host:
            raise ValueError(f"no host in {url[:80]!r}")
        return cls(scheme, host, port or (443 if scheme in ("https", "wss") else 80))

    @property
    def tls(self) -> bool:
        return self.scheme in ("https", "wss")

    @property
    def hostport(self) -> str:
        """``host:port`` (IPv6 in brackets), as in ``CONNECT`` and addresses."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @functools.cached_property
    def host_header(self) -> str:
        """The ``Host`` header: the port only when it is not the scheme's default (made once:
        every request sends it)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == (443 if self.tls else 80) else f"{host}:{self.port}"


@dataclass(frozen=True)
class Route:
    """How to reach one origin: the mode, the proxy if any, the TLS context for the origin."""

    origin: Origin
    mode: Mode
    proxy: Proxy | None = None
    context: ssl.SSLContext | None = field(default=None, compare=False)
    """The origin's TLS context (None for plain http/ws)."""
    proxy_context: ssl.SSLContext | None = field(default=None, compare=False)
    """The context for TLS to an ``https://`` proxy."""

    @functools.cached_property
    def key(self) -> tuple[str, str, int, str, str | None]:
        """Connections are shared by requests whose route has the same key (made once: every
        request takes and gives back a connection by it)."""
        return (
            "https" if self.origin.tls else "http",
            self.origin.host,
            self.origin.port,
            self.mode,
            self.proxy.url if self.proxy else None,
        )

    @classmethod
    def direct(cls, url: str, *, verify: bool = True, ca_bundle: str | None = None) -> Route:
        """A direct route to ``url``'s origin (no settings, no proxy)."""
        origin = Origin.of(url)
        context = tls_context(verify=verify, ca_bundle=ca_bundle) if origin.tls else None
        return cls(origin, "direct", None, context)

    @classmethod
    def for_url(cls, settings: Settings, url: str, *, verify: bool = True) -> Route:
        """The route the settings give ``url``: ``--proxy`` or ``HTTP(S)_PROXY`` unless
        ``NO_PROXY`` names the host (:func:`conndebug.config.effective_proxy`), ``--ca-bundle``
        (or ``SSL_CERT_FILE``, folded into it by the settings), ``--insecure``."""
        from conndebug.config import effective_proxy

        origin = Origin.of(url)
        proxied = effective_proxy(settings, url)
        verifying = verify and not settings.insecure
        context = (
            tls_context(verify=verifying, ca_bundle=settings.ca_bundle) if origin.tls else None
        )
        if not proxied:
            return cls(origin, "direct", None, context)
        from conndebug.wire._proxy import Proxy  # h11: loaded when a proxy is in effect

        proxy = Proxy.from_url(proxied)
        proxy_context = (
            tls_context(verify=verifying, ca_bundle=settings.ca_bundle) if proxy.tls else None
        )
        mode: Mode = "forward" if origin.scheme == "http" else "tunnel"
        return cls(origin, mode, proxy, context, proxy_context)

    def describe(self) -> str:
        """``direct``, ``through the proxy http://host:port (CONNECT tunnel)``..."""
        if self.proxy is None:
            return "direct"
        how = "CONNECT tunnel" if self.mode == "tunnel" else "absolute-form requests"
        return f"through the proxy {self.proxy.shown} ({how})"


@dataclass
class ConnectTimings:
    """How long each step of opening a connection took (None: not done on this route)."""

    dns_ms: float | None = None
    tcp_ms: float | None = None
    proxy_ms: float | None = None
    tls_ms: float | None = None
    failed_addresses: tuple[tuple[str, str], ...] = ()


class _Steps:
    """The step in progress (for naming a timeout) and the timings so far."""

    __slots__ = ("phase", "timings")

    def __init__(self) -> None:
        self.phase: Phase = "dns"
        self.timings = ConnectTimings()


async def open_route(
    route: Route, timeout: float, *, describe_tls: bool = False
) -> tuple[Stream, ConnectTimings]:
    """A stream to ``route``'s origin (or to its proxy, for ``forward``), every step within
    ``timeout`` altogether. Raises :class:`WireError` (a timeout names the step that hung)."""
    steps = _Steps()
    try:
        stream = await within(_climb(route, steps, timeout, describe_tls), timeout)
    except asyncio.TimeoutError:
        raise _timeout(route, steps.phase, timeout) from None
    return stream, steps.timings


def _timeout(route: Route, phase: Phase, timeout: float) -> WireError:
    if route.proxy is not None and phase in ("dns", "tcp"):
        return ProxyError(
            f"cannot reach the proxy {route.proxy.hostport}: no answer within {seconds(timeout)} s",
            reason="unreachable",
        )
    where = None
    what = {
        "dns": f"no answer from the resolver for {where or route.origin.host}",
        "tcp": f"no answer to the connection to {where or route.origin.hostport}",
        "proxy": f"the proxy {route.proxy.hostport if route.proxy else '?'} did not answer "
        f"CONNECT {route.origin.hostport}",
        "tls": f"no TLS answer from {route.origin.hostport}",
    }.get(phase, "no answer")
    if phase == "proxy":
        return ProxyError(
            f"{what} within {seconds(timeout)} s", reason="no_answer", kind=FailureKind.TIMEOUT
        )
    return WireError(
        FailureKind.TIMEOUT, phase, f"{what} within {seconds(timeout)} s", reason=f"{phase}_timeout"
    )


async def _climb(route: Route, steps: _Steps, timeout: float, describe_tls: bool) -> Stream:
    origin = route.origin
    proxy = route.proxy
    host, port = (proxy.host, proxy.port) if proxy else (origin.host, origin.port)
    t = steps.timings
    steps.phase = "dns"
    try:
        resolved = await resolve(host, port, timeout)
    except WireError as exc:
        raise _via_proxy(exc, proxy) from None
    t.dns_ms = resolved.ms
    steps.phase = "tcp"
    try:
        connected = await connect_tcp(resolved, timeout, target=origin.hostport)
    except WireError as exc:
        raise _via_proxy(exc, proxy) from None
    t.tcp_ms = connected.ms
    t.failed_addresses = connected.failed
    stream = connected.stream
    try:
        if proxy is not None:
            stream.via = route.mode
            if proxy.tls:
                steps.phase = "tls"
                assert route.proxy_context is not None
                await start_tls(stream, proxy.host, route.proxy_context, timeout, describe=False)
            if route.mode == "tunnel":
                steps.phase = "proxy"
                started = time.monotonic()
                from conndebug.wire._proxy import open_tunnel

                await open_tunnel(stream, origin.hostport, proxy, timeout)
                t.proxy_ms = (time.monotonic() - started) * 1000
        if origin.tls and route.mode != "forward":
            steps.phase = "tls"
            assert route.context is not None
            info = await start_tls(
                stream, origin.host, route.context, timeout, describe=describe_tls
            )
            t.tls_ms = info.ms
    except BaseException:
        stream.abort()
        raise
    steps.phase = "http"
    return stream


def _via_proxy(exc: WireError, proxy: Proxy | None) -> WireError:
    """A failure to reach the proxy is the proxy's (kind PROXY, reason ``unreachable``)."""
    if proxy is None:
        return exc
    return ProxyError(
        f"cannot reach the proxy {proxy.hostport}: {exc.message}",
        reason="unreachable",
        evidence=exc.evidence,
    )
