"""1. Blocked websocket → connected over polling.

The reference server (``conndebug serve --websocket reject|blackhole``) refuses websocket upgrades
with 403, or accepts them and never answers. conndebug (``watch --jsonl --duration 0``) tries the
websocket, falls back to polling and connects; the time of the attempt is the ``connected`` event's
``elapsed_ms`` (from the attempt's start), and the process time is spawn → that line.

The baseline is the seed's client (``tests/node/client.js``: transports websocket,polling, 20 s
timeout, 10 reconnection attempts), once as configured and once with ``--try-all-transports``.
It is deterministic (it either falls back or it never does), so one run per mode, capped.
"""

from __future__ import annotations

import asyncio
from typing import Any

from bench.common import (
    Params,
    Row,
    Stats,
    conndebug_exe,
    jsonl_kind,
    node_client,
    node_event,
    ratio_text,
    say,
    secs,
    serve,
    spawn,
    spread,
)


async def _conndebug_once(url: str, params: Params) -> dict[str, Any]:
    argv = [
        *conndebug_exe(),
        "watch",
        url,
        "--jsonl",
        "--duration",
        "0",
        "--ws-timeout",
        str(params.ws_timeout_s),
    ]
    proc = await spawn(argv)
    try:
        line = await proc.wait_line(jsonl_kind("connected"), 30)
        if line is None:
            raise RuntimeError(f"conndebug watch did not connect: {proc.stderr.decode()[-400:]}")
        data = line.json() or {}
        await proc.wait_exit(10)
        fallback = await proc.wait_line(jsonl_kind("fallback"), 0)
        return {
            "attempt_s": float(data["elapsed_ms"]) / 1000.0,
            "process_s": line.at - proc.started,
            "transport": data.get("transport"),
            "how": data.get("how"),
            "fallback_why": (fallback.json() or {}).get("why") if fallback else None,
        }
    finally:
        await proc.stop()


async def node_baseline(url: str, token: str, cap: float, *extra: str) -> dict[str, Any]:
    """One run of the seed's client, capped: when (if) it connected, and what it went through."""
    proc = await node_client(url, "--token", token, "--max-ms", str(int(cap * 1000)), *extra)
    try:
        line = await proc.wait_line(node_event("connect"), cap + 5)
        await proc.wait_exit(1 if line else cap + 5)
        events = [ln.json() or {} for ln in proc.lines]
        errors = [e for e in events if e.get("event") == "connect_error"]
        gave_up = next((e for e in events if e.get("event") == "reconnect_failed"), None)
        result: dict[str, Any] = {
            "connected_s": (line.at - proc.started) if line else None,
            "transport": (line.json() or {}).get("transport") if line else None,
            "connect_errors": len(errors),
            "first_error": errors[0].get("message") if errors else None,
            "gave_up_at_s": (gave_up["t"] / 1000.0) if gave_up else None,
            "cap_s": cap,
        }
        return result
    finally:
        await proc.stop()


def _never(result: dict[str, Any]) -> str:
    cap = result["cap_s"]
    if result.get("gave_up_at_s") is not None:
        return (
            f"never: gave up after {result['connect_errors']} errors at "
            f"{result['gave_up_at_s']:.0f} s (“{result['first_error']}”)"
        )
    return f"never within {cap:.0f} s ({result['connect_errors']} connect errors)"


def _baseline_text(result: dict[str, Any]) -> str:
    if result["connected_s"] is None:
        return _never(result)
    return f"{secs(result['connected_s'])} over {result['transport']} (n=1, deterministic)"


async def baselines(params: Params, token_for: dict[str, Any]) -> dict[str, Any]:
    """The four capped Node runs (run concurrently: they mostly wait on timers)."""
    runs = {}
    for mode in ("reject", "blackhole"):
        srv = token_for[mode]
        runs[(mode, "seed")] = node_baseline(srv["url"], srv["token"], params.baseline_cap_s)
        runs[(mode, "try-all")] = node_baseline(
            srv["url"], srv["token"], params.baseline_cap_s, "--try-all-transports"
        )
    results = await asyncio.gather(*runs.values())
    return dict(zip(runs.keys(), results, strict=True))


async def run(params: Params, fg: asyncio.Lock) -> list[Row]:
    """conndebug measured while holding ``fg``; the capped Node baselines run meanwhile."""
    rows: list[Row] = []
    async with (
        serve("--websocket", "reject", "--quiet") as rej,
        serve("--websocket", "blackhole", "--quiet") as hole,
    ):
        servers = {
            "reject": {"url": rej.url, "token": await rej.guest_token()},
            "blackhole": {"url": hole.url, "token": await hole.guest_token()},
        }
        base_task = asyncio.create_task(baselines(params, servers))
        async with fg:
            say("1. fallback: conndebug against a websocket refused with 403")
            await _conndebug_once(rej.url, params)  # warm-up (bytecode caches, page cache)
            reject = [await _conndebug_once(rej.url, params) for _ in range(params.reps)]
            say("1. fallback: conndebug against a black-holed websocket")
            hole_runs = [await _conndebug_once(hole.url, params) for _ in range(params.slow_reps)]
        base = await base_task
        say("1. fallback: Node baselines done")

    for mode, runs, goal_s, goal in (
        ("refused with 403", reject, 0.2, "≤ 0.2 s"),
        (
            "black-holed",
            hole_runs,
            params.ws_timeout_s + 0.5,
            f"≤ --ws-timeout + 0.5 s = {params.ws_timeout_s + 0.5:g} s",
        ),
    ):
        key = "reject" if mode.startswith("refused") else "blackhole"
        attempt = Stats.of([r["attempt_s"] for r in runs])
        process = Stats.of([r["process_s"] for r in runs])
        all_polling = all(r["transport"] == "polling" for r in runs)
        seed, try_all = base[(key, "seed")], base[(key, "try-all")]
        ratio = ratio_text(process.median, try_all["connected_s"])
        rows.append(
            Row(
                benchmark=f"1. websocket {mode} → connected over polling",
                conndebug=f"attempt {spread(attempt)}; process start → connected "
                f"{secs(process.median)}" + ("" if all_polling else " (NOT all over polling)"),
                baseline=f"seed's client: {_baseline_text(seed)}; with tryAllTransports: "
                f"{_baseline_text(try_all)}",
                ratio=(
                    f"{ratio} (process start, vs tryAllTransports)"
                    if ratio != "—"
                    else "∞ (baseline never connects)"
                ),
                goal=goal,
                met=all_polling and attempt.median <= goal_s,
                raw={
                    "conndebug": runs,
                    "attempt": attempt.as_json(),
                    "process": process.as_json(),
                    "seed": seed,
                    "try_all": try_all,
                },
            )
        )
    return rows
