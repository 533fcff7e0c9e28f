"""The packet tap: one :class:`PacketRecord` per Engine.IO packet in or out, with what it carried.

A client given a tap callback calls it once per packet, in wire order, before the layers above
see the packet; a client without one builds no record (the hot path tests one attribute). A
record carries facts, not prose: times, direction, transport, the Engine.IO and Socket.IO types,
namespace, ack id, the packet's true size in bytes, and a bounded text of what it carried
(:attr:`PacketRecord.text`, at most :data:`~conndebug.client.bounds.PREVIEW_LIMIT` characters;
binary data as ``<binary 4 B> 0a0b0c0d``). The text is **not redacted** (an outgoing
``CONNECT`` carries the auth object): pass it through the redactor before showing it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from conndebug.client import bounds

__all__ = ["HEX_PREVIEW", "Direction", "PacketRecord", "Tap", "TransportName", "binary_text"]

Direction = Literal["in", "out"]
TransportName = Literal["polling", "websocket"]
HEX_PREVIEW = 32
"""Bytes of a binary value shown in hex."""


def binary_text(data: bytes) -> str:
    """``<binary 4 B> 0a0b0c0d`` (at most :data:`HEX_PREVIEW` bytes in hex, ``…`` if more)."""
    more = "…" if len(data) > HEX_PREVIEW else ""
    return f"<binary {len(data):,} B> {data[:HEX_PREVIEW].hex()}{more}".rstrip()


@dataclass(frozen=True, slots=True)
class PacketRecord:
    """One Engine.IO packet as it crossed the wire (Socket.IO fields when it carried one)."""

    mono: float
    """Monotonic clock (seconds) when it was read or written."""
    wall: float
    """Wall clock (``time.time()``) at the same moment."""
    direction: Direction
    transport: TransportName
    eio_type: str
    """``OPEN``, ``CLOSE``, ``PING``, ``PONG``, ``MESSAGE``, ``UPGRADE``, ``NOOP``."""
    size: int
    """Bytes of this packet on the wire: the websocket message's payload, or the packet's part of
    a polling payload (UTF-8; base64 text for binary over polling)."""
    text: str
    """What it carried, bounded: the packet's text after the Engine.IO type (the Socket.IO
    packet for a message), or ``<binary N B> hex…`` for binary data. Not redacted."""
    sio_type: str | None = None
    """The Socket.IO packet type (``EVENT``, ``CONNECT_ERROR``...), for a message that carried one;
    ``ATTACHMENT`` for a binary attachment of a ``BINARY_EVENT``/``BINARY_ACK``."""
    namespace: str | None = None
    ack_id: int | None = None
    attachments: int = 0
    """Binary attachments a ``BINARY_EVENT``/``BINARY_ACK`` announced."""
    binary_size: int | None = None
    """For binary data: its true size in bytes (4 for a 4-byte Buffer, whatever the encoding)."""
    request_id: int | None = None
    """Over polling: the number of the HTTP request that carried it (in this session's order)."""
    problem: str | None = None
    """Why it could not be decoded, if it could not (the client carried on without it)."""
    decoded: str | None = None
    """For a binary packet a parser decodes (msgpack): what it carried, as JSON text (binary
    values inside as ``<binary 4 B> …``), bounded like :attr:`text`. Not redacted."""

    def preview(self, limit: int = 120) -> str:
        """The text cut to ``limit`` characters (``…`` marks a cut)."""
        text = self.text
        return text if len(text) <= limit else text[: limit - 1] + "…"


Tap = Callable[[PacketRecord], None]
"""A packet tap: called once per packet, in wire order."""


def text_of(data: str | bytes) -> str:
    """The bounded text a record keeps of ``data``."""
    if isinstance(data, bytes):
        return binary_text(data)
    return bounds.text_preview(data)
