"""13. Soak: restarts and session expiries for minutes; ``watch`` stays connected, nothing grows.

``conndebug serve`` restarts every 10 s (``POST /_conndebug/restart {"down_s": 1}``: every
connection dropped, the port closed for a second) and expires every guest session every 7 s
(``POST /_conndebug/expire``: the records go, so the next connect is refused with "Guest session not
found or expired" and the client must create a new guest session). ``conndebug watch URL --jsonl``
(reconnecting forever) watches it all. After every restart the watch must be connected again; a
cycle counts as kept when its ``connected`` comes before the next restart. The RSS and the open
descriptors of both processes are sampled after every cycle: "flat" means the last tenth of the
samples is within 10 MB and 4 descriptors of the first tenth's.

``soak(duration_s)`` is also what ``tests/core/test_soak.py`` runs for 60 s.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import time
from dataclasses import dataclass, field
from typing import Any

from bench.common import Params, Row, Stats, conndebug_exe, say, serve, spawn, spread

RESTART_EVERY_S = 10.0
EXPIRE_EVERY_S = 7.0
DOWN_S = 1.0
RSS_FLAT_MB = 10.0
FDS_FLAT = 4


def _rss_mb(pid: int) -> float:
    import psutil

    return float(psutil.Process(pid).memory_info().rss) / (1 << 20)


def _fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


@dataclass
class Samples:
    """RSS (MB) and descriptors of one process, one sample per cycle."""

    rss: list[float] = field(default_factory=list)
    fds: list[int] = field(default_factory=list)

    def take(self, pid: int) -> None:
        self.rss.append(_rss_mb(pid))
        self.fds.append(_fds(pid))

    def growth(self) -> tuple[float, float]:
        """(MB, descriptors) from the first tenth of the samples to the last tenth (medians)."""
        tenth = max(1, len(self.rss) // 10)
        rss = statistics.median(self.rss[-tenth:]) - statistics.median(self.rss[:tenth])
        fds = statistics.median(self.fds[-tenth:]) - statistics.median(self.fds[:tenth])
        return rss, fds

    def flat(self) -> bool:
        rss, fds = self.growth()
        return rss <= RSS_FLAT_MB and fds <= FDS_FLAT

    def text(self) -> str:
        rss, fds = self.growth()
        return (
            f"RSS {self.rss[0]:.0f}→{self.rss[-1]:.0f} MB (max {max(self.rss):.0f}, "
            f"growth {rss:+.1f}), fds {self.fds[0]}→{self.fds[-1]} (max {max(self.fds)}, "
            f"growth {fds:+.0f})"
        )

    def as_json(self) -> dict[str, Any]:
        return {"rss_mb": self.rss, "fds": self.fds}


async def soak(duration_s: float, *, say_progress: bool = False) -> dict[str, Any]:
    """Restart every 10 s and expire every 7 s for ``duration_s``; what the watch went through."""
    async with serve() as srv:
        argv = [*conndebug_exe(), "watch", srv.url, "--jsonl", "--reconnect-attempts", "0"]
        watch = await spawn(argv)
        try:
            first = await watch.wait_line(lambda line: '"kind":"connected"' in line.text, 30)
            if first is None:
                raise RuntimeError(f"soak: watch did not connect: {watch.stderr.decode()[-300:]}")
            await asyncio.sleep(2.0)  # settled: its first samples are not start-up
            ours, server = Samples(), Samples()
            ours.take(watch.pid)
            server.take(srv.proc.pid)
            started = time.monotonic()
            next_expire = started + EXPIRE_EVERY_S
            next_restart = started + RESTART_EVERY_S
            restarts: list[dict[str, Any]] = []
            expires = 0
            while True:
                now = time.monotonic()
                if now - started >= duration_s:
                    break
                if now >= next_expire:
                    await srv.admin("POST", "expire", {})
                    expires += 1
                    next_expire += EXPIRE_EVERY_S
                if now >= next_restart:
                    mark = len(watch.lines)
                    seen = len(srv.proc.lines)
                    await srv.admin("POST", "restart", {"down_s": DOWN_S})
                    up = await srv.proc.wait_line(
                        lambda line: "back up" in line.text, DOWN_S + 15, start=seen
                    )
                    if up is None:
                        raise RuntimeError("soak: the server did not come back")
                    back = await watch.wait_line(
                        lambda line: '"kind":"connected"' in line.text,
                        RESTART_EVERY_S - DOWN_S,
                        start=mark,
                    )
                    restarts.append({"reconnect_s": (back.at - up.at) if back else None})
                    ours.take(watch.pid)
                    server.take(srv.proc.pid)
                    next_restart += RESTART_EVERY_S
                    if say_progress and len(restarts) % 6 == 0:
                        say(
                            f"13. soak: {len(restarts)} restarts, {expires} expiries, "
                            f"watch {ours.rss[-1]:.0f} MB / {ours.fds[-1]} fds"
                        )
                due = min(next_expire, next_restart, started + duration_s)
                await asyncio.sleep(max(0.0, due - time.monotonic()))
            alive = watch.process.returncode is None
        finally:
            await watch.stop(sig=2)  # SIGINT: its summary and exit code
    events = [line.json() or {} for line in watch.lines]
    kinds = [e.get("kind") for e in events]
    return {
        "duration_s": duration_s,
        "restarts": len(restarts),
        "kept": sum(1 for r in restarts if r["reconnect_s"] is not None),
        "reconnect_s": [r["reconnect_s"] for r in restarts if r["reconnect_s"] is not None],
        "expiries": expires,
        "regenerations": kinds.count("session_regenerated"),
        "session_expired": kinds.count("session_expired"),
        "reconnect_failed": kinds.count("reconnect_failed"),
        "alive": alive,
        "summary": watch.stderr.decode(errors="replace").strip().splitlines()[-1:],
        "watch": ours.as_json(),
        "server": server.as_json(),
        "watch_flat": ours.flat(),
        "server_flat": server.flat(),
        "watch_text": ours.text(),
        "server_text": server.text(),
    }


async def run(params: Params, fg: asyncio.Lock) -> list[Row]:
    # Timers and mostly idle processes: no CPU-sensitive part, so no lock (like the idle window).
    say(f"13. soak: {params.soak_s:g} s, restart every {RESTART_EVERY_S:g} s, expire every "
        f"{EXPIRE_EVERY_S:g} s")  # fmt: skip
    result = await soak(params.soak_s, say_progress=True)
    say(f"13. soak: done — {result['kept']}/{result['restarts']} restarts reconnected")
    kept_all = result["restarts"] > 0 and result["kept"] == result["restarts"] and result["alive"]
    reconnect = Stats.of(result["reconnect_s"]) if result["reconnect_s"] else None
    return [
        Row(
            benchmark=f"13. soak {params.soak_s / 60:g} min: restart every 10 s, expire every 7 s "
            "— `watch` connected after every cycle; RSS and fds flat",
            conndebug=(
                f"{result['kept']}/{result['restarts']} restarts reconnected"
                + (f" in {spread(reconnect)} after the port listens again" if reconnect else "")
                + f"; {result['regenerations']} sessions regenerated for {result['expiries']} "
                f"expiries, {result['reconnect_failed']} gave up; watch {result['watch_text']}; "
                f"server {result['server_text']}"
            ),
            baseline="—",
            ratio="—",
            goal="every cycle reconnected; RSS within 10 MB, fds within 4 of the start",
            met=kept_all and result["watch_flat"] and result["server_flat"],
            raw=json.loads(json.dumps(result, default=str)),
        )
    ]
