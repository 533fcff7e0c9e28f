"""The client against real Node socket.io 4 servers: transports, order, binary, acks, kicks,
round trips, refusals, heartbeat and the end of a session."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conndebug.client.connecting import connect
from conndebug.client.engine import Target
from conndebug.client.failure import ClientError, CloseKind
from conndebug.core.failure import FailureKind
from conndebug.wire import HttpClient
from tests.client.helpers import recorded, wait_until
from tests.node_peers import NodeServer, node_server

pytestmark = [pytest.mark.node, pytest.mark.timeout(60)]

WS = ("websocket",)
POLL = ("polling",)


@contextlib.contextmanager
def stopped(server: NodeServer) -> Iterator[None]:
    """The server process paused (no pings, no answers), continued when the block ends."""
    server.process.send_signal(signal.SIGSTOP)
    try:
        yield
    finally:
        server.process.send_signal(signal.SIGCONT)


@pytest.mark.parametrize("transports", [WS, POLL])
async def test_each_transport_connects_directly(
    node_dir: Path, transports: tuple[str, ...]
) -> None:
    async with node_server() as server, recorded(server.url, transports=transports) as rec:
        facts = rec.c.facts()
        assert facts["transport"] == transports[0]
        assert facts["how"] == "direct"
        assert facts["sid"]
        assert facts["engine_sid"]
        assert facts["sid"] != facts["engine_sid"]
        assert (facts["ping_interval_ms"], facts["ping_timeout_ms"]) == (25000, 20000)
        assert facts["max_payload"] == 1_000_000
        assert "recovered" not in facts


async def test_polling_first_upgrades_to_the_websocket(node_dir: Path) -> None:
    async with (
        node_server() as server,
        recorded(server.url, transports=("polling", "websocket")) as rec,
    ):
        assert rec.c.how == "upgraded"
        assert rec.c.transport == "websocket"
        assert rec.c.upgrade is not None
        assert rec.c.upgrade.upgraded
        assert await rec.c.client.call("echo", "after the upgrade", timeout=5) == [
            "after the upgrade"
        ]
        await wait_until(lambda: len(server.lines) >= 1, 5)
        assert server.lines[0]["transport"] == "polling"


@pytest.mark.parametrize(
    "transports", [WS, POLL, ("polling", "websocket")], ids=["websocket", "polling", "upgrade"]
)
async def test_binary_events_arrive_in_order_with_their_true_sizes(
    node_dir: Path, transports: tuple[str, ...]
) -> None:
    async with node_server() as server, recorded(server.url, transports=transports) as rec:
        rec.c.client.emit("mixed", {"count": 40})
        await rec.event("mixed:done", 10)
        got = [(e.name, e.args[0]) for e in rec.events if e.name in ("bin", "text")]
        assert got == [pair for i in range(40) for pair in (("bin", i), ("text", i))]
        for event in rec.named("bin"):
            assert event.args[1] == bytes([event.args[0], 1, 2, 3])
            assert isinstance(event.args[1], bytes)
            assert event.binaries == (4,)
            header = f'51-["bin",{event.args[0]},{{"_placeholder":true,"num":0}}]'
            assert event.size == len(header) + 4
        assert all(e.binaries == () for e in rec.named("text"))


@pytest.mark.parametrize("transports", [WS, POLL])
async def test_binary_goes_out_in_order_and_acks_come_back(
    node_dir: Path, transports: tuple[str, ...]
) -> None:
    async with node_server() as server, recorded(server.url, transports=transports) as rec:
        client = rec.c.client
        assert await client.call("upload", b"\x01\x02\x03\x04", "x", b"y" * 1000, timeout=5) == [
            [4, "string", 1000]
        ]
        assert await client.call("echo", {"k": [1, b"\xff"]}, timeout=5) == [{"k": [1, b"\xff"]}]
        with pytest.raises(asyncio.TimeoutError):
            await client.call("nobody-answers", timeout=0.3)


async def test_an_ack_the_server_asks_for_is_answered(node_dir: Path) -> None:
    async with node_server() as server, recorded(server.url) as rec:
        rec.c.client.emit("ask")
        question = await rec.event("question")
        assert question.args == ["what?"]
        assert question.ack_id is not None
        rec.c.client.ack(question, 42, "yes")
        answered = await rec.event("answered")
        assert answered.args == [42, "yes"]


@pytest.mark.parametrize("transports", [WS, POLL])
async def test_a_kick_is_told_apart_from_a_transport_loss(
    node_dir: Path, transports: tuple[str, ...]
) -> None:
    async with node_server() as server:
        async with recorded(server.url, transports=transports) as rec:
            assert await rec.c.client.call("kick-me", timeout=5) == ["bye"]
            gone = await rec.disconnected()
            assert gone.kicked
            assert gone.reason == "io server disconnect"
            assert gone.close is None
            assert rec.c.namespace.recovery_state().ended == "kicked"
        async with recorded(server.url, transports=transports) as rec:
            server.process.send_signal(signal.SIGTERM)
            gone = await rec.disconnected(10)
            assert not gone.kicked
            assert gone.reason in ("transport close", "transport error")
            assert gone.close is not None
            assert gone.close.kind in (
                CloseKind.WS_CLOSED,
                CloseKind.EOF,
                CloseKind.SERVER_CLOSE,
                CloseKind.RESET,
                CloseKind.TRANSPORT_ERROR,
            )
            assert rec.c.namespace.recovery_state().ended == "transport"


@pytest.mark.parametrize("transports", [WS, POLL])
async def test_no_ping_in_time_is_a_ping_timeout(
    node_dir: Path, transports: tuple[str, ...]
) -> None:
    args = ("--ping-interval", "200", "--ping-timeout", "300")
    async with node_server(*args) as server, recorded(server.url, transports=transports) as rec:
        await wait_until(lambda: rec.c.client.engine.pings >= 2, 5, "two pings answered")
        started = time.monotonic()
        with stopped(server):
            gone = await rec.disconnected(5)
        assert gone.reason == "ping timeout"
        assert gone.close is not None
        assert gone.close.kind is CloseKind.PING_TIMEOUT
        assert time.monotonic() - started < 2.0


@pytest.mark.parametrize("transports", [WS, POLL])
async def test_a_round_trip_is_a_connect_to_a_namespace_that_does_not_exist(
    node_dir: Path, transports: tuple[str, ...]
) -> None:
    async with node_server() as server, recorded(server.url, transports=transports) as rec:
        rtts = [await rec.c.client.round_trip(5) for _ in range(3)]
        assert all(r is not None and 0 < r < 5000 for r in rtts)
        assert rec.events == []
        assert rec.problems == []
        await asyncio.sleep(0.1)
        assert [line["event"] for line in server.lines] == ["connection"]


async def test_a_refusal_carries_the_server_s_message_and_data(node_dir: Path) -> None:
    args = ("--require-token", "good", "--reject-data", '{"code": 42, "why": ["expired"]}')
    async with node_server(*args) as server, HttpClient() as http:
        with pytest.raises(ClientError) as info:
            await connect(http, Target(server.url), auth={"token": "bad"})
        failure = info.value.failure
        assert failure.phase == "namespace"
        assert failure.kind is FailureKind.REJECTED
        assert failure.reason == "connect_error"
        assert failure.server_message == "Invalid token"
        assert failure.server_data == {"code": 42, "why": ["expired"]}
        assert failure.transport == "websocket"
        good = await connect(http, Target(server.url), auth={"token": "good"})
        assert good.namespace.connected
        await good.client.close()


async def test_a_polling_only_server_makes_websocket_first_fall_back_at_once(
    node_dir: Path,
) -> None:
    async with (
        node_server("--transports", "polling") as server,
        recorded(server.url, ws_timeout=5.0) as rec,
    ):
        assert rec.c.how == "fallback"
        assert rec.c.transport == "polling"
        failure = rec.c.websocket_failure
        assert failure is not None
        assert failure.status == 400
        assert failure.engine_error is not None
        assert (failure.engine_error.code, failure.engine_error.name) == (0, "Transport unknown")
        assert rec.c.elapsed_ms < 2000  # refused: no wait for --ws-timeout


async def test_engineio_3_is_refused_by_a_v4_server_unless_it_allows_it(node_dir: Path) -> None:
    async with node_server() as server, HttpClient() as http:
        with pytest.raises(ClientError) as info:
            await connect(http, Target(server.url, eio=3), transports=("polling",))
        failure = info.value.failure
        assert failure.reason == "eio4_server"
        assert failure.engine_error is not None
        assert failure.engine_error.code == 5
    async with node_server("--allow-eio3") as server, recorded(server.url, eio=3) as rec:
        assert rec.c.transport == "websocket"
        assert rec.c.sid == rec.c.engine_sid  # protocol 4: the socket id is the Engine.IO id
        assert await rec.c.client.call("echo", b"\x00", timeout=5) == [b"\x00"]


@pytest.mark.parametrize("transports", [WS, POLL])
async def test_the_tap_sees_every_packet_with_true_sizes(
    node_dir: Path, transports: tuple[str, ...]
) -> None:
    async with (
        node_server() as server,
        recorded(server.url, transports=transports, tap=True) as rec,
    ):
        rec.c.client.emit("mixed", {"count": 1})
        await rec.event("mixed:done")
        records = rec.packets
        assert records[0].direction == "in"
        assert records[0].eio_type == "OPEN"
        out_connect = next(r for r in records if r.direction == "out" and r.sio_type == "CONNECT")
        assert out_connect.namespace == "/"
        head = next(r for r in records if r.sio_type == "BINARY_EVENT")
        assert head.attachments == 1
        attachment = records[records.index(head) + 1]
        assert attachment.sio_type == "ATTACHMENT"
        assert attachment.binary_size == 4
        assert attachment.text == "<binary 4 B> 00010203"
        if transports == WS:
            assert attachment.size == 4
            assert all(r.request_id is None for r in records)
        else:
            assert attachment.size == len("bAAECAw==")
            ins = [r for r in records if r.direction == "in"]
            assert all(r.request_id is not None for r in ins)
        assert [r.mono for r in records] == sorted(r.mono for r in records)
