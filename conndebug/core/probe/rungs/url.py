"""1. The URL and the settings: what the probe was told to do (the context of every verdict)."""

from __future__ import annotations

from typing import Any

from conndebug.core.probe.context import ProbeContext

__all__ = ["context_facts", "run"]


def _handshake_url(s: Any) -> str:
    """The polling handshake's URL as the client asks it (without its cache-busting ``t``)."""
    import urllib.parse

    query = f"EIO={s.eio}&transport=polling"
    if s.query:
        query += "&" + urllib.parse.urlencode(s.query)
    return f"{s.url}{s.path.rstrip('/')}/?{query}"


def context_facts(ctx: ProbeContext) -> dict[str, Any]:
    """What every verdict may quote: the target, the settings, the proxy in effect."""
    s = ctx.settings
    origin = ctx.origin
    return {
        "url": s.url,
        "given_url": s.url + s.namespace if s.namespace_from_url else None,
        "host": origin.host,
        "port": origin.port,
        "path": s.path,
        "namespace": s.namespace,
        "namespace_from_url": s.namespace_from_url or None,
        "transports": list(s.transports),
        "eio": s.eio,
        "parser": s.parser,
        "handshake_url": ctx.display_url(_handshake_url(s)),
        "proxy": ctx.environment.get("proxy"),
        "proxy_source": ctx.environment.get("proxy_source"),
        "tls_verify": s.tls_verify,
        "timeout_s": f"{ctx.timeout:g}",
        "connect_timeout_s": s.connect_timeout,
        "ws_timeout_s": s.ws_timeout,
        "guest_url": s.guest_url,
        "origin": s.origin,
        "no_guest": s.no_guest or None,
        "token_given": bool(s.token) or None,
    }


async def run(ctx: ProbeContext) -> None:
    s = ctx.settings
    parts = [
        s.url,
        f"path {s.path}",
        f"namespace {s.namespace}",
        f"transports {','.join(s.transports)}",
    ]
    if s.eio != 4:
        parts.append(f"Engine.IO {s.eio}")
    if s.parser != "json":
        parts.append(f"{s.parser} parser")
    if s.insecure:
        parts.append("TLS NOT VERIFIED (--insecure)")
    ctx.record("url", "ok", None, ", ".join(parts), **context_facts(ctx))
