"""The websocket on wsproto: the client handshake (direct, in a CONNECT tunnel, over TLS), whole
messages in and out, pongs to pings, and an end that says who ended it.

The upgrade request and its answer are read with h11 (the status line's reason, every header and
a refusal's body, bounded, are evidence a diagnosis needs), the accept key checked with wsproto's
own function, then wsproto's connection takes the frames. Reading takes everything that has
arrived in one go and decodes every frame in it: one wake-up per network read, not per message,
and no task or timer per message.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from conndebug.wire._errors import WsClosed
from conndebug.wire._stream import Stream

if TYPE_CHECKING:
    from conndebug.config import Settings
    from conndebug.wire._cookies import CookieJar
    from conndebug.wire._http import Timings
    from conndebug.wire._observe import Observer
    from conndebug.wire._route import Route

__all__ = ["MAX_MESSAGE", "WebSocket", "connect_websocket", "websocket_over"]

MAX_MESSAGE = 16 * 1024 * 1024
"""The largest message taken in by default (a larger one closes the websocket with 1009)."""
REFUSAL_BODY_LIMIT = 16 * 1024
"""The most bytes of a refused handshake's body read."""

Headers = tuple[tuple[str, str], ...]
HeaderInput = Mapping[str, str] | Sequence[tuple[str, str]] | None


class WebSocket:
    """One client websocket, open once constructed by :func:`connect_websocket` or
    :func:`websocket_over`.

    :meth:`recv` returns whole messages (``str`` for text, ``bytes`` for binary) and raises
    :class:`~conndebug.wire.WsClosed` at the end, every time after. Pings are answered while
    reading. Not safe for two concurrent readers; sending while another task reads is fine.
    """

    url: str
    stream: Stream
    request_headers: Headers
    """The upgrade request's headers as sent."""
    status: int
    """101."""
    reason: str
    response_headers: Headers
    """The 101's headers (lower-case names, in order)."""
    subprotocol: str | None
    timings: Timings
    closed: WsClosed | None
    """How it ended, once it has."""
    max_message: int

    @property
    def connection_id(self) -> int:
        return self.stream.connection_id

    @property
    def bytes_in(self) -> int:
        return self.stream.bytes_in

    @property
    def bytes_out(self) -> int:
        return self.stream.bytes_out

    async def send_text(self, text: str) -> None:
        """Send a text message (raises :class:`~conndebug.wire.WsClosed` once it has ended)."""
        raise NotImplementedError

    async def send_bytes(self, data: bytes) -> None:
        """Send a binary message."""
        raise NotImplementedError

    async def ping(self, payload: bytes = b"") -> None:
        """Send a ping (the pong is consumed by :meth:`recv`)."""
        raise NotImplementedError

    async def recv(self, timeout: float | None = None) -> str | bytes:
        """The next whole message; ``asyncio.TimeoutError`` after ``timeout`` seconds (None:
        wait as long as it takes); :class:`~conndebug.wire.WsClosed` at the end."""
        raise NotImplementedError

    def recv_nowait(self) -> list[str | bytes]:
        """The messages already decoded and not returned yet (possibly none), without waiting."""
        raise NotImplementedError

    async def recv_many(self, timeout: float | None = None) -> list[str | bytes]:
        """At least one message: every message decoded from what has arrived (a batch)."""
        raise NotImplementedError

    async def close(self, code: int = 1000, reason: str = "", timeout: float = 1.0) -> None:
        """Send a close frame, wait up to ``timeout`` for the server's, then close the stream.
        Afterwards ``closed.who`` is ``us`` (or what ended it before)."""
        raise NotImplementedError

    def abort(self) -> None:
        """Drop the connection at once (no close frame)."""
        raise NotImplementedError


async def websocket_over(
    stream: Stream,
    url: str,
    *,
    headers: HeaderInput = None,
    timeout: float = 10.0,
    subprotocols: Sequence[str] = (),
    max_message: int = MAX_MESSAGE,
    observer: Observer | None = None,
    timings: Timings | None = None,
) -> WebSocket:
    """The websocket handshake for ``url`` (its path and query) on an opened ``stream`` (TCP,
    tunnel and TLS done), within ``timeout``.

    Raises :class:`~conndebug.wire.WsRefused` (any answer but 101: status, reason, headers and
    up to 16 KiB of body), :class:`~conndebug.wire.NotHttp` (garbage), a ``TIMEOUT``
    :class:`~conndebug.wire.WireError` (phase ``websocket``: no answer), ``CLOSED`` (the server
    closed or reset without answering), ``PROTOCOL`` (a 101 with a wrong accept key).
    """
    raise NotImplementedError


async def connect_websocket(
    url: str,
    *,
    settings: Settings | None = None,
    route: Route | None = None,
    headers: HeaderInput = None,
    timeout: float = 10.0,
    cookies: CookieJar | None = None,
    subprotocols: Sequence[str] = (),
    max_message: int = MAX_MESSAGE,
    observer: Observer | None = None,
) -> WebSocket:
    """Open a websocket to ``url`` (``ws://`` / ``wss://``; ``http(s)://`` mapped) along
    ``route`` (default: the settings' route for it, or direct): DNS, TCP, the proxy's CONNECT
    tunnel, TLS and the handshake, all within ``timeout``; a timeout names the step that hung.
    ``cookies`` adds the jar's cookies for the URL (and keeps those the 101 sets)."""
    raise NotImplementedError
