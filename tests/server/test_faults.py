"""Each fault switch, observed from real clients: python-socketio, raw HTTP/TCP, the Node client."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pytest
import socketio

from conndebug.server import ReferenceServer
from tests.node_peers import run_client
from tests.server.helpers import eventually, http_client, sio_client

ALLOWED = "http://localhost:3000"
EVIL = "http://evil.example"


def _events(lines: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [line for line in lines if line["event"] == name]


def _on_websocket(lines: list[dict[str, Any]]) -> bool:
    """Whether the Node client ended up on websocket (upgraded before or after `connect`)."""
    connects = _events(lines, "connect")
    return bool(_events(lines, "upgrade")) or any(c["transport"] == "websocket" for c in connects)


async def _ws_handshake_status(url: str, timeout: float) -> int | str:
    """Open a raw websocket handshake on the Engine.IO path: its HTTP status, or 'timeout'."""
    ws_url = url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
    async with aiohttp.ClientSession() as http:
        try:
            async with http.ws_connect(ws_url, timeout=aiohttp.ClientWSTimeout(ws_close=timeout)):
                return 101
        except aiohttp.WSServerHandshakeError as exc:
            return exc.status
        except asyncio.TimeoutError:
            return "timeout"


async def _ws_handshake_with_deadline(url: str, timeout: float) -> int | str:
    try:
        return await asyncio.wait_for(_ws_handshake_status(url, timeout), timeout)
    except asyncio.TimeoutError:
        return "timeout"


# -- websocket: reject -------------------------------------------------------------------------
async def test_websocket_reject_answers_403_before_any_handshake(server: ReferenceServer) -> None:
    assert await _ws_handshake_with_deadline(server.url, 3) == 101
    server.set_websocket("reject")
    assert await _ws_handshake_with_deadline(server.url, 3) == 403


async def test_websocket_reject_python_client(server: ReferenceServer) -> None:
    server.set_websocket("reject")
    token, _user = await server.create_guest()
    async with sio_client() as client:  # websocket only: refused at once
        started = time.monotonic()
        with pytest.raises(socketio.exceptions.ConnectionError):
            await client.connect(server.url, token=token, transports=["websocket"])
        assert time.monotonic() - started < 2
    async with sio_client() as client:  # polling only: works
        await client.connect(server.url, token=token, transports=["polling"])
        assert client.sio.transport() == "polling"
        assert await client.sio.call("echo", 1, timeout=3) == 1
    async with sio_client() as client:  # polling first: the upgrade fails, polling stays
        await client.connect(server.url, token=token)
        assert "websocket" in client.sio.eio.upgrades
        assert client.sio.transport() == "polling"


@pytest.mark.node
async def test_websocket_reject_node_client(node_dir: Path, server: ReferenceServer) -> None:
    token, _user = await server.create_guest()
    common = ["--token", token, "--no-reconnection"]
    upgraded = await run_client(
        server.url, *common, "--transports", "polling,websocket", "--exit-on", "never",
        "--max-ms", "3000",
    )  # fmt: skip
    assert _on_websocket(upgraded), upgraded  # the control: allowed, it upgrades

    server.set_websocket("reject")
    ws_only = await run_client(server.url, *common, "--transports", "websocket", "--max-ms", "2500")
    assert _events(ws_only, "connect_error")[0]["message"] == "websocket error", ws_only
    assert not _events(ws_only, "connect")
    polling = await run_client(server.url, *common, "--transports", "polling", "--max-ms", "5000")
    assert _events(polling, "connect")[0]["transport"] == "polling", polling
    stays = await run_client(
        server.url, *common, "--transports", "polling,websocket", "--exit-on", "never",
        "--max-ms", "3000",
    )  # fmt: skip
    assert _events(stays, "connect"), stays
    assert not _on_websocket(stays), stays


# -- websocket: blackhole ----------------------------------------------------------------------
async def test_websocket_blackhole_accepts_and_never_answers(server: ReferenceServer) -> None:
    server.set_websocket("blackhole")
    assert await _ws_handshake_with_deadline(server.url, 0.8) == "timeout"
    async with http_client(server.url) as http:  # plain HTTP on the same port still answers
        assert (await http.get("/health")).status_code == 200


async def test_websocket_blackhole_python_client(server: ReferenceServer) -> None:
    server.set_websocket("blackhole")
    token, _user = await server.create_guest()
    async with sio_client() as client:
        with pytest.raises(asyncio.TimeoutError):
            await client.connect(server.url, token=token, transports=["websocket"], timeout=1.0)
    async with sio_client() as client:
        await client.connect(server.url, token=token, transports=["polling"])
        assert await client.sio.call("echo", "ok", timeout=3) == "ok"
    server.set_websocket("allow")
    async with sio_client() as client:
        await client.connect(server.url, token=token, transports=["websocket"])


@pytest.mark.node
async def test_websocket_blackhole_node_client(node_dir: Path, server: ReferenceServer) -> None:
    server.set_websocket("blackhole")
    token, _user = await server.create_guest()
    common = ["--token", token, "--no-reconnection"]
    ws_only = await run_client(
        server.url, *common, "--transports", "websocket", "--timeout", "1000", "--max-ms", "3000"
    )
    assert _events(ws_only, "connect_error")[0]["message"] == "timeout", ws_only
    assert _events(ws_only, "connect_error")[0]["t"] >= 1000
    polling = await run_client(server.url, *common, "--transports", "polling", "--max-ms", "5000")
    assert _events(polling, "connect")[0]["transport"] == "polling", polling


# -- all traffic: blackhole --------------------------------------------------------------------
async def test_blackhole_holds_everything_and_resumes(server: ReferenceServer) -> None:
    token, _user = await server.create_guest()
    async with sio_client() as client:
        await client.connect(server.url, token=token, transports=["polling"])
        server.set_blackhole(True)
        with pytest.raises(socketio.exceptions.TimeoutError):
            await client.sio.call("echo", "held", timeout=1.0)
        async with http_client(server.url) as http:
            with pytest.raises(httpx.ReadTimeout):  # connected, never answered
                await http.get("/health", timeout=0.5)
            admin = await http.get(
                "/_conndebug/stats", headers={"X-Admin-Key": server.admin_key}
            )  # the admin API still answers, so the switch can be turned off
            assert admin.status_code == 200
        assert (await server.stats()).connections >= 2  # held connections stay open
        assert client.sio.connected
        server.set_blackhole(False)
        assert await client.sio.call("echo", "again", timeout=5) == "again"
        async with http_client(server.url) as http:
            assert (await http.get("/health")).status_code == 200


async def test_blackhole_websocket_client_resumes(server: ReferenceServer) -> None:
    token, _user = await server.create_guest()
    async with sio_client() as client:
        await client.connect(server.url, token=token, transports=["websocket"])
        server.set_blackhole(True)
        with pytest.raises(socketio.exceptions.TimeoutError):
            await client.sio.call("echo", 1, timeout=0.5)
        server.set_blackhole(False)
        assert await client.sio.call("echo", 2, timeout=5) == 2


@pytest.mark.node
async def test_blackhole_node_client(node_dir: Path, server: ReferenceServer) -> None:
    token, _user = await server.create_guest()
    server.set_blackhole(True)
    args = ["--token", token, "--transports", "polling", "--no-reconnection"]
    held = await run_client(server.url, *args, "--timeout", "1000", "--max-ms", "3000")
    assert _events(held, "connect_error")[0]["message"] == "timeout", held
    assert not _events(held, "connect")
    server.set_blackhole(False)
    flowing = await run_client(server.url, *args, "--max-ms", "5000")
    assert _events(flowing, "connect"), flowing


# -- latency -----------------------------------------------------------------------------------
async def _ack_seconds(client: Any) -> float:
    started = time.monotonic()
    await client.sio.call("conndebug:ping", {}, timeout=5)
    return time.monotonic() - started


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_latency_delays_every_round_trip(server: ReferenceServer, transport: str) -> None:
    token, _user = await server.create_guest()
    async with sio_client() as client:
        await client.connect(server.url, token=token, transports=[transport])
        server.set_latency(150)
        assert await _ack_seconds(client) >= 0.3 - 0.01  # 150 ms each way
        async with http_client(server.url) as http:
            started = time.monotonic()
            assert (await http.get("/health")).status_code == 200
            assert time.monotonic() - started >= 0.3 - 0.01
        server.set_latency(0)
        assert server.faults.latency_ms == 0


@pytest.mark.node
async def test_latency_node_client(node_dir: Path, server: ReferenceServer) -> None:
    token, _user = await server.create_guest()
    server.set_latency(150)
    lines = await run_client(
        server.url, "--token", token, "--transports", "websocket", "--max-ms", "10000"
    )
    connect = _events(lines, "connect")
    # the websocket handshake and the Socket.IO CONNECT are two round trips: >= 4 x 150 ms
    assert connect, lines
    assert connect[0]["t"] >= 600, lines


# -- kick, expire, restart ---------------------------------------------------------------------
async def test_kick_disconnects_every_socket_from_the_server_side(server: ReferenceServer) -> None:
    token, _user = await server.create_guest()
    async with sio_client() as ws_client, sio_client() as polling_client:
        await ws_client.connect(server.url, token=token, transports=["websocket"])
        await polling_client.connect(server.url, token=token, transports=["polling"])
        assert await server.kick_all() == 2
        await eventually(
            lambda: bool(ws_client.disconnects and polling_client.disconnects),
            timeout=3,
            what="both disconnects",
        )
        assert ws_client.disconnects == ["server disconnect"]
        assert polling_client.disconnects == ["server disconnect"]
    assert (await server.stats()).sockets == 0


@pytest.mark.node
async def test_kick_node_client(node_dir: Path, server: ReferenceServer) -> None:
    token, _user = await server.create_guest()
    args = ["--token", token, "--exit-on", "never", "--max-ms", "6000"]
    run = asyncio.create_task(run_client(server.url, *args))

    async def connected() -> bool:
        return (await server.stats()).sockets == 1

    await eventually(connected, timeout=10, what="the Node client to connect")
    assert await server.kick_all() == 1
    lines = await run
    assert [line["reason"] for line in _events(lines, "disconnect")] == ["io server disconnect"]
    assert len(_events(lines, "connect")) == 1  # a server kick is not retried


async def test_expire_keeps_the_socket_but_refuses_the_next_handshake(
    server: ReferenceServer,
) -> None:
    token, user = await server.create_guest()
    keep, _ = await server.create_guest()
    async with sio_client() as client:
        await client.connect(server.url, token=token)
        assert await server.expire(user["sessionId"]) == 1
        assert await server.expire(user["sessionId"]) == 0
        assert client.sio.connected  # the record is gone, the connection is not
    async with sio_client() as client:
        with pytest.raises(socketio.exceptions.ConnectionError):
            await client.connect(server.url, token=token)
        assert client.connect_errors == [{"message": "Guest session not found or expired"}]
    async with sio_client() as client:
        await client.connect(server.url, token=keep)  # only that one expired
    assert await server.expire() == 1


@pytest.mark.node
async def test_expire_node_client(node_dir: Path, server: ReferenceServer) -> None:
    token, user = await server.create_guest()
    await server.expire(user["sessionId"])
    lines = await run_client(server.url, "--token", token, "--no-reconnection", "--max-ms", "2500")
    assert _events(lines, "connect_error")[0]["message"] == "Guest session not found or expired"


def _tcp_connect(port: int) -> str:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return "connected"
    except ConnectionRefusedError:
        return "refused"


async def test_restart_refuses_then_listens_on_the_same_port(server: ReferenceServer) -> None:
    token, _user = await server.create_guest()
    port = server.port
    async with sio_client() as client:
        await client.connect(server.url, token=token, transports=["websocket"])
        await server.restart(down_s=1.0)
        assert server.faults.down_until is not None
        assert _tcp_connect(port) == "refused"
        await eventually(lambda: bool(client.disconnects), timeout=3, what="the drop")
        assert client.disconnects[0] in ("transport close", "transport error")
        assert (await server.stats()).sockets == 0
    await server.wait_listening(5)
    assert server.port == port
    assert server.faults.down_until is None
    assert _tcp_connect(port) == "connected"
    async with sio_client() as client:  # sessions survive a restart, as with the Redis store
        await client.connect(server.url, token=token)


@pytest.mark.node
async def test_restart_node_client_reconnects(node_dir: Path, server: ReferenceServer) -> None:
    token, _user = await server.create_guest()
    await server.restart(down_s=1.5)
    lines = await run_client(
        server.url, "--token", token, "--transports", "websocket", "--max-ms", "15000"
    )
    errors = _events(lines, "connect_error")
    assert errors, lines
    assert errors[0]["message"] == "websocket error", lines
    assert _events(lines, "connect"), lines  # it came back on the same port


async def test_on_change_reports_every_switch_in_plain_words(server: ReferenceServer) -> None:
    lines: list[str] = []
    unsubscribe = server.on_change(lines.append)
    server.set_websocket("reject")
    server.set_websocket("reject")  # no change, no line
    server.set_blackhole(True)
    server.set_blackhole(False)
    server.set_latency(250)
    server.set_cors("reflect")
    await server.kick_all()
    await server.expire()
    await server.restart(0.2)
    await server.wait_listening(5)
    unsubscribe()
    server.set_cors("strict")
    assert len(lines) == 9, lines
    joined = "\n".join(lines).lower()
    for needle in ("403", "black-holed", "flowing", "250 ms", "reflect", "kicked", "expired"):
        assert needle in joined
    assert "down for 0.2 s" in lines[7]
    assert "back up" in lines[8]


# -- CORS --------------------------------------------------------------------------------------
_POLL = "/socket.io/?EIO=4&transport=polling"


@pytest.mark.parametrize("path", ["/health", _POLL])
async def test_cors_strict_answers_only_the_allow_list(server: ReferenceServer, path: str) -> None:
    async with http_client(server.url) as http:
        allowed = await http.get(path, headers={"Origin": ALLOWED})
        denied = await http.get(path, headers={"Origin": EVIL})
    assert allowed.status_code == denied.status_code == 200  # the answer itself goes out
    assert allowed.headers["Access-Control-Allow-Origin"] == ALLOWED
    assert allowed.headers["Access-Control-Allow-Credentials"] == "true"
    assert "Origin" in allowed.headers["Vary"]
    assert "Access-Control-Allow-Origin" not in denied.headers
    assert "Access-Control-Allow-Credentials" not in denied.headers


@pytest.mark.parametrize("path", ["/api/guest", "/socket.io/"])
async def test_cors_preflight(server: ReferenceServer, path: str) -> None:
    headers = {
        "Origin": ALLOWED,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,authorization",
    }
    async with http_client(server.url) as http:
        allowed = await http.options(path, headers=headers)
        denied = await http.options(path, headers={**headers, "Origin": EVIL})
    assert allowed.status_code == denied.status_code == 204
    assert allowed.headers["Access-Control-Allow-Origin"] == ALLOWED
    assert "POST" in allowed.headers["Access-Control-Allow-Methods"]
    assert allowed.headers["Access-Control-Allow-Headers"] == "content-type,authorization"
    assert "Access-Control-Allow-Origin" not in denied.headers


@pytest.mark.parametrize("path", ["/health", _POLL])
async def test_cors_reflect_echoes_any_origin_with_credentials(
    server: ReferenceServer, path: str
) -> None:
    server.set_cors("reflect")
    async with http_client(server.url) as http:
        response = await http.get(path, headers={"Origin": EVIL})
    assert response.headers["Access-Control-Allow-Origin"] == EVIL
    assert response.headers["Access-Control-Allow-Credentials"] == "true"
