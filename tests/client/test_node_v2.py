"""The client against a real socket.io 2 server (Engine.IO 3, Socket.IO protocol 4)."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from conndebug.client.connecting import connect
from conndebug.client.engine import Target
from conndebug.client.failure import ClientError, CloseKind
from conndebug.core.failure import FailureKind
from conndebug.wire import HttpClient
from tests.client.helpers import recorded, wait_until
from tests.node_peers import node_server

pytestmark = [pytest.mark.node, pytest.mark.timeout(60)]

TRANSPORTS = [("websocket",), ("polling",), ("polling", "websocket")]
IDS = ["websocket", "polling", "upgrade"]


@pytest.mark.parametrize("transports", TRANSPORTS, ids=IDS)
async def test_eio3_connects_and_speaks_protocol_4(
    node_dir: Path, transports: tuple[str, ...]
) -> None:
    async with (
        node_server(v2=True) as server,
        recorded(server.url, eio=3, transports=transports) as rec,
    ):
        assert rec.c.transport == ("websocket" if transports[-1] == "websocket" else "polling")
        assert rec.c.how == ("upgraded" if len(transports) == 2 else "direct")
        assert rec.c.sid == rec.c.engine_sid
        assert rec.c.open_packet.max_payload is None
        client = rec.c.client
        assert await client.call("echo", "x", b"\x01\x02", timeout=5) == ["x", b"\x01\x02"]
        assert await client.call("upload", b"\x01\x02\x03\x04", timeout=5) == [[4]]
        client.emit("mixed", {"count": 20})
        await rec.event("mixed:done")
        got = [(e.name, e.args[0]) for e in rec.events if e.name in ("bin", "text")]
        assert got == [pair for i in range(20) for pair in (("bin", i), ("text", i))]
        assert all(e.args[1] == bytes([e.args[0], 1, 2, 3]) for e in rec.named("bin"))
        assert await client.round_trip(5) is not None
        await wait_until(lambda: len(server.lines) >= 1, 5)
        assert [line["event"] for line in server.lines] == ["connection"]  # one handler run


@pytest.mark.parametrize("transports", [("websocket",), ("polling",)], ids=IDS[:2])
async def test_the_client_keeps_the_v3_heartbeat(
    node_dir: Path, transports: tuple[str, ...]
) -> None:
    # socket.io 2 expects the client's pings: without them it drops the client after
    # pingInterval + pingTimeout (here 0.5 s); 1.5 s later the session is still up.
    async with (
        node_server("--ping-interval", "200", "--ping-timeout", "300", v2=True) as server,
        recorded(server.url, eio=3, transports=transports) as rec,
    ):
        started = time.monotonic()
        await wait_until(lambda: time.monotonic() - started > 1.5, 3)
        assert rec.c.client.engine.pings >= 4
        assert rec.disconnects == []
        assert await rec.c.client.call("echo", 1, timeout=5) == [1]


async def test_no_pong_in_time_is_a_ping_timeout(node_dir: Path) -> None:
    async with (
        node_server("--ping-interval", "200", "--ping-timeout", "300", v2=True) as server,
        recorded(server.url, eio=3) as rec,
    ):
        await wait_until(lambda: rec.c.client.engine.pings >= 1, 5)
        server.process.send_signal(signal.SIGSTOP)
        try:
            gone = await rec.disconnected(5)
        finally:
            server.process.send_signal(signal.SIGCONT)
        assert gone.reason == "ping timeout"
        assert gone.close is not None
        assert gone.close.kind is CloseKind.PING_TIMEOUT


@pytest.mark.parametrize("transports", [("websocket",), ("polling",)], ids=IDS[:2])
async def test_a_v4_client_is_never_shown_connected_to_a_v2_server(
    node_dir: Path, transports: tuple[str, ...]
) -> None:
    async with node_server(v2=True) as server, HttpClient() as http:
        started = time.monotonic()
        with pytest.raises(ClientError) as info:
            await connect(http, Target(server.url), transports=transports)
        assert time.monotonic() - started < 1.0
        failure = info.value.failure
        assert failure.reason == "eio3_server"
        assert failure.kind is FailureKind.PROTOCOL
        assert "socket.io 2" in failure.message


async def test_a_v2_middleware_refusal_is_the_server_s_words(node_dir: Path) -> None:
    async with node_server("--require-token", "good", v2=True) as server, HttpClient() as http:
        with pytest.raises(ClientError) as info:
            await connect(http, Target(server.url, eio=3), auth={"token": "bad"}, connect_timeout=5)
        failure = info.value.failure
        assert failure.reason == "connect_error"
        assert failure.server_message == "Invalid token"
        good = await connect(http, Target(server.url, eio=3), auth={"token": "good"})
        assert good.namespace.connected
        await good.client.close()
