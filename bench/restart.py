"""4. Server back → connected again after a restart.

``conndebug serve`` restarts through its admin API (``POST /_conndebug/restart {"down_s": D}``:
every connection dropped, the port closed for D seconds, then listening again; it prints
``back up`` at that moment). conndebug's monitor and the seed's client are connected at the same
time; for each restart the time from "listening again" to each one's next ``connected`` is
measured. Two down times: one longer than the first reconnection delay (the backoff's 1 s ± 50 %),
one shorter.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bench.common import (
    Params,
    Row,
    Stats,
    node_client,
    node_event,
    ratio_text,
    say,
    serve,
    spread,
)
from bench.stall import Marks, monitor_for, until


async def _restarts(params: Params, down_s: float, reps: int) -> dict[str, Any]:
    async with serve() as srv:
        token = await srv.guest_token()
        monitor = monitor_for(srv.url)
        marks = Marks()
        monitor.bus.subscribe(marks)
        node = await node_client(
            srv.url, "--token", token, "--exit-on", "never", "--max-ms", "600000"
        )
        ours: list[float] = []
        theirs: list[float | None] = []
        try:
            await monitor.start()
            if not await until(lambda: marks.count("connected") > 0, 20):
                raise RuntimeError(
                    f"restart: conndebug did not connect within 20 s (state {monitor.state.value}"
                    f", verdict {monitor.verdict.code if monitor.verdict else 'none'})"
                )
            if await node.wait_line(node_event("connect"), 20) is None:
                raise RuntimeError(
                    "restart: the seed's client did not connect within 20 s: "
                    + " | ".join(line.text for line in node.lines[-3:])
                )
            for _ in range(reps):
                await asyncio.sleep(1.0)
                seen = len(srv.proc.lines)
                node_seen = len(node.lines)
                await srv.admin("POST", "restart", {"down_s": down_s})
                up = await srv.proc.wait_line(
                    lambda line: "back up" in line.text, down_s + 15, start=seen
                )
                if up is None:
                    raise RuntimeError("restart: the server did not come back")
                await until(lambda u=up.at: marks.first_after("connected", u) is not None, 15)
                connected = marks.first_after("connected", up.at)
                if connected is None:
                    raise RuntimeError("restart: conndebug did not reconnect within 15 s")
                ours.append(connected - up.at)
                back = await node.wait_line(node_event("connect"), 15, start=node_seen)
                theirs.append((back.at - up.at) if back else None)
        finally:
            await monitor.stop()
            await node.stop()
    return {"down_s": down_s, "conndebug": ours, "node": theirs}


async def run(params: Params, fg: asyncio.Lock) -> list[Row]:
    rows = []
    for down_s in (params.restart_down_s, min(0.5, params.restart_down_s / 2)):
        async with fg:
            say(f"4. restart: {params.slow_reps} restarts, down {down_s:g} s")
            started = time.monotonic()
            result = await _restarts(params, down_s, params.slow_reps)
            say(f"4. restart: done in {time.monotonic() - started:.0f} s")
        ours = Stats.of(result["conndebug"])
        node_times = [t for t in result["node"] if t is not None]
        missed = len(result["node"]) - len(node_times)
        node = Stats.of(node_times) if node_times else None
        rows.append(
            Row(
                benchmark=f"4. server back (down {down_s:g} s) → connected again",
                conndebug=spread(ours) + " after the port listens again",
                baseline=(f"seed's client: {spread(node)}" if node else "seed's client: never")
                + (f" ({missed} not within 15 s)" if missed else ""),
                ratio=ratio_text(ours.median, node.median if node else None),
                goal="median ≤ 0.3 s",
                met=ours.median <= 0.3,
                raw=result,
            )
        )
    return rows
