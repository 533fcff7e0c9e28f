"""The probe's path witness: where each answer came from, the ladder line, the heartbeat notes."""

from __future__ import annotations

import urllib.parse

from hypothesis import example, given, settings
from hypothesis import strategies as st

from conndebug.core.path import box
from conndebug.core.path.witness import PathWitness, heartbeat_notes, where_of
from tests.core import path_recorded as rec
from tests.core.path_recorded import parse


def test_where_of_names_the_engineio_requests() -> None:
    base = "http://h/socket.io/?EIO=4&transport="
    assert where_of("GET", base + "polling&t=x") == "handshake"
    assert where_of("POST", base + "polling&sid=abc") == "polling"
    assert where_of("GET", base + "websocket&sid=abc") == "websocket"
    assert where_of("POST", "http://h/api/guest") == "POST /api/guest"


def _where_of_by_parse_qs(method: str, url: str) -> str:
    """where_of as first written: urllib's parsers on every URL."""
    parts = urllib.parse.urlsplit(url)
    if "transport=" in parts.query:
        query = urllib.parse.parse_qs(parts.query)
        transport = (query.get("transport") or [""])[0]
        if transport == "websocket":
            return "websocket"
        if transport == "polling":
            return "polling" if "sid" in query else "handshake"
    return f"{method} {parts.path or '/'}"


@settings(max_examples=500, deadline=None)
@example(pairs=[("transport", "=polling"), ("sid", "=")], path="/", fragment="")
@example(pairs=[("transport", "="), ("transport", "=websocket")], path="/", fragment="")
@given(
    pairs=st.lists(
        st.tuples(
            st.sampled_from(["transport", "sid", "EIO", "t", "x", "", "sid=", "transport%3D"]),
            st.sampled_from(
                ["", "=", "=polling", "=websocket", "=abc", "=p%6Flling", "=web+socket"]
            ),
        ),
        max_size=6,
    ),
    path=st.sampled_from(["", "/", "/socket.io/", "/a?b"]),
    fragment=st.sampled_from(["", "#x", "#transport=websocket"]),
)
def test_where_of_reads_a_query_as_parse_qs_does(
    pairs: list[tuple[str, str]], path: str, fragment: str
) -> None:
    url = f"http://h{path}?" + "&".join(n + v for n, v in pairs) + fragment
    assert where_of("GET", url) == _where_of_by_parse_qs("GET", url)


def test_no_answer_is_a_skip() -> None:
    assert PathWitness().summary() == ("skip", "no HTTP answer to read", {})


def _witness(*raws: tuple[str, str]) -> PathWitness:
    witness = PathWitness()
    for raw, url in raws:
        answer = parse(raw, "x")
        witness.http("GET", url, answer.status or 0, dict(answer.headers), answer.body)
    return witness


def test_gcp_lifetime_default_is_flagged_against_any_heartbeat() -> None:
    witness = _witness((rec.GCP_HANDSHAKE, "http://h/socket.io/?EIO=4&transport=polling"))
    status, detail, evidence = witness.summary(ping_interval_ms=25000, ping_timeout_ms=20000)
    assert status == "ok"
    assert detail.startswith("Google Cloud external Application Load Balancer (Via: 1.1 google")
    assert (
        "check: Google Cloud external Application Load Balancer ends every websocket after 30 s"
        in (detail)
    )
    assert "affinity cookie GCLB" in detail
    assert detail.endswith("(probe --hold measures it)")
    assert evidence["heartbeat_notes"] == [
        "Google Cloud external Application Load Balancer ends every websocket after 30 s by default"
    ]


def test_heartbeat_notes_compare_the_defaults_with_the_heartbeat() -> None:
    assert heartbeat_notes(box("nginx"), 25, 20) == []
    assert heartbeat_notes(box("nginx"), 50, 20) == [
        "nginx's idle timeout 60 s by default is not above pingInterval + pingTimeout = 70 s"
    ]
    assert heartbeat_notes(box("envoy"), 25, 20) == [
        "Envoy's route timeout 15 s by default is not above pingInterval = 25 s: held long-polls "
        "are cut"
    ]
    assert heartbeat_notes(box("heroku"), 25, 20) == []  # 30 s to first byte, 55 s idle: fine
    assert heartbeat_notes(box("haproxy"), 25, 20) == []  # no default figure to compare


def test_websocket_refusal_and_the_answer_cap() -> None:
    witness = PathWitness()
    ws = parse(rec.HAPROXY_503, "websocket")
    witness.websocket(503, dict(ws.headers), ws.body)
    for _ in range(100):
        witness.http("GET", "http://h/", 200, {"server": "nginx"}, b"")
    assert len(witness.answers) == 64
    report = witness.report()
    assert [h.box.key for h in report.hops] == ["haproxy", "nginx"]
    assert report.hops[0].clues[0].where == "websocket"
