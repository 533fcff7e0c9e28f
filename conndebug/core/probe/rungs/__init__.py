"""The rungs of the probe's ladder, one module each, in order.

Each module has ``async def run(ctx: ProbeContext) -> None``: it does its part of the connection
on :mod:`conndebug.wire` and :mod:`conndebug.client`, records one step with its evidence, and
raises :class:`~conndebug.core.probe.context.Stop` (from ``ctx.fail``) when the connection cannot
go further. None of them picks a verdict: the diagnosis folds their events into one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from conndebug.core.probe.context import ProbeContext
from conndebug.core.probe.rungs import (
    cors,
    dns,
    handshake,
    namespace,
    path,
    proxy,
    rtt,
    session,
    tcp,
    tls,
    url,
    websocket,
)

__all__ = ["RUNGS"]

Rung = Callable[[ProbeContext], Awaitable[None]]

RUNGS: tuple[tuple[str, Rung], ...] = (
    ("url", url.run),
    ("dns", dns.run),
    ("tcp", tcp.run),
    ("tls", tls.run),
    ("proxy", proxy.run),
    ("handshake", handshake.run),
    ("session", session.run),
    ("websocket", websocket.run),
    ("namespace", namespace.run),
    ("rtt", rtt.run),
    ("cors", cors.run),
    ("path", path.run),
)
"""The rungs in ladder order (their names are :data:`~conndebug.core.probe.result.STEP_NAMES`)."""
