"""3. Silent drop → ``stall``.

A ``conndebug serve`` process is frozen with SIGSTOP (and, separately, a second one black-holes all
traffic through its admin API) while conndebug's monitor is connected to it; the time from the
freeze to the monitor's ``stall`` event is measured. The freeze falls at a random moment between
two round-trip samples. Afterwards the server is thawed and the monitor must recover.

Baselines: the heartbeat bound (pingInterval + pingTimeout of the server: 25 s + 60 s, the real
backend's) and the seed's client's actual time to notice (its ``disconnect``), capped; plus the
same client against a server with a short heartbeat (5 s + 5 s) to show it does notice at the bound.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from typing import Any

from bench.common import (
    Params,
    Row,
    Serve,
    Stats,
    node_client,
    node_event,
    say,
    secs,
    serve,
    spread,
)


def monitor_for(url: str, *extra: str) -> Any:
    """conndebug's monitor with exactly the CLI's defaults for ``url``."""
    from conndebug.cli import build_parser, make_settings
    from conndebug.core.monitor import make_monitor

    args = build_parser("watch").parse_args([url, *extra])
    return make_monitor(make_settings(args, url))


async def until(condition: Callable[[], bool], timeout: float, step: float = 0.005) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(step)
    return True


class Marks:
    """Monotonic times of the monitor's events, as they are published."""

    def __init__(self) -> None:
        self.times: dict[str, list[float]] = {}
        self.events: list[Any] = []

    def __call__(self, event: Any) -> None:
        kind = event.kind
        if kind == "stall" and getattr(event, "recovered", False):
            kind = "recovered"
        self.times.setdefault(kind, []).append(time.monotonic())
        if kind not in ("event_in", "rtt"):
            self.events.append(event)

    def count(self, kind: str) -> int:
        return len(self.times.get(kind, []))

    def first_after(self, kind: str, moment: float) -> float | None:
        return next((t for t in self.times.get(kind, []) if t >= moment), None)


async def _conndebug_reps(srv: Serve, how: str, reps: int, rng: random.Random) -> list[float]:
    monitor = monitor_for(srv.url)
    marks = Marks()
    monitor.bus.subscribe(marks)
    results: list[float] = []
    try:
        await monitor.start()
        if not await until(lambda: marks.count("connected") > 0, 20):
            raise RuntimeError(f"stall ({how}): the monitor did not connect")
        for _ in range(reps):
            rtts = marks.count("rtt")
            await until(lambda rtts=rtts: marks.count("rtt") >= rtts + 2, 10)
            await asyncio.sleep(rng.uniform(0.0, 1.0))  # a random phase between two samples
            frozen = time.monotonic()
            if how == "sigstop":
                srv.freeze()
            else:
                await srv.admin("PUT", "faults", {"blackhole": True})
            await until(lambda f=frozen: marks.first_after("stall", f) is not None, 20)
            stalled = marks.first_after("stall", frozen)
            thawed = time.monotonic()  # before: life may return while the admin call answers
            if how == "sigstop":
                srv.thaw()
            else:
                await srv.admin("PUT", "faults", {"blackhole": False})
            if stalled is None:
                raise RuntimeError(f"stall ({how}): no stall event within 20 s")
            results.append(stalled - frozen)
            if not await until(lambda t=thawed: marks.first_after("recovered", t) is not None, 20):
                seen = "; ".join(f"{e.kind}: {e.detail[:90]}" for e in marks.events[-6:])
                raise RuntimeError(f"stall ({how}): the monitor did not recover ({seen})")
    finally:
        await monitor.stop()
    return results


async def node_notice(srv: Serve, cap: float) -> dict[str, Any]:
    """The seed's client connected; the server frozen; when does the client notice (capped)?"""
    token = await srv.guest_token()
    proc = await node_client(
        srv.url, "--token", token, "--exit-on", "never", "--max-ms", str(int((cap + 30) * 1000))
    )
    try:
        if await proc.wait_line(node_event("connect"), 20) is None:
            raise RuntimeError("stall baseline: the Node client did not connect")
        await asyncio.sleep(1.0)
        frozen = time.monotonic()
        srv.freeze()
        try:
            line = await proc.wait_line(node_event("disconnect"), cap)
        finally:
            srv.thaw()
        return {
            "noticed_s": (line.at - frozen) if line else None,
            "reason": (line.json() or {}).get("reason") if line else None,
            "cap_s": cap,
        }
    finally:
        await proc.stop()


async def run(params: Params, fg: asyncio.Lock) -> list[Row]:
    rng = random.Random(7)
    short = ("--ping-interval", "5", "--ping-timeout", "5")
    async with (
        serve("--quiet") as frozen_srv,
        serve("--quiet") as holed,
        serve("--quiet") as base_srv,
        serve("--quiet", *short) as short_srv,
    ):
        base_task = asyncio.gather(
            node_notice(base_srv, params.baseline_cap_s),
            node_notice(short_srv, min(params.baseline_cap_s, 30.0)),
        )
        async with fg:
            say("3. stall: conndebug, server frozen with SIGSTOP")
            stop_runs = await _conndebug_reps(frozen_srv, "sigstop", params.slow_reps, rng)
            say("3. stall: conndebug, all traffic black-holed")
            hole_runs = await _conndebug_reps(holed, "blackhole", params.slow_reps, rng)
        default_node, short_node = await base_task
        say("3. stall: Node baselines done")

    def node_text(result: dict[str, Any], bound: float) -> str:
        if result["noticed_s"] is None:
            return f"never within {result['cap_s']:.0f} s (heartbeat bound {bound:g} s)"
        return f"{secs(result['noticed_s'])} (“{result['reason']}”; bound {bound:g} s)"

    rows = []
    for label, runs in (("SIGSTOP", stop_runs), ("all-traffic blackhole", hole_runs)):
        stats = Stats.of(runs)
        noticed = default_node["noticed_s"]
        rows.append(
            Row(
                benchmark=f"3. silent drop ({label}) → `stall`",
                conndebug=spread(stats),
                baseline=f"seed's client, heartbeat 25 s + 60 s: {node_text(default_node, 85)}; "
                f"with 5 s + 5 s: {node_text(short_node, 10)}",
                ratio=(
                    f"{stats.median / noticed:.2f}×"
                    if noticed
                    else f"< {stats.median / params.baseline_cap_s:.2f}× (vs the cap); "
                    f"{stats.median / 85:.3f}× of the 85 s bound"
                ),
                goal="≤ 3 s",
                met=stats.median <= 3.0,
                raw={"samples": runs, "node_default": default_node, "node_short": short_node},
            )
        )
    return rows
