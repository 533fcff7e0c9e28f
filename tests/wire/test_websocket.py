"""The websocket on the wire: the handshake (accepted, refused, hanging, garbage), whole messages
both ways, pings, and every way a websocket ends told apart: the server's close frame, EOF without
one, a reset, our own close, a protocol error, a message over the limit."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from conndebug.core.failure import FailureKind
from conndebug.wire import (
    NotHttp,
    WireError,
    WsClosed,
    WsRefused,
    connect_websocket,
)
from tests.node_peers import node_server
from tests.servers import reference_server
from tests.wire.peers import Peer, close_frame, frame, read_frame, reset, ws_peer

pytestmark = pytest.mark.timeout(30)


async def _hold(reader: asyncio.StreamReader) -> None:
    while await reader.read(65536):
        pass


def script_of(*data: bytes, then: str = "hold"):  # type: ignore[no-untyped-def]
    """A peer script: send ``data``, then ``hold`` (until the client closes), ``eof``, ``reset``."""

    async def script(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: Peer
    ) -> None:
        for chunk in data:
            writer.write(chunk)
            await writer.drain()
        if then == "eof":
            await asyncio.sleep(0.05)
            return
        if then == "reset":
            await asyncio.sleep(0.05)
            reset(writer)
            return
        while chunk := await reader.read(65536):
            peer.received += chunk

    return script


async def test_engineio_over_websocket_against_the_reference_server() -> None:
    async with reference_server() as server:
        ws = await connect_websocket(
            server.url + "/socket.io/?EIO=4&transport=websocket", timeout=3
        )
        opening = await ws.recv(timeout=3)
        await ws.close()
    assert isinstance(opening, str)
    assert opening.startswith("0{")
    assert "sid" in json.loads(opening[1:])
    assert ws.status == 101
    assert ws.reason == "Switching Protocols"
    assert ws.timings.tcp is not None
    assert ws.timings.total >= ws.timings.tcp
    assert ("upgrade", "websocket") in ws.response_headers
    assert ws.closed is not None
    assert ws.closed.who == "us"
    assert ws.closed.clean


@pytest.mark.node
async def test_a_storm_from_node_socketio_arrives_whole_and_in_order(node_dir: Path) -> None:
    async with node_server() as server:
        ws = await connect_websocket(
            server.url + "/socket.io/?EIO=4&transport=websocket", timeout=5
        )
        assert str(await ws.recv(timeout=5)).startswith("0{")
        await ws.send_text("40")
        assert str(await ws.recv(timeout=5)).startswith("40")
        await ws.send_text('42["storm",{"count":3000,"size":10}]')
        got: list[int] = []
        while True:
            for message in await ws.recv_many(timeout=10):
                assert isinstance(message, str)
                if message == "2":
                    await ws.send_text("3")
                    continue
                name, data = json.loads(message[2:])
                if name == "storm:done":
                    break
                got.append(data["i"])
            else:
                continue
            break
        await ws.close()
    assert got == list(range(3000))


async def test_a_refused_handshake_says_status_reason_headers_and_body() -> None:
    body = b'{"code":3,"message":"Bad request"}'
    refusal = (
        b"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nSet-Cookie: lb=2\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )
    async with ws_peer(script_of(), refuse=refusal) as peer:
        with pytest.raises(WsRefused) as failure:
            await connect_websocket(peer.url + "/socket.io/?EIO=4&transport=websocket", timeout=3)
    error = failure.value
    assert (error.status, error.reason_phrase, error.body) == (400, "Bad Request", body)
    assert error.header("content-type") == "application/json"
    assert (error.kind, error.phase) == (FailureKind.HTTP, "websocket")
    assert error.message == "the server answered the websocket upgrade with HTTP 400 Bad Request"


async def test_the_reference_servers_rejected_websocket_is_a_refusal() -> None:
    async with reference_server(websocket="reject") as server:
        with pytest.raises(WsRefused) as failure:
            await connect_websocket(server.url + "/socket.io/?EIO=4&transport=websocket", timeout=3)
    assert 400 <= failure.value.status < 500


async def test_a_refusal_body_is_bounded() -> None:
    huge = b"HTTP/1.1 403 Forbidden\r\nContent-Length: 10000000\r\n\r\n" + b"x" * 100_000
    async with ws_peer(script_of(), refuse=huge) as peer:
        with pytest.raises(WsRefused) as failure:
            await connect_websocket(peer.url + "/", timeout=3)
    assert len(failure.value.body) == 16 * 1024
    assert failure.value.truncated is True


async def test_a_handshake_nobody_answers_times_out_in_the_websocket_phase() -> None:
    async with ws_peer(script_of(), answer=lambda request: None) as peer:
        started = time.monotonic()
        with pytest.raises(WireError) as failure:
            await connect_websocket(peer.url + "/", timeout=0.6)
        took = time.monotonic() - started
    error = failure.value
    assert (error.kind, error.phase, error.reason) == (
        FailureKind.TIMEOUT,
        "websocket",
        "no_answer",
    )
    assert error.message == "no answer to the websocket upgrade within 0.6 s"
    assert took < 3


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (b"SSH-2.0-OpenSSH_9.6\r\n", NotHttp),
        (
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: wrong\r\n\r\n",
            WireError,
        ),
    ],
    ids=["garbage", "bad-accept"],
)
async def test_a_broken_handshake_answer_is_named(answer: bytes, expected: type) -> None:
    async with ws_peer(script_of(), answer=lambda request: answer) as peer:
        with pytest.raises(expected) as failure:
            await connect_websocket(peer.url + "/", timeout=2)
    assert failure.value.kind is FailureKind.PROTOCOL
    assert failure.value.phase == "websocket"


async def test_messages_both_ways_text_and_binary() -> None:
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: Peer) -> None:
        for _ in range(2):
            opcode, payload = await read_frame(reader)
            writer.write(frame(opcode, payload))
        await writer.drain()
        await _hold(reader)

    async with ws_peer(echo) as peer:
        ws = await connect_websocket(peer.url + "/", timeout=2)
        await ws.send_text("héllo")
        await ws.send_bytes(b"\x00\xff")
        assert await ws.recv(timeout=2) == "héllo"
        assert await ws.recv(timeout=2) == b"\x00\xff"
        await ws.close()


async def test_frames_sent_with_the_101_are_not_lost() -> None:
    def answer(request: object) -> bytes:
        from tests.wire.peers import accept_key

        key = request.header("sec-websocket-key")
        return (
            (
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Accept: {accept_key(key)}\r\n\r\n"
            ).encode()
            + frame(1, b"0{}")
            + frame(1, b"40")
        )

    async with ws_peer(script_of(), answer=answer) as peer:
        ws = await connect_websocket(peer.url + "/", timeout=2)
        assert [await ws.recv(timeout=2), await ws.recv(timeout=2)] == ["0{}", "40"]
        ws.abort()


async def test_fragments_are_reassembled_and_pings_answered_in_between() -> None:
    data = [
        frame(1, b"hel", fin=False),
        frame(9, b"are you there"),
        frame(0, b"lo ", fin=False),
        frame(0, b"world"),
        frame(2, b"\x01" * 70_000),  # a 64-bit length, larger than one read
        frame(1, b"x" * 200),
    ]
    async with ws_peer(script_of(*data)) as peer:
        ws = await connect_websocket(peer.url + "/", timeout=2)
        got = [await ws.recv(timeout=2) for _ in range(3)]
        await ws.close()
    assert got == ["hello world", b"\x01" * 70_000, "x" * 200]
    # the pong went back, masked, with the ping's payload
    assert peer.received[:2] == bytes([0x8A, 0x80 | 13])


async def test_a_frame_arriving_a_byte_at_a_time_is_one_message() -> None:
    whole = frame(1, b"drip" * 40)
    async with ws_peer(script_of(*[whole[i : i + 1] for i in range(len(whole))])) as peer:
        ws = await connect_websocket(peer.url + "/", timeout=2)
        assert await ws.recv(timeout=3) == "drip" * 40
        ws.abort()


@pytest.mark.parametrize(
    ("code", "reason", "expected_code", "words"),
    [
        (4000, "bye now", 4000, "the server closed the websocket (code 4000: bye now)"),
        (None, "", None, "the server closed the websocket (no code)"),
    ],
)
async def test_a_close_by_the_server_says_who_code_and_reason(
    code: int | None, reason: str, expected_code: int | None, words: str
) -> None:
    async with ws_peer(script_of(frame(1, b"last"), close_frame(code, reason))) as peer:
        ws = await connect_websocket(peer.url + "/", timeout=2)
        assert await ws.recv(timeout=2) == "last"
        with pytest.raises(WsClosed) as closed:
            await ws.recv(timeout=2)
        with pytest.raises(WsClosed) as again:
            await ws.recv(timeout=2)
        with pytest.raises(WsClosed):
            await ws.send_text("too late")
        await asyncio.sleep(0.1)
    error = closed.value
    assert (error.who, error.code, error.close_reason, error.clean) == (
        "server",
        expected_code,
        reason,
        True,
    )
    assert error.message == words
    assert again.value is error
    assert peer.received[:1] == b"\x88"  # our answering close frame


@pytest.mark.parametrize(
    ("then", "who", "words"),
    [
        ("eof", "eof", "the server closed the connection without a close frame"),
        ("reset", "reset", "the connection was reset"),
    ],
)
async def test_eof_and_reset_are_told_apart(then: str, who: str, words: str) -> None:
    async with ws_peer(script_of(frame(1, b"before"), then=then)) as peer:
        ws = await connect_websocket(peer.url + "/", timeout=2)
        assert await ws.recv(timeout=2) == "before"
        with pytest.raises(WsClosed) as closed:
            await ws.recv(timeout=2)
    assert closed.value.who == who
    assert closed.value.kind is FailureKind.CLOSED
    assert closed.value.message.startswith(words)
    assert closed.value.code is None


async def test_our_own_close_waits_for_the_servers_answer() -> None:
    async def answering(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: Peer
    ) -> None:
        opcode, payload = await read_frame(reader)
        assert opcode == 8
        writer.write(frame(8, payload))
        await writer.drain()

    async with ws_peer(answering) as peer:
        ws = await connect_websocket(peer.url + "/", timeout=2)
        await ws.close(4001, "done")
    assert ws.closed is not None
    assert (ws.closed.who, ws.closed.code, ws.closed.clean) == ("us", 4001, True)
    assert ws.closed.message == "we closed the websocket (code 4001: done)"

    async with ws_peer(script_of()) as peer:  # a server that never answers the close
        ws = await connect_websocket(peer.url + "/", timeout=2)
        started = time.monotonic()
        await ws.close(timeout=0.3)
        took = time.monotonic() - started
    assert ws.closed is not None
    assert (ws.closed.who, ws.closed.clean) == ("us", False)
    assert ws.closed.message.endswith("the server did not answer the close")
    assert took < 2


async def test_a_message_over_the_limit_closes_with_1009() -> None:
    async with ws_peer(script_of(frame(2, b"\0" * 5000))) as peer:
        ws = await connect_websocket(peer.url + "/", timeout=2, max_message=4096)
        with pytest.raises(WsClosed) as closed:
            await ws.recv(timeout=2)
        await asyncio.sleep(0.1)
    assert (closed.value.who, closed.value.code) == ("limit", 1009)
    assert closed.value.kind is FailureKind.PROTOCOL
    assert peer.received[:1] == b"\x88"  # our close frame went out


async def test_fragments_over_the_limit_close_with_1009_too() -> None:
    parts = [frame(1, b"a" * 1000, fin=False)] + [frame(0, b"a" * 1000, fin=False)] * 10
    async with ws_peer(script_of(*parts)) as peer:
        ws = await connect_websocket(peer.url + "/", timeout=2, max_message=4096)
        with pytest.raises(WsClosed) as closed:
            await ws.recv(timeout=2)
    assert (closed.value.who, closed.value.code) == ("limit", 1009)


@pytest.mark.parametrize(
    ("bad", "code"),
    [
        (frame(1, b"masked", mask=True), 1002),
        (frame(1, b"\xff\xfe"), 1007),
        (frame(1, b"rsv", rsv=4), 1002),
        (frame(0, b"orphan continuation"), 1002),
    ],
    ids=["masked", "bad-utf8", "rsv", "orphan"],
)
async def test_a_protocol_error_by_the_server_is_named(bad: bytes, code: int) -> None:
    async with ws_peer(script_of(frame(1, b"fine"), bad)) as peer:
        ws = await connect_websocket(peer.url + "/", timeout=2)
        assert await ws.recv(timeout=2) == "fine"
        with pytest.raises(WsClosed) as closed:
            await ws.recv(timeout=2)
    assert (closed.value.who, closed.value.code) == ("protocol", code)
    assert closed.value.message.startswith("the server broke the websocket protocol")


async def test_recv_is_bounded_when_asked() -> None:
    async with ws_peer(script_of()) as peer:
        ws = await connect_websocket(peer.url + "/", timeout=2)
        with pytest.raises(asyncio.TimeoutError):
            await ws.recv(timeout=0.2)
        assert ws.closed is None
        ws.abort()
    assert ws.closed is not None
    assert ws.closed.who == "us"


async def test_closing_while_another_task_reads_ends_both_as_ours() -> None:
    async def answering(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: Peer
    ) -> None:
        writer.write(frame(1, b"hello"))
        await writer.drain()
        opcode, payload = await read_frame(reader)
        assert opcode == 8
        writer.write(frame(1, b"late") + frame(8, payload))
        await writer.drain()
        await reader.read()

    async with ws_peer(answering) as peer:
        ws = await connect_websocket(peer.url + "/", timeout=2)
        assert await ws.recv(timeout=2) == "hello"

        async def reader() -> WsClosed:
            while True:
                try:
                    await ws.recv_many(timeout=3)
                except WsClosed as closed:
                    return closed

        reading = asyncio.create_task(reader())
        await asyncio.sleep(0.05)  # the reader waits in recv_many
        await ws.close(4003, "bye", timeout=2)
        ended = await asyncio.wait_for(reading, 3)
    assert ended is ws.closed
    assert (ended.who, ended.code, ended.clean) == ("us", 4003, True)


async def test_a_second_reader_is_an_error_not_a_hang() -> None:
    async with ws_peer(script_of()) as peer:
        ws = await connect_websocket(peer.url + "/", timeout=2)
        first = asyncio.create_task(ws.recv(timeout=2))
        await asyncio.sleep(0.05)
        with pytest.raises(RuntimeError, match="two tasks read"):
            await ws.recv(timeout=1)
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        ws.abort()
