"""A byte stream over an asyncio transport: large reads, counters, TLS upgraded in place.

Not ``asyncio.StreamReader``: the wire layer wants every byte that has arrived in one call (an
HTTP or websocket parser takes them all at once: one wake-up per network read, not per message),
byte counters for the observer, and ``start_tls`` on the same object after a proxy tunnel.
Reading is flow-controlled: past :data:`HIGH_WATER` unread bytes the transport stops reading, so a
flooding peer costs bounded memory.

The socket is read into one buffer per thread (``asyncio.BufferedProtocol``) and what arrived is
copied out at its size. With a plain ``Protocol`` asyncio allocates 256 KiB for every read and
shrinks it to what came: above glibc's mmap threshold, that was an ``mmap``, an ``mremap`` and a
``munmap`` (and a page fault) per read in many processes, ~30 us of every polling request.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import ssl
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from conndebug.wire._tls import TlsInfo

__all__ = ["HIGH_WATER", "Stream"]

HIGH_WATER = 1024 * 1024
"""Unread bytes at which the stream stops reading from the socket until they are consumed."""

_ids = itertools.count(1)

READ_SIZE = 256 * 1024
"""The most bytes taken from the socket in one read (asyncio's own limit for a read)."""
_local = threading.local()


def _read_buffer() -> memoryview:
    """This thread's read buffer: the socket is read into it and what came is copied out at
    once (the event loop reads one socket at a time, in its own thread)."""
    view: memoryview | None = getattr(_local, "view", None)
    if view is None:
        view = _local.view = memoryview(bytearray(READ_SIZE))
    return view


class _Protocol(asyncio.BufferedProtocol):
    """Buffers what arrives and wakes the one reader waiting for it."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.chunks: list[bytes] = []
        self.buffered = 0
        self.bytes_in = 0
        self.eof = False
        self.error: BaseException | None = None
        self.lost = False
        self.paused_reading = False
        self.waiter: asyncio.Future[None] | None = None
        self.paused_writing = False
        self.drain_waiter: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def get_buffer(self, sizehint: int) -> memoryview:
        return _read_buffer()

    def buffer_updated(self, nbytes: int) -> None:
        self.data_received(bytes(_read_buffer()[:nbytes]))

    def data_received(self, data: bytes) -> None:
        self.chunks.append(data)
        n = len(data)
        self.buffered += n
        self.bytes_in += n
        if self.buffered > HIGH_WATER and not self.paused_reading and self.transport is not None:
            self.paused_reading = True
            with contextlib.suppress(RuntimeError, AttributeError):
                self.transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool | None:
        self.eof = True
        self._wake()
        return None  # close the transport (a TLS transport ignores any other answer anyway)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.eof = True
        if exc is not None and self.error is None:
            self.error = exc
        self._wake()
        waiter = self.drain_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def pause_writing(self) -> None:
        self.paused_writing = True

    def resume_writing(self) -> None:
        self.paused_writing = False
        waiter = self.drain_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


class Stream:
    """One connection's bytes: :meth:`read` everything that has arrived, :meth:`write` and
    :meth:`drain`, and counters (``bytes_in``/``bytes_out``: what crossed the socket before TLS
    decoding is not visible to asyncio, so with TLS these count the decrypted bytes)."""

    def __init__(
        self,
        transport: asyncio.Transport,
        protocol: _Protocol,
        *,
        peer: str,
        target: str,
        via: str = "direct",
    ) -> None:
        self._transport = transport
        self._protocol = protocol
        self.connection_id = next(_ids)
        """A number unique in this process (for observers and logs)."""
        self.peer = peer
        """The address connected to, ``1.2.3.4:80`` or ``[::1]:443`` (a proxy's, through one)."""
        self.target = target
        """``host:port`` of the origin this stream leads to."""
        self.via = via
        """``direct``, ``forward`` (to an http proxy, absolute-form requests) or ``tunnel``."""
        self.tls: TlsInfo | None = None
        """What the TLS handshake showed, once :func:`~conndebug.wire.start_tls` ran."""
        self.bytes_out = 0
        self.requests = 0
        """HTTP exchanges carried (kept by the HTTP client and the websocket)."""

    # -- reading ----------------------------------------------------------------------------
    @property
    def bytes_in(self) -> int:
        return self._protocol.bytes_in

    @property
    def at_eof(self) -> bool:
        """The peer ended the stream and everything it sent has been read."""
        return self._protocol.eof and not self._protocol.chunks

    @property
    def buffered(self) -> int:
        """Bytes received and not read yet."""
        return self._protocol.buffered

    def read_nowait(self) -> bytes:
        """Everything that has arrived and was not read yet (``b""`` when nothing has)."""
        p = self._protocol
        chunks = p.chunks
        if not chunks:
            return b""
        data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        p.chunks = []
        p.buffered = 0
        if p.paused_reading:
            p.paused_reading = False
            if not p.lost:
                with contextlib.suppress(RuntimeError, AttributeError):
                    self._transport.resume_reading()
        return data

    async def read(self) -> bytes:
        """Everything that has arrived, waiting for at least one byte; ``b""`` at the end of the
        stream. Raises ``ConnectionError`` (``ConnectionResetError``...) or ``OSError`` when the
        connection broke, once what arrived before has been read. Unbounded in time: the caller
        bounds it (:func:`~conndebug.wire.within`)."""
        p = self._protocol
        if not p.chunks:
            if p.waiter is not None:
                raise RuntimeError("two tasks read the same stream")
            while not p.chunks and not p.eof:
                waiter = p.waiter = asyncio.get_running_loop().create_future()
                try:
                    await waiter
                finally:
                    p.waiter = None
            if not p.chunks:
                if p.error is not None:
                    error = p.error
                    if isinstance(error, OSError):
                        raise error
                    raise ConnectionResetError(str(error) or type(error).__name__)
                return b""
        return self.read_nowait()

    def unread(self, data: bytes) -> None:
        """Put ``data`` back in front of what will be read next (bytes a parser did not use)."""
        if data:
            p = self._protocol
            p.chunks.insert(0, data)
            p.buffered += len(data)

    # -- writing ----------------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        """Queue ``data`` for sending (:meth:`drain` waits until the socket takes it)."""
        self.bytes_out += len(data)
        self._transport.write(data)

    async def drain(self) -> None:
        """Wait while the transport's write buffer is above its high-water mark; raises
        ``ConnectionResetError`` once the connection is lost."""
        p = self._protocol
        if p.lost:
            raise ConnectionResetError("the connection was lost")
        if not p.paused_writing:
            return
        waiter = p.drain_waiter = asyncio.get_running_loop().create_future()
        try:
            await waiter
        finally:
            p.drain_waiter = None
        if p.lost:
            raise ConnectionResetError("the connection was lost")

    # -- state and end ----------------------------------------------------------------------
    @property
    def is_closing(self) -> bool:
        return self._protocol.lost or self._transport.is_closing()

    def reusable(self) -> bool:
        """Open, nothing unread, not ended by the peer: can carry another request."""
        p = self._protocol
        return not p.eof and not p.chunks and not self._transport.is_closing()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        """The transport's ``get_extra_info`` (``peername``, ``ssl_object``...)."""
        return self._transport.get_extra_info(name, default)

    def close(self) -> None:
        """Close after what is queued has been sent (TLS: with a close_notify)."""
        self._transport.close()

    def abort(self) -> None:
        """Drop the connection at once, unread and unsent data and all."""
        self._transport.abort()

    async def aclose(self, timeout: float = 0.5) -> None:
        """Close and wait (up to ``timeout``) until the connection is gone; then abort."""
        p = self._protocol
        if p.lost:
            return
        self._transport.close()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not p.lost and loop.time() < deadline:
            waiter = p.waiter = loop.create_future()
            handle = loop.call_at(deadline, _settle, waiter)
            try:
                await waiter
            finally:
                handle.cancel()
                p.waiter = None
            p.chunks = []  # closing: what still arrives is not read
            p.buffered = 0
        if not p.lost:
            self._transport.abort()

    async def _start_tls(
        self, context: ssl.SSLContext, server_hostname: str | None, timeout: float
    ) -> None:
        """Replace the transport with a TLS one on top of it (raises as ``loop.start_tls``)."""
        loop = asyncio.get_running_loop()
        transport = await loop.start_tls(
            self._transport,
            self._protocol,
            context,
            server_hostname=server_hostname,
            ssl_handshake_timeout=timeout,
        )
        if transport is None:  # pragma: no cover - the loop closed the transport meanwhile
            raise ConnectionResetError("the connection was closed during the TLS handshake")
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._protocol.transport = transport


def _settle(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


async def _open(sock: Any, *, peer: str, target: str) -> Stream:
    """A :class:`Stream` over a connected non-blocking socket.

    Nagle's algorithm is turned off (asyncio does that only for sockets made with
    ``IPPROTO_TCP`` as their protocol): with it, a second small write (the Engine.IO upgrade
    packet, then the namespace's CONNECT; a goodbye's packets and close frame) waited for the
    peer's delayed ACK, 40 ms on Linux, each time.
    """
    import socket

    with contextlib.suppress(OSError, AttributeError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_connection(_Protocol, sock=sock)
    assert isinstance(transport, asyncio.Transport)
    return Stream(transport, protocol, peer=peer, target=target)
