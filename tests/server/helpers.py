"""Real clients for the reference-server tests: python-socketio, raw HTTP, crafted tokens."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import httpx
import jwt
import socketio

SECRET = "test-secret-of-the-reference-server-long-enough-for-hs512-signing!!"


async def eventually(
    check: Callable[[], bool | Awaitable[bool]], *, timeout: float = 5.0, what: str = "condition"
) -> None:
    """Poll ``check`` until it holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.01)


@dataclass
class SioClient:
    """A python-socketio AsyncClient that records what happens to it."""

    sio: socketio.AsyncClient
    connect_errors: list[Any] = field(default_factory=list)
    disconnects: list[str] = field(default_factory=list)
    events: list[tuple[str, Any]] = field(default_factory=list)

    async def connect(
        self,
        url: str,
        *,
        token: str | None = None,
        transports: list[str] | None = None,
        timeout: float = 5.0,
    ) -> None:
        """Connect with ``auth={"token": token}`` (no auth when ``None``), bounded in time."""
        await asyncio.wait_for(
            self.sio.connect(
                url,
                auth={"token": token} if token is not None else None,
                transports=transports,
                wait_timeout=timeout,
            ),
            timeout,
        )

    def named(self, name: str) -> list[Any]:
        return [data for event, data in self.events if event == name]


@contextlib.asynccontextmanager
async def sio_client() -> AsyncIterator[SioClient]:
    """A fresh client on its own aiohttp session, torn down hard (bounded) at the end."""
    async with aiohttp.ClientSession() as http:
        sio = socketio.AsyncClient(
            reconnection=False, http_session=http, handle_sigint=False, request_timeout=3
        )
        client = SioClient(sio)

        async def on_connect_error(data: Any) -> None:
            client.connect_errors.append(data)

        async def on_disconnect(reason: str = "") -> None:
            client.disconnects.append(reason)

        async def on_any(event: str, *args: Any) -> None:
            client.events.append((event, args[0] if len(args) == 1 else list(args)))

        sio.on("connect_error", on_connect_error)
        sio.on("disconnect", on_disconnect)
        sio.on("*", on_any)
        try:
            yield client
        finally:
            if sio.connected:
                try:
                    await asyncio.wait_for(sio.disconnect(), 3)
                except asyncio.TimeoutError:
                    await sio.eio.disconnect(abort=True)
            else:
                await sio.eio.disconnect(abort=True)


def http_client(base_url: str, **kwargs: Any) -> httpx.AsyncClient:
    """An httpx client that never uses a proxy from the environment."""
    return httpx.AsyncClient(base_url=base_url, trust_env=False, timeout=5.0, **kwargs)


def guest_claims(**overrides: Any) -> dict[str, Any]:
    """Claims like the server's, valid for an hour from now."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "userId": "guest_00000000-0000-4000-8000-000000000000",
        "sessionId": "00000000-0000-4000-8000-000000000000",
        "username": "TestOtter1",
        "isGuest": True,
        "iat": now,
        "exp": now + 3600,
        "iss": "realtime-chat-app",
        "aud": "realtime-chat-users",
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def sign(claims: dict[str, Any], secret: str = SECRET, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, secret, algorithm=algorithm)


def unsigned(claims: dict[str, Any]) -> str:
    """A JWT with ``alg: none`` and no signature."""

    def b64(obj: dict[str, Any]) -> str:
        raw = json.dumps(obj, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    return f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims)}."


def claims_of(token: str) -> dict[str, Any]:
    """The claims of a token the server issued, without checking anything."""
    decoded: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return decoded
