"""Child processes that print JSON lines, read while they run: the official JavaScript client
(the oracle for "does a real web client connect here?") and ``conndebug probe`` / ``watch``.

    run = await reference_client(url)                    # the seed's options, bounded in time
    run.connected, run.transport, run.recovered, run.connect_error, run.data

    probe = await conndebug_probe(url, "--token", t)     # exit code, parsed --json output
    watch = await conndebug_watch(url, duration=4)       # exit code, the --jsonl events

    async with streaming(argv) as proc:                  # act while it runs
        await proc.wait_for(lambda lines: ...)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import tempfile
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.conftest import NODE_DIR, ROOT

__all__ = [
    "ClientRun",
    "ProbeRun",
    "Streaming",
    "WatchRun",
    "conndebug_env",
    "conndebug_probe",
    "conndebug_watch",
    "reference_client",
    "reference_client_argv",
    "streaming",
]

_PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "WS_PROXY", "WSS_PROXY")


def conndebug_env(home: Path) -> dict[str, str]:
    """The environment of a conndebug child: no proxy or CA from the developer's environment, no
    colour, and its own home (so a guest session one run keeps never leaks into another)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k.upper() not in _PROXY_VARIABLES and k != "SSL_CERT_FILE"
    }
    env.update(
        NO_COLOR="1",
        HOME=str(home),
        XDG_CACHE_HOME=str(home / "cache"),
        XDG_CONFIG_HOME=str(home / "config"),
        XDG_STATE_HOME=str(home / "state"),
        XDG_DATA_HOME=str(home / "data"),
    )
    return env


@dataclass
class Streaming:
    """A running child whose stdout JSON lines are collected as they come."""

    process: asyncio.subprocess.Process
    lines: list[dict[str, Any]] = field(default_factory=list)
    raw: list[str] = field(default_factory=list)
    """stdout lines that were not JSON."""
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    ended: bool = False
    stderr: str = ""
    """What it wrote to stderr (filled in when the block ends)."""

    async def wait_for(
        self, condition: Callable[[list[dict[str, Any]]], bool], timeout: float
    ) -> bool:
        """Wait until ``condition(lines)`` holds (True), or the process ended or ``timeout``
        passed without it (False)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not condition(self.lines):
            if self.ended:
                return False
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            self.changed.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.changed.wait(), remaining)
        return True

    async def wait_end(self, timeout: float) -> int | None:
        """The exit code once the process ended by itself within ``timeout``, else ``None``."""
        with contextlib.suppress(asyncio.TimeoutError):
            await self.wait_for(lambda _lines: self.ended, timeout)
        if not self.ended:
            return None
        return await self.process.wait()


@contextlib.asynccontextmanager
async def streaming(
    argv: Sequence[str], *, cwd: Path, env: dict[str, str] | None = None
) -> AsyncIterator[Streaming]:
    """Run ``argv``; when the block ends, a process still running gets SIGINT (a user's Ctrl-C),
    then SIGKILL after 5 s."""
    with tempfile.TemporaryFile() as stderr:
        process = await asyncio.create_subprocess_exec(
            *argv, stdout=asyncio.subprocess.PIPE, stderr=stderr, cwd=cwd, env=env
        )
        proc = Streaming(process)

        async def collect() -> None:
            assert process.stdout is not None
            while raw := await process.stdout.readline():
                text = raw.decode(errors="replace").strip()
                try:
                    proc.lines.append(json.loads(text))
                except ValueError:
                    if text:
                        proc.raw.append(text)
                proc.changed.set()
            proc.ended = True
            proc.changed.set()

        collector = asyncio.create_task(collect())
        try:
            yield proc
        finally:
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.send_signal(signal.SIGINT)
                try:
                    await asyncio.wait_for(process.wait(), 5)
                except asyncio.TimeoutError:
                    process.kill()
                    await process.wait()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(collector, 5)
            collector.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await collector
            stderr.seek(0)
            proc.stderr = stderr.read().decode(errors="replace")


# --- the official JavaScript client ---------------------------------------------------------------


@dataclass
class ClientRun:
    """What socket.io-client 4.8 (``tests/node/client.js``) did."""

    argv: list[str]
    lines: list[dict[str, Any]]

    def of(self, event: str) -> list[dict[str, Any]]:
        return [line for line in self.lines if line.get("event") == event]

    @property
    def connected(self) -> bool:
        return bool(self.of("connect"))

    @property
    def transport(self) -> str | None:
        """The transport of the first connection (after an upgrade, ``websocket``)."""
        if not self.connected:
            return None
        if self.of("upgrade"):
            return str(self.of("upgrade")[0]["transport"])
        return str(self.of("connect")[0]["transport"])

    @property
    def recovered(self) -> bool:
        """Whether the last connection was a recovered one (connection state recovery)."""
        return bool(self.connected and self.of("connect")[-1].get("recovered"))

    @property
    def connect_error(self) -> str | None:
        errors = self.of("connect_error")
        return str(errors[0]["message"]) if errors else None

    @property
    def data(self) -> Any:
        errors = self.of("connect_error")
        return errors[0].get("data") if errors else None

    @property
    def server_disconnect(self) -> str | None:
        """The first disconnection of a connected client that it did not ask for (its reason).
        socket.io-client also emits ``disconnect`` when a connection attempt's transport closes
        before the socket connected; those do not count."""
        connected = False
        for line in self.lines:
            if line.get("event") == "connect":
                connected = True
            elif (
                line.get("event") == "disconnect"
                and connected
                and line.get("reason") != "io client disconnect"
            ):
                return str(line["reason"])
        return None

    def summary(self) -> str:
        if self.connected:
            text = f"connects over {self.transport}"
            if self.recovered:
                text += ", recovered"
            if self.server_disconnect:
                text += f", then {self.server_disconnect}"
            return text
        if self.connect_error:
            data = f" (data {json.dumps(self.data)})" if self.data is not None else ""
            return f"never connects: connect_error {self.connect_error[:70]!r}{data}"
        return "never connects"


def reference_client_argv(
    url: str,
    *,
    transports: str | None = None,
    token: str | None = None,
    path: str | None = None,
    parser: str | None = None,
    try_all: bool = False,
    max_ms: int = 6000,
    linger_ms: int = 300,
    connects: int = 1,
    client: str | None = None,
) -> list[str]:
    """``node client.js`` with the seed's options (websocket first, no tryAllTransports, 20 s
    timeout, 10 reconnection attempts), ending at the ``connects``-th connection (plus
    ``linger_ms`` to see what the server does next) or after ``max_ms``. ``client="v2"`` runs
    socket.io-client 2 (Engine.IO 3) instead of 4.8."""
    argv = ["node", str(NODE_DIR / "client.js"), url, "--timeout", "20000"]
    argv += ["--max-ms", str(max_ms), "--linger", str(linger_ms), "--connects", str(connects)]
    if transports:
        argv += ["--transports", transports]
    if token:
        argv += ["--token", token]
    if path:
        argv += ["--path", path]
    if parser:
        argv += ["--parser", parser]
    if try_all:
        argv.append("--try-all-transports")
    if client:
        argv += ["--client", client]
    return argv


async def reference_client(url: str, **options: Any) -> ClientRun:
    """Run the official client (options: see :func:`reference_client_argv`) to its end."""
    argv = reference_client_argv(url, **options)
    max_s = int(options.get("max_ms", 6000)) / 1000
    env = {**os.environ, "NO_PROXY": "*"}
    async with streaming(argv, cwd=NODE_DIR, env=env) as proc:
        await proc.wait_end(max_s + 10)
    return ClientRun(argv=argv, lines=proc.lines)


# --- conndebug ------------------------------------------------------------------------------------


@dataclass
class ProbeRun:
    """``conndebug probe URL --json``: exit code and the parsed JSON (``None`` if it printed
    none, e.g. a usage error)."""

    argv: list[str]
    exit_code: int | None
    result: dict[str, Any] | None
    stderr: str

    @property
    def code(self) -> str | None:
        return None if self.result is None else str(self.result["verdict"]["code"])

    @property
    def verdict(self) -> dict[str, Any]:
        return {} if self.result is None else dict(self.result["verdict"])

    def text(self) -> str:
        """Everything the probe said (verdict, steps, history), for "is X shown" checks."""
        return json.dumps(self.result) if self.result is not None else self.stderr

    def summary(self) -> str:
        if self.result is None:
            return f"exit {self.exit_code}, no JSON: {self.stderr.strip()[-200:]!r}"
        v = self.verdict
        return f"{v['code']} exit {self.exit_code}: {v['title']!r}"


@dataclass
class WatchRun:
    """``conndebug watch URL --jsonl --duration S``: exit code and the events."""

    argv: list[str]
    exit_code: int | None
    events: list[dict[str, Any]]
    stderr: str

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("kind") == kind]

    @property
    def code(self) -> str | None:
        """The code of its final ``verdict`` event (the one diagnosis), once watch prints one."""
        verdicts = self.of("verdict")
        return str(verdicts[-1]["code"]) if verdicts and "code" in verdicts[-1] else None

    def text(self) -> str:
        return json.dumps(self.events) + "\n" + self.stderr

    def summary(self) -> str:
        kinds: dict[str, int] = {}
        for event in self.events:
            kinds[str(event.get("kind"))] = kinds.get(str(event.get("kind")), 0) + 1
        verdict = f"verdict {self.code}, " if self.code else ""
        counts = ", ".join(
            f"{n}× {k}"
            for k, n in kinds.items()
            if k
            in ("connected", "connect_error", "disconnected", "reconnect_scheduled", "fallback")
        )
        last = self.stderr.strip().splitlines()[-1] if self.stderr.strip() else ""
        return f"{verdict}exit {self.exit_code} ({counts or 'no connection event'}; {last[:160]!r})"


def _conndebug(command: str, url: str, flags: Sequence[str]) -> list[str]:
    return [sys.executable, "-m", "conndebug", command, url, *flags]


async def conndebug_probe(url: str, *flags: str, home: Path, timeout: float = 40) -> ProbeRun:
    argv = _conndebug("probe", url, ["--json", *flags])
    with tempfile.TemporaryFile() as err:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdout=asyncio.subprocess.PIPE,
            stderr=err,
            cwd=ROOT,
            env=conndebug_env(home),
        )
        out = b""
        try:
            out, _ = await asyncio.wait_for(process.communicate(), timeout)
        except asyncio.TimeoutError:
            pass
        finally:
            if process.returncode is None:  # its time is up, or the test is being cancelled
                process.kill()
                await process.wait()
        err.seek(0)
        stderr = err.read().decode(errors="replace")
    try:
        result = json.loads(out)
    except ValueError:
        result = None
    exit_code = process.returncode if process.returncode is not None else None
    if exit_code is not None and exit_code < 0:  # killed at the time limit
        stderr += f"\n(killed after {timeout} s)"
        exit_code = None
    return ProbeRun(argv=argv, exit_code=exit_code, result=result, stderr=stderr)


async def conndebug_watch(
    url: str, *flags: str, duration: float, home: Path, grace: float = 15
) -> WatchRun:
    """Run watch for ``duration`` seconds (it stops itself); killed ``grace`` s later if not."""
    argv = _conndebug("watch", url, ["--jsonl", "--duration", f"{duration:g}", *flags])
    async with streaming(argv, cwd=ROOT, env=conndebug_env(home)) as proc:
        exit_code = await proc.wait_end(duration + grace)
    stderr = "\n".join([*proc.raw, proc.stderr])
    return WatchRun(argv=argv, exit_code=exit_code, events=proc.lines, stderr=stderr)
