"""Property-based tests: any bytes a server sends are decoded or refused in words, and any failure
facts get a printable verdict; never an exception. (URL handling and redaction:
test_properties.py; HTTP parsing: tests/wire.)"""

from __future__ import annotations

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from conndebug.client.eio import EioDecodeError, decode_payload, parse_engine_error, parse_open
from conndebug.core.diagnosis import Diagnosis
from conndebug.core.events import ConnectError, EventBus, ProbeStep
from conndebug.core.failure import FailureKind
from conndebug.core.guest import token_problem
from conndebug.core.text import one_line
from conndebug.core.verdicts import CODES

statuses = st.one_of(
    st.sampled_from([200, 204, 301, 302, 307, 400, 403, 404, 429, 500, 502, 503]),
    st.integers(min_value=100, max_value=599),
)
# Bytes that look like Engine.IO some of the time: prefixes of real packets, then anything.
prefixes = st.sampled_from(
    [b"", b"0", b"0{", b'0{"sid":', b"96:0{", b"\x00\x09\xff0{", b'{"code":', b'"', b"<", b"4"]
)
bodies = st.builds(lambda p, rest: p + rest, prefixes, st.binary(max_size=300))
REASONS = (
    None,
    "engine_error",
    "status",
    "eio3_server",
    "eio_version",
    "eio4_server",
    "not_engineio",
    "bad_open",
    "not_http",
    "closed",
    "no_answer",
    "refused",
    "parser_mismatch",
    "connect_error",
)
PHASES = ("dns", "tcp", "tls", "proxy", "handshake", "session", "websocket", "namespace", "cors")
fact_values = st.one_of(
    st.none(), st.booleans(), st.integers(), st.text(max_size=40), st.lists(st.text(max_size=8))
)
FACT_KEYS = (
    "status_line",
    "message",
    "engine_code",
    "origin_rejected",
    "location",
    "problems",
    "truncated",
    "speaks_tls",
    "eio3_opens",
    "via_proxy",
    "tunnel",
    "from_proxy",
    "found_path",
    "connected",
    "sample",
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    phase=st.sampled_from(PHASES),
    kind=st.sampled_from([k.value for k in FailureKind]),
    reason=st.sampled_from(REASONS),
    status=st.one_of(st.none(), statuses),
    code=st.one_of(st.none(), st.integers(min_value=-1, max_value=6)),
    facts=st.dictionaries(st.sampled_from(FACT_KEYS), fact_values, max_size=6),
)
def test_any_failure_a_rung_reports_gets_a_printable_verdict(
    phase: str, kind: str, reason: str | None, status: int | None, code: int | None, facts: dict
) -> None:
    """Whatever facts a probe rung (or the monitor) puts on a failure, the diagnosis names a
    verdict of the catalogue in printable words, never an exception."""
    bus = EventBus()
    diagnosis = Diagnosis()
    url = {"url": "http://127.0.0.1:3001", "host": "127.0.0.1", "port": 3001, "path": "/socket.io"}
    for event in (
        bus.emit(ProbeStep, name="url", status="ok", ms=0.0, evidence=url),
        bus.emit(
            ConnectError,
            message="the attempt failed",
            phase=phase,
            failure=kind,
            reason=reason,
            status=status,
            code=code,
            facts=facts,
        ),
    ):
        diagnosis.feed(event)
    verdict = diagnosis.verdict
    assert verdict.code in CODES
    assert verdict.exit_code == 2 or verdict.code == "inconclusive"
    for text in (verdict.title, verdict.explanation, verdict.fix):
        assert text.strip()
        assert text.isprintable(), text


@given(status=statuses, body=bodies)
@example(
    200,
    b'0{"sid":',
)
@example(400, b'{"code": true, "message": 5}')
@example(400, b'"\xff"')
def test_any_handshake_answer_decodes_or_is_refused_in_words(status: int, body: bytes) -> None:
    """The client's codecs the handshake rung reads an answer with: an error body, a payload of
    either generation, an open packet; never an exception but their own."""
    err = parse_engine_error(status, body)
    if err is not None:
        assert status in (400, 403)
        assert err.code is None or 0 <= err.code <= 5
        assert isinstance(err.message, str)
    for eio in (4, 3):
        why = ""
        try:
            packets = decode_payload(body, eio)
        except EioDecodeError as exc:
            why = str(exc) or "(no words)"
            packets = []
        assert isinstance(packets, list)
        assert why != "(no words)"


@given(st.text(max_size=300))
@example('0{"sid":"x","upgrades":[1, null, {}],"pingInterval":1e400}')
@example('{"sid":"x","maxPayload":true}')
@example('{"sid":"x","pingTimeout":NaN,"maxPayload":-Infinity}')
def test_any_text_is_an_open_packet_or_refused_in_words(text: str) -> None:
    try:
        opened = parse_open(text)
    except EioDecodeError as exc:
        refused = str(exc)
        assert refused, "refused without words"
        return
    assert all(isinstance(u, str) for u in opened.upgrades)
    for value in (opened.ping_interval_ms, opened.ping_timeout_ms, opened.max_payload):
        assert value is None or isinstance(value, int)
    assert opened.usable == (not opened.problems)


@given(st.text(max_size=2000), st.integers(min_value=2, max_value=500))
def test_one_line_is_one_printable_line_within_the_limit(text: str, limit: int) -> None:
    line = one_line(text, limit)
    assert len(line) <= limit
    assert "\n" not in line
    assert line.isprintable()


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
