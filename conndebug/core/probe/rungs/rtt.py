"""10. Round trips: ``--rtt-event`` with an acknowledgement, or a ``CONNECT`` to a namespace no
server has (every server answers it at once); five samples, and the heartbeat's figures."""

from __future__ import annotations

import asyncio

from conndebug.core.events import Rtt
from conndebug.core.probe.context import ProbeContext
from conndebug.core.probe.result import Status

__all__ = ["SAMPLES", "run"]

SAMPLES = 5


def _s(ms: object) -> str | None:
    return f"{ms / 1000:g}" if isinstance(ms, int) else None


def _median(samples: list[float]) -> float:
    ordered = sorted(samples)
    half = len(ordered) // 2
    return ordered[half] if len(ordered) % 2 else (ordered[half - 1] + ordered[half]) / 2


async def run(ctx: ProbeContext) -> None:
    client = ctx.client
    assert client is not None
    s = ctx.settings
    start = ctx.now()
    method = s.rtt_event or "namespace-probe"
    samples: list[float] = []
    error = ""
    bound = min(ctx.timeout, 5.0)
    held = ctx.held_rtt_ms if not s.rtt_event else None
    if held is not None:  # the namespace rung's hold was the first sample
        samples.append(held)
        ctx.bus.emit(Rtt, ms=held, method=method)
    for i in range(len(samples), SAMPLES):
        t0 = ctx.now()
        if s.rtt_event:
            try:
                await client.call(s.rtt_event, namespace=s.namespace, timeout=bound)
            except asyncio.TimeoutError:
                error = f"sample {i + 1}: no answer within {bound:g} s"
                break
            except ConnectionError as exc:
                error = f"sample {i + 1}: {exc}"
                break
            ms = ctx.ms_since(t0)
        else:
            measured = await client.round_trip(bound)
            if measured is None:
                why = (
                    "the session ended" if client.closed.done() else f"no answer within {bound:g} s"
                )
                error = f"sample {i + 1}: {why}"
                break
            ms = measured
        samples.append(ms)
        ctx.bus.emit(Rtt, ms=ms, method=method)
    interval = ctx.connection.get("ping_interval_ms")
    timeout = ctx.connection.get("ping_timeout_ms")
    heartbeat = (
        f"heartbeat: ping every {_s(interval)} s, timeout {_s(timeout)} s"
        if _s(interval) and _s(timeout)
        else "heartbeat: not announced"
    )
    if not samples:
        ctx.record(
            "rtt",
            "warn",
            start,
            f"no round trip measured ({error}); {heartbeat}",
            method=method,
            error=error,
        )
        return
    median = _median(samples)
    ctx.connection["rtt_ms"] = round(median, 2)
    status: Status = "warn" if error else "ok"
    ctx.record(
        "rtt",
        status,
        start,
        f"median {median:.1f} ms over {len(samples)} ({method}, min {min(samples):.1f}, "
        f"max {max(samples):.1f}); {heartbeat}" + (f"; {error}" if error else ""),
        method=method,
        samples_ms=[round(x, 2) for x in samples],
        transport=client.transport,
    )
