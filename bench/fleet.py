"""6. Fleet: ``conndebug probe`` over many loopback targets in one call.

N reference servers (one process, :mod:`bench.fleet_server`) are real, separate targets, each on
its own port. Wall time of ``conndebug probe --json URL1 … URLN`` against one ``conndebug probe
--json URL`` (the baseline), interleaved after a warm-up; every target must get a verdict.

The CPU time of both sides is reported too (psutil): the probe process's (sampled every 10 ms
until it exits, so the last few milliseconds of its teardown may be missing) and the targets'
process's, since on a machine with few cores the N targets' own work, in one Python process,
bounds the wall time as much as the probe does.
"""

from __future__ import annotations

import asyncio
import json
import statistics
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


def _cpu_s(process: Any) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


async def _cpu_until_exit(pid: int) -> float:
    """The CPU seconds of process ``pid`` at its last sample before it went away."""
    import psutil

    last = 0.0
    try:
        process = psutil.Process(pid)
        while True:
            last = _cpu_s(process)
            await asyncio.sleep(0.01)
    except psutil.Error:
        return last


async def _probe(urls: list[str], targets_pid: int) -> dict[str, Any]:
    import psutil

    targets = psutil.Process(targets_pid)
    targets_before = _cpu_s(targets)
    started = time.perf_counter()
    proc = await spawn([*conndebug_exe(), "probe", "--json", *urls])
    watch = asyncio.create_task(_cpu_until_exit(proc.pid))
    code = await proc.wait_exit(300)
    wall = time.perf_counter() - started
    probe_cpu = await watch
    await proc.stop()
    verdicts = [(ln.json() or {}).get("verdict", {}).get("code") for ln in proc.lines]
    return {
        "wall_s": wall,
        "exit": code,
        "verdicts": verdicts,
        "probe_cpu_s": probe_cpu,
        "targets_cpu_s": _cpu_s(targets) - targets_before,
    }


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
            await _probe(urls[:1], servers.pid)  # warm-up
            one, many = [], []
            for _ in range(reps):
                one.append(await _probe(urls[:1], servers.pid))
                many.append(await _probe(urls, servers.pid))
    one_s = Stats.of([r["wall_s"] for r in one])
    many_s = Stats.of([r["wall_s"] for r in many])
    verdicts = [code for r in many for code in r["verdicts"]]
    all_ok = all(len(r["verdicts"]) == n for r in many) and all(v == "ok" for v in verdicts)
    # CPU per target beyond the process's own start: (N targets − 1 target) / (N − 1).
    median = statistics.median
    probe_ms = (
        (median(r["probe_cpu_s"] for r in many) - median(r["probe_cpu_s"] for r in one))
        / max(n - 1, 1)
        * 1000
    )
    targets_ms = median(r["targets_cpu_s"] for r in many) / n * 1000
    cpu_note = (
        f"; CPU per target: probe {probe_ms:.1f} ms, the targets {targets_ms:.1f} ms "
        f"(one process for all {n})"
    )
    return [
        Row(
            benchmark=f"6. fleet: `conndebug probe` over {n} loopback targets in one call",
            conndebug=spread(many_s)
            + (
                f", {n}/{n} verdicts ok"
                if all_ok
                else f", verdicts: {sorted(set(map(str, verdicts)))}"
            )
            + cpu_note,
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
