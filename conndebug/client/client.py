"""Socket.IO on one Engine.IO session: namespaces, events in order, emits, acks, kicks, round
trips and connection state recovery.

:class:`SocketClient` speaks protocol 5 (socket.io 3/4) over Engine.IO 4 and protocol 4
(socket.io 2) over Engine.IO 3, with the default (JSON) or the msgpack parser:

- :meth:`SocketClient.connect` connects a namespace (auth in the ``CONNECT`` packet; protocol 4:
  the default namespace is connected by the server unasked) and returns its
  :class:`Namespace`, or raises :class:`~conndebug.client.failure.ClientError` whose failure
  carries the server's ``CONNECT_ERROR`` message and ``data`` verbatim (clipped);
- events reach ``on_event`` one :class:`Event` at a time, in wire order, binary values as
  ``bytes`` with their true sizes (attachments put back in order on both transports); a batch
  of small events costs one ``json.loads`` each and no task, future or timer;
- a ``DISCONNECT`` packet from the server (a kick, ``io server disconnect``) is told apart from
  the end of the transport (``transport close``, ``ping timeout``...): see :class:`Disconnect`;
- :meth:`SocketClient.round_trip` times a ``CONNECT`` to a namespace that does not exist, which
  every server answers at once (``CONNECT_ERROR`` / ``ERROR``);
- **recovery**: the ``pid`` of the ``CONNECT`` answer and the offset the server appends to each
  event are kept (:meth:`Namespace.recovery_state`); a later ``connect(recover=state)`` sends
  ``{pid, offset}`` with the auth and reports :class:`Recovery`: recovered or not, the
  replayed events, and why not when the server refuses.

A packet the client cannot decode is reported to ``on_problem`` and skipped; the session goes on
(a JavaScript client would close it with ``parse error``: the report says so).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import json.decoder
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from conndebug.client import bounds
from conndebug.client.eio import OpenPacket
from conndebug.client.engine import EngineSession, HttpLike, MessageData, Target
from conndebug.client.failure import (
    ClientError,
    CloseReason,
    Failure,
    UpgradeOutcome,
)
from conndebug.client.sio import (
    ParserName,
    SioDecodeError,
    SioPacket,
    SioType,
    describe,
    make_parser,
)
from conndebug.client.tap import PacketRecord, Tap, TransportName, binary_text
from conndebug.core.failure import FailureKind
from conndebug.wire import within

__all__ = [
    "PROBE_PREFIX",
    "Disconnect",
    "Event",
    "Namespace",
    "PacketProblem",
    "Recovery",
    "RecoveryState",
    "SocketClient",
]

PROBE_PREFIX = "/conndebug-probe-"
"""Namespaces of round-trip probes (no server has them)."""
_SCAN: Callable[[str, int], tuple[Any, int]] = json.decoder.JSONDecoder().scan_once  # type: ignore[attr-defined]
"""The C scanner of :mod:`json`: one call per event (``json.loads`` adds two regex passes)."""


@dataclass(slots=True)
class Event:
    """One event from the server, as it came."""

    namespace: str
    name: str
    """The event name (clipped to 200 characters, with the true length, if longer)."""
    args: list[Any]
    """The arguments after the name; binary values are ``bytes`` (true sizes). With recovery on,
    the last one is the server's offset (as the JavaScript client passes it too)."""
    size: int
    """Bytes on the wire: the packet (UTF-8) plus its binary attachments."""
    ack_id: int | None = None
    """The server asks for an acknowledgement (answer with :meth:`SocketClient.ack`)."""
    binaries: tuple[int, ...] = ()
    """Sizes of the binary attachments, in order (default parser), or of the binary values
    (msgpack)."""
    offset: str | None = None
    """The recovery offset the server appended (when it issued a ``pid``)."""
    replayed: bool = False
    """Delivered by the server's recovery, before the ``CONNECT`` answer."""
    mono: float = 0.0
    """Monotonic time of the read that brought it."""


@dataclass(frozen=True)
class Disconnect:
    """A namespace's end: a server kick, our own disconnect, or the transport's end."""

    namespace: str
    reason: str
    """The JavaScript client's words: ``io server disconnect`` (kicked), ``io client
    disconnect``, ``transport close``, ``transport error``, ``ping timeout``, ``parse error``."""
    kicked: bool
    """The server sent a ``DISCONNECT`` packet for the namespace (it will not be recovered)."""
    close: CloseReason | None = None
    """The Engine.IO session's end, when that is what ended the namespace."""


@dataclass(frozen=True)
class PacketProblem:
    """A packet the client could not decode (skipped; the session went on)."""

    message: str
    sample: str
    """The packet's start, bounded (not redacted)."""
    size: int
    mono: float


@dataclass(frozen=True)
class RecoveryState:
    """What a later connection needs to ask for recovery, and how the last one ended."""

    namespace: str
    pid: str | None
    """The private session id the server issued (None: it offers no recovery)."""
    offset: str | None
    """The offset of the last event received (None: no event came)."""
    ended: str
    """``open``, ``transport`` (a transport loss: recoverable), ``kicked`` (server disconnect:
    not kept by the server), ``client`` (our own disconnect: not kept either)."""
    sid: str | None = None
    """The socket id of the session it belonged to (clipped)."""


@dataclass(frozen=True)
class Recovery:
    """The answer to a recovery request."""

    asked: bool
    """``pid`` (and offset) were sent with the ``CONNECT``."""
    recovered: bool
    """The server restored the session (the ``CONNECT`` answer carries the same ``pid``)."""
    replayed: tuple[Event, ...] = ()
    """Events the server replayed (those missed while disconnected)."""
    why_not: str | None = None
    """Why there was no recovery, in plain words, when there was none."""
    previous_sid: str | None = None


@dataclass
class Namespace:
    """A Socket.IO namespace on the session."""

    name: str
    sid: str | None = None
    """The socket id (what the server calls ``socket.id``; clipped)."""
    pid: str | None = None
    """The private session id (connection state recovery), as sent."""
    offset: str | None = None
    connected: bool = False
    recovery: Recovery | None = None
    on_event: Callable[[Event], None] | None = None
    on_disconnect: Callable[[Disconnect], None] | None = None
    ended: Disconnect | None = None
    events: int = 0
    """Events received."""
    _answer: asyncio.Future[SioPacket] | None = field(default=None, repr=False)
    _early: list[Event] = field(default_factory=list, repr=False)
    _early_kick: bool = field(default=False, repr=False)
    """A DISCONNECT came between the CONNECT answer and :meth:`SocketClient.connect` resuming."""

    def recovery_state(self) -> RecoveryState:
        """What to hand to the next :meth:`SocketClient.connect` to ask for recovery."""
        ended = "open"
        if self.ended is not None:
            if self.ended.kicked:
                ended = "kicked"
            elif self.ended.reason == "io client disconnect" and not (
                self.ended.close is not None and self.ended.close.dropped
            ):
                ended = "client"
            else:
                ended = "transport"
        return RecoveryState(self.name, self.pid, self.offset, ended, self.sid)


def _text_size(data: str) -> int:
    return len(data) if data.isascii() else len(data.encode("utf-8", "surrogatepass"))


class SocketClient:
    """Socket.IO over one Engine.IO session (make it, :meth:`open`, then :meth:`connect`)."""

    def __init__(
        self,
        http: HttpLike,
        target: Target,
        *,
        parser: ParserName = "json",
        tap: Tap | None = None,
        on_problem: Callable[[PacketProblem], None] | None = None,
    ) -> None:
        self.target = target
        self.protocol = 5 if target.eio >= 4 else 4
        """The Socket.IO protocol: 5 (socket.io 3/4) or 4 (socket.io 2)."""
        self.parser = make_parser(parser)
        self._decoder = self.parser.decoder()
        self._json = parser == "json"
        self.tap = tap
        self.on_problem = on_problem
        self.engine = EngineSession(http, target, tap=tap, on_messages=self._on_messages)
        parser_name = parser
        self.engine.describe = lambda data: describe(data, parser_name)
        self.namespaces: dict[str, Namespace] = {}
        self.problems = 0
        self.unsolicited: list[str] = []
        """Namespaces the server said were connected without being asked (protocol 4 servers do
        that for ``/``; a protocol 5 server never does)."""
        self._acks: dict[int, asyncio.Future[list[Any]]] = {}
        self._ack_ids = itertools.count()
        self._probes: dict[str, asyncio.Future[float]] = {}
        self._probe_started: dict[str, float] = {}
        self._unsolicited_seen: asyncio.Event = asyncio.Event()
        self._pending_size = 0
        self.engine.on_close = self._engine_closed

    # --- facts ----------------------------------------------------------------------------

    @property
    def transport(self) -> TransportName | None:
        return self.engine.transport

    @property
    def open_packet(self) -> OpenPacket | None:
        return self.engine.open_packet

    @property
    def closed(self) -> asyncio.Future[CloseReason]:
        return self.engine.closed

    # --- the session ----------------------------------------------------------------------

    async def open(self, transport: TransportName, timeout: float) -> OpenPacket:
        """The Engine.IO handshake (see :meth:`EngineSession.open`)."""
        return await self.engine.open(transport, timeout)

    async def upgrade(self, timeout: float) -> UpgradeOutcome:
        """Upgrade polling to the websocket (see :meth:`EngineSession.upgrade_to_websocket`)."""
        return await self.engine.upgrade_to_websocket(timeout)

    async def connect(
        self,
        namespace: str = "/",
        *,
        auth: dict[str, Any] | None = None,
        timeout: float = 20.0,
        recover: RecoveryState | None = None,
        on_event: Callable[[Event], None] | None = None,
        on_disconnect: Callable[[Disconnect], None] | None = None,
    ) -> Namespace:
        """Connect ``namespace`` within ``timeout``; raises :class:`ClientError` (phase
        ``namespace``) with the server's message and data when it refuses."""
        start = time.monotonic()
        ns = self.namespaces.get(namespace)
        if ns is None or ns.ended is not None or not ns.connected:
            ns = Namespace(namespace, on_event=on_event, on_disconnect=on_disconnect)
            self.namespaces[namespace] = ns
        loop = asyncio.get_running_loop()
        payload: dict[str, Any] | None = dict(auth) if auth else None
        if recover is not None and recover.pid is not None and self.protocol >= 5:
            payload = dict(payload or {})
            payload["pid"] = recover.pid
            if recover.offset is not None:
                payload["offset"] = recover.offset
        if self.protocol >= 5:
            op = self.engine.open_packet
            if op is not None and op.max_payload is None and self.engine.transport == "websocket":
                # An Engine.IO 3 server (socket.io 2) answers EIO=4 over the websocket and says
                # "connected" unasked right after its open packet (which has no maxPayload).
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._unsolicited_seen.wait(), 0.25)
            if "/" in self.unsolicited and op is not None and op.max_payload is None:
                raise ClientError(
                    Failure(
                        phase="namespace",
                        kind=FailureKind.PROTOCOL,
                        message="the server connected the default namespace without being asked "
                        "and its open packet has no maxPayload: it is a socket.io 2 server "
                        "(Engine.IO 3), which a socket.io 3/4 client cannot use",
                        transport=self.transport,
                        reason="eio3_server",
                        elapsed_ms=(time.monotonic() - start) * 1000.0,
                    )
                )
            ns._answer = loop.create_future()
            self._send(SioPacket(SioType.CONNECT, namespace, payload))
        elif namespace != "/":
            ns._answer = loop.create_future()
            self._send(SioPacket(SioType.CONNECT, _v4_namespace(namespace, auth)))
        else:  # protocol 4: the server connects "/" unasked
            ns._answer = loop.create_future()
            if "/" in self.unsolicited:
                ns._answer.set_result(SioPacket(SioType.CONNECT, "/"))
        try:
            answer = await self._wait_answer(ns, timeout, start)
        finally:
            ns._answer = None
        elapsed = (time.monotonic() - start) * 1000.0
        if answer.type is SioType.CONNECT_ERROR:
            raise ClientError(self._refusal(namespace, answer, elapsed))
        data = answer.data if isinstance(answer.data, dict) else {}
        sid = data.get("sid")
        pid = data.get("pid")
        if self.protocol < 5:
            engine_sid = self.engine.sid or ""
            sid = engine_sid if namespace == "/" else f"{namespace}#{engine_sid}"
        ns.sid = bounds.clip(sid) if isinstance(sid, str) else None
        ns.pid = pid if isinstance(pid, str) else None
        ns.connected = True
        early, ns._early = ns._early, []
        if ns.pid is not None:
            # Replayed before the answer brought the pid: their offsets are known only now (the
            # next recovery must resume after the last of them, not before).
            for event in early:
                if event.offset is None and event.args and type(event.args[-1]) is str:
                    event.offset = ns.offset = event.args[-1]
        ns.recovery = self._recovery(ns, recover, early)
        for event in early:
            self._dispatch(ns, event)
        # What ended it while the answer was on its way up (same read): told after its events.
        if ns._early_kick:
            self._end(ns, Disconnect(ns.name, "io server disconnect", kicked=True))
        elif self.engine.closed.done():
            close = self.engine.closed.result()
            self._end(ns, Disconnect(ns.name, close.socketio_reason, kicked=False, close=close))
        return ns

    async def _wait_answer(self, ns: Namespace, timeout: float, start: float) -> SioPacket:
        answer = ns._answer
        assert answer is not None
        closed = self.engine.closed
        waits: set[asyncio.Future[Any]] = {answer, closed}
        done, _ = await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        elapsed = (time.monotonic() - start) * 1000.0
        if answer in done:
            return answer.result()
        if closed in done:
            close = closed.result()
            raise ClientError(
                Failure(
                    phase="namespace",
                    kind=FailureKind.CLOSED,
                    message=f"the session ended before the server answered the CONNECT of "
                    f"{ns.name}: {close.message}",
                    transport=close.transport,
                    reason="closed",
                    status=close.status,
                    engine_error=close.engine_error,
                    ws_code=close.ws_code,
                    ws_who=close.ws_who,
                    elapsed_ms=elapsed,
                    evidence={"close": close.as_dict(), "after_connect_ms": elapsed},
                )
            )
        raise ClientError(
            Failure(
                phase="namespace",
                kind=FailureKind.TIMEOUT,
                message=f"no answer to the CONNECT of namespace {ns.name} in {timeout:.1f} s",
                transport=self.transport,
                reason="no_answer",
                elapsed_ms=elapsed,
            )
        )

    def _refusal(self, namespace: str, answer: SioPacket, elapsed: float) -> Failure:
        data = answer.data
        message: str
        extra: Any = None
        if isinstance(data, dict):
            raw = data.get("message")
            message = raw if isinstance(raw, str) else json.dumps(raw)[:200]
            extra = data.get("data")
        elif isinstance(data, str):
            message = data
        else:
            message = ""
        return Failure(
            phase="namespace",
            kind=FailureKind.REJECTED,
            message=f"the server refused namespace {namespace}: “{bounds.clip_message(message)}”",
            transport=self.transport,
            reason="connect_error",
            server_message=bounds.clip_message(message),
            server_data=extra,
            elapsed_ms=elapsed,
            evidence={"protocol": self.protocol},
        )

    def _recovery(
        self, ns: Namespace, recover: RecoveryState | None, early: list[Event]
    ) -> Recovery | None:
        if recover is None:
            return None
        asked = recover.pid is not None and self.protocol >= 5
        recovered = asked and ns.pid is not None and ns.pid == recover.pid
        if recovered:
            for event in early:
                event.replayed = True
            return Recovery(True, True, tuple(early), previous_sid=recover.sid)
        if self.protocol < 5:
            why = "socket.io 2 (protocol 4) has no connection state recovery"
        elif recover.pid is None:
            why = (
                "the previous connection got no pid from the server: connection state recovery "
                "is off there (socket.io ≥ 4.6 with connectionStateRecovery issues one)"
            )
        elif recover.ended == "kicked":
            why = "the previous session ended with a server disconnect, which the server does not keep for recovery"
        elif recover.ended == "client":
            why = "the previous session ended with our own disconnect, which the server does not keep for recovery"
        elif recover.offset is None:
            why = (
                "no event had arrived on the previous connection, so there was no offset to "
                "resume from (the server restores only from a known offset)"
            )
        elif ns.pid is None:
            why = "the server issued no pid this time: connection state recovery is off now"
        else:
            why = (
                "the server answered with a fresh session: it no longer had the old one "
                "(maxDisconnectionDuration passed, the offset is too old, or this node or its "
                "adapter cannot restore sessions)"
            )
        return Recovery(asked, False, (), why, previous_sid=recover.sid)

    # --- receiving ------------------------------------------------------------------------

    def _on_messages(self, batch: list[MessageData]) -> None:
        """Socket.IO packets of one read, in order (the hot path of a storm)."""
        now = time.monotonic()
        root = self.namespaces.get("/")
        fast = self._json and root is not None and root.connected and root.on_event is not None
        decoder = self._decoder
        scan = _SCAN
        for data in batch:
            if fast and type(data) is str and data[:2] == "2[" and decoder.pending is None:
                # An event on "/" without an ack id: decoded in one call, dispatched at once.
                try:
                    args, end = scan(data, 1)
                except RecursionError:
                    args = None  # deep JSON: the bounded decoder of the slow path
                except (ValueError, StopIteration):
                    args = None
                else:
                    if end != len(data):
                        args = None
                if type(args) is list and args and type(args[0]) is str:
                    assert root is not None
                    name = args[0]
                    event = Event(
                        "/",
                        name if len(name) <= bounds.NAME_LIMIT else bounds.clip(name),
                        args[1:],
                        len(data) if data.isascii() else _text_size(data),
                        mono=now,
                    )
                    if root.pid is not None and len(args) > 1 and type(args[-1]) is str:
                        event.offset = root.offset = args[-1]
                    root.events += 1
                    root.on_event(event)  # type: ignore[misc]
                    continue
            self._slow(data, now)

    def _slow(self, data: MessageData, now: float) -> None:
        try:
            packet = self._decoder.feed(data)
        except SioDecodeError as exc:
            self._problem(str(exc), data, now)
            return
        if packet is None:  # a binary packet waiting for its attachments
            if isinstance(data, str):
                self._pending_size = _text_size(data)
            return
        if packet.binaries:
            size = self._pending_size + sum(len(b) for b in packet.binaries)
            self._pending_size = 0
        else:
            size = _text_size(data) if isinstance(data, str) else len(data)
        self._on_packet(packet, size, now)

    def _problem(self, message: str, data: MessageData, now: float) -> None:
        self.problems += 1
        sample = binary_text(data) if isinstance(data, bytes) else bounds.clip(data, 200)
        size = len(data) if isinstance(data, bytes) else _text_size(data)
        if self.on_problem is not None:
            self.on_problem(PacketProblem(message, sample, size, now))

    def _on_packet(self, packet: SioPacket, size: int, now: float) -> None:
        kind = packet.type
        ns = self.namespaces.get(packet.namespace)
        if kind is SioType.EVENT or kind is SioType.BINARY_EVENT:
            data = packet.data
            name = data[0]
            event = Event(
                packet.namespace,
                bounds.clip(name) if isinstance(name, str) else str(name),
                data[1:],
                size,
                packet.id,
                tuple(len(b) for b in packet.binaries) if packet.binaries else _binary_sizes(data),
                mono=now,
            )
            if ns is None:
                self._problem(
                    f"an event for namespace {packet.namespace} which is not connected",
                    str(name),
                    now,
                )
                return
            if ns.pid is not None and len(data) > 1 and type(data[-1]) is str:
                event.offset = ns.offset = data[-1]
            if not ns.connected:
                ns._early.append(event)  # recovery replays come before the CONNECT answer
                return
            self._dispatch(ns, event)
        elif kind is SioType.ACK or kind is SioType.BINARY_ACK:
            if packet.id is not None:
                future = self._acks.pop(packet.id, None)
                if future is not None and not future.done():
                    future.set_result(list(packet.data or []))
        elif kind is SioType.CONNECT or kind is SioType.CONNECT_ERROR:
            self._connect_answer(packet, ns)
        elif kind is SioType.DISCONNECT and ns is not None:
            if ns.connected:
                self._end(ns, Disconnect(ns.name, "io server disconnect", kicked=True))
            elif ns._answer is not None and ns._answer.done():
                ns._early_kick = True

    def _connect_answer(self, packet: SioPacket, ns: Namespace | None) -> None:
        name = packet.namespace
        if name.startswith(PROBE_PREFIX):
            future = self._probes.pop(name, None)
            started = self._probe_started.pop(name, None)
            if future is not None and started is not None and not future.done():
                future.set_result((time.monotonic() - started) * 1000.0)
            if packet.type is SioType.CONNECT:  # a server that takes any namespace: leave it
                self._send(SioPacket(SioType.DISCONNECT, name))
            return
        if ns is not None and ns._answer is not None and not ns._answer.done():
            ns._answer.set_result(packet)
            return
        if packet.type is SioType.CONNECT and (ns is None or not ns.connected):
            self.unsolicited.append(name)
            self._unsolicited_seen.set()
            if ns is not None and ns._answer is not None and not ns._answer.done():
                ns._answer.set_result(packet)
        elif packet.type is SioType.CONNECT_ERROR and ns is not None and ns.connected:
            # protocol 4: an ERROR packet for a connected namespace (a middleware's late word)
            self._problem(
                f"an error for connected namespace {name}: {packet.data!r}"[:300],
                "",
                time.monotonic(),
            )

    def _dispatch(self, ns: Namespace, event: Event) -> None:
        ns.events += 1
        if ns.on_event is not None:
            ns.on_event(event)

    def _end(self, ns: Namespace, reason: Disconnect) -> None:
        if ns.ended is not None:
            return
        ns.connected = False
        ns.ended = reason
        if ns.on_disconnect is not None:
            ns.on_disconnect(reason)

    def _engine_closed(self, close: CloseReason) -> None:
        for ns in list(self.namespaces.values()):
            if ns.connected:
                self._end(ns, Disconnect(ns.name, close.socketio_reason, kicked=False, close=close))
        for ack in self._acks.values():
            if not ack.done():
                ack.set_exception(ConnectionError(close.message))
                ack.exception()  # retrieved: no warning when nobody waits any more
        self._acks.clear()
        for probe in self._probes.values():
            if not probe.done():
                probe.set_exception(ConnectionError(close.message))
                probe.exception()
        self._probes.clear()

    # --- sending --------------------------------------------------------------------------

    def _send(self, packet: SioPacket) -> None:
        items = self.parser.encode(packet)
        if len(items) == 1:
            self.engine.send(items[0])
        else:
            self.engine.send_many(items)

    def emit(self, name: str, *args: Any, namespace: str = "/") -> None:
        """Send an event (no acknowledgement asked)."""
        self._check(namespace)
        self._send(SioPacket(SioType.EVENT, namespace, [name, *args]))

    async def call(
        self, name: str, *args: Any, namespace: str = "/", timeout: float = 5.0
    ) -> list[Any]:
        """Send an event asking for an acknowledgement; return the server's answer (its
        arguments). Raises ``asyncio.TimeoutError`` or ``ConnectionError`` (session ended)."""
        self._check(namespace)
        ack_id = next(self._ack_ids)
        future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        self._acks[ack_id] = future
        self._send(SioPacket(SioType.EVENT, namespace, [name, *args], ack_id))
        try:
            return await within(future, timeout)
        finally:
            self._acks.pop(ack_id, None)

    def ack(self, event: Event, *args: Any) -> None:
        """Answer an event that asked for an acknowledgement."""
        if event.ack_id is None:
            raise ValueError("this event asked for no acknowledgement")
        self._send(SioPacket(SioType.ACK, event.namespace, list(args), event.ack_id))

    def _check(self, namespace: str) -> None:
        ns = self.namespaces.get(namespace)
        if ns is None or not ns.connected:
            raise ConnectionError(f"namespace {namespace} is not connected")

    async def round_trip(self, timeout: float) -> float | None:
        """Milliseconds for a ``CONNECT`` to a namespace no server has to be answered; None when
        no answer came in ``timeout`` (or the session ended)."""
        if self.engine.closed.done():
            return None
        name = PROBE_PREFIX + os.urandom(4).hex()  # `secrets` costs hashlib and random to import
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._probes[name] = future
        self._probe_started[name] = time.monotonic()
        self._send(SioPacket(SioType.CONNECT, name))
        try:
            return await within(future, timeout)  # no task per sample, as wait_for makes
        except (asyncio.TimeoutError, ConnectionError):
            return None
        finally:
            self._probes.pop(name, None)
            self._probe_started.pop(name, None)

    # --- ending ---------------------------------------------------------------------------

    async def disconnect(self, namespace: str = "/") -> None:
        """Leave a namespace (a ``DISCONNECT`` packet); the session stays open."""
        ns = self.namespaces.get(namespace)
        if ns is None or not ns.connected:
            return
        self._send(SioPacket(SioType.DISCONNECT, namespace))
        self._end(ns, Disconnect(namespace, "io client disconnect", kicked=False))

    async def close(self, *, timeout: float = 1.0) -> None:
        """Leave every namespace and close the session (a goodbye on the wire)."""
        for ns in list(self.namespaces.values()):
            if ns.connected and self.engine.is_open:
                self._send(SioPacket(SioType.DISCONNECT, ns.name))
                self._end(ns, Disconnect(ns.name, "io client disconnect", kicked=False))
        await self.engine.close(timeout=timeout)

    def abort(self) -> None:
        """Drop the connection without a goodbye (the server sees a transport loss: a session
        with recovery on is kept for ``maxDisconnectionDuration``)."""
        self.engine.abort()

    def set_tap(self, tap: Tap | None) -> None:
        """Record every packet from now on (``None``: stop; no records are made at all)."""
        self.tap = tap
        self.engine.tap = tap

    def tap_note(self, record: PacketRecord) -> None:
        """Hand a record to the tap (for layers above that add their own)."""
        if self.tap is not None:
            self.tap(record)


def _binary_sizes(data: Any) -> tuple[int, ...]:
    """Sizes of the ``bytes`` values of msgpack data (top level and one level down)."""
    if not isinstance(data, list):
        return ()
    sizes: list[int] = []
    for item in data:
        if isinstance(item, bytes):
            sizes.append(len(item))
        elif isinstance(item, dict):
            sizes.extend(len(v) for v in item.values() if isinstance(v, bytes))
        elif isinstance(item, list):
            sizes.extend(len(v) for v in item if isinstance(v, bytes))
    return tuple(sizes)


def _v4_namespace(namespace: str, auth: dict[str, Any] | None) -> str:
    """Protocol 4 carries a namespace's auth as a query after its name (``/admin?token=x``)."""
    if not auth:
        return namespace
    import urllib.parse

    return namespace + "?" + urllib.parse.urlencode({k: str(v) for k, v in auth.items()})
