"""A record's timeline: what a file shows, replayed as conndebug's history events.

Every reader (HAR, DEBUG log, python log, JSONL) drives one :class:`Replay`: it says what the
record shows (an attempt, an Engine.IO packet in or out, a failed request, an HTTP exchange) with
the record's own time stamps, and the replay turns that into the events of
:mod:`conndebug.core.events`, in order, redacted, with the structure a diagnosis needs (HTTP
status, Engine.IO error code, transport, phase) in their optional fields. What the record cannot
tell is collected in :attr:`Timeline.gaps`, in plain words.

Engine.IO / Socket.IO packets are decoded here (the text forms only: ``0{open}``, ``2``/``3``,
``40{…}``, ``42[…]``, ``44{…}``): a record is text a person saved, nothing here talks to a server.
"""

from __future__ import annotations

import json
import urllib.parse
from dataclasses import dataclass, field
from typing import Any, TypeVar

from conndebug.core.events import (
    Connected,
    ConnectError,
    Connecting,
    Disconnected,
    Event,
    EventIn,
    EventOut,
    Fallback,
    Note,
    Rtt,
    TransportChanged,
    UpgradeFailed,
)
from conndebug.core.preview import preview
from conndebug.core.redact import Redactor

__all__ = ["EIO_ERRORS", "Replay", "SioPacket", "Timeline", "engine_error", "parse_sio"]

E = TypeVar("E", bound=Event)

ROUND_TRIP_PREFIX = "/conndebug-probe-"
"""The namespaces of conndebug's own round trips (``conndebug.client.client.PROBE_PREFIX``; not
imported: ``explain`` starts without the client)."""

EIO_ERRORS = {
    0: "Transport unknown",
    1: "Session ID unknown",
    2: "Bad handshake method",
    3: "Bad request",
    4: "Forbidden",
    5: "Unsupported protocol version",
}
"""Engine.IO's error codes, as Node's server names them."""

_PY_ENGINE_MESSAGES = (
    ("invalid session", 1),
    ("session id unknown", 1),
    ("unsupported version", 5),
    ("invalid transport", 0),
    ("transport unknown", 0),
    ("invalid websocket upgrade", 3),
    ("bad request", 3),
)
"""python-engineio answers 400 with a JSON string; its messages mapped to Node's codes."""


@dataclass(frozen=True)
class SioPacket:
    """A Socket.IO packet (protocol v5): 0 CONNECT, 1 DISCONNECT, 2 EVENT, 3 ACK, 4 CONNECT_ERROR,
    5/6 binary EVENT/ACK."""

    type: int
    namespace: str = "/"
    ack_id: int | None = None
    data: Any = None


def parse_sio(text: str) -> SioPacket | None:
    """Decode a Socket.IO packet (``0{…}``, ``2["ev",…]``, ``1/chat,``…; without Engine.IO's
    leading ``4``); None if it is not one."""
    if not text or not text[0].isdigit():
        return None
    type_ = int(text[0])
    if type_ > 6:
        return None
    rest = text[1:]
    if type_ in (5, 6):
        _count, _, rest = rest.partition("-")
    namespace = "/"
    if rest.startswith("/"):
        comma = rest.find(",")
        namespace, rest = (rest, "") if comma < 0 else (rest[:comma], rest[comma + 1 :])
    digits = ""
    while rest[:1].isdigit():
        digits, rest = digits + rest[0], rest[1:]
    data: Any = None
    if rest:
        try:
            data = json.loads(rest)
        except json.JSONDecodeError:
            data = rest
    return SioPacket(type_, namespace, int(digits) if digits else None, data)


def engine_error(status: int, body: str | None) -> tuple[int | None, str | None]:
    """The Engine.IO error code and message of an error answer's body, when it is one."""
    if not body:
        return None, None
    try:
        data = json.loads(body)
    except json.JSONDecodeError:
        return None, None
    if isinstance(data, dict) and isinstance(data.get("message"), str):
        code = data.get("code")
        if isinstance(code, int) and not isinstance(code, bool) and 0 <= code <= 5:
            return code, data["message"]
        return None, data["message"]
    if isinstance(data, str) and status == 400:
        lowered = data.lower()
        for needle, code in _PY_ENGINE_MESSAGES:
            if needle in lowered:
                return code, data
        return None, data
    return None, None


@dataclass
class Timeline:
    """What one record shows, as history events, and what it cannot tell."""

    source: str
    """The record's format: ``chrome-har``, ``firefox-har``, ``har``, ``debug-log``,
    ``python-log`` or ``jsonl``."""
    path: str
    events: list[Event] = field(default_factory=list)
    gaps: list[str] = field(default_factory=list)
    """What the record cannot tell, one plain sentence each."""
    url: str | None = None
    """The Socket.IO server the client talked to, when the record names it."""
    origin: str | None = None
    """The page's origin (browser records)."""
    client: str | None = None
    """Who made the record: ``browser``, ``node``, ``python``, ``conndebug``."""

    def gap(self, text: str) -> None:
        if text not in self.gaps:
            self.gaps.append(text)


class Replay:
    """Builds a :class:`Timeline` from what a reader finds, in the record's order."""

    def __init__(self, timeline: Timeline, redactor: Redactor) -> None:
        self.timeline = timeline
        self.redactor = redactor
        self.start: float | None = None
        self.sid: str | None = None
        """The Engine.IO session id of the current session."""
        self.upgrades: tuple[str, ...] = ()
        self.ping_interval_ms: int | None = None
        self.ping_timeout_ms: int | None = None
        self.transport: str | None = None
        self.connected = False
        self.attempts = 0
        self.packets = 0
        self.connect_sent: dict[str, float] = {}
        """Namespace → time its CONNECT went out (for the connected event's elapsed time)."""
        self.attempt_started: float | None = None
        self.last_failure: ConnectError | None = None
        """The failure that ended the last attempt (a websocket's, before a fallback)."""
        self.how = "direct"
        """How the current attempt reached its transport (``fallback`` after a websocket failed)."""

    # -- low level ---------------------------------------------------------------------------

    def emit(self, cls: type[E], ts: float, **fields: Any) -> E:
        if self.start is None:
            self.start = ts
        event = cls(ts=ts, t=max(ts - self.start, 0.0), **fields)
        self.timeline.events.append(event)
        return event

    def text(self, value: str) -> str:
        return self.redactor.text(value)

    def url(self, value: str) -> str:
        return self.redactor.text(value)

    # -- what records show -------------------------------------------------------------------

    def attempt(self, ts: float, url: str, transport: str, *, sid: str | None = None) -> None:
        """The client starts a connection (or an upgrade when ``sid`` is given)."""
        if sid is not None:
            return
        failed = self.last_failure
        self.last_failure = None
        if (
            transport == "polling"
            and failed is not None
            and failed.transport == "websocket"
            and failed.source == "transport"
        ):
            # Polling right after a failed websocket, before any reconnection: the client fell
            # back within the same attempt (socket.io-client's reconnection would try the
            # websocket first again); conndebug and tryAllTransports clients do that.
            self.how = "fallback"
            started = self.attempt_started if self.attempt_started is not None else failed.ts
            self.emit(
                Fallback,
                ts,
                from_transport="websocket",
                to_transport="polling",
                why=failed.message,
                elapsed_ms=round((ts - started) * 1000.0, 1),
                phase=failed.phase,
                status=failed.status,
                code=failed.code,
            )
            return
        self.how = "direct"
        self.attempts += 1
        self.attempt_started = ts
        self.connected = False
        self.emit(
            Connecting,
            ts,
            url=self.url(url),
            transport=transport,
            attempt=self.attempts - 1,
        )

    def http(self, ts: float, method: str, url: str, status: int, *, level: str = "info") -> None:
        """An HTTP exchange around the connection (the guest session's POST, a page load)."""
        path = urllib.parse.urlsplit(url).path or "/"
        answer = f"HTTP {status}" if status else "no answer"
        self.emit(
            Note,
            ts,
            text=f"{method} {self.url(path)} → {answer}",
            level=level,
            topic="http",
            status=status,
            url=self.url(url),
        )

    def cors_blocked(self, ts: float, method: str, url: str, why: str) -> None:
        """A browser refused the page the answer of a request (CORS)."""
        self.emit(
            Note,
            ts,
            text=f"the browser blocked {method} {self.url(url)}: {why}",
            level="error",
            topic="cors",
            url=self.url(url),
            facts={"method": method, "url": self.url(url), "why": why},
        )

    def failed(self, ts: float, message: str, **fields: Any) -> None:
        """An attempt failed (a transport error, a refused handshake, a timeout)."""
        for key in ("cause", "url"):
            if isinstance(fields.get(key), str):
                fields[key] = self.text(fields[key])
        self.last_failure = self.emit(ConnectError, ts, message=self.text(message), **fields)
        self.connected = False

    def upgrade_failed(self, ts: float, why: str, **fields: Any) -> None:
        self.emit(UpgradeFailed, ts, why=self.text(why), **fields)

    def upgraded(self, ts: float) -> None:
        previous = self.transport
        self.transport = "websocket"
        self.emit(TransportChanged, ts, transport="websocket", previous=previous, how="upgraded")

    def disconnected(self, ts: float, reason: str, **fields: Any) -> None:
        self.emit(Disconnected, ts, reason=self.text(reason), **fields)
        self.connected = False

    def note(self, ts: float, text: str, *, level: str = "info", topic: str = "") -> None:
        self.emit(Note, ts, text=self.text(text), level=level, topic=topic)

    def open_packet(self, ts: float, data: Any, transport: str) -> None:
        """An Engine.IO open packet (``0{sid, upgrades, pingInterval, ...}``) arrived."""
        if not isinstance(data, dict):
            return
        self.sid = str(data.get("sid")) if data.get("sid") is not None else None
        upgrades = data.get("upgrades")
        self.upgrades = tuple(str(u) for u in upgrades) if isinstance(upgrades, list) else ()
        interval, timeout = data.get("pingInterval"), data.get("pingTimeout")
        self.ping_interval_ms = interval if isinstance(interval, int) else None
        self.ping_timeout_ms = timeout if isinstance(timeout, int) else None
        self.transport = transport
        offered = ", ".join(self.upgrades) if self.upgrades else "none"
        self.emit(
            Note,
            ts,
            text=f"Engine.IO session {self.sid} opened over {transport} (upgrades offered: "
            f"{offered}; ping every {self.ping_interval_ms} ms, timeout {self.ping_timeout_ms} ms)",
            topic="open",
            facts={
                "engine_sid": self.sid,
                "transport": transport,
                "upgrades": list(self.upgrades),
                "ping_interval_ms": self.ping_interval_ms,
                "ping_timeout_ms": self.ping_timeout_ms,
            },
        )

    def eio_packet(self, ts: float, text: str, direction: str, transport: str) -> None:
        """One Engine.IO text packet, ``in`` or ``out``."""
        self.packets += 1
        if not text:
            return
        kind, rest = text[0], text[1:]
        if kind == "0" and direction == "in":
            try:
                self.open_packet(ts, json.loads(rest), transport)
            except json.JSONDecodeError:
                self.note(ts, f"unreadable open packet: {rest[:80]}", level="warning")
        elif kind == "4":
            packet = parse_sio(rest)
            if packet is not None:
                self.sio_packet(ts, packet, direction, transport)
        elif kind == "1":
            self.note(
                ts,
                f"Engine.IO close packet {'from the server' if direction == 'in' else 'sent'}",
                topic="engineio",
            )
        elif kind == "5" and direction == "out":
            self.upgraded(ts)

    def sio_packet(self, ts: float, packet: SioPacket, direction: str, transport: str) -> None:
        """One Socket.IO packet, ``in`` or ``out``."""
        nsp = packet.namespace
        if nsp.startswith(ROUND_TRIP_PREFIX):
            self._round_trip(ts, packet, direction)
            return
        if direction == "out":
            if packet.type == 0:
                self.connect_sent[nsp] = ts
                auth = self.redactor.value(packet.data) if packet.data is not None else None
                shown = json.dumps(auth, ensure_ascii=False) if auth is not None else "no auth"
                self.note(ts, f"CONNECT to namespace {nsp} sent ({shown})", topic="socketio")
            elif packet.type in (2, 5) and isinstance(packet.data, list) and packet.data:
                size, shown = preview(self.redactor, packet.data[1:])
                self.emit(
                    EventOut, ts, name=self.text(str(packet.data[0])), size=size, preview=shown
                )
            elif packet.type == 1:
                self.disconnected(ts, "io client disconnect", transport=transport)
            return
        if packet.type == 0:
            sid = packet.data.get("sid") if isinstance(packet.data, dict) else None
            started = self.connect_sent.get(nsp, self.attempt_started)
            self.connected = True
            self.emit(
                Connected,
                ts,
                transport=self.transport or transport,
                sid=str(sid) if sid is not None else None,
                engine_sid=self.sid,
                namespace=nsp,
                how=self.how,
                ping_interval_ms=self.ping_interval_ms,
                ping_timeout_ms=self.ping_timeout_ms,
                elapsed_ms=(ts - started) * 1000 if started is not None else None,
            )
        elif packet.type == 4:
            data = packet.data
            message = data.get("message") if isinstance(data, dict) else data
            extra = data.get("data") if isinstance(data, dict) else None
            self.failed(
                ts,
                str(message),
                data=self.redactor.value(extra),
                source="server",
                transport=transport,
                phase="namespace",
            )
        elif packet.type in (2, 5) and isinstance(packet.data, list) and packet.data:
            size, shown = preview(self.redactor, packet.data[1:])
            self.emit(
                EventIn,
                ts,
                name=self.text(str(packet.data[0])),
                size=size,
                preview=shown,
                namespace=nsp,
            )
        elif packet.type == 1:
            self.disconnected(ts, "io server disconnect", transport=transport)

    def _round_trip(self, ts: float, packet: SioPacket, direction: str) -> None:
        """conndebug's own round trip (a ``CONNECT`` to a namespace no server has, answered
        with ``CONNECT_ERROR``, in a HAR or JSONL conndebug wrote): a sample, not a refusal."""
        if direction == "out":
            if packet.type == 0:
                self.connect_sent[packet.namespace] = ts
            return
        sent = self.connect_sent.pop(packet.namespace, None)
        if sent is not None and packet.type in (0, 4) and ts >= sent:
            self.emit(Rtt, ts, ms=round((ts - sent) * 1000.0, 3), method="namespace-probe")

    def polling_payload(self, ts: float, body: str, direction: str) -> None:
        """An Engine.IO v4 polling payload: packets separated by the record separator."""
        for packet in body.split("\x1e"):
            self.eio_packet(ts, packet, direction, "polling")
