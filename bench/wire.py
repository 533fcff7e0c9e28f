"""9. The wire layer: h11 + wsproto on our own streams, measured against the other candidates.

Every measurement runs in its own process (:mod:`bench.wire_client`) against a peer in another
(:mod:`bench.wire_peer`), so the CPU time taken is the client's alone:

- **import**: ms to import each stack after ``asyncio``, ``ssl`` and ``conndebug.core`` (which
  every command loads anyway): ``conndebug.wire`` with its websocket part; httpx + wsproto (the
  other candidate: httpx has no websocket); aiohttp (today's monitor). Interleaved, one warm-up
  round first (bytecode caches written, as in a user's install).
- **polling request**: CPU per keep-alive ``GET`` of a small Engine.IO polling answer, one after
  the other: ``conndebug.wire.HttpClient``; httpcore's pool on a network backend made of the
  wire's own streams (the "custom network backend" candidate); httpx as it comes (anyio).
  (The probe's hand-written client it replaced is gone; its figure is in bench/notes.md.)
- **websocket message**: a burst of small text messages (a Socket.IO event of 43 bytes each)
  received with ``recv()`` one by one: the wire as shipped, and the same with every frame
  through wsproto's parser (what "plus wsproto for the websocket" gives on its own).
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from bench.common import Params, Row, Stats, ratio_text, running, say, secs, spread, user_env

_IMPORTS = {
    "wire": "conndebug.wire:WebSocket:HttpClient",
    "httpx": "httpx,wsproto",
    "aiohttp": "aiohttp",
}
_HTTP = ("wire", "httpcore", "httpx")
_WS = ("fast", "wsproto")


async def _client(*args: str) -> dict[str, Any]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.wire_client",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=user_env(),
    )
    out, err = await asyncio.wait_for(process.communicate(), 300)
    if process.returncode != 0:
        raise RuntimeError(f"wire_client {' '.join(args)}: {err.decode()[-400:]}")
    return dict(json.loads(out.decode().strip().splitlines()[-1]))


async def _peer(mode: str) -> Any:
    return running([sys.executable, "-m", "bench.wire_peer", mode])


async def _port(proc: Any) -> int:
    line = await proc.wait_line(lambda line: line.json() is not None, 30)
    if line is None:
        raise RuntimeError(f"bench.wire_peer did not start: {proc.stderr.decode()[-400:]}")
    return int(line.json()["port"])


def _us(value: float) -> str:
    return f"{value * 1e6:.0f} µs" if value >= 1e-5 else f"{value * 1e6:.2f} µs"


def _rate(value: float) -> str:
    return f"{value:,.0f}/s"


async def run(params: Params, fg: asyncio.Lock) -> list[Row]:
    reps = max(1, params.reps // 2)
    requests = 200 if params.smoke else 3000
    messages = 2000 if params.smoke else 200_000
    imports: dict[str, list[float]] = {name: [] for name in _IMPORTS}
    http: dict[str, list[float]] = {name: [] for name in _HTTP}
    ws_cpu: dict[str, list[float]] = {name: [] for name in _WS}
    ws_rate: dict[str, list[float]] = {name: [] for name in _WS}
    async with fg:
        say("9. wire: imports (warm-up round, then interleaved rounds)")
        for modules in _IMPORTS.values():
            await _client("import", modules)
        for _ in range(params.reps):
            for name, modules in _IMPORTS.items():
                imports[name].append((await _client("import", modules))["ms"] / 1000)
        say("9. wire: CPU per polling request")
        async with await _peer("http") as peer:
            url = f"http://127.0.0.1:{await _port(peer)}"
            for _ in range(reps):
                for name in _HTTP:
                    got = await _client("http", name, url, str(requests))
                    http[name].append(got["cpu_s"] / got["count"])
        say("9. wire: websocket messages")
        async with await _peer("ws") as peer:
            url = f"http://127.0.0.1:{await _port(peer)}"
            for _ in range(reps):
                for name in _WS:
                    got = await _client("ws", name, url, str(messages))
                    if got["count"] != messages:
                        raise RuntimeError(f"{name}: {got['count']} of {messages} messages")
                    ws_cpu[name].append(got["cpu_s"] / got["count"])
                    ws_rate[name].append(got["count"] / got["wall_s"])
    imp = {name: Stats.of(values) for name, values in imports.items()}
    req = {name: Stats.of(values) for name, values in http.items()}
    cpu = {name: Stats.of(values) for name, values in ws_cpu.items()}
    rate = {name: Stats.of(values) for name, values in ws_rate.items()}
    say(
        f"9. wire: import {secs(imp['wire'].median)} (httpx {secs(imp['httpx'].median)}), "
        f"request {_us(req['wire'].median)} (httpcore {_us(req['httpcore'].median)}), "
        f"message {_us(cpu['fast'].median)} ({_rate(rate['fast'].median)})"
    )
    return [
        Row(
            benchmark="9. wire: import, HTTP + websocket (after asyncio, ssl, conndebug.core)",
            conndebug=f"conndebug.wire: {spread(imp['wire'])}",
            baseline=f"httpx + wsproto: {spread(imp['httpx'])}; aiohttp (today's monitor): "
            f"{spread(imp['aiohttp'])}",
            ratio=ratio_text(imp["wire"].median, imp["httpx"].median),
            goal="≤ httpx + wsproto",
            met=imp["wire"].median <= imp["httpx"].median,
            raw={name: values for name, values in imports.items()},
        ),
        Row(
            benchmark="9. wire: CPU per polling request (keep-alive GET, small answer)",
            conndebug=f"conndebug.wire (h11): {spread(req['wire'], _us)}",
            baseline=f"httpcore on the wire's streams: {spread(req['httpcore'], _us)}; httpx "
            f"(anyio): {spread(req['httpx'], _us)}",
            ratio=ratio_text(req["wire"].median, req["httpcore"].median),
            goal="≤ httpcore",
            met=req["wire"].median <= req["httpcore"].median,
            raw={"requests": requests, **{name: values for name, values in http.items()}},
        ),
        Row(
            benchmark="9. wire: websocket, small text messages through recv()",
            conndebug=f"{spread(rate['fast'], _rate)}; CPU {spread(cpu['fast'], _us)} a message",
            baseline=f"every frame through wsproto: {spread(rate['wsproto'], _rate)}; CPU "
            f"{spread(cpu['wsproto'], _us)} a message",
            ratio=ratio_text(cpu["fast"].median, cpu["wsproto"].median) + " (CPU)",
            goal="≥ 150,000 messages/s",
            met=rate["fast"].median >= 150_000,
            raw={
                "messages": messages,
                "cpu": {name: values for name, values in ws_cpu.items()},
                "rate": {name: values for name, values in ws_rate.items()},
            },
        ),
    ]
