"""5. Event storm: a burst of server events.

The Node storm server (``bench/node/storm_server.js``) sends COUNT ``storm`` events at once, then
``storm:done``. Three consumers, one after the other:

- ``conndebug watch URL --jsonl --query storm=COUNT`` (the query asks for the burst): every event
  must be a line on stdout (counted, and every index checked); its pace is COUNT ÷ (``storm:done``
  line's ``t`` − ``connected`` line's ``t``);
- the seed's client counting the same stream (``client.js --emit storm --count storm``): COUNT ÷
  (``count_done.t`` − ``connect.t``);
- the TUI (:mod:`bench.tui_storm`, its own process): key → screen latency during the burst, and the
  process's peak RSS.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from typing import Any

from bench.common import (
    Params,
    Row,
    Stats,
    conndebug_exe,
    node_client,
    node_event,
    say,
    secs,
    spawn,
    spread,
    storm_server,
)


async def _watch_once(url: str, count: int) -> dict[str, Any]:
    argv = [
        *conndebug_exe(),
        "watch",
        url,
        "--jsonl",
        "--no-guest",
        "--query",
        f"storm={count}",
        "--duration",
        "300",
    ]
    proc = await spawn(argv)
    try:
        done = await proc.wait_line(lambda line: '"name":"storm:done"' in line.text, 300)
        if done is None:
            raise RuntimeError(f"watch never printed storm:done: {proc.stderr.decode()[-400:]}")
    finally:
        await proc.stop()
    seen: set[int] = set()
    lines = 0
    connected_t = done_t = None
    for line in proc.lines:
        data = line.json()
        if data is None:
            continue
        if data.get("kind") == "connected" and connected_t is None:
            connected_t = float(data["t"])
        elif data.get("kind") == "event_in":
            if data.get("name") == "storm":
                lines += 1
                with contextlib.suppress(ValueError, KeyError, TypeError):
                    seen.add(int(json.loads(data["preview"])["i"]))
            elif data.get("name") == "storm:done":
                done_t = float(data["t"])
    if connected_t is None or done_t is None:
        raise RuntimeError("watch printed no connected or no storm:done event")
    elapsed = done_t - connected_t
    return {
        "lines": lines,
        "distinct": len(seen),
        "complete": lines == count and seen == set(range(count)),
        "elapsed_s": elapsed,
        "pace": count / elapsed,
    }


async def _node_once(url: str, count: int) -> dict[str, Any]:
    proc = await node_client(
        url,
        "--count",
        "storm",
        "--expect",
        str(count),
        "--exit-on",
        "count",
        "--emit",
        "storm",
        "--emit-json",
        json.dumps({"count": count}),
        "--max-ms",
        "300000",
    )
    try:
        done = await proc.wait_line(node_event("count_done"), 300)
        connect = await proc.wait_line(node_event("connect"), 0)
    finally:
        await proc.stop()
    if done is None or connect is None:
        raise RuntimeError("the Node client did not count the storm")
    elapsed = ((done.json() or {})["t"] - (connect.json() or {})["t"]) / 1000.0
    return {"elapsed_s": elapsed, "pace": count / elapsed}


async def _tui_once(url: str, count: int, presses: int) -> dict[str, Any]:
    proc = await spawn([sys.executable, "-m", "bench.tui_storm", url, str(count), str(presses)])
    code = await proc.wait_exit(300)
    if code != 0 or not proc.lines:
        await proc.stop()
        raise RuntimeError(f"bench.tui_storm failed ({code}): {proc.stderr.decode()[-800:]}")
    return json.loads(proc.lines[-1].text)


def _mb(value: float) -> str:
    return f"{value / 1e6:.0f} MB"


async def run(params: Params, fg: asyncio.Lock) -> list[Row]:
    count = params.storm_count
    reps = 1 if params.smoke else 3
    async with storm_server() as url, fg:
        say(f"5. storm: {count} events × {reps}, watch --jsonl and the Node client interleaved")
        watch_runs, node_runs = [], []
        for _ in range(reps):
            watch_runs.append(await _watch_once(url, count))
            node_runs.append(await _node_once(url, count))
        say("5. storm: the TUI under the storm")
        try:
            tui: dict[str, Any] | None = await _tui_once(url, count, params.key_presses)
            tui_error = None
        except RuntimeError as exc:
            tui, tui_error = None, str(exc)
    watch_pace = Stats.of([r["pace"] for r in watch_runs])
    node_pace = Stats.of([r["pace"] for r in node_runs])
    complete = all(r["complete"] for r in watch_runs)

    def pace(value: float) -> str:
        return f"{value:,.0f}/s"

    rows = [
        Row(
            benchmark=f"5. storm of {count:,} events: `watch --jsonl` records every one, pace",
            conndebug=f"{spread(watch_pace, pace)}; lines: "
            + ", ".join(str(r["lines"]) for r in watch_runs)
            + (" — all complete" if complete else " — INCOMPLETE"),
            baseline=f"seed's client counting: {spread(node_pace, pace)}",
            ratio=f"{watch_pace.median / node_pace.median:.2f}× of its pace",
            goal="every event; pace ≥ 0.5× the seed's client",
            met=complete and watch_pace.median >= 0.5 * node_pace.median,
            raw={"watch": watch_runs, "node": node_runs},
        )
    ]
    if tui is None:
        rows.append(
            Row(
                benchmark="5. TUI under the storm: key → screen (Pilot, `l`), peak RSS",
                conndebug=f"failed: {tui_error}",
                baseline="—",
                ratio="—",
                goal="≤ 100 ms; memory bounded",
                met=False,
            )
        )
        return rows
    lat = Stats.of(tui["latencies_s"])
    during = sum(1 for d in tui["during_storm"] if d)
    rows.append(
        Row(
            benchmark="5. TUI under the storm: key → screen (Pilot, `l`), peak RSS",
            conndebug=f"{spread(lat)}, {during}/{lat.n} presses during the burst; "
            f"all {tui['events_in'] - 1:,} events in ({secs(tui['storm_s'])}); RSS "
            f"{_mb(tui['rss_connected'])} connected → peak {_mb(tui['maxrss'])}",
            baseline="—",
            ratio="—",
            goal="≤ 100 ms; memory bounded",
            met=lat.high <= 0.1 and tui["events_in"] >= count + 1,
            raw=tui,
        )
    )
    return rows
