"""Engine.IO codec, v4 against python-engineio (the oracle) and v3 against engine.io-parser 2.x."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import engineio.packet
import engineio.payload
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from conndebug.client import eio
from conndebug.client.eio import EioPacket, EioType
from tests.client.oracles import NodeEio3, node_eio3

# Text without lone surrogates (they cannot be sent as UTF-8 by anyone).
texts = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x1e"), max_size=60)
binaries = st.binary(max_size=60)
text_packets = st.builds(EioPacket, st.sampled_from(list(EioType)), texts)
binary_packets = st.builds(lambda b: EioPacket(EioType.MESSAGE, b), binaries)
packets = st.one_of(text_packets, binary_packets)


# --- v4 -------------------------------------------------------------------------------------------


def oracle_packet(p: EioPacket) -> engineio.packet.Packet:
    return engineio.packet.Packet(int(p.type), p.data)


@settings(max_examples=300)
@given(packet=packets, b64=st.booleans())
def test_v4_packets_encode_as_python_engineio_encodes(packet: EioPacket, b64: bool) -> None:
    if not packet.binary and packet.data[:1].isdigit():
        return  # python-engineio's decoder refuses numeric payloads; its encoder is the same
    assert eio.encode_packet(packet, 4, b64=b64) == oracle_packet(packet).encode(b64=b64)


@settings(max_examples=300)
@given(packet=packets, b64=st.booleans())
def test_v4_packets_decode_what_python_engineio_encodes(packet: EioPacket, b64: bool) -> None:
    wire = oracle_packet(packet).encode(b64=b64)
    assert eio.decode_packet(wire, 4) == packet


@settings(max_examples=300)
@given(items=st.lists(packets, max_size=8))
def test_v4_payloads_round_trip_with_python_engineio(items: list[EioPacket]) -> None:
    ours = eio.encode_payload(items, 4)
    theirs = engineio.payload.Payload([oracle_packet(p) for p in items]).encode()
    assert ours == theirs
    assert eio.decode_payload(ours.encode("utf-8") if isinstance(ours, str) else ours, 4) == items
    decoded = engineio.payload.Payload()
    decoded.max_decode_packets = 100
    if items:
        decoded.decode(ours)
        assert [p.packet_type for p in decoded.packets] == [int(p.type) for p in items]
        assert [p.binary for p in decoded.packets] == [p.binary for p in items]


def test_v4_binary_over_the_websocket_is_the_data_alone() -> None:
    assert (
        eio.encode_packet(EioPacket(EioType.MESSAGE, b"\x01\x02\x03\x04"), 4) == b"\x01\x02\x03\x04"
    )
    assert eio.decode_packet(b"\x01\x02\x03\x04", 4) == EioPacket(
        EioType.MESSAGE, b"\x01\x02\x03\x04"
    )
    assert (
        eio.encode_packet(EioPacket(EioType.MESSAGE, b"\x01\x02\x03\x04"), 4, b64=True)
        == "bAQIDBA=="
    )


@pytest.mark.parametrize(
    ("wire", "why"),
    [
        ("", "empty"),
        ("9", "unknown Engine.IO packet type"),
        ("x1", "unknown Engine.IO packet type"),
        ("b!!!", "not valid base64"),
    ],
)
def test_v4_bad_packets_are_refused_in_words(wire: str, why: str) -> None:
    with pytest.raises(eio.EioDecodeError, match=why):
        eio.decode_packet(wire, 4)


def test_v4_payload_that_is_not_utf8_is_refused() -> None:
    with pytest.raises(eio.EioDecodeError, match="not valid UTF-8"):
        eio.decode_payload(b"4\xff", 4)


@settings(max_examples=300)
@given(body=st.binary(max_size=80), eio_version=st.sampled_from([3, 4]))
@example(body=b"1:", eio_version=3)
@example(body=b"\x00\x09\x09\x09\x09\x09\x09\xff", eio_version=3)
@example(body=b"\x01\xff", eio_version=3)
def test_any_payload_decodes_or_is_refused_in_words(body: bytes, eio_version: int) -> None:
    problem = ""
    try:
        eio.decode_payload(body, eio_version)
    except eio.EioDecodeError as exc:
        problem = str(exc) or "(no words)"
        assert problem != "(no words)"


# --- v3 -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def node3(node_dir: Path) -> Iterator[NodeEio3]:
    yield from node_eio3()


def test_v3_known_answers() -> None:
    # A socket.io 2 server's first polling answer: the open packet, then the implicit connect.
    body = b'96:0{"sid":"Y6f8jVX8jR5nYqY-AAAA","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":5000}2:40'
    got = eio.decode_payload(body, 3)
    assert [p.type for p in got] == [EioType.OPEN, EioType.MESSAGE]
    assert got[1].data == "0"
    assert eio.encode_payload([], 3) == "0:"
    assert eio.decode_payload(b"0:", 3) == []
    assert eio.encode_packet(EioPacket(EioType.MESSAGE, b"\x01\x02"), 3) == b"\x04\x01\x02"
    assert eio.encode_packet(EioPacket(EioType.MESSAGE, b"\x01\x02"), 3, b64=True) == "b4AQI="
    assert eio.decode_packet(b"\x04\x01\x02", 3) == EioPacket(EioType.MESSAGE, b"\x01\x02")


def test_v3_lengths_count_utf16_units_as_javascript_does() -> None:
    assert eio.js_length("a😀") == 3
    assert eio.encode_payload([EioPacket(EioType.MESSAGE, "😀é")], 3) == "4:4😀é"
    assert eio.decode_payload("4:4😀é2:40".encode(), 3) == [
        EioPacket(EioType.MESSAGE, "😀é"),
        EioPacket(EioType.MESSAGE, "0"),
    ]


@pytest.mark.parametrize(
    "body",
    [b"5:4hi", b"x:4", b"2:4", b"", b"\x00\x01\xff", b"\x01\x05\xff\x04\x01", b"\x02\x01\xff4"],
)
def test_v3_broken_payloads_are_refused_in_words(body: bytes) -> None:
    with pytest.raises(eio.EioDecodeError):
        eio.decode_payload(body, 3)


@pytest.mark.node
@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(items=st.lists(packets, min_size=1, max_size=6), binary=st.booleans())
def test_v3_payloads_match_engine_io_parser_2(
    node3: NodeEio3, items: list[EioPacket], binary: bool
) -> None:
    ours = eio.encode_payload(items, 3, binary=binary)
    theirs = node3.encode_payload(items, binary=binary)
    assert ours == theirs
    body = ours.encode("utf-8") if isinstance(ours, str) else ours
    assert eio.decode_payload(body, 3) == items
    assert node3.decode_payload(ours) == items


@pytest.mark.node
@settings(max_examples=100, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(items=st.lists(packets, min_size=1, max_size=6), binary=st.booleans())
def test_v3_decodes_what_engine_io_parser_2_encodes(
    node3: NodeEio3, items: list[EioPacket], binary: bool
) -> None:
    theirs = node3.encode_payload(items, binary=binary)
    body = theirs.encode("utf-8") if isinstance(theirs, str) else theirs
    assert eio.decode_payload(body, 3) == items


# --- the open packet and error bodies -------------------------------------------------------------


def test_open_packet_facts() -> None:
    op = eio.parse_open(
        '{"sid":"abc","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}'
    )
    assert (op.sid, op.upgrades, op.ping_interval_ms, op.ping_timeout_ms, op.max_payload) == (
        "abc",
        ("websocket",),
        25000,
        20000,
        1_000_000,
    )
    assert op.usable


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('{"upgrades":[],"pingInterval":1,"pingTimeout":1}', "sid is missing"),
        ('{"sid":5,"pingInterval":1,"pingTimeout":1}', "sid is not a non-empty string"),
        ('{"sid":"a","pingInterval":0,"pingTimeout":1}', "pingInterval 0 is not a positive number"),
        ('{"sid":"a","pingInterval":-5,"pingTimeout":1}', "pingInterval -5 is not a positive"),
        ('{"sid":"a","pingInterval":1e400,"pingTimeout":1}', "pingInterval inf is not a positive"),
        ('{"sid":"a","pingInterval":1,"pingTimeout":NaN}', "pingTimeout nan is not a positive"),
        ('{"sid":"a","pingInterval":"x","pingTimeout":1}', "pingInterval 'x' is not a number"),
        ('{"sid":"a","pingInterval":1}', "pingTimeout is missing"),
        ('{"sid":"a\\u0000","pingInterval":1,"pingTimeout":1}', "cannot go in a URL"),
    ],
)
def test_unusable_open_packets_are_flagged_not_raised(text: str, problem: str) -> None:
    op = eio.parse_open(text)
    assert not op.usable
    assert any(problem in p for p in op.problems), op.problems


def test_a_huge_sid_is_clipped_for_display_and_kept_for_the_wire() -> None:
    sid = "s" * 1_000_000
    op = eio.parse_open(f'{{"sid":"{sid}","pingInterval":1,"pingTimeout":1}}')
    assert op.raw_sid == sid
    assert op.sid is not None
    assert len(op.sid) < 260
    assert "1,000,000 in all" in op.sid


@pytest.mark.parametrize("text", ["nope", "[1]", '"x"', "[" * 100_000])
def test_open_packets_that_are_not_objects_are_refused_in_words(text: str) -> None:
    with pytest.raises(eio.EioDecodeError, match="open packet"):
        eio.parse_open(text)


@pytest.mark.parametrize(
    ("status", "body", "code", "name"),
    [
        (400, b'{"code":1,"message":"Session ID unknown"}', 1, "Session ID unknown"),
        (
            400,
            b'{"code":5,"message":"Unsupported protocol version"}',
            5,
            "Unsupported protocol version",
        ),
        (403, b'{"code":4,"message":"Forbidden"}', 4, "Forbidden"),
        (400, b'"Invalid session abc"', 1, "Session ID unknown"),
        (400, b'"Invalid transport"', 0, "Transport unknown"),
        (400, b'"Bad Request"', 3, "Bad request"),
    ],
)
def test_engine_errors_are_named(status: int, body: bytes, code: int, name: str) -> None:
    err = eio.parse_engine_error(status, body)
    assert err is not None
    assert (err.code, err.name) == (code, name)


def test_python_engineio_cors_refusal_is_recognised() -> None:
    err = eio.parse_engine_error(400, b'"http://evil.example is not an accepted origin."')
    assert err is not None
    assert err.origin_rejected
    assert err.code is None


@pytest.mark.parametrize(
    ("status", "body"),
    [(404, b'{"code":1,"message":"x"}'), (400, b'{"error":"x"}'), (400, b"<html>"), (200, b'"x"')],
)
def test_other_answers_are_not_engine_errors(status: int, body: bytes) -> None:
    assert eio.parse_engine_error(status, body) is None


def test_base64_helper_matches() -> None:
    assert base64.b64encode(b"\x00").decode() == "AA=="
