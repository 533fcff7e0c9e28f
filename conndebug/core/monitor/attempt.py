"""One connection attempt over the transports, on :func:`conndebug.client.connect`.

A :data:`Connector` takes an :class:`AttemptRequest` (the transports in order, the auth, what to
ask for recovery, the packet tap and the callbacks that report a fallback or an undecodable
packet as it happens) and returns a connected :class:`~conndebug.core.monitor.link.LinkLike`,
or raises :class:`~conndebug.client.ClientError`, whose ``failure`` carries the facts the client
saw on the wire (phase, kind, HTTP status, Engine.IO error, the server's message and data, the
websocket's close code and who closed it).

:class:`WireConnector` is the real one: a fresh :class:`~conndebug.wire.HttpClient` per attempt
(no connection of a failed attempt is ever reused) sharing one cookie jar (a load balancer's
affinity cookie survives a reconnection, as in a browser), and the client's own fallback
(websocket first: a refusal falls back at once, a hang after ``--ws-timeout``; polling first: the
upgrade is tried and its failure kept). Every answer it reads goes to its path witness
(:class:`~conndebug.core.path.witness.PathWitness`): the boxes in front of the server.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from conndebug.config import Settings
from conndebug.core.monitor.link import Link, LinkLike

if TYPE_CHECKING:
    from conndebug.client import Failure, PacketProblem, PacketRecord, RecoveryState
    from conndebug.wire import Observer

__all__ = ["AttemptRequest", "Connector", "WireConnector"]


@dataclass
class AttemptRequest:
    """What one attempt needs besides the settings."""

    transports: tuple[str, ...]
    auth: dict[str, Any] | None
    recover: RecoveryState | None = None
    """The previous connection's pid and offset: ask the server to recover it."""
    tap: Callable[[PacketRecord], None] | None = None
    """Every packet in and out (``None``: no records are made at all)."""
    on_fallback: Callable[[Failure, str], None] | None = None
    """The first transport failed and the next one is tried (called as it happens)."""
    on_problem: Callable[[PacketProblem], None] | None = None
    """A packet the client could not decode (skipped)."""


Connector = Callable[[AttemptRequest], Awaitable[LinkLike]]
"""``await connector(request)`` → a connected link, or raises ``ClientError``."""


class WireConnector:
    """Attempts over :mod:`conndebug.wire` and :mod:`conndebug.client` for ``settings``."""

    def __init__(self, settings: Settings, *, observer: Observer | None = None) -> None:
        from conndebug.core.path.witness import PathWitness
        from conndebug.wire import CookieJar

        self.settings = settings
        self.cookies = CookieJar()
        self.attempts = 0
        self.witness = PathWitness()
        """The answers of every attempt, read for the path in front of the server."""
        self.observer = observer
        """Sees every HTTP exchange and websocket of every attempt (the HAR export)."""

    async def __call__(self, request: AttemptRequest) -> Link:
        from conndebug.client import ClientError, connect, target_from_settings
        from conndebug.core.path.witness import WitnessedHttp
        from conndebug.wire import HttpClient

        s = self.settings
        self.attempts += 1
        http = HttpClient(s, timeout=s.connect_timeout, observer=self.observer)
        http.cookies = self.cookies
        link = Link(http, namespace=s.namespace)
        transports: Any = request.transports
        try:
            connected = await connect(
                WitnessedHttp(http, self.witness),
                target_from_settings(s),
                namespace=s.namespace,
                auth=request.auth,
                transports=transports,
                parser=s.parser,
                connect_timeout=s.connect_timeout,
                ws_timeout=s.ws_timeout,
                recover=request.recover,
                tap=request.tap,
                on_event=link.hold,
                on_disconnect=link.lost,
                on_problem=request.on_problem,
                on_fallback=request.on_fallback,
            )
        except (ClientError, asyncio.CancelledError):
            with contextlib.suppress(OSError, asyncio.TimeoutError):
                await asyncio.wait_for(http.aclose(), 2.0)
            raise
        link.attach(connected)
        return link
