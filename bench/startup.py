"""2. Process start → verdict on a healthy server.

Wall time from spawn to exit of ``conndebug probe URL``, ``conndebug watch URL --duration 0`` and
``conndebug --help``, against ``node client.js URL --token T`` (connect, then exit) — all against
one ``conndebug serve``. The runs are interleaved (one of each per round) after one warm-up round
that also writes the bytecode caches, as a user's install has them.
"""

from __future__ import annotations

import asyncio

from bench.common import (
    CLIENT_JS,
    NODE_DIR,
    Params,
    Row,
    Stats,
    conndebug_exe,
    ratio_text,
    say,
    secs,
    serve,
    spread,
    timed_run,
)


async def run(params: Params, fg: asyncio.Lock) -> list[Row]:
    async with serve("--quiet") as srv:
        token = await srv.guest_token()
        commands = {
            "probe": [*conndebug_exe(), "probe", srv.url],
            "watch": [*conndebug_exe(), "watch", srv.url, "--duration", "0"],
            "help": [*conndebug_exe(), "--help"],
            "node": ["node", str(CLIENT_JS), srv.url, "--token", token],
        }
        samples: dict[str, list[float]] = {name: [] for name in commands}
        codes: dict[str, set[int | None]] = {name: set() for name in commands}
        async with fg:
            say("2. startup: warm-up round, then interleaved rounds")
            for name, argv in commands.items():
                await timed_run(argv, timeout=60, cwd=NODE_DIR if name == "node" else None)
            for _ in range(params.reps):
                for name, argv in commands.items():
                    wall, code = await timed_run(
                        argv, timeout=60, cwd=NODE_DIR if name == "node" else None
                    )
                    samples[name].append(wall)
                    codes[name].add(code)
    stats = {name: Stats.of(values) for name, values in samples.items()}
    node = stats["node"]
    rows = []
    for name, label in (
        ("probe", "conndebug probe URL"),
        ("watch", "conndebug watch URL --duration 0"),
    ):
        ours = stats[name]
        ok = codes[name] == {0}
        rows.append(
            Row(
                benchmark=f"2. process start → verdict: `{label}`",
                conndebug=spread(ours)
                + ("" if ok else f" (exit codes {sorted(codes[name], key=str)})"),
                baseline=f"node client.js (connect, exit): {spread(node)}",
                ratio=ratio_text(ours.median, node.median),
                goal="ratio ≤ 1.5",
                met=ok and ours.median <= 1.5 * node.median,
                raw={
                    "samples": samples[name],
                    "node": samples["node"],
                    "codes": sorted(codes[name], key=str),
                },
            )
        )
    rows.append(
        Row(
            benchmark="2. `conndebug --help`",
            conndebug=spread(stats["help"]),
            baseline="—",
            ratio=ratio_text(stats["help"].median, node.median) + " of node's connect",
            goal="(reported)",
            met=None,
            raw={"samples": samples["help"]},
        )
    )
    say(
        f"2. startup: probe {secs(stats['probe'].median)}, watch {secs(stats['watch'].median)}, "
        f"node {secs(node.median)}"
    )
    return rows
