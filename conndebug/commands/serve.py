"""``conndebug serve``: the reference server alone, until Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from typing import TYPE_CHECKING, TextIO

from conndebug.server.config import ServerConfig, parse_duration, validate_config

if TYPE_CHECKING:
    from conndebug.server.core import ReferenceServer

__all__ = ["config_from_args", "run_serve"]


def config_from_args(args: argparse.Namespace) -> ServerConfig:
    """A ServerConfig from ``conndebug serve`` flags (raises ConfigError)."""
    return ServerConfig(
        host=args.host,
        port=args.port,
        secret=args.secret,
        token_ttl=parse_duration(args.token_ttl, name="--token-ttl"),
        session_ttl=parse_duration(args.session_ttl, name="--session-ttl"),
        ping_interval=parse_duration(args.ping_interval, name="--ping-interval"),
        ping_timeout=parse_duration(args.ping_timeout, name="--ping-timeout"),
        cors_origins=tuple(args.cors_origin or ("http://localhost:3000",)),
        cors=args.cors,
        admin_key=args.admin_key,
        websocket=args.websocket,
        latency_ms=args.latency,
        redis_url=args.redis,
    )


def _human(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"


def _sessions_line(cfg: ServerConfig) -> str:
    if not cfg.redis_url:
        return "in memory (this process only)"
    from conndebug.server.redis_store import display_url

    line = f"in Redis at {display_url(cfg.redis_url)}, shared by every node using it"
    if not cfg.secret:
        line += " (give every node the same --secret, or tokens fail on the others)"
    return line


def banner(server: ReferenceServer, out: TextIO, *, quiet: bool) -> None:
    """The start lines: where it listens, the admin key, the lifetimes, how to flip switches."""
    url = server.url
    print(f"conndebug reference server listening on {url}", file=out)
    if quiet:
        out.flush()
        return
    cfg = server.config
    faults = server.faults
    key = server.admin_key
    admin = f"{url}/_conndebug"
    curl = f"curl -s -H 'X-Admin-Key: {key}'"
    lines = [
        f"  admin key      {key}" + ("" if cfg.admin_key else "   (random for this run)"),
        f"  lifetimes      tokens {_human(cfg.token_ttl)}, sessions {_human(cfg.session_ttl)}; "
        f"ping {cfg.ping_interval:g}s / timeout {cfg.ping_timeout:g}s",
        f"  sessions       {_sessions_line(cfg)}",
        f"  CORS           {faults.cors}: " + ", ".join(cfg.cors_origins),
        f"  faults         websocket {faults.websocket}, latency {faults.latency_ms:g} ms",
        "",
        "  REST           POST /api/guest · GET /api/guest/me · GET /api/guest/<id> · GET /health",
        "  switches (the admin API answers even while all traffic is black-holed):",
        f"    {curl} {admin}/faults",
        f'    {curl} -X PUT -d \'{{"websocket": "reject"}}\' {admin}/faults'
        "       # allow | reject | blackhole",
        f"    {curl} -X PUT -d '{{\"blackhole\": true}}' {admin}/faults",
        f'    {curl} -X PUT -d \'{{"latency_ms": 300, "cors": "reflect"}}\' {admin}/faults',
        f"    {curl} -X POST {admin}/kick",
        f'    {curl} -X POST -d \'{{"sessionId": "..."}}\' {admin}/expire      # no body: all',
        f"    {curl} -X POST -d '{{\"down_s\": 5}}' {admin}/restart",
        f"    {curl} {admin}/stats",
        "Ctrl-C stops.",
    ]
    print("\n".join(lines), file=out)
    out.flush()


def _log_changes(line: str) -> None:
    print(f"· {line}", flush=True)


async def _serve(config: ServerConfig, *, quiet: bool) -> int:
    from conndebug.server.core import ReferenceServer  # python-socketio + aiohttp: only now

    server = ReferenceServer(config)
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
        except (NotImplementedError, RuntimeError):  # not on this platform / not the main thread
            pass
    try:
        banner(server, sys.stdout, quiet=quiet)
        if not quiet:
            server.on_change(_log_changes)
        await stop.wait()
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
        await server.stop()
    if not quiet:
        print("stopped", flush=True)
    return 0


def run_serve(args: argparse.Namespace) -> int:
    """Run the reference server until Ctrl-C (exit 0); errors are ConndebugErrors."""
    config = config_from_args(args)
    validate_config(config)  # before the heavy imports: bad flags are reported at once
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("conndebug serve: %(levelname)s %(name)s: %(message)s"))
    server_log = logging.getLogger("conndebug.server")
    server_log.addHandler(handler)
    server_log.setLevel(logging.ERROR if args.quiet else logging.WARNING)
    try:
        with contextlib.suppress(KeyboardInterrupt):
            return asyncio.run(_serve(config, quiet=args.quiet))
        return 0
    finally:
        server_log.removeHandler(handler)
