"""Socket.IO codec against python-socketio's packets (the oracle): default and msgpack parsers."""

from __future__ import annotations

import json
from typing import Any

import msgpack
import pytest
import socketio.msgpack_packet
import socketio.packet
from hypothesis import given, settings
from hypothesis import strategies as st

from conndebug.client import sio
from conndebug.client.sio import SioPacket, SioType

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)


def json_values(binary: bool) -> st.SearchStrategy[Any]:
    leaves = scalars | st.binary(max_size=20) if binary else scalars
    return st.recursive(
        leaves,
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(
                st.text(max_size=8).filter(lambda k: k != "_placeholder"), children, max_size=4
            )
        ),
        max_leaves=12,
    )


namespaces = st.sampled_from(["/"]) | st.from_regex(r"\A/[a-z0-9_-]{1,10}\Z")
ids = st.none() | st.integers(0, 2**53)


@st.composite
def packets(draw: st.DrawFn, *, binary: bool = True) -> SioPacket:
    kind = draw(
        st.sampled_from(
            [SioType.CONNECT, SioType.DISCONNECT, SioType.EVENT, SioType.ACK, SioType.CONNECT_ERROR]
        )
    )
    ns = draw(namespaces)
    values = json_values(binary)
    if kind is SioType.CONNECT:
        data = draw(
            st.none() | st.dictionaries(st.text(max_size=8), json_values(False), max_size=3)
        )
        return SioPacket(kind, ns, data)
    if kind is SioType.DISCONNECT:
        return SioPacket(kind, ns)
    if kind is SioType.CONNECT_ERROR:
        data = draw(
            st.text(max_size=20)
            | st.fixed_dictionaries({"message": st.text(max_size=20), "data": json_values(False)})
        )
        return SioPacket(kind, ns, data)
    if kind is SioType.EVENT:
        data = [draw(st.text(max_size=20)), *draw(st.lists(values, max_size=4))]
        return SioPacket(kind, ns, data, draw(ids))
    return SioPacket(kind, ns, draw(st.lists(values, max_size=4)), draw(st.integers(0, 2**53)))


def oracle(p: SioPacket) -> socketio.packet.Packet:
    return socketio.packet.Packet(int(p.type), p.data, namespace=p.namespace, id=p.id)


def same(
    ours: SioPacket, kind: int, namespace: str | None, data: Any, packet_id: int | None
) -> None:
    assert int(ours.type) == kind
    assert ours.namespace == (namespace or "/")
    assert ours.data == data
    assert ours.id == packet_id


def feed_all(decoder: sio.Decoder, wire: list[str | bytes]) -> SioPacket:
    result = None
    for i, item in enumerate(wire):
        result = decoder.feed(item)
        if i < len(wire) - 1:
            assert result is None
    assert result is not None
    return result


@settings(max_examples=400)
@given(packet=packets())
def test_json_decodes_what_python_socketio_encodes(packet: SioPacket) -> None:
    theirs = oracle(packet)
    wire = theirs.encode()
    wire_list = wire if isinstance(wire, list) else [wire]
    ours = feed_all(sio.JsonDecoder(), wire_list)
    assert int(ours.type) == theirs.packet_type  # BINARY_EVENT stays BINARY_EVENT: what was sent
    same(ours, int(ours.type), packet.namespace, packet.data, packet.id)
    if len(wire_list) > 1:
        assert ours.binaries == wire_list[1:]


@settings(max_examples=400)
@given(packet=packets())
def test_python_socketio_decodes_what_json_encodes(packet: SioPacket) -> None:
    wire = sio.JsonParser().encode(packet)
    assert isinstance(wire[0], str)
    theirs = socketio.packet.Packet(encoded_packet=wire[0])
    for attachment in wire[1:]:
        theirs.add_attachment(attachment)
    kind = theirs.packet_type
    same_kind = {5: 2, 6: 3}.get(kind, kind)
    assert same_kind == int(packet.type)
    assert (theirs.namespace or "/") == packet.namespace
    assert theirs.data == packet.data
    assert theirs.id == packet.id


@settings(max_examples=200)
@given(packet=packets(binary=False))
def test_ascii_text_is_exactly_python_socketio_s(packet: SioPacket) -> None:
    wire = sio.JsonParser().encode(packet)
    theirs = oracle(packet).encode()
    if isinstance(theirs, str) and all(" " <= ch <= "~" for ch in str(wire[0])):
        assert wire == [theirs]


def test_binary_events_keep_attachment_order_and_true_sizes() -> None:
    parser = sio.JsonParser()
    wire = parser.encode(
        SioPacket(SioType.EVENT, "/", ["up", b"\x01\x02\x03\x04", {"b": b"\x05"}, "last"])
    )
    assert wire == [
        '52-["up",{"_placeholder":true,"num":0},{"b":{"_placeholder":true,"num":1}},"last"]',
        b"\x01\x02\x03\x04",
        b"\x05",
    ]
    decoder = parser.decoder()
    assert decoder.feed(wire[0]) is None
    assert decoder.feed(wire[1]) is None
    packet = decoder.feed(wire[2])
    assert packet is not None
    assert packet.data == ["up", b"\x01\x02\x03\x04", {"b": b"\x05"}, "last"]
    assert [len(b) for b in packet.binaries] == [4, 1]
    assert packet.type is SioType.BINARY_EVENT
    assert packet.attachments == 0


def test_binary_ack_and_namespace_and_id() -> None:
    wire = sio.JsonParser().encode(SioPacket(SioType.ACK, "/admin", [b"\xff"], 7))
    assert wire == ['61-/admin,7[{"_placeholder":true,"num":0}]', b"\xff"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", (SioType.CONNECT, "/", None, None)),
        ('0{"sid":"abc","pid":"p1"}', (SioType.CONNECT, "/", {"sid": "abc", "pid": "p1"}, None)),
        ("0/admin,", (SioType.CONNECT, "/admin", None, None)),
        ("0/admin?x=1,", (SioType.CONNECT, "/admin", None, None)),
        ("0/admin", (SioType.CONNECT, "/admin", None, None)),
        ("1", (SioType.DISCONNECT, "/", None, None)),
        (
            '4{"message":"not authorized","data":{"code":7}}',
            (SioType.CONNECT_ERROR, "/", {"message": "not authorized", "data": {"code": 7}}, None),
        ),
        ('4"Authentication error"', (SioType.CONNECT_ERROR, "/", "Authentication error", None)),
        ('212["a"]', (SioType.EVENT, "/", ["a"], 12)),
        ("3/x,5[1,2]", (SioType.ACK, "/x", [1, 2], 5)),
        ("2[5]", (SioType.EVENT, "/", [5], None)),
    ],
)
def test_known_packets(text: str, expected: tuple[Any, ...]) -> None:
    p = sio.decode_text(text)
    assert (p.type, p.namespace, p.data, p.id) == expected


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "empty"),
        ("9", "unknown Socket.IO packet type"),
        ("2", "without data"),
        ("2{}", "not a non-empty list"),
        ("2[]", "not a non-empty list"),
        ("2[null]", "event name is not a string"),
        ('2["a"', "not JSON"),
        ("0[1]", "CONNECT packet whose data is not an object"),
        ("1[1]", "DISCONNECT packet with data"),
        ("3{}", "not a list"),
        ("4[1]", "neither text nor an object"),
        ("5-[1]", "attachment count"),
        ("50-[1]", "announcing no attachments"),
        ("51001-[1]", "more than 1,000"),
        ("2" + "1" * 40 + "[1]", "ack id of 40 digits"),
        ("2" + "[" * 100_000, "refused: JSON nested deeper than 1,000 levels"),
    ],
)
def test_bad_packets_are_refused_in_words(text: str, why: str) -> None:
    with pytest.raises(sio.SioDecodeError, match=why):
        sio.decode_text(text)


def test_attachment_state_errors() -> None:
    d = sio.JsonDecoder()
    with pytest.raises(sio.SioDecodeError, match="no binary packet announced"):
        d.feed(b"\x01")
    assert d.feed('52-["a",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]') is None
    assert d.feed(b"x") is None
    with pytest.raises(sio.SioDecodeError, match="1 binary attachment"):
        d.feed('2["b"]')
    assert d.pending is None
    assert d.feed('2["b"]') is not None


def test_a_placeholder_naming_no_attachment_is_refused() -> None:
    d = sio.JsonDecoder()
    assert d.feed('51-["a",{"_placeholder":true,"num":3}]') is None
    with pytest.raises(sio.SioDecodeError, match="attachment 3 of 1"):
        d.feed(b"x")


def test_reconstruct_reaches_deep_placeholders_without_recursion() -> None:
    data: Any = {"_placeholder": True, "num": 0}
    for _ in range(900):
        data = [data]
    out = sio.reconstruct(data, [b"deep"])
    for _ in range(900):
        out = out[0]
    assert out == b"deep"


def test_huge_event_names_and_namespaces_are_clipped() -> None:
    p = sio.decode_text("0/" + "n" * 10_000 + ",")
    assert len(p.namespace) < 260
    assert "10,001 in all" in p.namespace


# --- msgpack ---------------------------------------------------------------------------------------


def oracle_msgpack(p: SioPacket) -> socketio.msgpack_packet.MsgPackPacket:
    return socketio.msgpack_packet.MsgPackPacket(
        int(p.type), p.data, namespace=p.namespace, id=p.id
    )


@settings(max_examples=300)
@given(packet=packets())
def test_msgpack_decodes_what_python_socketio_encodes(packet: SioPacket) -> None:
    wire = oracle_msgpack(packet).encode()
    ours = sio.MsgpackDecoder().feed(wire)
    assert ours is not None
    same(ours, int(packet.type), packet.namespace, packet.data, packet.id)


@settings(max_examples=300)
@given(packet=packets())
def test_python_socketio_decodes_what_msgpack_encodes(packet: SioPacket) -> None:
    (wire,) = sio.MsgpackParser().encode(packet)
    assert isinstance(wire, bytes)
    theirs = socketio.msgpack_packet.MsgPackPacket(encoded_packet=wire)
    assert theirs.packet_type == int(packet.type)
    assert theirs.namespace == packet.namespace
    assert theirs.data == packet.data
    assert theirs.id == packet.id


def test_msgpack_reads_notepack_s_undefined_and_arraybuffers() -> None:
    # notepack.io (the JavaScript msgpack of socket.io-msgpack-parser): undefined is fixext 1
    # type 0, an ArrayBuffer is ext 8 type 0.
    wire = b"\x83\xa4type\x02\xa3nsp\xa1/\xa4data\x93\xa1x\xd4\x00\x00\xc7\x03\x00abc"
    p = sio.MsgpackDecoder().feed(wire)
    assert p is not None
    assert p.data == ["x", None, b"abc"]


@pytest.mark.parametrize(
    ("wire", "why"),
    [
        ("40", "server uses the default \\(JSON\\) parser"),
        (b"\xc1", "not msgpack"),
        (b"\x92\x01\x02", "not a map"),
        (msgpack.packb({"type": 9, "nsp": "/"}), "valid type"),
        (msgpack.packb({"type": 2, "data": ["a"]}), "namespace"),
        (msgpack.packb({"type": 2, "nsp": "/", "data": ["a"], "id": "x"}), "ack id"),
        (msgpack.packb({"type": 2, "nsp": "/"}), "without data"),
        (b"\x91" * 100_000 + b"\x01", "nested deeper"),
    ],
    ids=["text", "c1", "array", "type", "nsp", "id", "nodata", "deep"],
)
def test_msgpack_refuses_in_words(wire: str | bytes, why: str) -> None:
    with pytest.raises(sio.SioDecodeError, match=why):
        sio.MsgpackDecoder().feed(wire)


def test_msgpack_is_imported_only_when_asked_for() -> None:
    import subprocess
    import sys

    code = (
        "import sys, conndebug.client.sio as s; p = s.make_parser('json'); "
        "print('msgpack' in sys.modules); s.make_parser('msgpack'); print('msgpack' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=30
    )
    assert out.stdout.split() == ["False", "True"]


def test_json_encoding_is_compact() -> None:
    (wire,) = sio.JsonParser().encode(SioPacket(SioType.EVENT, "/", ["a", {"b": [1, 2]}], 3))
    assert wire == '23["a",{"b":[1,2]}]'
    assert json.loads(wire[2:]) == ["a", {"b": [1, 2]}]
