"""One Engine.IO session (v4 or v3) over polling or the websocket, on the wire layer.

- **Handshake** over either transport (:meth:`EngineSession.open`): a refusal is a
  :class:`~conndebug.client.failure.ClientError` with the HTTP status and the Engine.IO error of
  the body, a server speaking the other Engine.IO generation is named (``eio3_server`` /
  ``eio4_server``), an open packet no client can use is refused with its problems.
- **Polling**: one held GET at a time; what is sent waits in a queue and goes out as one POST
  per batch on a second keep-alive connection (the wire's client gives concurrent requests
  connections of their own).
- **Upgrade** (:meth:`EngineSession.upgrade`): the websocket with the sid, ``2probe``, the
  server's ``3probe``, polling paused (the held GET answered, the POST in flight done), ``5``;
  bounded by a time limit, and when it fails the reason is taken from the wire (HTTP status and
  Engine.IO error, what came instead of ``3probe``, who closed, or no answer in time) and the
  session stays on polling.
- **Heartbeat**: v4, the server pings and we pong, and no ping within pingInterval +
  pingTimeout ends the session (``ping timeout``); v3, we ping every pingInterval and expect
  the pong within pingTimeout. One timer each, re-armed lazily (no timer per packet).
- **The end** (:attr:`EngineSession.closed`): a :class:`~conndebug.client.failure.CloseReason`
  taken from the wire: the server's ``CLOSE`` packet, its close frame and code, an EOF or reset,
  a poll answered with an HTTP error and its Engine.IO code, a ping timeout, or our own close.

The layer above gets every ``MESSAGE`` packet's data in order through one callback per read
(:attr:`EngineSession.on_messages`: a batch per websocket read or per polling answer). A packet
tap, if set, sees every packet in and out.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import re
import time
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from conndebug.client import bounds
from conndebug.client.eio import (
    EioDecodeError,
    EioPacket,
    EioType,
    OpenPacket,
    decode_packet,
    decode_payload,
    encode_packet,
    encode_payload,
    parse_engine_error,
    parse_open,
)
from conndebug.client.failure import (
    ClientError,
    CloseKind,
    CloseReason,
    Failure,
    FailurePhase,
    UpgradeOutcome,
)
from conndebug.client.tap import Direction, PacketRecord, Tap, TransportName, text_of
from conndebug.core.failure import FailureKind
from conndebug.wire import WireError, WsClosed, WsRefused

if TYPE_CHECKING:
    from conndebug.wire import Response

__all__ = ["EngineSession", "HttpLike", "Target", "WebSocketLike"]

DELIVER_SLICE = 64
"""Messages handed up at once before the reader gives the event loop a turn."""
POLL_BODY_LIMIT = 32 * 1024 * 1024
"""The largest polling answer read (a burst of events can make one large; more ends the session)."""
_SLACK = 5.0
"""Seconds a held GET may exceed pingInterval + pingTimeout before it counts as hung."""
_EIO3_TEXT = re.compile(r"^\d{1,9}:0\{")

MessageData = str | bytes


class WebSocketLike(Protocol):
    """What the session needs of a websocket (:class:`conndebug.wire.WebSocket`, or a fake)."""

    closed: WsClosed | None

    async def send_text(self, text: str) -> None: ...
    async def send_bytes(self, data: bytes) -> None: ...
    async def recv(self, timeout: float | None = None) -> str | bytes: ...
    async def recv_many(self, timeout: float | None = None) -> list[str | bytes]: ...
    async def close(self, code: int = 1000, reason: str = "", timeout: float = 1.0) -> None: ...
    def abort(self) -> None: ...


class HttpLike(Protocol):
    """What the session needs of an HTTP client (:class:`conndebug.wire.HttpClient`, or a fake)."""

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Sequence[tuple[str, str]] | None = None,
        body: bytes | None = None,
        timeout: float | None = None,
        limit: int = ...,
        request_id: int | None = None,
    ) -> Response: ...

    async def websocket(
        self,
        url: str,
        *,
        headers: Sequence[tuple[str, str]] | None = None,
        timeout: float | None = None,
    ) -> Any: ...


@dataclass(frozen=True)
class Target:
    """Where the Engine.IO endpoint is and how to ask for it."""

    url: str
    """The server's origin, ``http(s)://host[:port]``."""
    path: str = "/socket.io"
    query: tuple[tuple[str, str], ...] = ()
    """Extra query parameters (``--query``)."""
    headers: tuple[tuple[str, str], ...] = ()
    """Extra headers for every request and the websocket handshake (``Origin`` included)."""
    eio: int = 4
    """The Engine.IO protocol to speak: 4 (socket.io 3/4) or 3 (socket.io 2)."""

    def endpoint(self, transport: str, sid: str | None = None) -> str:
        """The Engine.IO URL (``ws(s)://`` for the websocket)."""
        query = f"EIO={self.eio}&transport={transport}"
        if sid is not None:
            query += "&sid=" + urllib.parse.quote(sid, safe="")
        if transport == "polling":
            query += f"&t={_cache_buster()}"
        if self.query:
            query += "&" + urllib.parse.urlencode(self.query)
        base = self.url
        if transport == "websocket":
            base = "ws" + base[len("http") :]
        return f"{base}{self.path.rstrip('/')}/?{query}"


_buster = itertools.count(int(time.time() * 1000))


def _cache_buster() -> str:
    """A new ``t=`` value per polling request, as the JavaScript client's (base 36)."""
    n = next(_buster)
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while n:
        n, r = divmod(n, 36)
        out = digits[r] + out
    return out or "0"


def _elapsed(start: float) -> float:
    return (time.monotonic() - start) * 1000.0


def _wire_phase(error: WireError, transport: str) -> FailurePhase:
    """The client's phase for a wire error during a handshake."""
    if error.phase in ("dns", "tcp", "tls", "proxy"):
        return error.phase
    return "websocket" if transport == "websocket" else "handshake"


def wire_failure(
    error: WireError, phase: FailurePhase, transport: str, *, start: float | None = None
) -> Failure:
    """A :class:`Failure` from a wire error (its kind, words, reason and evidence kept)."""
    evidence = dict(error.evidence)
    if error.phase != phase:
        evidence.setdefault("wire_phase", error.phase)
    return Failure(
        phase=phase,
        kind=error.kind,
        message=error.message,
        transport=transport,
        reason=error.reason,
        status=evidence.get("status") if isinstance(evidence.get("status"), int) else None,
        ws_code=error.code if isinstance(error, WsClosed) else None,
        ws_who=error.who if isinstance(error, WsClosed) else None,
        elapsed_ms=_elapsed(start) if start is not None else None,
        evidence=evidence,
    )


def refusal_failure(
    phase: FailurePhase,
    transport: str,
    status: int,
    status_line: str,
    body: bytes,
    content_type: str,
    *,
    what: str,
    header: Callable[[str], str | None] | None = None,
) -> Failure:
    """A :class:`Failure` for an HTTP answer that refused ``what`` (status + Engine.IO error).

    ``header`` reads the answer's headers: a redirect's ``Location`` (never followed: Socket.IO
    clients do not follow redirects) and the ``Server`` header go into the evidence.
    """
    engine = parse_engine_error(status, body)
    location = header("location") if header is not None else None
    server = header("server") if header is not None else None
    sample = body[:120].decode("utf-8", "replace")
    shown = "".join(ch if ch.isprintable() else " " for ch in sample).strip()
    if engine is not None:
        name = f" {engine.code} ({engine.name})" if engine.code is not None else ""
        message = f"{status_line} to the {what}: Engine.IO error{name} “{engine.message}”"
        reason = "engine_error"
    elif 300 <= status < 400 and location:
        where = bounds.clip(location, 200)
        message = (
            f"{status_line} to the {what}: a redirect to {where}, not followed (Socket.IO "
            "clients do not follow redirects)"
        )
        reason = "redirect"
    else:
        detail = f" ({content_type or 'no content type'}: {shown[:80]})" if shown else ""
        message = f"{status_line} to the {what}{detail}"
        reason = "status"
    evidence: dict[str, Any] = {"status_line": status_line, "content_type": content_type}
    if location:
        evidence["location"] = bounds.clip(location, 200)
    if server:
        evidence["server_header"] = bounds.clip(server, 100)
    if shown:
        evidence["body_sample"] = shown[:80]
    return Failure(
        phase=phase,
        kind=FailureKind.HTTP,
        message=message,
        transport=transport,
        reason=reason,
        status=status,
        engine_error=engine,
        evidence=evidence,
    )


def _sample(body: bytes) -> str:
    text = body[:80].decode("utf-8", "replace")
    return "".join(ch if ch.isprintable() else "." for ch in text)


class EngineSession:
    """One Engine.IO session. Make it, then :meth:`open` it over a transport."""

    def __init__(
        self,
        http: HttpLike,
        target: Target,
        *,
        tap: Tap | None = None,
        on_messages: Callable[[list[MessageData]], None] | None = None,
    ) -> None:
        self.http = http
        self.target = target
        self.eio = target.eio
        self.tap = tap
        """Called once per packet in and out (None: no records are made)."""
        self.on_messages: Callable[[list[MessageData]], None] = on_messages or (lambda _b: None)
        """Called with the data of the ``MESSAGE`` packets of each read, in order."""
        self.transport: TransportName | None = None
        self.open_packet: OpenPacket | None = None
        self.handshake_ms: float | None = None
        self.closed: asyncio.Future[CloseReason] = asyncio.get_running_loop().create_future()
        """Resolves once, with why the session ended."""
        self.pings = 0
        """Heartbeats seen (v4: server pings; v3: pongs to our pings)."""
        self.last_packet_mono: float | None = None
        """Monotonic time of the last packet received (any type)."""
        self.upgrade: UpgradeOutcome | None = None
        self.on_close: Callable[[CloseReason], None] | None = None
        """Called once, synchronously, when the session ends (the layer above ends its
        namespaces before anyone awaiting :attr:`closed` runs)."""
        self.describe: (
            Callable[[MessageData], tuple[str | None, str | None, int | None, int, str | None]]
            | None
        ) = None
        """For the tap: the Socket.IO type, namespace, ack id and attachments of a message, and
        the decoded text of a binary one (msgpack)."""
        self._raw_sid: str | None = None
        self._ws: WebSocketLike | None = None
        self._reader: asyncio.Task[None] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._out: list[EioPacket] = []
        self._paused = False
        self._reader_parked: asyncio.Event | None = None
        self._resume: asyncio.Event | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._pong_timer: asyncio.TimerHandle | None = None
        self._deadline = 0.0
        self._pong_due = 0.0
        self._ping_interval = 25.0
        self._ping_timeout = 20.0
        self._closing = False
        self._initial: list[MessageData] = []

    # --- facts ----------------------------------------------------------------------------

    @property
    def sid(self) -> str | None:
        """The Engine.IO session id (clipped for display)."""
        return self.open_packet.sid if self.open_packet else None

    @property
    def is_open(self) -> bool:
        return self.transport is not None and not self.closed.done()

    # --- the handshake --------------------------------------------------------------------

    async def open(self, transport: TransportName, timeout: float) -> OpenPacket:
        """The Engine.IO handshake over ``transport`` within ``timeout`` seconds.

        Raises :class:`ClientError` (phase ``handshake`` for polling, ``websocket`` for the
        websocket, or the wire step that failed: dns, tcp, tls, proxy).
        """
        start = time.monotonic()
        try:
            if transport == "polling":
                op = await self._open_polling(timeout, start)
            else:
                op = await self._open_websocket(timeout, start)
        except ClientError as exc:
            raise ClientError(exc.failure.with_elapsed(_elapsed(start))) from None
        self.handshake_ms = _elapsed(start)
        self.transport = transport
        self._start_heartbeat()
        if transport == "polling":
            self._reader = asyncio.ensure_future(self._poll_loop())
        else:
            self._reader = asyncio.ensure_future(self._ws_loop())
        if self._initial:
            batch, self._initial = self._initial, []
            asyncio.get_running_loop().call_soon(self._deliver_initial, batch)
        return op

    def _deliver_initial(self, batch: list[MessageData]) -> None:
        if not self.closed.done():
            self.on_messages(batch)

    async def _open_polling(self, timeout: float, start: float) -> OpenPacket:
        url = self.target.endpoint("polling")
        try:
            answer = await self.http.request(
                "GET", url, headers=self.target.headers, timeout=timeout, limit=1024 * 1024
            )
        except WireError as exc:
            raise ClientError(wire_failure(exc, _wire_phase(exc, "polling"), "polling")) from None
        if answer.status != 200:
            failure = refusal_failure(
                "handshake",
                "polling",
                answer.status,
                answer.status_line,
                answer.body,
                answer.content_type,
                what="Engine.IO handshake",
                header=answer.header,
            )
            if failure.engine_error is not None and failure.engine_error.code == 5:
                failure = _other_generation(failure, self.eio)
            raise ClientError(failure)
        body = answer.body
        if answer.truncated and body[:1] == b"0":
            # An open packet is ~150 bytes: one of a MiB is no client's (and decoding the cut
            # text would blame its JSON).
            raise ClientError(
                Failure(
                    phase="handshake",
                    kind=FailureKind.PROTOCOL,
                    message="the server sent an open packet larger than the 1,024 KiB a client "
                    "reads (an open packet is about 150 bytes)",
                    transport="polling",
                    reason="bad_open",
                    status=200,
                    evidence={"truncated": True, "limit_kib": 1024, "sample": _sample(body)},
                )
            )
        if self.eio >= 4 and _EIO3_TEXT.match(body[:16].decode("latin-1")):
            raise ClientError(
                Failure(
                    phase="handshake",
                    kind=FailureKind.PROTOCOL,
                    message="the server answered the Engine.IO 4 handshake in Engine.IO 3 framing "
                    f"({_sample(body)[:40]}…): it is a socket.io 2 server",
                    transport="polling",
                    reason="eio3_server",
                    status=200,
                    evidence={"sample": _sample(body)},
                )
            )
        try:
            packets = decode_payload(body, self.eio)
        except EioDecodeError as exc:
            raise ClientError(self._not_engineio(answer, str(exc))) from None
        for p in packets:
            self._tap_in(p, "polling", answer.request_id, _packet_size(p, self.eio))
        if (
            not packets
            or packets[0].type is not EioType.OPEN
            or not isinstance(packets[0].data, str)
        ):
            raise ClientError(self._not_engineio(answer, "no open packet first"))
        op = self._accept_open(packets[0].data, "polling")
        for p in packets[1:]:
            self._receive_packet(p, self._initial)
        return op

    def _not_engineio(self, answer: Response, why: str) -> Failure:
        ctype = answer.content_type or "no content type"
        return Failure(
            phase="handshake",
            kind=FailureKind.PROTOCOL,
            message=f"HTTP {answer.status} ({ctype}) to the Engine.IO handshake is not Engine.IO: "
            f"{why}",
            transport="polling",
            reason="not_engineio",
            status=answer.status,
            evidence={"sample": _sample(answer.body), "content_type": ctype},
        )

    async def _open_websocket(self, timeout: float, start: float) -> OpenPacket:
        url = self.target.endpoint("websocket")
        ws = await self._connect_ws(url, timeout, phase="websocket")
        left = max(0.05, timeout - (time.monotonic() - start))
        try:
            first = await ws.recv(left)
        except asyncio.TimeoutError:
            ws.abort()
            raise ClientError(
                Failure(
                    phase="websocket",
                    kind=FailureKind.TIMEOUT,
                    message=f"the websocket opened but no Engine.IO open packet came in {timeout:.1f} s",
                    transport="websocket",
                    reason="no_open",
                )
            ) from None
        except WsClosed as exc:
            raise ClientError(
                _ws_closed_failure(exc, "websocket", "before the Engine.IO open packet")
            ) from None
        size = _size(first)
        try:
            packet = decode_packet(first, self.eio)
        except EioDecodeError as exc:
            ws.abort()
            raise ClientError(
                Failure(
                    phase="websocket",
                    kind=FailureKind.PROTOCOL,
                    message=f"the websocket's first message is not Engine.IO ({exc})",
                    transport="websocket",
                    reason="not_engineio",
                    evidence={"sample": text_of(first)[:80]},
                )
            ) from None
        self._tap_in(packet, "websocket", None, size)
        if packet.type is not EioType.OPEN or not isinstance(packet.data, str):
            ws.abort()
            raise ClientError(
                Failure(
                    phase="websocket",
                    kind=FailureKind.PROTOCOL,
                    message=f"the websocket's first message is a {packet.type.name} packet, not "
                    "the Engine.IO open packet",
                    transport="websocket",
                    reason="not_engineio",
                    evidence={"sample": text_of(first)[:80]},
                )
            )
        try:
            op = self._accept_open(packet.data, "websocket")
        except ClientError:
            ws.abort()
            raise
        self._ws = ws
        return op

    async def _connect_ws(self, url: str, timeout: float, *, phase: FailurePhase) -> Any:
        try:
            return await self.http.websocket(url, headers=self.target.headers, timeout=timeout)
        except WsRefused as exc:
            ctype = (exc.header("content-type") or "").split(";")[0].strip().lower()
            failure = refusal_failure(
                phase,
                "websocket",
                exc.status,
                exc.status_line,
                exc.body,
                ctype,
                what="websocket handshake",
                header=exc.header,
            )
            if failure.engine_error is not None and failure.engine_error.code == 5:
                failure = _other_generation(failure, self.eio)
            raise ClientError(failure) from None
        except WsClosed as exc:
            raise ClientError(_ws_closed_failure(exc, phase, "during the handshake")) from None
        except WireError as exc:
            real_phase = (
                phase if exc.phase in ("http", "websocket") else _wire_phase(exc, "websocket")
            )
            raise ClientError(wire_failure(exc, real_phase, "websocket")) from None

    def _accept_open(self, text: str, transport: str) -> OpenPacket:
        phase: FailurePhase = "handshake" if transport == "polling" else "websocket"
        try:
            op = parse_open(text)
        except EioDecodeError as exc:
            raise ClientError(
                Failure(
                    phase=phase,
                    kind=FailureKind.PROTOCOL,
                    message=f"the server sent {exc}",
                    transport=transport,
                    reason="bad_open",
                    evidence={"sample": bounds.clip(text, 80)},
                )
            ) from None
        if not op.usable:
            raise ClientError(
                Failure(
                    phase=phase,
                    kind=FailureKind.PROTOCOL,
                    message="the server's Engine.IO open packet cannot be used: "
                    + "; ".join(op.problems),
                    transport=transport,
                    reason="bad_open",
                    evidence={"problems": list(op.problems), "sample": bounds.clip(text, 200)},
                )
            )
        self.open_packet = op
        self._raw_sid = op.raw_sid
        assert op.ping_interval_ms is not None
        assert op.ping_timeout_ms is not None
        self._ping_interval = op.ping_interval_ms / 1000.0
        self._ping_timeout = op.ping_timeout_ms / 1000.0
        return op

    # --- the packet tap -------------------------------------------------------------------

    def _tap_in(
        self, packet: EioPacket, transport: TransportName, request_id: int | None, size: int
    ) -> None:
        tap = self.tap
        if tap is None:
            return
        tap(self._record(packet, "in", transport, request_id, size))

    def _tap_out(
        self, packet: EioPacket, transport: TransportName, request_id: int | None, size: int
    ) -> None:
        tap = self.tap
        if tap is None:
            return
        tap(self._record(packet, "out", transport, request_id, size))

    def _record(
        self,
        packet: EioPacket,
        direction: Direction,
        transport: TransportName,
        request_id: int | None,
        size: int,
    ) -> PacketRecord:
        sio_type = namespace = decoded = None
        ack_id: int | None = None
        attachments = 0
        if packet.type is EioType.MESSAGE and self.describe is not None:
            sio_type, namespace, ack_id, attachments, decoded = self.describe(packet.data)
        return PacketRecord(
            mono=time.monotonic(),
            wall=time.time(),
            direction=direction,
            transport=transport,
            eio_type=packet.type.name,
            size=size,
            text=text_of(packet.data),
            sio_type=sio_type,
            namespace=namespace,
            ack_id=ack_id,
            attachments=attachments,
            binary_size=len(packet.data) if isinstance(packet.data, bytes) else None,
            request_id=request_id,
            decoded=decoded,
        )

    # --- receiving ------------------------------------------------------------------------

    def _receive_packet(self, packet: EioPacket, batch: list[MessageData]) -> None:
        """One packet in (not a MESSAGE's hot path: see :meth:`_ws_loop`)."""
        kind = packet.type
        if kind is EioType.MESSAGE:
            batch.append(packet.data)
        elif kind is EioType.PING:
            self._on_ping(packet.data if isinstance(packet.data, str) else "")
        elif kind is EioType.PONG:
            self._on_pong()
        elif kind is EioType.CLOSE:
            self._server_closed()

    def _on_ping(self, data: str) -> None:
        self.pings += 1
        if self.eio >= 4:
            self._deadline = time.monotonic() + self._ping_interval + self._ping_timeout
        self.send_packet(EioPacket(EioType.PONG, data))

    def _on_pong(self) -> None:
        if self.eio < 4 and self._pong_due:
            self.pings += 1
            self._pong_due = 0.0
            if self._pong_timer is not None:
                self._pong_timer.cancel()
            loop = asyncio.get_running_loop()
            self._timer = loop.call_at(loop.time() + self._ping_interval, self._send_ping3)

    def _server_closed(self) -> None:
        self._finish(
            CloseReason(
                CloseKind.SERVER_CLOSE,
                "the server closed the Engine.IO session (a CLOSE packet)",
                self.transport or "?",
                time.monotonic(),
            )
        )

    async def _poll_loop(self) -> None:
        hold = self._ping_interval + self._ping_timeout + _SLACK
        assert self._raw_sid is not None
        while not self.closed.done():
            if self._paused:
                parked = self._reader_parked
                resume = self._resume
                if parked is not None:
                    parked.set()
                if resume is not None:
                    await resume.wait()
                if self.transport != "polling":
                    return
                continue
            url = self.target.endpoint("polling", self._raw_sid)
            try:
                answer = await self.http.request(
                    "GET", url, headers=self.target.headers, timeout=hold, limit=POLL_BODY_LIMIT
                )
            except WireError as exc:
                self._finish(self._poll_failed(exc, "GET"))
                return
            if not self._poll_answer_ok(answer, "GET"):
                return
            if answer.truncated:
                self._finish(
                    CloseReason(
                        CloseKind.PROTOCOL,
                        f"a polling answer larger than {POLL_BODY_LIMIT // (1024 * 1024)} MiB",
                        "polling",
                        time.monotonic(),
                    )
                )
                return
            try:
                packets = decode_payload(answer.body, self.eio)
            except EioDecodeError as exc:
                self._finish(
                    CloseReason(
                        CloseKind.PROTOCOL,
                        f"a polling answer that is not Engine.IO: {exc}",
                        "polling",
                        time.monotonic(),
                    )
                )
                return
            self.last_packet_mono = time.monotonic()
            batch: list[MessageData] = []
            tap = self.tap is not None
            for p in packets:
                if tap:
                    self._tap_in(p, "polling", answer.request_id, _packet_size(p, self.eio))
                self._receive_packet(p, batch)
            if batch:
                await self._deliver(batch)

    async def _deliver(self, batch: list[MessageData]) -> None:
        """Hand a read's messages up in order; a long burst in slices of :data:`DELIVER_SLICE`
        with a turn for the rest of the event loop between them (a screen stays responsive while
        thousands of buffered events are handled)."""
        if len(batch) <= DELIVER_SLICE:
            self.on_messages(batch)
            return
        for start in range(0, len(batch), DELIVER_SLICE):
            if start:
                await asyncio.sleep(0)
            self.on_messages(batch[start : start + DELIVER_SLICE])

    def _poll_failed(self, exc: WireError, method: str) -> CloseReason:
        kind = CloseKind.TRANSPORT_ERROR
        if exc.reason in ("eof", "closed") or exc.kind is FailureKind.CLOSED:
            kind = CloseKind.EOF
        elif exc.reason == "reset":
            kind = CloseKind.RESET
        elif exc.kind is FailureKind.TIMEOUT and method == "GET":
            kind = CloseKind.PING_TIMEOUT
        return CloseReason(
            kind, f"the polling {method} failed: {exc.message}", "polling", time.monotonic()
        )

    def _poll_answer_ok(self, answer: Response, method: str) -> bool:
        if answer.status == 200:
            return True
        engine = parse_engine_error(answer.status, answer.body)
        what = ""
        if engine is not None:
            name = f" {engine.code} ({engine.name})" if engine.code is not None else ""
            what = f": Engine.IO error{name} “{engine.message}”"
        self._finish(
            CloseReason(
                CloseKind.HTTP_ERROR,
                f"{answer.status_line} to a polling {method}{what}",
                "polling",
                time.monotonic(),
                status=answer.status,
                engine_error=engine,
            )
        )
        return False

    async def _ws_loop(self) -> None:
        ws = self._ws
        assert ws is not None
        v4 = self.eio >= 4
        while True:
            try:
                messages = await ws.recv_many()
            except WsClosed as exc:
                self._finish(self._ws_ended(exc))
                return
            except WireError as exc:
                self._finish(
                    CloseReason(
                        CloseKind.TRANSPORT_ERROR, exc.message, "websocket", time.monotonic()
                    )
                )
                return
            self.last_packet_mono = time.monotonic()
            tap = self.tap
            if tap is not None and len(messages) > DELIVER_SLICE:
                # Tapped, a burst is recorded and handed up a slice at a time (the tap's records
                # cost more than the messages: one long step would hold the loop).
                for start in range(0, len(messages), DELIVER_SLICE):
                    if start:
                        await asyncio.sleep(0)
                    if not await self._ws_take(messages[start : start + DELIVER_SLICE], v4):
                        return
                continue
            if not await self._ws_take(messages, v4):
                return

    async def _ws_take(self, messages: list[str | bytes], v4: bool) -> bool:
        """Record (tap) and hand up one read's messages; False once the session ended."""
        batch: list[MessageData] = []
        append = batch.append
        tap = self.tap
        for m in messages:
            if type(m) is str:
                if m[:1] == "4":
                    if tap is not None:
                        self._tap_in(EioPacket(EioType.MESSAGE, m[1:]), "websocket", None, _size(m))
                    append(m[1:])
                    continue
            elif v4:
                if tap is not None:
                    self._tap_in(EioPacket(EioType.MESSAGE, m), "websocket", None, len(m))
                append(m)
                continue
            try:
                packet = decode_packet(m, self.eio)
            except EioDecodeError as exc:
                if batch:
                    self.on_messages(batch)
                self._finish(
                    CloseReason(
                        CloseKind.PROTOCOL,
                        f"a websocket message that is not Engine.IO: {exc}",
                        "websocket",
                        time.monotonic(),
                    )
                )
                return False
            if tap is not None:
                self._tap_in(packet, "websocket", None, _size(m))
            self._receive_packet(packet, batch)
            if self.closed.done():
                break
        if batch:
            await self._deliver(batch)
        return not self.closed.done()

    def _ws_ended(self, exc: WsClosed) -> CloseReason:
        if exc.who == "server":
            kind = CloseKind.WS_CLOSED
            code = f"close code {exc.code}" if exc.code is not None else "no close code"
            why = f" “{bounds.clip(exc.close_reason)}”" if exc.close_reason else ""
            message = f"the server closed the websocket ({code}{why})"
        elif exc.who == "eof":
            kind, message = CloseKind.EOF, "the websocket's connection ended without a close frame"
        elif exc.who == "reset":
            kind, message = CloseKind.RESET, f"the websocket's connection was reset ({exc.message})"
        elif exc.who in ("protocol", "limit"):
            kind, message = CloseKind.PROTOCOL, exc.message
        else:
            kind, message = CloseKind.CLIENT, exc.message
        return CloseReason(
            kind,
            message,
            "websocket",
            time.monotonic(),
            ws_code=exc.code,
            ws_reason=bounds.clip(exc.close_reason) if exc.close_reason else None,
            ws_who=exc.who,
        )

    # --- heartbeat ------------------------------------------------------------------------

    def _start_heartbeat(self) -> None:
        now = time.monotonic()
        loop = asyncio.get_running_loop()
        if self.eio >= 4:
            self._deadline = now + self._ping_interval + self._ping_timeout
            self._timer = loop.call_at(
                loop.time() + self._ping_interval + self._ping_timeout, self._check_ping
            )
        else:
            self._timer = loop.call_at(loop.time() + self._ping_interval, self._send_ping3)

    def _check_ping(self) -> None:
        """v4: the ping deadline passed? (re-armed at the deadline if a ping moved it)."""
        if self.closed.done():
            return
        left = self._deadline - time.monotonic()
        loop = asyncio.get_running_loop()
        if left > 0:
            self._timer = loop.call_at(loop.time() + left, self._check_ping)
            return
        self._finish(
            CloseReason(
                CloseKind.PING_TIMEOUT,
                f"no ping from the server in {self._ping_interval + self._ping_timeout:.1f} s "
                "(pingInterval + pingTimeout)",
                self.transport or "?",
                time.monotonic(),
            )
        )

    def _send_ping3(self) -> None:
        """v3: our ping, pingInterval after the last pong; its pong must come within
        pingTimeout (engine.io-client 3's rule)."""
        if self.closed.done():
            return
        loop = asyncio.get_running_loop()
        self.send_packet(EioPacket(EioType.PING))
        self._pong_due = time.monotonic() + self._ping_timeout
        self._pong_timer = loop.call_at(loop.time() + self._ping_timeout, self._check_pong3)

    def _check_pong3(self) -> None:
        if self.closed.done() or not self._pong_due:
            return
        self._finish(
            CloseReason(
                CloseKind.PING_TIMEOUT,
                f"no pong from the server in {self._ping_timeout:.1f} s (pingTimeout)",
                self.transport or "?",
                time.monotonic(),
            )
        )

    # --- sending --------------------------------------------------------------------------

    def send(self, data: MessageData) -> None:
        """Queue one ``MESSAGE`` (text, or ``bytes`` for binary); sent in order, batched."""
        self.send_packet(EioPacket(EioType.MESSAGE, data))

    def send_many(self, items: Sequence[MessageData]) -> None:
        """Queue several ``MESSAGE`` packets at once (one websocket write burst or one POST)."""
        if self.closed.done():
            return
        self._out.extend(EioPacket(EioType.MESSAGE, d) for d in items)
        self._kick_writer()

    def send_packet(self, packet: EioPacket) -> None:
        """Queue any Engine.IO packet."""
        if self.closed.done():
            return
        self._out.append(packet)
        self._kick_writer()

    def _kick_writer(self) -> None:
        if self._writer is None or self._writer.done():
            self._writer = asyncio.ensure_future(self._write_loop())

    async def _write_loop(self) -> None:
        while self._out and not self.closed.done():
            if self._paused or self.transport is None:
                return  # the upgrade (or the handshake's end) kicks the writer again
            batch, self._out = self._out, []
            if self.transport == "websocket":
                ws = self._ws
                assert ws is not None
                try:
                    for p in batch:
                        wire = encode_packet(p, self.eio)
                        if self.tap is not None:
                            self._tap_out(p, "websocket", None, _size(wire))
                        if isinstance(wire, bytes):
                            await ws.send_bytes(wire)
                        else:
                            await ws.send_text(wire)
                except WsClosed as exc:
                    self._finish(self._ws_ended(exc))
                    return
                except WireError as exc:
                    self._finish(
                        CloseReason(
                            CloseKind.TRANSPORT_ERROR, exc.message, "websocket", time.monotonic()
                        )
                    )
                    return
            else:
                await self._post(batch)

    async def _post(self, batch: list[EioPacket]) -> None:
        body = encode_payload(batch, self.eio)
        raw = body.encode("utf-8") if isinstance(body, str) else body
        assert self._raw_sid is not None
        url = self.target.endpoint("polling", self._raw_sid)
        headers = (*self.target.headers, ("Content-Type", "text/plain;charset=UTF-8"))
        numbered: dict[str, int] = {}
        if self.tap is not None:
            # Recorded as they leave (wire order: before the answers they cause, which a held
            # GET may bring before this POST's own "ok"), with the request that carries them.
            from conndebug.wire import next_request_id

            numbered["request_id"] = request_id = next_request_id()
            for p in batch:
                self._tap_out(p, "polling", request_id, _packet_size(p, self.eio))
        try:
            answer = await self.http.request(
                "POST",
                url,
                headers=headers,
                body=raw,
                timeout=self._ping_timeout + _SLACK,
                limit=4096,
                **numbered,
            )
        except WireError as exc:
            self._finish(self._poll_failed(exc, "POST"))
            return
        self._poll_answer_ok(answer, "POST")

    # --- upgrade --------------------------------------------------------------------------

    async def upgrade_to_websocket(self, timeout: float) -> UpgradeOutcome:
        """Upgrade a polling session to the websocket within ``timeout`` seconds.

        On failure the session carries on over polling (as the JavaScript client does) and the
        outcome says why, from the wire.
        """
        start = time.monotonic()
        if self.transport != "polling" or self.closed.done():
            raise RuntimeError("only an open polling session can be upgraded")
        assert self._raw_sid is not None
        ws: Any = None
        deadline = start + timeout

        def fail(failure: Failure) -> UpgradeOutcome:
            outcome = UpgradeOutcome(False, _elapsed(start), failure.with_elapsed(_elapsed(start)))
            self.upgrade = outcome
            return outcome

        try:
            try:
                ws = await self._connect_ws(
                    self.target.endpoint("websocket", self._raw_sid), timeout, phase="upgrade"
                )
            except ClientError as exc:
                return fail(exc.failure)
            probe = EioPacket(EioType.PING, "probe")
            wire = encode_packet(probe, self.eio)
            assert isinstance(wire, str)
            self._tap_out(probe, "websocket", None, len(wire))
            try:
                await ws.send_text(wire)
                answer = await ws.recv(max(0.01, deadline - time.monotonic()))
            except asyncio.TimeoutError:
                return fail(
                    Failure(
                        phase="upgrade",
                        kind=FailureKind.TIMEOUT,
                        message=f"no answer to the websocket's 2probe in {timeout:.1f} s",
                        transport="websocket",
                        reason="no_answer",
                    )
                )
            except WsClosed as exc:
                return fail(_ws_closed_failure(exc, "upgrade", "instead of answering 2probe"))
            except WireError as exc:
                return fail(wire_failure(exc, "upgrade", "websocket"))
            try:
                got = decode_packet(answer, self.eio)
            except EioDecodeError:
                got = None
            if got is not None:
                self._tap_in(got, "websocket", None, _size(answer))
            if got is None or got.type is not EioType.PONG or got.data != "probe":
                return fail(
                    Failure(
                        phase="upgrade",
                        kind=FailureKind.PROTOCOL,
                        message="the websocket answered 2probe with "
                        f"{bounds.clip(text_of(answer), 60)!r} instead of 3probe",
                        transport="websocket",
                        reason="no_3probe",
                        evidence={"answer": text_of(answer)[:120]},
                    )
                )
            # Pause polling: the held GET returns (the server answers it with a noop), the
            # POST in flight ends; then the upgrade packet, and the websocket takes over.
            parked = asyncio.Event()
            self._reader_parked = parked
            self._resume = asyncio.Event()
            self._paused = True
            try:
                left = max(0.01, deadline - time.monotonic())
                await asyncio.wait_for(self._pause_done(parked), left)
            except asyncio.TimeoutError:
                self._paused = False
                self._resume.set()
                return fail(
                    Failure(
                        phase="upgrade",
                        kind=FailureKind.TIMEOUT,
                        message=f"the held polling request was not released within {timeout:.1f} s "
                        "of the 3probe (the server should answer it with a noop)",
                        transport="polling",
                        reason="poll_not_released",
                    )
                )
            if self.closed.done():
                return fail(
                    Failure(
                        phase="upgrade",
                        kind=FailureKind.CLOSED,
                        message="the session ended while pausing polling for the upgrade",
                        transport="polling",
                        reason="closed",
                    )
                )
            upgrade = EioPacket(EioType.UPGRADE)
            wire = encode_packet(upgrade, self.eio)
            assert isinstance(wire, str)
            self._tap_out(upgrade, "websocket", None, len(wire))
            try:
                await ws.send_text(wire)
            except WireError as exc:
                self._paused = False
                self._resume.set()
                return fail(wire_failure(exc, "upgrade", "websocket"))
            self._ws, ws = ws, None
            self.transport = "websocket"
            self._paused = False
            self._resume.set()  # the poll loop sees the new transport and ends
            self._reader = asyncio.ensure_future(self._ws_loop())
            self._kick_writer()
            outcome = UpgradeOutcome(True, _elapsed(start))
            self.upgrade = outcome
            return outcome
        finally:
            if ws is not None:
                ws.abort()
            if self._paused:
                self._paused = False
                if self._resume is not None:
                    self._resume.set()
            if self.transport == "polling" and self._out:
                self._kick_writer()

    async def _pause_done(self, parked: asyncio.Event) -> None:
        waits: list[Any] = [parked.wait()]
        reader = self._reader
        if reader is not None and reader.done():
            waits = []
        writer = self._writer
        if writer is not None and not writer.done():
            waits.append(asyncio.shield(writer))
        if waits:
            await asyncio.gather(*waits)

    # --- the end --------------------------------------------------------------------------

    def _finish(self, reason: CloseReason) -> None:
        if self.closed.done():
            return
        if self._closing and reason.kind is not CloseKind.CLIENT:
            # The server's answer to our own goodbye (its CLOSE, its close frame, the end).
            reason = CloseReason(
                CloseKind.CLIENT, "we closed the session", reason.transport, reason.mono
            )
        self.closed.set_result(reason)
        if self.on_close is not None:
            self.on_close(reason)
        for timer in (self._timer, self._pong_timer):
            if timer is not None:
                timer.cancel()
        ws = self._ws
        if ws is not None and reason.kind is not CloseKind.CLIENT:
            ws.abort()
        for task in (self._reader, self._writer):
            if task is not None and not task.done() and task is not asyncio.current_task():
                task.cancel()

    async def close(self, *, timeout: float = 1.0) -> None:
        """Say goodbye (an Engine.IO ``CLOSE`` packet over polling, a close frame over the
        websocket) and end the session. Idempotent."""
        if self.closed.done():
            return
        self._closing = True
        reason = CloseReason(
            CloseKind.CLIENT, "we closed the session", self.transport or "?", time.monotonic()
        )
        close_packet = EioPacket(EioType.CLOSE)
        with contextlib.suppress(WireError, asyncio.TimeoutError, OSError):
            # Over the websocket the close frame is the goodbye (engine.io-client sends no
            # CLOSE packet there either); over polling the CLOSE packet is.
            if self.transport == "polling" and self._raw_sid is not None:
                self._out.append(close_packet)
                batch, self._out = self._out, []
                await asyncio.wait_for(self._post(batch), timeout)
        if self._ws is not None and self.transport == "websocket":
            writer = self._writer
            if writer is not None and not writer.done():
                # What was queued before the goodbye (a DISCONNECT) goes out before it.
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(asyncio.shield(writer), timeout)
            # The close handshake while the reader still runs: it reads the server's answer
            # (a reader cancelled first would leave the close waiting its whole time limit).
            with contextlib.suppress(WireError, OSError, asyncio.TimeoutError):
                await self._ws.close(1000, "", timeout)
        self._finish(reason)
        if self._ws is not None:
            with contextlib.suppress(WireError, OSError, asyncio.TimeoutError):
                await self._ws.close(1000, "", timeout)
        await self._join()

    def abort(self) -> None:
        """Drop the connection at once, without a goodbye (the server sees a transport loss)."""
        if self._ws is not None:
            self._ws.abort()
        self._finish(
            CloseReason(
                CloseKind.CLIENT,
                "we dropped the connection",
                self.transport or "?",
                time.monotonic(),
                dropped=True,
            )
        )

    async def _join(self) -> None:
        tasks = [t for t in (self._reader, self._writer) if t is not None and not t.done()]
        if tasks:
            await asyncio.wait(tasks, timeout=1.0)


def _ws_closed_failure(exc: WsClosed, phase: FailurePhase, when: str) -> Failure:
    if exc.who == "server":
        code = f"close code {exc.code}" if exc.code is not None else "no close code"
        message = f"the server closed the websocket {when} ({code})"
    elif exc.who == "eof":
        message = f"the websocket's connection ended {when}"
    else:
        message = f"{exc.message} ({when})"
    return Failure(
        phase=phase,
        kind=FailureKind.CLOSED,
        message=message,
        transport="websocket",
        reason="closed",
        ws_code=exc.code,
        ws_who=exc.who,
        evidence=dict(exc.evidence),
    )


def _other_generation(failure: Failure, eio: int) -> Failure:
    """Engine.IO error 5 (Unsupported protocol version): name the generation the server speaks."""
    import dataclasses

    if eio < 4:
        return dataclasses.replace(
            failure,
            kind=FailureKind.PROTOCOL,
            reason="eio4_server",
            message=failure.message + ": the server speaks Engine.IO 4 (socket.io 3/4) only",
        )
    return dataclasses.replace(
        failure,
        kind=FailureKind.PROTOCOL,
        reason="eio_version",
        message=failure.message + ": the server does not speak Engine.IO 4",
    )


def _size(data: str | bytes) -> int:
    """Bytes of a websocket message's payload (UTF-8 for text)."""
    if type(data) is str:
        return len(data) if data.isascii() else len(data.encode("utf-8", "surrogatepass"))
    return len(data)


def _packet_size(packet: EioPacket, eio: int) -> int:
    """Bytes a packet takes in a text polling payload (its separator or length not counted)."""
    wire = encode_packet(packet, eio, b64=True)
    return _size(wire)
