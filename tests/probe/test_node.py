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


# -- issue 13: verdicts on real servers' set-ups (the matrix in tests/realservers judges more) ------


async def test_a_polling_only_server_is_transport_unavailable_for_websocket_first_clients(
    node_dir: Path,
) -> None:
    async with node_server("--transports", "polling") as server:
        result = await run_probe(probe_settings(server.url))
        polling_first = await run_probe(
            probe_settings(server.url, "--transports", "polling,websocket")
        )
    assert (result.verdict.code, result.exit_code) == ("transport_unavailable", 1)
    assert '"Transport unknown"' in result.verdict.explanation
    assert result.connection["transport"] == "polling"
    assert polling_first.verdict.code == "ok", polling_first.verdict  # such clients connect
    assert "offers no websocket" in polling_first.verdict.title


async def test_polling_forced_on_a_websocket_only_server_quotes_transport_unknown(
    node_dir: Path,
) -> None:
    async with node_server("--transports", "websocket") as server:
        result = await run_probe(probe_settings(server.url, "--transports", "polling"))
    assert (result.verdict.code, result.exit_code) == ("transport_unavailable", 2)
    assert '"Transport unknown"' in result.verdict.explanation
    assert "Engine.IO error code 0" in result.verdict.explanation


async def test_a_msgpack_server_is_a_parser_mismatch_within_a_second_and_msgpack_connects(
    node_dir: Path,
) -> None:
    async with node_server("--msgpack") as server:
        result = await run_probe(probe_settings(server.url))
        with_msgpack = await run_probe(probe_settings(server.url, "--parser", "msgpack"))
    assert result.verdict.code == "parser_mismatch", result.verdict
    assert "--parser msgpack" in result.verdict.fix
    closed = next(e for e in result.history if e.kind == "connect_error")
    assert closed.t < 1.0
    assert with_msgpack.verdict.code == "ok", with_msgpack.verdict


async def test_eio_3_connects_to_socketio_2_and_to_allow_eio3_but_not_to_a_v4_only_server(
    node_dir: Path,
) -> None:
    async with (
        node_server(v2=True) as v2,
        node_server("--allow-eio3") as allow,
        node_server() as v4,
    ):
        old = await run_probe(probe_settings(v2.url, "--eio", "3"))
        allowed = await run_probe(probe_settings(allow.url, "--eio", "3"))
        refused = await run_probe(probe_settings(v4.url, "--eio", "3"))
    assert old.verdict.code == "ok", old.verdict
    assert "Engine.IO 3" in old.verdict.explanation
    assert allowed.verdict.code == "ok", allowed.verdict
    assert refused.verdict.code == "protocol_mismatch"
    assert "allowEIO3" in refused.verdict.fix
    handshake = old.step("handshake")
    assert handshake is not None
    assert "?" not in handshake.detail  # socket.io 2 announces no maxPayload: not shown as "? B"


async def test_a_path_in_the_url_is_an_unknown_namespace_with_the_path_suggested(
    node_dir: Path,
) -> None:
    async with node_server() as server:
        result = await run_probe(probe_settings(server.url + "/socket.io"))
    assert result.verdict.code == "namespace_unknown", result.verdict
    assert "--path /socket.io" in result.verdict.fix
    assert "token" not in result.verdict.fix.lower()


async def test_the_data_of_a_middleware_rejection_is_shown(node_dir: Path) -> None:
    flags = ("--require-token", "right", "--reject-data", '{"content":"please retry later"}')
    async with node_server(*flags) as server:
        result = await run_probe(probe_settings(server.url, "--token", "wrong"))
    assert result.verdict.code == "auth_rejected"
    assert "please retry later" in result.verdict.explanation


async def test_any_origin_without_credentials_is_never_called_refused(node_dir: Path) -> None:
    async with node_server("--cors-origin", "*") as server:
        result = await run_probe(probe_settings(server.url, "--origin", "http://localhost:3000"))
    cors = result.step("cors")
    assert cors is not None
    assert cors.status == "ok"
    assert "not allowed" not in cors.detail
    assert "Access-Control-Allow-Origin: *" in cors.detail
