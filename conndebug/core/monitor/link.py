"""One live connection, as the monitor sees it: :class:`Link` over the client's ``Connected``.

The monitor never talks to the Socket.IO client directly; it holds a :class:`LinkLike` (the real
:class:`Link`, or a test's fake) that gives it:

- **facts** (:class:`LinkFacts`): transport, how it was reached, both ids, the open packet's
  timings and offered upgrades, recovery, the websocket's failure when it fell back or its
  upgrade failed — all as the client measured them on the wire;
- **the end** (:attr:`LinkLike.ended`): one :class:`Ending` with the JavaScript client's reason
  (``io server disconnect``, ``transport close``, ``ping timeout``...), the plain words of what
  happened, and the facts (kicked, how the Engine.IO session ended, close code, who);
- **signs of life** (:meth:`LinkLike.marks`): a marker that changes with every read from the
  server and the count of heartbeats — sampled by the monitor's ticker, so a storm of events
  costs nothing here;
- the server's events, handed to a sink one by one in wire order, after :meth:`announce` (events
  that came with the ``CONNECT`` answer — a recovery's replay — wait until the monitor has
  reported the connection);
- round trips, emits with or without acks, a drop (no goodbye: the server sees a transport loss)
  and a graceful close.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from conndebug.client import Connected, Disconnect, Event, Failure, PacketRecord, RecoveryState
    from conndebug.wire import HttpClient

__all__ = ["Ending", "Link", "LinkFacts", "LinkLike"]


@dataclass(frozen=True)
class LinkFacts:
    """What the connection is, as measured (``None``: not known)."""

    transport: str
    how: str
    """``direct``, ``upgraded`` (polling, then the websocket) or ``fallback``."""
    sid: str | None = None
    engine_sid: str | None = None
    upgrades: tuple[str, ...] | None = None
    ping_interval_ms: int | None = None
    ping_timeout_ms: int | None = None
    elapsed_ms: float | None = None
    websocket_failure: Failure | None = None
    """Why the websocket failed: the fallback's cause (``how`` ``fallback``)."""
    upgrade_failure: Failure | None = None
    """Why the offered upgrade failed (polling first; the session stayed on polling)."""
    recovered: bool | None = None
    """Recovery asked: restored (True) or not (False); None when not asked."""
    replayed: int = 0
    recovery_why_not: str | None = None
    eio: int = 4
    parser: str = "json"


@dataclass(frozen=True)
class Ending:
    """How a connection ended."""

    reason: str
    """The JavaScript client's words, with what happened in brackets:
    ``transport close (the server closed the websocket (close code 1001))``."""
    kicked: bool = False
    """The server disconnected the socket (``io server disconnect``): not retried."""
    by: str = "network"
    """``server``, ``network``, ``user`` (dropped or closed on request) or ``client``."""
    close: str | None = None
    """How the Engine.IO session ended (a ``CloseKind`` value), when that ended it."""
    transport: str | None = None
    ws_code: int | None = None
    ws_who: str | None = None
    status: int | None = None
    engine_code: int | None = None


class LinkLike(Protocol):
    """What the monitor needs of a live connection (a :class:`Link` or a test fake)."""

    ended: asyncio.Future[Ending]

    @property
    def facts(self) -> LinkFacts: ...
    @property
    def is_connected(self) -> bool: ...
    @property
    def transport(self) -> str | None: ...

    def marks(self) -> tuple[object, int]:
        """(a marker that changes with every read from the server, heartbeats seen)."""
        ...

    def announce(self, sink: Callable[[Event], None]) -> None:
        """Hand the server's events to ``sink`` from now on (those held so far first)."""
        ...

    def set_tap(self, tap: Callable[[PacketRecord], None] | None) -> None:
        """Record every packet from now on (``None``: no more records)."""
        ...

    async def round_trip(self, event: str | None, timeout: float) -> float | None: ...
    async def emit(self, name: str, payload: Any, *, ack: bool, timeout: float) -> Any: ...
    async def drop(self) -> None: ...
    async def close(self, *, graceful: bool) -> None: ...
    def recovery_state(self) -> RecoveryState | None: ...


def _ending(disconnect: Disconnect, *, dropped_by_user: bool) -> Ending:
    close = disconnect.close
    if disconnect.kicked:
        return Ending("io server disconnect", kicked=True, by="server")
    if close is None:
        return Ending(disconnect.reason, by="client")
    kind = close.kind.value
    engine = close.engine_error
    if kind == "client":
        if close.dropped:
            return Ending(
                "transport close (dropped on purpose)",
                by="user" if dropped_by_user else "client",
                close=kind,
                transport=close.transport,
            )
        return Ending("io client disconnect", by="client", close=kind, transport=close.transport)
    by = "server" if kind in ("server_close", "ws_closed", "http_error", "protocol") else "network"
    return Ending(
        f"{close.socketio_reason} ({close.message})",
        by=by,
        close=kind,
        transport=close.transport,
        ws_code=close.ws_code,
        ws_who=close.ws_who,
        status=close.status,
        engine_code=engine.code if engine is not None else None,
    )


class Link:
    """A connected namespace of :mod:`conndebug.client` and the HTTP client it runs on.

    Made before the connection attempt (its :meth:`hold` and :meth:`lost` are the attempt's
    event and disconnect callbacks), then :meth:`attach`-ed to what the attempt returned.
    """

    def __init__(self, http: HttpClient, *, namespace: str) -> None:
        self.http = http
        self.namespace = namespace
        self.ended: asyncio.Future[Ending] = asyncio.get_running_loop().create_future()
        self._held: list[Event] = []
        self._dropping = False
        self._released = False
        self.connected: Connected | None = None
        self._facts: LinkFacts | None = None

    def hold(self, event: Event) -> None:
        """An event before :meth:`announce` (a recovery's replay): kept for the sink."""
        self._held.append(event)

    def lost(self, disconnect: Disconnect) -> None:
        """The namespace ended (a kick, the session's end, our own close)."""
        if not self.ended.done():
            self.ended.set_result(_ending(disconnect, dropped_by_user=self._dropping))

    def attach(self, connected: Connected) -> None:
        """The attempt connected: this is the connection."""
        self.connected = connected
        self.client = connected.client
        if connected.namespace.ended is not None:  # ended in the read of its CONNECT answer
            self.lost(connected.namespace.ended)
        upgrade = connected.upgrade
        op = connected.open_packet
        recovery = connected.recovery
        self._facts = LinkFacts(
            transport=connected.transport,
            how=connected.how,
            sid=connected.sid,
            engine_sid=connected.engine_sid,
            upgrades=tuple(op.upgrades),
            ping_interval_ms=op.ping_interval_ms,
            ping_timeout_ms=op.ping_timeout_ms,
            elapsed_ms=connected.elapsed_ms,
            websocket_failure=connected.websocket_failure if connected.how == "fallback" else None,
            upgrade_failure=upgrade.failure
            if upgrade is not None and not upgrade.upgraded
            else None,
            recovered=recovery.recovered if recovery is not None and recovery.asked else None,
            replayed=len(recovery.replayed) if recovery is not None else 0,
            recovery_why_not=recovery.why_not if recovery is not None else None,
            eio=self.client.target.eio,
            parser=self.client.parser.name,
        )

    # -- facts ------------------------------------------------------------------------------

    @property
    def facts(self) -> LinkFacts:
        assert self._facts is not None, "facts of a link that never connected"
        return self._facts

    @property
    def transport(self) -> str | None:
        return self.client.transport

    @property
    def is_connected(self) -> bool:
        return not self.ended.done() and self.client.engine.is_open

    def marks(self) -> tuple[object, int]:
        engine = self.client.engine
        return engine.last_packet_mono, engine.pings

    def recovery_state(self) -> RecoveryState | None:
        if self.connected is None:
            return None
        return self.connected.namespace.recovery_state()

    # -- events -----------------------------------------------------------------------------

    def announce(self, sink: Callable[[Event], None]) -> None:
        assert self.connected is not None
        held, self._held = self._held, []
        self.connected.namespace.on_event = sink  # the hot path: the client calls it directly
        for event in held:
            sink(event)

    def set_tap(self, tap: Callable[[PacketRecord], None] | None) -> None:
        if self.connected is not None:
            self.client.set_tap(tap)

    # -- traffic ----------------------------------------------------------------------------

    async def round_trip(self, event: str | None, timeout: float) -> float | None:
        """One round trip in ms: an ack of ``event``, or a namespace probe; None without one."""
        if not event:
            return await self.client.round_trip(timeout)
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            await self.client.call(event, namespace=self.namespace, timeout=timeout)
        except (asyncio.TimeoutError, ConnectionError):
            return None
        return (loop.time() - started) * 1000.0

    async def emit(self, name: str, payload: Any, *, ack: bool, timeout: float) -> Any:
        """Emit on the namespace; with ``ack`` return the answer (one value, or a list of
        several). Raises ``asyncio.TimeoutError`` (no ack in time) or ``ConnectionError``."""
        args = () if payload is None else (payload,)
        if not ack:
            self.client.emit(name, *args, namespace=self.namespace)
            return None
        answer = await self.client.call(name, *args, namespace=self.namespace, timeout=timeout)
        if len(answer) == 1:
            return answer[0]
        return answer or None

    # -- the end ----------------------------------------------------------------------------

    async def drop(self) -> None:
        """Drop the connection without a goodbye (the server sees a transport loss)."""
        self._dropping = True
        if self.connected is not None:
            self.client.abort()
        await self._release()

    async def close(self, *, graceful: bool) -> None:
        """Leave (``graceful``: a goodbye first) and release the connections. Idempotent."""
        if self.connected is not None:
            if graceful and not self.ended.done():
                with contextlib.suppress(OSError, asyncio.TimeoutError):
                    await self.client.close(timeout=1.0)
            else:
                self.client.abort()
        await self._release()

    async def _release(self) -> None:
        if self._released:
            return
        self._released = True
        with contextlib.suppress(OSError, asyncio.TimeoutError):
            await asyncio.wait_for(self.http.aclose(), 2.0)
