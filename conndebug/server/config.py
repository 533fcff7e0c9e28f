"""The reference server's settings and its fault snapshot.

:class:`ServerConfig` is what the server starts with; :class:`Faults` is the frozen snapshot of the
fault switches at one moment (what ``GET /_conndebug/faults`` and ``ReferenceServer.faults`` show).
"""

from __future__ import annotations

import ipaddress
import math
import re
from dataclasses import dataclass
from typing import Any

from conndebug.core.errors import ConfigError

__all__ = [
    "CORS_MODES",
    "WEBSOCKET_MODES",
    "Faults",
    "ServerConfig",
    "is_loopback_host",
    "parse_duration",
    "validate_config",
]

WEBSOCKET_MODES = ("allow", "reject", "blackhole")
"""``allow``; ``reject``: the upgrade is answered 403; ``blackhole``: accepted, never answered."""
CORS_MODES = ("strict", "reflect")
"""``strict``: only the allow-list; ``reflect``: any Origin echoed with credentials (insecure)."""

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_MAX_DURATION = 365 * 86400.0


def parse_duration(text: str | float, *, name: str = "duration") -> float:
    """Seconds from ``90``, ``90s``, ``1.5m``, ``2h``, ``7d`` (or a number); raises ConfigError."""
    if isinstance(text, (int, float)):
        value = float(text)
    else:
        match = _DURATION.match(text)
        if not match:
            raise ConfigError(
                f"{name} {text!r} is not a duration",
                "write seconds or a unit: 90, 90s, 15m, 2h, 7d",
            )
        value = float(match.group(1)) * _UNIT_SECONDS[(match.group(2) or "s").lower()]
    if not math.isfinite(value) or value <= 0 or value > _MAX_DURATION:
        raise ConfigError(f"{name} {text!r} is out of range", "use more than 0 and at most 365d")
    return value


def is_loopback_host(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass
class ServerConfig:
    """How the reference server starts. Times are seconds."""

    host: str = "127.0.0.1"
    """Address to bind (a non-loopback one needs an explicit ``admin_key``)."""
    port: int = 3001
    """Port to bind; 0 picks a free one (see ``ReferenceServer.port``)."""
    secret: str | None = None
    """JWT signing secret (HS256); random per start when ``None``."""
    token_ttl: float = 7 * 86400.0
    """Lifetime of the JWTs it issues (the backend's 7 days)."""
    session_ttl: float = 7200.0
    """Lifetime of the server-side session record (the backend's 2 hours)."""
    ping_interval: float = 25.0
    """Engine.IO ``pingInterval``."""
    ping_timeout: float = 60.0
    """Engine.IO ``pingTimeout``."""
    cors_origins: tuple[str, ...] = ("http://localhost:3000",)
    """The CORS allow-list of ``strict`` mode."""
    cors: str = "strict"
    """Initial CORS mode: ``strict`` or ``reflect``."""
    admin_key: str | None = None
    """Key of the ``/_conndebug/`` admin API; random (and printed by ``serve``) when ``None``."""
    websocket: str = "allow"
    """Initial websocket fault: ``allow``, ``reject`` or ``blackhole``."""
    latency_ms: float = 0.0
    """Initial added latency per chunk and direction, in milliseconds."""
    api_rate_limit: tuple[int, float] = (100, 900.0)
    """REST requests under ``/api/`` allowed per client per window (seconds)."""
    socket_rate_limit: tuple[int, float] = (100, 60.0)
    """Socket.IO handshakes allowed per user per window (seconds)."""
    redis_url: str | None = None
    """Keep sessions in Redis and join the cluster of ``serve`` processes sharing it (needs the
    ``cluster`` extra: the ``redis`` package)."""
    max_body_bytes: int = 100 * 1024
    """Largest REST request body accepted (larger: 413), like Express's JSON parser."""


@dataclass(frozen=True)
class Faults:
    """The fault switches at one moment."""

    websocket: str = "allow"
    """``allow`` | ``reject`` | ``blackhole``."""
    blackhole: bool = False
    """All traffic black-holed (connections stay open, nothing flows)."""
    latency_ms: float = 0.0
    """Added delay per chunk and direction."""
    cors: str = "strict"
    """``strict`` | ``reflect``."""
    down_until: float | None = None
    """While restarting: the monotonic time at which it listens again; else ``None``."""

    def as_json(self, now: float) -> dict[str, Any]:
        """The JSON form (``down_remaining_s`` instead of a monotonic time)."""
        remaining = None if self.down_until is None else round(max(0.0, self.down_until - now), 3)
        return {
            "websocket": self.websocket,
            "blackhole": self.blackhole,
            "latency_ms": self.latency_ms,
            "cors": self.cors,
            "down": self.down_until is not None,
            "down_remaining_s": remaining,
        }


def check_websocket_mode(mode: str) -> str:
    if mode not in WEBSOCKET_MODES:
        raise ConfigError(f"unknown websocket mode {mode!r}", "use allow, reject or blackhole")
    return mode


def check_cors_mode(mode: str) -> str:
    if mode not in CORS_MODES:
        raise ConfigError(f"unknown CORS mode {mode!r}", "use strict or reflect")
    return mode


def check_latency(ms: float) -> float:
    if isinstance(ms, bool) or not isinstance(ms, (int, float)) or not math.isfinite(ms):
        raise ConfigError(f"latency {ms!r} is not a number", "give milliseconds, e.g. 200")
    if not 0 <= ms <= 60_000:
        raise ConfigError(f"latency {ms:g} ms is out of range", "use 0 to 60000 ms")
    return float(ms)


def validate_config(config: ServerConfig) -> None:
    """Raise ConfigError for a configuration the server must not start with."""
    if not is_loopback_host(config.host) and not config.admin_key:
        raise ConfigError(
            f"binding {config.host} (not loopback) needs an explicit admin key",
            "pass --admin-key KEY: anyone who can reach the port could otherwise flip the faults",
        )
    if config.admin_key is not None and len(config.admin_key) < 8:
        raise ConfigError("the admin key is too short", "use at least 8 characters")
    if not 0 <= config.port <= 65535:
        raise ConfigError(f"port {config.port} is out of range", "use 0..65535 (0: a free port)")
    for name in ("token_ttl", "session_ttl", "ping_interval", "ping_timeout"):
        value = getattr(config, name)
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
            raise ConfigError(
                f"{name} {value!r} is out of range", "use a positive number of seconds"
            )
    for name in ("api_rate_limit", "socket_rate_limit"):
        count, window = getattr(config, name)
        if count < 1 or window <= 0:
            raise ConfigError(
                f"{name} {count}/{window} is out of range", "use (count >= 1, window > 0)"
            )
    if config.secret is not None and not config.secret:
        raise ConfigError("the JWT secret is empty", "leave it out for a random one")
    if config.redis_url is not None:
        from conndebug.server.redis_store import check_url

        check_url(config.redis_url)
    check_websocket_mode(config.websocket)
    check_cors_mode(config.cors)
    check_latency(config.latency_ms)
    for origin in config.cors_origins:
        if not re.match(r"^https?://[^/\s]+$", origin):
            raise ConfigError(
                f"CORS origin {origin!r} is not an origin",
                "write scheme://host[:port] without a path, e.g. http://localhost:3000",
            )
