"""12. The path: what answers in front of the server (proxies, load balancers, CDNs), named from
every answer the probe read (:mod:`conndebug.core.path`). Recorded even after a failure."""

from __future__ import annotations

from conndebug.core.probe.context import ProbeContext

__all__ = ["run"]


async def run(ctx: ProbeContext) -> None:
    status, detail, evidence = ctx.witness.summary(
        ping_interval_ms=ctx.connection.get("ping_interval_ms"),
        ping_timeout_ms=ctx.connection.get("ping_timeout_ms"),
    )
    ctx.record("path", status, None, detail, **evidence)
