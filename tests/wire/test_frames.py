"""The websocket's fast path for plain data frames decodes exactly what wsproto decodes: any mix
of text, binary, fragmented messages, pings, split at any byte, gives the same messages either
way (a property test), and the same end on a protocol error."""

from __future__ import annotations

import asyncio
import itertools
import subprocess
import sys
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from wsproto.connection import Connection, ConnectionType

from conndebug.wire import WebSocket
from conndebug.wire._http import Timings
from tests.conftest import ROOT
from tests.wire.peers import close_frame, frame


class _Sink:
    """Enough of a Stream for decoding: it takes what the websocket writes (pongs, closes)."""

    connection_id = 0
    bytes_in = 0
    bytes_out = 0

    def __init__(self) -> None:
        self.written = bytearray()

    def write(self, data: bytes) -> None:
        self.written += data

    def close(self) -> None:
        pass

    def abort(self) -> None:
        pass


def _decoder(
    fast: bool, max_message: int = 1 << 20, *, lazy: bool = False
) -> tuple[WebSocket, _Sink]:
    """A websocket on a sink; ``lazy``: without wsproto until a frame needs it (as opened)."""
    sink = _Sink()
    ws = WebSocket(
        sink,  # type: ignore[arg-type]
        "ws://x/",
        None if lazy else Connection(ConnectionType.CLIENT),
        request_headers=(),
        status=101,
        reason="Switching Protocols",
        response_headers=(),
        subprotocol=None,
        timings=Timings(started_at=0.0),
        max_message=max_message,
        observer=None,
    )
    ws._fast = fast
    return ws, sink


def _decode(stream: bytes, cuts: list[int], fast: bool) -> tuple[list[Any], Any, bytes]:
    ws, sink = _decoder(fast)
    points = sorted({c % (len(stream) + 1) for c in cuts} | {0, len(stream)})
    for a, b in itertools.pairwise(points):
        if ws.closed is not None:
            break
        ws._receive(stream[a:b])
    closed = None if ws.closed is None else (ws.closed.who, ws.closed.code)
    return list(ws._queue), closed, bytes(sink.written[:2])


_text = st.text(max_size=300)
_binary = st.binary(max_size=300)
_message = st.one_of(
    st.tuples(st.just("text"), _text),
    st.tuples(st.just("binary"), _binary),
    st.tuples(st.just("fragmented"), st.lists(_text, min_size=2, max_size=4)),
    st.tuples(st.just("ping"), st.binary(max_size=20)),
    st.tuples(st.just("big"), st.integers(min_value=126, max_value=70_000)),
)


def _encode(messages: list[tuple[str, Any]]) -> tuple[bytes, list[Any]]:
    out = bytearray()
    expected: list[Any] = []
    for kind, value in messages:
        if kind == "text":
            out += frame(1, value.encode())
            expected.append(value)
        elif kind == "binary":
            out += frame(2, value)
            expected.append(value)
        elif kind == "fragmented":
            for i, part in enumerate(value):
                out += frame(1 if i == 0 else 0, part.encode(), fin=i == len(value) - 1)
                if i == 0:
                    out += frame(9, b"mid")  # a control frame inside a fragmented message
            expected.append("".join(value))
        elif kind == "ping":
            out += frame(9, value)
        else:
            out += frame(2, b"b" * value)
            expected.append(b"b" * value)
    return bytes(out), expected


@settings(max_examples=150, deadline=None)
@given(messages=st.lists(_message, max_size=12), cuts=st.lists(st.integers(0, 10**6), max_size=8))
def test_the_fast_path_and_wsproto_agree(messages: list[tuple[str, Any]], cuts: list[int]) -> None:
    stream, expected = _encode(messages)
    fast = _decode(stream, cuts, True)
    slow = _decode(stream, cuts, False)
    assert fast == slow
    assert fast[0] == expected
    assert fast[1] is None


@pytest.mark.parametrize(
    "bad",
    [
        frame(1, b"\xc3\x28"),  # invalid UTF-8
        frame(1, b"masked", mask=True),
        frame(2, b"x", rsv=4),
        frame(0, b"continuation without a start"),
        frame(1, b"a", fin=False) + frame(1, b"b"),  # a new message inside a fragmented one
        frame(1, b"a" * 200)[:2] + b"\x00\x05" + b"short",  # a non-minimal 16-bit length
        frame(3, b"reserved opcode"),
    ],
)
def test_protocol_errors_end_the_same_way_on_both_paths(bad: bytes) -> None:
    stream = frame(1, b"ok") + bad + frame(1, b"never")
    fast = _decode(stream, [], True)
    slow = _decode(stream, [], False)
    assert fast == slow
    messages, closed, written = fast
    assert messages == ["ok"]
    assert closed is not None
    assert closed[0] == "protocol"
    assert written[:1] == b"\x88"  # our close frame, with the code wsproto chose


def test_a_server_close_frame_ends_both_paths_alike() -> None:
    stream = frame(1, b"a") + close_frame(4002, "bye") + frame(1, b"after")
    assert _decode(stream, [1, 5], True) == _decode(stream, [1, 5], False)
    assert _decode(stream, [], True)[1] == ("server", 4002)


def _server_reads(data: bytes) -> list[Any]:
    """What a server's wsproto makes of the bytes a client wrote."""
    server = Connection(ConnectionType.SERVER)
    server.receive_data(data)
    return [
        (type(e).__name__, getattr(e, "code", None), getattr(e, "reason", None))
        for e in server.events()
    ]


@settings(max_examples=150, deadline=None)
@given(
    code=st.one_of(
        st.sampled_from([1000, 1001, 1005, 1006, 1009, 1011, 1015]), st.integers(3000, 4999)
    ),
    reason=st.text(max_size=200),
)
def test_our_own_close_frame_is_the_one_wsproto_writes(code: int, reason: str) -> None:
    """The close is framed by the wire while wsproto is not loaded: a server reads the same
    code and reason (cut at 123 bytes of whole characters) as from wsproto's frame."""
    hand, _ = _decoder(True, lazy=True)
    hand._send_close(code, reason)
    ours = hand.stream.written  # type: ignore[attr-defined]
    lib, _ = _decoder(True)
    lib._send_close(code, reason)
    theirs = lib.stream.written  # type: ignore[attr-defined]
    assert ours[1] & 0x80  # masked, as a client's frames must be
    assert _server_reads(bytes(ours)) == _server_reads(bytes(theirs))
    assert hand._wsproto is None


_after_our_close = st.lists(
    st.one_of(
        st.tuples(st.just("text"), _text),
        st.tuples(st.just("binary"), _binary),
        st.tuples(st.just("ping"), st.binary(max_size=20)),
        st.tuples(st.just("fragmented"), st.lists(_text, min_size=2, max_size=3)),
    ),
    max_size=4,
)


@settings(max_examples=150, deadline=None)
@given(
    before=_after_our_close,
    answer=st.one_of(
        st.tuples(st.integers(1000, 4999), st.text(max_size=40)),
        st.just((None, "")),
    ),
    cuts=st.lists(st.integers(0, 10**6), max_size=6),
)
def test_the_answer_to_our_close_ends_both_paths_alike(
    before: list[tuple[str, Any]], answer: tuple[int | None, str], cuts: list[int]
) -> None:
    """After our close frame, whatever comes before the server's (messages, a ping, a fragmented
    message that needs wsproto) and whatever code the server answers with, the websocket that
    framed its close itself ends as the one on wsproto from the start: closed by us, cleanly."""
    stream = _encode(before)[0] + close_frame(*answer) + frame(1, b"after")
    ends = []
    for lazy in (True, False):
        ws, sink = _decoder(True, lazy=lazy)
        ws._closing = True
        ws._send_close(1000, "")
        points = sorted({c % (len(stream) + 1) for c in cuts} | {0, len(stream)})
        for a, b in itertools.pairwise(points):
            if ws.closed is not None:
                break
            ws._receive(stream[a:b])
        assert ws.closed is not None
        ends.append((ws.closed.who, ws.closed.code, ws.closed.clean, ws.closed.message))
        assert _server_reads(bytes(sink.written[:8]))[0] == ("CloseConnection", 1000, "")
    assert ends[0] == ends[1]
    assert ends[0][:3] == ("us", 1000, True)


def test_a_websocket_that_only_carried_messages_closes_without_wsproto() -> None:
    code = (
        "import sys\n"
        "from conndebug.wire import WebSocket\n"
        "from conndebug.wire._http import Timings\n"
        "from tests.wire.peers import close_frame, frame\n"
        "class Sink:\n"
        "    connection_id = bytes_in = bytes_out = 0\n"
        "    written = bytearray()\n"
        "    def write(self, data): self.written += data\n"
        "    def close(self): pass\n"
        "    def abort(self): pass\n"
        "ws = WebSocket(Sink(), 'ws://x/', None, request_headers=(), status=101, reason='',\n"
        "    response_headers=(), subprotocol=None, timings=Timings(started_at=0.0),\n"
        "    max_message=1 << 20, observer=None)\n"
        "ws._receive(frame(1, b'hello') + frame(2, b'bin'))\n"
        "ws._closing = True\n"
        "ws._send_close(1000, '')\n"
        "ws._receive(close_frame(1000))\n"
        "print(ws.closed.who, ws.closed.clean, list(ws._queue), 'wsproto' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert done.stdout.split() == ["us", "True", "['hello',", "b'bin']", "False"], (
        done.stdout + done.stderr
    )


def test_a_frame_over_the_limit_is_refused_before_it_is_read_whole() -> None:
    ws, _sink = _decoder(True, max_message=1000)
    ws._receive(frame(2, b"x" * 5000)[:100])  # only the head and a little: the length says it all
    assert ws.closed is not None
    assert (ws.closed.who, ws.closed.code) == ("limit", 1009)
    asyncio.run(asyncio.sleep(0))


@settings(max_examples=200, deadline=None)
@given(
    opcode=st.sampled_from([0x1, 0x2]),
    size=st.one_of(st.integers(0, 130), st.integers(65530, 65540), st.just(70000)),
)
def test_the_wires_own_outgoing_frames_are_what_a_server_reads(opcode: int, size: int) -> None:
    """Whole messages are framed without wsproto (so a start never loads it): a server's
    wsproto reads each as the same message, masked as a client's must be."""
    from wsproto.events import BytesMessage, TextMessage

    from conndebug.wire._ws import _frame

    payload = bytes(i % 95 + 32 for i in range(size))
    data = _frame(opcode, payload)
    assert data[1] & 0x80  # masked
    server = Connection(ConnectionType.SERVER)
    server.receive_data(data)
    [event] = list(server.events())
    if opcode == 0x1:
        assert isinstance(event, TextMessage)
        assert event.data == payload.decode()
    else:
        assert isinstance(event, BytesMessage)
        assert bytes(event.data) == payload
    assert event.message_finished


def test_the_accept_token_is_rfc_6455s() -> None:
    from wsproto.utilities import generate_accept_token

    from conndebug.wire._ws import _accept_token, _nonce

    nonce = _nonce()
    assert len(nonce) == 24
    assert _accept_token(nonce) == generate_accept_token(nonce)
    assert _accept_token(b"dGhlIHNhbXBsZSBub25jZQ==") == b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
