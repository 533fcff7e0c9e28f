"""The client against python-socketio's own AsyncServer, bare and as the reference server."""

from __future__ import annotations

import time

import pytest

from conndebug.client.connecting import connect
from conndebug.client.engine import Target
from conndebug.client.failure import ClientError
from conndebug.core.failure import FailureKind
from conndebug.wire import HttpClient
from tests.client.helpers import recorded
from tests.client.pyserver import python_server
from tests.servers import reference_server

pytestmark = pytest.mark.timeout(60)

TRANSPORTS = [("websocket",), ("polling",), ("polling", "websocket")]
IDS = ["websocket", "polling", "upgrade"]


@pytest.mark.parametrize("transports", TRANSPORTS, ids=IDS)
async def test_binary_and_text_events_in_order_from_python_socketio(
    transports: tuple[str, ...],
) -> None:
    async with python_server() as server, recorded(server.url, transports=transports) as rec:
        assert rec.c.how == ("upgraded" if len(transports) == 2 else "direct")
        client = rec.c.client
        client.emit("mixed", {"count": 30})
        await rec.event("mixed:done")
        got = [(e.name, e.args[0]) for e in rec.events if e.name in ("bin", "text")]
        assert got == [pair for i in range(30) for pair in (("bin", i), ("text", i))]
        assert all(
            e.args[1] == bytes([e.args[0], 1, 2, 3]) and e.binaries == (4,)
            for e in rec.named("bin")
        )
        assert await client.call("echo", b"\x00\xff", "t", timeout=5) == [b"\x00\xff", "t"]
        assert await client.round_trip(5) is not None
        assert rec.problems == []


@pytest.mark.parametrize("transports", TRANSPORTS[:2], ids=IDS[:2])
async def test_a_python_socketio_kick(transports: tuple[str, ...]) -> None:
    async with python_server() as server, recorded(server.url, transports=transports) as rec:
        assert await rec.c.client.call("kick-me", timeout=5) == ["bye"]
        gone = await rec.disconnected()
        assert (gone.kicked, gone.reason) == (True, "io server disconnect")


async def test_the_reference_server_with_a_guest_token() -> None:
    async with reference_server() as server, HttpClient() as http:
        token, _user = await server.create_guest()
        with pytest.raises(ClientError) as info:
            await connect(http, Target(server.url), auth={"token": "nope"})
        assert info.value.failure.kind is FailureKind.REJECTED
        assert info.value.failure.server_message
        conn = await connect(http, Target(server.url), auth={"token": token})
        try:
            assert conn.transport == "websocket"
            assert await conn.client.round_trip(5) is not None
        finally:
            await conn.client.close()


async def test_a_refused_websocket_falls_back_at_once() -> None:
    async with reference_server(websocket="reject") as server, HttpClient() as http:
        token, _user = await server.create_guest()
        conn = await connect(http, Target(server.url), auth={"token": token}, ws_timeout=5)
        try:
            assert (conn.transport, conn.how) == ("polling", "fallback")
            assert conn.websocket_failure is not None
            assert conn.websocket_failure.status == 403
            assert conn.elapsed_ms < 2000
        finally:
            await conn.client.close()


async def test_a_hung_websocket_falls_back_after_the_ws_timeout() -> None:
    async with reference_server(websocket="blackhole") as server, HttpClient() as http:
        token, _user = await server.create_guest()
        started = time.monotonic()
        conn = await connect(http, Target(server.url), auth={"token": token}, ws_timeout=0.5)
        try:
            assert (conn.transport, conn.how) == ("polling", "fallback")
            failure = conn.websocket_failure
            assert failure is not None
            assert failure.kind is FailureKind.TIMEOUT
            assert 0.5 <= time.monotonic() - started < 3.0
        finally:
            await conn.client.close()


@pytest.mark.parametrize(
    ("mode", "kind"), [("reject", FailureKind.HTTP), ("blackhole", FailureKind.TIMEOUT)]
)
async def test_a_failed_upgrade_leaves_polling_and_says_why(mode: str, kind: FailureKind) -> None:
    async with reference_server(websocket=mode) as server, HttpClient() as http:
        token, _user = await server.create_guest()
        conn = await connect(
            http,
            Target(server.url),
            auth={"token": token},
            transports=("polling", "websocket"),
            ws_timeout=0.5,
        )
        try:
            assert (conn.transport, conn.how) == ("polling", "direct")
            assert conn.upgrade is not None
            assert not conn.upgrade.upgraded
            failure = conn.websocket_failure
            assert failure is not None
            assert failure.phase == "upgrade"
            assert failure.kind is kind
            if mode == "reject":
                assert failure.status == 403
            assert await conn.client.call("echo", "still polling", timeout=5) == ["still polling"]
        finally:
            await conn.client.close()
