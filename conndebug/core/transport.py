"""One connection: a fresh python-socketio ``AsyncClient`` with its own aiohttp session and hooks.

The monitor makes a new :class:`Connection` for every connection attempt (and for each transport
of a fallback), because a client whose reconnect loop ended never reconnects again (a stale task
in python-socketio). A connection:

- owns its aiohttp session (proxy, TLS, an :class:`~conndebug.core.net.HttpTrace`) and closes it,
  so no "Unclosed client session" is left behind;
- runs ``connect()`` under an outer time limit and resets hard when it is exceeded; a server
  rejection (``CONNECT_ERROR``) ends the attempt at once instead of waiting for python-socketio's
  clean-up (which can take a whole long-poll against a python-engineio server);
- bounds a websocket *upgrade* separately (a black-holed upgrade would otherwise hang ``connect()``
  until aiohttp's 300 s default) and records why an upgrade failed;
- routes the library's log records to its listener (never to stderr);
- takes every Engine.IO packet as a sign of life (and counts server pings) through one wrapper
  around the Engine.IO client's packet intake, and takes the answers of its own namespace probes
  off the wire before python-socketio sees them (see :mod:`conndebug.core.liveness`);
- tells a server kick (a Socket.IO ``DISCONNECT`` packet) apart from a lost transport.

Every handler is wrapped: an exception in our code becomes a note, never a silent loss.

One library limit is lifted, for the Engine.IO *client* only: python-engineio decodes at most 16
packets per polling answer (a guard meant for its server) and drops the connection ("Unexpected
packet from server") when a Node server answers a long-poll with a burst of more. The client module
gets a payload class that accepts as many packets as a 1 MB answer can hold; servers keep the
guard.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import secrets
import types
import urllib.parse
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import aiohttp
import engineio
import engineio.async_client
import engineio.base_client
import engineio.payload

from conndebug.config import Settings, effective_proxy
from conndebug.core.clock import Clock
from conndebug.core.lean_socketio import import_socketio
from conndebug.core.net import (
    MAX_ANSWER_BYTES,
    FailureKind,
    HttpRecord,
    HttpTrace,
    classify,
    make_session,
)
from conndebug.core.text import one_line

socketio = import_socketio()  # first, so the Redis/Valkey libraries stay unloaded in a client
sio_packet = socketio.packet

__all__ = ["Connection", "ConnectionLike", "ConnectionListener", "Failure"]


class _ClientPayload(engineio.payload.Payload):  # type: ignore[misc]
    """A polling answer may carry a burst of packets (Node sends everything queued at once)."""

    max_decode_packets = 1_000_000


if getattr(engineio.async_client.payload, "Payload", None) is not _ClientPayload:
    engineio.async_client.payload = types.SimpleNamespace(Payload=_ClientPayload)

T = TypeVar("T")

_PROBE_PREFIX = "/conndebug-probe-"
_RESERVED_EVENTS = frozenset({"connect", "connect_error", "disconnect"})
"""Event names the library routes to its own handlers: they keep the library's path."""
_YIELD_EVERY = 32
"""Plain events handled between two turns given to the rest of the event loop during a storm."""
_LIFECYCLE_INFO = (
    "HTTP ",
    "Read loop",
    "Unexpected error",
    "Write loop",
    "WebSocket upgrade was successful",
    "Server has stopped",
)
"""Engine.IO INFO records worth keeping (per-packet records are dropped: they would flood)."""


_WS_ERROR = f"Server sent {int(aiohttp.WSMsgType.ERROR)} packet data "
"""How python-engineio logs a websocket read that failed (a broken frame, a message too large)."""


@dataclass(frozen=True)
class Failure:
    """Why one connection attempt failed."""

    kind: FailureKind
    message: str
    """Plain words; for a server rejection, exactly the server's message."""
    transport: str
    source: str = "transport"
    """``server`` for a namespace rejection, else ``transport``."""
    data: Any = None
    status: int | None = None
    elapsed_ms: float | None = None


class ConnectionListener(Protocol):
    """What a connection reports to its owner (the monitor)."""

    def conn_life(self, conn: Connection, *, ping: bool) -> None:
        """A packet arrived (``ping``: it was a server heartbeat)."""

    def conn_event(self, conn: Connection, name: str, args: tuple[Any, ...]) -> None:
        """A server event arrived on the namespace."""

    def conn_log(self, conn: Connection, topic: str, level: str, text: str) -> None:
        """A library log record worth showing (``topic``: ``engineio`` or ``socketio``)."""

    def conn_error(self, conn: Connection, where: str, exc: BaseException) -> None:
        """Our own handler code raised (a bug, reported as a note)."""


class ConnectionLike(Protocol):
    """What the monitor needs from a connection (a :class:`Connection` or a test fake)."""

    closed: asyncio.Future[str]
    kicked: bool
    transports: list[str]

    async def connect(self, limit: float) -> Failure | None: ...
    async def close(self, *, graceful: bool) -> None: ...
    async def drop(self) -> None: ...
    async def round_trip(self, event: str | None, timeout: float) -> float | None: ...
    async def emit(self, name: str, payload: Any, *, ack: bool, timeout: float) -> Any: ...
    def announce(self) -> None: ...
    def upgrade_why(self) -> str: ...

    @property
    def transport(self) -> str | None: ...
    @property
    def sid(self) -> str | None: ...
    @property
    def engine_sid(self) -> str | None: ...
    @property
    def upgrades(self) -> tuple[str, ...] | None: ...
    @property
    def ping_interval_ms(self) -> int | None: ...
    @property
    def ping_timeout_ms(self) -> int | None: ...
    @property
    def upgrade_offered_but_failed(self) -> bool: ...
    @property
    def is_connected(self) -> bool: ...


class _RouteToListener(logging.Handler):
    def __init__(self, conn: Connection, topic: str) -> None:
        super().__init__(logging.INFO)
        self.conn = conn
        self.topic = topic

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
        except (TypeError, ValueError):
            text = str(record.msg)
        self.conn._on_log(self.topic, record.levelno, text)


class _LibraryLogger(logging.Logger):
    """A real logger for the library whose per-packet INFO calls cost a prefix check, not a record.

    python-engineio/python-socketio log two or three INFO lines per packet; building those records
    took a fifth of the time of a 10,000-event burst, only to drop them. Lifecycle INFO lines
    (:data:`_LIFECYCLE_INFO`) and everything from WARNING up are kept.
    """

    def info(self, msg: object, *args: object, **kwargs: Any) -> None:
        if isinstance(msg, str) and msg.startswith(_LIFECYCLE_INFO):
            super().info(msg, *args, **kwargs)


def _logger(name: str, handler: logging.Handler) -> logging.Logger:
    logger = _LibraryLogger(name, logging.INFO)  # not registered globally: no root propagation
    logger.propagate = False
    logger.addHandler(handler)
    return logger


def _ends_the_connection(level: int, text: str) -> bool:
    """Whether an Engine.IO record of a *connected* client means its loops are giving up.

    python-engineio's client logs a warning (or ``packet queue is empty`` as an error) only when its
    read or write loop aborts; the INFO lines ending in "aborting" say the same.
    """
    if text.startswith(("WebSocket upgrade failed", "Signal handler", "Received unexpected")):
        return False
    if "aborting" in text:
        return True
    return level == logging.WARNING


def _plain_library_text(text: str) -> str:
    """python-engineio's record in plain words where it is cryptic (the raw record follows).

    ``Server sent 257 packet data None, aborting`` means aiohttp's websocket reader returned a
    non-data message (257 is ``CLOSED``): the websocket ended; the server sent nothing.
    """
    if not text.startswith("Server sent "):
        return text
    code = text.removeprefix("Server sent ").split(" ", 1)[0]
    if code == "close":  # an Engine.IO CLOSE packet
        return f"the server closed the Engine.IO session (library: {text})"
    try:
        kind = aiohttp.WSMsgType(int(code))
    except ValueError:
        return text
    meaning = {
        aiohttp.WSMsgType.CLOSED: "the websocket is closed",
        aiohttp.WSMsgType.CLOSING: "the websocket is closing",
        aiohttp.WSMsgType.CLOSE: "the server closed the websocket",
        aiohttp.WSMsgType.ERROR: "the websocket broke",
    }.get(kind, f"the websocket returned a {kind.name} message")
    return f"{meaning}; Engine.IO stops reading (library: {text})"


def _engine_message(data: Any) -> str | None:
    """The ``message`` of an Engine.IO error body (``{"code", "message"}``)."""
    if isinstance(data, dict) and isinstance(data.get("message"), str):
        return str(data["message"])
    return None


class Connection:
    """One python-socketio client for one attempt over ``transports`` (and its connection)."""

    def __init__(
        self,
        settings: Settings,
        transports: list[str],
        *,
        listener: ConnectionListener,
        clock: Clock,
        auth: dict[str, Any] | None,
        upgrade_timeout: float | None = None,
        number: int = 0,
    ) -> None:
        self.settings = settings
        self.transports = list(transports)
        self.listener = listener
        self.clock = clock
        self.auth = auth
        self.namespace = settings.namespace
        self.upgrade_timeout = (
            upgrade_timeout if upgrade_timeout is not None else settings.ws_timeout
        )
        self.number = number
        self.trace = HttpTrace()
        self.session: aiohttp.ClientSession | None = None
        self.rejection: Failure | None = None
        self.transport_error: Any = None
        self.upgrade_failure: str | None = None
        self.kicked = False
        self.dropping = False
        self.closing = False
        self.announced = False
        self._burst = 0
        self.last_warning: str | None = None
        self.last_info: str | None = None
        self.closed: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        """Resolves with the disconnect reason once a connected connection ends."""
        self._rejected = asyncio.Event()
        self._pending: list[tuple[str, tuple[Any, ...]]] = []
        self._probes: dict[str, tuple[float, asyncio.Future[float]]] = {}
        self._stale_probes: set[str] = set()
        self._released = False

        proxy = effective_proxy(settings)
        self.client: Any = socketio.AsyncClient(
            reconnection=False,
            handle_sigint=False,
            logger=_logger(f"socketio.conn{number}", _RouteToListener(self, "socketio")),
            engineio_logger=_logger(f"engineio.conn{number}", _RouteToListener(self, "engineio")),
            http_session=self._session_factory,
            ssl_verify=not settings.insecure,
            # One message may be as large as a polling answer (aiohttp's default is 4 MiB).
            websocket_extra_options={"max_msg_size": MAX_ANSWER_BYTES}
            | ({"proxy": proxy} if proxy else {}),
            request_timeout=settings.connect_timeout,
        )
        ns = self.namespace
        self.client.on("connect", self._guard("connect", self._on_connect), namespace=ns)
        self.client.on(
            "connect_error", self._guard("connect_error", self._on_connect_error), namespace=ns
        )
        self.client.on("disconnect", self._guard("disconnect", self._on_disconnect), namespace=ns)
        self.client.on("*", self._guard("event", self._on_any), namespace=ns)
        eio = self.client.eio
        eio.on("message", self._guard_async("message", self._on_eio_message))
        self._receive_packet: Callable[[Any], Awaitable[None]] = eio._receive_packet
        eio._receive_packet = self._guard_async("packet", self._on_packet)
        self._connect_websocket: Callable[..., Awaitable[bool]] = eio._connect_websocket
        eio._connect_websocket = self._bounded_websocket

    # --- plumbing -------------------------------------------------------------------------

    def _session_factory(self) -> aiohttp.ClientSession:
        """Called by Engine.IO when it needs a session: always ours, made once per connection."""
        if self.session is None or self.session.closed:
            self.session = make_session(self.settings, self.trace)
        return self.session

    def _guard(self, where: str, fn: Callable[..., T]) -> Callable[..., T | None]:
        @functools.wraps(fn)
        def wrapper(*args: Any) -> T | None:
            try:
                return fn(*args)
            except Exception as exc:  # noqa: BLE001 - a bug in our handler becomes a note
                self.listener.conn_error(self, where, exc)
                return None

        return wrapper

    def _guard_async(
        self, where: str, fn: Callable[..., Awaitable[None]]
    ) -> Callable[..., Awaitable[None]]:
        @functools.wraps(fn)
        async def wrapper(*args: Any) -> None:
            try:
                await fn(*args)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - reported, and the packet loop survives
                self.listener.conn_error(self, where, exc)

        return wrapper

    def _on_log(self, topic: str, level: int, text: str) -> None:
        if self._released:
            return  # our own teardown's echo ("Connector is closed."): not news
        if level >= logging.WARNING:
            self.last_warning = text
            if text.startswith("WebSocket upgrade failed") and self.upgrade_failure is None:
                self.upgrade_failure = text.removeprefix("WebSocket upgrade failed: ")
            level_name = logging.getLevelName(level).lower()
            self.listener.conn_log(self, topic, level_name, _plain_library_text(text))
        elif text.startswith(_LIFECYCLE_INFO):
            self.last_info = text
            self.listener.conn_log(self, topic, "debug", text)
        else:
            return
        if topic == "engineio" and self.announced and _ends_the_connection(level, text):
            # Engine.IO's loops log this and then wait for each other — its read loop can wait
            # pingInterval + 5 s for the write loop before reporting the drop. It is over now.
            self._on_disconnect(self._reason_from(text))

    # --- handlers --------------------------------------------------------------------------

    def _on_connect(self) -> None:
        """The namespace is connected (nothing to do: ``connect()`` returns next)."""

    def _on_connect_error(self, *args: Any) -> None:
        data: Any = args[0] if len(args) == 1 else (list(args) if args else None)
        if self.client.eio.state == "connected":
            # A CONNECT_ERROR packet: the server (its middleware) refused the namespace.
            if isinstance(data, dict):
                message = data.get("message")
                extra = data.get("data")
            else:
                message, extra = data, None
            if not isinstance(message, str):
                message = json.dumps(data, default=str) if data is not None else "(no message)"
            self.rejection = Failure(
                kind=FailureKind.REJECTED,
                message=message,
                transport=self.client.transport() or self.transports[0],
                source="server",
                data=extra,
            )
            self._rejected.set()
        else:
            self.transport_error = data

    def _on_disconnect(self, reason: Any = None) -> None:
        if self.closed.done():
            return
        self.closed.set_result(self._disconnect_reason(str(reason) if reason else ""))

    def _disconnect_reason(self, engine_reason: str) -> str:
        """The reason in socket.io-client's words, with what the library saw in brackets."""
        deliberate = self.kicked or self.closing or self.dropping
        if engine_reason == "server disconnect" and not deliberate:
            return "transport close (the server closed the Engine.IO session)"
        return self._reason_from(self.last_warning or self.last_info or "", engine_reason)

    def _reason_from(self, seen: str, engine_reason: str = "") -> str:
        """A disconnect reason from what Engine.IO logged last."""
        if self.kicked:
            return "io server disconnect"
        if self.closing:
            return "io client disconnect"
        if self.dropping:
            return "transport close (dropped on purpose)"
        if "stopped communicating" in seen:
            return "ping timeout (no packet for pingInterval + pingTimeout)"
        if "packet queue is empty" in seen:
            # Nothing to send for that long means no server ping was answered: none arrived.
            return "ping timeout (no server ping for pingInterval + 5 s)"
        if seen.startswith(_WS_ERROR):  # aiohttp read a frame no websocket peer may send
            why = seen.removeprefix(_WS_ERROR).removesuffix(", aborting")
            return f"transport error (the websocket broke: {one_line(why, 120)})"
        if seen.startswith("Server sent") or "WebSocket connection was closed" in seen:
            return "transport close (the websocket was closed underneath)"
        request = self.last_info if (self.last_info or "").startswith("HTTP ") else None
        if seen.startswith("HTTP "):
            request = seen
        if request is not None:  # "HTTP GET request to URL failed with error X."
            method = request.split(" ", 2)[1]
            error = one_line(request.rsplit("failed with error ", 1)[-1].rstrip("."), 300)
            error = error or "no answer in time"
            what = "a long-poll" if method == "GET" else f"a {method} of packets"
            return f"transport error ({what} failed: {error})"
        if "status code" in seen:
            return f"transport error ({seen})"
        if seen:
            return f"transport close ({seen})"
        return f"transport close ({engine_reason or 'no reason given'})"

    def _on_any(self, name: str, *args: Any) -> None:
        if not self.announced:
            self._pending.append((name, args))
            return
        self.listener.conn_event(self, name, args)

    async def _on_packet(self, pkt: Any) -> None:
        """Every Engine.IO packet from the server passes here first: a sign of life."""
        self.listener.conn_life(self, ping=pkt.packet_type == engineio.packet.PING)
        if pkt.packet_type == engineio.packet.MESSAGE and self._plain_event(pkt.data):
            # A burst arrives already buffered, and awaiting buffered frames never yields: give
            # the rest of the loop (the TUI's keys) a turn every so often during a storm.
            self._burst += 1
            if self._burst % _YIELD_EVERY == 0:
                await asyncio.sleep(0)
            return
        await self._receive_packet(pkt)

    def _plain_event(self, data: Any) -> bool:
        """Hand a plain server event on our connected namespace straight to the listener.

        The library would start a task for each message and pass it through three more awaits:
        during a storm of events that was most of the time per event. Only the simplest packet
        takes this path — ``2[/ns,]["name", ...]``: an EVENT without ack id or binary attachments,
        for a connected namespace, not named like a reserved event; everything else (and anything
        that does not parse) goes the library's way.
        """
        if not isinstance(data, str) or data[:1] != "2":
            return False
        namespace, body = "/", data[1:]
        if body[:1] == "/":
            namespace, comma, body = body.partition(",")
            if not comma:
                return False
        if body[:1] != "[" or namespace != self.namespace:
            return False
        if namespace not in self.client.namespaces:
            return False
        try:
            value = json.loads(body)
        except ValueError:
            return False
        if not value or not isinstance(value, list) or not isinstance(value[0], str):
            return False
        if value[0] in _RESERVED_EVENTS:
            return False
        self._on_any(value[0], *value[1:])
        return True

    async def _on_eio_message(self, data: Any) -> None:
        """Socket.IO packets: take our probes' answers off the wire, spot kicks, pass the rest."""
        if isinstance(data, str) and data[:1] in ("0", "1", "4"):
            namespace = "/"
            if data[1:2] == "/":
                namespace = data[1:].split(",", 1)[0]
            if namespace.startswith(_PROBE_PREFIX):
                self._probe_answer(namespace, data[0])
                return
            if data[0] == "1" and namespace == self.namespace:
                self.kicked = True
        await self.client._handle_eio_message(data)

    def _probe_answer(self, namespace: str, kind: str) -> None:
        if kind == "0":  # a server that accepts any namespace: close it again
            self.client.eio.start_background_task(
                self.client.eio.send,
                sio_packet.Packet(sio_packet.DISCONNECT, namespace=namespace).encode(),
            )
        entry = self._probes.pop(namespace, None)
        if entry is None:
            self._stale_probes.discard(namespace)
            return
        started, future = entry
        if not future.done():
            future.set_result((self.clock.monotonic() - started) * 1000.0)

    async def _bounded_websocket(self, url: str, headers: dict[str, str], path: str) -> bool:
        """Engine.IO's websocket connect; an upgrade (a sid exists) is bounded in time."""
        if not self.client.eio.sid:
            return await self._connect_websocket(url, headers, path)
        try:
            return await asyncio.wait_for(
                self._connect_websocket(url, headers, path), self.upgrade_timeout
            )
        except asyncio.TimeoutError:
            self.upgrade_failure = (
                f"no answer to the websocket upgrade in {self.upgrade_timeout:.1f} s"
            )
            return False

    # --- the attempt -----------------------------------------------------------------------

    def _url(self) -> str:
        if not self.settings.query:
            return self.settings.url
        return self.settings.url + "?" + urllib.parse.urlencode(list(self.settings.query))

    def _headers(self) -> dict[str, str]:
        headers = dict(self.settings.headers)
        if self.settings.origin:
            headers["Origin"] = self.settings.origin
        return headers

    async def connect(self, limit: float) -> Failure | None:
        """Connect within ``limit`` seconds; ``None`` on success, else why it failed."""
        started = self.clock.monotonic()
        task = asyncio.ensure_future(
            self.client.connect(
                self._url(),
                headers=self._headers(),
                auth=self.auth,
                transports=self.transports,
                namespaces=[self.namespace],
                socketio_path=self.settings.path,
                wait=True,
                wait_timeout=limit,
            )
        )
        rejected = asyncio.ensure_future(self._rejected.wait())
        try:
            done, _ = await asyncio.wait(
                {task, rejected}, timeout=limit, return_when=asyncio.FIRST_COMPLETED
            )
        except asyncio.CancelledError:  # the monitor stops this attempt: stop the library too
            task.cancel()
            await asyncio.wait({task}, timeout=2.0)
            if task.done() and not task.cancelled():
                task.exception()
            raise
        finally:
            rejected.cancel()
        elapsed_ms = (self.clock.monotonic() - started) * 1000.0
        if task in done and not task.cancelled() and task.exception() is None:
            return None
        error: BaseException | None = None
        if task.done():
            error = task.exception() if not task.cancelled() else None
        else:
            task.cancel()
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                await asyncio.wait({task}, timeout=2.0)
        if task.done() and not task.cancelled():
            task.exception()  # retrieved: no "exception was never retrieved" warning
        if self.rejection is not None:
            return Failure(
                kind=self.rejection.kind,
                message=self.rejection.message,
                transport=self.rejection.transport,
                source="server",
                data=self.rejection.data,
                elapsed_ms=elapsed_ms,
            )
        return self._failure(error, timed_out=task not in done, limit=limit, elapsed_ms=elapsed_ms)

    def _failure(
        self, error: BaseException | None, *, timed_out: bool, limit: float, elapsed_ms: float
    ) -> Failure:
        first = self.transports[0]
        record: HttpRecord | None = self.trace.last(first)
        status = record.status if record else None
        if record is not None and record.error is not None:
            kind, why = classify(record.error)
            if not (timed_out and kind is FailureKind.OTHER):
                return Failure(kind, why, first, elapsed_ms=elapsed_ms)
        if timed_out:
            what = "websocket handshake" if first == "websocket" else "Engine.IO handshake"
            if record is not None and status is not None and status < 400:
                what = "Socket.IO namespace connection"
            return Failure(
                FailureKind.TIMEOUT,
                f"no answer to the {what} in {limit:.1f} s",
                first,
                status=status,
                elapsed_ms=elapsed_ms,
            )
        refused = status is not None and (
            status != 101 if first == "websocket" else not 200 <= status < 300
        )
        if refused:
            reason = record.reason if record and record.reason else ""
            engine = _engine_message(self.transport_error) or (
                record.body_message if record else None
            )
            detail = f": “{engine}”" if engine else ""
            message = f"HTTP {status} {reason}".rstrip() + f" to the {first} handshake{detail}"
            return Failure(
                FailureKind.HTTP,
                message,
                first,
                data=self.transport_error,
                status=status,
                elapsed_ms=elapsed_ms,
            )
        text = (
            self.transport_error
            if isinstance(self.transport_error, str)
            else _engine_message(self.transport_error)
        )
        if not text and isinstance(
            error, (TypeError, KeyError, ValueError, AttributeError, ArithmeticError)
        ):
            # python-engineio indexes the open packet without checking it: a malformed one (or a
            # broken websocket frame in its place) surfaces as a bare Python error.
            why = one_line(f"{type(error).__name__}: {error}", 100)
            return Failure(
                FailureKind.PROTOCOL,
                f"the server's Engine.IO open packet is malformed or missing ({why})",
                first,
                status=status,
                elapsed_ms=elapsed_ms,
            )
        if not text and error is not None:
            text = one_line(str(error) or type(error).__name__)
        text = text or "connection failed"
        kind = FailureKind.OTHER
        if any(
            marker in text
            for marker in ("OPEN packet", "Unexpected response", "no OPEN", "Unexpected status")
        ):
            kind = FailureKind.PROTOCOL
            if record is not None and record.status is not None:
                ctype = (record.content_type or "no content type").split(";")[0]
                text += f" (HTTP {record.status}, {ctype}: not an Engine.IO answer)"
        elif "refused" in text.lower():
            kind = FailureKind.REFUSED
        return Failure(kind, text, first, status=status, elapsed_ms=elapsed_ms)

    # --- while connected -------------------------------------------------------------------

    @property
    def transport(self) -> str | None:
        value = self.client.transport()
        return str(value) if value else None

    @property
    def sid(self) -> str | None:
        value = self.client.get_sid(self.namespace)
        return str(value) if value else None

    @property
    def engine_sid(self) -> str | None:
        value = self.client.eio.sid
        return str(value) if value else None

    @property
    def upgrades(self) -> tuple[str, ...] | None:
        value = self.client.eio.upgrades
        return tuple(str(v) for v in value) if value is not None else None

    @property
    def ping_interval_ms(self) -> int | None:
        value = self.client.eio.ping_interval
        return round(value * 1000) if value is not None else None

    @property
    def ping_timeout_ms(self) -> int | None:
        value = self.client.eio.ping_timeout
        return round(value * 1000) if value is not None else None

    @property
    def upgrade_offered_but_failed(self) -> bool:
        upgrades = self.upgrades or ()
        return (
            "websocket" in upgrades
            and "websocket" in self.transports
            and self.transports[0] == "polling"
            and self.transport == "polling"
        )

    def upgrade_why(self) -> str:
        """Why the offered upgrade failed, as precisely as known."""
        if self.upgrade_failure and self.upgrade_failure.startswith("no answer"):
            return self.upgrade_failure
        record = self.trace.last("websocket")
        if record is not None and record.status is not None and record.status != 101:
            reason = f" {record.reason}" if record.reason else ""
            body = f": “{record.body_message}”" if record.body_message else ""
            return f"HTTP {record.status}{reason} to the websocket handshake{body}"
        if record is not None and record.error is not None:
            return classify(record.error)[1]
        return self.upgrade_failure or self.last_warning or "the websocket did not open"

    def announce(self) -> None:
        """The owner has reported the connection: hand over events that arrived meanwhile."""
        self.announced = True
        pending, self._pending = self._pending, []
        for name, args in pending:
            self.listener.conn_event(self, name, args)

    async def round_trip(self, event: str | None, timeout: float) -> float | None:
        """One round trip in ms (an ack of ``event``, or a namespace probe); ``None`` if none."""
        started = self.clock.monotonic()
        if event:
            try:
                await self.client.call(event, namespace=self.namespace, timeout=timeout)
            except socketio.exceptions.SocketIOError:
                return None
            return (self.clock.monotonic() - started) * 1000.0
        namespace = _PROBE_PREFIX + secrets.token_hex(4)
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._probes[namespace] = (started, future)
        try:
            await self.client.eio.send(
                sio_packet.Packet(sio_packet.CONNECT, namespace=namespace).encode()
            )
            return await asyncio.wait_for(future, timeout)
        except asyncio.TimeoutError:
            if len(self._stale_probes) < 64:
                self._stale_probes.add(namespace)
            return None
        finally:
            self._probes.pop(namespace, None)

    async def emit(self, name: str, payload: Any, *, ack: bool, timeout: float) -> Any:
        """Emit on the namespace; with ``ack`` return the answer.

        Raises ``asyncio.TimeoutError`` when no ack came in time and ``ConnectionError`` when the
        namespace is not connected (python-socketio's own exceptions do not leave this module).
        """
        try:
            if ack:
                return await self.client.call(
                    name, payload, namespace=self.namespace, timeout=timeout
                )
            await self.client.emit(name, payload, namespace=self.namespace)
        except socketio.exceptions.TimeoutError:
            raise asyncio.TimeoutError from None
        except socketio.exceptions.SocketIOError as exc:
            raise ConnectionError(str(exc) or type(exc).__name__) from None
        return None

    @property
    def is_connected(self) -> bool:
        return bool(self.client.connected) and self.client.eio.state == "connected"

    # --- ending ----------------------------------------------------------------------------

    async def drop(self) -> None:
        """Close the transport underneath (no goodbye): an unexpected drop for the server too."""
        self.dropping = True
        if self.session is not None and not self.session.closed:
            await self.session.close()

    async def close(self, *, graceful: bool) -> None:
        """Disconnect (``graceful``: say goodbye first) and release everything. Idempotent."""
        if self._released:
            return
        self._released = True
        self.closing = not self.dropping and not self.closed.done()
        eio = self.client.eio
        if graceful and eio.state == "connected" and self.namespace in self.client.namespaces:
            with contextlib.suppress(Exception):
                await eio.send(
                    sio_packet.Packet(sio_packet.DISCONNECT, namespace=self.namespace).encode()
                )
        if eio.state == "connected":
            with contextlib.suppress(Exception):
                await asyncio.wait_for(eio.disconnect(abort=True), 1.0)
        tasks = [
            t for t in (eio.write_loop_task, eio.read_loop_task) if isinstance(t, asyncio.Task)
        ]
        if tasks and graceful:
            await asyncio.wait(tasks, timeout=0.5)  # let the goodbye (a polling POST) go out
        for t in tasks:
            if not t.done():
                t.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=1.0)
        with contextlib.suppress(ValueError):
            engineio.base_client.connected_clients.remove(eio)
        eio.state = "disconnected"
        if self.session is not None and not self.session.closed:
            await self.session.close()
        ws = getattr(eio, "ws", None)
        if isinstance(ws, aiohttp.ClientWebSocketResponse) and not ws.closed:
            # Engine.IO drops its websocket without closing it when the read loop gives up (ping
            # timeout): closing it now releases its connection (the socket underneath is gone).
            with contextlib.suppress(
                aiohttp.ClientError, OSError, RuntimeError, asyncio.TimeoutError
            ):
                await asyncio.wait_for(ws.close(), 1.0)
        for _started, future in self._probes.values():
            future.cancel()
        self._probes.clear()
        if not self.closed.done():
            self.closed.set_result("io client disconnect")
