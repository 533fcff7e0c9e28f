"""The websocket on wsproto: the client handshake (direct, in a CONNECT tunnel, over TLS), whole
messages in and out, pongs to pings, and an end that says who ended it.

The upgrade request and its answer are read with h11 (the status line's reason, every header and
a refusal's body, bounded, are evidence a diagnosis needs), the accept key checked (RFC 6455),
then wsproto's connection takes the frames; except the one shape a storm of small events is made
of (whole, final, unmasked text or binary frames outside a fragmented message), which is sliced
here: wsproto's general parser costs ~9 µs a frame, ~20× this path (see
:meth:`WebSocket._parse` and ``bench/notes.md``). Whole messages are also framed here on the way
out, so wsproto is loaded only when a frame needs it (a control frame, a fragment, the close). Reading takes everything that has arrived in
one go and decodes every frame in it: one wake-up per network read, not per message, and no task
or timer per message.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import contextlib
import hashlib
import os
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import h11

from conndebug.core.failure import FailureKind
from conndebug.wire._errors import NotHttp, Who, WireError, WsClosed, WsRefused
from conndebug.wire._http import Timings, _header_pairs, _not_http, _split
from conndebug.wire._proxy import HEAD_LIMIT
from conndebug.wire._route import Route, _climb, _Steps, _timeout
from conndebug.wire._stream import Stream
from conndebug.wire._util import printable, seconds, within

if TYPE_CHECKING:
    from wsproto.connection import Connection
    from wsproto.events import CloseConnection

    from conndebug.config import Settings
    from conndebug.wire._cookies import CookieJar
    from conndebug.wire._observe import Observer

__all__ = ["MAX_MESSAGE", "WebSocket", "connect_websocket", "websocket_over"]

MAX_MESSAGE = 16 * 1024 * 1024
"""The largest message taken in by default (a larger one closes the websocket with 1009)."""
REFUSAL_BODY_LIMIT = 16 * 1024
"""The most bytes of a refused handshake's body read."""

Headers = tuple[tuple[str, str], ...]
HeaderInput = Mapping[str, str] | Sequence[tuple[str, str]] | None


_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
"""RFC 6455's magic string for ``Sec-WebSocket-Accept``."""


def _nonce() -> bytes:
    """A ``Sec-WebSocket-Key``: 16 random bytes, base64."""
    return base64.b64encode(os.urandom(16))


def _close_payload(code: int, reason: str) -> bytes:
    """A close frame's payload as wsproto writes it for an ``int`` code: 1000 in place of the
    codes that are never sent (1005, 1006, 1015), the reason cut to 123 bytes of whole UTF-8
    characters (a control frame carries at most 125)."""
    if code in (1005, 1006, 1015):
        code = 1000
    text = reason.encode("utf-8")[:123].decode("utf-8", "ignore").encode("utf-8")
    return code.to_bytes(2, "big") + text


def _accept_token(nonce: bytes) -> bytes:
    """The ``Sec-WebSocket-Accept`` a server must answer ``nonce`` with (RFC 6455, 4.2.2)."""
    return base64.b64encode(hashlib.sha1(nonce + _GUID).digest())  # the protocol's own hash


def _frame(opcode: int, payload: bytes) -> bytes:
    """One whole, masked client frame (what wsproto sends for a message, without wsproto)."""
    n = len(payload)
    if n < 126:
        head = bytes((0x80 | opcode, 0x80 | n))
    elif n < 65536:
        head = bytes((0x80 | opcode, 0xFE)) + n.to_bytes(2, "big")
    else:
        head = bytes((0x80 | opcode, 0xFF)) + n.to_bytes(8, "big")
    mask = os.urandom(4)
    if not n:
        return head + mask
    key = int.from_bytes((mask * (n // 4 + 1))[:n], "big")
    return head + mask + (int.from_bytes(payload, "big") ^ key).to_bytes(n, "big")


class WebSocket:
    """One client websocket, open once returned by :func:`connect_websocket` or
    :func:`websocket_over`.

    :meth:`recv` returns whole messages (``str`` for text, ``bytes`` for binary) and raises
    :class:`~conndebug.wire.WsClosed` at the end, every time after. Pings are answered while
    reading. Not safe for two concurrent readers; sending while another task reads is fine.
    """

    def __init__(
        self,
        stream: Stream,
        url: str,
        connection: Connection | None = None,
        *,
        request_headers: Headers,
        status: int,
        reason: str,
        response_headers: Headers,
        subprotocol: str | None,
        timings: Timings,
        max_message: int,
        observer: Observer | None,
    ) -> None:
        self.url = url
        self.stream = stream
        self.request_headers = request_headers
        """The upgrade request's headers as sent."""
        self.status = status
        """101."""
        self.reason = reason
        self.response_headers = response_headers
        """The 101's headers (lower-case names, in order)."""
        self.subprotocol = subprotocol
        self.timings = timings
        self.max_message = max_message
        self.closed: WsClosed | None = None
        """How it ended, once it has."""
        self.observer = observer
        self._wsproto = connection
        """wsproto's connection, made the first time a frame needs it (a control frame, a
        fragment, anything unusual, the close): whole data messages in and out never do, so a
        connection that only carries them never loads wsproto (~11 ms of a start)."""
        self._queue: collections.deque[str | bytes] = collections.deque()
        self._parts: list[str | bytes] = []
        self._partial = 0
        self._closing = False
        self._close_answer: asyncio.Future[None] | None = None
        self._batch = False
        self._reading = False
        self._close_sent: tuple[int, str] = (1000, "")
        self._hand_closed: tuple[int, str] | None = None
        """The close frame we framed ourselves, before wsproto was needed (code, reason)."""
        self._fast = True
        """Decode plain data frames here (see :meth:`_parse`); False: every frame via wsproto."""
        self._in_fragment = False
        self._rest = b""
        self._pending: list[bytes] = []
        self._pending_size = 0
        self._need = 0

    @property
    def _ws(self) -> Connection:
        ws = self._wsproto
        if ws is None:
            from wsproto.connection import Connection, ConnectionType

            ws = self._wsproto = Connection(ConnectionType.CLIENT, None, b"")
            if self._hand_closed is not None:
                # Our close frame is on the wire already (framed here): wsproto only learns of
                # it, so that it reads what follows as a closing connection does.
                from wsproto.events import CloseConnection

                code, reason = self._hand_closed
                ws.send(CloseConnection(code=code, reason=reason))
        return ws

    def _start(self, trailing: bytes) -> None:
        """Take the bytes that came with the 101 (frames the server sent at once)."""
        if trailing:
            self._receive(trailing)

    @property
    def connection_id(self) -> int:
        return self.stream.connection_id

    @property
    def bytes_in(self) -> int:
        return self.stream.bytes_in

    @property
    def bytes_out(self) -> int:
        return self.stream.bytes_out

    # -- sending ----------------------------------------------------------------------------
    async def send_text(self, text: str) -> None:
        """Send a text message (raises :class:`~conndebug.wire.WsClosed` once it has ended)."""
        await self._send(0x1, text.encode("utf-8"), text)

    async def send_bytes(self, data: bytes) -> None:
        """Send a binary message."""
        await self._send(0x2, bytes(data), data)

    async def ping(self, payload: bytes = b"") -> None:
        """Send a ping (the pong is consumed by :meth:`recv`)."""
        await self._send(0x9, payload, None)

    async def _send(self, opcode: int, payload: bytes, data: str | bytes | None) -> None:
        if self.closed is not None:
            raise self.closed
        if self._closing:
            raise WsClosed("us", "the websocket is closing", code=None)
        ws = self._wsproto
        if ws is not None and not _sendable(ws):
            raise WsClosed("us", "the websocket is closing")
        frame = _frame(opcode, payload)
        try:
            self.stream.write(frame)
            await self.stream.drain()
        except (ConnectionError, OSError) as exc:
            raise self._end(
                "reset", f"the connection was reset while sending ({_why(exc)})"
            ) from None
        if data is not None and self.observer is not None:
            from conndebug.wire._observe import WsMessage

            self.observer.ws_message(WsMessage(self.stream.connection_id, "out", data, time.time()))

    # -- receiving --------------------------------------------------------------------------
    async def recv(self, timeout: float | None = None) -> str | bytes:
        """The next whole message; ``asyncio.TimeoutError`` after ``timeout`` seconds (None:
        wait as long as it takes); :class:`~conndebug.wire.WsClosed` at the end."""
        queue = self._queue
        if queue:
            return queue.popleft()
        if timeout is None:
            await self._fill()
        else:
            await within(self._fill(), timeout)
        return queue.popleft()

    def recv_nowait(self) -> list[str | bytes]:
        """The messages already decoded and not returned yet (possibly none), without waiting."""
        out = list(self._queue)
        self._queue.clear()
        return out

    async def recv_many(self, timeout: float | None = None) -> list[str | bytes]:
        """At least one message: every message decoded from what has arrived (a batch)."""
        if not self._queue:
            if timeout is None:
                await self._fill()
            else:
                await within(self._fill(), timeout)
        return self.recv_nowait()

    async def _fill(self) -> None:
        """Read until at least one message is queued; raises WsClosed at the end."""
        queue = self._queue
        stream = self.stream
        while not queue:
            if self.closed is not None:
                raise self.closed
            self._reading = True
            try:
                data = await stream.read()
            except (ConnectionError, OSError) as exc:
                if self._closing:
                    raise self._closed_by_us(
                        False, "; the connection broke before the answer"
                    ) from None
                raise self._end("reset", f"the connection was reset ({_why(exc)})") from None
            finally:
                self._reading = False
            if not data:
                if self._closing:
                    raise self._closed_by_us(
                        False, "; the server ended the connection without answering the close"
                    )
                raise self._end("eof", "the server closed the connection without a close frame")
            self._receive(data)

    def _receive(self, data: bytes) -> None:
        """Decode what arrived: messages queued (and observed, in order), pings answered."""
        if self._need:  # the rest of a large frame: gather it before looking again
            self._pending.append(data)
            self._pending_size += len(data)
            if self._pending_size < self._need:
                return
            data = b"".join(self._pending)
            self._pending, self._pending_size, self._need = [], 0, 0
        elif self._rest:
            data = self._rest + data
            self._rest = b""
        if self.observer is None:
            self._parse(data)
            return
        before = len(self._queue)
        ended = self.closed is not None
        self._batch = True  # the end, if it comes in this batch, is reported after its messages
        try:
            self._parse(data)
        finally:
            self._batch = False
        queue = self._queue
        if len(queue) > before:
            from conndebug.wire._observe import WsMessage

            at = time.time()
            cid = self.stream.connection_id
            observer = self.observer
            for index in range(before, len(queue)):
                observer.ws_message(WsMessage(cid, "in", queue[index], at))
        if not ended and self.closed is not None:
            self._report_end()

    def _parse(self, data: bytes) -> None:
        """Split ``data`` into frames. Whole, final, unmasked text and binary frames without
        extension bits, outside a fragmented message, are decoded here: the hot path of a storm
        of small messages, where wsproto's general parser costs ~6 µs a frame (bench/notes.md,
        the wire section). Every other frame (control frames, fragments, masked or reserved
        bits, invalid UTF-8, non-minimal lengths) goes whole to wsproto, which keeps the
        protocol's state and says what is wrong. An incomplete frame waits for more bytes,
        bounded by ``max_message``."""
        queue = self._queue
        n = len(data)
        i = 0
        fast = self._fast
        limit = self.max_message
        while i + 2 <= n:
            b0 = data[i]
            b1 = data[i + 1]
            length = b1 & 0x7F
            header = 2
            if length == 126:
                if i + 4 > n:
                    break
                length = (data[i + 2] << 8) | data[i + 3]
                header = 4
            elif length == 127:
                if i + 10 > n:
                    break
                length = int.from_bytes(data[i + 2 : i + 10], "big")
                header = 10
            if b1 & 0x80:
                header += 4  # masked: wsproto refuses it below
            end = i + header + length
            if length > limit and b0 & 0x0F in (0, 1, 2):
                self._too_large()
                return
            if end > n:
                if end - i > 65536:  # a large frame: gather its bytes without copying per read
                    self._pending = [data[i:]]
                    self._pending_size = n - i
                    self._need = end - i
                    return
                break
            if (
                fast
                and (b0 == 0x81 or b0 == 0x82)
                and b1 < 0xFE
                and not self._in_fragment
                and (header == 2 or (header == 4 and length > 125))
            ):
                if b0 == 0x81:
                    try:
                        queue.append(data[i + header : end].decode("utf-8"))
                    except UnicodeDecodeError:
                        if not self._slow(data[i:end]):
                            return
                else:
                    queue.append(data[i + header : end])
            elif (
                b0 == 0x88 and b1 < 0x7E and self._hand_closed is not None and self._wsproto is None
            ):
                # The server's close frame answering ours: whatever its code and reason, the
                # closing handshake is done (wsproto, in its closing state, ends the same way).
                self._closed_by_us(True)
                return
            elif not self._slow(data[i:end]):
                return
            i = end
        if i < n:
            self._rest = data[i:]

    def _slow(self, frame: bytes) -> bool:
        """One whole frame through wsproto; False once the websocket has ended."""
        from wsproto.connection import ConnectionState

        ws = self._ws
        if ws.state is not ConnectionState.OPEN and ws.state is not ConnectionState.LOCAL_CLOSING:
            return False
        ws.receive_data(frame)
        self._feed_events()
        return self.closed is None and ws.state in (
            ConnectionState.OPEN,
            ConnectionState.LOCAL_CLOSING,
        )

    def _feed_events(self) -> None:
        """Turn wsproto's events into queued messages, pongs, or the end."""
        from wsproto.events import CloseConnection, Message, Ping, TextMessage
        from wsproto.utilities import LocalProtocolError

        queue = self._queue
        ws = self._ws
        for event in ws.events():
            if isinstance(event, Message):
                text = isinstance(event, TextMessage)
                data = event.data
                finished = event.message_finished
                self._in_fragment = not finished
                if finished and not self._parts:
                    queue.append(data if text else bytes(data))
                    continue
                self._partial += len(data)
                if self._partial > self.max_message:
                    self._too_large()
                    break
                self._parts.append(data if text else bytes(data))
                if finished:
                    parts, self._parts, self._partial = self._parts, [], 0
                    queue.append(
                        "".join(p for p in parts if isinstance(p, str))
                        if text
                        else b"".join(p for p in parts if isinstance(p, bytes))
                    )
            elif isinstance(event, Ping):
                with contextlib.suppress(LocalProtocolError):
                    self.stream.write(ws.send(event.response()))
            elif isinstance(event, CloseConnection):
                self._closed_by_peer(event)
                break

    def _too_large(self) -> None:
        self._parts, self._partial = [], 0
        self._send_close(1009, "message too big")
        self._end(
            "limit",
            f"the server sent a message larger than {self.max_message:,} bytes (closed with 1009)",
            code=1009,
        )
        self.stream.close()

    def _closed_by_peer(self, event: CloseConnection) -> None:
        from wsproto.connection import ConnectionState
        from wsproto.utilities import LocalProtocolError

        code = int(event.code)
        reason = event.reason or ""
        if self._ws.state is ConnectionState.OPEN:
            # wsproto reports a frame it cannot parse as a close with the code to send back
            self._send_close(code, reason[:120])
            self._end(
                "protocol",
                f"the server broke the websocket protocol ({reason}); closed with {code}",
                code=code,
                close_reason=reason,
            )
            self.stream.close()
            return
        if self._ws.state is ConnectionState.REMOTE_CLOSING:
            with contextlib.suppress(LocalProtocolError):
                self.stream.write(self._ws.send(event.response()))
            shown = "no code" if code == 1005 else f"code {code}"
            self._end(
                "server",
                f"the server closed the websocket ({shown}{': ' + reason if reason else ''})",
                code=None if code == 1005 else code,
                close_reason=reason,
                clean=True,
            )
            self.stream.close()
            return
        # The answer to our own close frame.
        self._closed_by_us(True)

    def _send_close(self, code: int, reason: str) -> None:
        if self._wsproto is None:
            # Framed here, as wsproto frames it (:func:`_close_payload`): a websocket that only
            # carried whole messages ends without loading wsproto. Should a frame need wsproto
            # later, its connection is told of this close first (:attr:`_ws`).
            self._hand_closed = (code, reason)
            with contextlib.suppress(ConnectionError, OSError, RuntimeError):
                self.stream.write(_frame(0x8, _close_payload(code, reason)))
            return
        from wsproto.events import CloseConnection
        from wsproto.utilities import LocalProtocolError

        with contextlib.suppress(LocalProtocolError, ConnectionError, OSError, RuntimeError):
            self.stream.write(self._ws.send(CloseConnection(code=code, reason=reason)))

    def _end(
        self,
        who: Who,
        message: str,
        *,
        code: int | None = None,
        close_reason: str = "",
        clean: bool = False,
    ) -> WsClosed:
        if self.closed is None:
            self.closed = WsClosed(who, message, code=code, close_reason=close_reason, clean=clean)
            if who in ("eof", "reset"):
                self.stream.abort()
            if self.observer is not None and not self._batch:
                self._report_end()
        return self.closed

    def _report_end(self) -> None:
        from conndebug.wire._observe import ConnectionClosed, WsEnded

        closed = self.closed
        assert closed is not None
        assert self.observer is not None
        stream = self.stream
        self.observer.ws_ended(
            WsEnded(
                stream.connection_id,
                closed.who,
                closed.code,
                closed.close_reason,
                closed.clean,
                time.time(),
                closed.message,
                stream.bytes_in,
                stream.bytes_out,
            )
        )
        self.observer.connection_closed(
            ConnectionClosed(
                stream.connection_id, stream.bytes_in, stream.bytes_out, time.time(), 1
            )
        )

    # -- the end ------------------------------------------------------------------------------
    async def close(self, code: int = 1000, reason: str = "", timeout: float = 1.0) -> None:
        """Send a close frame, wait up to ``timeout`` for the server's, then close the stream.
        Afterwards ``closed.who`` is ``us`` (or what ended it before). Another task may be
        reading meanwhile: it then sees the server's answer and ends with the same ``WsClosed``."""
        if self.closed is not None or self._closing:
            return
        self._closing = True
        self._close_sent = (code, reason)
        self._close_answer = answered = asyncio.get_running_loop().create_future()
        self._send_close(code, reason)
        try:
            if self._reading:  # the reader will see the answer: do not read beside it
                await within(answered, timeout)
            else:
                await within(self._await_close(answered), timeout)
        except asyncio.TimeoutError:
            self._closed_by_us(False, "; the server did not answer the close")
            self.stream.abort()
            return
        except (ConnectionError, OSError):
            self._closed_by_us(False, "; the connection broke before the server answered")
        self._closed_by_us(False, "; the server ended the connection without answering the close")
        await self.stream.aclose(min(timeout, 0.5))

    def _closed_by_us(self, clean: bool, note: str = "") -> WsClosed:
        """The end of a close we started (``clean``: the server answered it)."""
        code, reason = self._close_sent
        shown = f"we closed the websocket (code {code}{': ' + reason if reason else ''})"
        ended = self._end(
            "us", shown + ("" if clean else note), code=code, close_reason=reason, clean=clean
        )
        answered = self._close_answer
        if answered is not None and not answered.done():
            answered.set_result(None)
        return ended

    async def _await_close(self, answered: asyncio.Future[None]) -> None:
        stream = self.stream
        with contextlib.suppress(ConnectionError, OSError):
            await stream.drain()
        while not answered.done():
            data = await stream.read()
            if not data:
                return
            self._receive(data)
            self._queue.clear()  # messages after our close frame are not read any more

    def abort(self) -> None:
        """Drop the connection at once (no close frame)."""
        self._end("us", "we dropped the connection (no close frame)")
        self.stream.abort()


def _why(exc: BaseException) -> str:
    text = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return text or type(exc).__name__


def _ws_target(url: str) -> tuple[str, str]:
    """``(scheme://authority, /path?query)`` of a websocket URL."""
    return _split(url)


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
    cookies: CookieJar | None = None,
) -> WebSocket:
    """The websocket handshake for ``url`` (its path and query) on an opened ``stream`` (TCP,
    tunnel and TLS done), within ``timeout``.

    Raises :class:`~conndebug.wire.WsRefused` (any answer but 101: status, reason, headers and
    up to 16 KiB of body), :class:`~conndebug.wire.NotHttp` (garbage), a ``TIMEOUT``
    :class:`~conndebug.wire.WireError` (phase ``websocket``: no answer), ``CLOSED`` (the server
    closed or reset without answering), ``PROTOCOL`` (a 101 with a wrong accept key).
    """
    return await _handshake(
        stream,
        url,
        headers=headers,
        timeout=timeout,
        shown_timeout=timeout,
        subprotocols=subprotocols,
        max_message=max_message,
        observer=observer,
        timings=timings,
        cookies=cookies,
    )


async def _handshake(
    stream: Stream,
    url: str,
    *,
    headers: HeaderInput,
    timeout: float,
    shown_timeout: float,
    subprotocols: Sequence[str],
    max_message: int,
    observer: Observer | None,
    timings: Timings | None,
    cookies: CookieJar | None,
) -> WebSocket:
    start = time.monotonic()
    started_at = time.time()
    origin_text, target = _ws_target(url)
    from conndebug.wire._route import Origin

    try:
        origin = Origin.of(origin_text)
    except ValueError as exc:
        raise WireError(
            FailureKind.OTHER, "websocket", f"cannot open {url[:80]!r} ({exc})"
        ) from None
    nonce = _nonce()
    sent: list[tuple[str, str]] = [
        ("Host", origin.host_header),
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Key", nonce.decode("ascii")),
        ("Sec-WebSocket-Version", "13"),
    ]
    if subprotocols:
        sent.append(("Sec-WebSocket-Protocol", ", ".join(subprotocols)))
    reserved = {name.lower() for name, _ in sent}
    given = [(k, v) for k, v in _header_pairs(headers) if k.lower() not in reserved]
    sent += given
    if cookies is not None and not any(k.lower() == "cookie" for k, _ in given):
        cookie = cookies.header(origin.host, target, origin.tls)
        if cookie:
            sent.append(("Cookie", cookie))
    h = h11.Connection(h11.CLIENT, max_incomplete_event_size=HEAD_LIMIT)
    try:
        data = (h.send(h11.Request(method="GET", target=target, headers=sent)) or b"") + (
            h.send(h11.EndOfMessage()) or b""
        )
    except h11.LocalProtocolError as exc:
        raise WireError(
            FailureKind.OTHER,
            "websocket",
            f"cannot send this upgrade request ({exc})",
            reason="bad_request",
        ) from None
    state = _Handshake()
    try:
        head = await within(_read_head(stream, h, data, state), timeout)
    except asyncio.TimeoutError:
        stream.abort()
        if state.received:
            raise WireError(
                FailureKind.TIMEOUT,
                "websocket",
                f"no complete answer to the websocket upgrade within {seconds(shown_timeout)} s "
                f"({state.received} bytes received)",
                reason="incomplete",
            ) from None
        raise WireError(
            FailureKind.TIMEOUT,
            "websocket",
            f"no answer to the websocket upgrade within {seconds(shown_timeout)} s",
            reason="no_answer",
        ) from None
    except BaseException:
        stream.abort()
        raise
    response_headers = tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in head.headers)
    reason = head.reason.decode("latin-1")
    first = state.first_byte or time.monotonic()
    if cookies is not None:
        set_cookie = [v for k, v in response_headers if k == "set-cookie"]
        if set_cookie:
            cookies.extract(origin.host, target, set_cookie)
    if head.status_code != 101:
        remaining = max(0.2, timeout - (time.monotonic() - start))
        body, truncated = await _refusal_body(stream, h, remaining)
        stream.abort()
        refused = WsRefused(
            head.status_code,
            reason,
            response_headers,
            body,
            http_version=head.http_version.decode("latin-1"),
            truncated=truncated,
        )
        if observer is not None:
            _observe_refusal(
                observer, stream, started_at, start, first, url, sent, refused, timings
            )
        raise refused
    values = {k: v for k, v in response_headers}
    problem = None
    if values.get("upgrade", "").lower() != "websocket":
        problem = "no Upgrade: websocket"
    elif "upgrade" not in values.get("connection", "").lower():
        problem = "no Connection: Upgrade"
    elif values.get("sec-websocket-accept", "").encode() != _accept_token(nonce):
        problem = "a wrong Sec-WebSocket-Accept"
    if problem:
        stream.abort()
        raise WireError(
            FailureKind.PROTOCOL,
            "websocket",
            f"the server's 101 answer has {problem}",
            reason="bad_upgrade",
        )
    trailing = bytes(h.trailing_data[0])
    end = time.monotonic()
    base = timings or Timings(started_at=started_at)
    handshake_timings = Timings(
        started_at=base.started_at,
        dns=base.dns,
        tcp=base.tcp,
        proxy=base.proxy,
        tls=base.tls,
        send=0.0,
        wait=(first - start) * 1000,
        receive=(end - first) * 1000,
        ttfb=(first - start) * 1000 + (base.total or 0.0),
        total=(end - start) * 1000 + (base.total or 0.0),
        reused=False,
    )
    ws = WebSocket(
        stream,
        url,
        None,
        request_headers=tuple(sent),
        status=101,
        reason=reason,
        response_headers=response_headers,
        subprotocol=values.get("sec-websocket-protocol"),
        timings=handshake_timings,
        max_message=max_message,
        observer=None,
    )
    stream.requests += 1
    ws._start(trailing)
    if observer is not None:
        from conndebug.wire._observe import WsOpened

        observer.ws_opened(
            WsOpened(
                stream.connection_id,
                base.started_at,
                url,
                tuple(sent),
                101,
                reason,
                response_headers,
                handshake_timings,
            )
        )
        ws.observer = observer
        if ws._queue:  # messages that came with the 101
            from conndebug.wire._observe import WsMessage

            for message in ws._queue:
                observer.ws_message(WsMessage(stream.connection_id, "in", message, time.time()))
    return ws


class _Handshake:
    __slots__ = ("first_byte", "received")

    def __init__(self) -> None:
        self.first_byte: float | None = None
        self.received = 0


async def _read_head(
    stream: Stream, h: h11.Connection, request: bytes, state: _Handshake
) -> h11.Response | h11.InformationalResponse:
    try:
        stream.write(request)
        await stream.drain()
    except (ConnectionError, OSError) as exc:
        raise WireError(
            FailureKind.CLOSED,
            "websocket",
            f"the connection was reset ({_why(exc)})",
            reason="reset",
        ) from None
    head = bytearray()
    eof = False
    while True:
        try:
            event = h.next_event()
        except h11.RemoteProtocolError as exc:
            if eof:
                raise _closed(head) from None
            raise _not_http(exc, bytes(head)) from None
        if event is h11.NEED_DATA:
            try:
                chunk = await stream.read()
            except (ConnectionError, OSError) as exc:
                raise WireError(
                    FailureKind.CLOSED,
                    "websocket",
                    f"the connection was reset during the websocket upgrade ({_why(exc)})",
                    reason="reset",
                ) from None
            if chunk:
                if state.first_byte is None:
                    state.first_byte = time.monotonic()
                state.received += len(chunk)
                if len(head) <= HEAD_LIMIT:
                    head += chunk[: HEAD_LIMIT + 1 - len(head)]
                if len(head) >= 5 and not head.startswith(b"HTTP/"):
                    raise NotHttp(
                        "illegal status line", phase="websocket", sample=printable(head, 60)
                    )
            else:
                eof = True
            h.receive_data(chunk)
            continue
        if isinstance(event, h11.InformationalResponse):
            if event.status_code == 101:
                return event
            continue  # 100 Continue and the like
        if isinstance(event, h11.Response):
            return event
        raise _closed(head)


def _closed(head: bytearray) -> WireError:
    if head:
        return WireError(
            FailureKind.CLOSED,
            "websocket",
            "the server closed the connection in the middle of its answer to the upgrade",
            reason="closed",
            evidence={"received": len(head), "sample": printable(head, 60)},
        )
    return WireError(
        FailureKind.CLOSED,
        "websocket",
        "the server closed the connection without answering the websocket upgrade",
        reason="closed",
    )


async def _refusal_body(stream: Stream, h: h11.Connection, timeout: float) -> tuple[bytes, bool]:
    """Up to :data:`REFUSAL_BODY_LIMIT` bytes of a refusal's body, within ``timeout``."""
    parts: list[bytes] = []
    size = 0

    async def read() -> bool:
        nonlocal size
        while True:
            event = h.next_event()
            if event is h11.NEED_DATA:
                h.receive_data(await stream.read())
                continue
            if isinstance(event, h11.Data):
                piece = bytes(event.data)
                parts.append(piece[: REFUSAL_BODY_LIMIT - size])
                size += len(piece)
                if size >= REFUSAL_BODY_LIMIT:
                    return size > REFUSAL_BODY_LIMIT
                continue
            return False

    try:
        truncated = await within(read(), timeout)
    except (asyncio.TimeoutError, h11.RemoteProtocolError, ConnectionError, OSError):
        truncated = True
    return b"".join(parts)[:REFUSAL_BODY_LIMIT], truncated


def _observe_refusal(
    observer: Observer,
    stream: Stream,
    started_at: float,
    start: float,
    first: float,
    url: str,
    sent: list[tuple[str, str]],
    refused: WsRefused,
    timings: Timings | None,
) -> None:
    from conndebug.wire._observe import HttpExchange

    end = time.monotonic()
    base = timings or Timings(started_at=started_at)
    observer.ws_refused(
        HttpExchange(
            request_id=0,
            connection_id=stream.connection_id,
            started_at=base.started_at,
            method="GET",
            url=url,
            http_version=refused.http_version,
            request_headers=tuple(sent),
            request_body=b"",
            request_body_size=0,
            status=refused.status,
            reason=refused.reason_phrase,
            response_headers=refused.headers,
            response_body=refused.body,
            response_body_size=len(refused.body),
            truncated=refused.truncated,
            timings=Timings(
                started_at=base.started_at,
                dns=base.dns,
                tcp=base.tcp,
                proxy=base.proxy,
                tls=base.tls,
                wait=(first - start) * 1000,
                receive=(end - first) * 1000,
                total=(end - start) * 1000 + (base.total or 0.0),
            ),
            error=refused,
        )
    )


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
    if url.startswith(("http://", "https://")):
        url = "ws" + url[4:]
    if route is None:
        try:
            route = Route.for_url(settings, url) if settings is not None else Route.direct(url)
        except ValueError as exc:
            raise WireError(
                FailureKind.OTHER, "websocket", f"cannot open {url[:80]!r} ({exc})"
            ) from None
    start = time.monotonic()
    started_at = time.time()
    steps = _Steps()
    try:
        return await _connect(
            url, route, headers, timeout, cookies, subprotocols, max_message, observer, steps
        )
    except WsRefused:
        raise  # its answer went to the observer already
    except WireError as exc:
        if observer is not None:
            _observe_failure(observer, url, started_at, start, steps, exc)
        raise


def _observe_failure(
    observer: Observer, url: str, started_at: float, start: float, steps: _Steps, exc: WireError
) -> None:
    """A websocket attempt that got no answer (refused, reset, timed out): the observer's
    ``ws_refused`` record, without a status, with the error."""
    from conndebug.wire._observe import HttpExchange

    t = steps.timings
    observer.ws_refused(
        HttpExchange(
            request_id=0,
            connection_id=None,
            started_at=started_at,
            method="GET",
            url=url,
            http_version="1.1",
            request_headers=(),
            request_body=b"",
            request_body_size=0,
            status=None,
            reason=None,
            response_headers=(),
            response_body=b"",
            response_body_size=0,
            truncated=False,
            timings=Timings(
                started_at=started_at,
                dns=t.dns_ms,
                tcp=t.tcp_ms,
                proxy=t.proxy_ms,
                tls=t.tls_ms,
                total=(time.monotonic() - start) * 1000,
            ),
            error=exc,
        )
    )


async def _connect(
    url: str,
    route: Route,
    headers: HeaderInput,
    timeout: float,
    cookies: CookieJar | None,
    subprotocols: Sequence[str],
    max_message: int,
    observer: Observer | None,
    steps: _Steps,
) -> WebSocket:
    start = time.monotonic()
    started_at = time.time()
    try:
        stream = await within(_climb(route, steps, timeout, False), timeout)
    except asyncio.TimeoutError:
        raise _timeout(route, steps.phase, timeout) from None
    t = steps.timings
    if observer is not None:
        from conndebug.wire._observe import ConnectionOpened

        observer.connection_opened(
            ConnectionOpened(
                stream.connection_id,
                stream.peer,
                route.origin.hostport,
                route.mode,
                route.origin.tls,
                time.time(),
            )
        )
    remaining = timeout - (time.monotonic() - start)
    if remaining <= 0:
        stream.abort()
        raise WireError(
            FailureKind.TIMEOUT,
            "websocket",
            f"no answer to the websocket upgrade within {seconds(timeout)} s",
            reason="no_answer",
        )
    return await _handshake(
        stream,
        url,
        headers=headers,
        timeout=remaining,
        shown_timeout=timeout,
        subprotocols=subprotocols,
        max_message=max_message,
        observer=observer,
        timings=Timings(
            started_at=started_at,
            dns=t.dns_ms,
            tcp=t.tcp_ms,
            proxy=t.proxy_ms,
            tls=t.tls_ms,
            total=(time.monotonic() - start) * 1000,
        ),
        cookies=cookies,
    )


def _sendable(ws: Connection) -> bool:
    """wsproto's connection still takes a message from us (not closing or closed)."""
    from wsproto.connection import ConnectionState

    return ws.state is ConnectionState.OPEN
