"""Verdicts of the lower layers and of odd peers: DNS, TCP, TLS, proxies, HTTP that is not
Socket.IO, hostile servers. Every peer is real and on loopback."""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable

import pytest

from conndebug.core.probe import ProbeResult, run_probe
from tests.hostile import (
    Request,
    Response,
    drip_server,
    flood_server,
    forward_proxy,
    http_server,
    plain_http_server,
    silent_server,
    tls_server,
)
from tests.probe.conftest import probe_settings
from tests.servers import reference_server


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def failed_step(result: ProbeResult) -> str | None:
    return next((s.name for s in result.steps if s.status == "fail"), None)


async def test_invalid_name_is_dns_failure() -> None:
    result = await run_probe(probe_settings("http://conndebug-test.invalid:3001"))
    assert result.verdict.code == "dns_failure"
    assert "conndebug-test.invalid" in result.verdict.title
    assert failed_step(result) == "dns"
    assert all(s.status == "skip" for s in result.steps[2:])


async def test_closed_port_is_connection_refused() -> None:
    port = closed_port()
    result = await run_probe(probe_settings(f"http://127.0.0.1:{port}"))
    assert result.verdict.code == "connection_refused"
    assert result.exit_code == 2
    assert f"127.0.0.1:{port}" in result.verdict.explanation
    assert failed_step(result) == "tcp"


async def test_port_that_accepts_and_never_answers_is_connect_timeout() -> None:
    async with silent_server() as server:
        result = await run_probe(probe_settings(server.url, "--connect-timeout", "0.3"))
    assert result.verdict.code == "connect_timeout"
    assert "0.3 s" in result.verdict.explanation
    step = result.step("handshake")
    assert step is not None
    assert step.status == "fail"
    assert step.ms < 300 + 2000  # bounded by --connect-timeout (generous margin)


async def test_plain_http_server_is_not_socketio_with_a_path_hint() -> None:
    async with plain_http_server() as server:
        result = await run_probe(probe_settings(server.url))
    assert result.verdict.code == "not_socketio"
    assert "404" in result.verdict.explanation
    assert "--path" in result.verdict.fix
    assert failed_step(result) == "handshake"


async def test_wrong_path_on_a_socketio_server_names_the_right_one() -> None:
    async with reference_server() as server:
        result = await run_probe(probe_settings(server.url, "--path", "/realtime"))
    assert result.verdict.code == "not_socketio"
    assert "Use --path /socket.io" in result.verdict.fix


async def test_5xx_is_server_error() -> None:
    async with plain_http_server(503, "Service Unavailable", b"maintenance", "text/plain") as srv:
        result = await run_probe(probe_settings(srv.url))
    assert result.verdict.code == "server_error"
    assert "503" in result.verdict.title
    assert "maintenance" in result.verdict.explanation


async def test_endless_body_is_read_only_up_to_the_limit() -> None:
    async with flood_server() as server:
        result = await run_probe(probe_settings(server.url, "--connect-timeout", "5"))
    assert result.verdict.code == "not_socketio"
    step = result.step("handshake")
    assert step is not None
    assert step.evidence.get("truncated") is True


async def test_dripping_answer_is_cut_by_the_total_time_bound() -> None:
    async with drip_server(0.02) as server:
        result = await run_probe(probe_settings(server.url, "--connect-timeout", "0.5"))
    assert result.verdict.code == "connect_timeout"
    step = result.step("handshake")
    assert step is not None
    assert step.ms < 500 + 2000


@pytest.mark.parametrize(
    ("kind", "with_ca", "reason_words"),
    [
        ("untrusted", False, "not trusted"),
        ("expired", True, "expired"),
        ("wrong_host", True, "does not name 127.0.0.1"),
    ],
)
async def test_certificate_problems_are_tls_error(
    kind: str, with_ca: bool, reason_words: str
) -> None:
    async with tls_server(kind) as server:
        flags = ("--ca-bundle", server.ca_file) if with_ca and server.ca_file else ()
        result = await run_probe(probe_settings(server.url, *flags))
    assert result.verdict.code == "tls_error"
    assert reason_words in result.verdict.title
    assert failed_step(result) == "tls"
    step = result.step("tls")
    assert step is not None
    assert "subject" in step.evidence or kind == "wrong_host"
    if kind == "wrong_host":
        assert "other.example" in result.verdict.explanation


async def test_trusted_certificate_passes_the_tls_rung() -> None:
    async with tls_server("good") as server:
        assert server.ca_file
        result = await run_probe(probe_settings(server.url, "--ca-bundle", server.ca_file))
    step = result.step("tls")
    assert step is not None
    assert step.status == "ok"
    assert "TLSv1" in step.detail
    assert result.verdict.code == "not_socketio"  # the TLS test server is not Socket.IO


async def test_tls_spoken_to_a_plain_port_is_tls_error() -> None:
    async with plain_http_server() as server:
        result = await run_probe(probe_settings(server.url.replace("http://", "https://")))
    assert result.verdict.code == "tls_error"
    assert "plain HTTP port" in result.verdict.title
    assert "http://" in result.verdict.fix


async def test_plain_http_sent_to_a_tls_port_is_tls_error() -> None:
    async with tls_server("good") as server:
        result = await run_probe(probe_settings(server.url.replace("https://", "http://")))
    assert result.verdict.code == "tls_error"
    assert "TLS port" in result.verdict.title
    assert server.url in result.verdict.fix


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
async def test_forward_proxy_asking_for_credentials_is_proxy_error(tls: bool) -> None:
    async with tls_server("good") as tls_target, reference_server() as plain_target:
        target = tls_target.url if tls else plain_target.url
        async with forward_proxy("407") as proxy:
            flags = ["--proxy", proxy.url]
            if tls and tls_target.ca_file:
                flags += ["--ca-bundle", tls_target.ca_file]
            result = await run_probe(probe_settings(target, *flags))
    assert result.verdict.code == "proxy_error"
    assert "authentication" in result.verdict.title
    assert "407" in result.verdict.explanation
    assert proxy.requests
    assert proxy.requests[0].startswith("CONNECT" if tls else "GET http://")


async def test_forward_proxy_failing_is_proxy_error() -> None:
    async with reference_server() as target, forward_proxy("502") as proxy:
        result = await run_probe(probe_settings(target.url, "--proxy", proxy.url))
    assert result.verdict.code == "proxy_error"
    assert "502" in result.verdict.title


async def test_proxy_from_the_environment_is_used_unless_no_proxy_names_the_host(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with reference_server() as target, forward_proxy("407") as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        via_env = await run_probe(probe_settings(target.url))
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        bypassed = await run_probe(probe_settings(target.url))
    assert via_env.verdict.code == "proxy_error"
    assert "HTTP_PROXY" in via_env.verdict.fix
    assert bypassed.verdict.code == "ok", bypassed.verdict
    proxy_step = bypassed.step("proxy")
    assert proxy_step is not None
    assert "NO_PROXY" in proxy_step.detail


async def test_working_forward_proxy_carries_the_whole_probe() -> None:
    async with reference_server() as target, forward_proxy("pass") as proxy:
        result = await run_probe(probe_settings(target.url, "--proxy", proxy.url))
    assert result.verdict.code == "ok", result.verdict
    assert any(r.startswith("CONNECT") for r in proxy.requests)  # the websocket tunnel
    assert any(r.startswith("POST http://") for r in proxy.requests)


async def test_proxy_credentials_are_sent_and_never_shown() -> None:
    async with (
        reference_server() as target,
        forward_proxy("pass", credentials=("probe", "s3cret-pass")) as proxy,
    ):
        proxy_url = proxy.url.replace("http://", "http://probe:s3cret-pass@")
        result = await run_probe(probe_settings(target.url, "--proxy", proxy_url))
    assert result.verdict.code == "ok", result.verdict
    assert "s3cret-pass" not in repr(result.to_json_dict())
    assert "s3cret-pass" not in repr(result.environment)


async def test_the_injected_clock_stamps_steps_and_events() -> None:
    from conndebug.core.clock import FakeClock
    from conndebug.core.events import EventBus

    clock = FakeClock(start=1_000_000.0)
    result = await run_probe(
        probe_settings(f"http://127.0.0.1:{closed_port()}"), bus=EventBus(clock=clock), clock=clock
    )
    assert result.verdict.code == "connection_refused"
    assert all(step.ms == 0.0 for step in result.steps)
    assert {event.ts for event in result.history} == {1_000_000.0}


def _generation_server(eio3_open: bool) -> Callable[[Request], Awaitable[Response]]:
    """A server that refuses EIO=4 with code 5; EIO=3 gets v2 framing or code 5 too."""

    async def handler(request: Request) -> Response:
        if "EIO=3" in request.target and eio3_open:
            body = b'77:0{"sid":"x","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":5000}2:40'
            return Response(200, "OK", [("Content-Type", "text/plain")], body)
        body = b'{"code":5,"message":"Unsupported protocol version"}'
        return Response(400, "Bad Request", [("Content-Type", "application/json")], body)

    return handler


@pytest.mark.parametrize(
    ("eio3_open", "words"), [(True, "v2"), (False, "does not speak Engine.IO 4")]
)
async def test_code_5_to_eio4_is_confirmed_with_eio3(eio3_open: bool, words: str) -> None:
    async with http_server(_generation_server(eio3_open)) as server:
        result = await run_probe(probe_settings(server.url))
    assert result.verdict.code == "protocol_mismatch"
    assert words in result.verdict.title
    assert any("EIO=3" in line for line in server.requests)
