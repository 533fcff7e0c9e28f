"""Redirects: never followed, so the token, cookies and Authorization never reach another origin.

The target (127.0.0.1) answers with a redirect to another host on loopback (127.0.0.2) that runs a
real Socket.IO server and records every request and every ``auth`` object it receives. Checked,
not assumed, for every client the tool has: the Socket.IO transports (aiohttp, websocket and
polling, 302 and 307 — a 307 keeps a POST and its body), the guest-session client (httpx) and the
probe. Before the fix aiohttp followed the websocket redirect and sent the Cookie (python-engineio
moves a Cookie header into the session's jar, for every host) and then the token in the CONNECT
packet; a 307 carried the polling POST with the token along.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from conndebug.core.guest import create_guest_session
from conndebug.core.model import State
from conndebug.core.monitor import Monitor, make_monitor
from conndebug.core.probe import run_probe
from tests.core.helpers import events_of, settings_for, wait_until
from tests.hardening.peers import Peer, sio_peer, wants_websocket
from tests.probe.conftest import probe_settings

pytestmark = pytest.mark.timeout(60)

TOKEN = "opaque-token-Rd1rect-0123456789"
COOKIE_VALUE = "cookie-Rd1rect-987654321"
AUTHZ_VALUE = "authz-Rd1rect-5556667778"
HEADERS = (("Authorization", f"Bearer {AUTHZ_VALUE}"), ("Cookie", f"sid={COOKIE_VALUE}"))
SECRETS = (TOKEN, COOKIE_VALUE, AUTHZ_VALUE)
OTHER_HOST = "127.0.0.2"


def leaks(peer: Peer) -> list[str]:
    dump = peer.dump()
    return [s for s in SECRETS if s in dump]


async def _guest_404(request: web.Request) -> web.Response:
    return web.json_response({"success": False, "message": "Route not found"}, status=404)


@contextlib.asynccontextmanager
async def redirecting(
    status: int, *, only_websocket: bool = False, loop: bool = False
) -> AsyncIterator[tuple[Peer, Peer]]:
    """``(target, elsewhere)``: the target redirects (everything, or only websocket requests)."""
    async with sio_peer(host=OTHER_HOST, routes=[web.post("/api/guest", _guest_404)]) as other:

        async def redirect(request: web.Request, peer: Peer) -> web.StreamResponse | None:
            if only_websocket and not wants_websocket(request):
                return None
            location = str(request.url) if loop else f"{other.url}{request.path_qs}"
            return web.Response(status=status, headers={"Location": location})

        async with sio_peer(intercept=redirect) as target:
            yield target, other


async def settle(monitor: Monitor) -> None:
    await wait_until(
        lambda: (
            monitor.state in (State.CONNECTED, State.FAILED, State.RECONNECTING)
            and bool(events_of(monitor.bus, "connect_error") or events_of(monitor.bus, "connected"))
        ),
        15,
        "the first attempt to settle",
    )


@pytest.mark.parametrize("status", [302, 307])
@pytest.mark.parametrize(
    "transports",
    [("websocket",), ("polling",), ("websocket", "polling")],
    ids=["websocket", "polling", "websocket-then-polling"],
)
async def test_socketio_transports_do_not_follow_a_redirect_to_another_host(
    status: int, transports: tuple[str, ...]
) -> None:
    async with redirecting(status) as (target, other):
        monitor = make_monitor(
            settings_for(
                target.url,
                token=TOKEN,
                headers=HEADERS,
                transports=transports,
                reconnect_attempts=1,
            )
        )
        await monitor.start()
        try:
            await settle(monitor)
        finally:
            await monitor.stop()
    assert monitor.state is not State.CONNECTED
    message = events_of(monitor.bus, "connect_error")[0].message
    assert f"HTTP {status}" in message
    assert f"redirect to http://{OTHER_HOST}:{other.port}" in message
    assert "not followed" in message
    assert target.seen, "the target was asked"
    assert other.seen == []
    assert other.auths == []
    assert leaks(other) == []


@pytest.mark.parametrize("status", [302, 307])
async def test_a_redirected_upgrade_stays_on_polling_and_sends_nothing_elsewhere(
    status: int,
) -> None:
    async with redirecting(status, only_websocket=True) as (target, other):
        monitor = make_monitor(
            settings_for(
                target.url, token=TOKEN, headers=HEADERS, transports=("polling", "websocket")
            )
        )
        await monitor.start()
        try:
            await wait_until(lambda: monitor.state is State.CONNECTED, 15, "connected")
        finally:
            await monitor.stop()
    assert monitor.snapshot().transport is None  # stopped now; it was polling:
    assert events_of(monitor.bus, "connected")[0].transport == "polling"
    why = events_of(monitor.bus, "upgrade_failed")[0].why
    assert "redirect" in why
    assert "not followed" in why
    assert target.auths == [{"token": TOKEN}]  # the token went where it belongs
    assert other.seen == []
    assert leaks(other) == []


async def test_a_redirect_loop_ends_at_once_in_a_clear_error() -> None:
    async with redirecting(302, loop=True) as (target, other):
        monitor = make_monitor(settings_for(target.url, token=TOKEN, reconnect_attempts=1))
        await monitor.start()
        try:
            await settle(monitor)
        finally:
            await monitor.stop()
    message = events_of(monitor.bus, "connect_error")[0].message
    assert "HTTP 302" in message
    assert "not followed" in message
    assert len(target.seen) <= 4  # one request per transport per attempt, not a loop of ten
    assert other.seen == []


@pytest.mark.parametrize("status", [302, 307, 308])
async def test_the_guest_session_client_does_not_follow_a_redirect(status: int) -> None:
    async with redirecting(status) as (target, other):
        result = await create_guest_session(settings_for(target.url, headers=HEADERS))
    assert result.session is None
    assert f"HTTP {status}" in (result.absent or result.error or "")
    assert [s.target for s in target.seen] == ["/api/guest"]
    assert other.seen == []
    assert leaks(other) == []


async def test_the_monitor_with_a_redirecting_guest_endpoint_sends_nothing_elsewhere() -> None:
    async with redirecting(307) as (target, other):
        monitor = make_monitor(settings_for(target.url, headers=HEADERS, reconnect_attempts=1))
        await monitor.start()
        try:
            await settle(monitor)
        finally:
            await monitor.stop()
    notes = " ".join(n.text for n in events_of(monitor.bus, "note"))
    assert "HTTP 307" in notes
    assert other.seen == []
    assert leaks(other) == []


@pytest.mark.parametrize("only_websocket", [False, True], ids=["everything", "websocket"])
async def test_the_probe_does_not_follow_a_redirect(only_websocket: bool) -> None:
    async with redirecting(307, only_websocket=only_websocket) as (target, other):
        result = await run_probe(
            probe_settings(
                target.url,
                "--token",
                TOKEN,
                "--header",
                f"Authorization: Bearer {AUTHZ_VALUE}",
                "--header",
                f"Cookie: sid={COOKIE_VALUE}",
                "--connect-timeout",
                "5",
            )
        )
    if only_websocket:
        assert result.verdict.code == "websocket_blocked"
        assert target.auths == [{"token": TOKEN}]
    else:
        assert result.verdict.code == "not_socketio"
        assert "redirect" in result.verdict.title.lower()
    assert other.seen == []
    assert leaks(other) == []
