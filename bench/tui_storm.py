"""The TUI under an event storm, headless (run as its own process by :mod:`bench.storm`).

    python -m bench.tui_storm URL COUNT PRESSES [wire|nohar]

Opens the real app (``make_app``) on the real monitor against the Node storm server, asks for a
burst of COUNT events, and while it arrives presses ``l`` PRESSES times with Textual's Pilot; each
press is timed from the key until its history note ("l: history filter: …") is written in the
History panel and the screen has been refreshed after it. With ``wire``, the wire inspector is
open during the storm (``w``: the packet tap runs, a ``packet`` event per packet) and ``l``
changes the inspector's filter. The monitor records the wire for a HAR, as the TUI's does (not
with ``nohar``: to measure what the recorder costs). The process's RSS is sampled every 20 ms.
Prints one JSON object.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
from typing import Any


async def main(
    url: str, count: int, presses: int, wire: bool = False, har: bool = True
) -> dict[str, Any]:
    import psutil

    from conndebug.cli import build_parser, make_settings
    from conndebug.core.har_export import HarRecorder
    from conndebug.core.model import State
    from conndebug.core.monitor import make_monitor
    from conndebug.ui.app import make_app
    from conndebug.ui.widgets.history_log import HistoryLog

    me = psutil.Process()
    rss: list[int] = []

    async def sample() -> None:
        while True:
            rss.append(me.memory_info().rss)
            await asyncio.sleep(0.02)

    args = build_parser(None).parse_args(["--url", url, "--no-guest"])
    settings = make_settings(args, url)
    monitor = make_monitor(settings, har=HarRecorder() if har else None)
    app = make_app(settings, monitor=monitor, find_probe=False)
    sampler = asyncio.create_task(sample())
    latencies: list[float] = []
    during: list[bool] = []
    loop = asyncio.get_running_loop()

    async def until(condition: Any, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.001)
        return True

    try:
        async with app.run_test(size=(120, 35)) as pilot:
            if not await until(lambda: monitor.state is State.CONNECTED, 20):
                raise RuntimeError("the TUI did not connect")
            await pilot.pause(0.3)
            rss_connected = me.memory_info().rss
            seen_packets = [0]

            def tally(event: Any) -> None:
                if event.kind == "packet":
                    seen_packets[0] += 1

            monitor.bus.subscribe(tally)
            if wire:
                await pilot.press("w")
                if not await until(lambda: app.wire is not None, 10):
                    raise RuntimeError("the wire inspector did not open")
            history = app.query_one(HistoryLog)
            written: list[float] = []
            draw_line = history._line

            def traced(event: Any, width: int) -> Any:
                if str(getattr(event, "text", "")).startswith(("l: history", "l: wire")):
                    written.append(time.perf_counter())
                return draw_line(event, width)

            history._line = traced  # type: ignore[method-assign]
            storm_started = time.monotonic()
            emit = asyncio.create_task(monitor.emit("storm", {"count": count}))
            await until(lambda: monitor.snapshot().events_in >= min(1000, count // 3), 30)
            for _ in range(presses):
                before = len(written)
                started = time.perf_counter()
                press = asyncio.create_task(pilot.press("l"))
                if not await until(lambda b=before: len(written) > b, 60):
                    raise RuntimeError("the key's note never reached the History panel")
                drawn: asyncio.Future[float] = loop.create_future()
                app.call_after_refresh(
                    lambda d=drawn: d.done() or d.set_result(time.perf_counter())
                )
                latencies.append(await asyncio.wait_for(drawn, 10) - started)
                during.append(monitor.snapshot().events_in < count)
                await press
                await asyncio.sleep(0.1)
            await until(lambda: monitor.snapshot().events_in >= count + 1, 120)
            storm_s = time.monotonic() - storm_started
            packets = seen_packets[0]
            received = monitor.snapshot().events_in
            await emit
            await pilot.pause(0.5)
            await pilot.press("q")
    finally:
        sampler.cancel()
        await monitor.stop()
    return {
        "latencies_s": latencies,
        "during_storm": during,
        "events_in": received,
        "storm_s": storm_s,
        "wire": wire,
        "har": har,
        "packets": packets,
        "rss_connected": rss_connected,
        "rss_peak_sampled": max(rss) if rss else None,
        "maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }


if __name__ == "__main__":
    mode = sys.argv[4] if len(sys.argv) > 4 else ""
    result = asyncio.run(
        main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), mode == "wire", mode != "nohar")
    )
    print(json.dumps(result))
