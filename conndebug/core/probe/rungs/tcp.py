"""3. TCP: a connection to the target (or the proxy). It carries the first HTTP request."""

from __future__ import annotations

from conndebug.core.probe.context import ProbeContext
from conndebug.core.probe.rungs.dns import hop
from conndebug.wire import WireError, connect_tcp

__all__ = ["run"]


async def run(ctx: ProbeContext) -> None:
    host, port, via_proxy = hop(ctx)
    assert ctx.resolved is not None
    start = ctx.now()
    try:
        connected = await connect_tcp(ctx.resolved, ctx.timeout, target=ctx.origin.hostport)
    except WireError as exc:
        failed = [str(f) for f in exc.evidence.get("failed", [])]
        tried = [str(a) for a in exc.evidence.get("addresses", [])]
        error = "; ".join(failed) or exc.message
        facts = {
            "host": host,
            "port": port,
            "address": tried[0] if tried else f"{host}:{port}",
            "error": error,
            "ms": f"{ctx.ms_since(start):.1f}",
            "tried": f"Tried: {error}." if len(tried) > 1 else "",
            "via_proxy": via_proxy or None,
        }
        if exc.reason == "refused":
            detail = f"refused: {error}"
        elif via_proxy:
            detail = f"the proxy does not answer: {error}"
        else:
            detail = f"no connection: {error}"
        raise ctx.fail(
            "tcp",
            start,
            detail,
            kind=exc.kind.value,
            reason=exc.reason,
            message=exc.message,
            facts=facts,
        ) from None
    ctx.tcp_ms = ctx.ms_since(start)
    ctx.stream = connected.stream
    failed_before = [f"{a}: {why}" for a, why in connected.failed]
    extra = f" (after: {'; '.join(failed_before)})" if failed_before else ""
    ctx.record(
        "tcp",
        "ok",
        start,
        f"connected to {connected.address.text}{' (the proxy)' if via_proxy else ''}{extra}",
        address=connected.address.text,
        failed_before=failed_before or None,
    )
