"""7. Idle cost: the real TUI connected and idle.

``conndebug --url URL`` runs in a pseudo-terminal of 120×35 (the real Linux driver, the real
screen updates; the benchmark drains the terminal output) against a ``conndebug serve``. Once it
is connected (the server counts its socket) and has settled for 3 s, its CPU time and RSS are
measured over the idle window with psutil. The seed's client (``client.js --exit-on never``),
connected to the same server over the same window, is the baseline. Then ``q`` quits the TUI.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import pty
import struct
import termios
import time

from bench.common import (
    Params,
    Row,
    conndebug_exe,
    node_client,
    node_event,
    say,
    serve,
    user_env,
)


async def _measure(pids: dict[str, int], seconds: float) -> dict[str, dict[str, float]]:
    import psutil

    procs = {name: psutil.Process(pid) for name, pid in pids.items()}
    first = {name: p.cpu_times() for name, p in procs.items()}
    peak = {name: p.memory_info().rss for name, p in procs.items()}
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        await asyncio.sleep(min(1.0, seconds))
        for name, p in procs.items():
            peak[name] = max(peak[name], p.memory_info().rss)
    elapsed = time.monotonic() - started
    out = {}
    for name, p in procs.items():
        last = p.cpu_times()
        used = (last.user - first[name].user) + (last.system - first[name].system)
        out[name] = {
            "cpu_s": used,
            "cpu_pct": 100.0 * used / elapsed,
            "rss": float(p.memory_info().rss),
            "rss_peak": float(peak[name]),
            "window_s": elapsed,
        }
    return out


async def run(params: Params, fg: asyncio.Lock) -> list[Row]:
    async with serve("--quiet") as srv:
        token = await srv.guest_token()
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 35, 120, 0, 0))
        loop = asyncio.get_running_loop()
        drained = [0]

        def drain() -> None:
            try:
                drained[0] += len(os.read(master, 65536))
            except OSError:
                loop.remove_reader(master)

        loop.add_reader(master, drain)
        tui = await asyncio.create_subprocess_exec(
            *conndebug_exe(),
            "--url",
            srv.url,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=user_env(TERM="xterm-256color", COLUMNS="120", LINES="35"),
            start_new_session=True,
        )
        os.close(slave)
        node = await node_client(srv.url, "--token", token, "--exit-on", "never")
        try:

            async def sockets() -> int:
                return int((await srv.admin("GET", "stats"))["stats"]["sockets"])

            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                if await sockets() >= 2:
                    break
                await asyncio.sleep(0.2)
            if await sockets() < 2 or await node.wait_line(node_event("connect"), 5) is None:
                raise RuntimeError("idle: the TUI or the Node client did not connect")
            await asyncio.sleep(3.0)
            say(f"7. idle: measuring the connected TUI and the Node client for {params.idle_s:g} s")
            result = await _measure({"tui": tui.pid, "node": node.pid}, params.idle_s)
            still = await sockets()
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
            await node.stop()
    ours, theirs = result["tui"], result["node"]
    met = ours["cpu_pct"] < 2.0 and ours["rss_peak"] < 120e6 and still >= 2
    return [
        Row(
            benchmark=f"7. idle cost: TUI connected and idle for {params.idle_s:g} s",
            conndebug=f"CPU {ours['cpu_pct']:.2f} % of a core, RSS {ours['rss_peak'] / 1e6:.0f} MB"
            f" (quit with q: exit {tui.returncode})",
            baseline=f"seed's client idle: CPU {theirs['cpu_pct']:.2f} %, RSS "
            f"{theirs['rss_peak'] / 1e6:.0f} MB",
            ratio=f"CPU {ours['cpu_pct'] / max(theirs['cpu_pct'], 0.01):.1f}×, RSS "
            f"{ours['rss_peak'] / theirs['rss_peak']:.1f}×",
            goal="< 2 % of a core, < 120 MB",
            met=met,
            raw={**result, "screen_bytes": drained[0]},
        )
    ]
