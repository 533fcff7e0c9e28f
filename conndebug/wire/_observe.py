"""What an observer sees: one record per HTTP exchange, per websocket open, message and close, and
per connection (bytes in and out).

An observer is any object with some of the methods of :class:`Observer` (subclass it and override
what you need: the defaults do nothing). Without an observer the wire layer builds none of these
records: a client pays nothing for observability it does not use. The records are plain frozen
dataclasses with everything a packet inspector or a HAR 1.2 export needs: wall-clock start,
timings per phase, request and response heads, bodies (bounded), the connection they went over.
Values are as sent and received: secrets (cookies, Authorization) are the consumer's to redact.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conndebug.wire._errors import Who, WireError
    from conndebug.wire._http import Timings

__all__ = [
    "ConnectionClosed",
    "ConnectionOpened",
    "HttpExchange",
    "Observer",
    "WsEnded",
    "WsMessage",
    "WsOpened",
]

Headers = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class ConnectionOpened:
    """A new connection (TCP, and the tunnel and TLS on it, if any) is ready to carry traffic."""

    connection_id: int
    peer: str
    """The address connected to (``1.2.3.4:80``, ``[::1]:443``): the proxy's when through one."""
    target: str
    """``host:port`` of the origin it serves."""
    via: str
    """``direct``, ``forward`` (an http proxy, absolute-form requests) or ``tunnel`` (CONNECT)."""
    tls: bool
    at: float
    """Wall clock (``time.time()``) when it was ready."""


@dataclass(frozen=True)
class ConnectionClosed:
    """A connection ended; its byte counts are what crossed the socket (TLS records included)."""

    connection_id: int
    bytes_in: int
    bytes_out: int
    at: float
    requests: int
    """HTTP exchanges it carried (a websocket's connection: 1, the upgrade)."""


@dataclass(frozen=True)
class HttpExchange:
    """One HTTP request and its answer (or the error it ended with)."""

    request_id: int
    connection_id: int | None
    """``None`` when no connection could be made."""
    started_at: float
    """Wall clock when the request started (before any connection was made for it)."""
    method: str
    url: str
    http_version: str
    request_headers: Headers
    """As sent, in order (``Host`` first; ``Cookie`` and ``Proxy-Authorization`` included)."""
    request_body: bytes
    """The body sent, cut at the observer body limit (see ``request_body_size``)."""
    request_body_size: int
    status: int | None
    reason: str | None
    response_headers: Headers
    """Lower-case names, in order; empty without an answer."""
    response_body: bytes
    """The body as received (decoded from gzip/deflate), bounded like the response's."""
    response_body_size: int
    """Bytes of the body on the wire (before decoding)."""
    truncated: bool
    timings: Timings
    error: WireError | None = None


@dataclass(frozen=True)
class WsOpened:
    """A websocket handshake succeeded: the upgrade request and the server's 101."""

    connection_id: int
    started_at: float
    url: str
    request_headers: Headers
    status: int
    reason: str
    response_headers: Headers
    timings: Timings


@dataclass(frozen=True)
class WsMessage:
    """One websocket message, whole (fragments reassembled)."""

    connection_id: int
    direction: str
    """``out`` (we sent it) or ``in``."""
    data: str | bytes
    """A ``str`` for a text message, ``bytes`` for a binary one."""
    at: float
    """Wall clock when it was sent or when the read that completed it returned."""

    @property
    def text(self) -> bool:
        return isinstance(self.data, str)

    @property
    def size(self) -> int:
        """The payload's size in bytes (UTF-8 for text)."""
        return len(self.data.encode("utf-8")) if isinstance(self.data, str) else len(self.data)


@dataclass(frozen=True)
class WsEnded:
    """A websocket ended: who ended it, the close code and reason, and the byte counts."""

    connection_id: int
    who: Who
    code: int | None
    reason: str
    clean: bool
    at: float
    message: str
    bytes_in: int
    bytes_out: int


class Observer:
    """Callbacks of the wire layer; override the ones you need (each default does nothing).

    They are called synchronously on the event loop, in the order things happened on the wire:
    keep them quick (append to a list, put on a queue). An exception raised by a callback
    propagates into the request or the websocket call that made it.
    """

    def connection_opened(self, record: ConnectionOpened) -> None:
        """A connection is ready."""

    def connection_closed(self, record: ConnectionClosed) -> None:
        """A connection ended (with its byte counts)."""

    def http_exchange(self, record: HttpExchange) -> None:
        """An HTTP request was answered, or failed."""

    def ws_opened(self, record: WsOpened) -> None:
        """A websocket handshake succeeded."""

    def ws_message(self, record: WsMessage) -> None:
        """A websocket message was sent or received."""

    def ws_ended(self, record: WsEnded) -> None:
        """A websocket ended."""

    def ws_refused(self, record: HttpExchange) -> None:
        """A websocket upgrade was answered with something other than 101 (or failed)."""
