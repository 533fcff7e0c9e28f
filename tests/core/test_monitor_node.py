"""The monitor against the real Node socket.io 4 server (faults by a relay in front of it)."""

from __future__ import annotations

import contextlib
import json
import random
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from conndebug.core.backoff import Backoff
from conndebug.core.model import State
from conndebug.core.monitor import Monitor, make_monitor
from tests.core.helpers import events_of, settings_for, wait_for_event, wait_until
from tests.node_peers import node_server
from tests.proxies import tcp_relay

pytestmark = [pytest.mark.node, pytest.mark.timeout(60)]


@contextlib.asynccontextmanager
async def running(url: str, **overrides: Any) -> AsyncIterator[Monitor]:
    seed = overrides.pop("seed", 1)
    monitor = make_monitor(settings_for(url, **overrides), rng=random.Random(seed))
    await monitor.start()
    try:
        yield monitor
    finally:
        await monitor.stop()


async def connected(monitor: Monitor, timeout: float = 10.0) -> None:
    await wait_until(lambda: monitor.state is State.CONNECTED, timeout, "connected")


async def test_websocket_connect_without_a_guest_endpoint(node_dir: Path) -> None:
    async with node_server() as server, running(server.url) as monitor:
        await connected(monitor)
        snap = monitor.snapshot()
        assert snap.transport == "websocket"
        assert snap.sid
        assert snap.engine_sid
        assert snap.sid != snap.engine_sid
        assert (snap.ping_interval_ms, snap.ping_timeout_ms) == (25000, 20000)
        guest = [e for e in events_of(monitor.bus, "note") if e.topic == "guest"]
        assert "HTTP 404" in guest[0].text
        assert snap.session.source == "none"
        sample = await wait_for_event(monitor, "rtt", 5)
        assert sample.method == "namespace-probe"
        await wait_until(lambda: any(line["event"] == "connection" for line in server.lines), 5)
        assert sum(line["event"] == "connection" for line in server.lines) == 1


async def test_a_server_without_websocket_makes_the_client_fall_back_fast(node_dir: Path) -> None:
    async with node_server("--transports", "polling") as server, running(server.url) as monitor:
        await connected(monitor)
        fallback = events_of(monitor.bus, "fallback")[0]
        assert "HTTP 400" in fallback.why
        assert "Transport unknown" in fallback.why
        assert events_of(monitor.bus, "connected")[0].elapsed_ms < 1000
        assert monitor.snapshot().transport == "polling"


@pytest.mark.parametrize("mode", ["reject", "blackhole"])
async def test_a_blocked_websocket_in_front_of_node_falls_back(node_dir: Path, mode: str) -> None:
    async with node_server() as server, tcp_relay(server.port) as relay:
        relay.websocket = mode
        started = time.monotonic()
        async with running(relay.url, ws_timeout=1.0) as monitor:
            await connected(monitor)
            took = time.monotonic() - started
            fallback = events_of(monitor.bus, "fallback")[0]
            assert ("403" in fallback.why) if mode == "reject" else ("no answer" in fallback.why)
            assert took < (1.0 if mode == "reject" else 1.0 + 1.0)
            assert monitor.snapshot().transport == "polling"
            assert monitor.degraded is not None


async def test_polling_first_with_a_blocked_upgrade_stays_on_polling(node_dir: Path) -> None:
    async with node_server() as server, tcp_relay(server.port) as relay:
        relay.websocket = "reject"
        async with running(relay.url, transports=("polling", "websocket")) as monitor:
            await connected(monitor)
            assert "403" in events_of(monitor.bus, "upgrade_failed")[0].why
            mark = len(monitor.bus.history)
            await wait_for_event(monitor, "rtt", 5, after=mark)
            assert monitor.snapshot().transport == "polling"
            assert monitor.state is State.CONNECTED


async def test_polling_where_no_upgrade_is_offered_is_not_degraded(node_dir: Path) -> None:
    async with (
        node_server("--transports", "polling") as server,
        running(server.url, transports=("polling", "websocket")) as monitor,
    ):
        await connected(monitor)
        assert monitor.snapshot().upgrades == ()
        assert not events_of(monitor.bus, "upgrade_failed")
        assert monitor.degraded is None


@pytest.mark.parametrize(
    ("token", "message"),
    [(None, "Authentication token required"), ("wrong-token", "Invalid token")],
)
async def test_node_middleware_rejections_are_quoted(
    node_dir: Path, token: str | None, message: str
) -> None:
    async with (
        node_server("--require-token", "right-token") as server,
        running(server.url, token=token, no_guest=True) as monitor,
    ):
        await wait_until(lambda: monitor.state is State.FAILED, 10, "failed")
        errors = events_of(monitor.bus, "connect_error")
        assert [(e.message, e.source) for e in errors] == [(message, "server")]


async def test_the_right_token_is_sent_in_auth(node_dir: Path) -> None:
    async with (
        node_server("--require-token", "right-token") as server,
        running(server.url, token="right-token") as monitor,
    ):
        await connected(monitor)
        assert not events_of(monitor.bus, "connect_error")


async def test_a_restart_is_followed_by_numbered_reconnects(node_dir: Path) -> None:
    async with (
        node_server() as server,
        tcp_relay(server.port) as relay,
        running(relay.url, seed=4, reconnect_delay=0.2, reconnect_delay_max=0.5) as monitor,
    ):
        await connected(monitor)
        mark = len(monitor.bus.history)
        await relay.restart(down_s=1.0)
        await wait_for_event(monitor, "connected", 15, after=mark)
        # a round-trip sample may land between the mark and the restart: only the story counts
        history = [
            e for e in list(monitor.bus.history)[mark:] if e.kind not in ("note", "rtt", "event_in")
        ]
        assert history[0].kind == "disconnected"
        assert history[0].will_reconnect
        scheduled = [e for e in history if e.kind == "reconnect_scheduled"]
        assert [e.attempt for e in scheduled] == list(range(1, len(scheduled) + 1))
        expected = Backoff(min_s=0.2, max_s=0.5, jitter=0.5, rng=random.Random(4))
        assert [e.delay_s for e in scheduled] == [expected.duration() for _ in scheduled]


async def test_drop_transport_reconnects_to_node(node_dir: Path) -> None:
    async with node_server() as server, running(server.url) as monitor:
        await connected(monitor)
        first = monitor.snapshot().sid
        mark = len(monitor.bus.history)
        await monitor.drop_transport()
        await wait_for_event(monitor, "connected", 10, after=mark)
        assert monitor.snapshot().sid != first
        await wait_until(
            lambda: any(line["event"] == "disconnect" for line in server.lines), 5, "node to notice"
        )
        gone = next(line for line in server.lines if line["event"] == "disconnect")
        assert gone["reason"] == "transport close"  # unexpected for the server too


async def test_a_black_holed_path_is_a_stall_and_recovers(node_dir: Path) -> None:
    async with (
        node_server() as server,
        tcp_relay(server.port) as relay,
        running(relay.url) as monitor,
    ):
        await connected(monitor)
        await wait_for_event(monitor, "rtt", 5)
        mark = len(monitor.bus.history)
        relay.set_blackhole(True)
        started = time.monotonic()
        await wait_for_event(monitor, "stall", 6, after=mark)
        assert time.monotonic() - started <= 5.0
        mark = len(monitor.bus.history)
        relay.set_blackhole(False)
        back = await wait_for_event(monitor, "stall", 5, after=mark)
        assert back.recovered
        assert monitor.state is State.CONNECTED


@pytest.mark.parametrize("transports", [("websocket",), ("polling",)])
async def test_ten_thousand_node_events_reach_the_log_in_order(
    node_dir: Path, tmp_path: Path, transports: tuple[str, ...]
) -> None:
    log = tmp_path / "node.jsonl"
    async with (
        node_server() as server,
        running(server.url, log=str(log), transports=transports) as monitor,
    ):
        await connected(monitor)
        await monitor.emit("storm", {"count": 10_000})
        await wait_for_event(monitor, "event_in", 30, match=lambda e: e.name == "storm:done")
        assert monitor.snapshot().events_in == 10_001
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    storm = [line for line in lines if line["kind"] == "event_in" and line["name"] == "storm"]
    assert [json.loads(line["preview"])["i"] for line in storm] == list(range(10_000))


async def test_a_refused_polling_handshake_quotes_engineios_json_body(node_dir: Path) -> None:
    async with (
        node_server("--transports", "websocket") as server,
        running(
            server.url, transports=("polling",), no_guest=True, reconnect_attempts=1
        ) as monitor,
    ):
        await wait_until(lambda: bool(events_of(monitor.bus, "connect_error")), 10)
        error = events_of(monitor.bus, "connect_error")[0]
        assert error.message.startswith("HTTP 400 Bad Request to the Engine.IO handshake")
        assert "“Transport unknown”" in error.message
        assert (error.status, error.code, error.engine_message) == (400, 0, "Transport unknown")
        assert (error.phase, error.transport, error.source) == ("handshake", "polling", "transport")
        # the only transport allowed is refused: retrying cannot help
        await wait_until(lambda: monitor.state is State.FAILED, 5, "failed")
        assert not events_of(monitor.bus, "reconnect_scheduled")


async def test_a_wrong_path_is_an_http_404_on_both_transports(node_dir: Path) -> None:
    async with (
        node_server() as server,
        running(server.url, path="/wrong", no_guest=True, reconnect_attempts=1) as monitor,
    ):
        await wait_until(lambda: bool(events_of(monitor.bus, "connect_error")), 10)
        # Node's engine.io leaves an upgrade on a foreign path unanswered, then destroys it (1 s).
        assert len(events_of(monitor.bus, "fallback")) == 1
        error = events_of(monitor.bus, "connect_error")[0]
        assert error.message.startswith("HTTP 404 Not Found to the Engine.IO handshake")
        assert (error.transport, error.status, error.failure) == ("polling", 404, "http_status")
        earlier = (error.facts or {}).get("earlier_attempts", [])
        assert [a["transport"] for a in earlier] == ["websocket"]  # the websocket failed first


async def test_an_unanswered_ack_is_a_timeout_not_an_error(node_dir: Path) -> None:
    async with node_server() as server, running(server.url) as monitor:
        await connected(monitor)
        result = await monitor.emit("nobody-acks-this", {"x": 1}, ack=True, timeout=0.3)
        assert not result.acked
        assert result.error == "no ack within 0.3 s"
        assert events_of(monitor.bus, "event_out")[0].ack == "timeout"
        assert monitor.state is State.CONNECTED


async def _post(url: str) -> dict[str, Any]:
    import httpx

    async with httpx.AsyncClient(timeout=5) as client:
        answer = await client.post(url)
    answer.raise_for_status()
    result: dict[str, Any] = answer.json()
    return result


async def test_a_node_kick_is_not_retried(node_dir: Path) -> None:
    async with node_server() as server, running(server.url) as monitor:
        await connected(monitor)
        mark = len(monitor.bus.history)
        assert (await _post(f"{server.url}/_test/kick"))["kicked"] == 1
        gone = await wait_for_event(monitor, "disconnected", 5, after=mark)
        assert gone.reason == "io server disconnect"
        assert not gone.will_reconnect
        assert monitor.state is State.DISCONNECTED
        task = monitor._cycle_task
        assert task is not None
        await wait_until(task.done, 5, "the cycle to end")
        assert not events_of(monitor.bus, "reconnect_scheduled")


async def test_a_node_session_expiry_is_regenerated_into_a_new_guest(node_dir: Path) -> None:
    async with (
        node_server("--guest") as server,
        running(server.url, reconnect_delay=0.1, reconnect_delay_max=0.2) as monitor,
    ):
        await connected(monitor)
        before = monitor.snapshot().session
        assert before.source == "guest"
        assert before.username is not None
        assert before.username.startswith("NodeTiger")
        mark = len(monitor.bus.history)
        assert (await _post(f"{server.url}/_test/expire"))["expired"] == 1
        await monitor.drop_transport()  # the next handshake meets the missing session record
        await wait_for_event(monitor, "connected", 10, after=mark)
        history = [e.kind for e in list(monitor.bus.history)[mark:]]
        assert history.index("session_expired") < history.index("session_regenerated")
        assert history.index("session_regenerated") < history.index("connected")
        expired = events_of(monitor.bus, "session_expired")[0]
        assert expired.message == "Guest session not found or expired"
        after = monitor.snapshot().session
        assert after.session_id != before.session_id
        assert monitor.state is State.CONNECTED
