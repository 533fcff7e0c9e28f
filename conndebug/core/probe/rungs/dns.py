"""2. DNS: the target's name (or the proxy's, when one is in effect) resolves."""

from __future__ import annotations

from conndebug.core.probe.context import ProbeContext
from conndebug.wire import WireError, resolve

__all__ = ["hop", "run"]


def hop(ctx: ProbeContext) -> tuple[str, int, bool]:
    """Where the first connection goes: (host, port, through the proxy)."""
    if ctx.proxy:
        from conndebug.wire import Proxy

        proxy = Proxy.from_url(ctx.proxy)
        return proxy.host, proxy.port, True
    return ctx.origin.host, ctx.origin.port, False


async def run(ctx: ProbeContext) -> None:
    host, port, via_proxy = hop(ctx)
    what = f"{host}{' (the proxy)' if via_proxy else ''}"
    start = ctx.now()
    try:
        ctx.resolved = await resolve(host, port, ctx.timeout)
    except WireError as exc:
        error = str(exc.evidence.get("error") or exc.message)
        raise ctx.fail(
            "dns",
            start,
            f"{what} does not resolve: {error}",
            kind="dns_failure",
            reason=exc.reason,
            message=exc.message,
            facts={
                "host": host,
                "error": error,
                "ms": f"{ctx.ms_since(start):.1f}",
                "via_proxy": via_proxy or None,
            },
        ) from None
    addrs = [a.ip for a in ctx.resolved.addresses]
    shown = ", ".join(addrs[:4]) + (f" (+{len(addrs) - 4})" if len(addrs) > 4 else "")
    ctx.record(
        "dns",
        "ok",
        start,
        f"{what} → {shown}",
        host=host,
        addresses=addrs,
        via_proxy=via_proxy,
    )
