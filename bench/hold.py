"""14. Who cuts it: ``conndebug probe URL --hold --json`` against a real box of each class.

Each run is timed from the spawn of the process; its ``--json`` verdict must name the class
(``connection_unstable`` with the hold's ``kind``) and the limit to a second, or the run does not
count. The setups, on loopback, with a limit of N seconds (5 s, or 2 s in the smoke run):

- **lifetime**: a relay (``tests/proxies.py``) that cuts every connection N s after it opened,
  whatever its traffic, in front of ``conndebug serve``; the goal is the issue's: named within
  N + 2 s of the process's start;
- **idle** (nginx ``proxy_read_timeout N``; HAProxy ``timeout tunnel N``): the quiet connection
  is cut, the chatty one is not, so the hold waits its grace (1.2 s) for the chatty one before
  judging: the same N + 2 s;
- **request** (HAProxy ``timeout server N`` with ``timeout tunnel 1h``): the held long-poll is cut
  (504) while the websockets stay open, so the hold goes on to ``--max`` looking for a lifetime
  cap; the time that matters is when the cut is named on stderr (N + 2 s), the verdict comes at
  ``--max`` (the server's pingInterval + 2 s here, what the long-poll test needs anyway).

The benchmark holds the shared lock while it measures: the timings are seconds, but a storm on the
other core must not push a cut past its grace. nginx and HAProxy are Debian's packages (``.ci/run``
installs them); a missing one leaves its rows "not run".
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any

from bench.common import Params, Row, Stats, conndebug_exe, say, secs, serve, spread, user_env

_NGINX_WS = """
    proxy_http_version 1.1;
    proxy_set_header Upgrade $http_upgrade;
    proxy_set_header Connection "upgrade";
    proxy_set_header Host $host;
"""


def _haproxy_config(port: int, timeouts: str) -> str:
    return f"""
defaults
    mode http
    timeout connect 2s
{timeouts}
frontend fe
    bind 127.0.0.1:{{port}}
    default_backend be
backend be
    server s1 127.0.0.1:{port}
"""


@dataclass(frozen=True)
class Case:
    label: str
    kind: str
    """The hold's ``cut.kind`` (or ``long_poll_cut.kind``) expected."""
    setup: Callable[[], AbstractAsyncContextManager[tuple[str, list[str]]]]
    needs: str | None = None
    """A binary the setup needs (``nginx``, ``haproxy``)."""
    by_stderr: str | None = None
    """Time the run to this stderr text instead of its exit (the verdict comes at --max)."""


@dataclass
class Run:
    wall_s: float
    named_s: float | None
    code: int | None
    verdict: str | None
    kind: str | None
    limit_s: float | None
    stderr: list[tuple[float, str]] = field(default_factory=list)


@contextlib.asynccontextmanager
async def _relay(limit_s: float) -> AsyncIterator[tuple[str, list[str]]]:
    from tests.proxies import tcp_relay

    async with serve("--quiet") as srv, tcp_relay(int(srv.url.rsplit(":", 1)[1])) as relay:
        relay.max_age = limit_s
        yield relay.url, ["--max", "60"]


@contextlib.asynccontextmanager
async def _nginx(limit_s: float) -> AsyncIterator[tuple[str, list[str]]]:
    from tests.infra import nginx

    async with serve("--quiet") as srv:
        port = srv.url.rsplit(":", 1)[1]
        location = (
            f"location / {{\n    proxy_pass http://127.0.0.1:{port};\n{_NGINX_WS}\n"
            f"    proxy_read_timeout {limit_s:g}s;\n}}\n"
        )
        async with nginx(location) as proxy:
            yield proxy.url, ["--max", "60"]


@contextlib.asynccontextmanager
async def _haproxy(
    timeouts: str, max_s: float, *serve_flags: str
) -> AsyncIterator[tuple[str, list[str]]]:
    from tests.infra import haproxy

    async with serve("--quiet", *serve_flags) as srv:
        port = int(srv.url.rsplit(":", 1)[1])
        async with haproxy(_haproxy_config(port, timeouts)) as proxy:
            yield proxy.url, ["--max", f"{max_s:g}"]


def cases(params: Params) -> list[Case]:
    n = 2.0 if params.smoke else 5.0
    ping = 4.0 if params.smoke else 8.0
    return [
        Case(
            f"a relay cuts every connection after {n:g} s",
            "lifetime",
            lambda: _relay(n),
        ),
        Case(
            f"nginx proxy_read_timeout {n:g}s",
            "idle",
            lambda: _nginx(n),
            needs="nginx",
        ),
        Case(
            f"HAProxy timeout tunnel {n:g}s",
            "idle",
            lambda: _haproxy(
                f"    timeout client 60s\n    timeout server 60s\n    timeout tunnel {n:g}s\n", 60
            ),
            needs="haproxy",
        ),
        Case(
            f"HAProxy timeout server {n:g}s, tunnel 1h (server pings every {ping:g} s)",
            "request",
            lambda: _haproxy(
                f"    timeout client 60s\n    timeout server {n:g}s\n    timeout tunnel 1h\n",
                ping + 2,
                "--ping-interval",
                f"{ping:g}",
            ),
            needs="haproxy",
            by_stderr="the held long-poll: cut",
        ),
    ]


async def _probe(url: str, flags: list[str], by_stderr: str | None) -> Run:
    """One ``probe URL --hold --json FLAGS``: wall time, when the cut was named, the verdict."""
    started = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        *conndebug_exe(),
        "probe",
        url,
        "--hold",
        "--json",
        *flags,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=user_env(),
    )
    assert process.stderr is not None
    assert process.stdout is not None
    lines: list[tuple[float, str]] = []

    async def read_err() -> None:
        assert process.stderr is not None
        while raw := await process.stderr.readline():
            lines.append((time.perf_counter() - started, raw.decode(errors="replace").rstrip()))

    reader = asyncio.ensure_future(read_err())
    try:
        out = await asyncio.wait_for(process.stdout.read(), 120)
        await asyncio.wait_for(process.wait(), 10)
        await asyncio.wait_for(reader, 5)
    except asyncio.TimeoutError:
        process.kill()
        await process.wait()
        reader.cancel()
        return Run(time.perf_counter() - started, None, None, None, None, None, lines)
    wall = time.perf_counter() - started
    verdict = kind = None
    limit: float | None = None
    with contextlib.suppress(ValueError, KeyError, TypeError):
        data: dict[str, Any] = json.loads(out)
        verdict = str(data["verdict"]["code"])
        hold = data.get("hold") or {}
        cut = hold.get("cut") or {}
        if cut.get("kind") in (None, "none") and hold.get("long_poll_cut"):
            cut = hold["long_poll_cut"]
        kind, limit = cut.get("kind"), cut.get("limit_s")
    named = wall
    if by_stderr is not None:
        named_at = next((at for at, text in lines if by_stderr in text), None)
        named = named_at if named_at is not None else wall
    return Run(wall, named, process.returncode, verdict, kind, limit, lines)


async def run(params: Params, fg: asyncio.Lock) -> list[Row]:
    rows: list[Row] = []
    n = 2.0 if params.smoke else 5.0
    reps = 1 if params.smoke else 3
    bound = n + 2.0
    for case in cases(params):
        title = f"14. hold → verdict: {case.label} → `connection_unstable` ({case.kind})"
        if case.needs is not None and shutil.which(case.needs, path="/usr/sbin:/usr/bin") is None:
            rows.append(Row(title, f"not run: {case.needs} is not installed", "—", "—", "", None))
            continue
        runs: list[Run] = []
        async with case.setup() as (url, flags), fg:
            say(f"hold: {case.label} ({reps}×)")
            for _ in range(reps):
                runs.append(await _probe(url, flags, case.by_stderr))
        named = [r.named_s if r.named_s is not None else r.wall_s for r in runs]
        stats = Stats.of(named)
        right = all(
            r.verdict == "connection_unstable"
            and r.kind == case.kind
            and r.limit_s is not None
            and abs(r.limit_s - n) <= 1.0
            for r in runs
        )
        limits = sorted({r.limit_s for r in runs if r.limit_s is not None})
        measured = ", ".join(f"{x:g} s" for x in limits) or "none"
        if case.by_stderr is not None:
            detail = (
                f"cut named on stderr at {spread(stats)}; verdict at exit "
                f"{secs(Stats.of([r.wall_s for r in runs]).median)} (--max {flags[-1]} s)"
            )
        else:
            detail = f"{spread(stats)} (spawn → exit)"
        rows.append(
            Row(
                benchmark=title,
                conndebug=f"{detail}; limit measured {measured}"
                + ("" if right else f" (verdicts: {[(r.verdict, r.kind) for r in runs]})"),
                baseline=f"the limit: {n:g} s",
                ratio=f"{stats.median / n:.2f}× the limit",
                goal=f"named within N + 2 s = {bound:g} s, limit ± 1 s",
                met=right and stats.median <= bound,
                raw={
                    "named_s": named,
                    "wall_s": [r.wall_s for r in runs],
                    "verdicts": [r.verdict for r in runs],
                    "kinds": [r.kind for r in runs],
                    "limits_s": [r.limit_s for r in runs],
                    "exit_codes": [r.code for r in runs],
                    "limit_set_s": n,
                    "stderr": [r.stderr for r in runs],
                },
            )
        )
        say(f"hold: {case.label}: {secs(stats.median)}, {runs[0].verdict} {runs[0].kind}")
    return rows
