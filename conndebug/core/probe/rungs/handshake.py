"""6. The Engine.IO handshake over polling, by :mod:`conndebug.client` (its codecs read the open
packet, Engine.IO 3 framing and the error bodies) on the wire's HTTP client (the TCP rung's
connection carries the request).

When it fails, the rung gathers what tells the causes apart and reports it as facts: the HTTP
answer (status line, content type, ``Server``, a sample, a redirect's ``Location``), the
Engine.IO error code and message, and what a second look found: Engine.IO 3 answering where 4 was
refused, Socket.IO answering at ``/socket.io`` when another path was given, a port that speaks
TLS when plain HTTP got no answer.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from conndebug.core.events import TransportChanged
from conndebug.core.failure import FailureKind
from conndebug.core.probe.context import ProbeContext, iso_now

if TYPE_CHECKING:
    from conndebug.client import Failure
    from conndebug.client.eio import OpenPacket

__all__ = ["open_session", "run"]

_PLAIN_TO_TLS = "plain http request was sent to https port"
"""What nginx (and others) answer to plain HTTP on a TLS port."""


async def open_session(ctx: ProbeContext) -> None:
    """The polling handshake, once (the proxy rung may have made it already)."""
    if ctx.handshake_tried:
        return
    ctx.handshake_tried = True
    from conndebug.client import ClientError

    if ctx.settings.eio < 4:
        # socket.io 2 clients send the auth of "/" in the handshake's query.
        from conndebug.core.probe.rungs.namespace import credentials

        await credentials(ctx)
    client = ctx.make_client()
    ctx.seen.last = None
    try:
        opened = await client.open("polling", ctx.timeout)
    except ClientError as exc:
        ctx.open_failure = exc.failure
        ctx.open_exchange = ctx.seen.last
        client.abort()
        return
    ctx.open_exchange = ctx.seen.last
    ctx.client = client
    ctx.opened = opened


def _s(ms: int | None) -> str:
    return f"{ms / 1000:g}" if isinstance(ms, int) else "?"


def opened_facts(ctx: ProbeContext, op: OpenPacket, transport: str) -> None:
    """Keep what the open packet says in the connection figures."""
    ctx.opened = op
    ctx.connection.update(
        engine_sid=op.sid,
        ping_interval_ms=op.ping_interval_ms,
        ping_timeout_ms=op.ping_timeout_ms,
        transport=transport,
    )


async def run(ctx: ProbeContext) -> None:
    start = ctx.now()
    await open_session(ctx)
    op = ctx.opened
    if op is not None and ctx.client is not None:
        opened_facts(ctx, op, "polling")
        payload = f", max payload {op.max_payload:,} B" if op.max_payload is not None else ""
        ctx.record(
            "handshake",
            "ok",
            start,
            f"Engine.IO {ctx.settings.eio} open packet: sid {op.sid}, upgrades "
            f"{list(op.upgrades)}, ping every {_s(op.ping_interval_ms)} s, timeout "
            f"{_s(op.ping_timeout_ms)} s{payload}",
            status=(ctx.open_exchange.status if ctx.open_exchange else 200),
            sid=op.sid,
            upgrades=list(op.upgrades),
            ping_interval_ms=op.ping_interval_ms,
            ping_timeout_ms=op.ping_timeout_ms,
            max_payload=op.max_payload,
        )
        ctx.bus.emit(TransportChanged, transport="polling", how="direct")
        return
    failure = ctx.open_failure
    assert failure is not None
    await _failed(ctx, start, failure)


async def _failed(ctx: ProbeContext, start: float, f: Failure) -> None:
    answer = ctx.exchange_facts(ctx.open_exchange)
    if (f.status is None and f.kind not in (FailureKind.PROTOCOL,)) or f.reason == "not_http":
        await _no_answer(ctx, start, f, answer)
        return
    engine = f.engine_error
    status_line = answer.get("status_line") or (f"HTTP {f.status}" if f.status else "")
    facts: dict[str, Any] = dict(answer)
    if engine is not None:
        facts.update(message=engine.message, engine_code=engine.code)
        said = f'{status_line} "{engine.message}"'
        if engine.code == 0:
            if "websocket" in ctx.settings.transports:
                # A websocket-only server: the websocket rung tries it directly.
                ctx.websocket_only = True
                ctx.emit_failure(f, phase="handshake", facts=facts)
                ctx.record(
                    "handshake",
                    "warn",
                    start,
                    f"{said} (code 0): the server refuses polling; trying websocket only",
                    **facts,
                )
                return
            raise ctx.fail(
                "handshake",
                start,
                f"{said} (code 0): the server does not offer polling, the only transport "
                "allowed (--transports)",
                failure=f,
                facts=facts,
            )
        if f.reason == "eio_version":
            await _other_generation(ctx, start, f, facts, engine.message)
            return
        if f.reason == "eio4_server":
            raise ctx.fail(
                "handshake",
                start,
                f'EIO=3 refused ("{engine.message}", code 5): the server speaks Engine.IO 4 '
                "(socket.io 3/4) only",
                failure=f,
                facts=facts,
            )
        if engine.code == 4:
            detail = f"{said} (code 4, Forbidden)"
        elif engine.origin_rejected:
            facts["origin_rejected"] = True
            detail = said
        else:
            detail = f"{said} (Engine.IO code {engine.code})"
        raise ctx.fail("handshake", start, detail, failure=f, facts=facts)
    if f.reason == "eio3_server":
        sample = str(f.evidence.get("sample", ""))[:60]
        raise ctx.fail(
            "handshake",
            start,
            f"Engine.IO 3 framing (Socket.IO v2): {sample}",
            failure=f,
            facts={**facts, "sample": sample},
        )
    if f.reason == "bad_open":
        problems = list(f.evidence.get("problems") or [])
        truncated = bool(answer.get("truncated"))
        body = ctx.open_exchange.body if ctx.open_exchange else b""
        facts.update(
            problems=problems or None,
            sample=answer.get("body_sample"),
            limit_kib=len(body) // 1024 if truncated else None,
        )
        if truncated:
            what = f"an open packet larger than the {len(body) // 1024} KiB the probe reads"
        elif problems:
            what = f"an open packet with timings no client can use ({', '.join(problems)})"
        else:
            what = (
                f"an open packet that is not a JSON object with a sid ({answer.get('body_sample')})"
            )
        raise ctx.fail("handshake", start, f"{status_line}, but {what}", failure=f, facts=facts)
    if f.reason == "not_engineio" and _eio3_binary(ctx):
        raise ctx.fail(
            "handshake",
            start,
            f"Engine.IO 3 framing (Socket.IO v2): {answer.get('body_sample')}",
            failure=f,
            reason="eio3_server",
            facts={**facts, "sample": answer.get("body_sample")},
        )
    status = f.status or answer.get("status") or 0
    if status >= 500:
        facts["time"] = iso_now(ctx.clock)
        raise ctx.fail(
            "handshake", start, f"{status_line} from the Engine.IO path", failure=f, facts=facts
        )
    location = answer.get("location")
    if 300 <= status < 400 and location:
        raise ctx.fail("handshake", start, f"{status_line} → {location}", failure=f, facts=facts)
    body = ctx.open_exchange.body if ctx.open_exchange else b""
    if _PLAIN_TO_TLS in body[:4096].decode("utf-8", "replace").lower():
        raise ctx.fail(
            "handshake",
            start,
            "plain HTTP sent to a TLS port (the server says so)",
            failure=f,
            facts={
                **facts,
                "tls_port_answer": True,
                "error": f"{status_line}: {answer.get('body_sample')}",
                "https_url": "https://" + ctx.settings.url.split("://", 1)[1],
            },
        )
    found = await _look_for_socketio(ctx)
    ctype = answer.get("content_type") or ""
    content = (
        "HTML" if "html" in ctype or body.lstrip()[:1] == b"<" else (ctype or "no content type")
    )
    raise ctx.fail(
        "handshake",
        start,
        f"{status_line} ({content}): not Engine.IO at {ctx.settings.path}"
        + (f"; Socket.IO answers at {found}" if found else ""),
        failure=f,
        facts={**facts, "content": content, "found_path": found},
    )


async def _no_answer(ctx: ProbeContext, start: float, f: Failure, answer: dict[str, Any]) -> None:
    """No (valid) HTTP answer to the handshake request."""
    facts: dict[str, Any] = {"error": f.message, "address": ctx.origin.hostport}
    if f.kind is FailureKind.TIMEOUT:
        connected = f.evidence.get("wire_phase") == "http" or f.phase == "handshake"
        facts.update(connected=connected or None, tcp_ms=f"{ctx.tcp_ms:.1f}")
        if connected:
            facts["what"] = "Engine.IO handshake request"
        detail = f"connected, then no answer: {f.message}" if connected else f.message
        raise ctx.fail("handshake", start, detail, failure=f, phase="handshake", facts=facts)
    if f.kind is FailureKind.REFUSED:
        facts.update(ms=f"{f.elapsed_ms or 0:.1f}", tried="")
        raise ctx.fail(
            "handshake", start, f"refused: {f.message}", failure=f, phase="handshake", facts=facts
        )
    if f.kind in (FailureKind.PROXY, FailureKind.TLS, FailureKind.DNS):
        raise ctx.fail("handshake", start, f.message, failure=f, phase="handshake", facts=facts)
    if not ctx.settings.is_tls and await _speaks_tls(ctx):
        facts.update(speaks_tls=True, https_url="https://" + ctx.settings.url.split("://", 1)[1])
        raise ctx.fail(
            "handshake",
            start,
            f"no HTTP answer ({f.message}), but the port completes a TLS handshake",
            failure=f,
            phase="handshake",
            facts=facts,
        )
    raise ctx.fail(
        "handshake",
        start,
        f"no valid HTTP answer: {f.message}",
        failure=f,
        phase="handshake",
        facts=facts,
    )


async def _other_generation(
    ctx: ProbeContext, start: float, f: Failure, facts: dict[str, Any], message: str
) -> None:
    """EIO=4 refused as unsupported: ask with EIO=3 to tell a socket.io 2 server from another."""
    from conndebug.client import ClientError

    client = ctx.make_client(dataclasses.replace(ctx.target, eio=3))
    ctx.seen.last = None
    try:
        await client.open("polling", ctx.timeout)
    except ClientError as exc:
        seen = ctx.exchange_facts(ctx.seen.last)
        opens = False
        eio3 = (
            f"{seen['status_line']} {seen.get('body_sample') or ''}".strip()
            if seen
            else f"nothing ({exc.failure.message})"
        )
    else:
        seen = ctx.exchange_facts(ctx.seen.last)
        opens = True
        eio3 = f"{seen.get('status_line', 'HTTP 200')} {seen.get('body_sample') or ''}".strip()
    finally:
        client.abort()
    facts.update(eio3_opens=opens or None, eio3_answer=eio3, sample=seen.get("body_sample"))
    if opens:
        detail = f'EIO=4 refused ("{message}"), EIO=3 opens a session: a Socket.IO v2 server'
    else:
        detail = f'EIO=4 refused ("{message}", code 5); EIO=3 answered {eio3}'
    raise ctx.fail("handshake", start, detail, failure=f, facts=facts)


def _eio3_binary(ctx: ProbeContext) -> bool:
    """An Engine.IO 3 payload in binary framing (a socket.io 2 server), read by the codec."""
    from conndebug.client.eio import EioDecodeError, EioType, decode_payload

    exchange = ctx.open_exchange
    if exchange is None or exchange.body[:1] not in (b"\x00", b"\x01"):
        return False
    try:
        packets = decode_payload(exchange.body, 3)
    except EioDecodeError:
        return False
    return bool(packets) and packets[0].type is EioType.OPEN


async def _look_for_socketio(ctx: ProbeContext) -> str | None:
    """Socket.IO at the usual path, when the given one is not it."""
    from conndebug.client import ClientError

    usual = "/socket.io"
    if ctx.settings.path.rstrip("/") == usual:
        return None
    client = ctx.make_client(dataclasses.replace(ctx.target, path=usual))
    try:
        await client.open("polling", min(ctx.timeout, 2.0))
    except ClientError:
        client.abort()
        return None
    ctx.others.append(client)
    return usual


async def _speaks_tls(ctx: ProbeContext) -> bool:
    """Whether the port completes a TLS handshake (plain HTTP got no answer there)."""
    if ctx.proxy:
        return False
    from conndebug.wire import WireError, connect_tcp, resolve, start_tls, tls_context

    limit = min(ctx.timeout, 3.0)
    try:
        resolved = await resolve(ctx.origin.host, ctx.origin.port, limit)
        stream = (await connect_tcp(resolved, limit)).stream
    except WireError:
        return False
    try:
        await start_tls(
            stream, ctx.origin.host, tls_context(verify=False), limit, describe=False, sniff=False
        )
    except WireError:
        return False
    finally:
        stream.abort()
    return True
