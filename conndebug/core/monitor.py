"""The monitor: the SocketService of the seed's web client, done truthfully, for the terminal.

:func:`make_monitor` builds a :class:`Monitor` (the :class:`~conndebug.core.model.MonitorAPI` the
TUI and ``watch`` use). It connects the way the web client does (guest session, ``auth: {token}``,
transports in ``--transports`` order, the reconnection policy), but reports everything it sees on
one :class:`~conndebug.core.events.EventBus` and does what the web client only promises:

- **a fresh client per attempt** (:class:`~conndebug.core.transport.Connection`), each with its own
  aiohttp session, an outer time limit and a hard reset;
- **fallback**: websocket-first tries websocket alone for ``--ws-timeout``; refused (e.g. HTTP 403)
  or hung → a ``fallback`` event and a polling-only attempt (no upgrade afterwards). Polling-first
  lets python-socketio upgrade inside ``connect()`` (bounded) and reports ``upgrade_failed`` when
  the offered upgrade did not happen;
- **its own reconnect loop**: socket.io-client's backoff (:mod:`conndebug.core.backoff`), one
  ``reconnect_scheduled`` per attempt, ``reconnect_failed`` when the attempts are exhausted. A
  server kick (``io server disconnect``) and a namespace rejection are not retried, as in
  socket.io. While waiting after "connection refused" the port is checked every 50 ms and the wait
  is cut short as soon as the server listens again (said in a note);
- **session regeneration** (target-contract.md): on ``Token has expired``, ``Guest session not found
  or expired``, or a message containing ``session not found`` / ``expired`` (compared without case)
  → ``session_expired`` → a new guest session → ``session_regenerated`` → reconnect; it stops
  only when :data:`REGENERATIONS_PER_WINDOW` fresh sessions in a row failed within
  :data:`REGENERATION_WINDOW_S` (:mod:`conndebug.core.session`); a ``--token`` cannot be
  regenerated, so its expiry is final;
- **liveness**: round trips, server pings and stalls (:mod:`conndebug.core.liveness`).

Manual operations: ``reconnect()`` (clean disconnect, new cycle), ``drop_transport()`` (closes the
transport underneath: an unexpected drop), ``toggle()``, and ``simulate_expiry()`` (with the
reference server's admin key: expire the session server-side and drop the transport, so the
server's rejection drives the regeneration; on any other server, expire it the way a browser meets
it: the client's session is dropped, a new guest session is created and the connection comes back
with it). A subscriber that raises cannot stop the monitor: its error becomes a note.

Library log records (topics ``engineio`` and ``socketio``) go to the ``--log`` file only, never
to the history: what they mean reaches the history as typed events in plain words (a disconnect's
reason, an upgrade that failed).

The state changes only through :func:`conndebug.core.model.transition`. Time and randomness are
injected (``clock``, ``rng``); the connection and guest-session factories too, for unit tests.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import Any

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
    ReconnectFailed,
    ReconnectScheduled,
    Rtt,
    SessionCreated,
    SessionExpired,
    SessionRegenerated,
    Stall,
    TransportChanged,
    UpgradeFailed,
)
from conndebug.core.guest import GuestResult, GuestSession, create_guest_session, session_from_token
from conndebug.core.jsonl import JsonlLog
from conndebug.core.liveness import Liveness, LivenessChange
from conndebug.core.model import AckResult, SessionInfo, Snapshot, State, transition
from conndebug.core.net import FailureKind, host_port, port_open
from conndebug.core.preview import preview as payload_preview
from conndebug.core.redact import settings_redactor
from conndebug.core.session import (
    REGENERATION_WINDOW_S,
    REGENERATIONS_PER_WINDOW,
    RegenerationGuard,
    expire_on_server,
    is_expiry_message,
)
from conndebug.core.text import one_line
from conndebug.core.transport import Connection, ConnectionLike, ConnectionListener, Failure

__all__ = [
    "REGENERATIONS_PER_WINDOW",
    "REGENERATION_WINDOW_S",
    "ConnectionLike",
    "Monitor",
    "is_expiry_message",
    "make_monitor",
]

PORT_POLL_S = 0.05
NOTE_CHARS = 600
"""The longest note or connect error in the history (a hostile server's bytes are cut there)."""
REGENERATE_PAUSE_S = 0.1
"""The web client reconnects 100 ms after creating the new guest session."""
PASSIVE_STALL_GRACE_S = 5.0
"""Without round trips (``--rtt-interval 0``): how late the server's heartbeat may be."""

OpenConnection = Callable[[list[str], "dict[str, Any] | None", float], ConnectionLike]
"""``(transports, auth, upgrade_timeout) → connection`` (the monitor is the listener)."""
CreateGuest = Callable[[Settings], Awaitable[GuestResult]]
PortCheck = Callable[[str, int], Awaitable[bool]]


class Monitor(ConnectionListener):
    """Connects, keeps connected, and reports every step; implements ``MonitorAPI``."""

    def __init__(
        self,
        settings: Settings,
        *,
        bus: EventBus | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        admin_key: str | None = None,
        open_connection: OpenConnection | None = None,
        create_guest: CreateGuest | None = None,
        port_check: PortCheck | None = None,
    ) -> None:
        self.settings = settings
        self.clock: Clock = clock or (bus.clock if bus is not None else SystemClock())
        self.bus = bus or EventBus(clock=self.clock, history_size=settings.history_size)
        self.redactor = settings_redactor(settings, admin_key)
        self.admin_key = admin_key
        self._open = open_connection or self._open_real
        self._create_guest = create_guest or create_guest_session
        self._port_check = port_check or port_open
        self._backoff = Backoff(
            min_s=settings.reconnect_delay,
            max_s=settings.reconnect_delay_max,
            jitter=settings.randomization,
            rng=rng,
        )
        self._liveness = Liveness(stall_after=settings.stall_after)
        self._log: JsonlLog | None = None
        self._log_said = False
        if settings.log:
            self._log = JsonlLog(settings.log, on_stop=self._log_stopped)
            self._unsubscribe_log: Callable[[], None] | None = self.bus.subscribe(self._log)
        else:
            self._unsubscribe_log = None
        # Drops at a regular interval shorter than the heartbeat: a note names the proxy rule.
        self._unsubscribe_drops: Callable[[], None] = watch_drops(self.bus)

        self._state = State.IDLE
        self._state_since: float | None = self.clock.time()
        self._verdict: str | None = None
        self._conn: ConnectionLike | None = None
        self._conns: set[ConnectionLike] = set()
        self._conn_count = 0
        self._cycle_task: asyncio.Task[None] | None = None
        self._live_tasks: list[asyncio.Task[None]] = []
        self._op_lock = asyncio.Lock()
        self.settled = asyncio.Event()
        """Set once the first connect settles (connected, failed, or waiting to retry)."""

        self._session: GuestSession | None = None
        self._guest_absent = False
        self._regenerations = RegenerationGuard()
        self._session_created_at: float | None = None

        self._transport: str | None = None
        self._last_transport: str | None = None
        """The transport of the previous connection (``transport`` events say what changed)."""
        self._how: str | None = None
        self._sid: str | None = None
        self._engine_sid: str | None = None
        self._upgrades: tuple[str, ...] | None = None
        self._ping_interval_ms: int | None = None
        self._ping_timeout_ms: int | None = None
        self._rtt_ms: float | None = None
        self._connected_since: float | None = None
        self._reconnect_attempt = 0
        self._next_attempt_at: float | None = None
        self._events_in = 0
        self._events_out = 0
        self._rtt_misses = 0
        self._rtt_missed = 0
        """Round trips without an answer since the start (for the report)."""
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
    def connection(self) -> ConnectionLike | None:
        """The connection in use (for the probe and tests), if any."""
        return self._conn

    def snapshot(self) -> Snapshot:
        s = self.settings
        session = self._session
        info = SessionInfo(
            username=session.username if session else None,
            user_id=session.user_id if session else None,
            session_id=session.session_id if session else None,
            token_redacted=self.redactor.secret(session.token, "token") if session else None,
            expires_at=session.expires_at if session else None,
            source=session.source if session else "none",
            created_at=self._session_created_at,
            regenerations=self._regenerations.total,
        )
        return Snapshot(
            state=self._state,
            state_since=self._state_since,
            verdict=self._verdict,
            url=s.url,
            path=s.path,
            namespace=s.namespace,
            proxy=self.redactor.text(effective_proxy(s) or "") or None,
            tls_verify=s.tls_verify,
            insecure=s.insecure,
            sid=self._sid,
            engine_sid=self._engine_sid,
            transport=self._transport,
            how=self._how,
            upgrades=self._upgrades,
            ping_interval_ms=self._ping_interval_ms,
            ping_timeout_ms=self._ping_timeout_ms,
            rtt_ms=self._rtt_ms,
            rtt_recent=tuple(self._liveness.rtts),
            rtt_method=(s.rtt_event or "namespace-probe") if self._rtt_ms is not None else None,
            rtt_off=s.rtt_interval == 0,
            rtt_misses=self._rtt_missed,
            pings_seen=self._liveness.pings,
            last_ping_at=self._liveness.last_ping,
            last_life_at=self._liveness.last_life if self._conn is not None else None,
            stall_bound_s=self._liveness.bound if self._conn is not None else None,
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
            await self._halt("io client disconnect (monitor stopped)", State.STOPPED)
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
            self._guest_absent = False
            await self._restart("io client disconnect (reconnect requested)")

    async def drop_transport(self) -> None:
        conn = self._conn
        if conn is None or not conn.is_connected:
            self._note("nothing to drop: not connected", topic="action")
            return
        self._note("closing the transport underneath (an unexpected drop)", topic="action")
        await conn.drop()

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
                await self._halt("io client disconnect (by you)", State.DISCONNECTED)
                self._verdict = "disconnected on request"
            else:
                self._guest_absent = False
                if self._state is State.IDLE:
                    self._announce_target()
                self._begin()

    async def simulate_expiry(self) -> None:
        session = self._session
        if self.admin_key and session is not None and session.source == "guest":
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
            session = self._session
            if session is None:
                self._note(
                    "nothing to expire: this connection uses no session",
                    level="warning",
                    topic="action",
                )
                return
            if session.source != "guest":
                self._note(
                    "a --token cannot be regenerated, so its expiry is not simulated: the "
                    "connection keeps it",
                    level="warning",
                    topic="action",
                )
                return
            await self._expire_here(session)

    async def _expire_here(self, session: GuestSession) -> None:
        """Expire the session the way a browser meets it when the server cannot be told to.

        The client's session is gone (the web client's "Test Session Expiry" button removes the
        stored token), so a new guest session is created and the connection comes back with it:
        ``session_expired`` → ``session_regenerated`` → ``connected``. The old session stays valid
        on the server until it expires there.
        """
        self._emit(
            SessionExpired,
            message="simulated here (x): the client dropped its session; the server was not told",
            session_id=session.session_id,
        )
        self._session = None
        result = await self._create_guest(self.settings)
        if result.session is None:
            why = self.redactor.text(result.error or result.absent or "no session")
            self._emit(
                ConnectError,
                message=f"cannot create a new guest session: {why}",
                source="transport",
            )
            await self._halt("io client disconnect (session expired)", State.FAILED)
            self._verdict = f"the session was dropped (x) and no new one can be created: {why}"
            return
        self._adopt_session(result.session)
        self._emit(
            SessionRegenerated,
            username=result.session.username,
            user_id=result.session.user_id,
            session_id=result.session.session_id,
            previous_session_id=session.session_id,
        )
        self._regenerations.record_requested()
        await self._restart("io client disconnect (reconnecting with the new session)")

    async def emit(
        self, name: str, payload: Any = None, *, ack: bool = False, timeout: float = 5.0
    ) -> AckResult:
        conn = self._conn
        size, preview = payload_preview(self.redactor, payload)
        if conn is None or not conn.is_connected:
            self._note(f"not sent: {name} (not connected)", level="warning", topic="emit")
            return AckResult(acked=False, error="not connected")
        started = self.clock.monotonic()
        try:
            answer = await conn.emit(name, payload, ack=ack, timeout=timeout)
        except asyncio.TimeoutError:
            answer = None
            timed_out = True
        except (ConnectionError, ValueError, TypeError) as exc:  # not connected; not serialisable
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

    # --- ConnectionListener ----------------------------------------------------------------

    def conn_life(self, conn: Any, *, ping: bool) -> None:
        if conn is not self._conn:
            return
        now = self.clock.monotonic()
        if ping:
            self._liveness.ping(now)
        since = self._liveness.stalled_since_life
        if self._liveness.life(now) is LivenessChange.RECOVERED:
            silent = now - since if since is not None else 0.0
            self._emit(
                Stall, silent_s=round(silent, 3), bound_s=self._liveness.bound, recovered=True
            )
            if self._state is State.STALLED:
                self._set_state(State.CONNECTED, self._degraded_verdict())

    def conn_event(self, conn: Any, name: str, args: tuple[Any, ...]) -> None:
        if conn is not self._conn:
            return
        self._events_in += 1
        value: Any = args[0] if len(args) == 1 else list(args)
        size, preview = payload_preview(self.redactor, value)
        self._emit(
            EventIn, name=name, size=size, preview=preview, namespace=self.settings.namespace
        )

    def conn_log(self, conn: Any, topic: str, level: str, text: str) -> None:
        # The library's own words (python-engineio/python-socketio): for the --log file only.
        if self._log is not None:
            text = one_line(self.redactor.text(text), NOTE_CHARS)
            self._log(self.bus.stamp(Note, text=text, level=level, topic=topic))

    def conn_error(self, conn: Any, where: str, exc: BaseException) -> None:
        self._note(
            f"internal error in the {where} handler: {type(exc).__name__}: {exc}",
            level="error",
            topic="monitor",
        )

    # --- helpers ---------------------------------------------------------------------------

    def _emit(self, cls: type[Event], **fields: Any) -> None:
        """Publish an event; a subscriber that raises must not stop the monitor (it is noted)."""
        try:
            self.bus.emit(cls, **fields)
        except Exception as exc:  # noqa: BLE001 - someone else's bug: report it, keep running
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

    def _note(self, text: str, *, level: str = "info", topic: str = "") -> None:
        # Library log lines can quote a hostile server's bytes: one line, bounded, after redaction
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

    def _log_stopped(self, log: JsonlLog) -> None:
        """The ``--log`` file stopped (disk full, reader gone or stalled): say so in the history,
        once."""
        if log.problem and not self._log_said:
            self._log_said = True
            self._note(log.problem, level="error", topic="log")

    def _degraded_verdict(self) -> str | None:
        return self.degraded

    def _announce_target(self) -> None:
        s = self.settings
        proxy = effective_proxy(s)
        where = f"{s.url}{s.path} namespace {s.namespace}"
        via = f"via proxy {proxy}" if proxy else "direct (no proxy)"
        if s.insecure and s.is_tls:
            self._note(
                f"target {where}, {via}; TLS CERTIFICATE VERIFICATION IS DISABLED (--insecure): "
                "anyone on the path can read and change this connection",
                level="warning",
                topic="target",
            )
        else:
            self._note(f"target {where}, {via}; TLS: {s.tls_verify}", topic="target")
        if s.rtt_interval == 0:
            self._note(
                "round trips off (--rtt-interval 0): the connection carries only the heartbeat and "
                "the app's events, as an idle browser's does; a silent drop shows as a stall "
                f"pingInterval + {PASSIVE_STALL_GRACE_S:g} s after the last sign of life",
                topic="rtt",
            )

    def _open_real(
        self, transports: list[str], auth: dict[str, Any] | None, upgrade_timeout: float
    ) -> ConnectionLike:
        self._conn_count += 1
        return Connection(
            self.settings,
            transports,
            listener=self,
            clock=self.clock,
            auth=auth,
            upgrade_timeout=upgrade_timeout,
            number=self._conn_count,
        )

    def _new_connection(self, transports: list[str]) -> ConnectionLike:
        conn = self._open(transports, self._auth(), self.settings.ws_timeout)
        self._conns.add(conn)
        return conn

    async def _release(self, conn: ConnectionLike, *, graceful: bool) -> None:
        self._conns.discard(conn)
        await conn.close(graceful=graceful)

    def _auth(self) -> dict[str, Any] | None:
        auth = dict(self.settings.auth)
        if self._session is not None:
            auth["token"] = self._session.token
        return auth or None

    def _begin(self) -> None:
        self._set_state(State.CONNECTING)
        self._reconnect_attempt = 0
        self._cycle_task = asyncio.create_task(self._run_cycle(), name="conndebug-monitor")

    async def _restart(self, reason: str) -> None:
        await self._halt(reason, None)
        self._begin()

    async def _halt(self, reason: str, final: State | None) -> None:
        """Stop the cycle and close every connection; then enter ``final`` (if given)."""
        was = self._state
        task, self._cycle_task = self._cycle_task, None
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait({task}, timeout=5.0)
        await self._stop_live_tasks()
        conns = list(self._conns)
        self._conns.clear()
        for conn in conns:
            await conn.close(graceful=True)
        self._forget_connection()
        self._next_attempt_at = None
        if was in (State.CONNECTED, State.STALLED, State.CONNECTING, State.RECONNECTING):
            self._emit(Disconnected, reason=reason, will_reconnect=final is None)
        if final is not None:
            self._set_state(final, self._verdict if final is State.STOPPED else None)

    def _forget_connection(self) -> None:
        """No connection now: its ids, transport and age are no longer true."""
        self._conn = None
        self._sid = None
        self._engine_sid = None
        self._transport = None
        self._how = None
        self._connected_since = None

    async def _stop_live_tasks(self) -> None:
        tasks, self._live_tasks = self._live_tasks, []
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=2.0)

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
            await self._stop_live_tasks()
            for conn in list(self._conns):
                await self._release(conn, graceful=False)
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
                failure = None
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

    async def _wait_delay(self, delay: float, failure: Failure | None) -> None:
        """Sleep ``delay``; stop early once the port listens again when it was closed: after
        "connection refused", or after a drop (``failure`` None) with the port closed right
        then (a server restarting). A server that dropped us but still listens gets the backoff."""
        sleeper = asyncio.ensure_future(self.clock.sleep(delay))
        host, port = host_port(self.settings.url)
        if failure is None:
            watch = not effective_proxy(self.settings) and not await self._port_check(host, port)
        else:
            watch = failure.kind is FailureKind.REFUSED and not effective_proxy(self.settings)
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

    async def _ensure_session(self) -> Failure | None:
        """Have the token the attempt should use (or none); a failure if the endpoint failed."""
        s = self.settings
        if self._session is not None:
            return None
        if s.token:
            self._session = session_from_token(s.token, source="token")
            self._session_created_at = self.clock.time()
            self._emit_session_created(self._session)
            return None
        if s.no_guest or self._guest_absent:
            return None
        result = await self._create_guest(s)
        if result.session is not None:
            self._adopt_session(result.session)
            self._emit_session_created(result.session)
            return None
        if result.absent is not None:
            self._guest_absent = True
            self._note(f"{result.absent}; connecting without auth", level="warning", topic="guest")
            return None
        message = f"cannot create a guest session: {result.error}"
        self._emit(ConnectError, message=self.redactor.text(message), source="transport")
        return Failure(
            kind=result.kind or FailureKind.OTHER,
            message=message,
            transport="http",
            status=result.status,
        )

    def _adopt_session(self, session: GuestSession) -> None:
        self.redactor.add(session.token)
        self._session = session
        self._session_created_at = self.clock.time()

    def _emit_session_created(self, session: GuestSession) -> None:
        self._emit(
            SessionCreated,
            username=session.username,
            user_id=session.user_id,
            session_id=session.session_id,
            expires_at=session.expires_at,
            token=self.redactor.secret(session.token, "token"),
            source=session.source,
        )
        if session.problem is not None:
            unsigned = "alg: none" in session.problem
            self._note(
                f"{'guest session' if session.source == 'guest' else '--token'}: {session.problem}",
                level="warning" if unsigned or session.source == "guest" else "info",
                topic="session",
            )

    async def _attempt(self, attempt: int) -> Failure | None:
        """One connection attempt over the transports in order; ``None`` once connected."""
        failure = await self._ensure_session()
        if failure is not None:
            return failure
        s = self.settings
        order = list(s.transports)
        started = self.clock.monotonic()
        self._emit(Connecting, url=s.url, transport=order[0], attempt=attempt)
        if order[0] == "polling":
            conn = self._new_connection(order)
            failure = await conn.connect(s.connect_timeout)
            if failure is None:
                self._adopt(conn, started, "direct")
                return None
            await self._release(conn, graceful=False)
            return self._report(failure)

        conn = self._new_connection(["websocket"])
        limit = s.ws_timeout if len(order) > 1 else s.connect_timeout
        first = await conn.connect(limit)
        if first is None:
            self._adopt(conn, started, "direct")
            return None
        await self._release(conn, graceful=False)
        if len(order) == 1 or first.kind is FailureKind.REJECTED:
            return self._report(first)
        elapsed_ms = round((self.clock.monotonic() - started) * 1000.0, 1)
        if not first.kind.network_level:
            self._emit(
                Fallback,
                from_transport="websocket",
                to_transport="polling",
                why=self.redactor.text(first.message),
                elapsed_ms=elapsed_ms,
            )
        conn = self._new_connection(["polling"])
        remaining = max(1.0, s.connect_timeout - (self.clock.monotonic() - started))
        second = await conn.connect(remaining)
        if second is None:
            if first.kind.network_level:
                self._emit(
                    Fallback,
                    from_transport="websocket",
                    to_transport="polling",
                    why=self.redactor.text(first.message),
                    elapsed_ms=elapsed_ms,
                )
            self._adopt(conn, started, "fallback", fell_back=first.message)
            return None
        await self._release(conn, graceful=False)
        if second.kind is FailureKind.REJECTED or not first.kind.network_level:
            if second.kind is not FailureKind.REJECTED:
                second = Failure(
                    kind=second.kind,
                    message=f"{second.message} (over polling; the websocket failed first: "
                    f"{first.message})",
                    transport="polling",
                    data=second.data,
                    status=second.status,
                    elapsed_ms=second.elapsed_ms,
                )
            return self._report(second)
        return self._report(first)

    def _report(self, failure: Failure) -> Failure:
        self._emit(
            ConnectError,
            message=one_line(self.redactor.text(failure.message), NOTE_CHARS),
            data=self.redactor.value(failure.data),
            source=failure.source,
        )
        return failure

    def _adopt(
        self,
        conn: ConnectionLike,
        started: float,
        how: str,
        *,
        fell_back: str | None = None,
    ) -> None:
        """The attempt succeeded: report the connection and start watching it."""
        self._conn = conn
        transport = conn.transport or conn.transports[0]
        upgraded = how == "direct" and conn.transports[0] == "polling" and transport == "websocket"
        event_how = "upgraded" if upgraded else how
        self.degraded = None
        if fell_back is not None:
            self._how = f"fell back: {self.redactor.text(fell_back)}"
            self.degraded = f"connected over polling only: the websocket failed ({self.redactor.text(fell_back)})"
        elif conn.upgrade_offered_but_failed:
            why = self.redactor.text(conn.upgrade_why())
            self._emit(UpgradeFailed, why=why)
            self._how = f"upgrade failed: {why}"
            self.degraded = f"connected over polling only: the websocket upgrade failed ({why})"
        else:
            self._how = event_how
        previous = "polling" if upgraded else self._last_transport
        self._transport = self._last_transport = transport
        self._sid = conn.sid
        self._engine_sid = conn.engine_sid
        self._upgrades = conn.upgrades
        self._ping_interval_ms = conn.ping_interval_ms
        self._ping_timeout_ms = conn.ping_timeout_ms
        self._connected_since = self.clock.time()
        now = self.clock.monotonic()
        self._liveness.reset(now)
        self._liveness.stall_after = self._stall_after()
        self._emit(TransportChanged, transport=transport, previous=previous, how=event_how)
        self._emit(
            Connected,
            transport=transport,
            sid=self._sid,
            engine_sid=self._engine_sid,
            namespace=self.settings.namespace,
            how=event_how,
            ping_interval_ms=self._ping_interval_ms,
            ping_timeout_ms=self._ping_timeout_ms,
            elapsed_ms=round((now - started) * 1000.0, 1),
        )
        self._set_state(State.CONNECTED, self.degraded)
        self._regenerations.connected()  # the loop guard counts only fresh sessions that fail
        conn.announce()
        self._live_tasks = [asyncio.create_task(self._stall_loop(conn), name="conndebug-stall")]
        if self.settings.rtt_interval > 0:
            self._live_tasks.append(asyncio.create_task(self._rtt_loop(conn), name="conndebug-rtt"))

    async def _hold(self) -> bool:
        """Wait for the connection to end; ``True`` if automatic reconnection follows."""
        conn = self._conn
        assert conn is not None
        reason = await conn.closed
        await self._stop_live_tasks()
        await self._release(conn, graceful=False)
        self._forget_connection()
        if conn.kicked:
            self._emit(Disconnected, reason=reason, will_reconnect=False)
            self._set_state(
                State.DISCONNECTED,
                "the server disconnected this socket (io server disconnect); not reconnecting "
                "automatically, as socket.io clients do — reconnect by hand",
            )
            return False
        self._emit(Disconnected, reason=self.redactor.text(reason), will_reconnect=True)
        self._set_state(State.RECONNECTING, f"dropped: {self.redactor.text(reason)}")
        return True

    async def _after_failure(self, failure: Failure) -> str:
        """After a failed attempt: ``retry`` (backoff), ``now`` (regenerated) or ``stop``."""
        if failure.kind is not FailureKind.REJECTED:
            self._verdict = self.redactor.text(failure.message)
            return "retry"
        message = self.redactor.text(failure.message)
        if not is_expiry_message(failure.message):
            verdict = f"the server rejected the connection: “{message}”"
            self._set_state(State.FAILED, verdict)
            return "stop"
        session = self._session
        self._emit(
            SessionExpired, message=message, session_id=session.session_id if session else None
        )
        if self.settings.token:
            self._set_state(
                State.FAILED,
                f"the server says the given token expired (“{message}”); a --token cannot be "
                "regenerated: get a new token, or drop --token to use a guest session",
            )
            return "stop"
        if self.settings.no_guest or self._guest_absent:
            self._set_state(
                State.FAILED,
                f"the server says the session expired (“{message}”) and there is no guest "
                "endpoint to get a new one from",
            )
            return "stop"
        now = self.clock.monotonic()
        guard = self._regenerations
        if not guard.allows(now):
            self._set_state(
                State.FAILED,
                f"the session expired again right after {guard.recent(now)} new guest "
                f"sessions within {guard.window_s:.0f} s (“{message}”): stopped to avoid a "
                "loop — the server rejects its own fresh sessions",
            )
            return "stop"
        previous = session.session_id if session else None
        self._session = None
        result = await self._create_guest(self.settings)
        if result.session is None:
            why = result.error or result.absent or "no session"
            self._emit(
                ConnectError,
                message=self.redactor.text(f"cannot create a new guest session: {why}"),
                source="transport",
            )
            if result.absent is not None:
                self._set_state(
                    State.FAILED,
                    f"the session expired and no new one can be created: {self.redactor.text(why)}",
                )
                return "stop"
            self._verdict = self.redactor.text(why)
            return "retry"
        self._adopt_session(result.session)
        count = guard.record(now)
        self._emit(
            SessionRegenerated,
            username=result.session.username,
            user_id=result.session.user_id,
            session_id=result.session.session_id,
            previous_session_id=previous,
            count=count,
        )
        await self.clock.sleep(REGENERATE_PAUSE_S)
        return "now"

    # --- liveness -----------------------------------------------------------------------------

    async def _rtt_loop(self, conn: ConnectionLike) -> None:
        method = self.settings.rtt_event or "namespace-probe"
        while conn is self._conn:
            timeout = max(2.0, 2.0 * self._liveness.bound)
            stalls = self._liveness.stalls
            ms = await conn.round_trip(self.settings.rtt_event, timeout)
            if conn is not self._conn:
                return
            if ms is not None:
                self._rtt_misses = 0
                if self._liveness.rtt(ms, stalls_at_send=stalls):
                    # One that spanned a stall timed the silence: in the history, not in RTT.
                    self._rtt_ms = round(ms, 3)
                self._emit(Rtt, ms=round(ms, 3), method=method)
            else:
                self._rtt_misses += 1
                self._rtt_missed += 1
                if self._rtt_misses == 1 and self.settings.rtt_event:
                    self._note(
                        f"no ack for --rtt-event “{self.settings.rtt_event}” within {timeout:.1f} s",
                        level="warning",
                        topic="rtt",
                    )
            await self.clock.sleep(self.settings.rtt_interval)

    async def _stall_loop(self, conn: ConnectionLike) -> None:
        while conn is self._conn:
            await self.clock.sleep(min(0.25, self._liveness.bound / 4.0))
            if conn is not self._conn:
                return
            now = self.clock.monotonic()
            if self._liveness.check(now) is LivenessChange.STALLED:
                silent = self._liveness.silence(now)
                bound = self._liveness.bound
                self._emit(Stall, silent_s=round(silent, 3), bound_s=round(bound, 3))
                self._set_state(
                    State.STALLED,
                    f"the server went silent (nothing for more than {bound:.1f} s): the path may "
                    "be black-holed; the heartbeat would notice only after "
                    f"{self._heartbeat_deadline()}",
                )

    def _stall_after(self) -> float:
        """The least silence that counts as a stall on this connection.

        With round trips every ``--rtt-interval`` seconds, a healthy path shows life at least that
        often: ``--stall-after``. Without them (``--rtt-interval 0``) the server's heartbeat is the
        only regular traffic: it is due every pingInterval, so the bound is pingInterval + 5 s.
        """
        if self.settings.rtt_interval > 0:
            return self.settings.stall_after
        if self._ping_interval_ms is None:
            return max(self.settings.stall_after, self.settings.connect_timeout)
        return self._ping_interval_ms / 1000.0 + PASSIVE_STALL_GRACE_S

    def _heartbeat_deadline(self) -> str:
        if self._ping_interval_ms is None or self._ping_timeout_ms is None:
            return "pingInterval + pingTimeout"
        return f"{(self._ping_interval_ms + self._ping_timeout_ms) / 1000:.0f} s (pingInterval + pingTimeout)"


def make_monitor(
    settings: Settings,
    *,
    bus: EventBus | None = None,
    clock: Clock | None = None,
    rng: random.Random | None = None,
    admin_key: str | None = None,
) -> Monitor:
    """The monitor for ``settings`` (the CLI, the TUI and tests use this factory)."""
    clock = clock or (bus.clock if bus is not None else SystemClock())
    bus = bus or EventBus(clock=clock, history_size=settings.history_size)
    return Monitor(settings, bus=bus, clock=clock, rng=rng, admin_key=admin_key)
