"""Connect like a web client: transports in order, fallback, upgrade, and what happened.

:func:`connect` tries the transports in the given order, as socket.io-client with
``tryAllTransports`` does:

- **websocket first**: a refused websocket (an HTTP status, a close) falls back to the next
  transport at once; a hung one after ``ws_timeout``; a network failure that polling would meet
  as well (DNS, connection refused, TLS) ends the attempt without a fallback;
- **polling first** (then websocket): the session opens over polling, the namespace connects,
  then the upgrade is tried (bounded by ``ws_timeout``); a failed upgrade leaves the session on
  polling and says why.

It returns a :class:`Connected` (the transport, how it was reached: ``direct`` / ``upgraded`` /
``fallback``, why the websocket failed, the open packet's facts, the ids, the recovery answer) or
raises :class:`~conndebug.client.failure.ClientError` whose :class:`Failure` carries the facts:
phase, kind, HTTP status, Engine.IO error, the server's message and data, the websocket close
code, elapsed time. A session the server closes at our ``CONNECT`` packet is tried once with the
other parser: if that one is answered, the failure says ``parser_mismatch`` and names the
server's parser.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from conndebug.client.client import (
    Disconnect,
    Event,
    Namespace,
    PacketProblem,
    Recovery,
    RecoveryState,
    SocketClient,
)
from conndebug.client.eio import OpenPacket
from conndebug.client.engine import HttpLike, Target
from conndebug.client.failure import ClientError, Failure, UpgradeOutcome
from conndebug.client.sio import ParserName
from conndebug.client.tap import Tap, TransportName
from conndebug.core.failure import FailureKind

if TYPE_CHECKING:
    from conndebug.config import Settings

__all__ = ["Connected", "check_parser", "connect", "target_from_settings"]

How = Literal["direct", "upgraded", "fallback"]


@dataclass
class Connected:
    """A connected namespace and how it was reached."""

    client: SocketClient
    namespace: Namespace
    transport: TransportName
    """The transport in use now."""
    how: How
    """``direct`` (the first transport tried), ``upgraded`` (polling, then the websocket),
    ``fallback`` (the websocket failed; the next transport worked)."""
    open_packet: OpenPacket
    elapsed_ms: float
    """From the start of :func:`connect` to the namespace connected (and the upgrade done)."""
    websocket_failure: Failure | None = None
    """Why the websocket failed (the fallback's cause, or the failed upgrade's), if it did."""
    upgrade: UpgradeOutcome | None = None
    attempts: list[Failure] = field(default_factory=list)
    """The failed attempts before this one, in order."""

    @property
    def sid(self) -> str | None:
        """The Socket.IO socket id (what the server calls ``socket.id``)."""
        return self.namespace.sid

    @property
    def engine_sid(self) -> str | None:
        """The Engine.IO session id."""
        return self.client.engine.sid

    @property
    def recovery(self) -> Recovery | None:
        return self.namespace.recovery

    @property
    def recovered(self) -> bool | None:
        """True/False when recovery was asked for, None when it was not."""
        return self.namespace.recovery.recovered if self.namespace.recovery else None

    def facts(self) -> dict[str, Any]:
        """JSON-able facts of the connection (for ``connected`` events and reports)."""
        op = self.open_packet
        out: dict[str, Any] = {
            "transport": self.transport,
            "how": self.how,
            "sid": self.sid,
            "engine_sid": self.engine_sid,
            "upgrades": list(op.upgrades),
            "ping_interval_ms": op.ping_interval_ms,
            "ping_timeout_ms": op.ping_timeout_ms,
            "max_payload": op.max_payload,
            "elapsed_ms": round(self.elapsed_ms, 3),
            "eio": self.client.target.eio,
            "parser": self.client.parser.name,
        }
        if self.websocket_failure is not None:
            out["websocket_failure"] = self.websocket_failure.as_dict()
        if self.namespace.recovery is not None:
            r = self.namespace.recovery
            out["recovered"] = r.recovered
            out["replayed"] = len(r.replayed)
            if r.why_not:
                out["recovery_why_not"] = r.why_not
        if self.namespace.pid is not None:
            out["recovery_offered"] = True
        return out


def target_from_settings(settings: Settings) -> Target:
    """The Engine.IO target of the settings (origin, path, query, headers with ``Origin``)."""
    headers = tuple(settings.headers)
    if settings.origin and not any(k.lower() == "origin" for k, _ in headers):
        headers = (*headers, ("Origin", settings.origin))
    return Target(
        url=settings.url,
        path=settings.path,
        query=tuple(settings.query),
        headers=headers,
        eio=settings.eio,
    )


_NO_FALLBACK = (FailureKind.DNS, FailureKind.REFUSED, FailureKind.TLS)
"""Failures polling would meet the same way (same host, port and TLS): no fallback."""
_SERVER_GENERATION = ("eio3_server", "eio4_server", "eio_version")
"""The server speaks another Engine.IO generation: every transport will say the same."""


async def connect(
    http: HttpLike,
    target: Target,
    *,
    namespace: str = "/",
    auth: dict[str, Any] | None = None,
    transports: Sequence[TransportName] = ("websocket", "polling"),
    parser: ParserName = "json",
    connect_timeout: float = 20.0,
    ws_timeout: float = 3.0,
    recover: RecoveryState | None = None,
    tap: Tap | None = None,
    on_event: Callable[[Event], None] | None = None,
    on_disconnect: Callable[[Disconnect], None] | None = None,
    on_problem: Callable[[PacketProblem], None] | None = None,
    on_fallback: Callable[[Failure, TransportName], None] | None = None,
    detect_parser: bool = True,
) -> Connected:
    """Connect ``namespace`` like a web client (see the module's docstring).

    ``on_fallback(failure, next_transport)`` is called the moment a transport failed and the
    next one is tried (a live view shows the fallback as it happens, not once it succeeded).

    With Engine.IO 3 (socket.io 2), ``auth`` goes in the handshake's query, as socket.io-client
    2's ``query`` option (protocol 4 has no auth object for the default namespace).
    """
    start = time.monotonic()
    deadline = start + connect_timeout
    if target.eio < 4 and auth and namespace == "/":
        extra = tuple((str(k), str(v)) for k, v in auth.items())
        target = dataclasses.replace(target, query=(*target.query, *extra))
    attempts: list[Failure] = []
    order = list(transports)
    for i, transport in enumerate(order):
        rest = order[i + 1 :]
        left = deadline - time.monotonic()
        if left <= 0:
            break
        limit = min(ws_timeout, left) if transport == "websocket" and rest else left
        client = SocketClient(http, target, parser=parser, tap=tap, on_problem=on_problem)
        try:
            op = await client.open(transport, limit)
        except ClientError as exc:
            failure = exc.failure
            attempts.append(failure)
            if failure.kind in _NO_FALLBACK or failure.reason in _SERVER_GENERATION or not rest:
                raise ClientError(_final(failure, attempts, start)) from None
            if on_fallback is not None:
                on_fallback(failure, rest[0])
            continue
        try:
            ns = await client.connect(
                namespace,
                auth=auth if target.eio >= 4 or namespace != "/" else None,
                timeout=max(0.05, deadline - time.monotonic()),
                recover=recover,
                on_event=on_event,
                on_disconnect=on_disconnect,
            )
        except ClientError as exc:
            client.abort()
            failure = exc.failure
            if detect_parser and failure.reason == "closed" and target.eio >= 4:
                failure = await check_parser(
                    http, target, transport, parser, namespace, auth, failure, deadline
                )
            attempts.append(failure)
            raise ClientError(_final(failure, attempts, start)) from None
        how: How = "fallback" if attempts else "direct"
        ws_failure = next((f for f in reversed(attempts) if f.transport == "websocket"), None)
        upgrade: UpgradeOutcome | None = None
        if transport == "polling" and "websocket" in rest and "websocket" in op.upgrades:
            upgrade = await client.upgrade(min(ws_timeout, max(0.05, deadline - time.monotonic())))
            if upgrade.upgraded:
                how = "upgraded"
            elif upgrade.failure is not None:
                ws_failure = upgrade.failure
        return Connected(
            client=client,
            namespace=ns,
            transport=client.transport or transport,
            how=how,
            open_packet=op,
            elapsed_ms=(time.monotonic() - start) * 1000.0,
            websocket_failure=ws_failure,
            upgrade=upgrade,
            attempts=attempts,
        )
    last = attempts[-1] if attempts else None
    failure = Failure(
        phase=last.phase if last else "handshake",
        kind=FailureKind.TIMEOUT,
        message=f"no transport connected in {connect_timeout:.1f} s",
        transport=last.transport if last else None,
        reason="timeout",
    )
    raise ClientError(_final(failure, attempts, start))


def _final(failure: Failure, attempts: list[Failure], start: float) -> Failure:
    """The failure to report, with the earlier attempts in its evidence."""
    ms = (time.monotonic() - start) * 1000.0
    evidence = dict(failure.evidence)
    earlier = [a.as_dict() for a in attempts if a is not failure]
    if earlier:
        evidence["earlier_attempts"] = earlier
    return dataclasses.replace(failure, elapsed_ms=ms, evidence=evidence)


async def check_parser(
    http: HttpLike,
    target: Target,
    transport: TransportName,
    parser: ParserName,
    namespace: str,
    auth: dict[str, Any] | None,
    failure: Failure,
    deadline: float,
) -> Failure:
    """The session closed at our first Socket.IO packet: does a client with the other parser get
    an answer? Returns ``failure`` as it was, or made a ``parser_mismatch`` naming the server's
    parser (``evidence``: ``server_parser``, ``client_parser``)."""
    other: ParserName = "msgpack" if parser == "json" else "json"
    left = deadline - time.monotonic()
    if left <= 0.05:
        return failure
    probe = SocketClient(http, target, parser=other)
    try:
        await probe.open(transport, min(left, 5.0))
        await probe.connect(
            namespace, auth=auth, timeout=min(max(0.05, deadline - time.monotonic()), 5.0)
        )
    except ClientError as exc:
        answered = exc.failure.reason == "connect_error"
    else:
        answered = True
    finally:
        probe.abort()
    if not answered:
        return failure
    name = {"msgpack": "socket.io-msgpack-parser", "json": "the default (JSON) parser"}[other]
    return dataclasses.replace(
        failure,
        kind=FailureKind.PROTOCOL,
        reason="parser_mismatch",
        message=f"the server closed the session at our {parser} CONNECT packet and answers one "
        f"encoded with {name}: it uses the {other} parser",
        evidence={**failure.evidence, "server_parser": other, "client_parser": parser},
    )
