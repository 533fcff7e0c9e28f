"""Verdicts against real Node Socket.IO servers (socket.io 4 and 2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conndebug.core.probe import run_probe
from tests.node_peers import node_server
from tests.probe.conftest import probe_settings
from tests.proxies import tcp_relay

pytestmark = pytest.mark.node


async def test_node_v4_server_is_ok_without_a_guest_endpoint(node_dir: Path) -> None:
    async with node_server() as server:
        result = await run_probe(probe_settings(server.url))
    assert result.verdict.code == "ok", result.verdict
    assert result.connection["transport"] == "websocket"
    namespace = result.step("namespace")
    assert namespace is not None
    assert "no guest session" in namespace.detail


async def test_socketio_v2_server_is_protocol_mismatch(node_dir: Path) -> None:
    async with node_server(v2=True) as server:
        assert server.version.startswith("2.")
        result = await run_probe(probe_settings(server.url))
    assert result.verdict.code == "protocol_mismatch"
    assert result.exit_code == 2
    assert "v2" in result.verdict.title
    assert "v2 client" in result.verdict.fix


async def test_custom_path_probed_at_the_default_is_not_socketio_with_a_path_hint(
    node_dir: Path,
) -> None:
    async with node_server("--path", "/custom") as server:
        wrong = await run_probe(probe_settings(server.url))
        right = await run_probe(probe_settings(server.url, "--path", "/custom"))
    assert wrong.verdict.code == "not_socketio"
    assert "--path" in wrong.verdict.fix
    assert "path" in wrong.verdict.explanation
    assert right.verdict.code == "ok", right.verdict


async def test_node_rejection_is_quoted(node_dir: Path) -> None:
    async with node_server("--require-token", "right-token") as server:
        result = await run_probe(probe_settings(server.url, "--token", "wrong-token"))
    assert result.verdict.code == "auth_rejected"
    assert '"Invalid token"' in result.verdict.explanation


async def test_node_server_without_polling_is_reached_over_websocket_only(node_dir: Path) -> None:
    async with node_server("--transports", "websocket") as server:
        result = await run_probe(probe_settings(server.url))
    assert result.verdict.code == "ok", result.verdict
    handshake = result.step("handshake")
    assert handshake is not None
    assert handshake.status == "warn"
    assert result.connection["transport"] == "websocket"


async def test_a_blocked_websocket_on_a_websocket_only_server_is_critical(node_dir: Path) -> None:
    async with node_server("--transports", "websocket") as server, tcp_relay(server.port) as relay:
        relay.websocket = "reject"
        result = await run_probe(probe_settings(relay.url))
    assert result.verdict.code == "websocket_blocked", result.verdict
    assert result.exit_code == 2
    assert "nothing can connect" in result.verdict.title
    assert "403" in result.verdict.explanation


async def test_rtt_event_is_measured_with_acks(node_dir: Path) -> None:
    async with node_server() as server:
        result = await run_probe(probe_settings(server.url, "--rtt-event", "conndebug:ping"))
    assert result.verdict.code == "ok", result.verdict
    rtts = [e for e in result.history if e.kind == "rtt"]
    assert len(rtts) == 5
    assert all(getattr(e, "method", None) == "conndebug:ping" for e in rtts)
    step = result.step("rtt")
    assert step is not None
    assert step.status == "ok"
