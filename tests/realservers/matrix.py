"""Run matrix cases: start the server, run ``conndebug probe`` and ``watch`` and the official client
against it side by side, keep everything they said.

    results = asyncio.run(run_matrix(CASES))      # several cases at once, bounded
    python -m tests.realservers.matrix [CASE_ID...]   # the table of today's answers
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import NODE_DIR, ROOT
from tests.realservers.cases import CASES, CONNECT_TIMEOUT, Case
from tests.realservers.procs import (
    ClientRun,
    ProbeRun,
    WatchRun,
    conndebug_env,
    conndebug_probe,
    conndebug_watch,
    reference_client,
    reference_client_argv,
    streaming,
)
from tests.realservers.servers import RealServer

__all__ = ["CONCURRENCY", "CaseResult", "run_case", "run_matrix", "table"]

CONCURRENCY = 4
"""Cases run at once (each is a server, two conndebug processes and two Node clients)."""


@dataclass
class CaseResult:
    case: Case
    server: str
    url: str
    probe: ProbeRun
    watch: WatchRun
    client: ClientRun
    """The official client with the seed's options."""
    client_try_all: ClientRun | None
    """The same with ``tryAllTransports: true`` (None where the case does not say)."""
    seconds: float
    home_files: dict[str, int]
    """The files conndebug left in its home folder, with their modes (the folder is gone)."""
    extra: dict[str, Any] = field(default_factory=dict)


def _flag(flags: tuple[str, ...], name: str) -> str | None:
    return flags[flags.index(name) + 1] if name in flags else None


async def _token(case: Case, server: RealServer) -> tuple[str | None, str | None]:
    """(the token conndebug gets as --token, the token the official client connects with)."""
    if case.token in ("expired", "orphan"):
        body = await server.post(f"/_test/token?kind={case.token}")
        return str(body["token"]), str(body["token"])
    if case.token == "guest":
        # The web client's flow: a guest session first. A refusal (429) leaves it without a token.
        async with httpx.AsyncClient(trust_env=False, timeout=10) as http:
            answer = await http.post(f"{server.url}/api/guest", json={})
        if answer.status_code == 201:
            return None, str(answer.json()["data"]["token"])
    return None, None


def _client_options(case: Case, token: str | None) -> dict[str, Any]:
    options: dict[str, Any] = {
        "transports": _flag(case.flags, "--transports"),
        "path": _flag(case.flags, "--path"),
        "parser": _flag(case.flags, "--parser"),
        "token": token,
    }
    options.update(case.client_options)
    return {k: v for k, v in options.items() if v is not None}


async def _recovery(server: RealServer, url: str, flags: list[str], home: Path) -> dict[str, Any]:
    """Drop the transport of a connected client (a network drop, which connection state recovery
    covers) once it holds an offset; see whether its reconnection is recovered. The official
    client first, then conndebug watch."""
    out: dict[str, Any] = {}

    def welcomed(lines: list[dict[str, Any]], key: str, value: str) -> bool:
        return any(line.get(key) == value and line.get("name") == "welcome" for line in lines)

    argv = [*reference_client_argv(url, connects=2, max_ms=10000), "--log-events"]
    async with streaming(argv, cwd=NODE_DIR) as js:
        if await js.wait_for(lambda lines: welcomed(lines, "event", "event_in"), 8):
            await server.post("/_test/drop")
            await js.wait_end(10)
    out["client_recovery"] = ClientRun(argv=argv, lines=js.lines)

    watch_argv = [
        sys.executable,
        "-m",
        "conndebug",
        "watch",
        url,
        "--jsonl",
        "--duration",
        "8",
        *flags,
    ]
    async with streaming(watch_argv, cwd=ROOT, env=conndebug_env(home)) as watch:
        if await watch.wait_for(lambda lines: welcomed(lines, "kind", "event_in"), 8):
            await server.post("/_test/drop")
            await watch.wait_for(
                lambda lines: sum(e.get("kind") == "connected" for e in lines) >= 2, 8
            )
    out["watch_recovery"] = WatchRun(
        argv=watch_argv, exit_code=watch.process.returncode, events=watch.lines, stderr=watch.stderr
    )
    return out


async def run_case(case: Case) -> CaseResult:
    """Start the case's server; run probe, watch and the official client against it."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="conndebug-matrix-") as tmp:
        home = Path(tmp)
        async with case.server() as server:
            flag_token, client_token = await _token(case, server)
            url = case.url(server)
            flags = [*case.flags, "--connect-timeout", f"{CONNECT_TIMEOUT:g}"]
            if flag_token:
                flags += ["--token", flag_token]
            options = _client_options(case, client_token)
            try_all = case.client.connects_try_all is not None

            async def conndebug() -> tuple[ProbeRun, WatchRun]:
                if case.sequential:
                    probe = await conndebug_probe(url, *flags, home=home)
                    return probe, await conndebug_watch(
                        url, *flags, duration=case.duration, home=home
                    )
                return await asyncio.gather(
                    conndebug_probe(url, *flags, home=home / "probe"),
                    conndebug_watch(url, *flags, duration=case.duration, home=home / "watch"),
                )

            (probe, watch), (client, client_all) = await asyncio.gather(
                conndebug(),
                asyncio.gather(
                    reference_client(url, **options),
                    reference_client(url, try_all=True, **options) if try_all else _none(),
                ),
            )
            extra: dict[str, Any] = {}
            if case.recovery:
                extra = await _recovery(server, url, flags, home / "recovery")
            return CaseResult(
                case=case,
                server=server.kind,
                url=url,
                probe=probe,
                watch=watch,
                client=client,
                client_try_all=client_all,
                seconds=time.monotonic() - started,
                home_files=_files(home),
                extra=extra,
            )


def _files(home: Path) -> dict[str, int]:
    """The files under ``home`` with their permission bits."""
    return {
        str(path.relative_to(home)): path.stat().st_mode & 0o777
        for path in home.rglob("*")
        if path.is_file()
    }


async def _none() -> None:
    return None


async def run_matrix(
    cases: Iterable[Case], concurrency: int = CONCURRENCY
) -> dict[str, CaseResult | BaseException]:
    """Every case's result by id, or the error that stopped it (one case's failure to start a
    server does not stop the others)."""
    gate = asyncio.Semaphore(concurrency)
    chosen = list(cases)

    async def one(case: Case) -> CaseResult:
        async with gate:
            return await run_case(case)

    results = await asyncio.gather(*(one(case) for case in chosen), return_exceptions=True)
    return {case.id: result for case, result in zip(chosen, results, strict=True)}


def table(results: Iterable[CaseResult | BaseException]) -> str:
    """A Markdown table: case → probe says / watch says / official client / right verdict."""
    rows = [
        "| case | server | probe says | watch says | JS client (seed options) | right verdict |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        if isinstance(r, BaseException):
            rows.append(f"| (error) | {type(r).__name__}: {r} | | | | |")
            continue
        right = f"`{r.case.right}` exit {r.case.exit}"
        client = r.client.summary()
        if r.client_try_all is not None:
            client += f"; tryAllTransports: {r.client_try_all.summary()}"
        cells = [r.case.id, r.server, r.probe.summary(), r.watch.summary(), client, right]
        rows.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(rows)


if __name__ == "__main__":
    wanted = set(sys.argv[1:])
    chosen = [c for c in CASES if not wanted or c.id in wanted]
    t0 = time.monotonic()
    done = asyncio.run(run_matrix(chosen))
    print(table(done[c.id] for c in chosen))
    print(f"\n{len(chosen)} cases in {time.monotonic() - t0:.1f} s")
