"""The observer sees every exchange, connection, websocket open, message and end, in the order they
happened on the wire, with what a HAR export needs; without one, nothing is recorded."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest

from conndebug.wire import (
    ConnectionClosed,
    ConnectionOpened,
    HttpClient,
    HttpExchange,
    Observer,
    WireError,
    WsClosed,
    WsEnded,
    WsMessage,
    WsOpened,
    WsRefused,
)
from tests.conftest import ROOT
from tests.wire.peers import Peer, close_frame, frame, ok, read_frame, scripted, ws_peer

pytestmark = pytest.mark.timeout(30)


class Recorder(Observer):
    def __init__(self) -> None:
        self.records: list[object] = []

    def connection_opened(self, record: ConnectionOpened) -> None:
        self.records.append(record)

    def connection_closed(self, record: ConnectionClosed) -> None:
        self.records.append(record)

    def http_exchange(self, record: HttpExchange) -> None:
        self.records.append(record)

    def ws_opened(self, record: WsOpened) -> None:
        self.records.append(record)

    def ws_message(self, record: WsMessage) -> None:
        self.records.append(record)

    def ws_ended(self, record: WsEnded) -> None:
        self.records.append(record)

    def ws_refused(self, record: HttpExchange) -> None:
        self.records.append(("refused", record))

    def kinds(self) -> list[str]:
        return [type(r).__name__ if not isinstance(r, tuple) else r[0] for r in self.records]


async def test_http_exchanges_are_observed_in_order_with_heads_bodies_and_timings() -> None:
    answers = [ok(b"first", "Set-Cookie: s=1"), ok(b"second", "Connection: close")]
    recorder = Recorder()
    http = HttpClient(timeout=2, observer=recorder)
    async with scripted(lambda r, i: answers[i]) as peer, http:
        await http.request("GET", peer.url + "/a")
        await http.request("POST", peer.url + "/b", body=b"payload")
        with pytest.raises(WireError):
            await http.request("GET", "http://127.0.0.1:1/")
    assert recorder.kinds() == [
        "ConnectionOpened",
        "HttpExchange",
        "HttpExchange",
        "ConnectionClosed",
        "HttpExchange",
    ]
    opened, first, second, closed, failed = recorder.records
    assert isinstance(opened, ConnectionOpened)
    assert (opened.via, opened.tls, opened.peer) == ("direct", False, f"127.0.0.1:{peer.port}")
    assert isinstance(first, HttpExchange)
    assert isinstance(second, HttpExchange)
    assert (first.method, first.url, first.status, first.response_body) == (
        "GET",
        peer.url + "/a",
        200,
        b"first",
    )
    assert ("set-cookie", "s=1") in first.response_headers
    assert first.request_headers[0] == ("Host", f"127.0.0.1:{peer.port}")
    assert first.timings.tcp is not None
    assert first.connection_id == second.connection_id == opened.connection_id
    assert ("Cookie", "s=1") in second.request_headers  # as sent, the jar's cookie included
    assert (second.request_body, second.request_body_size) == (b"payload", 7)
    assert second.timings.reused is True
    assert isinstance(closed, ConnectionClosed)
    assert closed.bytes_in > 0
    assert closed.bytes_out > 0
    assert closed.requests == 2
    assert isinstance(failed, HttpExchange)
    assert failed.status is None
    assert isinstance(failed.error, WireError)
    assert failed.connection_id is None


async def test_websocket_open_messages_and_end_are_observed_in_order() -> None:
    async def script(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: Peer
    ) -> None:
        writer.write(frame(1, b"0{}") + frame(2, b"\x01\x02"))
        await writer.drain()
        await read_frame(reader)  # "40"
        writer.write(frame(1, b"40") + close_frame(1001, "going away"))
        await writer.drain()
        await reader.read()

    recorder = Recorder()
    async with ws_peer(script) as peer, HttpClient(timeout=2, observer=recorder) as http:
        ws = await http.websocket(peer.url + "/socket.io/?EIO=4&transport=websocket")
        assert await ws.recv(timeout=2) == "0{}"
        await ws.send_text("40")
        while True:
            try:
                await ws.recv(timeout=2)
            except WsClosed:
                break
    assert recorder.kinds() == [
        "ConnectionOpened",
        "WsOpened",
        "WsMessage",
        "WsMessage",
        "WsMessage",
        "WsMessage",
        "WsEnded",
        "ConnectionClosed",
    ]
    opened = recorder.records[1]
    assert isinstance(opened, WsOpened)
    assert opened.status == 101
    assert ("Upgrade", "websocket") in opened.request_headers
    messages = [r for r in recorder.records if isinstance(r, WsMessage)]
    assert [(m.direction, m.data) for m in messages] == [
        ("in", "0{}"),
        ("in", b"\x01\x02"),
        ("out", "40"),
        ("in", "40"),
    ]
    assert [m.size for m in messages] == [3, 2, 2, 2]
    ended = recorder.records[6]
    assert isinstance(ended, WsEnded)
    assert (ended.who, ended.code, ended.reason, ended.clean) == (
        "server",
        1001,
        "going away",
        True,
    )


async def test_a_refused_upgrade_is_observed_as_an_exchange() -> None:
    refusal = b"HTTP/1.1 403 Forbidden\r\nContent-Length: 4\r\n\r\nnope"

    async def nothing(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: Peer
    ) -> None:
        return None

    recorder = Recorder()
    async with (
        ws_peer(nothing, refuse=refusal) as peer,
        HttpClient(timeout=2, observer=recorder) as http,
    ):
        with pytest.raises(WsRefused):
            await http.websocket(peer.url + "/")
    refused = [r for r in recorder.records if isinstance(r, tuple)]
    assert len(refused) == 1
    exchange = refused[0][1]
    assert (exchange.status, exchange.reason, exchange.response_body) == (403, "Forbidden", b"nope")


def test_the_wire_loads_no_other_http_library_and_no_websocket_until_used() -> None:
    code = (
        "import sys, conndebug.wire\n"
        "print(sorted(m for m in ('aiohttp', 'httpx', 'httpcore', 'anyio', 'textual', 'wsproto',"
        " 'socketio', 'engineio') if m in sys.modules))\n"
        "conndebug.wire.WebSocket\n"
        "print('wsproto' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    # wsproto itself loads only when a frame needs it (a control frame, a fragment, the close):
    # whole messages in and out are framed by the wire (tests/wire/test_frames.py holds both
    # paths to the same bytes).
    assert done.stdout.split("\n")[:2] == ["[]", "False"], done.stdout + done.stderr
