"""HTTP proxies: what a proxy URL says, and ``CONNECT`` tunnels (the answer parsed with h11).

Credentials in the proxy URL (``http://user:pass@proxy:3128``) become a ``Proxy-Authorization``
header sent to the proxy only: in the ``CONNECT`` request, or in absolute-form requests to it;
never through a tunnel to the origin.
"""

from __future__ import annotations

import asyncio
import base64
import time
import urllib.parse
from dataclasses import dataclass

import h11

from conndebug.core.failure import FailureKind
from conndebug.wire._errors import ProxyError
from conndebug.wire._stream import Stream
from conndebug.wire._util import ms_since, printable, seconds, within

__all__ = ["HEAD_LIMIT", "Proxy", "ProxyAnswer", "open_tunnel"]

HEAD_LIMIT = 64 * 1024
"""The largest answer head (status line and headers) read from a proxy or a server."""


@dataclass(frozen=True)
class Proxy:
    """An HTTP proxy: where it listens and the credentials of its URL."""

    url: str
    """As configured (credentials included: redact before showing)."""
    host: str
    port: int
    tls: bool
    """An ``https://`` proxy: TLS to the proxy itself."""
    authorization: str | None
    """``Basic ...`` for the URL's credentials, sent to the proxy only."""

    @classmethod
    def from_url(cls, url: str) -> Proxy:
        """``http://[user:pass@]host[:port]`` (no scheme: http; default port 8080, 443 for https)."""
        parts = urllib.parse.urlsplit(url if "://" in url else "http://" + url)
        tls = parts.scheme == "https"
        auth = None
        if parts.username is not None:
            user = urllib.parse.unquote(parts.username)
            password = urllib.parse.unquote(parts.password or "")
            auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
        return cls(url, parts.hostname or "", parts.port or (443 if tls else 8080), tls, auth)

    @property
    def hostport(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def shown(self) -> str:
        """The proxy URL without its credentials."""
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{self.hostport}"


@dataclass(frozen=True)
class ProxyAnswer:
    """What a proxy answered to ``CONNECT``."""

    status: int
    reason: str
    headers: tuple[tuple[str, str], ...]
    """Lower-case names, in order."""
    http_version: str
    ms: float
    request_headers: tuple[tuple[str, str], ...]
    """The ``CONNECT`` request's headers as sent (``Proxy-Authorization`` included)."""

    @property
    def status_line(self) -> str:
        return f"HTTP {self.status} {self.reason}".rstrip()

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((v for k, v in self.headers if k == lowered), None)


def _text(value: bytes) -> str:
    return value.decode("latin-1")


async def open_tunnel(
    stream: Stream,
    target: str,
    proxy: Proxy,
    timeout: float,
    *,
    headers: tuple[tuple[str, str], ...] = (),
) -> ProxyAnswer:
    """Ask the proxy at the other end of ``stream`` for a tunnel to ``target`` (``host:port``).

    On a 2xx answer the stream leads to the target from then on (``stream.via`` becomes
    ``tunnel``) and the answer is returned as evidence. Otherwise raises
    :class:`~conndebug.wire.ProxyError` (the answer's status line and headers attached):
    ``no_answer`` (nothing within ``timeout``), ``closed``, ``not_http``, ``auth_required`` /
    ``auth_rejected`` (407), ``forbidden`` (403), ``status``.
    """
    start = time.monotonic()
    sent: list[tuple[str, str]] = [("Host", target)]
    if proxy.authorization:
        sent.append(("Proxy-Authorization", proxy.authorization))
    sent += list(headers)
    conn = h11.Connection(h11.CLIENT, max_incomplete_event_size=HEAD_LIMIT)
    try:
        data = conn.send(h11.Request(method="CONNECT", target=target, headers=sent))
    except h11.LocalProtocolError as exc:
        raise ProxyError(
            f"cannot ask the proxy for {target} ({exc})", reason="bad_request"
        ) from None
    assert data is not None
    received = 0
    try:
        stream.write(data)
        response = await within(_answer(stream, conn, target), timeout)
    except asyncio.TimeoutError:
        raise ProxyError(
            f"the proxy {proxy.hostport} did not answer CONNECT {target} within {seconds(timeout)} s",
            reason="no_answer",
            kind=FailureKind.TIMEOUT,
        ) from None
    except (ConnectionError, OSError) as exc:
        raise ProxyError(
            f"the proxy {proxy.hostport} reset the connection while asked for {target} ({exc})",
            reason="closed",
        ) from None
    except h11.RemoteProtocolError as exc:
        raise ProxyError(
            f"the proxy's answer to CONNECT is not HTTP ({_short(exc)})",
            reason="not_http",
            kind=FailureKind.PROTOCOL,
            evidence={"received": received},
        ) from None
    ms = ms_since(start)
    if response is None:
        raise ProxyError(
            f"the proxy {proxy.hostport} closed the connection without answering CONNECT {target}",
            reason="closed",
        )
    answer = ProxyAnswer(
        status=response.status_code,
        reason=_text(response.reason),
        headers=tuple((_text(k), _text(v)) for k, v in response.headers),
        http_version=_text(response.http_version),
        ms=ms,
        request_headers=tuple(sent),
    )
    if 200 <= answer.status < 300:
        if conn.trailing_data[0]:
            stream.unread(bytes(conn.trailing_data[0]))  # the target spoke first (TLS server?)
        stream.via = "tunnel"
        stream.target = target
        return answer
    if answer.status == 407:
        reason = "auth_rejected" if proxy.authorization else "auth_required"
        words = (
            "the proxy rejected the credentials of the proxy URL"
            if proxy.authorization
            else "the proxy asks for credentials (put them in the proxy URL: http://user:pass@host:port)"
        )
    elif answer.status == 403:
        reason, words = "forbidden", f"the proxy refuses a tunnel to {target}"
    else:
        reason, words = "status", f"the proxy did not open a tunnel to {target}"
    raise ProxyError(
        f"{words}: it answered {answer.status_line} to CONNECT",
        reason=reason,
        status=answer.status,
        status_line=answer.status_line,
        headers=answer.headers,
    )


async def _answer(stream: Stream, conn: h11.Connection, target: str) -> h11.Response | None:
    """The proxy's final answer to CONNECT (interim 1xx answers skipped), or None at EOF."""
    await stream.drain()
    interim = 0
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            data = await stream.read()
            if not data and conn.their_state is h11.SEND_RESPONSE:
                return None
            conn.receive_data(data)
            continue
        if isinstance(event, h11.InformationalResponse):
            interim += 1
            if interim > 8:
                raise h11.RemoteProtocolError("too many interim answers")
            continue
        if isinstance(event, h11.Response):
            return event
        if isinstance(event, h11.ConnectionClosed):
            return None
        raise h11.RemoteProtocolError(f"unexpected {type(event).__name__}")


def _short(exc: BaseException) -> str:
    text = str(exc).partition(": bytearray(")[0]
    return printable(text.encode("utf-8", "replace"), 80)
