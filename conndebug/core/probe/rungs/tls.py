"""4. TLS (https): through the proxy's tunnel when one is in effect, then the handshake with the
certificate's facts. A plain-http target skips it; either way the connection is handed to the
HTTP client for the first request (one connection, and one TLS handshake, less per probe)."""

from __future__ import annotations

from conndebug.core.probe.context import ProbeContext
from conndebug.wire import ProxyError, TlsError, WireError, start_tls

__all__ = ["run"]


async def run(ctx: ProbeContext) -> None:
    stream, ctx.stream = ctx.stream, None
    if not ctx.origin.tls:
        if stream is not None:
            ctx.http.adopt(ctx.settings.url, stream)
        ctx.record("tls", "skip", None, "plain http: no TLS")
        return
    assert stream is not None
    start = ctx.now()
    target = ctx.origin.hostport
    if ctx.proxy:
        from conndebug.wire import Proxy, open_tunnel

        try:
            ctx.proxy_answer = await open_tunnel(
                stream, target, Proxy.from_url(ctx.proxy), ctx.timeout
            )
        except ProxyError as exc:
            stream.abort()
            if exc.status is not None:  # the proxy answered: the proxy rung judges its answer
                ctx.proxy_refusal = exc
                ctx.record(
                    "tls",
                    "skip",
                    start,
                    f"the proxy answered {exc.status_line} to CONNECT (see Proxy)",
                )
                return
            raise ctx.fail(
                "tls",
                start,
                f"no tunnel through the proxy: {exc.message}",
                kind="proxy_error",
                reason=exc.reason,
                message=exc.message,
                facts={"error": exc.message},
            ) from None
    from conndebug.wire import Route

    context = Route.for_url(ctx.settings, ctx.settings.url).context
    assert context is not None
    try:
        info = await start_tls(stream, ctx.origin.host, context, ctx.timeout)
    except TlsError as exc:
        raise ctx.fail(
            "tls",
            start,
            exc.message,
            kind="tls_error",
            reason=exc.reason,
            message=exc.message,
            facts={
                **exc.evidence,
                "error": exc.evidence.get("error") or exc.message,
                "ms": f"{ctx.ms_since(start):.1f}",
            },
        ) from None
    except WireError as exc:
        raise ctx.fail(
            "tls",
            start,
            f"TLS handshake failed: {exc.message}",
            kind="tls_error",
            reason=exc.reason,
            message=exc.message,
            facts={"error": exc.message, "ms": f"{ctx.ms_since(start):.1f}"},
        ) from None
    ctx.http.adopt(ctx.settings.url, stream)  # it carries the first request
    cert = info.certificate
    verified = "verified" if info.verified else "NOT verified (--insecure)"
    ctx.record(
        "tls",
        "ok" if info.verified else "warn",
        start,
        f"{info.protocol}, certificate {cert.get('subject', '?')} issued by "
        f"{cert.get('issuer', '?')}, valid until {cert.get('not_after', '?')}, {verified}",
        **info.evidence(),
    )
