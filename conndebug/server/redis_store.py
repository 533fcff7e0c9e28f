"""Sessions and broadcasts in Redis: how several ``conndebug serve`` processes form one cluster.

    conndebug serve --port 3001 --redis redis://127.0.0.1:6379/0 --secret S
    conndebug serve --port 3002 --redis redis://127.0.0.1:6379/0 --secret S

- :class:`RedisSessionStore` keeps each guest-session record as JSON under ``guest:<sessionId>``
  with the session lifetime as its Redis TTL, as the chat backend does (``SETEX``). Every node sees
  every session, so a token issued by one node (with the shared ``--secret``) is accepted by the
  others, and sessions outlive the process that created them. Lifetimes here are Redis's own
  (real time), not the server's injected clock.
- :func:`open_cluster` returns python-socketio's ``AsyncRedisManager`` once Redis has answered a
  ping: broadcasts (``realtime:stats``) then reach the clients of every node. :func:`close_cluster`
  stops its listener and closes its connections.

The ``redis`` package is the optional extra ``conndebug[cluster]``; this module is imported only
when ``--redis`` is given, and a missing package is a :class:`ConfigError` that says how to get it.
An unreachable Redis is a :class:`ServerError` naming the address (its password masked).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import logging
import urllib.parse
from types import ModuleType
from typing import TYPE_CHECKING, Any

from conndebug.core.errors import ConfigError, ServerError
from conndebug.server.store import Record, session_key

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = [
    "CLUSTER_CHANNEL",
    "RedisSessionStore",
    "check_url",
    "close_cluster",
    "display_url",
    "load_redis",
    "open_cluster",
]

CLUSTER_CHANNEL = "conndebug"
"""The pub/sub channel the nodes of one cluster share (python-socketio's default is ``socketio``)."""

_SCHEMES = ("redis", "rediss", "unix")
_CONNECT_TIMEOUT_S = 3.0
_COMMAND_TIMEOUT_S = 5.0
_SCAN_BATCH = 500
_CANCEL_TRIES = 20
_CLOSING_LOG = logging.getLogger("conndebug.server.cluster.closing")
_CLOSING_LOG.disabled = True
_INSTALL_HINT = "pip install 'conndebug[cluster]' (or leave out --redis to keep sessions in memory)"


def load_redis() -> ModuleType:
    """``redis.asyncio``, or a ConfigError saying how to install it."""
    try:
        return importlib.import_module("redis.asyncio")
    except ImportError:
        raise ConfigError(
            "--redis needs the redis package, which is not installed", _INSTALL_HINT
        ) from None


def display_url(url: str) -> str:
    """``url`` with its password (if any) masked, for messages."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if parts.port is not None:
        host += f":{parts.port}"
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def check_url(url: str) -> str:
    """``url`` if it looks like a Redis URL, else a ConfigError."""
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme not in _SCHEMES:
        raise ConfigError(
            f"--redis {display_url(url)!r} is not a Redis URL",
            "write redis://host:port/db (rediss:// for TLS, unix:///path/to/socket)",
        )
    return url


def _unreachable(url: str, exc: BaseException) -> ServerError:
    why = str(exc) or type(exc).__name__
    return ServerError(
        f"cannot reach Redis at {display_url(url)}: {why}",
        "start redis-server there, or fix --redis (redis://host:port/db)",
    )


def _client(url: str, *, retries: int) -> Redis:
    """A client with bounded connect and command times; ``retries`` quick retries per command."""
    aioredis = load_redis()
    from redis.asyncio.retry import Retry
    from redis.backoff import ExponentialBackoff

    try:
        client: Redis = aioredis.Redis.from_url(
            check_url(url),
            socket_connect_timeout=_CONNECT_TIMEOUT_S,
            socket_timeout=_COMMAND_TIMEOUT_S,
            retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), retries),
        )
    except ValueError as exc:
        raise ConfigError(
            f"--redis {display_url(url)!r}: {exc}", "write redis://host:port/db"
        ) from None
    return client


async def ping(url: str) -> None:
    """Check that Redis at ``url`` answers (ServerError if not)."""
    errors: tuple[type[Exception], ...] = (*_redis_errors(), asyncio.TimeoutError)
    client = _client(url, retries=0)  # a refused connection is reported at once
    try:
        await asyncio.wait_for(client.ping(), _CONNECT_TIMEOUT_S + _COMMAND_TIMEOUT_S)
    except errors as exc:
        raise _unreachable(url, exc) from None
    finally:
        await client.aclose()


def _redis_errors() -> tuple[type[Exception], ...]:
    """What a Redis call can raise when Redis fails: the library's errors and the OS's."""
    load_redis()
    from redis.exceptions import RedisError

    return (RedisError, OSError)


class RedisSessionStore:
    """Guest-session records in Redis under ``guest:<sessionId>``, each with its TTL."""

    def __init__(self, url: str) -> None:
        self.url = check_url(url)
        self._errors = _redis_errors()
        self._redis = _client(url, retries=2)  # ride out a Redis restart

    def _failed(self, exc: BaseException) -> ServerError:
        return _unreachable(self.url, exc)

    async def ping(self) -> None:
        """Check that Redis answers (ServerError if not)."""
        try:
            await self._redis.ping()
        except self._errors as exc:
            raise self._failed(exc) from None

    async def get(self, session_id: str) -> Record | None:
        try:
            raw = await self._redis.get(session_key(session_id))
        except self._errors as exc:
            raise self._failed(exc) from None
        if raw is None:
            return None
        try:
            record = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            return None  # not one of ours: the key holds something else
        return record if isinstance(record, dict) else None

    async def put(self, session_id: str, record: Record, ttl: float) -> None:
        data = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
        try:
            await self._redis.set(session_key(session_id), data, px=max(1, round(ttl * 1000)))
        except self._errors as exc:
            raise self._failed(exc) from None

    async def delete(self, session_id: str) -> bool:
        try:
            return bool(await self._redis.delete(session_key(session_id)))
        except self._errors as exc:
            raise self._failed(exc) from None

    async def _keys(self) -> list[bytes]:
        pattern = session_key("*")
        return [key async for key in self._redis.scan_iter(match=pattern, count=_SCAN_BATCH)]

    async def delete_all(self) -> int:
        try:
            keys = await self._keys()
            deleted = 0
            for start in range(0, len(keys), _SCAN_BATCH):
                deleted += int(await self._redis.delete(*keys[start : start + _SCAN_BATCH]))
        except self._errors as exc:
            raise self._failed(exc) from None
        return deleted

    async def count(self) -> int:
        try:
            return len(await self._keys())
        except self._errors as exc:
            raise self._failed(exc) from None

    async def close(self) -> None:
        with contextlib.suppress(*self._errors):
            await self._redis.aclose()


async def open_cluster(url: str, *, logger: logging.Logger | None = None) -> Any:
    """python-socketio's ``AsyncRedisManager`` on ``url``, after Redis answered a ping.

    Raises ConfigError (no redis package, not a Redis URL) or ServerError (Redis unreachable).
    """
    await ping(url)
    import socketio

    return socketio.AsyncRedisManager(
        url,
        channel=CLUSTER_CHANNEL,
        logger=logger,
        redis_options={"socket_connect_timeout": _CONNECT_TIMEOUT_S},
    )


async def close_cluster(manager: Any) -> None:
    """Stop the manager's listener task and close its Redis connections."""
    # Its retry loop logs every failure as an error; stopping is not one.
    manager.logger = _CLOSING_LOG
    task = getattr(manager, "thread", None)
    if isinstance(task, asyncio.Task):
        await _cancel(task)
    errors = _redis_errors()
    for name in ("pubsub", "redis"):
        resource = getattr(manager, name, None)
        if resource is not None:
            with contextlib.suppress(*errors):
                await resource.aclose()


async def _cancel(task: asyncio.Task[Any]) -> None:
    """Cancel ``task`` until it ends (bounded).

    The listener can swallow a cancellation that lands while redis-py connects: its retry loop
    catches the resulting error and sleeps, so it is cancelled again until it really stops.
    """
    for _ in range(_CANCEL_TRIES):
        if task.done():
            break
        task.cancel()
        await asyncio.wait([task], timeout=0.25)
    if task.done() and not task.cancelled():
        task.exception()  # retrieved: it ended on its own
