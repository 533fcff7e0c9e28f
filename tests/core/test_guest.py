"""The guest-session client sorts every kind of answer: contract, absent, off-contract, failure."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import jwt
import pytest
from aiohttp import web

from conndebug.core.failure import FailureKind
from conndebug.core.guest import create_guest_session, session_from_token
from conndebug.core.model import State
from conndebug.core.monitor import make_monitor
from tests.core.helpers import events_of, settings_for, wait_until

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

pytestmark = pytest.mark.timeout(30)


@contextlib.asynccontextmanager
async def http_server(handler: Handler) -> AsyncIterator[tuple[str, list[web.Request]]]:
    seen: list[web.Request] = []

    async def record(request: web.Request) -> web.StreamResponse:
        seen.append(request)
        return await handler(request)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", record)
    runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}", seen
    finally:
        await runner.cleanup()


def contract_token(exp: int) -> str:
    claims = {
        "userId": "guest_abc",
        "sessionId": "sess-1",
        "username": "SwiftTiger42",
        "isGuest": True,
        "iat": exp - 100,
        "exp": exp,
    }
    return jwt.encode(claims, "not-our-secret-at-all-32-bytes!!", algorithm="HS256")


async def test_the_contracts_answer_gives_a_session_with_unverified_claims() -> None:
    exp = int(time.time()) + 3600
    token = contract_token(exp)

    async def handler(request: web.Request) -> web.StreamResponse:
        body = {
            "success": True,
            "message": "Guest session created successfully",
            "data": {
                "token": token,
                "user": {
                    "id": "guest_abc",
                    "username": "SwiftTiger42",
                    "isGuest": True,
                    "sessionId": "sess-1",
                },
            },
        }
        return web.json_response(body, status=201)

    async with http_server(handler) as (url, seen):
        settings = settings_for(url, origin="http://localhost:3000", headers=(("X-Trace", "t1"),))
        result = await create_guest_session(settings)
    assert result.session is not None
    assert (result.session.username, result.session.user_id, result.session.session_id) == (
        "SwiftTiger42",
        "guest_abc",
        "sess-1",
    )
    assert result.session.expires_at == exp
    assert result.session.source == "guest"
    assert result.status == 201
    request = seen[0]
    assert (request.method, request.path) == ("POST", "/api/guest")
    assert request.headers["Origin"] == "http://localhost:3000"
    assert request.headers["X-Trace"] == "t1"


@pytest.mark.parametrize(
    ("status", "body", "content_type", "expect"),
    [
        (404, "<html>Not Found</html>", "text/html", "HTTP 404: an HTML page"),
        (405, "", "text/plain", "HTTP 405"),
        (200, "<!doctype html><p>welcome</p>", "text/html", "not the guest-session contract"),
        (201, '{"success": true, "data": {}}', "application/json", "no data.token"),
        (403, '{"message": "Guests are disabled"}', "application/json", "Guests are disabled"),
        (201, "[" * 100_000 + "]" * 100_000, "application/json", "no data.token"),
        (403, '{"message": ' + "[" * 100_000, "application/json", "HTTP 403"),
    ],
    ids=["404-html", "405", "200-html", "no-token", "403-message", "201-deep", "403-deep"],
)
async def test_absent_or_off_contract_endpoints_mean_no_auth(
    status: int, body: str, content_type: str, expect: str
) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(status=status, text=body, content_type=content_type)

    async with http_server(handler) as (url, _seen):
        result = await create_guest_session(settings_for(url))
    assert result.session is None
    assert result.error is None
    assert result.absent is not None
    assert expect in result.absent


@pytest.mark.parametrize(
    ("status", "body", "expect"),
    [
        (500, '{"success": false, "message": "Internal error"}', "HTTP 500 (Internal error)"),
        (
            429,
            '{"success": false, "message": "Too many API requests, please try again later."}',
            "HTTP 429 (Too many API requests",
        ),
        (502, "<html>Bad Gateway</html>", "HTTP 502 (an HTML page)"),
    ],
)
async def test_server_failures_are_errors_to_retry(status: int, body: str, expect: str) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        ctype = "text/html" if body.startswith("<") else "application/json"
        return web.Response(status=status, text=body, content_type=ctype)

    async with http_server(handler) as (url, _seen):
        result = await create_guest_session(settings_for(url))
    assert result.session is None
    assert result.error is not None
    assert expect in result.error
    assert result.kind is FailureKind.HTTP


async def test_nothing_listening_is_connection_refused() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = await create_guest_session(settings_for(f"http://127.0.0.1:{port}"))
    assert result.kind is FailureKind.REFUSED
    assert result.error is not None
    assert "refused" in result.error


async def test_a_silent_endpoint_is_bounded_by_the_timeout() -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        await asyncio.Event().wait()  # never answers
        raise AssertionError("unreachable")

    async with http_server(handler) as (url, _seen):
        started = time.monotonic()
        result = await create_guest_session(settings_for(url), timeout=0.3)
        took = time.monotonic() - started
    assert result.kind is FailureKind.TIMEOUT
    assert took < 2.0


async def test_the_api_url_and_a_full_endpoint_url_are_honoured() -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.json_response({"data": {"token": contract_token(int(time.time()) + 60)}})

    async with http_server(handler) as (url, seen):
        await create_guest_session(settings_for("http://127.0.0.1:9", api_url=url + "/v2"))
        await create_guest_session(
            settings_for("http://127.0.0.1:9", guest_endpoint=url + "/sessions/new")
        )
    assert [r.path for r in seen] == ["/v2/api/guest", "/sessions/new"]


def test_a_token_that_is_not_a_jwt_gives_an_empty_session() -> None:
    session = session_from_token("plain-opaque-token")
    assert session.claims == {}
    assert session.username is None
    assert session.expires_at is None
    assert session.source == "token"


async def test_a_plain_web_server_is_named_on_both_transports() -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(text="<html>hello</html>", content_type="text/html")

    async with http_server(handler) as (url, _seen):
        monitor = make_monitor(settings_for(url, reconnect_attempts=1))
        await monitor.start()
        try:
            await wait_until(lambda: monitor.state is State.FAILED, 15, "failed")
        finally:
            await monitor.stop()
    guest = next(e for e in events_of(monitor.bus, "note") if e.topic == "guest")
    assert "not the guest-session contract" in guest.text
    fallback = events_of(monitor.bus, "fallback")[0]
    assert fallback.why.startswith("HTTP 200 OK to the websocket handshake")
    assert (fallback.status, fallback.phase) == (200, "websocket")
    error = events_of(monitor.bus, "connect_error")[0]
    assert (error.transport, error.status, error.reason) == ("polling", 200, "not_engineio")
    assert "text/html" in error.message


@pytest.mark.parametrize("connect_timeout", [1.5, 25.0])
async def test_the_guest_wait_is_the_connect_timeout_not_a_fixed_ten_seconds(
    connect_timeout: float,
) -> None:
    from conndebug.core.guest import PostFailed

    waits: list[float] = []

    async def post(url: str, headers: object, body: bytes, timeout: float) -> object:
        waits.append(timeout)
        raise PostFailed(FailureKind.TIMEOUT, "no answer in time")

    settings = settings_for("http://127.0.0.1:9", connect_timeout=connect_timeout)
    result = await create_guest_session(settings, post=post)  # type: ignore[arg-type]
    assert result.absent  # a guest endpoint that never answers is "no such API" (issue 13)
    assert waits == [connect_timeout]


@pytest.mark.parametrize("connect_timeout", [1.5, 25.0])
async def test_the_monitor_waits_for_the_guest_endpoint_at_most_the_connect_timeout(
    connect_timeout: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Never a fixed 10 s: --connect-timeout bounds it, and a silent endpoint is taken as "no
    such API" after GUEST_TIMEOUT (3 s) at most, as the probe does."""
    import conndebug.core.guest as guest
    from tests.servers import reference_server

    waits: list[object] = []
    real = guest.create_guest_session

    async def spy(settings: object, **kwargs: object) -> object:
        waits.append(kwargs.get("timeout"))
        return await real(settings, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(guest, "create_guest_session", spy)
    async with reference_server() as server:
        monitor = make_monitor(settings_for(server.url, connect_timeout=connect_timeout))
        await monitor.start()
        try:
            await wait_until(lambda: monitor.state is State.CONNECTED, 15, "connected")
        finally:
            await monitor.stop()
    assert waits == [min(connect_timeout, guest.GUEST_TIMEOUT)]
