"""What the wire inspector shows: its filters, its search, and the lines it draws, without Textual.

The inspector (``w``) shows every ``packet`` event, and, as markers between them, the events that
begin and end a connection (``connecting``, ``connected``, ``fallback``, ``upgrade_failed``,
``connect_error``, ``disconnected``). ``l`` cycles through :data:`FILTERS` while it is open;
``/`` searches (case-insensitive, in the whole line: type, request, content).
"""

from __future__ import annotations

import collections
from collections.abc import Callable
from dataclasses import dataclass

from conndebug.core.events import (
    Connected,
    ConnectError,
    Connecting,
    Disconnected,
    Event,
    Fallback,
    Packet,
    UpgradeFailed,
)

__all__ = [
    "FILTERS",
    "MARKERS",
    "ROUND_TRIP_PREFIX",
    "PacketFilter",
    "RoundTrips",
    "is_problem",
    "next_filter",
    "searchable",
]

MARKERS = (Connecting, Connected, Fallback, UpgradeFailed, ConnectError, Disconnected)
"""Events drawn between the packets: where a connection begins, changes and ends."""

ROUND_TRIP_PREFIX = "/conndebug-probe-"
"""conndebug's own round trips: a ``CONNECT`` to a namespace no server has, once a second."""

_HEARTBEAT = frozenset({"PING", "PONG", "NOOP"})
_PROBLEM_SIO = frozenset({"CONNECT_ERROR", "DISCONNECT"})


def _round_trip(packet: Packet) -> bool:
    return bool(packet.namespace and packet.namespace.startswith(ROUND_TRIP_PREFIX))


class RoundTrips:
    """Tells conndebug's own round trips among the packets: the ``CONNECT`` probes, and with
    ``--rtt-event NAME`` (the demo's ``conndebug:ping``) the emits of ``NAME`` and the acks that
    answer them. Call it on the packets in the order they crossed the wire (an ack is known by
    the id of the emit before it)."""

    KEEP = 256
    """Ack ids remembered (a round trip is answered within seconds)."""

    def __init__(self, event: str | None = None) -> None:
        self.head = f'["{event}"' if event else None
        self._acks: collections.deque[int] = collections.deque(maxlen=self.KEEP)

    def __call__(self, packet: Packet) -> bool:
        if _round_trip(packet):
            return True
        if self.head is None or packet.eio_type != "MESSAGE" or packet.ack_id is None:
            return False
        if packet.sio_type == "EVENT" and packet.direction == "out":
            start = packet.preview.find("[")
            if start >= 0 and packet.preview.startswith(self.head, start):
                if packet.ack_id not in self._acks:
                    self._acks.append(packet.ack_id)
                return True
            return False
        return packet.sio_type == "ACK" and packet.direction == "in" and packet.ack_id in self._acks


def is_problem(event: Event) -> bool:
    """A refusal, the server's goodbye, a packet that could not be decoded, a failed step, a
    drop nobody asked for."""
    if isinstance(event, Packet):
        if event.problem:
            return True
        if _round_trip(event):
            return False
        if event.sio_type == "CONNECT_ERROR":
            return True
        # The server's goodbye (a kick, its CLOSE), not our own.
        return event.direction == "in" and (
            event.sio_type in _PROBLEM_SIO or event.eio_type == "CLOSE"
        )
    if isinstance(event, Disconnected):
        return event.by not in ("client", "user")
    return isinstance(event, (ConnectError, Fallback, UpgradeFailed))


@dataclass(frozen=True)
class PacketFilter:
    """One way of filtering the inspector."""

    name: str
    """Stable id (``all``, ``quiet``, ``socketio``, ``problems``)."""
    label: str

    def shows(self, event: Event, round_trip: Callable[[Packet], bool] = _round_trip) -> bool:
        """Whether ``event`` passes; ``round_trip`` tells conndebug's own round trips (a
        :class:`RoundTrips`, which knows the ``--rtt-event`` emits and their acks)."""
        if self.name == "all":
            return True
        if self.name == "problems":
            return is_problem(event)
        if not isinstance(event, Packet):
            return True  # the markers stay: they say where a connection began and ended
        if self.name == "quiet":
            probe = event.eio_type in ("PING", "PONG") and event.preview == "probe"
            return probe or (event.eio_type not in _HEARTBEAT and not round_trip(event))
        # socketio
        return event.eio_type == "MESSAGE" and not round_trip(event)


FILTERS: tuple[PacketFilter, ...] = (
    PacketFilter("all", "every packet"),
    PacketFilter("quiet", "no heartbeats or round trips"),
    PacketFilter("socketio", "Socket.IO only"),
    PacketFilter("problems", "problems only"),
)


def next_filter(current: PacketFilter) -> PacketFilter:
    """The filter after ``current`` in the cycle."""
    index = FILTERS.index(current) if current in FILTERS else -1
    return FILTERS[(index + 1) % len(FILTERS)]


def searchable(event: Event) -> str:
    """The text a search looks in (lower case): the packet's whole line."""
    if isinstance(event, Packet):
        return (
            f"{event.transport} {event.carrier} {event.label} {event.wire} {event.timing}".lower()
        )
    return f"{event.kind} {event.detail}".lower()
