"""The reference server: the chat backend's contract, plus fault switches that are real on the wire.

Layout::

    clients ──TCP──▶ Relay (public host:port) ──TCP──▶ aiohttp app (127.0.0.1:ephemeral)
                     black hole, latency,               REST, CORS, limits, admin API,
                     restart (listener closed)          websocket reject/blackhole,
                                                        python-socketio AsyncServer

Everything a client can observe passes the relay, so a black hole really keeps TCP connections
open without a byte flowing, and a restart really refuses connections. The admin API is served on
the public port too; connections whose first request is an admin call are exempt from the faults.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import errno
import logging
import random
import secrets
import time
import urllib.parse
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import socketio
from aiohttp import web
from engineio import packet as eio_packet
from socketio import packet as sio_packet

from conndebug import __version__
from conndebug.core.clock import Clock, SystemClock
from conndebug.core.errors import ConfigError, ServerError
from conndebug.server.app import ENGINEIO_MAX_BYTES, build_app
from conndebug.server.config import (
    Faults,
    ServerConfig,
    check_cors_mode,
    check_latency,
    check_websocket_mode,
    is_loopback_host,
    validate_config,
)
from conndebug.server.limits import WindowLimiter
from conndebug.server.relay import Relay
from conndebug.server.store import SessionStore, make_store
from conndebug.server.tokens import (
    MSG_NOT_GUEST,
    MSG_RATE_LIMIT,
    MSG_SESSION_GONE,
    MSG_SOCKET_NO_TOKEN,
    MSG_VERIFY_FAILED,
    AuthRejected,
    issue_token,
    random_username,
    verify_token,
)

__all__ = ["ReferenceServer", "ServerStats"]

log = logging.getLogger("conndebug.server")
_sio_logger = logging.getLogger("conndebug.server.socketio")
_eio_logger = logging.getLogger("conndebug.server.engineio")
for _logger in (_sio_logger, _eio_logger):
    _logger.setLevel(logging.WARNING)

_NAMESPACE = "/"
STORM_MAX = 1_000_000
"""The most events one ``storm`` request sends."""
STORM_PAD_MAX = 1_000_000
"""The largest ``size`` (padding characters per event) of a ``storm``."""
STORM_BYTES_MAX = 64 << 20
"""The most padding one ``storm`` request sends in all (count × size); beyond, fewer events."""
STORM_QUEUED_BYTES = 2 << 20
"""A storm waits while about this much of it is queued for a client that does not read."""


def _close_on_parse_error(sio: socketio.AsyncServer) -> None:
    """Close a connection that sends a malformed Socket.IO packet, as Node's server does.

    python-socketio lets the decoding error escape into python-engineio, which logs a traceback
    per bad packet (a hostile client could fill the console) and keeps the connection.
    """
    handle = sio.eio.handlers["message"]

    async def guarded(eio_sid: str, data: Any) -> Any:
        try:
            return await handle(eio_sid, data)
        except (ValueError, TypeError, KeyError, IndexError) as exc:
            log.warning("closing a connection that sent a malformed packet (parse error: %s)", exc)
            # Not awaited here: this runs inside the request that carried the packet, and a
            # polling disconnect waits for that very request to finish.
            sio.start_background_task(sio.eio.disconnect, eio_sid)
            return None

    sio.eio.handlers["message"] = guarded


@dataclass(frozen=True)
class ServerStats:
    """Counts at one moment."""

    sockets: int
    """Connected Socket.IO sockets."""
    users: int
    """Distinct users among them."""
    sessions: int
    """Live server-side session records."""
    connections: int
    """TCP connections through the public port."""
    listening: bool
    """False while a restart keeps the port closed."""

    def as_json(self) -> dict[str, Any]:
        return {
            "sockets": self.sockets,
            "users": self.users,
            "sessions": self.sessions,
            "connections": self.connections,
            "listening": self.listening,
        }


@dataclass(frozen=True)
class _Socket:
    sid: str
    user_id: str
    username: str
    session_id: str


def _iso(ts: float) -> str:
    return (
        dt.datetime.fromtimestamp(ts, tz=dt.timezone.utc)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


class ReferenceServer:
    """The chat backend's contract on a real port, with switches to break it on purpose."""

    def __init__(
        self,
        config: ServerConfig,
        *,
        clock: Clock | None = None,
        store: SessionStore | None = None,
        rng: random.Random | None = None,
    ) -> None:
        validate_config(config)
        self.config = config
        self._clock: Clock = clock or SystemClock()
        self._rng = rng or random.Random()
        self._secret = config.secret or secrets.token_urlsafe(32)
        self._admin_key = config.admin_key or secrets.token_urlsafe(18)
        self._own_store = store is None
        self._store: SessionStore = store or make_store(config.redis_url, self._clock)
        self._faults = Faults(
            websocket=config.websocket, latency_ms=float(config.latency_ms), cors=config.cors
        )
        self._listeners: list[Callable[[str], None]] = []
        self._sockets: dict[str, _Socket] = {}
        self.api_limiter = WindowLimiter(*config.api_rate_limit, self._clock)
        """Counts REST calls under ``/api/`` per client."""
        self._socket_limiter = WindowLimiter(*config.socket_rate_limit, self._clock)
        self._state = "new"
        self._started_mono = 0.0
        self._sio: Any = None
        self._cluster: Any = None
        """python-socketio's AsyncRedisManager with ``redis_url``: the nodes' shared broadcasts."""
        self._runner: web.AppRunner | None = None
        self._relay: Relay | None = None
        self._internal_port = 0
        self._restart_task: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()
        self._ws_release = asyncio.Event()
        self._stopping = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._storming: set[str] = set()
        """Sockets with a storm under way (one at a time each)."""

    # -- lifecycle -------------------------------------------------------------------------------
    async def start(self) -> None:
        """Bind the public port (and the internal one); afterwards ``port``/``url`` are set."""
        if self._state != "new":
            raise ServerError("this server was already started", "create a new ReferenceServer")
        self._state = "starting"
        self._started_mono = time.monotonic()
        if self.config.redis_url:
            try:
                self._cluster = await _open_cluster(self.config.redis_url)
            except BaseException:
                if self._own_store:
                    await self._store.close()
                self._state = "stopped"
                raise
        sio = socketio.AsyncServer(
            client_manager=self._cluster,
            async_mode="aiohttp",
            ping_interval=self.config.ping_interval,
            ping_timeout=self.config.ping_timeout,
            cors_allowed_origins=[],  # CORS is done by the app's middleware, like Node's cors
            logger=_sio_logger,
            engineio_logger=_eio_logger,
            max_http_buffer_size=ENGINEIO_MAX_BYTES,
        )
        self._sio = sio
        _close_on_parse_error(sio)
        if self._cluster is not None:
            # Subscribe now, not at the first client: broadcasts of other nodes must not be missed.
            sio.manager_initialized = True
            self._cluster.initialize()
        self._register_handlers(sio)
        app = build_app(self)
        sio.attach(app)
        runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=2.0)
        await runner.setup()
        self._runner = runner
        site = web.TCPSite(runner, "127.0.0.1", 0, reuse_address=True)
        await site.start()
        self._internal_port = int(runner.addresses[0][1])
        relay = Relay(self.config.host, self.config.port, ("127.0.0.1", self._internal_port))
        relay.set_latency(self._faults.latency_ms)
        relay.set_blackhole(self._faults.blackhole)
        self._relay = relay
        try:
            await relay.listen()
        except OSError as exc:
            await self._teardown()
            self._state = "stopped"
            raise _bind_error(self.config.host, self.config.port, exc) from exc
        self._listening.set()
        self._state = "running"

    async def stop(self) -> None:
        """Close everything: listener, connections, sockets, the app. Idempotent."""
        if self._state in ("new", "stopped"):
            self._state = "stopped"
            return
        if self._state == "stopping":
            await self._stopping.wait()
            return
        self._state = "stopping"
        try:
            await self._teardown()
        finally:
            self._state = "stopped"
            self._stopping.set()

    async def _teardown(self) -> None:
        if self._restart_task is not None:
            self._restart_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._restart_task
            self._restart_task = None
        self._ws_release.set()
        self._listening.clear()
        if self._relay is not None:
            await self._relay.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=2.0)
        if self._sio is not None:
            await self._drop_engine_sockets()
            await self._sio.shutdown()
            service = getattr(self._sio.eio, "service_task_handle", None)
            if service is not None and not service.done():
                service.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await service
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._cluster is not None:
            from conndebug.server.redis_store import close_cluster

            await close_cluster(self._cluster)
            self._cluster = None
        if self._own_store:
            await self._store.close()

    async def __aenter__(self) -> ReferenceServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # -- addresses -------------------------------------------------------------------------------
    @property
    def port(self) -> int:
        """The public port (known after ``start``)."""
        return self._relay.port if self._relay is not None else self.config.port

    @property
    def url(self) -> str:
        """``http://host:port`` to reach the server (loopback when bound to every address)."""
        host = self.config.host
        if host in ("", "0.0.0.0"):
            host = "127.0.0.1"
        elif host == "::":
            host = "::1"
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @property
    def internal_url(self) -> str:
        """The aiohttp application itself, behind the relay (no relay faults apply there)."""
        return f"http://127.0.0.1:{self._internal_port}"

    @property
    def admin_key(self) -> str:
        """The key of the ``/_conndebug/`` admin API."""
        return self._admin_key

    @property
    def secret(self) -> str:
        """The JWT signing secret (tests sign their own tokens with it)."""
        return self._secret

    async def wait_listening(self, timeout: float) -> None:
        """Wait until the public port accepts connections (e.g. after a restart)."""
        await asyncio.wait_for(self._listening.wait(), timeout)

    # -- faults ----------------------------------------------------------------------------------
    @property
    def faults(self) -> Faults:
        """The switches now (a frozen snapshot)."""
        return self._faults

    def faults_json(self) -> dict[str, Any]:
        """The switches as ``GET /_conndebug/faults`` shows them."""
        return self._faults.as_json(self._clock.monotonic())

    def on_change(self, callback: Callable[[str], None]) -> Callable[[], None]:
        """Call ``callback`` with a plain-words line on every change; returns an unsubscribe."""
        self._listeners.append(callback)

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                self._listeners.remove(callback)

        return unsubscribe

    def _notify(self, line: str) -> None:
        log.info("%s", line)
        for callback in list(self._listeners):
            try:
                callback(line)
            except Exception:
                log.exception("an on_change callback failed")

    def set_websocket(self, mode: str) -> None:
        """``allow`` | ``reject`` (403 before any handshake) | ``blackhole`` (never answered)."""
        check_websocket_mode(mode)
        if mode == self._faults.websocket:
            return
        self._faults = replace(self._faults, websocket=mode)
        # Upgrades held by an earlier black hole are dropped now.
        self._ws_release.set()
        self._ws_release = asyncio.Event()
        self._notify(
            {
                "allow": "websocket: allowed again",
                "reject": "websocket: blocked — upgrade requests are answered 403, as a proxy would",
                "blackhole": "websocket: black-holed — upgrade requests are accepted and never answered",
            }[mode]
        )

    def set_blackhole(self, on: bool) -> None:
        """Black-hole all traffic (connections stay open, nothing flows) or resume it."""
        if bool(on) == self._faults.blackhole:
            return
        self._faults = replace(self._faults, blackhole=bool(on))
        if self._relay is not None:
            self._relay.set_blackhole(bool(on))
        self._notify(
            "all traffic: black-holed — connections stay open, nothing is answered"
            if on
            else "all traffic: flowing again — held bytes are delivered"
        )

    def set_latency(self, ms: float) -> None:
        """Delay every chunk by ``ms`` in each direction (0: none)."""
        ms = check_latency(ms)
        if ms == self._faults.latency_ms:
            return
        self._faults = replace(self._faults, latency_ms=ms)
        if self._relay is not None:
            self._relay.set_latency(ms)
        self._notify(
            f"latency: +{ms:g} ms each way (+{2 * ms:g} ms per round trip)"
            if ms
            else "latency: none added"
        )

    def set_cors(self, mode: str) -> None:
        """``strict`` (the allow-list) or ``reflect`` (any Origin, with credentials)."""
        check_cors_mode(mode)
        if mode == self._faults.cors:
            return
        self._faults = replace(self._faults, cors=mode)
        self._notify(
            "CORS: reflecting any Origin with credentials (insecure)"
            if mode == "reflect"
            else "CORS: strict allow-list " + ", ".join(self.config.cors_origins)
        )

    def apply_faults(self, changes: Mapping[str, Any]) -> None:
        """Apply a ``PUT /_conndebug/faults`` body: all of it, or nothing (ConfigError)."""
        unknown = sorted(set(changes) - {"websocket", "blackhole", "latency_ms", "cors"})
        if unknown:
            raise ConfigError(
                f"unknown fault {', '.join(unknown)}", "use websocket, blackhole, latency_ms, cors"
            )
        if "websocket" in changes:
            check_websocket_mode(str(changes["websocket"]))
        if "cors" in changes:
            check_cors_mode(str(changes["cors"]))
        if "blackhole" in changes and not isinstance(changes["blackhole"], bool):
            raise ConfigError("blackhole must be true or false", 'e.g. {"blackhole": true}')
        if "latency_ms" in changes:
            check_latency(changes["latency_ms"])
        if "websocket" in changes:
            self.set_websocket(str(changes["websocket"]))
        if "cors" in changes:
            self.set_cors(str(changes["cors"]))
        if "latency_ms" in changes:
            self.set_latency(float(changes["latency_ms"]))
        if "blackhole" in changes:
            self.set_blackhole(bool(changes["blackhole"]))

    async def hold_websocket(self, request: web.Request) -> None:
        """Keep a black-holed websocket handshake unanswered until released or abandoned."""
        release = self._ws_release
        while not release.is_set():
            transport = request.transport
            if transport is None or transport.is_closing():
                return
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(release.wait(), 1.0)

    async def kick_all(self) -> int:
        """Disconnect every socket from the server side (``io server disconnect``)."""
        sids = list(self._sockets)
        for sid in sids:
            await self._sio.disconnect(sid, namespace=_NAMESPACE)
        self._notify(f"kicked {len(sids)} socket{'s' if len(sids) != 1 else ''}")
        return len(sids)

    async def expire(self, session_id: str | None = None) -> int:
        """Delete one or all session records (their tokens stay valid); how many were deleted."""
        if session_id is None:
            count = await self._store.delete_all()
            self._notify(f"expired all sessions ({count})")
        else:
            count = int(await self._store.delete(session_id))
            self._notify(
                f"expired session {session_id}" if count else f"no live session {session_id}"
            )
        return count

    async def restart(self, down_s: float = 3.0) -> None:
        """Go down now (listener closed, connections and sockets dropped), up after ``down_s``."""
        if self._state != "running" or self._relay is None:
            raise ServerError("the server is not running", "start it first")
        if not 0 < down_s <= 3600:
            raise ConfigError(f"down time {down_s:g} s is out of range", "use (0, 3600] seconds")
        if self._restart_task is not None:
            self._restart_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._restart_task
        relay = self._relay
        relay.close_listener()
        self._listening.clear()
        dropped = relay.abort_all(include_exempt=False)
        await self._drop_engine_sockets()
        self._faults = replace(self._faults, down_until=self._clock.monotonic() + down_s)
        self._notify(
            f"restart: down for {down_s:g} s — {dropped} connection(s) dropped, "
            "new connections refused"
        )
        self._restart_task = asyncio.create_task(self._come_back(down_s))

    async def _come_back(self, down_s: float) -> None:
        assert self._relay is not None
        await self._clock.sleep(down_s)
        attempt = 0
        while True:
            try:
                await self._relay.listen()
                break
            except OSError as exc:
                attempt += 1
                if attempt == 1 or attempt % 20 == 0:
                    self._notify(f"restart: cannot listen on port {self.port} again yet ({exc})")
                await asyncio.sleep(0.5)
        self._faults = replace(self._faults, down_until=None)
        self._listening.set()
        self._notify(f"back up: listening on port {self.port} again")

    async def _drop_engine_sockets(self) -> None:
        """Close every Engine.IO session server-side, at once (no goodbye packets)."""
        eio = self._sio.eio
        for eio_sid, sock in list(eio.sockets.items()):
            await sock.close(wait=False, abort=True, reason=eio.reason.TRANSPORT_CLOSE)
            eio.sockets.pop(eio_sid, None)

    # -- stats -----------------------------------------------------------------------------------
    async def stats(self) -> ServerStats:
        """Connected sockets, users, live sessions, relayed connections."""
        return ServerStats(
            sockets=len(self._sockets),
            users=len({s.user_id for s in self._sockets.values()}),
            sessions=await self._store.count(),
            connections=len(self._relay.links) if self._relay is not None else 0,
            listening=self._listening.is_set(),
        )

    def health(self) -> dict[str, Any]:
        """The ``GET /health`` body."""
        return {
            "success": True,
            "message": "Server is running",
            "timestamp": _iso(self._clock.time()),
            "uptime": round(time.monotonic() - self._started_mono, 3),
            "version": __version__,
        }

    # -- sessions and tokens ---------------------------------------------------------------------
    async def create_guest(self, **fields: str | None) -> tuple[str, dict[str, Any]]:
        """Create a guest session as ``POST /api/guest`` does; returns (token, user)."""
        unknown = set(fields) - {"username", "location", "gender", "language"}
        if unknown:
            raise TypeError(f"unknown guest field(s): {', '.join(sorted(unknown))}")
        session_id = str(uuid.uuid4())
        user_id = f"guest_{uuid.uuid4()}"
        username = fields.get("username") or random_username(self._rng)
        user: dict[str, Any] = {
            "id": user_id,
            "username": username,
            "isGuest": True,
            "sessionId": session_id,
            "location": fields.get("location"),
            "gender": fields.get("gender"),
            "language": fields.get("language"),
        }
        now = self._clock.time()
        record = {
            **user,
            "createdAt": _iso(now),
            "expiresAt": _iso(now + self.config.session_ttl),
        }
        await self._store.put(session_id, record, self.config.session_ttl)
        token = issue_token(
            secret=self._secret,
            clock=self._clock,
            ttl=self.config.token_ttl,
            user_id=user_id,
            session_id=session_id,
            username=username,
        )
        return token, user

    async def session_record(self, session_id: str) -> dict[str, Any] | None:
        """The live session record, or ``None``."""
        return await self._store.get(session_id)

    async def authenticate(self, token: str) -> dict[str, Any]:
        """The session record behind ``token``; raises AuthRejected with the backend's message."""
        claims = verify_token(token, secret=self._secret, clock=self._clock)
        if claims.get("isGuest") is not True:
            raise AuthRejected(MSG_NOT_GUEST)
        session_id = claims.get("sessionId")
        record = await self._store.get(session_id) if isinstance(session_id, str) else None
        if record is None:
            raise AuthRejected(MSG_SESSION_GONE)
        return record

    def origin_allowed(self, origin: str) -> bool:
        """Whether CORS answers this Origin with allow headers now."""
        return self._faults.cors == "reflect" or origin in self.config.cors_origins

    def end_exemption(self, request: web.Request) -> None:
        """The request's connection is no longer exempt from the relay's faults."""
        transport = request.transport
        if transport is not None and self._relay is not None:
            self._relay.end_exemption(transport.get_extra_info("peername"))

    def client_key(self, request: web.Request) -> str:
        """Who a request comes from, as the rate limiter counts (the relay's real peer)."""
        transport = request.transport
        peer = None
        if transport is not None and self._relay is not None:
            peer = self._relay.client_of(transport.get_extra_info("peername"))
        if peer:
            return str(peer[0])
        return request.remote or "unknown"

    # -- Socket.IO -------------------------------------------------------------------------------
    def _register_handlers(self, sio: Any) -> None:
        sio.on("connect", self._on_connect)
        sio.on("disconnect", self._on_disconnect)
        sio.on("get:stats", self._on_get_stats)
        sio.on("conndebug:ping", self._on_ping)
        sio.on("echo", self._on_echo)
        sio.on("storm", self._on_storm)
        # When an Engine.IO session ends, answer its pending long-poll at once: python-engineio
        # otherwise leaves it hanging for up to pingInterval + pingTimeout, which makes a
        # polling client's disconnect (and an auth rejection over polling) take that long.
        inner = sio.eio.handlers["disconnect"]

        async def on_eio_disconnect(eio_sid: str, reason: str) -> None:
            await inner(eio_sid, reason)
            sock = sio.eio.sockets.get(eio_sid)
            if sock is not None:
                sock.queue.put_nowait(eio_packet.Packet(eio_packet.NOOP))

        sio.eio.on("disconnect", on_eio_disconnect)

    async def _on_connect(self, sid: str, environ: dict[str, Any], auth: Any) -> None:
        token = auth.get("token") if isinstance(auth, dict) else None
        if not token:
            query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""))
            token = (query.get("token") or [None])[0]
        if not token or not isinstance(token, str):
            raise socketio.exceptions.ConnectionRefusedError(MSG_SOCKET_NO_TOKEN)
        try:
            record = await self.authenticate(token)
        except AuthRejected as exc:
            raise socketio.exceptions.ConnectionRefusedError(exc.message) from None
        except ServerError as exc:  # the session store failed (Redis down): the backend's catch-all
            log.error("%s", exc)
            raise socketio.exceptions.ConnectionRefusedError(MSG_VERIFY_FAILED) from None
        if not self._socket_limiter.hit(str(record["id"])).allowed:
            raise socketio.exceptions.ConnectionRefusedError(MSG_RATE_LIMIT)
        self._sockets[sid] = _Socket(
            sid=sid,
            user_id=str(record["id"]),
            username=str(record["username"]),
            session_id=str(record["sessionId"]),
        )
        self._spawn(self._after_connect(sid))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _after_connect(self, sid: str) -> None:
        # The CONNECT packet goes out after the connect handler returns; events must follow it.
        for _ in range(100):
            if self._sio.manager.is_connected(sid, _NAMESPACE) or sid not in self._sockets:
                break
            await asyncio.sleep(0)
        info = self._sockets.get(sid)
        if info is None:
            return
        await self._sio.emit(
            "connection:established",
            {
                "userId": info.user_id,
                "username": info.username,
                "socketId": sid,
                "isGuest": True,
                "sessionId": info.session_id,
            },
            to=sid,
        )
        await self._broadcast_stats()

    async def _on_disconnect(self, sid: str, reason: str = "") -> None:
        if self._sockets.pop(sid, None) is not None and self._state == "running":
            self._spawn(self._broadcast_stats())

    async def _stats_payload(self) -> dict[str, Any]:
        users: dict[str, dict[str, Any]] = {}
        for info in self._sockets.values():
            users.setdefault(
                info.user_id,
                {
                    "id": info.user_id,
                    "username": info.username,
                    "isGuest": True,
                    "socketId": info.sid,
                },
            )
        online = len(users)
        try:
            total = await self._store.count()
        except ServerError as exc:  # the session store failed (Redis down): count what is here
            log.error("%s", exc)
            total = online
        return {
            "stats": {
                "totalUsers": total,
                "onlineUsers": online,
                "activeUsers": online,
                "availableUsers": online,
                "connectedUsers": len(self._sockets),
            },
            "onlineUsers": list(users.values()),
            "timestamp": _iso(self._clock.time()),
        }

    async def _broadcast_stats(self) -> None:
        await self._sio.emit("realtime:stats", await self._stats_payload())

    async def _on_get_stats(self, sid: str, *args: Any) -> None:
        await self._sio.emit("realtime:stats", await self._stats_payload(), to=sid)

    async def _on_ping(self, sid: str, *args: Any) -> dict[str, int]:
        return {"serverTime": round(self._clock.time() * 1000)}

    async def _on_echo(self, sid: str, *args: Any) -> tuple[Any, ...]:
        return args

    async def _on_storm(self, sid: str, spec: Any = None, *args: Any) -> None:
        """``storm {count, size, name}``: numbered events as fast as the client reads them.

        Caps per request: :data:`STORM_MAX` events, :data:`STORM_PAD_MAX` characters of padding
        each, :data:`STORM_BYTES_MAX` of padding in all (the count is cut to fit; ``storm:done``
        says so), one storm at a time per socket. Backpressure: while more than about
        :data:`STORM_QUEUED_BYTES` wait in the socket's Engine.IO queue (a client that does not
        read, over either transport), the storm waits; it ends when the client goes.
        """
        spec = spec if isinstance(spec, dict) else {}
        try:
            count = int(spec.get("count", 1000))
            size = int(spec.get("size", 0))
        except (TypeError, ValueError, OverflowError):
            return
        name = spec.get("name") if isinstance(spec.get("name"), str) else "storm"
        name = name[:100]
        size = max(0, min(size, STORM_PAD_MAX))
        asked = max(0, min(count, STORM_MAX))
        count = min(asked, STORM_BYTES_MAX // size) if size else asked
        eio_sid = self._sio.manager.eio_sid_from_sid(sid, _NAMESPACE)
        if eio_sid is None or sid in self._storming:
            return
        self._storming.add(sid)
        try:
            sent = await self._storm(sid, eio_sid, name, count, "x" * size)
        finally:
            self._storming.discard(sid)
        if sent is None:
            return  # the client left
        done: dict[str, Any] = {"count": sent}
        if sent < min(count, asked) or count < asked:
            done["capped"] = True
        await self._sio.emit("storm:done", done, to=sid)

    async def _storm(self, sid: str, eio_sid: str, name: str, count: int, pad: str) -> int | None:
        """Send the events; how many, or ``None`` when the client left."""
        # Encode each event once and hand it to Engine.IO directly: AsyncServer.emit costs a task
        # and a wait per call, which makes a 50,000-event storm several times slower.
        make = self._sio.packet_class
        per_event = len(pad) + 32
        high = max(4, min(4096, STORM_QUEUED_BYTES // per_event))
        for i in range(count):
            if sid not in self._sockets:
                return None  # the client left: stop instead of logging a warning per event
            pkt = make(sio_packet.EVENT, namespace=_NAMESPACE, data=[name, {"i": i, "pad": pad}])
            await self._sio.eio.send(eio_sid, pkt.encode())
            if i % 64 == 63 or per_event > 4096:
                await self._storm_room(sid, eio_sid, high)
        return count

    async def _storm_room(self, sid: str, eio_sid: str, high: int) -> None:
        """Wait while more than ``high`` packets wait in the socket's queue (a client that does
        not read); yield to the loop in any case, so other clients are served meanwhile."""
        await asyncio.sleep(0)
        while sid in self._sockets:
            sock = self._sio.eio.sockets.get(eio_sid)
            if sock is None or sock.closed or sock.queue.qsize() <= high:
                return
            await asyncio.sleep(0.02)


async def _open_cluster(url: str) -> Any:
    """The Redis client manager (ConfigError without the redis package, ServerError unreachable)."""
    from conndebug.server.redis_store import open_cluster  # only with --redis

    return await open_cluster(url, logger=_sio_logger)


def _bind_error(host: str, port: int, exc: OSError) -> ServerError:
    if exc.errno == errno.EADDRINUSE:
        return ServerError(
            f"port {port} on {host} is already in use",
            "stop the other server or choose another port with --port (0 picks a free one)",
        )
    if exc.errno in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT) or (
        isinstance(exc, OSError) and (exc.errno is None or "address" in str(exc).lower())
    ):
        hint = "use an address of this machine, e.g. 127.0.0.1"
        if not is_loopback_host(host):
            hint += " (or 0.0.0.0 for every address)"
        return ServerError(f"cannot bind {host}:{port}: {exc.strerror or exc}", hint)
    if exc.errno == errno.EACCES:
        return ServerError(
            f"not allowed to bind {host}:{port}", "ports below 1024 need privileges; use another"
        )
    return ServerError(f"cannot listen on {host}:{port}: {exc}", "check --host and --port")
