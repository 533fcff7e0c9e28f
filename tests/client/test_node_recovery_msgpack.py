"""Connection state recovery and the msgpack parser against real Node socket.io 4 servers."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from conndebug.client.client import Event
from conndebug.client.connecting import connect
from conndebug.client.engine import Target
from conndebug.client.failure import ClientError
from conndebug.core.failure import FailureKind
from conndebug.wire import HttpClient
from tests.client.helpers import recorded, wait_until
from tests.node_peers import node_server

pytestmark = [pytest.mark.node, pytest.mark.timeout(60)]

TRANSPORTS = [("websocket",), ("polling",)]


async def broadcast(http: HttpClient, url: str, count: int) -> None:
    answer = await http.request("POST", f"{url}/_test/broadcast?count={count}")
    assert answer.status == 200


@pytest.mark.parametrize("transports", TRANSPORTS, ids=["websocket", "polling"])
async def test_a_dropped_connection_is_recovered_with_the_missed_events(
    node_dir: Path, transports: tuple[str, ...]
) -> None:
    async with node_server("--recovery", "5000") as server, HttpClient() as http:
        first: list[Event] = []
        one = await connect(http, Target(server.url), transports=transports, on_event=first.append)
        assert one.facts()["recovery_offered"]
        await broadcast(http, server.url, 2)
        await wait_until(lambda: len(first) == 2, 5)
        assert [e.args[0] for e in first] == [0, 1]
        assert all(e.offset is not None and e.offset == e.args[-1] for e in first)
        state = one.namespace.recovery_state()
        assert (state.ended, state.offset) == ("open", first[-1].offset)
        one.client.abort()  # a transport loss for the server: it keeps the session
        state = one.namespace.recovery_state()
        assert state.ended == "transport"
        await wait_until(lambda: any(line["event"] == "disconnect" for line in server.lines), 5)
        await broadcast(http, server.url, 3)  # missed while away
        later: list[Event] = []
        two = await connect(
            http, Target(server.url), transports=transports, recover=state, on_event=later.append
        )
        try:
            assert two.recovered is True
            assert two.sid == one.sid
            assert two.engine_sid != one.engine_sid
            recovery = two.recovery
            assert recovery is not None
            assert [e.args[0] for e in recovery.replayed] == [0, 1, 2]
            assert all(e.replayed for e in recovery.replayed)
            assert [e.args[0] for e in later] == [0, 1, 2]
            assert two.facts()["replayed"] == 3
            await broadcast(http, server.url, 1)
            await wait_until(lambda: len(later) == 4, 5)
            assert not later[-1].replayed
            assert server.lines[-1] == {"event": "recovered", "id": two.sid, "recovered": True}
        finally:
            await two.client.close()


async def test_recovery_refused_after_a_kick_says_why(node_dir: Path) -> None:
    async with node_server("--recovery", "5000") as server, HttpClient() as http:
        got: list[Event] = []
        one = await connect(http, Target(server.url), on_event=got.append)
        await broadcast(http, server.url, 1)
        await wait_until(lambda: len(got) == 1, 5)
        assert await one.client.call("kick-me", timeout=5) == ["bye"]
        await wait_until(lambda: one.namespace.ended is not None, 5)
        state = one.namespace.recovery_state()
        assert state.ended == "kicked"
        two = await connect(http, Target(server.url), recover=state)
        try:
            assert two.recovered is False
            assert two.sid != one.sid
            assert two.recovery is not None
            assert two.recovery.why_not is not None
            assert "server disconnect" in two.recovery.why_not
        finally:
            await two.client.close()


async def test_recovery_refused_without_an_offset_or_after_expiry_says_why(node_dir: Path) -> None:
    async with node_server("--recovery", "300") as server, HttpClient() as http:
        one = await connect(http, Target(server.url))
        one.client.abort()
        state = one.namespace.recovery_state()
        assert state.offset is None
        two = await connect(http, Target(server.url), recover=state)
        assert two.recovered is False
        assert two.recovery is not None
        assert "no offset" in (two.recovery.why_not or "")
        got: list[Event] = []
        two.namespace.on_event = got.append
        await broadcast(http, server.url, 1)
        await wait_until(lambda: len(got) == 1, 5)
        two.client.abort()
        state = two.namespace.recovery_state()
        await asyncio.sleep(0.8)  # past maxDisconnectionDuration (300 ms)
        three = await connect(http, Target(server.url), recover=state)
        try:
            assert three.recovered is False
            assert three.recovery is not None
            assert "fresh session" in (three.recovery.why_not or "")
        finally:
            await three.client.close()


async def test_a_server_without_recovery_is_named(node_dir: Path) -> None:
    async with node_server() as server, HttpClient() as http:
        one = await connect(http, Target(server.url))
        assert one.namespace.pid is None
        one.client.abort()
        two = await connect(http, Target(server.url), recover=one.namespace.recovery_state())
        try:
            assert two.recovery is not None
            assert (two.recovery.asked, two.recovery.recovered) == (False, False)
            assert "no pid" in (two.recovery.why_not or "")
        finally:
            await two.client.close()


@pytest.mark.parametrize("transports", TRANSPORTS, ids=["websocket", "polling"])
async def test_msgpack_parser_connects_and_carries_binary(
    node_dir: Path, transports: tuple[str, ...]
) -> None:
    async with (
        node_server("--msgpack") as server,
        recorded(server.url, parser="msgpack", transports=transports, tap=True) as rec,
    ):
        client = rec.c.client
        assert await client.call("echo", "x", b"\x01\x02\x03", timeout=5) == ["x", b"\x01\x02\x03"]
        assert await client.call("upload", b"\x01\x02\x03\x04", timeout=5) == [[4]]
        client.emit("mixed", {"count": 5})
        await rec.event("mixed:done")
        got = [(e.name, e.args[0]) for e in rec.events if e.name in ("bin", "text")]
        assert got == [pair for i in range(5) for pair in (("bin", i), ("text", i))]
        assert all(e.binaries == (4,) for e in rec.named("bin"))
        assert rec.problems == []
        connect_out = next(
            r for r in rec.packets if r.direction == "out" and r.sio_type == "CONNECT"
        )
        assert connect_out.binary_size is not None


@pytest.mark.parametrize(
    ("server_args", "client_parser", "server_parser"),
    [(("--msgpack",), "json", "msgpack"), ((), "msgpack", "json")],
    ids=["msgpack-server", "json-server"],
)
async def test_a_parser_mismatch_is_named_within_a_second(
    node_dir: Path, server_args: tuple[str, ...], client_parser: str, server_parser: str
) -> None:
    async with node_server(*server_args) as server, HttpClient() as http:
        started = time.monotonic()
        with pytest.raises(ClientError) as info:
            await connect(http, Target(server.url), parser=client_parser)  # type: ignore[arg-type]
        assert time.monotonic() - started < 1.0
        failure = info.value.failure
        assert failure.reason == "parser_mismatch"
        assert failure.kind is FailureKind.PROTOCOL
        assert failure.phase == "namespace"
        assert failure.evidence["server_parser"] == server_parser
