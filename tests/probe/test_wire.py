"""Pure wire-format helpers: handshake classification and Socket.IO packets."""

from __future__ import annotations

import pytest

from conndebug.core.probe.engineio import (
    classify_handshake,
    eio3_sample,
    engine_error,
    parse_open,
    parse_sio,
    sio_packet,
)
from conndebug.core.probe.http import HttpAnswer


def answer(status: int, body: bytes, content_type: str = "text/plain") -> HttpAnswer:
    return HttpAnswer(status, "X", {"content-type": content_type}, body, False, 1.0)


def test_eio4_open_packet_is_read_with_every_field() -> None:
    body = (
        b'0{"sid":"abc","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,'
        b'"maxPayload":1000000}\x1e40'
    )
    hs = classify_handshake(answer(200, body))
    assert hs.kind == "open"
    assert hs.open is not None
    assert (hs.open.sid, hs.open.upgrades) == ("abc", ("websocket",))
    assert (hs.open.ping_interval_ms, hs.open.ping_timeout_ms) == (25000, 20000)
    assert hs.open.max_payload == 1000000
    assert hs.open.rest == ("40",)


@pytest.mark.parametrize(
    "body",
    [
        b'96:0{"sid":"x","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":5000}2:40',
        b'\x00\x09\x06\xff0{"sid":"x","upgrades":[]}',
    ],
    ids=["text", "binary"],
)
def test_eio3_framing_is_recognised(body: bytes) -> None:
    assert eio3_sample(body) is not None
    assert classify_handshake(answer(200, body)).kind == "eio3"


@pytest.mark.parametrize(
    ("body", "code", "origin"),
    [
        (b'{"code":1,"message":"Session ID unknown"}', 1, False),
        (b'{"code":5,"message":"Unsupported protocol version"}', 5, False),
        (b'"Invalid session abc"', 1, False),
        (
            b'"The client is using an unsupported version of the Socket.IO or Engine.IO protocols"',
            5,
            False,
        ),
        (b'"http://evil.example is not an accepted origin."', None, True),
        (b'"Invalid transport"', 0, False),
    ],
)
def test_engine_errors_of_node_and_python_engineio(
    body: bytes, code: int | None, origin: bool
) -> None:
    err = engine_error(answer(400, body, "application/json"))
    assert err is not None
    assert err.code == code
    assert err.origin_rejected is origin


@pytest.mark.parametrize(
    ("status", "body", "ctype", "kind"),
    [
        (404, b"<html><body>Not Found</body></html>", "text/html", "html"),
        (200, b"<!doctype html><title>app</title>", "text/html", "html"),
        (200, b"hello", "text/plain", "other"),
        (502, b"bad gateway", "text/plain", "server_error"),
    ],
)
def test_other_answers(status: int, body: bytes, ctype: str, kind: str) -> None:
    assert classify_handshake(answer(status, body, ctype)).kind == kind


def test_open_packet_requires_a_sid() -> None:
    assert parse_open('0{"upgrades":[]}') is None
    assert parse_open("0{not json") is None


def test_socketio_packets_round_trip() -> None:
    assert sio_packet(0, "/", {"token": "t"}) == '40{"token":"t"}'
    assert sio_packet(0, "/admin") == "40/admin,"
    assert sio_packet(2, "/", ["ping"], ack_id=7) == '427["ping"]'
    pkt = parse_sio('44/admin,{"message":"Invalid namespace"}')
    assert pkt is not None
    assert (pkt.type, pkt.namespace, pkt.data) == (4, "/admin", {"message": "Invalid namespace"})
    ack = parse_sio('4312[{"serverTime":1}]')
    assert ack is not None
    assert (ack.type, ack.ack_id, ack.data) == (3, 12, [{"serverTime": 1}])
    assert parse_sio("3probe") is None
    text_error = parse_sio('44/x,"Unable to connect"')
    assert text_error is not None
    assert text_error.data == "Unable to connect"
