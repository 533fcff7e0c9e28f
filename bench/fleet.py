"""6. Fleet: ``conndebug probe`` over many loopback targets in one call.

N reference servers (one process, :mod:`bench.fleet_server`) are real, separate targets, each on
its own port. Wall time of ``conndebug probe --json URL1 … URLN`` against one ``conndebug probe
--json URL`` (the baseline), interleaved after a warm-up; every target must get a verdict.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

from bench.common import (
    Params,
    Row,
    Stats,
    conndebug_exe,
    ratio_text,
    running,
    say,
    spawn,
    spread,
)


async def _probe(urls: list[str]) -> dict[str, Any]:
    started = time.perf_counter()
    proc = await spawn([*conndebug_exe(), "probe", "--json", *urls])
    code = await proc.wait_exit(300)
    wall = time.perf_counter() - started
    await proc.stop()
    verdicts = [(ln.json() or {}).get("verdict", {}).get("code") for ln in proc.lines]
    return {"wall_s": wall, "exit": code, "verdicts": verdicts}


async def run(params: Params, fg: asyncio.Lock) -> list[Row]:
    n = params.fleet_size
    reps = 1 if params.smoke else 3
    async with running([sys.executable, "-m", "bench.fleet_server", str(n)]) as servers:
        first = await servers.wait_line(lambda line: line.text.startswith("{"), 120)
        if first is None:
            raise RuntimeError(f"fleet_server did not start: {servers.stderr.decode()[-500:]}")
        urls: list[str] = json.loads(first.text)["urls"]
        async with fg:
            say(f"6. fleet: one probe vs {n} probes in one call, × {reps}")
            await _probe(urls[:1])  # warm-up
            one, many = [], []
            for _ in range(reps):
                one.append(await _probe(urls[:1]))
                many.append(await _probe(urls))
    one_s = Stats.of([r["wall_s"] for r in one])
    many_s = Stats.of([r["wall_s"] for r in many])
    verdicts = [code for r in many for code in r["verdicts"]]
    all_ok = all(len(r["verdicts"]) == n for r in many) and all(v == "ok" for v in verdicts)
    return [
        Row(
            benchmark=f"6. fleet: `conndebug probe` over {n} loopback targets in one call",
            conndebug=spread(many_s)
            + (
                f", {n}/{n} verdicts ok"
                if all_ok
                else f", verdicts: {sorted(set(map(str, verdicts)))}"
            ),
            baseline=f"one probe: {spread(one_s)}",
            ratio=ratio_text(many_s.median, one_s.median),
            goal="≤ 2× one probe",
            met=all_ok and many_s.median <= 2 * one_s.median,
            raw={
                "one": one,
                "many": [{k: v for k, v in r.items() if k != "verdicts"} for r in many],
            },
        )
    ]
