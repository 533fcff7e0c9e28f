"""Time to a verdict: ``conndebug probe URL --json`` against real setups on loopback, one per verdict.

Each run is timed from the spawn of the process to its exit (what a support call waits for),
and its ``--json`` verdict code is checked: a fast wrong answer does not count. The setups:

- ``ok``, ``websocket_blocked`` (refused with 403, and black-holed), ``auth_rejected`` (a token
  the server cannot verify): ``conndebug serve`` with its fault switches;
- ``connection_refused``: a port nobody listens on; ``dns_failure``: a ``.invalid`` name;
- ``not_socketio``: a plain web server answering an HTML 404;
- ``tls_error``: a TLS server whose certificate comes from a CA the machine does not trust
  (trustme);
- ``connect_timeout``: a server that accepts connections and never answers (``--connect-timeout
  2``).

The bounds are the issue's: refused and not-Socket.IO (and the other immediate answers) well under
a second; a blocked websocket within ``--ws-timeout`` + 1 s; a silent server within the timeout it
was given + 1 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import ssl
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

from bench.common import (
    Params,
    Row,
    Stats,
    conndebug_exe,
    say,
    secs,
    serve,
    spread,
    user_env,
)

_NOT_FOUND = (
    b"HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\nContent-Length: 22\r\n"
    b"Connection: close\r\n\r\n<h1>404 Not Found</h1>"
)


@dataclass(frozen=True)
class Case:
    label: str
    code: str
    setup: Callable[[], AbstractAsyncContextManager[tuple[str, list[str]]]]
    """Yields the URL and extra probe flags while the setup runs."""
    bound_s: float
    goal: str
    slow: bool = False


@contextlib.asynccontextmanager
async def _served(
    faults: dict[str, Any] | None = None, *flags: str
) -> AsyncIterator[tuple[str, list[str]]]:
    async with serve("--quiet") as srv:
        if faults:
            await srv.admin("PUT", "faults", faults)
        yield srv.url, list(flags)


@contextlib.asynccontextmanager
async def _closed_port() -> AsyncIterator[tuple[str, list[str]]]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    yield f"http://127.0.0.1:{port}", []


@contextlib.asynccontextmanager
async def _no_such_name() -> AsyncIterator[tuple[str, list[str]]]:
    yield "http://conndebug-bench.invalid:3001", []


@contextlib.asynccontextmanager
async def _server(
    on_client: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Any],
    tls: ssl.SSLContext | None = None,
) -> AsyncIterator[int]:
    clients: set[asyncio.Task[Any]] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        clients.add(task)
        try:
            await on_client(reader, writer)
        except (ConnectionError, OSError, ssl.SSLError, asyncio.IncompleteReadError):
            pass  # the probe hung up (it refused the certificate, or it was done)
        finally:
            clients.discard(task)
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=tls)
    try:
        yield int(server.sockets[0].getsockname()[1])
    finally:
        server.close()
        for task in list(clients):
            task.cancel()
        if clients:
            await asyncio.wait(list(clients), timeout=2)
        await server.wait_closed()


async def _answer_404(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\r\n\r\n")
    writer.write(_NOT_FOUND)
    await writer.drain()


async def _never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while await reader.read(65536):
        pass


@contextlib.asynccontextmanager
async def _web_server() -> AsyncIterator[tuple[str, list[str]]]:
    async with _server(_answer_404) as port:
        yield f"http://127.0.0.1:{port}", []


@contextlib.asynccontextmanager
async def _silent_server() -> AsyncIterator[tuple[str, list[str]]]:
    async with _server(_never_answer) as port:
        yield f"http://127.0.0.1:{port}", ["--connect-timeout", "2"]


@contextlib.asynccontextmanager
async def _untrusted_tls() -> AsyncIterator[tuple[str, list[str]]]:
    import trustme

    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    async with _server(_answer_404, tls=context) as port:
        yield f"https://127.0.0.1:{port}", []


def cases(params: Params) -> list[Case]:
    quick = "well under a second: ≤ 0.5 s"
    blocked = params.ws_timeout_s + 1.0
    return [
        Case("connected (ok)", "ok", lambda: _served(), 0.5, quick),
        Case("nothing listens", "connection_refused", _closed_port, 0.5, quick),
        Case("name does not resolve", "dns_failure", _no_such_name, 0.5, quick),
        Case("a plain web server", "not_socketio", _web_server, 0.5, quick),
        Case("certificate from an unknown CA", "tls_error", _untrusted_tls, 0.5, quick),
        Case(
            "a token the server refuses",
            "auth_rejected",
            lambda: _served(None, "--token", "not-a-token"),
            0.5,
            quick,
        ),
        Case(
            "websocket refused with 403",
            "websocket_blocked",
            lambda: _served({"websocket": "reject"}),
            0.5,
            quick,
        ),
        Case(
            "websocket black-holed",
            "websocket_blocked",
            lambda: _served({"websocket": "blackhole"}, "--ws-timeout", f"{params.ws_timeout_s:g}"),
            blocked,
            f"≤ --ws-timeout + 1 s = {blocked:g} s",
            slow=True,
        ),
        Case(
            "accepts, never answers",
            "connect_timeout",
            _silent_server,
            3.0,
            "≤ --connect-timeout (2 s) + 1 s",
            slow=True,
        ),
    ]


async def _probe(url: str, flags: list[str]) -> tuple[float, int | None, str | None]:
    """Wall time, exit code and verdict code of one ``probe URL --json``."""
    started = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        *conndebug_exe(),
        "probe",
        url,
        "--json",
        *flags,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        env=user_env(),
    )
    try:
        out, _ = await asyncio.wait_for(process.communicate(), 60)
    except asyncio.TimeoutError:
        process.kill()
        await process.wait()
        return time.perf_counter() - started, None, None
    wall = time.perf_counter() - started
    try:
        code = str(json.loads(out)["verdict"]["code"])
    except (ValueError, KeyError, TypeError):
        code = None
    return wall, process.returncode, code


async def run(params: Params, fg: asyncio.Lock) -> list[Row]:
    rows: list[Row] = []
    for case in cases(params):
        reps = params.slow_reps if case.slow else params.reps
        samples: list[float] = []
        seen: list[str | None] = []
        async with case.setup() as (url, flags), fg:
            say(f"verdicts: {case.label} ({reps}×)")
            if not params.smoke:
                await _probe(url, flags)  # warm-up: bytecode caches, the server's first answers
            for _ in range(reps):
                wall, _code, verdict = await _probe(url, flags)
                samples.append(wall)
                seen.append(verdict)
        stats = Stats.of(samples)
        right = all(v == case.code for v in seen)
        rows.append(
            Row(
                benchmark=f"8. probe → verdict: {case.label} → `{case.code}`",
                conndebug=spread(stats)
                + ("" if right else f" (verdicts: {sorted(set(map(str, seen)))})"),
                baseline="—",
                ratio="—",
                goal=case.goal,
                met=right and stats.median <= case.bound_s,
                raw={"samples": samples, "verdicts": seen, "bound_s": case.bound_s},
            )
        )
        say(f"verdicts: {case.label}: {secs(stats.median)}, {seen[0]}")
    return rows
