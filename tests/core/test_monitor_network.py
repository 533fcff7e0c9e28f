"""Proxies and TLS: a loopback forward proxy sees both transports; a test CA is honoured or refused."""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import trustme

from conndebug.core.model import State
from conndebug.core.monitor import Monitor, make_monitor
from tests.core.helpers import events_of, settings_for, wait_until
from tests.node_peers import node_server
from tests.proxies import forward_proxy, tcp_relay
from tests.servers import reference_server

pytestmark = pytest.mark.timeout(60)

TARGETS = ["reference", pytest.param("node", marks=pytest.mark.node)]


@contextlib.asynccontextmanager
async def target(kind: str, request: pytest.FixtureRequest) -> AsyncIterator[int]:
    """The port of a running reference server or Node socket.io 4 server."""
    if kind == "node":
        request.getfixturevalue("node_dir")
        async with node_server() as server:
            yield server.port
    else:
        async with reference_server() as server:
            yield server.port


@contextlib.asynccontextmanager
async def running(url: str, **overrides: Any) -> AsyncIterator[Monitor]:
    monitor = make_monitor(settings_for(url, **overrides))
    await monitor.start()
    try:
        yield monitor
    finally:
        await monitor.stop()


async def settled(monitor: Monitor) -> None:
    await wait_until(
        lambda: monitor.state in (State.CONNECTED, State.FAILED, State.RECONNECTING), 15, "settled"
    )


@pytest.mark.parametrize("kind", TARGETS)
@pytest.mark.parametrize("how", ["flag", "environment"])
async def test_the_proxy_carries_both_transports(
    kind: str, how: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with target(kind, request) as port, forward_proxy() as proxy:
        url = f"http://127.0.0.1:{port}"
        overrides: dict[str, Any] = {"transports": ("polling", "websocket")}
        if how == "flag":
            overrides["proxy"] = proxy.url
        else:
            for name in ("NO_PROXY", "no_proxy", "http_proxy", "ALL_PROXY", "all_proxy"):
                monkeypatch.delenv(name, raising=False)
            monkeypatch.setenv("HTTP_PROXY", proxy.url)
            overrides["env_proxy"] = True
        async with running(url, **overrides) as monitor:
            await wait_until(lambda: monitor.state is State.CONNECTED, 10, "connected")
            assert monitor.snapshot().transport == "websocket"  # upgraded through the proxy
            assert monitor.snapshot().proxy == proxy.url
            await wait_until(lambda: bool(events_of(monitor.bus, "rtt")), 5, "a round trip")
        assert proxy.transports() == {"polling", "websocket"}
        # the websocket crossed in a CONNECT tunnel, as a browser's does, in origin form
        upgrades = [s for s in proxy.seen if s.upgrade]
        assert upgrades
        assert all(s.tunnel == f"127.0.0.1:{port}" for s in upgrades), upgrades
        assert all(s.target.startswith("/socket.io/") for s in upgrades), upgrades
        assert all(s.header("Proxy-Authorization") is None for s in upgrades)
        forwarded = [s for s in proxy.seen if s.method != "CONNECT" and s.tunnel is None]
        assert all(s.target.startswith("http://127.0.0.1") for s in forwarded), forwarded
        assert any(s.method == "POST" and s.target.endswith("/api/guest") for s in proxy.seen)


@pytest.mark.parametrize("kind", TARGETS)
async def test_websocket_first_through_the_proxy(kind: str, request: pytest.FixtureRequest) -> None:
    async with (
        target(kind, request) as port,
        forward_proxy() as proxy,
        running(f"http://127.0.0.1:{port}", proxy=proxy.url) as monitor,
    ):
        await wait_until(lambda: monitor.state is State.CONNECTED, 10, "connected")
        assert monitor.snapshot().transport == "websocket"
        assert "websocket" in proxy.transports()


async def test_no_proxy_bypasses_the_environments_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    async with reference_server() as server, forward_proxy() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        async with running(server.url, env_proxy=True) as monitor:
            await wait_until(lambda: monitor.state is State.CONNECTED, 10, "connected")
            assert monitor.snapshot().proxy is None
        assert proxy.seen == []


async def test_a_dead_proxy_is_named() -> None:
    async with reference_server() as server:
        dead = "http://127.0.0.1:9"  # discard port: nothing listens
        async with running(server.url, proxy=dead, no_guest=True, reconnect_attempts=1) as monitor:
            await settled(monitor)
            errors = events_of(monitor.bus, "connect_error")
            assert "proxy" in errors[0].message


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> str:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


def server_tls(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    return context


@pytest.mark.parametrize("kind", TARGETS)
@pytest.mark.parametrize("transports", [("websocket", "polling"), ("polling", "websocket")])
async def test_a_test_ca_is_trusted_with_ca_bundle(
    kind: str,
    transports: tuple[str, ...],
    request: pytest.FixtureRequest,
    ca: trustme.CA,
    ca_file: str,
) -> None:
    async with (
        target(kind, request) as port,
        tcp_relay(port, tls=server_tls(ca)) as relay,
        running(relay.url, ca_bundle=ca_file, transports=transports) as monitor,
    ):
        await wait_until(lambda: monitor.state is State.CONNECTED, 10, "connected")
        snap = monitor.snapshot()
        assert snap.transport == "websocket"
        assert snap.tls_verify == f"verified against {ca_file}"
        assert relay.websocket_requests == 1


@pytest.mark.parametrize("kind", TARGETS)
async def test_a_test_ca_is_rejected_without_it(
    kind: str, request: pytest.FixtureRequest, ca: trustme.CA
) -> None:
    async with (
        target(kind, request) as port,
        tcp_relay(port, tls=server_tls(ca)) as relay,
        running(relay.url, no_guest=True, reconnect_attempts=1) as monitor,
    ):
        await settled(monitor)
        assert monitor.state is not State.CONNECTED
        message = events_of(monitor.bus, "connect_error")[0].message
        assert "certificate" in message
        assert not events_of(monitor.bus, "fallback")  # TLS fails the same on both transports


async def test_the_guest_endpoint_names_an_untrusted_certificate(ca: trustme.CA) -> None:
    async with (
        reference_server() as server,
        tcp_relay(server.port, tls=server_tls(ca)) as relay,
        running(relay.url, reconnect_attempts=1) as monitor,
    ):
        await settled(monitor)
        guest = next(e for e in events_of(monitor.bus, "note") if e.topic == "guest")
        assert guest.text.startswith("no guest session")
        assert "certificate" in guest.text
        # the connection meets the same certificate and says so with its facts; not retried
        error = events_of(monitor.bus, "connect_error")[0]
        assert (error.phase, error.failure, error.reason) == ("tls", "tls_error", "untrusted")
        assert events_of(monitor.bus, "verdict")[-1].code == "tls_error"


@pytest.mark.parametrize("kind", TARGETS)
async def test_insecure_accepts_the_unknown_ca_and_says_so_loudly(
    kind: str, request: pytest.FixtureRequest, ca: trustme.CA
) -> None:
    async with (
        target(kind, request) as port,
        tcp_relay(port, tls=server_tls(ca)) as relay,
        running(relay.url, insecure=True) as monitor,
    ):
        await wait_until(lambda: monitor.state is State.CONNECTED, 10, "connected")
        first = events_of(monitor.bus, "note")[0]
        assert first.level == "warning"
        assert "TLS CERTIFICATE VERIFICATION IS DISABLED" in first.text
        assert monitor.snapshot().insecure
        assert monitor.snapshot().transport == "websocket"


async def test_headers_query_and_origin_reach_both_transports() -> None:
    async with reference_server() as server, forward_proxy() as proxy:
        async with running(
            server.url,
            proxy=proxy.url,
            transports=("polling", "websocket"),
            headers=(("X-Conndebug-Test", "yes"),),
            query=(("room", "lobby"),),
            origin="http://localhost:3000",
        ) as monitor:
            await wait_until(lambda: monitor.state is State.CONNECTED, 10, "connected")
        engine = [s for s in proxy.seen if s.transport]
        assert {s.transport for s in engine} == {"polling", "websocket"}
        # With --origin the CORS check runs once too; its preflight, as a browser's, names the
        # extra headers in Access-Control-Request-Headers instead of sending them.
        preflights = [s for s in engine if s.method == "OPTIONS"]
        assert all(s.header("Access-Control-Request-Headers") for s in preflights)
        for seen in (s for s in engine if s.method != "OPTIONS"):
            assert "room=lobby" in seen.target
            assert seen.header("X-Conndebug-Test") == "yes"
            assert seen.header("Origin") == "http://localhost:3000"


async def test_proxy_credentials_go_to_the_proxy_and_never_through_the_tunnel() -> None:
    async with reference_server() as server, forward_proxy() as proxy:
        with_credentials = proxy.url.replace("http://", "http://lab:s3cret@")
        async with running(server.url, proxy=with_credentials) as monitor:
            await wait_until(lambda: monitor.state is State.CONNECTED, 10, "connected")
            assert monitor.snapshot().transport == "websocket"
        [connect] = [s for s in proxy.seen if s.method == "CONNECT"]
        assert connect.header("Proxy-Authorization") == "Basic bGFiOnMzY3JldA=="  # lab:s3cret
        [inside] = [s for s in proxy.seen if s.tunnel]
        assert inside.upgrade
        assert inside.header("Proxy-Authorization") is None
        assert inside.header("Host") == f"127.0.0.1:{server.port}"


async def test_a_proxy_that_never_answers_connect_costs_only_the_ws_timeout() -> None:
    async with reference_server() as server, forward_proxy(connect="hang") as proxy:
        async with running(server.url, proxy=proxy.url, ws_timeout=1.0) as monitor:
            await wait_until(lambda: monitor.state is State.CONNECTED, 10, "connected")
            assert monitor.snapshot().transport == "polling"
        [fallback] = events_of(monitor.bus, "fallback")
        assert fallback.from_transport == "websocket"
        assert "did not answer CONNECT" in fallback.why
        assert (fallback.phase, fallback.failure) == ("proxy", "connect_timeout")
        [connecting, *_] = events_of(monitor.bus, "connecting")
        [connected] = events_of(monitor.bus, "connected")
        assert connected.ts - connecting.ts < 1.0 + 1.0, "websocket given up within --ws-timeout"
