"""Property-based tests of packet classification: any bytes a server sends get a classification,
never an exception. (URL handling and redaction: test_properties.py.)"""

from __future__ import annotations

import json

from hypothesis import example, given, settings
from hypothesis import strategies as st

from conndebug.core.guest import token_problem
from conndebug.core.probe.engineio import (
    classify_handshake,
    eio3_sample,
    engine_error,
    parse_open,
    parse_sio,
)
from conndebug.core.probe.http import HttpAnswer, HttpFailure
from conndebug.core.text import one_line

KINDS = {"open", "bad_open", "eio3", "engine_error", "html", "redirect", "server_error", "other"}

statuses = st.one_of(
    st.sampled_from([200, 204, 301, 302, 307, 400, 403, 404, 429, 500, 502, 503]),
    st.integers(min_value=100, max_value=599),
)
content_types = st.sampled_from(
    ["", "text/plain", "text/html; charset=utf-8", "application/json", "application/octet-stream"]
)
# Bytes that look like Engine.IO some of the time: prefixes of real packets, then anything.
prefixes = st.sampled_from(
    [b"", b"0", b"0{", b'0{"sid":', b"96:0{", b"\x00\x09\xff0{", b'{"code":', b'"', b"<", b"4"]
)
bodies = st.builds(lambda p, rest: p + rest, prefixes, st.binary(max_size=300))


def answer(status: int, body: bytes, content_type: str, **headers: str) -> HttpAnswer:
    head = {"content-type": content_type, **headers}
    return HttpAnswer(status, "X", head, body, False, 1.0)


@settings(max_examples=500)
@given(status=statuses, body=bodies, content_type=content_types, location=st.booleans())
@example(200, b'0{"sid":', "text/plain", False)
@example(200, b'0{"sid": 5}', "text/plain", False)
@example(200, b'0{"sid":"x","pingInterval":1e400,"pingTimeout":NaN}', "text/plain", False)
@example(200, b'0{"sid":"a","upgrades":"websocket","pingInterval":"x"}', "text/plain", False)
@example(200, b"\x00\xff", "text/plain", False)
@example(200, b"\x01\x09\x09\x09\x09\x09\x09\x09\x09\x09\x09\x09\x09\xff", "", False)
@example(400, b'{"code": true, "message": 5}', "application/json", False)
@example(400, b'"\xff"', "application/json", False)
def test_any_handshake_answer_is_classified(
    status: int, body: bytes, content_type: str, location: bool
) -> None:
    extra = {"location": "http://elsewhere.example/"} if location else {}
    hs = classify_handshake(answer(status, body, content_type, **extra))
    assert hs.kind in KINDS
    if hs.kind == "open":
        assert hs.open is not None
        assert isinstance(hs.open.sid, str)
        assert status == 200
    if hs.kind == "engine_error":
        assert hs.error is not None
    if hs.kind == "bad_open":
        assert body.startswith(b"0{")
        assert hs.open is None or hs.open.unusable
    assert isinstance(answer(status, body, content_type).sample(), str)


@given(st.text(max_size=300))
@example('0{"sid":"x","upgrades":[1, null, {}],"pingInterval":1e400}')
@example('0{"sid":"x","maxPayload":true}')
@example('0{"sid":"x","pingTimeout":NaN,"maxPayload":-Infinity}')
def test_any_text_is_an_open_packet_or_not(text: str) -> None:
    opened = parse_open(text)
    if opened is not None:
        assert text.startswith("0{")
        assert all(isinstance(u, str) for u in opened.upgrades)
        for value in (opened.ping_interval_ms, opened.ping_timeout_ms, opened.max_payload):
            assert value is None or isinstance(value, int)


@given(st.binary(max_size=300))
@example(b"\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x00\x01\xff")
@example(b"\x01\x00\xff")
def test_any_bytes_are_eio3_framing_or_not(body: bytes) -> None:
    sample = eio3_sample(body)
    assert sample is None or (isinstance(sample, str) and len(sample) <= 80)


@given(status=statuses, body=bodies)
def test_any_error_body_is_an_engine_error_or_not(status: int, body: bytes) -> None:
    err = engine_error(answer(status, body, "application/json"))
    if err is not None:
        assert status in (400, 403)
        assert err.code is None or 0 <= err.code <= 5
        assert isinstance(err.message, str)


socketio_text = st.builds(
    lambda head, ns, ack, data: head + ns + ack + data,
    st.sampled_from(["4", "40", "41", "42", "43", "44", "45", "451-", "46", "49", "4x", ""]),
    st.sampled_from(["", "/", "/admin,", "/no-comma", "/a,b,"]),
    st.sampled_from(["", "7", "123456789012345678901234567890"]),
    st.one_of(st.text(max_size=80), st.builds(json.dumps, st.lists(st.integers(), max_size=3))),
)


@given(st.one_of(socketio_text, st.text(max_size=120)))
def test_any_message_is_a_socketio_packet_or_not(message: str) -> None:
    pkt = parse_sio(message)
    if pkt is not None:
        assert 0 <= pkt.type <= 9
        assert pkt.namespace.startswith("/")
        assert pkt.ack_id is None or pkt.ack_id >= 0


@given(st.text(max_size=2000), st.integers(min_value=2, max_value=500))
def test_one_line_is_one_printable_line_within_the_limit(text: str, limit: int) -> None:
    line = one_line(text, limit)
    assert len(line) <= limit
    assert "\n" not in line
    assert line.isprintable()


@given(st.binary(max_size=400))
def test_a_parser_error_quoting_any_bytes_is_one_short_line(garbage: bytes) -> None:
    failure = HttpFailure("protocol", f"illegal status line: {bytearray(garbage)!r}", 1.0)
    assert "bytearray" not in failure.error
    assert failure.error.isprintable()
    assert len(failure.error) <= 240


@given(
    st.one_of(
        st.text(max_size=200),
        st.builds(
            lambda a, b, c: f"{a}.{b}.{c}",
            *[
                st.text(
                    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=",
                    max_size=40,
                )
            ]
            * 3,
        ),
    )
)
@example("eyJhbGciOiJub25lIn0.eyJ1c2VySWQiOiJ4In0.")
@example("e30.e30.")
@example("W10.W10.")
def test_any_token_is_read_or_named_unreadable_never_an_exception(token: str) -> None:
    problem = token_problem(token)
    assert problem is None or problem.startswith("the token is")


def test_token_problems_name_what_anyone_can_read() -> None:
    signed = "eyJhbGciOiJIUzI1NiJ9.eyJ1c2VySWQiOiJndWVzdF8xIn0.c2lnbmF0dXJl"
    unsigned = "eyJhbGciOiJub25lIn0.eyJ1c2VySWQiOiJndWVzdF8xIn0."
    assert token_problem(signed) is None
    assert "alg: none" in (token_problem(unsigned) or "")
    assert "not a readable JWT" in (token_problem("opaque-token-123") or "")
    assert "not a readable JWT" in (token_problem("eyJ.!!.x") or "")
