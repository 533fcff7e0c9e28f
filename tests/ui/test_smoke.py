"""The real app on the real monitor and an in-process reference server: what the screen says."""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator

import pytest

from conndebug.commands.tui import DEMO_RTT_EVENT, demo_settings
from conndebug.config import add_connection_options
from conndebug.core.model import State
from conndebug.core.monitor import Monitor, make_monitor
from conndebug.server import ReferenceServer, ServerConfig
from conndebug.ui.app import DemoApp, make_app
from tests.ui.helpers import SIZE, history, text, until

pytestmark = pytest.mark.timeout(90)


def demo_args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_connection_options(parser)
    return parser.parse_args(list(argv))


@pytest.fixture
async def server() -> AsyncIterator[ReferenceServer]:
    srv = ReferenceServer(
        ServerConfig(host="127.0.0.1", port=0, session_ttl=120, ping_interval=2, ping_timeout=5)
    )
    await srv.start()
    try:
        yield srv
    finally:
        await srv.stop()


def build_demo(server: ReferenceServer) -> tuple[DemoApp, Monitor]:
    settings = demo_settings(demo_args("--ws-timeout", "1.5"), server.url)
    assert settings.rtt_event == DEMO_RTT_EVENT
    monitor = make_monitor(settings, admin_key=server.admin_key)
    app = make_app(settings, monitor=monitor, server=server, session_ttl_s=120, find_probe=False)
    assert isinstance(app, DemoApp)
    return app, monitor


async def test_demo_connects_falls_back_and_regenerates(server: ReferenceServer) -> None:
    app, monitor = build_demo(server)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: "Connected" in text(app, "#badge"), timeout=15)
            snap = monitor.snapshot()
            assert snap.sid
            connection = text(app, "#connection")
            assert snap.sid in connection
            assert "websocket · direct" in connection
            assert server.url in text(app, "#target")
            await until(
                pilot,
                lambda: (
                    "RTT via conndebug:ping" in str(app.query_one("#connection").border_subtitle)
                ),
                timeout=15,
            )
            session = text(app, "#session")
            assert "✅" in session
            assert monitor.snapshot().session.username in session

            # f + r: the firewall refuses websockets; the reconnection falls back to polling.
            await pilot.press("f")
            await until(pilot, lambda: server.faults.websocket == "reject")
            await pilot.press("r")
            await until(pilot, lambda: "fell back" in text(app, "#connection"), timeout=20)
            await until(pilot, lambda: "Connected · polling" in text(app, "#badge"), timeout=20)
            assert "connected over polling only" in text(app, "#status")
            assert any("server: websocket: blocked" in line for line in history(app))

            # x: the server forgets the session; a new guest session replaces it.
            old_session = monitor.snapshot().session.session_id
            await pilot.press("x")
            await until(pilot, lambda: "regenerated 1×" in text(app, "#session"), timeout=20)
            await until(pilot, lambda: monitor.snapshot().state is State.CONNECTED, timeout=20)
            new_session = monitor.snapshot().session.session_id
            assert new_session
            assert new_session != old_session
            assert new_session in text(app, "#session")

            await pilot.press("q")
            await until(pilot, lambda: monitor.snapshot().state is State.STOPPED, timeout=15)
        assert app.return_code == 0
    finally:
        await monitor.stop()


async def test_restart_shows_the_reconnection_countdown(server: ReferenceServer) -> None:
    app, monitor = build_demo(server)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: "Connected" in text(app, "#badge"), timeout=15)
            await pilot.press("t")
            await until(pilot, lambda: "DOWN · back in" in text(app, "#demo"), timeout=5)
            await until(pilot, lambda: "Reconnecting" in text(app, "#badge"), timeout=15)
            await until(pilot, lambda: "Connected" in text(app, "#badge"), timeout=30)
            assert "server      up" in text(app, "#demo")
    finally:
        await monitor.stop()


async def test_x_without_admin_access_regenerates_and_the_panel_agrees(
    server: ReferenceServer,
) -> None:
    # `conndebug --url` against a server it cannot administer: x must not end in Failed.
    settings = demo_settings(demo_args("--ws-timeout", "1.5"), server.url)
    monitor = make_monitor(settings)
    app = make_app(settings, monitor=monitor, find_probe=False)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: "Connected" in text(app, "#badge"), timeout=15)
            old = monitor.snapshot().session.session_id
            mark = len(monitor.bus.history)
            await pilot.press("x")
            await until(pilot, lambda: "regenerated 1×" in text(app, "#session"), timeout=20)
            await until(pilot, lambda: monitor.snapshot().state is State.CONNECTED, timeout=20)
            kinds = [e.kind for e in list(monitor.bus.history)[mark:]]
            path = [
                k for k in kinds if k in ("session_expired", "session_regenerated", "connected")
            ]
            assert path == ["session_expired", "session_regenerated", "connected"]
            assert "connect_error" not in kinds
            app.refresh_panels()
            await pilot.pause()
            session = text(app, "#session")
            new = monitor.snapshot().session.session_id
            assert new
            assert new != old
            assert new in session
            assert "✅" in session
            assert "❌" not in session
            assert "Failed" not in text(app, "#badge")
    finally:
        await monitor.stop()


async def test_the_demo_never_reuses_a_session_kept_from_an_earlier_demo(
    server: ReferenceServer,
) -> None:
    # An earlier demo on the same port (ports are reused) kept its session: a token signed with
    # that server's key, which this server refuses. The demo must open Connected, not Failed.
    import base64
    import json
    import time

    from conndebug.core import guest_store
    from conndebug.core.guest import session_from_token

    def part(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    claims = {"userId": "guest_old", "username": "OldGuest1", "exp": int(time.time()) + 86400}
    token = f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(claims)}.c2lnbmF0dXJl"
    settings = demo_settings(demo_args(), server.url)
    guest_store.save(settings.guest_url, session_from_token(token, source="guest"))
    assert guest_store.load(settings.guest_url) is not None  # it would be reused

    app, monitor = build_demo(server)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: "Connected" in text(app, "#badge"), timeout=15)
            assert monitor.snapshot().session.username != "OldGuest1"
            assert "created here" in text(app, "#session")
    finally:
        await monitor.stop()


async def test_the_wire_filter_hides_the_demo_s_round_trips(server: ReferenceServer) -> None:
    from conndebug.ui.widgets import WireLog

    app, monitor = build_demo(server)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: "Connected" in text(app, "#badge"), timeout=15)
            await pilot.press("w")
            await until(pilot, lambda: app.wire is not None and bool(app.query(WireLog)))
            log = app.query_one(WireLog)
            # Every packet: the round trips (an emit of conndebug:ping and its ack) are there.
            try:
                await until(pilot, lambda: sum("conndebug:ping" in s for s in log.shown) >= 2, 15)
            except AssertionError as exc:
                seen = " | ".join(list(log.shown)[-6:])
                raise AssertionError(f"{monitor.snapshot().rtt_method}: {seen}") from exc
            await pilot.press("l")  # no heartbeats or round trips
            await until(pilot, lambda: log.packet_filter.name == "quiet")
            await pilot.pause(1.5)  # more round trips arrive meanwhile
            leaked = [s for s in log.shown if "conndebug:ping" in s or " ACK #" in s]
            assert not leaked, leaked
    finally:
        await monitor.stop()
