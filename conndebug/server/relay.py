"""The public port: a TCP relay that makes network faults real on the wire.

Every connection to the public port is relayed, byte for byte, to the aiohttp application on an
internal loopback port. The relay is where faults that a network would cause happen:

- **black hole**: connections stay open (new ones are still accepted) but no byte moves in either
  direction; reading is paused, so the kernel's buffers fill as on a silent network. Switching
  back resumes, and what was held flows.
- **latency**: each chunk is delayed by N ms in each direction, in order.
- **down** (restart): the listening socket is closed, so new connections are refused by the
  kernel, and every relayed connection is aborted (RST); listening again reuses the same port.

Connections whose first request targets ``/_conndebug/`` (the admin API) are exempt from all of
that, so the switches can always be turned off again — for as long as their requests are admin
calls that the key allows: the application ends the exemption (:meth:`Relay.end_exemption`) at the
first other request or refused admin call. Flow control is end to end: when one side's write
buffer is full, the other side stops being read. A link closes both ends once each has sent its
FIN and received the other's (a half-close in both directions is the end of the connection).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import re
from collections import deque
from typing import Any

__all__ = ["Relay"]

log = logging.getLogger("conndebug.server.relay")

_ADMIN_REQUEST = re.compile(rb"^[A-Z]{3,8} /_conndebug(/|\?| |$)")
_SNIFF_LIMIT = 512
_QUEUE_HIGH = 1 << 20
_QUEUE_LOW = 256 << 10
_EOF = b""
"""Queue marker: half-close the destination after what came before."""
_CLOSE = None
"""Queue marker: close the destination after what came before."""


class _Side(asyncio.Protocol):
    """One TCP end of a link (the client's or the upstream's)."""

    def __init__(self, link: _Link, name: str) -> None:
        self.link = link
        self.name = name
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.eof_in = False
        """This end sent its FIN (we read everything it will ever send)."""
        self.eof_out = False
        """We sent this end our FIN (it will read nothing more from us)."""
        self._pause_reasons: set[str] = set()
        self._reading_paused = False

    # -- reading control -------------------------------------------------------------------
    def hold(self, reason: str, on: bool) -> None:
        """Pause reading for ``reason`` (or lift that reason)."""
        if on:
            self._pause_reasons.add(reason)
        else:
            self._pause_reasons.discard(reason)
        self._apply()

    def _apply(self) -> None:
        transport = self.transport
        if transport is None or self.closed or transport.is_closing():
            return
        want_paused = bool(self._pause_reasons)
        if want_paused and not self._reading_paused:
            transport.pause_reading()
            self._reading_paused = True
        elif not want_paused and self._reading_paused:
            transport.resume_reading()
            self._reading_paused = False

    # -- asyncio.Protocol --------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self._apply()
        self.link.side_made(self)

    def data_received(self, data: bytes) -> None:
        self.link.received(self, data)

    def eof_received(self) -> bool:
        self.eof_in = True
        self.link.received_eof(self)
        # Keep the write half open until the other side is done; once both halves are shut,
        # close (returning False closes the transport): a half-closed pair kept open leaked
        # both descriptors of every connection that ended with a FIN from each side.
        return not self.eof_out

    def shut_write(self) -> None:
        """Send our FIN to this end; close it when it already sent its own."""
        transport = self.transport
        if transport is None or self.closed or transport.is_closing():
            return
        if transport.can_write_eof():
            transport.write_eof()
            self.eof_out = True
            if self.eof_in:
                transport.close()  # both halves are shut: nothing more can move
        else:
            transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.link.side_lost(self)

    def pause_writing(self) -> None:
        self.link.backpressure(self, True)

    def resume_writing(self) -> None:
        self.link.backpressure(self, False)


class _Pipe:
    """One direction of a link: an ordered queue of (due time, chunk or marker)."""

    def __init__(self, link: _Link, src: _Side, dst: _Side) -> None:
        self.link = link
        self.src = src
        self.dst = dst
        self.queue: deque[tuple[float, bytes | None]] = deque()
        self.queued_bytes = 0
        self.timer: asyncio.TimerHandle | None = None
        self.done = False

    def push(self, item: bytes | None) -> None:
        if self.done:
            return
        relay = self.link.relay
        held = relay.blackhole and not self.link.exempt
        delay = 0.0 if self.link.exempt else relay.latency_ms / 1000.0
        dst = self.dst.transport
        if (
            item
            and not self.queue
            and not held
            and delay <= 0
            and dst is not None
            and not self.dst.closed
        ):
            dst.write(item)  # the fast path: no fault, nothing queued
            return
        self.queue.append((relay.loop.time() + delay, item))
        if item:
            self.queued_bytes += len(item)
            if self.queued_bytes > _QUEUE_HIGH:
                self.src.hold("queue", True)
        self.flush()

    def flush(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        relay = self.link.relay
        if self.done or (relay.blackhole and not self.link.exempt):
            return
        dst = self.dst.transport
        if dst is None:
            return  # the upstream is still connecting
        now = relay.loop.time()
        while self.queue:
            due, item = self.queue[0]
            if due > now:
                self.timer = relay.loop.call_at(due, self.flush)
                return
            self.queue.popleft()
            if item is _CLOSE:
                self.done = True
                self.queue.clear()
                dst.close()
                return
            if item == _EOF:
                self.dst.shut_write()
                continue
            self.queued_bytes -= len(item)
            if not self.dst.closed:
                dst.write(item)
        if self.queued_bytes < _QUEUE_LOW:
            self.src.hold("queue", False)

    def stop(self) -> None:
        self.done = True
        self.queue.clear()
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None


class _Link:
    """A client connection and its upstream connection."""

    def __init__(self, relay: Relay) -> None:
        self.relay = relay
        self.client = _Side(self, "client")
        self.upstream = _Side(self, "upstream")
        self.c2u = _Pipe(self, self.client, self.upstream)
        self.u2c = _Pipe(self, self.upstream, self.client)
        self.classified = False
        self.exempt = False
        self._sniff = b""
        self._connect_task: asyncio.Task[Any] | None = None
        self.peer: Any = None
        self.upstream_port: int | None = None
        self.finished = False

    # -- callbacks from the sides ------------------------------------------------------------
    def side_made(self, side: _Side) -> None:
        if side is self.client:
            assert side.transport is not None
            self.peer = side.transport.get_extra_info("peername")
            self.relay.links.add(self)
            # Until the first request line says whether this is the admin API, reading goes on
            # even in a black hole; what is read is held like everything else.
            self._connect_task = self.relay.loop.create_task(self._connect_upstream())
        else:
            assert side.transport is not None
            sockname = side.transport.get_extra_info("sockname")
            if sockname:
                self.upstream_port = int(sockname[1])
                self.relay.peers[self.upstream_port] = self.peer
                self.relay.by_port[self.upstream_port] = self
            self.c2u.flush()

    async def _connect_upstream(self) -> None:
        host, port = self.relay.upstream
        try:
            await self.relay.loop.create_connection(lambda: self.upstream, host, port)
        except OSError as exc:
            log.warning("relay: cannot reach the application on %s:%s: %s", host, port, exc)
            self.abort()

    def received(self, side: _Side, data: bytes) -> None:
        if side is self.upstream:
            self.u2c.push(data)
            return
        if not self.classified:
            self._sniff += data
            if b"\n" not in self._sniff and len(self._sniff) < _SNIFF_LIMIT:
                return
            self._classify()
            data, self._sniff = self._sniff, b""
        self.c2u.push(data)

    def _classify(self) -> None:
        self.classified = True
        self.exempt = bool(_ADMIN_REQUEST.match(self._sniff))
        self.apply_faults()

    def received_eof(self, side: _Side) -> None:
        if side is self.client and not self.classified:
            self._classify()
            if self._sniff:
                self.c2u.push(self._sniff)
            self._sniff = b""
        (self.c2u if side is self.client else self.u2c).push(_EOF)

    def side_lost(self, side: _Side) -> None:
        if side is self.client:
            self.u2c.stop()
            if not self.classified and self._sniff:
                self._classify()
                self.c2u.push(self._sniff)
            self.c2u.push(_CLOSE)
            if self.upstream.transport is None and self._connect_task is not None:
                self._connect_task.cancel()
        else:
            self.c2u.stop()
            self.u2c.push(_CLOSE)
            if self.upstream_port is not None:
                self.relay.peers.pop(self.upstream_port, None)
                self.relay.by_port.pop(self.upstream_port, None)
        if self.client.closed and (self.upstream.closed or self.upstream.transport is None):
            self._finish()

    def backpressure(self, side: _Side, full: bool) -> None:
        other = self.upstream if side is self.client else self.client
        other.hold("backpressure", full)

    # -- control from the relay --------------------------------------------------------------
    def apply_faults(self) -> None:
        held = self.relay.blackhole and not self.exempt
        if self.classified:
            self.client.hold("blackhole", held)
        self.upstream.hold("blackhole", held)
        if not held:
            self.c2u.flush()
            self.u2c.flush()

    def abort(self) -> None:
        self.c2u.stop()
        self.u2c.stop()
        if self._connect_task is not None and not self._connect_task.done():
            self._connect_task.cancel()
        for side in (self.client, self.upstream):
            if side.transport is not None and not side.closed:
                side.transport.abort()
        self._finish()

    def _finish(self) -> None:
        if self.finished:
            return
        self.finished = True
        self.relay.links.discard(self)
        if self.upstream_port is not None:
            self.relay.peers.pop(self.upstream_port, None)
            self.relay.by_port.pop(self.upstream_port, None)


class Relay:
    """Listens on the public address and relays to ``upstream``, applying the faults."""

    def __init__(
        self,
        host: str,
        port: int,
        upstream: tuple[str, int],
    ) -> None:
        self.host = host
        self.port = port
        self.upstream = upstream
        self.blackhole = False
        self.latency_ms = 0.0
        self.links: set[_Link] = set()
        self.peers: dict[int, Any] = {}
        """Upstream source port → the client's peer address (so the app sees real clients)."""
        self.by_port: dict[int, _Link] = {}
        """Upstream source port → its link (so the app can end a connection's exemption)."""
        self._server: asyncio.Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        assert self._loop is not None
        return self._loop

    @property
    def listening(self) -> bool:
        return self._server is not None

    async def listen(self) -> int:
        """Bind the public address (the same port after a restart); returns the port.

        Raises ``OSError`` when the address cannot be bound.
        """
        self._loop = asyncio.get_running_loop()
        server = await self._bind(self.port)
        ports = {sock.getsockname()[1] for sock in server.sockets}
        if len(ports) > 1:  # port 0 on a name with several addresses: one port for all
            server.close()
            server = await self._bind(min(ports))
        self._server = server
        self.port = int(server.sockets[0].getsockname()[1])
        return self.port

    async def _bind(self, port: int) -> asyncio.Server:
        try:
            return await self.loop.create_server(
                self._new_link, self.host, port, reuse_address=True, backlog=512
            )
        except OSError as exc:
            if exc.errno is None and "address already in use" in str(exc).lower():
                raise OSError(errno.EADDRINUSE, str(exc)) from exc
            raise

    def _new_link(self) -> asyncio.Protocol:
        return _Link(self).client

    def close_listener(self) -> None:
        """Stop accepting: new connections are refused from now on."""
        if self._server is not None:
            self._server.close()
            self._server = None

    def abort_all(self, *, include_exempt: bool) -> int:
        """Abort relayed connections (RST); returns how many."""
        victims = [link for link in self.links if include_exempt or not link.exempt]
        for link in victims:
            link.abort()
        return len(victims)

    def set_blackhole(self, on: bool) -> None:
        self.blackhole = on
        for link in list(self.links):
            link.apply_faults()

    def set_latency(self, ms: float) -> None:
        self.latency_ms = ms

    def client_of(self, peername: Any) -> Any:
        """The real client behind an upstream connection's ``peername`` (or ``None``)."""
        if not peername or len(peername) < 2:
            return None
        return self.peers.get(int(peername[1]))

    def end_exemption(self, peername: Any) -> bool:
        """The connection behind an upstream ``peername`` is no longer exempt from the faults
        (its request was not an admin call, or a refused one); ``True`` if it was exempt."""
        if not peername or len(peername) < 2:
            return False
        link = self.by_port.get(int(peername[1]))
        if link is None or not link.exempt:
            return False
        link.exempt = False
        link.apply_faults()
        return True

    async def close(self) -> None:
        """Stop listening and abort everything."""
        self.close_listener()
        self.abort_all(include_exempt=True)
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(0)
