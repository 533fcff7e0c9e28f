"""12. The exporter at scale: probes per second with 1 and 50 concurrent scrapes, memory after
10,000 probes.

``conndebug exporter`` (its defaults: 32 probes at once, a queue of 128; a module with
``no_guest = true`` from a config file) probes two Node socket.io 4 servers (``node/storm_server.js``,
two processes), round robin. The reference server is not the target here: its relay keeps every
relayed connection for a while after the client has gone, and after a few thousand probes at full
pace it, not the exporter, sets the pace (see notes.md). This process is the scraper: an aiohttp client sending what Prometheus sends (``/probe?target=…`` with
``X-Prometheus-Scrape-Timeout-Seconds: 10``), 1 or 50 scrapes in flight. Every answer must say
``probe_success 1``. Rates are taken per chunk of scrapes (the spread is across chunks); the
exporter's resident memory (psutil) is read after the warm-up and after every chunk of the 10,000;
CPU per probe of both sides is their CPU time over the 10,000 divided by 10,000.

The baseline is what a cron job or a monitoring plugin does without the exporter: one ``conndebug
probe --json URL`` process per probe, one after the other.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from bench.common import (
    NODE_DIR,
    NODE_MODULES,
    STORM_SERVER,
    Params,
    Proc,
    Row,
    Stats,
    conndebug_exe,
    ratio_text,
    running,
    say,
    spread,
    timed_run,
    user_env,
)

TARGETS = 2
SCRAPE_TIMEOUT = "10"
MODULE = "[modules.node]\nno_guest = true\n"


@contextlib.asynccontextmanager
async def _node_target() -> AsyncIterator[tuple[str, Proc]]:
    """A Node socket.io 4 server on a free loopback port: its URL and its process."""
    env = user_env(NODE_PATH=str(NODE_MODULES))
    async with running(["node", str(STORM_SERVER)], env=env, cwd=NODE_DIR) as proc:
        first = await proc.wait_line(lambda line: '"listening"' in line.text, 30)
        if first is None:
            raise RuntimeError(f"storm_server.js did not start: {proc.stderr.decode()[-500:]}")
        yield f"http://127.0.0.1:{(first.json() or {})['port']}", proc


def _rate(value: float) -> str:
    return f"{value:,.1f}/s" if value < 100 else f"{value:,.0f}/s"


def _mb(value: float) -> str:
    return f"{value / 1e6:.0f} MB"


async def _scrape_many(
    session: Any, base: str, targets: list[str], count: int, concurrency: int, offset: int
) -> tuple[float, int, list[str]]:
    """``count`` scrapes, ``concurrency`` in flight; wall time, successes, failure samples."""
    import aiohttp

    next_index = 0
    ok = 0
    failures: list[str] = []

    async def worker() -> None:
        nonlocal next_index, ok
        while next_index < count:
            index = next_index
            next_index += 1
            target = targets[(offset + index) % len(targets)]
            async with session.get(
                f"{base}/probe",
                params={"target": target, "module": "node"},
                headers={"X-Prometheus-Scrape-Timeout-Seconds": SCRAPE_TIMEOUT},
                timeout=aiohttp.ClientTimeout(total=60),  # the exporter answers within 10 s
            ) as response:
                body = await response.read()
            if response.status == 200 and b"\nprobe_success 1.0\n" in body:
                ok += 1
            elif len(failures) < 5:
                failures.append(f"{response.status}: {body[:300]!r}")

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started, ok, failures


def _cpu_s(process: Any) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


async def run(params: Params, fg: asyncio.Lock) -> list[Row]:
    import aiohttp
    import psutil

    serial_chunks, serial_chunk = (1, 10) if params.smoke else (4, 50)
    many_chunks, many_chunk = (2, 50) if params.smoke else (10, 1_000)
    concurrency = 50
    async with (
        _node_target() as (url_a, node_a),
        _node_target() as (url_b, node_b),
        contextlib.AsyncExitStack() as stack,
    ):
        targets = [url_a, url_b]
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="conndebug-bench-")))
        config = folder / "exporter.toml"
        config.write_text(MODULE)
        argv = [*conndebug_exe(), "exporter", "--listen", "127.0.0.1:0", "--config", str(config)]
        async with running(argv) as exporter:
            line = await exporter.wait_line(lambda ln: "listening on" in ln.text, 30)
            if line is None:
                raise RuntimeError(f"exporter did not start: {exporter.stderr.decode()[-500:]}")
            base = line.text.split(" on ", 1)[1].strip()
            me = psutil.Process(exporter.pid)
            them = [psutil.Process(node_a.pid), psutil.Process(node_b.pid)]
            connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
            async with fg, aiohttp.ClientSession(connector=connector) as session:
                say(
                    f"12. exporter: warm-up, {serial_chunks}×{serial_chunk} serial, "
                    f"{many_chunks}×{many_chunk} at {concurrency}"
                )
                await _scrape_many(session, base, targets, 20, 5, 0)
                rss_start = me.memory_info().rss
                serial: list[float] = []
                latencies: list[float] = []
                failures: list[str] = []
                total_ok = total = 0
                for n in range(serial_chunks):
                    wall, ok, bad = await _scrape_many(
                        session, base, targets, serial_chunk, 1, n * serial_chunk
                    )
                    serial.append(serial_chunk / wall)
                    latencies.append(wall / serial_chunk)
                    total_ok, total, failures = total_ok + ok, total + serial_chunk, failures + bad
                many: list[float] = []
                rss: list[int] = []
                cpu_me, cpu_them = _cpu_s(me), sum(_cpu_s(p) for p in them)
                for n in range(many_chunks):
                    wall, ok, bad = await _scrape_many(
                        session, base, targets, many_chunk, concurrency, n * many_chunk
                    )
                    many.append(many_chunk / wall)
                    rss.append(me.memory_info().rss)
                    total_ok, total, failures = total_ok + ok, total + many_chunk, failures + bad
                probes = many_chunks * many_chunk
                cpu_me = (_cpu_s(me) - cpu_me) / probes * 1000
                cpu_them = (sum(_cpu_s(p) for p in them) - cpu_them) / probes * 1000
                async with session.get(f"{base}/metrics") as response:
                    own = (await response.text()).splitlines()
                # The baseline: a `conndebug probe` process per probe, one after the other.
                say("12. exporter: baseline, a probe process per probe")
                probe_argv = [*conndebug_exe(), "probe", "--json", "--no-guest", targets[0]]
                await timed_run(probe_argv, timeout=60, env=user_env())
                walls: list[float] = []
                codes: set[int | None] = set()
                for _ in range(params.reps):
                    wall, code = await timed_run(probe_argv, timeout=60, env=user_env())
                    walls.append(wall)
                    codes.add(code)
    served = sum(
        float(ln.rsplit(" ", 1)[1])
        for ln in own
        if ln.startswith("conndebug_exporter_probes_total{")
    )
    serial_s = Stats.of(serial)
    many_s = Stats.of(many)
    baseline = Stats.of([1 / w for w in walls])
    all_ok = total_ok == total and codes == {0}
    ok_text = (
        f"every answer probe_success 1 ({total_ok:,}/{total:,})"
        if total_ok == total
        else f"{total - total_ok} answers not probe_success 1: {failures[:3]}"
    )
    latency = Stats.of(latencies)
    rss_1k = rss[0]
    rss_end = rss[-1]
    grew = (rss_end - rss_1k) / rss_1k
    return [
        Row(
            benchmark="12. exporter: probes per second, 1 scrape at a time",
            conndebug=f"{spread(serial_s, _rate)}; {latency.median * 1000:.0f} ms per scrape; "
            + ok_text,
            baseline=f"a `conndebug probe --json` process per probe: {spread(baseline, _rate)}",
            ratio=ratio_text(serial_s.median, baseline.median),
            goal="(reported)",
            met=None,
            raw={"serial": serial, "latencies": latencies, "baseline_walls": walls},
        ),
        Row(
            benchmark=f"12. exporter: probes per second, {concurrency} concurrent scrapes",
            conndebug=f"{spread(many_s, _rate)} over {probes:,} probes ({many_chunks} chunks); "
            f"CPU per probe: exporter {cpu_me:.1f} ms, the {TARGETS} Node targets "
            f"{cpu_them:.1f} ms",
            baseline=f"1 scrape at a time: {_rate(serial_s.median)}",
            ratio=ratio_text(many_s.median, serial_s.median),
            goal="(reported)",
            met=None if all_ok else False,
            raw={"rates": many, "cpu_ms_exporter": cpu_me, "cpu_ms_targets": cpu_them},
        ),
        Row(
            benchmark=f"12. exporter: memory after {probes:,} probes",
            conndebug=f"RSS {_mb(rss_end)} after {served:,.0f} probes served (after the warm-up "
            f"{_mb(rss_start)}, after the first {many_chunk:,} of the {probes:,}: {_mb(rss_1k)}; "
            f"{grew * 100:+.1f} % since)",
            baseline="—",
            ratio="—",
            goal=f"bounded: ≤ +20 % from the first {many_chunk:,} to the last",
            met=all_ok and grew <= 0.20,
            raw={"rss_start": rss_start, "rss": rss, "served": served},
        ),
    ]
