"""11. CORS (with ``--origin``): the preflight and the handshake asked from the given origin, and,
unless any origin is allowed without credentials (``*``), from a made-up one: a server that
reflects any origin with credentials lets every web site use its users' sessions."""

from __future__ import annotations

import contextlib
import os
from typing import Any

from conndebug.core.probe.context import ProbeContext

__all__ = ["run"]


async def _handshake_from(ctx: ProbeContext, origin: str) -> Any:
    """``GET`` the polling handshake with ``Origin``; a session it opens is closed again."""
    from conndebug.client.eio import (
        EioDecodeError,
        EioPacket,
        EioType,
        decode_payload,
        encode_payload,
        parse_open,
    )

    url = ctx.target.endpoint("polling")
    headers = [(k, v) for k, v in ctx.target.headers if k.lower() != "origin"]
    headers.append(("Origin", origin))
    got = await ctx.http.request("GET", url, headers=headers, timeout=ctx.timeout, limit=64 * 1024)
    if got.status == 200:
        try:
            packets = decode_payload(got.body, ctx.settings.eio)
            op = parse_open(str(packets[0].data)) if packets else None
        except (EioDecodeError, IndexError):
            op = None
        if op is not None and op.raw_sid:
            body = encode_payload([EioPacket(EioType.CLOSE)], ctx.settings.eio)
            raw = body.encode() if isinstance(body, str) else body
            from conndebug.wire import WireError

            with contextlib.suppress(WireError):  # else the session times out on the server
                await ctx.http.request(
                    "POST",
                    ctx.target.endpoint("polling", op.raw_sid),
                    headers=headers,
                    body=raw,
                    timeout=min(ctx.timeout, 2.0),
                    limit=4096,
                )
    return got


async def run(ctx: ProbeContext) -> None:
    from conndebug.client.eio import parse_engine_error
    from conndebug.wire import WireError

    origin = ctx.settings.origin
    if not origin:
        ctx.record("cors", "skip", None, "no --origin given")
        return
    start = ctx.now()
    asked = ",".join(name for name, _ in ctx.settings.headers) or "content-type"
    made_up = f"https://not-your-site-{os.urandom(4).hex()}.example"
    try:
        pre = await ctx.http.request(
            "OPTIONS",
            ctx.target.endpoint("polling"),
            headers=[
                ("Origin", origin),
                ("Access-Control-Request-Method", "POST"),
                ("Access-Control-Request-Headers", asked),
            ],
            timeout=ctx.timeout,
            limit=64 * 1024,
        )
        actual = await _handshake_from(ctx, origin)
        acao = actual.header("access-control-allow-origin")
        other = await _handshake_from(ctx, made_up) if acao not in (None, "*") else None
    except WireError as exc:
        raise ctx.fail(
            "cors",
            start,
            f"no answer: {exc.message}",
            kind=exc.kind.value,
            reason=exc.reason,
            message=exc.message,
            facts={"error": exc.message},
        ) from None
    acac = actual.header("access-control-allow-credentials")
    pre_acao = pre.header("access-control-allow-origin")
    facts: dict[str, Any] = {
        "origin": origin,
        "preflight": f"{pre.status_line}, allow-origin {pre_acao}, allow-methods "
        f"{pre.header('access-control-allow-methods')}, allow-headers "
        f"{pre.header('access-control-allow-headers')}",
        "actual": f"{actual.status_line}, allow-origin {acao}, allow-credentials {acac}",
        "acao": acao,
        "acac": acac,
    }
    if not (actual.status == 200 and acao in (origin, "*")):
        engine = parse_engine_error(actual.status, actual.body)
        if engine is not None:
            answer = f'{actual.status_line} "{engine.message}"'
        elif acao is None:
            answer = f"{actual.status_line} without an Access-Control-Allow-Origin header"
        else:
            answer = f"{actual.status_line} with Access-Control-Allow-Origin: {acao}"
        raise ctx.fail(
            "cors",
            start,
            f"{origin} is not allowed: {answer}",
            emit=False,
            facts={**facts, "allowed": False, "answer": answer},
        )
    if acao == "*":
        ctx.record(
            "cors",
            "ok",
            start,
            f"{origin} allowed: Access-Control-Allow-Origin: * (any origin, without credentials: "
            f"browsers send no cookies with it; preflight {pre.status})",
            **facts,
            allowed=True,
        )
        return
    assert other is not None
    credentials = acac == "true"
    o_acao = other.header("access-control-allow-origin")
    o_acac = other.header("access-control-allow-credentials")
    facts.update(
        made_up=made_up,
        made_up_acao=o_acao,
        made_up_acac=o_acac,
        made_up_origin=f"{made_up}: allow-origin {o_acao}, allow-credentials {o_acac}",
        allowed=True,
    )
    base = (
        f"{origin} allowed {'with' if credentials else 'without'} credentials "
        f"(preflight {pre.status})"
    )
    if o_acao == made_up and o_acac == "true":
        ctx.record(
            "cors",
            "warn",
            start,
            f"{base}; but the made-up origin {made_up} is allowed too, with credentials",
            **facts,
            permissive=True,
        )
        return
    if o_acao in (made_up, "*"):
        detail = f"{base}; a made-up origin is allowed too, without credentials"
    else:
        detail = f"{base}; a made-up origin is not allowed"
    ctx.record("cors", "ok", start, detail, **facts)
