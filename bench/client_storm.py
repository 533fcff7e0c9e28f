"""10. The observable client alone: storm pace and import cost, beside the Node client.

- **Storm, client only**: a process runs :mod:`conndebug.client` against the Node storm server
  (``bench/node/storm_server.js``), emits ``storm`` {count} once connected and counts every
  event (checking every index) through its ``on_event`` callback; pace = COUNT ÷
  (``storm:done`` − connected). The Node client counts the same burst, asked the same way (as in
  benchmark 5). This is the budget the monitor and the printer above it spend from: ``watch --jsonl``'s
  goal is ≥ 0.5× the Node client, so the client alone must be well above that. On loopback the
  server's own emit rate caps both clients' wall pace, so the row also gives the client's
  **CPU-bound pace** (COUNT ÷ the client process's CPU seconds from connect to the last event):
  the pace it could take if the server sent faster.
- **Import**: ``python -c "import conndebug.client.connecting"`` against ``python -c "import
  socketio, aiohttp"`` (what the monitor loads today) and ``python -c pass``: process wall time,
  the best of N runs (imports are noise-sensitive on a shared machine).

Run as a peer: ``python -m bench.client_storm URL COUNT [websocket|polling]`` prints one JSON line.
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
    node_client,
    node_event,
    say,
    secs,
    spawn,
    spread,
    storm_server,
)


async def _peer(url: str, count: int, transport: str) -> dict[str, Any]:
    """The client-only consumer (runs in its own process)."""
    from conndebug.client.connecting import connect
    from conndebug.client.engine import Target
    from conndebug.wire import HttpClient

    seen = bytearray(count)
    storms = 0
    done = asyncio.Event()
    done_at = 0.0

    def on_event(event: Any) -> None:
        nonlocal storms, done_at
        if event.name == "storm":
            storms += 1
            seen[event.args[0]["i"]] = 1
        elif event.name == "storm:done":
            done_at = time.monotonic()
            done.set()

    cpu0 = time.process_time()
    async with HttpClient() as http:
        conn = await connect(
            http,
            Target(url),
            transports=(transport,),  # type: ignore[arg-type]
            on_event=on_event,
        )
        connected_at = time.monotonic()
        conn.client.emit("storm", {"count": count})
        await asyncio.wait_for(done.wait(), 300)
        cpu = time.process_time() - cpu0
        await conn.client.close()
    elapsed = done_at - connected_at
    return {
        "events": storms,
        "complete": storms == count and all(seen),
        "elapsed_s": elapsed,
        "pace": count / elapsed,
        "cpu_s": cpu,
    }


async def _ours_once(url: str, count: int, transport: str) -> dict[str, Any]:
    proc = await spawn([sys.executable, "-m", "bench.client_storm", url, str(count), transport])
    code = await proc.wait_exit(300)
    if code != 0 or not proc.lines:
        await proc.stop()
        raise RuntimeError(f"bench.client_storm failed ({code}): {proc.stderr.decode()[-800:]}")
    result: dict[str, Any] = json.loads(proc.lines[-1].text)
    return result


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


async def _wall(code: str) -> float:
    started = time.monotonic()
    proc = await spawn([sys.executable, "-c", code])
    if await proc.wait_exit(60) != 0:
        raise RuntimeError(f"python -c {code!r} failed: {proc.stderr.decode()[-400:]}")
    return time.monotonic() - started


def _pace(value: float) -> str:
    return f"{value:,.0f}/s"


async def run(params: Params, fg: asyncio.Lock) -> list[Row]:
    count = params.storm_count
    reps = 1 if params.smoke else 5
    rows: list[Row] = []
    async with storm_server() as url, fg:
        say(
            f"10. client storm: {count} events × {reps}, client alone (websocket, polling) and Node"
        )
        ws_runs, poll_runs, node_runs = [], [], []
        for _ in range(reps):
            ws_runs.append(await _ours_once(url, count, "websocket"))
            poll_runs.append(await _ours_once(url, count, "polling"))
            node_runs.append(await _node_once(url, count))
        say("10. client import: best of N process runs")
        n = 3 if params.smoke else 15
        imports: dict[str, list[float]] = {"client": [], "socketio": [], "pass": []}
        for _ in range(n):
            imports["client"].append(await _wall("import conndebug.client.connecting"))
            imports["socketio"].append(await _wall("import socketio, aiohttp"))
            imports["pass"].append(await _wall("pass"))
    node = Stats.of([r["pace"] for r in node_runs])
    for name, runs in (("websocket", ws_runs), ("polling", poll_runs)):
        ours = Stats.of([r["pace"] for r in runs])
        complete = all(r["complete"] for r in runs)
        cpu = Stats.of([count / r["cpu_s"] for r in runs])
        rows.append(
            Row(
                benchmark=f"10. client alone ({name}): storm of {count:,} events counted, pace",
                conndebug=f"{spread(ours, _pace)}; CPU-bound pace {spread(cpu, _pace)}"
                + (" — all complete" if complete else " — INCOMPLETE"),
                baseline=f"Node client counting: {spread(node, _pace)}",
                ratio=f"{ours.median / node.median:.2f}× of its pace",
                goal="every event; ≥ the Node client's pace (the server's emit rate is the "
                "ceiling of both); CPU-bound pace > 100,000/s",
                met=complete
                and ours.median >= 0.9 * node.median
                and (cpu.median > 100_000 or params.smoke),
                raw={"ours": runs, "node": node_runs},
            )
        )
    best = {k: min(v) for k, v in imports.items()}
    rows.append(
        Row(
            benchmark="10. `import conndebug.client.connecting`: process wall time, best of "
            f"{n} (python -c pass: {secs(best['pass'])})",
            conndebug=f"{secs(best['client'])} (+{secs(best['client'] - best['pass'])} over "
            "an empty interpreter); loads no aiohttp, python-socketio, python-engineio, msgpack",
            baseline=f"`import socketio, aiohttp`: {secs(best['socketio'])} "
            f"(+{secs(best['socketio'] - best['pass'])})",
            ratio=f"{(best['client'] - best['pass']) / max(1e-6, best['socketio'] - best['pass']):.2f}× "
            "of the added time",
            goal="well below python-socketio's client",
            met=best["client"] < best["socketio"],
            raw={k: v for k, v in imports.items()},
        )
    )
    return rows


def main() -> None:
    url, count = sys.argv[1], int(sys.argv[2])
    transport = sys.argv[3] if len(sys.argv) > 3 else "websocket"
    print(json.dumps(asyncio.run(_peer(url, count, transport))), flush=True)


if __name__ == "__main__":
    main()
