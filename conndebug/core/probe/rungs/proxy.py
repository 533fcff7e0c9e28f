"""5. The proxy in effect, if any: its answer to the tunnel's ``CONNECT`` (https), or to the
handshake request it forwards (plain http, absolute-form requests)."""

from __future__ import annotations

from typing import Any

from conndebug.core.failure import FailureKind
from conndebug.core.probe.context import ProbeContext
from conndebug.core.probe.rungs.handshake import open_session

__all__ = ["run"]


def _from_proxy(headers: dict[str, str]) -> bool:
    """Whether an answer came from the forward proxy itself rather than the server."""
    server = str(headers.get("server") or "").lower()
    return (
        "x-squid-error" in headers
        or "proxy-agent" in headers
        or any(name in server for name in ("squid", "proxy", "privoxy"))
    )


def _judge(
    ctx: ProbeContext,
    start: float,
    status: int,
    status_line: str,
    headers: dict[str, str],
    request: str,
    *,
    tunnel: bool,
) -> None:
    """Fail the rung when the proxy itself refused or failed (its answer, as facts)."""
    facts: dict[str, Any] = {
        "status": status,
        "status_line": status_line,
        "request": request,
        "target": ctx.origin.hostport,
        "proxy_agent": headers.get("proxy-agent") or headers.get("server"),
        "challenge": headers.get("proxy-authenticate"),
        "tunnel": tunnel or None,
        "from_proxy": _from_proxy(headers) or None,
    }
    if status == 407:
        detail = f"{status_line}: the proxy needs credentials"
    elif status in (502, 503, 504):
        detail = f"{status_line}: the proxy could not reach {ctx.origin.hostport}"
    elif tunnel and not 200 <= status < 300:
        detail = f"{status_line} to CONNECT"
    elif status in (401, 403) and facts["from_proxy"]:
        detail = f"{status_line}: the proxy's policy refuses the request"
    else:
        return
    raise ctx.fail(
        "proxy", start, detail, kind="proxy_error", status=status, message=detail, facts=facts
    )


async def run(ctx: ProbeContext) -> None:
    if not ctx.proxy:
        variables = ctx.environment.get("proxy_variables") or {}
        names = [n for n in variables if "no_proxy" not in n.lower()]
        detail = "none in effect (direct connection)"
        if names:
            detail = f"none in effect: NO_PROXY covers {ctx.origin.host} ({', '.join(names)} set)"
        ctx.record("proxy", "skip", None, detail)
        return
    source = ctx.environment.get("proxy_source")
    shown = ctx.environment.get("proxy")
    start = ctx.now()
    if ctx.origin.tls:
        refusal = ctx.proxy_refusal
        if refusal is not None:
            assert refusal.status is not None
            _judge(
                ctx,
                start,
                refusal.status,
                refusal.status_line or f"HTTP {refusal.status}",
                dict(refusal.headers),
                f"CONNECT {ctx.origin.hostport}",
                tunnel=True,
            )
        answer = ctx.proxy_answer
        assert answer is not None
        ctx.record(
            "proxy",
            "ok",
            None,
            f"{shown} (from {source}) opened a tunnel: {answer.status_line}",
            status=answer.status,
        )
        return
    await open_session(ctx)
    exchange = ctx.open_exchange
    failure = ctx.open_failure
    if exchange is None:
        error = failure.message if failure is not None else "no answer"
        if failure is not None and failure.kind not in (FailureKind.PROXY, FailureKind.REFUSED):
            # The proxy took the request; what came back is the handshake rung's to judge.
            ctx.record("proxy", "ok", start, f"{shown} (from {source}) took the request")
            return
        raise ctx.fail(
            "proxy",
            start,
            f"{shown}: {error}",
            failure=failure,
            phase="proxy",
            kind="proxy_error",
            facts={"error": error},
        )
    headers = dict(exchange.headers)
    status_line = exchange.status_line
    request = f"GET {ctx.display_url(exchange.url)}"
    _judge(ctx, start, exchange.status, status_line, headers, request, tunnel=False)
    ctx.record(
        "proxy",
        "ok",
        start,
        f"{shown} (from {source}) forwarded the request: {status_line}",
        status=exchange.status,
        via=headers.get("via"),
    )
