"""8. The websocket: the upgrade of the polling session (``2probe`` → ``3probe``, by the client,
bounded by ``--ws-timeout``), or, when the server refuses polling, a websocket session of its own.

A failed upgrade is a warning (polling still works): its facts say where it failed (no 101, or
after it), the answer instead of 101 (status, Engine.IO error, ``Server``, a sample), or the time
limit. A server that offers no upgrade gets the handshake a websocket-first web client starts
with, so its answer (``Transport unknown``) can be quoted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from conndebug.core.events import TransportChanged, UpgradeFailed
from conndebug.core.failure import FailureKind
from conndebug.core.probe.context import ProbeContext
from conndebug.core.probe.rungs.handshake import opened_facts

if TYPE_CHECKING:
    from conndebug.client import Failure

__all__ = ["run"]


def _facts(
    ctx: ProbeContext, f: Failure, ws_url: str, ms: float, opened_before: int
) -> dict[str, Any]:
    """What tells the ways a websocket fails apart."""
    ws_timeout = ctx.settings.ws_timeout
    stage = "probe" if ctx.seen.answered_101 > opened_before else "connect"
    facts: dict[str, Any] = {
        "ws_url": ws_url,
        "upgrades": ", ".join(ctx.opened.upgrades) if ctx.opened else "websocket",
        "ms": f"{ms:.1f}",
        "error": f.message,
        "stage": stage,
        "timeout_s": f"{ws_timeout:g}",
        "failure": f.kind.value,
        "via": "proxy" if f.kind is FailureKind.PROXY else None,
    }
    if f.kind is FailureKind.PROXY and f.evidence.get("status_line"):
        facts["error"] = f"the proxy answered {f.evidence['status_line']} to CONNECT"
    refusal = ctx.seen.ws_refusal
    if f.status is not None and refusal is not None and refusal.status == f.status:
        answer = ctx.exchange_facts(refusal)
        server = answer.get("server_header")
        engine = f.engine_error
        facts.update(
            status=f.status,
            status_line=answer.get("status_line"),
            server_note=f" (Server: {server})" if server and server != "none" else "",
            message=engine.message if engine else answer.get("body_sample"),
            engine_code=engine.code if engine else None,
            body_sample=answer.get("body_sample"),
            code_note=f" (Engine.IO code {engine.code})"
            if engine and b'"code"' in refusal.body
            else "",
        )
    return facts


def _detail(ctx: ProbeContext, f: Failure, facts: dict[str, Any]) -> str:
    t = f"{ctx.settings.ws_timeout:g}"
    if f.status is not None and f.status != 101:
        status_line = facts.get("status_line") or f"HTTP {f.status}"
        engine = f.engine_error
        if f.status == 400 and engine is not None and engine.code in (0, 3):
            return (
                f'{status_line} "{engine.message}"{facts.get("code_note", "")}: the Upgrade '
                "header did not reach the server"
            )
        return f"{status_line} instead of 101"
    if f.kind is FailureKind.TIMEOUT:
        if facts["stage"] == "probe":
            return f"101, then no 3probe within {t} s"
        return f"no answer to the upgrade within {t} s (a black hole)"
    if facts["stage"] == "probe":
        return f"101, then {f.message}"
    return f.message


async def run(ctx: ProbeContext) -> None:
    s = ctx.settings
    if "websocket" not in s.transports:
        ctx.connection["upgrade"] = "not tried"
        ctx.record("websocket", "skip", None, "websocket is not in --transports")
        return
    if ctx.websocket_only:
        await _websocket_session(ctx)
        return
    client = ctx.client
    assert client is not None
    assert ctx.opened is not None
    if "websocket" not in ctx.opened.upgrades:
        await _not_offered(ctx)
        return
    ws_url = ctx.display_url(ctx.target.endpoint("websocket", client.engine.sid))
    start = ctx.now()
    opened_before = ctx.seen.answered_101
    ctx.seen.ws_refusal = None
    outcome = await client.upgrade(s.ws_timeout)
    if outcome.upgraded:
        ctx.upgraded = True
        ctx.connection.update(transport="websocket", upgrade="ok")
        ctx.bus.emit(TransportChanged, transport="websocket", previous="polling", how="upgraded")
        ctx.record(
            "websocket",
            "ok",
            start,
            f"101 Switching Protocols, 2probe → 3probe, upgraded ({ws_url})",
            url=ws_url,
        )
        return
    f = outcome.failure
    assert f is not None
    facts = _facts(ctx, f, ws_url, ctx.ms_since(start), opened_before)
    detail = _detail(ctx, f, facts)
    ctx.connection["upgrade"] = f"failed: {detail}"
    shown = ctx.redactor.value({k: v for k, v in facts.items() if v is not None})
    ctx.bus.emit(
        UpgradeFailed,
        why=ctx.redactor.text(detail),
        status=f.status,
        code=f.engine_error.code if f.engine_error else None,
        reason=f.reason,
        facts=shown,
    )
    ctx.record("websocket", "warn", start, detail + "; staying on polling", **facts)


async def _websocket_session(ctx: ProbeContext) -> None:
    """The server refuses polling: a session over the websocket alone."""
    from conndebug.client import ClientError

    ws_url = ctx.display_url(ctx.target.endpoint("websocket"))
    start = ctx.now()
    opened_before = ctx.seen.answered_101
    ctx.seen.ws_refusal = None
    client = ctx.make_client()
    try:
        op = await client.open("websocket", ctx.settings.ws_timeout)
    except ClientError as exc:
        client.abort()
        f = exc.failure
        facts = _facts(ctx, f, ws_url, ctx.ms_since(start), opened_before)
        detail = _detail(ctx, f, facts)
        facts.update(blocked_how=detail, websocket_only=True)
        ctx.connection["upgrade"] = f"failed: {detail}"
        raise ctx.fail(
            "websocket", start, detail, failure=f, phase="websocket", facts=facts
        ) from None
    ctx.client = client
    opened_facts(ctx, op, "websocket")
    ctx.connection["upgrade"] = "websocket only"
    ctx.bus.emit(TransportChanged, transport="websocket", how="direct")
    ctx.record(
        "websocket",
        "ok",
        start,
        f"101 Switching Protocols, open packet received ({ws_url})",
        url=ws_url,
        sid=op.sid,
        upgrades=list(op.upgrades),
    )


async def _not_offered(ctx: ProbeContext) -> None:
    """No upgrade offered: a websocket-first client starts with a websocket handshake anyway."""
    from conndebug.client import ClientError

    ctx.connection["upgrade"] = "not offered"
    if ctx.settings.transports[0] != "websocket":
        ctx.record("websocket", "skip", None, "the server offers no websocket upgrade")
        return
    ws_url = ctx.display_url(ctx.target.endpoint("websocket"))
    start = ctx.now()
    opened_before = ctx.seen.answered_101
    ctx.seen.ws_refusal = None
    client = ctx.make_client()
    try:
        await client.open("websocket", ctx.settings.ws_timeout)
    except ClientError as exc:
        f = exc.failure
        facts = _facts(ctx, f, ws_url, ctx.ms_since(start), opened_before)
        detail = _detail(ctx, f, facts)
        ctx.emit_failure(f, phase="websocket", facts=facts)
        ctx.record(
            "websocket",
            "warn",
            start,
            "the server offers no websocket upgrade, and the websocket handshake a "
            f"websocket-first client starts with got: {detail}",
            **facts,
        )
        return
    finally:
        client.abort()
    ctx.record(
        "websocket",
        "ok",
        start,
        "the server offers no websocket upgrade, but a websocket session opens directly",
        url=ws_url,
    )
