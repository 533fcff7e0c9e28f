"""History events: the one stream that feeds the TUI, the JSONL log, `watch` and the reports.

Every event is a frozen dataclass with a ``kind`` (the names of the design's "History events"),
``ts`` (wall clock, epoch seconds), ``t`` (monotonic seconds since the stream started) and its own
typed fields. ``detail`` is the plain-words line a human reads; :meth:`Event.to_dict` gives the JSON
shape every consumer relies on::

    {"ts": "2026-11-28T08:19:28.123Z", "t": 1.234, "kind": "connected", "detail": "...", ...fields}

Events never carry raw secrets: whoever builds one passes text through a
:class:`~conndebug.core.redact.Redactor` first.

The :class:`EventBus` stamps events with its clock, keeps a bounded in-memory history and hands
each event to its subscribers synchronously, in order. Subscribers must be quick (append to a list,
write one line); slow work belongs in a task of their own.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import datetime as _dt
import json
import math
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from conndebug.core.clock import Clock, SystemClock

__all__ = [
    "EVENT_TYPES",
    "KINDS",
    "ConnectError",
    "Connected",
    "Connecting",
    "Disconnected",
    "Event",
    "EventBus",
    "EventIn",
    "EventOut",
    "Fallback",
    "Note",
    "ProbeStep",
    "ReconnectFailed",
    "ReconnectScheduled",
    "Rtt",
    "SessionCreated",
    "SessionExpired",
    "SessionRegenerated",
    "Stall",
    "TransportChanged",
    "UpgradeFailed",
    "iso_utc",
]

E = TypeVar("E", bound="Event")

# Field names that are Python keywords or clash with dataclass machinery are renamed in JSON.
_JSON_NAMES = {"from_transport": "from", "to_transport": "to"}
_FIELD_NAMES: dict[type, tuple[tuple[str, str], ...]] = {}
"""Per event class: (attribute, JSON name) of its own fields, in order (computed once)."""


_iso_second: tuple[int, str] = (0, "1970-01-01T00:00:00.")


def iso_utc(ts: float) -> str:
    """ISO-8601 UTC with milliseconds and a ``Z``: ``2026-11-28T08:19:28.123Z``.

    The date and time of the last whole second are kept: a burst of events formats one ``strftime``
    per second, not one per event. Rounds to microseconds exactly as ``datetime.fromtimestamp``.
    """
    global _iso_second
    frac, whole = math.modf(ts)
    micro = round(frac * 1e6)
    second = int(whole)
    if micro >= 1_000_000:
        second, micro = second + 1, micro - 1_000_000
    elif micro < 0:
        second, micro = second - 1, micro + 1_000_000
    if _iso_second[0] != second:
        moment = _dt.datetime.fromtimestamp(second, tz=_dt.timezone.utc)
        _iso_second = (second, moment.strftime("%Y-%m-%dT%H:%M:%S."))
    return f"{_iso_second[1]}{micro // 1000:03d}Z"


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Base of every history event."""

    kind: ClassVar[str] = "event"
    optional: ClassVar[frozenset[str]] = frozenset()
    """Fields left out of the JSON while they are ``None``: later additions, so that the JSON
    shape of events that do not use them stays what consumers already read."""
    ts: float
    """Wall-clock time, epoch seconds (UTC)."""
    t: float
    """Monotonic seconds since the stream started."""

    @property
    def detail(self) -> str:
        """One plain-words line describing the event."""
        return self.kind

    def fields(self) -> dict[str, Any]:
        """The kind-specific fields, with their JSON names."""
        names = _FIELD_NAMES.get(type(self))
        if names is None:
            names = _FIELD_NAMES[type(self)] = tuple(
                (f.name, _JSON_NAMES.get(f.name, f.name))
                for f in dataclasses.fields(self)
                if f.name not in ("ts", "t")
            )
        if not self.optional:
            return {json_name: getattr(self, name) for name, json_name in names}
        return {
            json_name: value
            for name, json_name in names
            if (value := getattr(self, name)) is not None or name not in self.optional
        }

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of design.md: ts, t, kind, detail, then the fields."""
        data: dict[str, Any] = {
            "ts": iso_utc(self.ts),
            "t": round(self.t, 3),
            "kind": self.kind,
            "detail": self.detail,
        }
        data.update(self.fields())
        return data

    def to_json(self) -> str:
        """One JSON line (no newline), safe for any field value."""
        return json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":"), default=str)


@dataclass(frozen=True, slots=True, kw_only=True)
class Connecting(Event):
    """A connection attempt starts."""

    kind: ClassVar[str] = "connecting"
    url: str
    transport: str
    attempt: int = 0
    """0 for the first connect of a cycle, n for the n-th automatic reconnection."""

    @property
    def detail(self) -> str:
        extra = f" (reconnect attempt {self.attempt})" if self.attempt else ""
        return f"connecting to {self.url} over {self.transport}{extra}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Connected(Event):
    """The namespace is connected."""

    kind: ClassVar[str] = "connected"
    optional: ClassVar[frozenset[str]] = frozenset({"upgrades", "recovered"})
    transport: str
    sid: str | None
    """The Socket.IO socket id (what the server calls ``socket.id``)."""
    engine_sid: str | None
    """The Engine.IO session id (differs from ``sid``)."""
    namespace: str = "/"
    how: str = "direct"
    """How the transport was reached: ``direct``, ``upgraded`` or ``fallback``."""
    ping_interval_ms: int | None = None
    ping_timeout_ms: int | None = None
    elapsed_ms: float | None = None
    upgrades: tuple[str, ...] | None = None
    """The upgrades the server's open packet offered (``("websocket",)``, ``()``), when known."""
    recovered: bool | None = None
    """Connection state recovery: True/False when it was asked for, None when it was not."""

    @property
    def detail(self) -> str:
        took = f" in {self.elapsed_ms:.0f} ms" if self.elapsed_ms is not None else ""
        recovered = ""
        if self.recovered is not None:
            recovered = ", recovered" if self.recovered else ", not recovered"
        return (
            f"connected over {self.transport} ({self.how}){took}, socket id "
            f"{self.sid or 'unknown'}{recovered}"
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class TransportChanged(Event):
    """The active transport was learned or changed."""

    kind: ClassVar[str] = "transport"
    transport: str
    previous: str | None = None
    how: str = "direct"

    @property
    def detail(self) -> str:
        if self.previous and self.previous != self.transport:
            return f"transport {self.previous} → {self.transport} ({self.how})"
        return f"transport is {self.transport} ({self.how})"


@dataclass(frozen=True, slots=True, kw_only=True)
class UpgradeFailed(Event):
    """The server offered a websocket upgrade, but it failed; polling stays in use."""

    kind: ClassVar[str] = "upgrade_failed"
    optional: ClassVar[frozenset[str]] = frozenset({"status", "code", "reason", "facts"})
    why: str
    status: int | None = None
    """The HTTP status that answered the websocket handshake instead of 101, when known."""
    code: int | None = None
    """The Engine.IO error code of that answer's body (0 Transport unknown ... 5), when known."""
    reason: str | None = None
    """How it failed, as the client's short code (:class:`conndebug.client.Failure`'s
    ``reason``: ``refused``, ``engine_error``, ``no_answer`` (no answer in time), ``no_3probe``,
    ``closed``, ``poll_not_released``, the wire's ``reset``/``eof``...), when known."""
    facts: dict[str, Any] | None = None
    """Structured facts behind ``why`` (redacted, JSON-able): the failing step (``stage``:
    ``connect``/``probe``), the time limit, the answer's ``Server`` header and body sample..."""

    @property
    def detail(self) -> str:
        return f"websocket upgrade offered but failed: {self.why}; staying on polling"


@dataclass(frozen=True, slots=True, kw_only=True)
class Fallback(Event):
    """One transport failed, the next one in ``--transports`` order is tried."""

    kind: ClassVar[str] = "fallback"
    from_transport: str
    to_transport: str
    why: str
    elapsed_ms: float | None = None

    @property
    def detail(self) -> str:
        return f"{self.from_transport} failed ({self.why}); falling back to {self.to_transport}"


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectError(Event):
    """A connection attempt failed: the server's message and data, or the transport error."""

    kind: ClassVar[str] = "connect_error"
    optional: ClassVar[frozenset[str]] = frozenset(
        {"status", "code", "transport", "phase", "cause", "url", "failure", "reason", "facts"}
    )
    message: str
    data: Any = None
    source: str = "transport"
    """``server`` (a middleware rejection: ``message`` is the server's own) or ``transport``."""
    status: int | None = None
    """The HTTP status of the answer that failed the attempt (403 to a websocket handshake, 400
    to a polling request...), when known."""
    code: int | None = None
    """The Engine.IO error code of that answer (0 Transport unknown, 1 Session ID unknown, 2 Bad
    handshake method, 3 Bad request, 4 Forbidden, 5 Unsupported protocol version), when known."""
    transport: str | None = None
    """``websocket`` or ``polling``: the transport whose request failed, when known."""
    phase: str | None = None
    """Where the attempt failed, when known: ``network`` (no connection: refused, unreachable,
    DNS), ``timeout`` (no answer in time), ``cors`` (a browser refused to let the page read the
    answer), ``handshake`` (the Engine.IO handshake), ``session`` (a request of an open Engine.IO
    session), ``upgrade`` (the websocket upgrade of a polling session) or ``namespace`` (the
    Socket.IO CONNECT)."""
    cause: str | None = None
    """The lower-level error text (``connect ECONNREFUSED 10.0.0.1:443``, ``net::ERR_FAILED``),
    when it differs from ``message``."""
    url: str | None = None
    """The request that failed, when known (redacted)."""
    failure: str | None = None
    """Why, as a :class:`~conndebug.core.failure.FailureKind` value (``dns_failure``,
    ``connection_refused``, ``connect_timeout``, ``tls_error``, ``proxy_error``, ``http_status``,
    ``protocol``, ``rejected``, ``closed``, ``other``), when the source knows it (a live client
    does; a record read back by ``explain`` does not: its ``phase``/``cause`` say what they can).
    With ``failure`` set, ``phase`` is one of the client's phases (``dns``, ``tcp``, ``tls``,
    ``proxy``, ``handshake``, ``session``, ``upgrade``, ``websocket``, ``namespace``, ``cors``)."""
    reason: str | None = None
    """A finer short code than ``failure``: the client's or the wire's (``refused``, ``untrusted``,
    ``plain_http``, ``eio3_server``, ``engine_error``, ``not_engineio``, ``bad_open``,
    ``connect_error``, ``parser_mismatch``, ``no_answer``...), when known."""
    facts: dict[str, Any] | None = None
    """Structured facts behind the failure (redacted, JSON-able): addresses tried, the
    certificate presented, the proxy's answer, the HTTP answer's status line, content type,
    ``Server`` header and body sample... The verdict rules read them; nothing parses ``message``."""

    @property
    def detail(self) -> str:
        who = "server rejected the connection" if self.source == "server" else "connection failed"
        return f"{who}: {self.message}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Disconnected(Event):
    """The connection ended."""

    kind: ClassVar[str] = "disconnected"
    optional: ClassVar[frozenset[str]] = frozenset({"close_code", "transport"})
    reason: str
    will_reconnect: bool = False
    close_code: int | None = None
    """The websocket close code (1000 normal, 1006 abnormal...), when known."""
    transport: str | None = None
    """The transport that was in use, when known."""

    @property
    def detail(self) -> str:
        after = "; reconnecting" if self.will_reconnect else ""
        return f"disconnected: {self.reason}{after}"


@dataclass(frozen=True, slots=True, kw_only=True)
class ReconnectScheduled(Event):
    """An automatic reconnection attempt is scheduled."""

    kind: ClassVar[str] = "reconnect_scheduled"
    attempt: int
    max_attempts: int
    """0 means unlimited."""
    delay_s: float

    @property
    def detail(self) -> str:
        of = f"/{self.max_attempts}" if self.max_attempts else ""
        return f"reconnect attempt {self.attempt}{of} in {self.delay_s:.2f} s"


@dataclass(frozen=True, slots=True, kw_only=True)
class ReconnectFailed(Event):
    """Automatic reconnection gave up."""

    kind: ClassVar[str] = "reconnect_failed"
    attempts: int
    reason: str

    @property
    def detail(self) -> str:
        return f"gave up after {self.attempts} reconnect attempts: {self.reason}"


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionCreated(Event):
    """A guest session was created (or a given token was read)."""

    kind: ClassVar[str] = "session_created"
    username: str | None
    user_id: str | None
    session_id: str | None
    expires_at: float | None = None
    """The token's ``exp`` (epoch seconds), read without verifying the signature."""
    token: str | None = None
    """Always redacted unless ``--show-secrets``."""
    source: str = "guest"
    """``guest`` (created at the guest endpoint) or ``token`` (given with ``--token``)."""

    @property
    def detail(self) -> str:
        if self.source == "token":
            return f"using the given token for {self.username or 'an unknown user'}"
        return f"guest session created: {self.username} ({self.user_id})"


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionExpired(Event):
    """The server says the session or token expired."""

    kind: ClassVar[str] = "session_expired"
    message: str
    session_id: str | None = None

    @property
    def detail(self) -> str:
        return f"session expired: {self.message}"


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionRegenerated(Event):
    """A new guest session replaced an expired one."""

    kind: ClassVar[str] = "session_regenerated"
    username: str | None
    user_id: str | None
    session_id: str | None
    previous_session_id: str | None = None
    count: int = 1
    """Fresh sessions in a row, this one included, that have not connected yet (what the loop
    guard counts)."""

    @property
    def detail(self) -> str:
        return f"new guest session {self.username} ({self.session_id}) replaces the expired one"


@dataclass(frozen=True, slots=True, kw_only=True)
class Stall(Event):
    """No sign of life for longer than the stall bound (or life returned: ``recovered``)."""

    kind: ClassVar[str] = "stall"
    silent_s: float
    bound_s: float
    recovered: bool = False

    @property
    def detail(self) -> str:
        if self.recovered:
            return f"life returned after {self.silent_s:.1f} s of silence"
        return f"no sign of life for {self.silent_s:.1f} s (bound {self.bound_s:.1f} s)"


@dataclass(frozen=True, slots=True, kw_only=True)
class Rtt(Event):
    """One measured round trip."""

    kind: ClassVar[str] = "rtt"
    ms: float
    method: str
    """How it was measured: the ``--rtt-event`` name, or ``namespace-probe``."""

    @property
    def detail(self) -> str:
        return f"round trip {self.ms:.1f} ms ({self.method})"


@dataclass(frozen=True, slots=True, kw_only=True)
class EventIn(Event):
    """A server event arrived."""

    kind: ClassVar[str] = "event_in"
    name: str
    size: int
    """Bytes of the JSON-encoded arguments."""
    preview: str
    namespace: str = "/"

    @property
    def detail(self) -> str:
        return f"← {self.name} ({self.size} B) {self.preview}"


@dataclass(frozen=True, slots=True, kw_only=True)
class EventOut(Event):
    """The client emitted an event (and, with an ack, what came back)."""

    kind: ClassVar[str] = "event_out"
    name: str
    size: int
    preview: str
    ack: str | None = None
    """``None`` without an ack; otherwise a preview of the answer, or ``timeout``."""
    ack_ms: float | None = None

    @property
    def detail(self) -> str:
        acked = ""
        if self.ack is not None:
            took = f" in {self.ack_ms:.1f} ms" if self.ack_ms is not None else ""
            acked = f" → ack{took}: {self.ack}"
        return f"→ {self.name} ({self.size} B) {self.preview}{acked}"


@dataclass(frozen=True, slots=True, kw_only=True)
class ProbeStep(Event):
    """One rung of the probe ladder finished."""

    kind: ClassVar[str] = "probe_step"
    optional: ClassVar[frozenset[str]] = frozenset({"evidence"})
    name: str
    status: str
    """``ok``, ``warn``, ``fail`` or ``skip``."""
    ms: float
    info: str = ""
    evidence: dict[str, Any] | None = None
    """The facts the rung saw (redacted, JSON-able): what the verdict rules read for the
    probe's own checks (the open packet, the certificate, the CORS answers, the settings)."""

    @property
    def detail(self) -> str:
        return f"probe {self.name}: {self.status} ({self.ms:.0f} ms) {self.info}".rstrip()


@dataclass(frozen=True, slots=True, kw_only=True)
class Note(Event):
    """Anything else worth a line: library log records, fault switches, skipped steps."""

    kind: ClassVar[str] = "note"
    optional: ClassVar[frozenset[str]] = frozenset({"status", "url", "facts"})
    text: str
    level: str = "info"
    """``debug``, ``info``, ``warning`` or ``error``."""
    topic: str = ""
    """A short machine-readable tag, e.g. ``guest``, ``settings``, ``fault``; ``http`` (an HTTP
    exchange around the connection: ``status``, ``url``), ``cors`` (a browser refused the page
    an answer), ``open`` (an Engine.IO open packet) and ``gap`` in records ``explain`` reads."""
    status: int | None = None
    """The HTTP status the note reports (0: no answer), when it reports one."""
    url: str | None = None
    """The request the note is about (redacted), when it is about one."""
    facts: dict[str, Any] | None = None
    """Structured facts of the note (redacted, JSON-able): for ``guest`` the guest endpoint's
    answer (``outcome``: ``session``/``absent``/``error``, ``message``, ``retry_after``...), for
    ``settings`` what the connection was told to do (url, path, namespace, transports...)."""

    @property
    def detail(self) -> str:
        return self.text


EVENT_TYPES: tuple[type[Event], ...] = (
    Connecting,
    Connected,
    TransportChanged,
    UpgradeFailed,
    Fallback,
    ConnectError,
    Disconnected,
    ReconnectScheduled,
    ReconnectFailed,
    SessionCreated,
    SessionExpired,
    SessionRegenerated,
    Stall,
    Rtt,
    EventIn,
    EventOut,
    ProbeStep,
    Note,
)
KINDS: frozenset[str] = frozenset(cls.kind for cls in EVENT_TYPES)

Subscriber = Callable[[Event], None]


class EventBus:
    """Stamps events, keeps a bounded history, and fans them out to subscribers in order."""

    def __init__(self, *, clock: Clock | None = None, history_size: int = 10_000) -> None:
        self.clock: Clock = clock or SystemClock()
        self._start = self.clock.monotonic()
        self.history: collections.deque[Event] = collections.deque(maxlen=history_size)
        self._subscribers: list[Subscriber] = []
        self.published = 0
        """Events published since the start (the history may hold fewer)."""

    def emit(self, cls: type[E], **fields: Any) -> E:
        """Build an event of ``cls`` stamped with the bus clock, publish it and return it."""
        event = self.stamp(cls, **fields)
        self.publish(event)
        return event

    def stamp(self, cls: type[E], **fields: Any) -> E:
        """Build an event of ``cls`` stamped with the bus clock, without publishing it (for a
        record that goes to the ``--log`` file only)."""
        return cls(ts=self.clock.time(), t=self.clock.monotonic() - self._start, **fields)

    def publish(self, event: Event) -> None:
        """Record an already-built event and hand it to every subscriber."""
        self.history.append(event)
        self.published += 1
        for subscriber in tuple(self._subscribers):
            subscriber(event)

    def subscribe(self, subscriber: Subscriber, *, replay: bool = False) -> Callable[[], None]:
        """Call ``subscriber`` for each new event; returns a function that unsubscribes."""
        if replay:
            for event in tuple(self.history):
                subscriber(event)
        self._subscribers.append(subscriber)

        def unsubscribe() -> None:
            if subscriber in self._subscribers:
                self._subscribers.remove(subscriber)

        return unsubscribe

    def since(self, index: int) -> Iterator[Event]:
        """Events in the history from position ``index`` on (for tests and reports)."""
        return iter(list(self.history)[index:])

    async def stream(self) -> AsyncIterator[Event]:
        """Every event from now on, as an async iterator (unbounded queue: nothing is lost)."""
        queue: asyncio.Queue[Event] = asyncio.Queue()
        unsubscribe = self.subscribe(queue.put_nowait)
        try:
            while True:
                yield await queue.get()
        finally:
            unsubscribe()
