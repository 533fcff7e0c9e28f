"""What every benchmark shares: parameters, statistics, result rows, and the peers as subprocesses.

Every peer runs on loopback with a free port: ``conndebug serve`` (the reference server), the Node
peers of ``tests/node`` (``client.js`` with the seed's options, and this folder's
``node/storm_server.js``), and conndebug's own commands. Subprocesses get the environment a user's
install has: bytecode caches may be written (``PYTHONDONTWRITEBYTECODE`` is removed), no proxy
for loopback, no colours.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import shutil
import signal
import statistics
import sys
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "bench"
NODE_DIR = ROOT / "tests" / "node"
NODE_MODULES = NODE_DIR / "node_modules"
STORM_SERVER = BENCH_DIR / "node" / "storm_server.js"
CLIENT_JS = NODE_DIR / "client.js"


@dataclass(frozen=True)
class Params:
    """How much to measure: the full run, or a tiny smoke run for CI (no 60 s caps)."""

    smoke: bool = False
    reps: int = 10
    """Repetitions of the quick measurements (startup, 403 fallback)."""
    slow_reps: int = 5
    """Repetitions of the measurements that take seconds each (black hole, stall, restart)."""
    baseline_cap_s: float = 60.0
    """How long a baseline may take before it counts as "never"."""
    ws_timeout_s: float = 3.0
    """conndebug's --ws-timeout (the default)."""
    storm_count: int = 50_000
    fleet_size: int = 100
    idle_s: float = 60.0
    restart_down_s: float = 2.0
    key_presses: int = 8
    soak_s: float = 600.0
    """How long the soak runs (restart every 10 s, expire every 7 s)."""

    @classmethod
    def full(cls) -> Params:
        return cls()

    @classmethod
    def smoke_run(cls) -> Params:
        return cls(
            smoke=True,
            reps=1,
            slow_reps=1,
            baseline_cap_s=3.0,
            ws_timeout_s=0.5,
            storm_count=300,
            fleet_size=3,
            idle_s=2.0,
            restart_down_s=0.6,
            key_presses=1,
            soak_s=12.0,
        )


# --- statistics ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stats:
    """Median and spread of some samples (seconds, or any unit)."""

    n: int
    median: float
    low: float
    high: float
    q1: float
    q3: float

    @classmethod
    def of(cls, samples: Sequence[float]) -> Stats:
        if not samples:
            raise ValueError("no samples")
        ordered = sorted(samples)
        if len(ordered) >= 4:
            q1, _, q3 = statistics.quantiles(ordered, n=4, method="inclusive")
        else:
            q1, q3 = ordered[0], ordered[-1]
        return cls(len(ordered), statistics.median(ordered), ordered[0], ordered[-1], q1, q3)

    def as_json(self) -> dict[str, float]:
        return {
            "n": self.n,
            "median": self.median,
            "min": self.low,
            "max": self.high,
            "q1": self.q1,
            "q3": self.q3,
        }


def secs(value: float) -> str:
    """A duration for the table: ms below one second, else seconds."""
    if value < 1.0:
        return f"{value * 1000:.0f} ms" if value >= 0.0095 else f"{value * 1000:.1f} ms"
    return f"{value:.2f} s"


def spread(stats: Stats, fmt: Callable[[float], str] = secs) -> str:
    """``median (min–max, n=N)``."""
    if stats.n == 1:
        return f"{fmt(stats.median)} (n=1)"
    return f"{fmt(stats.median)} ({fmt(stats.low)}–{fmt(stats.high)}, n={stats.n})"


def ratio_text(ours: float | None, theirs: float | None) -> str:
    """conndebug ÷ baseline; ``∞``-style words when the baseline never got there."""
    if ours is None or theirs is None:
        return "—"
    if theirs <= 0:
        return "—"
    return f"{ours / theirs:.2f}×"


# --- result rows --------------------------------------------------------------------------------


@dataclass
class Row:
    """One line of the results table."""

    benchmark: str
    conndebug: str
    baseline: str
    ratio: str
    goal: str
    met: bool | None
    """``None``: informational (no goal)."""
    raw: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "benchmark": self.benchmark,
            "conndebug": self.conndebug,
            "baseline": self.baseline,
            "ratio": self.ratio,
            "goal": self.goal,
            "met": self.met,
            "raw": self.raw,
        }


def say(text: str) -> None:
    """Progress on stderr (the table goes to stdout and RESULTS.md)."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


# --- environment --------------------------------------------------------------------------------

_PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "WS_PROXY", "WSS_PROXY")


def user_env(**extra: str) -> dict[str, str]:
    """The environment of a user's shell: bytecode caches allowed, loopback direct, no colour."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    for name in _PROXY_VARS:
        env.pop(name, None)
        env.pop(name.lower(), None)
    env["NO_PROXY"] = env["no_proxy"] = "*"
    env["NO_COLOR"] = "1"
    env.pop("CONNDEBUG_DEBUG", None)
    env.update(extra)
    return env


def conndebug_exe() -> list[str]:
    """The ``conndebug`` console script of this environment (what a user types)."""
    script = Path(sys.executable).with_name("conndebug")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "conndebug"]


def node_available() -> str | None:
    """Why the Node peers cannot run, or ``None`` when they can."""
    if shutil.which("node") is None:
        return "node is not installed"
    if (
        not (NODE_MODULES / "socket.io").is_dir()
        or not (NODE_MODULES / "socket.io-client").is_dir()
    ):
        return "tests/node/node_modules is missing (run `npm ci` in tests/node)"
    return None


def node_version() -> str:
    import subprocess

    try:
        return subprocess.run(
            ["node", "--version"], capture_output=True, text=True, timeout=10, check=False
        ).stdout.strip()
    except OSError:
        return "not installed"


# --- subprocesses with timestamped lines ---------------------------------------------------------


@dataclass
class Line:
    at: float
    """``time.monotonic()`` when the line arrived."""
    text: str

    def json(self) -> dict[str, Any] | None:
        try:
            value = json.loads(self.text)
        except ValueError:
            return None
        return value if isinstance(value, dict) else None


class Proc:
    """A subprocess whose stdout lines are collected with their arrival times."""

    def __init__(self, process: asyncio.subprocess.Process, argv: Sequence[str], started: float):
        self.process = process
        self.argv = list(argv)
        self.started = started
        """``time.monotonic()`` just before the spawn."""
        self.lines: list[Line] = []
        self._changed = asyncio.Event()
        self._reader = asyncio.create_task(self._read())
        self.stderr = b""
        self._err_reader = asyncio.create_task(self._read_err())

    @property
    def pid(self) -> int:
        return int(self.process.pid)

    async def _read(self) -> None:
        assert self.process.stdout is not None
        while True:
            raw = await self.process.stdout.readline()
            if not raw:
                break
            self.lines.append(Line(time.monotonic(), raw.decode("utf-8", "replace").rstrip("\n")))
            self._changed.set()
        self._changed.set()

    async def _read_err(self) -> None:
        if self.process.stderr is None:
            return
        self.stderr = await self.process.stderr.read()

    async def wait_line(
        self, match: Callable[[Line], bool], timeout: float, *, start: int = 0
    ) -> Line | None:
        """The first line from index ``start`` on that matches, waiting up to ``timeout``."""
        deadline = time.monotonic() + timeout
        index = start
        while True:
            while index < len(self.lines):
                line = self.lines[index]
                index += 1
                if match(line):
                    return line
            if self._reader.done():
                return None
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            self._changed.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(remaining, 0.5))

    async def wait_exit(self, timeout: float) -> int | None:
        try:
            code = await asyncio.wait_for(self.process.wait(), timeout)
        except asyncio.TimeoutError:
            return None
        await asyncio.wait({self._reader, self._err_reader}, timeout=5)
        return code

    async def stop(self, *, sig: int = signal.SIGTERM, grace: float = 5.0) -> None:
        """End the process (by its pid): ``sig``, then SIGKILL after ``grace``."""
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGCONT)  # a frozen process cannot handle SIGTERM
                self.process.send_signal(sig)
            if await self.wait_exit(grace) is None:
                with contextlib.suppress(ProcessLookupError):
                    self.process.kill()
                await self.process.wait()
        for task in (self._reader, self._err_reader):
            if not task.done():
                task.cancel()
        await asyncio.wait({self._reader, self._err_reader}, timeout=2)


async def spawn(
    argv: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    stdin: int | None = asyncio.subprocess.DEVNULL,
    stderr: int | None = asyncio.subprocess.PIPE,
) -> Proc:
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        *argv,
        stdin=stdin,
        stdout=asyncio.subprocess.PIPE,
        stderr=stderr,
        env=env or user_env(),
        cwd=str(cwd or ROOT),
        limit=16 * 1024 * 1024,
    )
    return Proc(process, argv, started)


@contextlib.asynccontextmanager
async def running(argv: Sequence[str], **kwargs: Any) -> AsyncIterator[Proc]:
    proc = await spawn(argv, **kwargs)
    try:
        yield proc
    finally:
        await proc.stop()


async def timed_run(
    argv: Sequence[str],
    *,
    timeout: float,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> tuple[float, int | None]:
    """Wall time of one run to its exit (stdout and stderr discarded)."""
    started = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        env=env or user_env(),
        cwd=str(cwd or ROOT),
    )
    try:
        code: int | None = await asyncio.wait_for(process.wait(), timeout)
    except asyncio.TimeoutError:
        process.kill()
        await process.wait()
        code = None
    return time.perf_counter() - started, code


# --- the peers ----------------------------------------------------------------------------------


class Serve:
    """``conndebug serve`` as a subprocess (its admin API, its change lines)."""

    def __init__(self, proc: Proc, url: str, admin_key: str) -> None:
        self.proc = proc
        self.url = url
        self.admin_key = admin_key
        self.port = int(url.rsplit(":", 1)[1])

    async def admin(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        import httpx

        async with httpx.AsyncClient(trust_env=False, timeout=10.0) as client:
            response = await client.request(
                method,
                f"{self.url}/_conndebug/{path}",
                json=body,
                headers={"X-Admin-Key": self.admin_key},
            )
        response.raise_for_status()
        return response.json()

    async def guest_token(self) -> str:
        import httpx

        async with httpx.AsyncClient(trust_env=False, timeout=10.0) as client:
            response = await client.post(f"{self.url}/api/guest", json={})
        response.raise_for_status()
        return str(response.json()["data"]["token"])

    def freeze(self) -> None:
        os.kill(self.proc.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        os.kill(self.proc.pid, signal.SIGCONT)


@contextlib.asynccontextmanager
async def serve(*args: str) -> AsyncIterator[Serve]:
    """``conndebug serve --port 0 ARGS`` until the block ends (SIGCONT, SIGTERM, SIGKILL)."""
    key = secrets.token_urlsafe(12)
    argv = [*conndebug_exe(), "serve", "--port", "0", f"--admin-key={key}", *args]
    async with running(argv) as proc:
        first = await proc.wait_line(lambda line: "listening on" in line.text, 30)
        if first is None:
            raise RuntimeError(f"conndebug serve did not start: {proc.stderr.decode()[-500:]}")
        yield Serve(proc, first.text.rsplit(" ", 1)[1], key)


@contextlib.asynccontextmanager
async def storm_server() -> AsyncIterator[str]:
    """This folder's Node storm server (socket.io 4); yields its URL."""
    env = user_env(NODE_PATH=str(NODE_MODULES))
    async with running(["node", str(STORM_SERVER)], env=env, cwd=NODE_DIR) as proc:
        first = await proc.wait_line(lambda line: '"listening"' in line.text, 30)
        if first is None:
            raise RuntimeError(f"storm_server.js did not start: {proc.stderr.decode()[-500:]}")
        data = first.json() or {}
        yield f"http://127.0.0.1:{data['port']}"


def node_client_argv(url: str, *args: str) -> list[str]:
    """``node client.js URL ARGS`` (the seed's client policy)."""
    return ["node", str(CLIENT_JS), url, *args]


async def node_client(url: str, *args: str) -> Proc:
    return await spawn(node_client_argv(url, *args), cwd=NODE_DIR)


def node_event(name: str) -> Callable[[Line], bool]:
    def match(line: Line) -> bool:
        data = line.json()
        return bool(data) and data.get("event") == name  # type: ignore[union-attr]

    return match


def jsonl_kind(kind: str) -> Callable[[Line], bool]:
    needle = f'"kind":"{kind}"'

    def match(line: Line) -> bool:
        return needle in line.text

    return match
