"""History events: the one stream that feeds the TUI, the JSONL log, `watch` and the reports.

Every event is a frozen dataclass (compared by identity) with a ``kind`` (the names of the design's "History events"),
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
    "Packet",
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
    "VerdictChanged",
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


_encode: Callable[[str], str] = json.encoder.encode_basestring
"""A JSON string literal, as ``json.dumps(text, ensure_ascii=False)`` writes it (the C function)."""


def _short_json(value: Any, limit: int = 200) -> str:
    """A short JSON text of a server's value for a detail line (never raises)."""
    try:
        text = json.dumps(value, ensure_ascii=False, default=str, separators=(",", ":"))
    except (TypeError, ValueError, RecursionError):
        text = "…"
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
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

    def __repr__(self) -> str:
        # One shared repr (and identity equality): a generated __repr__/__eq__/__hash__ per event
        # class cost a third of this module's import time, i.e. of every command's start.
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name, _ in self._names())
        return f"{type(self).__name__}(ts={self.ts!r}, t={self.t!r}, {fields})"

    def _names(self) -> tuple[tuple[str, str], ...]:
        names = _FIELD_NAMES.get(type(self))
        if names is None:
            names = _FIELD_NAMES[type(self)] = tuple(
                (f.name, _JSON_NAMES.get(f.name, f.name))
                for f in dataclasses.fields(self)
                if f.name not in ("ts", "t")
            )
        return names

    def fields(self) -> dict[str, Any]:
        """The kind-specific fields, with their JSON names."""
        names = _FIELD_NAMES.get(type(self)) or self._names()
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


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
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


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class Connected(Event):
    """The namespace is connected."""

    kind: ClassVar[str] = "connected"
    transport: str
    sid: str | None
    """The Socket.IO socket id (what the server calls ``socket.id``)."""
    engine_sid: str | None
    """The Engine.IO session id (differs from ``sid``)."""
    optional: ClassVar[frozenset[str]] = frozenset(
        {"recovered", "replayed", "recovery", "upgrades", "eio", "parser"}
    )
    namespace: str = "/"
    how: str = "direct"
    """How the transport was reached: ``direct``, ``upgraded`` or ``fallback``."""
    ping_interval_ms: int | None = None
    ping_timeout_ms: int | None = None
    elapsed_ms: float | None = None
    recovered: bool | None = None
    """Connection state recovery: ``True`` when the server restored the previous session (same
    socket id, missed events replayed), ``False`` when it was asked and refused (``recovery``
    says why); unset when recovery was not asked for."""
    replayed: int | None = None
    """Events the server replayed with a recovery."""
    recovery: str | None = None
    """Why there was no recovery, in plain words, when it was asked for and did not happen."""
    upgrades: tuple[str, ...] | None = None
    """The upgrades the server offered in its open packet (``[]``: none)."""
    eio: int | None = None
    """The Engine.IO protocol spoken (4, or 3 with ``--eio 3``), when not the default."""
    parser: str | None = None
    """The Socket.IO parser (``msgpack``), when not the default."""

    @property
    def detail(self) -> str:
        took = f" in {self.elapsed_ms:.0f} ms" if self.elapsed_ms is not None else ""
        text = (
            f"connected over {self.transport} ({self.how}){took}, socket id {self.sid or 'unknown'}"
        )
        if self.recovered:
            n = self.replayed or 0
            text += f"; recovered: yes, the same session, {n} missed event{'' if n == 1 else 's'} replayed"
        elif self.recovered is False:
            text += f"; recovered: no ({self.recovery or 'the server started a new session'})"
        return text


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
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


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class UpgradeFailed(Event):
    """The server offered a websocket upgrade, but it failed; polling stays in use."""

    kind: ClassVar[str] = "upgrade_failed"
    optional: ClassVar[frozenset[str]] = frozenset(
        {"status", "code", "failure", "reason", "engine_message", "ws_code", "ws_who", "facts"}
    )
    why: str
    status: int | None = None
    """The HTTP status that answered the websocket handshake instead of 101, when known."""
    code: int | None = None
    """The Engine.IO error code of that answer's body (0 Transport unknown ... 5), when known."""
    failure: str | None = None
    """Why, as a :class:`~conndebug.core.failure.FailureKind` value (``http_status``,
    ``connect_timeout``, ``closed``...), when known."""
    reason: str | None = None
    """How it failed, as the client's short code (:class:`conndebug.client.Failure`'s
    ``reason``: ``refused``, ``engine_error``, ``no_answer`` (no answer in time), ``no_3probe``,
    ``closed``, ``poll_not_released``, the wire's ``reset``/``eof``...), when known."""
    engine_message: str | None = None
    """The Engine.IO error message of the refusal's body (``Transport unknown``...)."""
    ws_code: int | None = None
    """The websocket close code, when a close frame ended the attempt."""
    ws_who: str | None = None
    """Who ended the websocket (``server``, ``eof``, ``reset``...), when it ended."""
    facts: dict[str, Any] | None = None
    """Structured facts behind ``why`` (redacted, JSON-able): the failing step (``stage``:
    ``connect``/``probe``), the time limit, the answer's ``Server`` header and body sample..."""

    @property
    def detail(self) -> str:
        return f"websocket upgrade offered but failed: {self.why}; staying on polling"


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class Fallback(Event):
    """One transport failed, the next one in ``--transports`` order is tried."""

    kind: ClassVar[str] = "fallback"
    optional: ClassVar[frozenset[str]] = frozenset(
        {"phase", "failure", "reason", "status", "code", "engine_message", "ws_code", "ws_who"}
    )
    from_transport: str
    to_transport: str
    why: str
    elapsed_ms: float | None = None
    phase: str | None = None
    """Where the first transport failed (``websocket``, ``tcp``, ``proxy``...), when known."""
    failure: str | None = None
    """Why, as a :class:`~conndebug.core.failure.FailureKind` value, when known."""
    reason: str | None = None
    """The client's short code, finer than ``failure``."""
    status: int | None = None
    """The HTTP status that refused the first transport, when one did."""
    code: int | None = None
    """The Engine.IO error code of that refusal (0 Transport unknown ... 5), when known."""
    engine_message: str | None = None
    """The Engine.IO error message of that refusal, when known."""
    ws_code: int | None = None
    ws_who: str | None = None

    @property
    def detail(self) -> str:
        return f"{self.from_transport} failed ({self.why}); falling back to {self.to_transport}"


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class ConnectError(Event):
    """A connection attempt failed: the server's message and data, or the transport error."""

    kind: ClassVar[str] = "connect_error"
    optional: ClassVar[frozenset[str]] = frozenset(
        {
            "status",
            "code",
            "transport",
            "phase",
            "cause",
            "url",
            "failure",
            "reason",
            "engine_message",
            "ws_code",
            "ws_who",
            "namespace",
            "facts",
        }
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
    Socket.IO CONNECT); a live connection says which step of the connection failed: ``dns``,
    ``tcp``, ``tls``, ``proxy``, ``handshake`` (polling), ``websocket``, ``namespace``, or
    ``guest`` (the guest-session endpoint)."""
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
    ``proxy``, ``handshake``, ``session``, ``upgrade``, ``websocket``, ``namespace``, ``cors``,
    ``guest``)."""
    reason: str | None = None
    """A finer short code than ``failure``: the client's or the wire's (``refused``, ``untrusted``,
    ``plain_http``, ``eio3_server``, ``engine_error``, ``not_engineio``, ``bad_open``,
    ``connect_error``, ``parser_mismatch``, ``no_answer``...), when known."""
    engine_message: str | None = None
    """The Engine.IO error message of the refusal's body (``Transport unknown``...)."""
    ws_code: int | None = None
    """The websocket close code, when a close frame ended the attempt."""
    ws_who: str | None = None
    """Who ended the websocket (``server``, ``eof``, ``reset``, ``us``...), when it ended."""
    namespace: str | None = None
    """The namespace the server refused (``source`` ``server``)."""
    facts: dict[str, Any] | None = None
    """Structured facts behind the failure (redacted, JSON-able): addresses tried, the
    certificate presented, the proxy's answer, the plain-HTTP answer of a TLS port, the
    server's parser, earlier attempts... The verdict rules read them; nothing parses
    ``message``. (The FailureKind is ``failure``: ``kind`` names the event's kind.)"""

    @property
    def detail(self) -> str:
        who = "server rejected the connection" if self.source == "server" else "connection failed"
        if self.source == "server" and self.data is not None:
            return f"{who}: {self.message} (data: {_short_json(self.data)})"
        return f"{who}: {self.message}"


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class Disconnected(Event):
    """The connection ended."""

    kind: ClassVar[str] = "disconnected"
    optional: ClassVar[frozenset[str]] = frozenset(
        {"close_code", "transport", "kicked", "close", "by", "ws_who", "status", "code"}
    )
    reason: str
    will_reconnect: bool = False
    close_code: int | None = None
    """The websocket close code (1000 normal, 1006 abnormal...), when known."""
    transport: str | None = None
    """The transport that was in use, when known."""
    kicked: bool | None = None
    """True when the server disconnected the socket (a Socket.IO ``DISCONNECT`` packet:
    ``io server disconnect``)."""
    close: str | None = None
    """How the Engine.IO session ended (``server_close``, ``ws_closed``, ``eof``, ``reset``,
    ``http_error``, ``ping_timeout``, ``protocol``, ``transport_error``, ``client``), when a
    session's end is what ended the connection."""
    by: str | None = None
    """Who ended it: ``server``, ``network`` (the path or the connection), ``user`` (an action
    of the person at the keyboard: drop, reconnect, toggle, expiry) or ``client`` (conndebug
    itself: stopping, giving up on a refused attempt)."""
    ws_who: str | None = None
    """Who ended the websocket, when one ended (see ``conndebug.wire.Who``)."""
    status: int | None = None
    """The HTTP status a polling request got, when an error status ended the session."""
    code: int | None = None
    """The Engine.IO error code of that answer (1 Session ID unknown...), when known."""

    @property
    def detail(self) -> str:
        after = "; reconnecting" if self.will_reconnect else ""
        return f"disconnected: {self.reason}{after}"


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
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


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class ReconnectFailed(Event):
    """Automatic reconnection gave up."""

    kind: ClassVar[str] = "reconnect_failed"
    attempts: int
    reason: str

    @property
    def detail(self) -> str:
        return f"gave up after {self.attempts} reconnect attempts: {self.reason}"


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
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
    """``guest`` (created at the guest endpoint), ``stored`` (the one kept for this guest
    endpoint from an earlier run, reused as the browser reuses its token) or ``token`` (given
    with ``--token``)."""

    @property
    def detail(self) -> str:
        if self.source == "token":
            return f"using the given token for {self.username or 'an unknown user'}"
        ids = f"{self.user_id}, session {self.session_id}" if self.session_id else self.user_id
        if self.source == "stored":
            return f"guest session kept from before reused: {self.username} ({ids})"
        return f"guest session created: {self.username} ({ids})"


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class SessionExpired(Event):
    """The server says the session or token expired."""

    kind: ClassVar[str] = "session_expired"
    optional: ClassVar[frozenset[str]] = frozenset(
        {"source", "token_expired", "renewable", "why_not"}
    )
    message: str
    session_id: str | None = None
    source: str | None = None
    """``guest`` (a session conndebug created) or ``token`` (given with ``--token``)."""
    token_expired: bool | None = None
    """Whether the token's own ``exp`` had passed (read without verifying): tells "the JWT
    itself expired" from "the server dropped the session" (None: the token has no ``exp``)."""
    renewable: bool | None = None
    """Whether a new session can replace it (False: a ``--token``, no guest endpoint, or the
    loop guard stopped it; ``why_not`` says which)."""
    why_not: str | None = None

    @property
    def detail(self) -> str:
        return f"session expired: {self.message}"


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
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


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
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


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class Rtt(Event):
    """One measured round trip."""

    kind: ClassVar[str] = "rtt"
    ms: float
    method: str
    """How it was measured: the ``--rtt-event`` name, or ``namespace-probe``."""

    @property
    def detail(self) -> str:
        return f"round trip {self.ms:.1f} ms ({self.method})"


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class EventIn(Event):
    """A server event arrived."""

    kind: ClassVar[str] = "event_in"
    optional: ClassVar[frozenset[str]] = frozenset({"binaries", "replayed"})
    name: str
    size: int
    """Bytes of the JSON-encoded arguments (a binary value counts its own bytes)."""
    preview: str
    namespace: str = "/"
    binaries: tuple[int, ...] | None = None
    """The sizes in bytes of the binary values it carried, in order (binary events only)."""
    replayed: bool | None = None
    """True for an event the server replayed with a recovery (missed while disconnected)."""

    @property
    def detail(self) -> str:
        again = " (replayed)" if self.replayed else ""
        return f"← {self.name} ({self.size} B){again} {self.preview}"

    def to_json(self) -> str:
        """As :meth:`Event.to_json`, written out directly for the plain case: a storm is made of
        these, and building the dict to encode it cost more than the rest of an event's way."""
        if self.binaries is not None or self.replayed is not None or type(self.size) is not int:
            return Event.to_json(self)
        name, preview = self.name, self.preview
        return (
            f'{{"ts":"{iso_utc(self.ts)}","t":{round(self.t, 3)!r},"kind":"event_in",'
            f'"detail":{_encode(f"← {name} ({self.size} B) {preview}")},'
            f'"name":{_encode(name)},"size":{self.size},"preview":{_encode(preview)},'
            f'"namespace":{_encode(self.namespace)}}}'
        )


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
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


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
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


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class Packet(Event):
    """One Engine.IO packet as it crossed the wire (the packet tap; emitted only when asked:
    ``watch --trace``, the wire inspector)."""

    kind: ClassVar[str] = "packet"
    optional: ClassVar[frozenset[str]] = frozenset(
        {
            "sio_type",
            "namespace",
            "ack_id",
            "binary_size",
            "request_id",
            "problem",
            "decoded",
            "pong_ms",
            "interval_ms",
        }
    )
    direction: str
    """``in`` (from the server) or ``out``."""
    transport: str
    eio_type: str
    """``OPEN``, ``CLOSE``, ``PING``, ``PONG``, ``MESSAGE``, ``UPGRADE``, ``NOOP``."""
    size: int
    """Bytes of the packet on the wire."""
    preview: str
    """What it carried after its Engine.IO type, bounded and redacted (the Socket.IO packet of a
    message: ``0{"token":"‹redacted…›"}``; binary data as ``<binary 4 B> 0a0b0c0d``, or only
    ``<binary 33 B>`` when it is ``decoded``)."""
    sio_type: str | None = None
    """The Socket.IO packet type of a message (``EVENT``, ``CONNECT_ERROR``, ``ATTACHMENT``...)."""
    namespace: str | None = None
    ack_id: int | None = None
    binary_size: int | None = None
    """For binary data: its true size in bytes."""
    request_id: int | None = None
    """Over polling: the number of the HTTP request that carried it (a ``GET`` brings packets
    in, a ``POST`` takes them out; the HAR export's entries carry the same number)."""
    problem: str | None = None
    """Why it could not be decoded, if it could not."""
    decoded: str | None = None
    """A binary packet a parser decodes (msgpack): what it carried as JSON text, redacted."""
    pong_ms: float | None = None
    """A ``PONG``: milliseconds after the ``PING`` it answers (``3probe`` after ``2probe``)."""
    interval_ms: float | None = None
    """A heartbeat ``PING``: milliseconds since the previous one from the same side."""

    @property
    def wire(self) -> str:
        """The packet as the wire (and DevTools) shows it: ``40{...}``, ``2probe``, ``3``; a
        binary one as its preview (decoded when a parser decodes it)."""
        if self.binary_size is not None:
            return f"{self.preview} msgpack {self.decoded}" if self.decoded else self.preview
        return _EIO_DIGITS.get(self.eio_type, "") + self.preview

    @property
    def label(self) -> str:
        """``EVENT``, ``CONNECT /admin``, ``ACK #3``, ``PING``..."""
        what = self.sio_type or self.eio_type
        if self.namespace not in (None, "/"):
            what += f" {self.namespace}"
        if self.ack_id is not None:
            what += f" #{self.ack_id}"
        return what

    @property
    def carrier(self) -> str:
        """``GET #12`` / ``POST #13`` over polling, else ``""``."""
        if self.request_id is None:
            return ""
        return f"{'GET' if self.direction == 'in' else 'POST'} #{self.request_id}"

    @property
    def timing(self) -> str:
        """``0.4 ms after its ping`` (a pong), ``25000 ms after the last`` (a ping), else ``""``."""
        if self.pong_ms is not None:
            return f"{self.pong_ms:.1f} ms after its ping"
        if self.interval_ms is not None:
            return f"{self.interval_ms:.0f} ms after the last"
        return ""

    @property
    def detail(self) -> str:
        arrow = "←" if self.direction == "in" else "→"
        carrier = f" {self.carrier}" if self.request_id is not None else ""
        timing = self.timing
        timing = f" {timing}" if timing else ""
        problem = f" — not decoded: {self.problem}" if self.problem else ""
        return (
            f"{arrow} {self.transport}{carrier} {self.label} ({self.size} B){timing}: "
            f"{self.wire}{problem}"
        )


_EIO_DIGITS = {
    "OPEN": "0",
    "CLOSE": "1",
    "PING": "2",
    "PONG": "3",
    "MESSAGE": "4",
    "UPGRADE": "5",
    "NOOP": "6",
}
"""Engine.IO packet types as their digit on the wire."""


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class VerdictChanged(Event):
    """The current diagnosis changed (the one engine of :mod:`conndebug.core.diagnosis`)."""

    kind: ClassVar[str] = "verdict"
    optional: ClassVar[frozenset[str]] = frozenset({"reason"})
    code: str
    """A stable verdict code of design.md (``ok``, ``websocket_blocked``...)."""
    title: str
    explanation: str
    fix: str
    exit: int
    """0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN."""
    reason: str | None = None
    """The catalogue variant that was picked."""

    @property
    def detail(self) -> str:
        return f"verdict {self.code}: {self.title}"


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
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
    Packet,
    VerdictChanged,
)
KINDS: frozenset[str] = frozenset(cls.kind for cls in EVENT_TYPES)

Subscriber = Callable[[Event], None]


class EventBus:
    """Stamps events, keeps a bounded history, and fans them out to subscribers in order."""

    def __init__(self, *, clock: Clock | None = None, history_size: int = 10_000) -> None:
        self.clock: Clock = clock or SystemClock()
        self._start = self.clock.monotonic()
        self.history: collections.deque[Event] = collections.deque(maxlen=history_size)
        self._subscribers: tuple[Subscriber, ...] = ()
        """Replaced (never changed in place) on (un)subscribe: publishing iterates it as is."""
        self.published = 0
        """Events published since the start (the history may hold fewer)."""

    def emit(self, cls: type[E], **fields: Any) -> E:
        """Build an event of ``cls`` stamped with the bus clock, publish it and return it."""
        event = self.stamp(cls, **fields)
        self.publish(event)
        return event

    @property
    def start(self) -> float:
        """The monotonic time the stream started (``t`` counts from it)."""
        return self._start

    def stamp(self, cls: type[E], **fields: Any) -> E:
        """Build an event of ``cls`` stamped with the bus clock, without publishing it (for a
        record that goes to the ``--log`` file only)."""
        return cls(ts=self.clock.time(), t=self.clock.monotonic() - self._start, **fields)

    def publish(self, event: Event) -> None:
        """Record an already-built event and hand it to every subscriber."""
        self.history.append(event)
        self.published += 1
        for subscriber in self._subscribers:
            subscriber(event)

    def subscribe(self, subscriber: Subscriber, *, replay: bool = False) -> Callable[[], None]:
        """Call ``subscriber`` for each new event; returns a function that unsubscribes."""
        if replay:
            for event in tuple(self.history):
                subscriber(event)
        self._subscribers = (*self._subscribers, subscriber)

        def unsubscribe() -> None:
            if subscriber in self._subscribers:
                rest = list(self._subscribers)
                rest.remove(subscriber)
                self._subscribers = tuple(rest)

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
