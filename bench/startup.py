"""2. Process start → verdict on a healthy server.

Wall time from spawn to exit of ``conndebug probe URL``, ``conndebug watch URL --duration 0`` and
``conndebug --help``, against ``node client.js URL --token T`` (connect, then exit) — all against
one ``conndebug serve``. The runs are interleaved (one of each per round) after one warm-up round
that also writes the bytecode caches, as a user's install has them.

And against a Node socket.io server (``tests/node/server.js``, no guest API: its ``/api/guest``
answers 404): ``conndebug watch URL --jsonl --duration 0`` and ``node client.js URL``, each from
spawn to the moment its "connected" line reaches the benchmark (the ``connected`` event, the
client's ``connect`` line): the same clock and the same pipe for both.
"""

from __future__ import annotations

import asyncio

from bench.common import (
    CLIENT_JS,
    NODE_DIR,
    Params,
    Proc,
    Row,
    Stats,
    conndebug_exe,
    ratio_text,
    running,
    say,
    secs,
    serve,
    spawn,
    spread,
    timed_run,
)

NODE_SERVER = NODE_DIR / "server.js"


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
    rows.extend(await _against_node(params, fg))
    return rows


async def _connected_after(argv: list[str], needle: str, *, node: bool = False) -> float | None:
    """Seconds from spawn to the first stdout line containing ``needle`` (None: never)."""
    proc: Proc = await spawn(argv, cwd=NODE_DIR if node else None)
    try:
        line = await proc.wait_line(lambda line: needle in line.text, 30)
        await proc.wait_exit(30)
    finally:
        await proc.stop()
    return None if line is None else line.at - proc.started


async def _against_node(params: Params, fg: asyncio.Lock) -> list[Row]:
    """watch and the Node client against a Node socket.io server: spawn → connected."""
    async with running(["node", str(NODE_SERVER)], cwd=NODE_DIR) as server:
        first = await server.wait_line(lambda line: '"listening"' in line.text, 30)
        if first is None:
            raise RuntimeError(f"server.js did not start: {server.stderr.decode()[-400:]}")
        url = f"http://127.0.0.1:{(first.json() or {})['port']}"
        watch = [*conndebug_exe(), "watch", url, "--jsonl", "--duration", "0"]
        node = ["node", str(CLIENT_JS), url]
        samples: dict[str, list[float]] = {"watch": [], "node": []}
        async with fg:
            say("2. startup: watch and the Node client against a Node socket.io server")
            await _connected_after(watch, '"kind":"connected"')  # warm-up (bytecode caches)
            await _connected_after(node, '"event":"connect"', node=True)
            for _ in range(params.reps):
                for name, argv, needle in (
                    ("watch", watch, '"kind":"connected"'),
                    ("node", node, '"event":"connect"'),
                ):
                    took = await _connected_after(argv, needle, node=name == "node")
                    if took is None:
                        raise RuntimeError(f"{name} never connected to the Node server")
                    samples[name].append(took)
    ours, theirs = Stats.of(samples["watch"]), Stats.of(samples["node"])
    say(f"2. startup against Node: watch {secs(ours.median)}, node {secs(theirs.median)}")
    return [
        Row(
            benchmark="2. process start → connected, against a Node socket.io server: "
            "`conndebug watch URL --duration 0`",
            conndebug=spread(ours),
            baseline=f"node client.js (spawn → connect): {spread(theirs)}",
            ratio=ratio_text(ours.median, theirs.median),
            goal="ratio ≤ 1.5",
            met=ours.median <= 1.5 * theirs.median,
            raw={"watch": samples["watch"], "node": samples["node"]},
        )
    ]
