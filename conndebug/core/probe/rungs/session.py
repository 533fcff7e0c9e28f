"""7. Session consistency: round trips on the polling session (a ``CONNECT`` to a namespace no
server has, which every server answers at once). Each is a new request: behind a load balancer
without affinity one lands on a node that does not know the session (``Session ID unknown``).
A server that closes the session at this first Socket.IO packet is asked again with the other
parser (a msgpack server cannot read the default parser's packets, and the reverse)."""

from __future__ import annotations

import time
from typing import Any

from conndebug.core.probe.context import ProbeContext

__all__ = ["ROUNDS", "closed_at_first_packet", "run"]

ROUNDS = 3


def _median(samples: list[float]) -> float:
    ordered = sorted(samples)
    half = len(ordered) // 2
    return ordered[half] if len(ordered) % 2 else (ordered[half - 1] + ordered[half]) / 2


async def closed_at_first_packet(
    ctx: ProbeContext, rung: str, start: float, transport: str, close: Any, first_sent: float
) -> None:
    """The server closed the session at our first Socket.IO packet: a parser mismatch if a
    client with the other parser is answered, else the session broke. Always raises Stop."""
    from conndebug.client import Failure
    from conndebug.client.connecting import check_parser
    from conndebug.core.failure import FailureKind

    after = max(0.0, (close.mono - first_sent) * 1000.0)
    closed = Failure(
        phase="namespace",
        kind=FailureKind.CLOSED,
        message=close.message,
        transport=transport,
        reason="closed",
        status=close.status,
        engine_error=close.engine_error,
    )
    checked = await check_parser(
        ctx.http,
        ctx.target,
        transport,  # type: ignore[arg-type]
        ctx.settings.parser,
        ctx.settings.namespace,
        None,
        closed,
        time.monotonic() + min(ctx.timeout, 5.0),
    )
    closed_after = f"{after:.0f} ms" if after >= 1 else "at once"
    if checked.reason == "parser_mismatch":
        theirs = checked.evidence.get("server_parser")
        raise ctx.fail(
            rung,
            start,
            f"the server closed the session {closed_after} after our first packet "
            f"({ctx.settings.parser} parser) and answers the {theirs} parser",
            failure=checked,
            phase=rung,
            facts={"closed_after": closed_after, "close": close.message},
        )
    raise ctx.fail(
        rung,
        start,
        f"the session broke: {close.message}",
        failure=closed,
        phase=rung,
        facts={"error": close.message, "closed_after": closed_after},
    )


async def run(ctx: ProbeContext) -> None:
    client = ctx.client
    if ctx.websocket_only or client is None or client.transport != "polling":
        ctx.record("session", "skip", None, "no polling session (websocket only)")
        return
    start = ctx.now()
    bound = min(ctx.timeout, 5.0)
    samples: list[float] = []
    first_sent = time.monotonic()
    for i in range(1, ROUNDS + 1):
        ms = await client.round_trip(bound)
        if ms is not None:
            samples.append(ms)
            continue
        if not client.closed.done():
            raise ctx.fail(
                "session",
                start,
                f"round trip {i}: no answer to a namespace probe within {bound:g} s",
                kind="connect_timeout",
                reason="no_answer",
                transport="polling",
                facts={"error": "a namespace connect got no answer"},
            )
        close = client.closed.result()
        engine = close.engine_error
        if engine is not None and engine.code == 1:
            seen = ctx.exchange_facts(ctx.seen.last)
            status_line = (
                seen["status_line"]
                if seen.get("status") == close.status
                else (f"HTTP {close.status}" if close.status else "an error")
            )
            raise ctx.fail(
                "session",
                start,
                f'round trip {i}: {status_line} "{engine.message}": another node answered',
                kind="http_status",
                reason="engine_error",
                status=close.status,
                code=1,
                transport="polling",
                facts={
                    "engine_sid": client.engine.sid,
                    "failed_at": i,
                    "rounds": ROUNDS,
                    "status_line": status_line,
                    "message": engine.message,
                    "error": close.message,
                },
            )
        if i == 1:
            await closed_at_first_packet(ctx, "session", start, "polling", close, first_sent)
        raise ctx.fail(
            "session",
            start,
            f"round trip {i} failed: {close.message}",
            kind="closed",
            status=close.status,
            code=engine.code if engine else None,
            transport="polling",
            facts={"error": close.message, "failed_at": i, "rounds": ROUNDS},
        )
    ctx.record(
        "session",
        "ok",
        start,
        f"{ROUNDS} polling round trips on session {client.engine.sid}: same session every time "
        f"(median {_median(samples):.1f} ms)",
        rounds=ROUNDS,
        samples_ms=[round(s, 2) for s in samples],
    )
