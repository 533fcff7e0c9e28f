"""The monitor against the reference server: transports, fallback, auth, regeneration, faults."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import random
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import jwt
import pytest

from conndebug.core.backoff import Backoff
from conndebug.core.guest import create_guest_session
from conndebug.core.model import State
from conndebug.core.monitor import REGENERATIONS_PER_WINDOW, Monitor, make_monitor
from tests.core.helpers import events_of, kinds, settings_for, wait_for_event, wait_until
from tests.servers import reference_server

pytestmark = pytest.mark.timeout(60)


@contextlib.asynccontextmanager
async def running(
    url: str, *, admin_key: str | None = None, **overrides: Any
) -> AsyncIterator[Monitor]:
    seed = overrides.pop("seed", 1)
    monitor = make_monitor(
        settings_for(url, **overrides), admin_key=admin_key, rng=random.Random(seed)
    )
    await monitor.start()
    try:
        yield monitor
    finally:
        await monitor.stop()


async def connected(monitor: Monitor, timeout: float = 10.0) -> None:
    await wait_until(lambda: monitor.state is State.CONNECTED, timeout, "connected")


async def test_websocket_connects_as_a_guest_and_shows_both_ids() -> None:
    async with reference_server() as server, running(server.url) as monitor:
        await connected(monitor)
        snap = monitor.snapshot()
        assert snap.transport == "websocket"
        assert snap.how == "direct"
        assert snap.sid
        assert snap.engine_sid
        assert snap.sid != snap.engine_sid
        assert (snap.ping_interval_ms, snap.ping_timeout_ms) == (1000, 10000)
        assert snap.session.source == "guest"
        assert snap.session.username
        assert snap.session.username[0].isupper()
        assert snap.session.token_redacted
        assert "redacted" in snap.session.token_redacted
        assert kinds(monitor.bus)[:4] == ["note", "session_created", "connecting", "transport"]
        await wait_for_event(
            monitor, "event_in", 5, match=lambda e: e.name == "connection:established"
        )
        await wait_for_event(monitor, "rtt", 5)
        assert monitor.snapshot().rtt_method == "namespace-probe"
        stats = await server.stats()
        assert stats.sockets == 1  # the probes did not leave sockets behind


async def test_a_refused_websocket_falls_back_to_polling_in_under_a_second() -> None:
    async with reference_server(websocket="reject") as server, running(server.url) as monitor:
        await connected(monitor)
        fallback = events_of(monitor.bus, "fallback")[0]
        done = events_of(monitor.bus, "connected")[0]
        assert "403" in fallback.why
        assert fallback.elapsed_ms < 1000
        assert done.elapsed_ms < 1000
        assert done.transport == "polling"
        assert done.how == "fallback"
        snap = monitor.snapshot()
        assert snap.how is not None
        assert snap.how.startswith("fell back: HTTP 403")
        assert monitor.degraded is not None


async def test_a_black_holed_websocket_falls_back_within_ws_timeout_plus_one_second() -> None:
    async with (
        reference_server(websocket="blackhole") as server,
        running(server.url, ws_timeout=1.5) as monitor,
    ):
        await connected(monitor, 10)
        fallback = events_of(monitor.bus, "fallback")[0]
        done = events_of(monitor.bus, "connected")[0]
        assert "no answer" in fallback.why
        assert 1500 <= done.elapsed_ms <= 2500
        assert monitor.snapshot().transport == "polling"


@pytest.mark.parametrize("mode", ["reject", "blackhole"])
async def test_polling_first_with_a_blocked_upgrade_reports_it_and_stays_connected(
    mode: str,
) -> None:
    async with (
        reference_server(websocket=mode) as server,
        running(server.url, transports=("polling", "websocket")) as monitor,
    ):
        await connected(monitor)
        failed = events_of(monitor.bus, "upgrade_failed")
        assert len(failed) == 1
        assert ("403" in failed[0].why) if mode == "reject" else ("no answer" in failed[0].why), (
            failed[0].why
        )
        snap = monitor.snapshot()
        assert snap.transport == "polling"
        assert snap.upgrades == ("websocket",)
        mark = len(monitor.bus.history)
        await wait_for_event(monitor, "rtt", 5, after=mark)
        assert monitor.state is State.CONNECTED


async def test_polling_first_upgrades_when_allowed() -> None:
    async with (
        reference_server() as server,
        running(server.url, transports=("polling", "websocket")) as monitor,
    ):
        await connected(monitor)
        change = events_of(monitor.bus, "transport")[0]
        assert (change.previous, change.transport, change.how) == (
            "polling",
            "websocket",
            "upgraded",
        )
        assert not events_of(monitor.bus, "upgrade_failed")


def _token(secret: str, **claims: Any) -> str:
    now = int(time.time())
    base = {
        "userId": "guest_x",
        "sessionId": "no-such-session",
        "username": "Someone1",
        "isGuest": True,
        "iat": now,
        "exp": now + 3600,
        "iss": "realtime-chat-app",
        "aud": "realtime-chat-users",
    }
    base.update(claims)
    return jwt.encode(base, secret, algorithm="HS256")


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("no-token", "Authentication token required"),
        ("garbage", "Invalid token"),
        ("not-guest", "Only guest sessions are supported"),
        ("not-yet", "Token verification failed"),
        ("expired-token", "Token has expired"),
        ("gone-session", "Guest session not found or expired"),
    ],
)
@pytest.mark.parametrize("transports", [("websocket", "polling"), ("polling",)])
async def test_each_rejection_reaches_the_history_with_the_servers_exact_message(
    case: str, message: str, transports: tuple[str, ...]
) -> None:
    async with reference_server() as server:
        secret = server.secret
        overrides: dict[str, Any] = {
            "no-token": {"no_guest": True},
            "garbage": {"token": "not-a-jwt-at-all"},
            "not-guest": {"token": _token(secret, isGuest=False)},
            "not-yet": {"token": _token(secret, nbf=int(time.time()) + 3600)},
            "expired-token": {"token": _token(secret, exp=int(time.time()) - 10)},
            "gone-session": {"token": _token(secret)},
        }[case]
        started = time.monotonic()
        async with running(server.url, transports=transports, **overrides) as monitor:
            await wait_until(lambda: monitor.state is State.FAILED, 10, "failed")
            took = time.monotonic() - started
            errors = events_of(monitor.bus, "connect_error")
            assert [(e.message, e.source) for e in errors] == [(message, "server")]
            snap = monitor.snapshot()
            assert snap.verdict is not None
            assert message in snap.verdict
            assert not events_of(monitor.bus, "reconnect_scheduled")
            assert not events_of(monitor.bus, "fallback")
            if case in ("expired-token", "gone-session"):
                assert len(events_of(monitor.bus, "session_expired")) == 1
                assert "--token cannot be regenerated" in snap.verdict
        assert took < 5  # a rejection over polling does not wait out a long-poll


async def test_rate_limited_handshakes_quote_the_server() -> None:
    async with (
        reference_server(socket_rate_limit=(1, 60.0)) as server,
        running(server.url) as monitor,
    ):
        await connected(monitor)
        await monitor.reconnect()
        await wait_until(lambda: monitor.state is State.FAILED, 10, "failed")
        assert events_of(monitor.bus, "connect_error")[-1].message == "Rate limit exceeded"


async def test_a_server_side_expiry_is_regenerated_into_a_new_guest_session() -> None:
    async with (
        reference_server() as server,
        running(
            server.url, admin_key=server.admin_key, reconnect_delay=0.1, reconnect_delay_max=0.2
        ) as monitor,
    ):
        await connected(monitor)
        before = monitor.snapshot().session
        mark = len(monitor.bus.history)
        await monitor.simulate_expiry()
        await wait_for_event(monitor, "connected", 10, after=mark)
        after = monitor.snapshot().session
        history = kinds(monitor.bus)[mark:]
        assert history.index("session_expired") < history.index("session_regenerated")
        assert history.index("session_regenerated") < history.index("connected")
        expired = events_of(monitor.bus, "session_expired")[0]
        assert expired.message == "Guest session not found or expired"
        regenerated = events_of(monitor.bus, "session_regenerated")[0]
        assert regenerated.previous_session_id == before.session_id
        assert after.session_id == regenerated.session_id != before.session_id
        assert after.user_id != before.user_id
        assert after.regenerations == 1
        assert monitor.state is State.CONNECTED


async def test_a_kept_session_from_another_server_is_replaced_and_probe_agrees() -> None:
    """A server restarted with another key (or another server on the same address) refuses the
    guest session conndebug kept: both commands drop it, create a new one and connect."""
    from conndebug.core import guest_store
    from conndebug.core.guest import session_from_token
    from conndebug.core.probe.runner import run_probe

    async with reference_server() as server:
        settings = settings_for(server.url)
        foreign = _token("another server's signing key, 32 bytes or more", sessionId="s-elsewhere")
        guest_store.save(settings.guest_url, session_from_token(foreign, source="guest"))
        async with running(server.url) as monitor:
            await connected(monitor)
            created = events_of(monitor.bus, "session_created")
            assert [e.source for e in created] == ["stored", "guest"]
            refused = events_of(monitor.bus, "connect_error")[0]
            assert refused.message.endswith("Invalid token")
            assert any(
                "kept guest session was refused" in e.text for e in events_of(monitor.bus, "note")
            )
            kept = guest_store.load(settings.guest_url)
            assert kept is not None
            assert kept.token != foreign
        guest_store.save(settings.guest_url, session_from_token(foreign, source="guest"))
        result = await run_probe(settings)
    assert result.verdict.code == "ok", result.verdict
    assert monitor.verdict is not None
    assert monitor.verdict.code == "ok"


async def test_expiry_pressed_again_and_again_never_stops_monitoring() -> None:
    """``x`` in the demo five times within seconds: each fresh session connects, so the loop
    guard (which counts only fresh sessions that fail) never stops the monitor."""
    presses = REGENERATIONS_PER_WINDOW + 2
    async with (
        reference_server() as server,
        running(
            server.url, admin_key=server.admin_key, reconnect_delay=0.1, reconnect_delay_max=0.2
        ) as monitor,
    ):
        await connected(monitor)
        for n in range(1, presses + 1):
            mark = len(monitor.bus.history)
            await monitor.simulate_expiry()
            await wait_for_event(monitor, "connected", 10, after=mark)
            assert len(events_of(monitor.bus, "session_regenerated")) == n
        assert monitor.state is State.CONNECTED
        assert monitor.snapshot().session.regenerations == presses
        assert "loop" not in (monitor.snapshot().verdict or "")


async def test_without_the_admin_key_x_expires_the_session_as_a_browser_meets_it() -> None:
    # No admin access: the client's session is dropped, a new guest session is created, and the
    # connection comes back with it (session_expired → session_regenerated → connected).
    async with reference_server() as server, running(server.url) as monitor:
        await connected(monitor)
        before = monitor.snapshot().session
        mark = len(monitor.bus.history)
        await monitor.simulate_expiry()
        await wait_for_event(monitor, "connected", 10, after=mark)
        history = kinds(monitor.bus)[mark:]
        assert history.index("session_expired") < history.index("session_regenerated")
        assert history.index("session_regenerated") < history.index("connected")
        assert "connect_error" not in history
        expired = events_of(monitor.bus, "session_expired")[-1]
        assert expired.session_id == before.session_id
        assert "simulated" in expired.message
        after = monitor.snapshot().session
        assert after.source == "guest"
        assert after.session_id
        assert after.session_id != before.session_id
        assert after.regenerations == 1
        assert monitor.state is State.CONNECTED
        assert monitor.snapshot().verdict is None


async def test_x_keeps_a_given_token_and_says_why() -> None:
    async with reference_server() as server:
        guest = await create_guest_session(settings_for(server.url))
        assert guest.session is not None
        async with running(server.url, token=guest.session.token) as monitor:
            await connected(monitor)
            mark = len(monitor.bus.history)
            await monitor.simulate_expiry()
            notes = [e for e in list(monitor.bus.history)[mark:] if e.kind == "note"]
            assert any("--token cannot be regenerated" in n.detail for n in notes)
            assert "session_expired" not in kinds(monitor.bus)[mark:]
            assert monitor.state is State.CONNECTED


async def test_a_loop_of_expiries_stops_at_the_bound() -> None:
    # Every session record dies after 1 ms: each new guest session is already gone at connect.
    async with reference_server(session_ttl=0.001) as server, running(server.url) as monitor:
        await wait_until(lambda: monitor.state is State.FAILED, 20, "failed")
        assert len(events_of(monitor.bus, "session_regenerated")) == REGENERATIONS_PER_WINDOW
        assert len(events_of(monitor.bus, "session_expired")) == REGENERATIONS_PER_WINDOW + 1
        verdict = monitor.snapshot().verdict or ""
        assert "stopped to avoid a loop" in verdict
        assert not events_of(monitor.bus, "reconnect_scheduled")


async def test_a_server_restart_is_followed_by_numbered_reconnects_with_the_policys_delays() -> (
    None
):
    async with (
        reference_server() as server,
        running(server.url, seed=7, reconnect_delay=0.2, reconnect_delay_max=0.5) as monitor,
    ):
        await connected(monitor)
        mark = len(monitor.bus.history)
        await server.restart(down_s=1.2)
        await wait_for_event(monitor, "connected", 15, after=mark)
        # a round-trip sample may land between the mark and the restart: only the story counts
        history = [
            e for e in list(monitor.bus.history)[mark:] if e.kind not in ("note", "rtt", "event_in")
        ]
        assert history[0].kind == "disconnected", history[0]
        assert history[0].will_reconnect
        scheduled = [e for e in history if e.kind == "reconnect_scheduled"]
        assert [e.attempt for e in scheduled] == list(range(1, len(scheduled) + 1))
        expected = Backoff(min_s=0.2, max_s=0.5, jitter=0.5, rng=random.Random(7))
        assert [e.delay_s for e in scheduled] == [expected.duration() for _ in scheduled]
        assert all(e.max_attempts == 10 for e in scheduled)
        assert len(scheduled) >= 2  # the server stayed down for more than one delay
        refused = [e for e in history if e.kind == "connect_error"]
        assert refused
        assert all("refused" in e.message for e in refused)
        assert monitor.state is State.CONNECTED


async def test_restarts_at_a_regular_interval_are_not_blamed_on_a_proxy() -> None:
    """The server restarts every ~1.5 s: regular drops, but the monitor saw each restart (the
    port closed, then listening again), so the drop rule names no proxy timeout."""
    async with (
        reference_server() as server,
        running(server.url, reconnect_delay=0.1, reconnect_delay_max=0.2) as monitor,
    ):
        await connected(monitor)
        for _ in range(4):
            await asyncio.sleep(1.2)
            await server.restart(0.3)
            await server.wait_listening(10)
            await connected(monitor)
        drops = events_of(monitor.bus, "disconnected")
        assert len(drops) >= 4
        notes = [e for e in events_of(monitor.bus, "note") if e.topic == "drops"]
        assert notes == [], notes[0].text


async def test_a_kick_is_not_retried() -> None:
    async with reference_server() as server, running(server.url) as monitor:
        await connected(monitor)
        mark = len(monitor.bus.history)
        assert await server.kick_all() == 1
        gone = await wait_for_event(monitor, "disconnected", 5, after=mark)
        assert gone.reason == "io server disconnect"
        assert not gone.will_reconnect
        assert monitor.state is State.DISCONNECTED
        task = monitor._cycle_task
        assert task is not None
        await wait_until(task.done, 5, "the cycle to end")
        assert not events_of(monitor.bus, "reconnect_scheduled")
        assert "kick" in (monitor.snapshot().verdict or "") or "io server disconnect" in (
            monitor.snapshot().verdict or ""
        )


async def test_drop_transport_is_followed_by_automatic_reconnection() -> None:
    async with reference_server() as server, running(server.url) as monitor:
        await connected(monitor)
        first_sid = monitor.snapshot().sid
        mark = len(monitor.bus.history)
        await monitor.drop_transport()
        gone = await wait_for_event(monitor, "disconnected", 5, after=mark)
        assert gone.will_reconnect
        assert "dropped" in gone.reason
        await wait_for_event(monitor, "connected", 10, after=mark)
        assert [e.attempt for e in events_of(monitor.bus, "reconnect_scheduled")] == [1]
        assert monitor.snapshot().sid != first_sid
        assert monitor.state is State.CONNECTED


async def test_a_black_holed_server_is_a_stall_within_five_seconds_and_recovers() -> None:
    async with reference_server() as server, running(server.url) as monitor:
        await connected(monitor)
        await wait_for_event(monitor, "rtt", 5)
        mark = len(monitor.bus.history)
        server.set_blackhole(True)
        started = time.monotonic()
        stall = await wait_for_event(monitor, "stall", 6, after=mark)
        assert time.monotonic() - started <= 5.0
        assert not stall.recovered
        assert stall.silent_s >= 3.0
        assert monitor.state is State.STALLED
        mark = len(monitor.bus.history)
        server.set_blackhole(False)
        back = await wait_for_event(monitor, "stall", 5, after=mark)
        assert back.recovered
        assert monitor.state is State.CONNECTED


async def test_ten_thousand_events_reach_the_log_in_order(tmp_path: Path) -> None:
    log = tmp_path / "history.jsonl"
    async with reference_server() as server, running(server.url, log=str(log)) as monitor:
        await connected(monitor)
        await monitor.emit("storm", {"count": 10_000})
        await wait_for_event(monitor, "event_in", 30, match=lambda e: e.name == "storm:done")
        assert monitor.snapshot().events_out == 1
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    storm = [line for line in lines if line["kind"] == "event_in" and line["name"] == "storm"]
    assert [json.loads(line["preview"])["i"] for line in storm] == list(range(10_000))
    assert lines[-1]["kind"] == "disconnected"


async def test_the_rtt_event_is_used_when_given() -> None:
    async with (
        reference_server() as server,
        running(server.url, rtt_event="conndebug:ping") as monitor,
    ):
        await connected(monitor)
        sample = await wait_for_event(monitor, "rtt", 5)
        assert sample.method == "conndebug:ping"
        result = await monitor.emit("echo", {"a": 1}, ack=True)
        assert result.acked
        assert result.value == {"a": 1}
        out = events_of(monitor.bus, "event_out")[0]
        assert out.ack == '{"a":1}'
        assert out.ack_ms is not None


async def test_an_exception_in_a_subscriber_becomes_a_note_and_the_connection_survives() -> None:
    async with reference_server() as server, running(server.url) as monitor:

        def broken(event: Any) -> None:
            if event.kind == "event_in":
                raise RuntimeError("subscriber bug")

        monitor.bus.subscribe(broken)
        await connected(monitor)
        note = await wait_for_event(monitor, "note", 5, match=lambda e: "subscriber bug" in e.text)
        assert note.level == "error"
        assert "internal error in a subscriber of event_in events" in note.text
        mark = len(monitor.bus.history)
        await wait_for_event(monitor, "rtt", 5, after=mark)
        assert monitor.state is State.CONNECTED


async def test_tokens_never_reach_the_history_or_log_in_full(tmp_path: Path) -> None:
    log = tmp_path / "secrets.jsonl"
    async with reference_server() as server, running(server.url, log=str(log)) as monitor:
        await connected(monitor)
        token = monitor.sessions.session.token if monitor.sessions.session else ""
        assert len(token) > 40
        await monitor.emit("echo", {"token": token, "note": f"Bearer {token}"}, ack=True)
        await monitor.drop_transport()
        await wait_until(lambda: len(events_of(monitor.bus, "connected")) == 2, 10)
    text = log.read_text()
    assert token not in text
    assert token[:20] not in text
    assert "‹redacted" in text


async def test_failure_paths_leave_no_unclosed_session(caplog: pytest.LogCaptureFixture) -> None:
    async with reference_server(websocket="blackhole") as server:
        async with running(server.url, ws_timeout=0.5) as monitor:
            await connected(monitor)
            await monitor.drop_transport()
            await wait_until(lambda: len(events_of(monitor.bus, "connected")) == 2, 10)
        server.set_websocket("reject")
        async with running(server.url, transports=("polling", "websocket")) as monitor:
            await connected(monitor)
            await server.restart(down_s=0.3)
            await wait_until(lambda: len(events_of(monitor.bus, "connected")) == 2, 10)
    gc.collect()
    await asyncio.sleep(0)
    problems = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert not [
        p for p in problems if "Unclosed" in p or "never retrieved" in p or "destroyed" in p
    ]


async def test_a_silent_server_ends_in_ping_timeout_and_reconnection() -> None:
    async with (
        reference_server(ping_interval=1, ping_timeout=1.0) as server,
        running(
            server.url, stall_after=5.0, reconnect_delay=0.2, reconnect_delay_max=0.4
        ) as monitor,
    ):
        await connected(monitor)
        mark = len(monitor.bus.history)
        server.set_blackhole(True)
        gone = await wait_for_event(monitor, "disconnected", 10, after=mark)
        assert gone.reason.startswith("ping timeout")
        assert gone.will_reconnect
        server.set_blackhole(False)
        await wait_for_event(monitor, "connected", 20, after=mark)
        gc.collect()  # an unreleased websocket connection would warn here ("Unclosed connection")


async def test_the_transport_event_says_what_changed_between_connections() -> None:
    async with reference_server() as server, running(server.url) as monitor:
        await connected(monitor)
        server.set_websocket("reject")
        mark = len(monitor.bus.history)
        await monitor.drop_transport()
        await wait_until(lambda: monitor.snapshot().transport == "polling", 10, "polling")
        change = await wait_for_event(monitor, "transport", 1, after=mark)
        assert (change.previous, change.transport, change.how) == (
            "websocket",
            "polling",
            "fallback",
        )
        gone = events_of(monitor.bus, "disconnected")[0]
        assert gone.will_reconnect
