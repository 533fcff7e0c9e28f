"""The wire: DNS, TCP, the proxy, TLS, HTTP/1.1 and the websocket, each step timed, bounded in
bytes and time, and observable. Built on the sans-IO pair h11 (HTTP/1.1) and wsproto (websocket)
over conndebug's own asyncio streams; no aiohttp, no httpx.

The steps one by one (what the probe climbs)::

    resolved = await resolve(host, port, timeout)               # addresses, ms
    connected = await connect_tcp(resolved, timeout)            # stream, address, failed ones
    answer = await open_tunnel(stream, "host:443", proxy, timeout)   # CONNECT (ProxyAnswer)
    info = await start_tls(stream, "host", context, timeout)    # TlsInfo: certificate facts

Or all at once along a :class:`Route` (built from the settings: proxy, CA bundle, --insecure)::

    async with HttpClient(settings, observer=tap) as http:
        answer = await http.request("GET", url, timeout=5, limit=64 * 1024)
        ws = await http.websocket("wss://host/socket.io/?EIO=4&transport=websocket")
        await ws.send_text("2probe"); message = await ws.recv()

Failures are one family (:class:`WireError`, see :mod:`conndebug.wire._errors`): a
``FailureKind``, the phase, plain words, a reason code and evidence.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from conndebug.wire._errors import (
    NotHttp,
    Phase,
    ProxyError,
    TlsError,
    Who,
    WireError,
    WsClosed,
    WsRefused,
)
from conndebug.wire._steps import Address, Connected, Resolved, connect_tcp, resolve
from conndebug.wire._stream import Stream
from conndebug.wire._tls import (
    TlsInfo,
    describe_cert,
    peek_certificate,
    sniff_plain_http,
    start_tls,
    tls_context,
)
from conndebug.wire._util import within

if TYPE_CHECKING:
    from conndebug.wire._cookies import Cookie, CookieJar
    from conndebug.wire._http import BODY_LIMIT, HttpClient, Response, Timings, next_request_id
    from conndebug.wire._observe import (
        ConnectionClosed,
        ConnectionOpened,
        HttpExchange,
        Observer,
        WsEnded,
        WsMessage,
        WsOpened,
    )
    from conndebug.wire._proxy import HEAD_LIMIT, Proxy, ProxyAnswer, open_tunnel
    from conndebug.wire._route import ConnectTimings, Origin, Route, open_route
    from conndebug.wire._ws import MAX_MESSAGE, WebSocket, connect_websocket, websocket_over

_LAZY = {
    "Cookie": "_cookies",
    "CookieJar": "_cookies",
    "BODY_LIMIT": "_http",
    "HttpClient": "_http",
    "Response": "_http",
    "Timings": "_http",
    "next_request_id": "_http",
    "HEAD_LIMIT": "_proxy",
    "Proxy": "_proxy",
    "ProxyAnswer": "_proxy",
    "open_tunnel": "_proxy",
    "ConnectTimings": "_route",
    "Origin": "_route",
    "Route": "_route",
    "open_route": "_route",
    "ConnectionClosed": "_observe",
    "ConnectionOpened": "_observe",
    "HttpExchange": "_observe",
    "Observer": "_observe",
    "WsEnded": "_observe",
    "WsMessage": "_observe",
    "WsOpened": "_observe",
    "MAX_MESSAGE": "_ws",
    "WebSocket": "_ws",
    "connect_websocket": "_ws",
    "websocket_over": "_ws",
}
"""Names loaded on first use: HTTP (h11, ~5 ms to import: a probe that fails at DNS or TCP
never needs it), the websocket (wsproto, ~11 ms) and the observer's records (dataclasses, ~4 ms)
cost nothing to a command that uses none of them."""


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'conndebug.wire' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"conndebug.wire.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "BODY_LIMIT",
    "HEAD_LIMIT",
    "MAX_MESSAGE",
    "Address",
    "ConnectTimings",
    "Connected",
    "ConnectionClosed",
    "ConnectionOpened",
    "Cookie",
    "CookieJar",
    "HttpClient",
    "HttpExchange",
    "NotHttp",
    "Observer",
    "Origin",
    "Phase",
    "Proxy",
    "ProxyAnswer",
    "ProxyError",
    "Resolved",
    "Response",
    "Route",
    "Stream",
    "Timings",
    "TlsError",
    "TlsInfo",
    "WebSocket",
    "Who",
    "WireError",
    "WsClosed",
    "WsEnded",
    "WsMessage",
    "WsOpened",
    "WsRefused",
    "connect_tcp",
    "connect_websocket",
    "describe_cert",
    "next_request_id",
    "open_route",
    "open_tunnel",
    "peek_certificate",
    "resolve",
    "sniff_plain_http",
    "start_tls",
    "tls_context",
    "websocket_over",
    "within",
]
