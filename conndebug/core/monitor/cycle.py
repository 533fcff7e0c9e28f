"""The monitor: the connection cycle's owner, its state, its operations and its diagnosis.

:class:`Monitor` (the :class:`~conndebug.core.model.MonitorAPI` the TUI and ``watch`` use)
connects the way the seed's web client does and reports everything on one
:class:`~conndebug.core.events.EventBus`:

- **attempts** (:mod:`~conndebug.core.monitor.attempt`): transports in ``--transports`` order on
  :func:`conndebug.client.connect`, a fallback reported the moment it happens, a failed upgrade
  kept with its cause; every failure a ``connect_error`` carrying the client's facts;
- **its own reconnect loop**: socket.io-client's backoff (:mod:`conndebug.core.backoff`), one
  ``reconnect_scheduled`` per attempt, ``reconnect_failed`` when the attempts are exhausted. A
  server kick (``io server disconnect``) and a namespace refusal are not retried, as in
  socket.io; neither is a failure that the next attempt would meet the same way (TLS, another
  Engine.IO generation or parser, a forced transport the server refuses). While waiting after
  "connection refused" (or a drop with the port closed) the port is checked every 50 ms and the
  wait is cut short as soon as the server listens again (said in a note);
- **connection state recovery**: the last connection's pid and offset are offered on the next
  connect; ``connected`` says ``recovered`` (and why not), replayed events are marked;
- **session keeping** (:mod:`~conndebug.core.monitor.sessions`): the guest session, its
  regeneration on expiry, the expiry simulation;
- **liveness** (:mod:`~conndebug.core.monitor.live`): round trips, heartbeats and stalls;
- **the diagnosis**: every event it publishes is fed to :class:`conndebug.core.diagnosis.Diagnosis`
  (the one engine the probe and ``explain`` use too); when the verdict changes a ``verdict`` event
  follows, and :meth:`Monitor.snapshot` carries it (``diagnosis``);
- **the packet tap** (``trace=True``): one ``packet`` event per Engine.IO packet; off, the client
  makes no records at all;
- **CORS** (with ``--origin``): once connected, the probe's CORS check runs once, and its
  ``probe_step`` is judged like the probe's (``cors_permissive``, ``cors_rejected``).

Manual operations: ``reconnect()`` (clean disconnect, new cycle), ``drop_transport()`` (drops the
connection underneath: an unexpected drop), ``toggle()``, and ``simulate_expiry()`` (with the
reference server's admin key: expire the session server-side and drop the transport, so the
server's rejection drives the regeneration; on any other server, expire it the way a browser meets
it: the client's session is dropped, a new guest session is created and the connection comes back
with it). A subscriber that raises cannot stop the monitor: its error becomes a note.

The state changes only through :func:`conndebug.core.model.transition`. Time and randomness are
injected (``clock``, ``rng``); the connector and the guest-session factory too, for unit tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import urllib.parse
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from conndebug.config import Settings, effective_proxy
from conndebug.core.backoff import Backoff
from conndebug.core.clock import Clock, SystemClock
from conndebug.core.drops import watch_drops
from conndebug.core.events import (
    Connected,
    ConnectError,
    Connecting,
    Disconnected,
    Event,
    EventBus,
    EventIn,
    EventOut,
    Fallback,
    Note,
    Packet,
    ReconnectFailed,
    ReconnectScheduled,
    Stall,
    TransportChanged,
    UpgradeFailed,
    VerdictChanged,
)
from conndebug.core.failure import FailureKind
from conndebug.core.jsonl import JsonlLog
from conndebug.core.model import AckResult, SessionInfo, Snapshot, State, transition
from conndebug.core.monitor.attempt import AttemptRequest, Connector, WireConnector
from conndebug.core.monitor.link import LinkLike
from conndebug.core.monitor.live import PASSIVE_STALL_GRACE_S, LiveWatch
from conndebug.core.monitor.sessions import CreateGuest, GuestFailure, SessionKeeper
from conndebug.core.preview import preview as payload_preview
from conndebug.core.redact import settings_redactor
from conndebug.core.session import expire_on_server
from conndebug.core.text import one_line

if TYPE_CHECKING:
    from conndebug.client import Event as ServerEvent
    from conndebug.client import Failure, PacketProblem, PacketRecord, RecoveryState
    from conndebug.core.diagnosis import Diagnosis
    from conndebug.core.har_export import HarRecorder
    from conndebug.core.verdicts import Verdict

__all__ = ["NOTE_CHARS", "PORT_POLL_S", "Monitor", "host_port", "make_monitor", "port_open"]

PORT_POLL_S = 0.05
NOTE_CHARS = 600
"""The longest note or connect error in the history (a hostile server's bytes are cut there)."""
PACKET_PREVIEW = 200
"""Characters of a packet's text shown in a ``packet`` event."""

TAP_SLICE = 128
"""Packets published per turn of the event loop (a storm's are queued, see ``Monitor._tap``)."""

PortCheck = Callable[[str, int], Awaitable[bool]]
_UNDIAGNOSED = frozenset({EventIn, EventOut, Packet, VerdictChanged})
"""Events that cannot change a verdict: not fed to the diagnosis (the storm's hot path)."""
_SETTLING = frozenset({Connected, ConnectError, Disconnected, Stall, ReconnectFailed})
"""Events after which the verdict is announced if it changed: an attempt's end, a connection's
end, a stall and its end. In between (a fallback under way, a failed upgrade before ``connected``)
the facts are fed but the verdict would be half-told."""


def host_port(url: str) -> tuple[str, int]:
    """The host and port of an ``http(s)`` URL (default ports filled in)."""
    parts = urllib.parse.urlsplit(url)
    port = parts.port or (443 if parts.scheme in ("https", "wss") else 80)
    return parts.hostname or "localhost", port


async def port_open(host: str, port: int, timeout: float = 0.25) -> bool:
    """True if a TCP connection to ``host:port`` succeeds within ``timeout`` (then closed)."""
    try:
        _reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except (OSError, asyncio.TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError, asyncio.TimeoutError):  # it listens: that is the answer
        await asyncio.wait_for(writer.wait_closed(), timeout)
    return True


def _permanent(failure: Failure, settings: Settings) -> str | None:
    """Why the next attempt would fail the same way (no automatic retry), or None."""
    if failure.kind is FailureKind.TLS:
        return "a TLS failure does not go away by retrying"
    if failure.reason in ("eio3_server", "eio4_server", "eio_version"):
        return "the server speaks another Engine.IO generation"
    if failure.reason == "parser_mismatch":
        return "the server uses another Socket.IO parser"
    if failure.reason == "bad_open":
        return "the server's open packet cannot be used"
    engine = failure.engine_error
    if engine is not None and engine.code == 0 and len(settings.transports) == 1:
        return "the server does not offer the only transport allowed"
    return None


class Monitor:
    """Connects, keeps connected, and reports every step; implements ``MonitorAPI``."""

    def __init__(
        self,
        settings: Settings,
        *,
        bus: EventBus | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        admin_key: str | None = None,
        connector: Connector | None = None,
        create_guest: CreateGuest | None = None,
        port_check: PortCheck | None = None,
        trace: bool = False,
        har: HarRecorder | None = None,
    ) -> None:
        self.settings = settings
        self.clock: Clock = clock or (bus.clock if bus is not None else SystemClock())
        self.bus = bus or EventBus(clock=self.clock, history_size=settings.history_size)
        self.redactor = settings_redactor(settings, admin_key)
        self.admin_key = admin_key
        self.trace = trace
        """Publish one ``packet`` event per Engine.IO packet (``watch --trace``, the inspector)."""
        self.har = har
        """Keeps every HTTP exchange and websocket of the connection for a HAR export."""
        self._connector: Connector = connector or WireConnector(settings, observer=har)
        self._path_told: str | None = None
        """The path last told (a ``note`` with topic ``path``)."""
        self._in_front: str | None = None
        """The boxes of that path by name, for the panel."""
        self._port_check = port_check or port_open
        self._backoff = Backoff(
            min_s=settings.reconnect_delay,
            max_s=settings.reconnect_delay_max,
            jitter=settings.randomization,
            rng=rng,
        )
        self.sessions = SessionKeeper(
            settings,
            clock=self.clock,
            redactor=self.redactor,
            emit=self._emit,
            note=self._note,
            create_guest=create_guest,
        )
        self.live = LiveWatch(
            settings,
            clock=self.clock,
            emit=self._emit,
            note=self._note,
            stalled=self._stalled,
            recovered=self._recovered,
        )
        self.diagnosis: Diagnosis = _new_diagnosis()
        self._published: tuple[str, str, int] | None = None
        self._verdict_due = False
        self._log: JsonlLog | None = None
        self._log_said = False
        self._unsubscribe_log: Callable[[], None] | None = None
        if settings.log:
            self._log = JsonlLog(settings.log, on_stop=self._log_stopped)
            self._unsubscribe_log = self.bus.subscribe(self._log)
        # Drops at a regular interval shorter than the heartbeat: a note names the proxy rule.
        self._unsubscribe_drops: Callable[[], None] = watch_drops(self.bus)

        self._state = State.IDLE
        self._state_since: float | None = self.clock.time()
        self._verdict: str | None = None
        self._link: LinkLike | None = None
        self._cycle_task: asyncio.Task[None] | None = None
        self._op_lock = asyncio.Lock()
        self.settled = asyncio.Event()
        """Set once the first connect settles (connected, failed, or waiting to retry)."""

        self._cors_task: asyncio.Task[None] | None = None
        """The one CORS check of a monitor with ``--origin`` (started at the first connection)."""
        self._recovery: RecoveryState | None = None
        """The last connection's pid and offset (asked for on the next connect)."""
        self._transport: str | None = None
        self._last_transport: str | None = None
        """The transport of the previous connection (``transport`` events say what changed)."""
        self._how: str | None = None
        self._sid: str | None = None
        self._engine_sid: str | None = None
        self._upgrades: tuple[str, ...] | None = None
        self._ping_interval_ms: int | None = None
        self._ping_timeout_ms: int | None = None
        self._connected_since: float | None = None
        self._reconnect_attempt = 0
        self._next_attempt_at: float | None = None
        self._attempt_started: float | None = None
        self._events_in = 0
        self._events_out = 0
        self._taps: list[PacketRecord] = []
        """Packets tapped and not yet published (see :meth:`_tap`)."""
        self._taps_due = False
        self._pings: dict[tuple[str, str], float] = {}
        """The last ``PING`` of each side (and of the upgrade's probe): monotonic time."""
        self._reporting = False
        self.degraded: str | None = None
        """Why the connection is degraded (polling after a fallback or failed upgrade), else None."""

    # --- MonitorAPI ------------------------------------------------------------------------

    @property
    def state(self) -> State:
        """The current state."""
        return self._state

    @property
    def log(self) -> JsonlLog | None:
        """The ``--log`` file, if any (its ``problem`` says when it stopped)."""
        return self._log

    @property
    def connection(self) -> LinkLike | None:
        """The connection in use (for tests), if any."""
        return self._link

    @property
    def verdict(self) -> Verdict | None:
        """The current diagnosis, once there is one to give (not "inconclusive")."""
        if self._published is None:
            return None
        verdict = self.diagnosis.verdict
        return None if verdict.code == "inconclusive" else verdict

    def snapshot(self) -> Snapshot:
        s = self.settings
        keeper = self.sessions
        session = keeper.session
        live = self.live
        connected = self._link is not None
        info = SessionInfo(
            username=session.username if session else None,
            user_id=session.user_id if session else None,
            session_id=session.session_id if session else None,
            token_redacted=self.redactor.secret(session.token, "token") if session else None,
            expires_at=session.expires_at if session else None,
            source=keeper.source,
            created_at=keeper.created_at,
            regenerations=keeper.guard.total,
        )
        return Snapshot(
            state=self._state,
            state_since=self._state_since,
            verdict=self._verdict,
            diagnosis=self.verdict,
            url=s.url,
            path=s.path,
            namespace=s.namespace,
            proxy=self.redactor.text(effective_proxy(s) or "") or None,
            tls_verify=s.tls_verify,
            insecure=s.insecure,
            in_front=self._in_front,
            sid=self._sid,
            engine_sid=self._engine_sid,
            transport=self._transport,
            how=self._how,
            upgrades=self._upgrades,
            ping_interval_ms=self._ping_interval_ms,
            ping_timeout_ms=self._ping_timeout_ms,
            rtt_ms=live.rtt_ms,
            rtt_recent=tuple(live.liveness.rtts),
            rtt_method=(s.rtt_event or "namespace-probe") if live.rtt_ms is not None else None,
            rtt_off=s.rtt_interval == 0,
            rtt_misses=live.misses,
            pings_seen=live.liveness.pings,
            last_ping_at=live.liveness.last_ping,
            last_life_at=live.liveness.last_life if connected else None,
            stall_bound_s=live.liveness.bound if connected else None,
            reconnect_attempt=self._reconnect_attempt,
            reconnect_max=s.reconnect_attempts,
            next_attempt_at=self._next_attempt_at,
            connected_since=self._connected_since,
            session=info,
            events_in=self._events_in,
            events_out=self._events_out,
        )

    async def start(self) -> None:
        async with self._op_lock:
            if self._state is State.STOPPED or self._cycle_task is not None:
                return
            self._announce_target()
            self._begin()

    async def stop(self) -> None:
        async with self._op_lock:
            if self._state is State.STOPPED:
                return
            await self._halt("io client disconnect (monitor stopped)", State.STOPPED, by="client")
            cors = self._cors_task
            if cors is not None and not cors.done():
                cors.cancel()
                await asyncio.wait({cors}, timeout=2.0)
            self._unsubscribe_drops()
            if self._unsubscribe_log is not None:
                self._unsubscribe_log()
                self._unsubscribe_log = None
            if self._log is not None:
                self._log.close()
                self._log_stopped(self._log)  # given up at close (nobody read the end): say so

    async def reconnect(self) -> None:
        async with self._op_lock:
            if self._state is State.STOPPED:
                return
            self.sessions.reset_for_new_cycle()
            await self._restart("io client disconnect (reconnect requested)")

    async def drop_transport(self) -> None:
        link = self._link
        if link is None or not link.is_connected:
            self._note("nothing to drop: not connected", topic="action")
            return
        self._note("closing the transport underneath (an unexpected drop)", topic="action")
        await link.drop()

    async def toggle(self) -> None:
        async with self._op_lock:
            if self._state is State.STOPPED:
                return
            if self._state in (
                State.CONNECTED,
                State.STALLED,
                State.CONNECTING,
                State.RECONNECTING,
            ):
                await self._halt("io client disconnect (by you)", State.DISCONNECTED, by="user")
                self._verdict = "disconnected on request"
            else:
                self.sessions.reset_for_new_cycle()
                if self._state is State.IDLE:
                    self._announce_target()
                self._begin()

    async def simulate_expiry(self) -> None:
        keeper = self.sessions
        session = keeper.session
        if self.admin_key and session is not None and session.source in ("guest", "stored"):
            expired, problem = await expire_on_server(
                self.settings, self.admin_key, session.session_id
            )
            if problem is not None:
                self._note(problem, level="warning", topic="action")
            if expired is not None:
                self._note(
                    f"expired session {session.session_id} on the server ({expired} record(s) "
                    "deleted); dropping the transport so the real path runs",
                    topic="action",
                )
                await self.drop_transport()
                return
        async with self._op_lock:
            if self._state is State.STOPPED:
                return
            session = keeper.session
            if session is None:
                self._note(
                    "nothing to expire: this connection uses no session",
                    level="warning",
                    topic="action",
                )
                return
            if session.source == "token":
                self._note(
                    "a --token cannot be regenerated, so its expiry is not simulated: the "
                    "connection keeps it",
                    level="warning",
                    topic="action",
                )
                return
            problem = await keeper.expire_here()
            if problem is not None:
                await self._halt("io client disconnect (session expired)", State.FAILED, by="user")
                self._verdict = problem
                return
            await self._restart("io client disconnect (reconnecting with the new session)")

    async def emit(
        self, name: str, payload: Any = None, *, ack: bool = False, timeout: float = 5.0
    ) -> AckResult:
        link = self._link
        size, preview = payload_preview(self.redactor, payload)
        if link is None or not link.is_connected:
            self._note(f"not sent: {name} (not connected)", level="warning", topic="emit")
            return AckResult(acked=False, error="not connected")
        started = self.clock.monotonic()
        try:
            answer = await link.emit(name, payload, ack=ack, timeout=timeout)
        except asyncio.TimeoutError:
            answer = None
            timed_out = True
        except (ConnectionError, ValueError, TypeError) as exc:  # not connected; not encodable
            self._note(f"not sent: {name} ({exc})", level="warning", topic="emit")
            return AckResult(acked=False, error=str(exc) or type(exc).__name__)
        else:
            timed_out = False
        ms = (self.clock.monotonic() - started) * 1000.0
        self._events_out += 1
        if not ack:
            self._emit(EventOut, name=name, size=size, preview=preview)
            return AckResult(acked=False)
        if timed_out:
            self._emit(EventOut, name=name, size=size, preview=preview, ack="timeout")
            return AckResult(acked=False, ms=None, error=f"no ack within {timeout:g} s")
        _size, shown = payload_preview(self.redactor, answer)
        self._emit(EventOut, name=name, size=size, preview=preview, ack=shown, ack_ms=round(ms, 3))
        return AckResult(acked=True, value=answer, ms=ms)

    # --- what the connection reports -------------------------------------------------------

    def _event_in(self, event: ServerEvent) -> None:
        """A server event on the namespace (the storm's hot path: one call per event)."""
        self._events_in += 1
        args = event.args
        if event.offset is not None and args and args[-1] == event.offset:
            args = args[:-1]  # the recovery offset the server appends: not the app's data
        size, preview = payload_preview(self.redactor, args[0] if len(args) == 1 else args)
        bus = self.bus
        clock = self.clock
        try:
            bus.publish(
                EventIn(
                    ts=clock.time(),
                    t=clock.monotonic() - bus.start,
                    name=event.name,
                    size=size,
                    preview=preview,
                    namespace=event.namespace,
                    binaries=event.binaries or None,
                    replayed=True if event.replayed else None,
                )
            )
        except Exception as exc:  # noqa: BLE001 - a subscriber's bug: said, and we go on
            self._subscriber_failed(EventIn, exc)

    def set_trace(self, on: bool) -> None:
        """Turn the packet tap on or off, now (the connection in use) and for the next ones;
        off, the client makes no records at all."""
        if on == self.trace:
            return
        self.trace = on
        self._pings.clear()
        link = self._link
        if link is not None:
            link.set_tap(self._tap if on else None)

    def _tap(self, record: PacketRecord) -> None:
        """One packet in or out (``trace`` only): queued, and published a slice at a time at the
        loop's next turns, so that a storm's read of thousands of packets never holds the loop
        (the keys of the TUI); any other event publishes the queue first, so a connection's
        events keep their place among its packets."""
        self._taps.append(record)
        if not self._taps_due:
            self._taps_due = True
            asyncio.get_running_loop().call_soon(self._drain_taps)

    def _drain_taps(self) -> None:
        taps = self._taps
        batch = taps[:TAP_SLICE]
        del taps[:TAP_SLICE]
        for record in batch:
            self._packet(record)
        if taps:
            asyncio.get_running_loop().call_soon(self._drain_taps)
        else:
            self._taps_due = False

    def _flush_taps(self) -> None:
        batch, self._taps = self._taps, []
        for record in batch:
            self._packet(record)

    def _packet(self, record: PacketRecord) -> None:
        """Publish one packet, with its heartbeat timing: a pong's delay after its ping, a ping's
        interval since the previous one from the same side."""
        pong_ms = interval_ms = None
        kind = record.eio_type
        if kind == "PING":
            key = (record.direction, record.text)
            last = self._pings.get(key)
            if last is not None and not record.text:
                interval_ms = round((record.mono - last) * 1000.0, 1)
            self._pings[key] = record.mono
        elif kind == "PONG":
            ping = self._pings.get(("in" if record.direction == "out" else "out", record.text))
            if ping is not None and record.mono >= ping:
                pong_ms = round((record.mono - ping) * 1000.0, 1)
        redact = self.redactor.wire
        decoded = record.decoded
        if decoded:
            # Its hex would show what the decoded text masks: the size only.
            preview = f"<binary {record.binary_size or record.size:,} B>"
        else:
            preview = one_line(redact(record.preview(PACKET_PREVIEW * 2)), PACKET_PREVIEW)
        self._emit(
            Packet,
            direction=record.direction,
            transport=record.transport,
            eio_type=kind,
            size=record.size,
            preview=preview,
            sio_type=record.sio_type,
            namespace=record.namespace,
            ack_id=record.ack_id,
            binary_size=record.binary_size,
            request_id=record.request_id,
            problem=record.problem,
            decoded=one_line(redact(decoded[: PACKET_PREVIEW * 4]), PACKET_PREVIEW * 2)
            if decoded
            else None,
            pong_ms=pong_ms,
            interval_ms=interval_ms,
        )

    def _problem(self, problem: PacketProblem) -> None:
        self._note(
            f"a packet the client could not decode was skipped ({problem.size} B): "
            f"{problem.message}: {problem.sample}",
            level="warning",
            topic="packet",
        )

    def _fallback_seen(self, failure: Failure, to: str) -> None:
        started = self._attempt_started
        elapsed = self.clock.monotonic() - started if started is not None else 0.0
        engine = failure.engine_error
        self._emit(
            Fallback,
            from_transport=failure.transport or "websocket",
            to_transport=to,
            why=one_line(self.redactor.text(failure.message), NOTE_CHARS),
            elapsed_ms=round(elapsed * 1000.0, 1),
            phase=failure.phase,
            failure=failure.kind.value,
            reason=failure.reason,
            status=failure.status,
            code=engine.code if engine is not None else None,
            engine_message=engine.message if engine is not None else None,
            ws_code=failure.ws_code,
            ws_who=failure.ws_who,
        )

    def _stalled(self, silent: float, bound: float) -> None:
        self._set_state(
            State.STALLED,
            f"the server went silent (nothing for more than {bound:.1f} s): the path may be "
            "black-holed; the heartbeat would notice only after "
            f"{self.live.heartbeat_deadline()}",
        )

    def _recovered(self) -> None:
        if self._state is State.STALLED:
            self._set_state(State.CONNECTED, self.degraded)

    # --- helpers ---------------------------------------------------------------------------

    def _emit(self, cls: type[Event], **fields: Any) -> Event | None:
        """Publish an event; a subscriber that raises must not stop the monitor (it is noted).
        Then the diagnosis takes it (and a ``verdict`` event follows when the verdict changed)."""
        if self._taps and cls is not Packet:
            self._flush_taps()
        try:
            event = self.bus.emit(cls, **fields)
        except Exception as exc:  # noqa: BLE001 - someone else's bug: report it, keep running
            self._subscriber_failed(cls, exc)
            return None
        if cls not in _UNDIAGNOSED:
            self._diagnose(event)
        return event

    def _subscriber_failed(self, cls: type[Event], exc: Exception) -> None:
        if self._reporting:
            return
        self._reporting = True
        try:
            self._emit(
                Note,
                text=f"internal error in a subscriber of {cls.kind} events: "
                f"{type(exc).__name__}: {self.redactor.text(str(exc))}",
                level="error",
                topic="monitor",
            )
        finally:
            self._reporting = False

    def _diagnose(self, event: Event, *, settle: bool = False) -> None:
        if self.diagnosis.feed(event):
            self._verdict_due = True
        if not self._verdict_due or not (settle or type(event) in _SETTLING):
            return
        self._verdict_due = False
        verdict = self.diagnosis.verdict
        if verdict.code == "inconclusive":
            return
        key = (verdict.code, verdict.title, verdict.exit_code)
        if key == self._published:
            return
        self._published = key
        try:
            self.bus.emit(
                VerdictChanged,
                code=verdict.code,
                title=self.redactor.text(verdict.title),
                explanation=self.redactor.text(verdict.explanation),
                fix=self.redactor.text(verdict.fix),
                exit=verdict.exit_code,
                reason=self.diagnosis.finding.reason,
            )
        except Exception as exc:  # noqa: BLE001 - a subscriber's bug: said, and we go on
            self._subscriber_failed(VerdictChanged, exc)

    def _log_stopped(self, log: JsonlLog) -> None:
        """The ``--log`` file stopped (disk full, reader gone or stalled): say so in the history,
        once."""
        if log.problem and not self._log_said:
            self._log_said = True
            self._note(log.problem, level="error", topic="log")

    def _note(self, text: str, *, level: str = "info", topic: str = "") -> None:
        # A hostile server's bytes can reach a note: one line, bounded, after redaction
        # (cutting first could leave part of a secret that the redactor no longer recognises).
        self._emit(
            Note, text=one_line(self.redactor.text(text), NOTE_CHARS), level=level, topic=topic
        )

    def _set_state(self, new: State, verdict: str | None = None) -> None:
        old = self._state
        self._state = transition(old, new)
        self._verdict = verdict
        if new is not old:
            self._state_since = self.clock.time()
        if new in (State.CONNECTED, State.FAILED, State.DISCONNECTED, State.RECONNECTING):
            self.settled.set()

    def _announce_target(self) -> None:
        s = self.settings
        proxy = effective_proxy(s)
        where = f"{s.url}{s.path} namespace {s.namespace}"
        via = f"via proxy {self.redactor.text(proxy)}" if proxy else "direct (no proxy)"
        dialect = ""
        if s.eio != 4 or s.parser != "json":
            dialect = f"; speaking Engine.IO {s.eio} with the {s.parser} parser"
        facts = _context(s, self.redactor.text(proxy) if proxy else None)
        if s.insecure and s.is_tls:
            self._emit(
                Note,
                text=f"target {where}, {via}{dialect}; TLS CERTIFICATE VERIFICATION IS DISABLED "
                "(--insecure): anyone on the path can read and change this connection",
                level="warning",
                topic="target",
                facts=facts,
            )
        else:
            self._emit(
                Note,
                text=f"target {where}, {via}{dialect}; TLS: {s.tls_verify}",
                topic="target",
                facts=facts,
            )
        if s.rtt_interval == 0:
            self._note(
                "round trips off (--rtt-interval 0): the connection carries only the heartbeat and "
                "the app's events, as an idle browser's does; a silent drop shows as a stall "
                f"pingInterval + {PASSIVE_STALL_GRACE_S:g} s after the last sign of life",
                topic="rtt",
            )

    def _begin(self) -> None:
        self._set_state(State.CONNECTING)
        self._reconnect_attempt = 0
        self._cycle_task = asyncio.create_task(self._run_cycle(), name="conndebug-monitor")

    async def _restart(self, reason: str) -> None:
        await self._halt(reason, None, by="user")
        self._begin()

    async def _halt(self, reason: str, final: State | None, *, by: str) -> None:
        """Stop the cycle and close the connection; then enter ``final`` (if given)."""
        was = self._state
        task, self._cycle_task = self._cycle_task, None
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait({task}, timeout=5.0)
        await self.live.stop()
        link = self._link
        if link is not None:
            self._keep_recovery(link)
            await link.close(graceful=True)
        self._forget_connection()
        self._next_attempt_at = None
        if was in (State.CONNECTED, State.STALLED, State.CONNECTING, State.RECONNECTING):
            self._emit(Disconnected, reason=reason, will_reconnect=final is None, by=by)
        if final is not None:
            self._set_state(final, self._verdict if final is State.STOPPED else None)

    def _forget_connection(self) -> None:
        """No connection now: its ids, transport and age are no longer true."""
        self._link = None
        self._sid = None
        self._engine_sid = None
        self._transport = None
        self._how = None
        self._connected_since = None

    def _keep_recovery(self, link: LinkLike) -> None:
        state = link.recovery_state()
        if state is not None and state.pid is not None:
            self._recovery = state

    # --- the connection cycle ---------------------------------------------------------------

    async def _run_cycle(self) -> None:
        try:
            await self._cycle()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - never die silently: the note and state say why
            self._note(
                f"internal error: {type(exc).__name__}: {exc} (this is a bug in conndebug)",
                level="error",
                topic="monitor",
            )
            await self.live.stop()
            link = self._link
            if link is not None:
                await link.close(graceful=False)
            self._forget_connection()
            if self._state is not State.FAILED:
                self._set_state(State.FAILED, f"internal error: {type(exc).__name__}: {exc}")

    async def _cycle(self) -> None:
        self._backoff.reset()
        attempt = 0
        while True:
            failure = await self._attempt(attempt)
            if failure is None:
                self._backoff.reset()
                self._reconnect_attempt = 0
                if not await self._hold():
                    return
            else:
                decision = await self._after_failure(failure)
                if decision == "stop":
                    return
                if decision == "now":
                    continue
            max_attempts = self.settings.reconnect_attempts
            if max_attempts and self._backoff.attempts >= max_attempts:
                why = failure.message if failure else "the connection dropped"
                self._emit(
                    ReconnectFailed, attempts=self._backoff.attempts, reason=self.redactor.text(why)
                )
                self._set_state(
                    State.FAILED,
                    f"gave up after {self._backoff.attempts} reconnection attempts: "
                    f"{self.redactor.text(why)}",
                )
                return
            delay = self._backoff.duration()
            attempt = self._backoff.attempts
            self._reconnect_attempt = attempt
            self._next_attempt_at = self.clock.monotonic() + delay
            self._set_state(State.RECONNECTING, self._verdict)
            self._emit(
                ReconnectScheduled, attempt=attempt, max_attempts=max_attempts, delay_s=delay
            )
            await self._wait_delay(delay, failure)
            self._next_attempt_at = None

    async def _attempt(self, attempt: int) -> Failure | GuestFailure | None:
        """One connection attempt over the transports; ``None`` once connected."""
        guest = await self.sessions.ensure()
        if guest is not None:
            return guest
        s = self.settings
        self._attempt_started = started = self.clock.monotonic()
        self._emit(Connecting, url=s.url, transport=s.transports[0], attempt=attempt)
        self._pings.clear()  # after the previous connection's last packets went out
        recover = self._recovery
        request = AttemptRequest(
            transports=tuple(s.transports),
            auth=self.sessions.auth(),
            recover=recover if recover is not None and recover.pid is not None else None,
            tap=self._tap if self.trace else None,
            on_fallback=self._fallback_seen,
            on_problem=self._problem,
        )
        from conndebug.client import ClientError

        try:
            link = await self._connector(request)
        except ClientError as exc:
            self._report(exc.failure)
            self._tell_path()
            return exc.failure
        self._adopt(link, started)
        self._tell_path()
        return None

    def _tell_path(self) -> None:
        """What answers in front of the server, as a ``note`` (topic ``path``) whenever the
        boxes named change: the line of the probe's path rung, its evidence as facts (the
        diagnosis names the box that cuts; the panel shows the path)."""
        witness = getattr(self._connector, "witness", None)
        if witness is None or not witness.answers:
            return
        status, line, evidence = witness.summary(
            ping_interval_ms=self._ping_interval_ms, ping_timeout_ms=self._ping_timeout_ms
        )
        if status != "ok" or evidence.get("path_text") == self._path_told:
            return
        self._path_told = evidence.get("path_text")
        self._in_front = evidence.get("path_names")
        self._emit(
            Note,
            text=one_line(self.redactor.text(line), NOTE_CHARS),
            topic="path",
            facts=self.redactor.value(evidence),
        )

    def _report(self, failure: Failure) -> None:
        rejected = failure.kind is FailureKind.REJECTED
        engine = failure.engine_error
        message = failure.server_message if rejected and failure.server_message else failure.message
        facts = dict(failure.evidence)
        if rejected and failure.server_data is not None:
            facts["server_data"] = failure.server_data
        self._emit(
            ConnectError,
            message=one_line(self.redactor.text(message), NOTE_CHARS),
            data=self.redactor.value(failure.server_data) if rejected else None,
            source="server" if rejected else "transport",
            status=failure.status,
            code=engine.code if engine is not None else None,
            transport=failure.transport,
            phase=failure.phase,
            failure=failure.kind.value,
            reason=failure.reason,
            engine_message=engine.message if engine is not None else None,
            ws_code=failure.ws_code,
            ws_who=failure.ws_who,
            namespace=self.settings.namespace if rejected else None,
            facts=self.redactor.value(facts) if facts else None,
        )

    def _adopt(self, link: LinkLike, started: float) -> None:
        """The attempt succeeded: report the connection and start watching it."""
        facts = link.facts
        self._link = link
        transport = facts.transport
        self.degraded = None
        ws_failure = facts.websocket_failure
        upgrade_failure = facts.upgrade_failure
        if facts.how == "fallback" and ws_failure is not None:
            why = self.redactor.text(ws_failure.message)
            self._how = f"fell back: {why}"
            self.degraded = f"connected over polling only: the websocket failed ({why})"
        elif upgrade_failure is not None:
            why = self.redactor.text(upgrade_failure.message)
            engine = upgrade_failure.engine_error
            self._emit(
                UpgradeFailed,
                why=why,
                status=upgrade_failure.status,
                code=engine.code if engine is not None else None,
                failure=upgrade_failure.kind.value,
                reason=upgrade_failure.reason,
                engine_message=engine.message if engine is not None else None,
                ws_code=upgrade_failure.ws_code,
                ws_who=upgrade_failure.ws_who,
                facts=self.redactor.value(dict(upgrade_failure.evidence))
                if upgrade_failure.evidence
                else None,
            )
            self._how = f"upgrade failed: {why}"
            self.degraded = f"connected over polling only: the websocket upgrade failed ({why})"
        else:
            self._how = facts.how
        previous = "polling" if facts.how == "upgraded" else self._last_transport
        self._transport = self._last_transport = transport
        self._sid = facts.sid
        self._engine_sid = facts.engine_sid
        self._upgrades = facts.upgrades
        self._ping_interval_ms = facts.ping_interval_ms
        self._ping_timeout_ms = facts.ping_timeout_ms
        self._connected_since = self.clock.time()
        now = self.clock.monotonic()
        self._emit(TransportChanged, transport=transport, previous=previous, how=facts.how)
        recovered = facts.recovered
        self._emit(
            Connected,
            transport=transport,
            sid=self._sid,
            engine_sid=self._engine_sid,
            namespace=self.settings.namespace,
            how=facts.how,
            ping_interval_ms=self._ping_interval_ms,
            ping_timeout_ms=self._ping_timeout_ms,
            elapsed_ms=round((now - started) * 1000.0, 1),
            recovered=recovered,
            replayed=facts.replayed if recovered else None,
            recovery=self.redactor.text(facts.recovery_why_not or "")
            if recovered is False
            else None,
            upgrades=facts.upgrades,
            eio=facts.eio if facts.eio != 4 else None,
            parser=facts.parser if facts.parser != "json" else None,
        )
        self._set_state(State.CONNECTED, self.degraded)
        self.sessions.guard.connected()  # the loop guard counts only fresh sessions that fail
        link.announce(self._event_in)
        self.live.start(link)
        if self.settings.origin and self._cors_task is None:
            self._cors_task = asyncio.create_task(self._check_cors(), name="conndebug-cors")

    async def _check_cors(self) -> None:
        """With ``--origin``, once: the probe's CORS check (the preflight and the handshake from
        that origin and from a made-up one), so ``watch`` judges CORS as ``probe`` does; its
        ``probe_step`` goes to the diagnosis."""
        from conndebug.core.events import ProbeStep
        from conndebug.core.probe.context import ProbeContext, Stop
        from conndebug.core.probe.rungs import cors

        steps: list[ProbeStep] = []

        def keep(event: Event) -> None:
            if isinstance(event, ProbeStep) and event.name == "cors":
                steps.append(event)

        unsubscribe = self.bus.subscribe(keep)
        ctx = ProbeContext(self.settings, self.bus, self.clock)
        try:
            await asyncio.wait_for(cors.run(ctx), self.settings.connect_timeout + 1.0)
        except (Stop, asyncio.TimeoutError):
            pass  # what it found is in its step (a refusal), or nothing: no step to judge
        except Exception as exc:  # noqa: BLE001 - never die silently: the note says why
            self._note(
                f"internal error in the CORS check: {type(exc).__name__}: {exc}",
                level="error",
                topic="monitor",
            )
        finally:
            unsubscribe()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ctx.cleanup(), 2.0)
        for step in steps:
            self._diagnose(step, settle=True)

    async def _hold(self) -> bool:
        """Wait for the connection to end; ``True`` if automatic reconnection follows."""
        link = self._link
        assert link is not None
        # Shielded: stopping the monitor cancels this wait, and a cancelled ``ended`` would
        # make the link think the connection had already ended (no goodbye: no ``41``).
        ending = await asyncio.shield(link.ended)
        self._keep_recovery(link)
        await self.live.stop()
        await link.close(graceful=False)
        self._forget_connection()
        if ending.kicked:
            self._emit(
                Disconnected,
                reason=ending.reason,
                will_reconnect=False,
                kicked=True,
                by="server",
                transport=ending.transport,
            )
            self._set_state(
                State.DISCONNECTED,
                "the server disconnected this socket (io server disconnect); not reconnecting "
                "automatically, as socket.io clients do — reconnect by hand",
            )
            return False
        reason = self.redactor.text(ending.reason)
        self._emit(
            Disconnected,
            reason=reason,
            will_reconnect=True,
            close_code=ending.ws_code,
            transport=ending.transport,
            close=ending.close,
            by=ending.by,
            ws_who=ending.ws_who,
            status=ending.status,
            code=ending.engine_code,
        )
        self._set_state(State.RECONNECTING, f"dropped: {reason}")
        return True

    async def _after_failure(self, failure: Failure | GuestFailure) -> str:
        """After a failed attempt: ``retry`` (backoff), ``now`` (regenerated) or ``stop``."""
        if isinstance(failure, GuestFailure):
            self._verdict = failure.message
            return "retry"
        if failure.kind is not FailureKind.REJECTED:
            message = self.redactor.text(failure.message)
            permanent = _permanent(failure, self.settings)
            if permanent is not None:
                self._set_state(
                    State.FAILED,
                    f"{message} — not retried: {permanent} (reconnect by hand once it is fixed)",
                )
                return "stop"
            self._verdict = message
            return "retry"
        decision = await self.sessions.after_rejection(failure)
        if decision.action == "stop":
            self._set_state(State.FAILED, decision.verdict)
        elif decision.action == "retry":
            self._verdict = decision.verdict
        return decision.action

    async def _wait_delay(self, delay: float, failure: Failure | GuestFailure | None) -> None:
        """Sleep ``delay``; stop early once the port listens again when it was closed: after
        "connection refused", or after a drop (``failure`` None) with the port closed right
        then (a server restarting). A server that dropped us but still listens gets the backoff."""
        sleeper = asyncio.ensure_future(self.clock.sleep(delay))
        host, port = host_port(self.settings.url)
        direct = not effective_proxy(self.settings)
        if failure is None:
            watch = direct and not await self._port_check(host, port)
        else:
            watch = failure.kind is FailureKind.REFUSED and direct
        if not watch:
            await sleeper
            return
        started = self.clock.monotonic()
        poller = asyncio.ensure_future(self._poll_port(host, port))
        try:
            done, _ = await asyncio.wait({sleeper, poller}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in (sleeper, poller):
                t.cancel()
            await asyncio.wait({sleeper, poller}, timeout=1.0)
        if poller in done and not poller.cancelled() and poller.result():
            waited = self.clock.monotonic() - started
            self._note(
                f"{host}:{port} listens again: reconnecting after {waited:.2f} s instead of "
                f"the scheduled {delay:.2f} s",
                topic="reconnect",
            )

    async def _poll_port(self, host: str, port: int) -> bool:
        while True:
            if await self._port_check(host, port):
                return True
            await asyncio.sleep(PORT_POLL_S)


def _context(settings: Settings, proxy: str | None) -> dict[str, Any]:
    """What the connection is told to do, as facts for the diagnosis (the ``target`` note; the
    same keys as the probe's ``url`` step)."""
    s = settings
    host, port = host_port(s.url)
    return {
        "url": s.url,
        "given_url": s.url + s.namespace if s.namespace_from_url else None,
        "host": host,
        "port": port,
        "path": s.path,
        "namespace": s.namespace,
        "namespace_from_url": s.namespace_from_url or None,
        "transports": list(s.transports),
        "eio": s.eio,
        "parser": s.parser,
        "handshake_url": f"{s.url}{s.path.rstrip('/')}/?EIO={s.eio}&transport=polling",
        "proxy": proxy,
        "proxy_source": ("--proxy" if s.proxy else "the environment") if proxy else None,
        "tls_verify": s.tls_verify,
        "timeout_s": f"{s.connect_timeout:g}",
        "connect_timeout_s": s.connect_timeout,
        "ws_timeout_s": s.ws_timeout,
        "rtt_interval_s": f"{s.rtt_interval:g}" if s.rtt_interval > 0 else None,
        "guest_url": s.guest_url,
        "origin": s.origin,
        "no_guest": s.no_guest or None,
        "token_given": bool(s.token) or None,
    }


def _new_diagnosis() -> Diagnosis:
    from conndebug.core.diagnosis import Diagnosis

    return Diagnosis()


def make_monitor(
    settings: Settings,
    *,
    bus: EventBus | None = None,
    clock: Clock | None = None,
    rng: random.Random | None = None,
    admin_key: str | None = None,
    trace: bool = False,
    har: HarRecorder | None = None,
) -> Monitor:
    """The monitor for ``settings`` (the CLI, the TUI and tests use this factory). ``har``:
    record the wire for a HAR export."""
    clock = clock or (bus.clock if bus is not None else SystemClock())
    bus = bus or EventBus(clock=clock, history_size=settings.history_size)
    return Monitor(
        settings, bus=bus, clock=clock, rng=rng, admin_key=admin_key, trace=trace, har=har
    )
