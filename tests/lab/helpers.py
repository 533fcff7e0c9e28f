"""Building blocks of the lab scenarios: nginx snippets, `conndebug serve` and `watch` processes.

The nginx snippets are the ones the README's "Diagnosing a deployment" section shows.
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

from conndebug.cli import build_parser
from conndebug.config import Settings, settings_from_args
from tests.conftest import ROOT

__all__ = [
    "NGINX_GOOD",
    "NGINX_NO_UPGRADE",
    "Node",
    "WatchRun",
    "nginx_location",
    "probe_settings",
    "serve_node",
    "serve_nodes",
    "upstream",
    "watch_until",
]

NGINX_GOOD = """
    proxy_http_version 1.1;
    proxy_set_header Upgrade $http_upgrade;
    proxy_set_header Connection "upgrade";
    proxy_set_header Host $host;
"""
"""The documented websocket settings."""

NGINX_NO_UPGRADE = """
    proxy_set_header Host $host;
"""
"""A plain reverse proxy: nginx's defaults (HTTP/1.0 upstream, no Upgrade/Connection forwarded)."""


def nginx_location(target: str, settings: str, extra: str = "") -> str:
    """A ``location /`` proxying to ``target`` (``127.0.0.1:PORT`` or an upstream's name)."""
    return f"location / {{\n    proxy_pass http://{target};\n{settings}\n    {extra}\n}}\n"


def upstream(name: str, ports: Sequence[int], *, balance: str = "") -> str:
    """An ``upstream`` block over loopback ports; ``balance`` e.g. ``ip_hash;`` (default: round
    robin, no affinity)."""
    servers = "".join(f"    server 127.0.0.1:{port};\n" for port in ports)
    return f"upstream {name} {{\n    {balance}\n{servers}}}\n"


def probe_settings(url: str, *flags: str) -> Settings:
    """Settings exactly as `conndebug probe URL FLAGS` builds them."""
    args = build_parser("probe").parse_args([url, *flags])
    return settings_from_args(args, url)


@dataclass
class Node:
    """One `conndebug serve` process."""

    process: asyncio.subprocess.Process
    port: int
    stderr_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")[-4000:]


async def _stop(process: asyncio.subprocess.Process, sig: int = signal.SIGTERM) -> None:
    if process.returncode is not None:
        return
    process.send_signal(sig)
    try:
        await asyncio.wait_for(process.wait(), 10)
    except asyncio.TimeoutError:
        process.kill()
        await process.wait()


@contextlib.asynccontextmanager
async def serve_node(*flags: str, port: int = 0) -> AsyncIterator[Node]:
    """Run ``python -m conndebug serve --port PORT --quiet FLAGS`` until the block ends.

    Yields once the server printed its listening line; a server that exits instead fails with its
    error output.
    """
    with tempfile.TemporaryDirectory(prefix="conndebug-node-") as tmp:
        stderr_path = Path(tmp) / "stderr.log"
        with stderr_path.open("wb") as stderr:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "conndebug",
                "serve",
                "--port",
                str(port),
                "--quiet",
                *flags,
                stdout=asyncio.subprocess.PIPE,
                stderr=stderr,
                cwd=ROOT,
            )
            try:
                assert process.stdout is not None
                try:
                    line = await asyncio.wait_for(process.stdout.readline(), 30)
                except asyncio.TimeoutError:
                    line = b""
                text = line.decode(errors="replace").strip()
                if "listening on http://" not in text:
                    await _stop(process)
                    raise RuntimeError(
                        f"conndebug serve did not start ({text!r}):\n"
                        + stderr_path.read_text(errors="replace")
                    )
                node = Node(process, int(text.rsplit(":", 1)[1]), stderr_path)
                yield node
            finally:
                await _stop(process)


@contextlib.asynccontextmanager
async def serve_nodes(count: int, *flags: str) -> AsyncIterator[list[Node]]:
    """``count`` `conndebug serve` processes with the same flags, started side by side."""
    async with contextlib.AsyncExitStack() as stack:
        started = await asyncio.gather(
            *(stack.enter_async_context(serve_node(*flags)) for _ in range(count)),
            return_exceptions=True,  # every start finishes, so the stack stops all that started
        )
        for outcome in started:
            if isinstance(outcome, BaseException):
                raise outcome
        yield [node for node in started if isinstance(node, Node)]


@dataclass
class WatchRun:
    """What a `conndebug watch --jsonl` process printed, and how it ended."""

    events: list[dict[str, Any]] = field(default_factory=list)
    exit_code: int | None = None
    stderr: str = ""

    def kinds(self) -> list[str]:
        return [e["kind"] for e in self.events]

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["kind"] == kind]


async def watch_until(
    url: str,
    done: Callable[[list[dict[str, Any]]], bool],
    *flags: str,
    timeout: float = 30.0,
    env: dict[str, str] | None = None,
) -> WatchRun:
    """Run ``conndebug watch URL --jsonl FLAGS`` until ``done(events)`` holds (then SIGINT, as a
    user's Ctrl-C), the process ends by itself, or ``timeout`` passes (then it is stopped too)."""
    run = WatchRun()
    with tempfile.TemporaryFile() as stderr:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "conndebug",
            "watch",
            url,
            "--jsonl",
            *flags,
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
            cwd=ROOT,
            env={**os.environ, **(env or {})},
        )
        assert process.stdout is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        ended = False
        try:
            while not done(run.events):
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    line = await asyncio.wait_for(process.stdout.readline(), remaining)
                except asyncio.TimeoutError:
                    break
                if not line:
                    ended = True  # it is ending by itself: let it finish and set its exit code
                    break
                run.events.append(json.loads(line))
        finally:
            if ended:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(process.wait(), 15)
            await _stop(process, signal.SIGINT)
            rest = await process.stdout.read()
            for line in rest.splitlines():
                if line.strip():
                    run.events.append(json.loads(line))
            run.exit_code = process.returncode
            stderr.seek(0)
            run.stderr = stderr.read().decode(errors="replace")
    return run
