"""11. TUI start: ``conndebug --url URL`` process start → "Connected" drawn on the screen.

The real ``conndebug --url`` runs in a pseudo-terminal of 120×35 against the Node socket.io 4
server of ``tests/node`` started with ``--guest`` (a miniature of the chat backend: the TUI creates
its guest session there, as against the real one). The terminal's output is fed to a terminal
emulator (pyte), and the time is taken when the emulated screen first shows the badge's word
"Connected": what a person sees, not when a log line says so. ``q`` then quits the TUI. Warm: one
run first writes the bytecode caches, as a user's install has them.

The baseline is the seed's client (``client.js URL --token T``: connect, then exit) against the
same server, spawn → exit, run interleaved with the TUI.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import pty
import struct
import termios
import time
import urllib.request

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
    spread,
    timed_run,
    user_env,
)

COLUMNS, LINES = 120, 35
WORD = "Connected"
LIMIT_S = 30.0
GOAL_S = 1.0


async def _node_guest_server() -> tuple[asyncio.subprocess.Process, str]:
    process = await asyncio.create_subprocess_exec(
        "node",
        str(NODE_DIR / "server.js"),
        "--guest",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        cwd=NODE_DIR,
    )
    assert process.stdout is not None
    first = json.loads(await asyncio.wait_for(process.stdout.readline(), 15))
    return process, f"http://127.0.0.1:{first['port']}"


def _guest_token(url: str) -> str:
    request = urllib.request.Request(
        url + "/api/guest", data=b"{}", headers={"Content-Type": "application/json"}
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=10) as answer:
        body = json.loads(answer.read())
    token = body.get("token") or body.get("data", {}).get("token")
    if not isinstance(token, str):
        raise RuntimeError(f"tui_start: no token in {body!r}")
    return token


async def tui_until_connected(url: str) -> tuple[float, int | None]:
    """Seconds from spawn to "Connected" on the emulated screen; then quit with q (exit code)."""
    import pyte

    screen = pyte.Screen(COLUMNS, LINES)
    stream = pyte.ByteStream(screen)
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", LINES, COLUMNS, 0, 0))
    loop = asyncio.get_running_loop()
    seen = loop.create_future()
    started = time.perf_counter()

    def drain() -> None:
        try:
            data = os.read(master, 65536)
        except OSError:
            loop.remove_reader(master)
            return
        stream.feed(data)
        if not seen.done() and any(WORD in line for line in screen.display):
            seen.set_result(time.perf_counter() - started)

    loop.add_reader(master, drain)
    tui = await asyncio.create_subprocess_exec(
        *conndebug_exe(),
        "--url",
        url,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=user_env(TERM="xterm-256color", COLUMNS=str(COLUMNS), LINES=str(LINES)),
        start_new_session=True,
    )
    os.close(slave)
    try:
        elapsed = await asyncio.wait_for(seen, LIMIT_S)
    finally:
        with contextlib.suppress(OSError):
            os.write(master, b"q")
        try:
            await asyncio.wait_for(tui.wait(), 10)
        except asyncio.TimeoutError:
            tui.kill()
            await tui.wait()
        loop.remove_reader(master)
        os.close(master)
    return elapsed, tui.returncode


async def run(params: Params, fg: asyncio.Lock) -> list[Row]:
    server, url = await _node_guest_server()
    try:
        token = await asyncio.to_thread(_guest_token, url)
        node_argv = ["node", str(CLIENT_JS), url, "--token", token]
        ours: list[float] = []
        theirs: list[float] = []
        codes: set[int | None] = set()
        async with fg:
            say("11. tui_start: warm-up run, then interleaved rounds")
            await tui_until_connected(url)
            await timed_run(node_argv, timeout=60, cwd=NODE_DIR)
            for _ in range(params.reps):
                elapsed, code = await tui_until_connected(url)
                ours.append(elapsed)
                codes.add(code)
                wall, _code = await timed_run(node_argv, timeout=60, cwd=NODE_DIR)
                theirs.append(wall)
    finally:
        if server.returncode is None:
            server.terminate()
            try:
                await asyncio.wait_for(server.wait(), 5)
            except asyncio.TimeoutError:
                server.kill()
                await server.wait()
    stats, node = Stats.of(ours), Stats.of(theirs)
    say(f"11. tui_start: {secs(stats.median)} (node connect {secs(node.median)})")
    ok = codes == {0}
    return [
        Row(
            benchmark="11. TUI start: `conndebug --url URL` spawn → “Connected” on the screen",
            conndebug=spread(stats) + ("" if ok else f" (exit codes {sorted(codes, key=str)})"),
            baseline=f"node client.js (connect, exit): {spread(node)}",
            ratio=ratio_text(stats.median, node.median),
            goal=f"≤ {GOAL_S:g} s (warm, Node socket.io 4 server)",
            met=ok and stats.median <= GOAL_S,
            raw={"samples": ours, "node": theirs, "codes": sorted(codes, key=str)},
        )
    ]
