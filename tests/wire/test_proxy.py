"""Proxies on the wire: absolute-form through a forward proxy, CONNECT tunnels for https and
websockets, credentials only ever sent to the proxy, and every way a proxy can fail named."""

from __future__ import annotations

import asyncio
import time

import pytest

from conndebug.config import Settings
from conndebug.core.failure import FailureKind
from conndebug.wire import (
    HttpClient,
    Proxy,
    ProxyError,
    Route,
    connect_tcp,
    connect_websocket,
    open_tunnel,
    resolve,
)
from tests.conftest import require
from tests.hostile import forward_proxy as hostile_proxy
from tests.hostile import tls_server
from tests.infra import tinyproxy
from tests.proxies import forward_proxy
from tests.wire.peers import Peer, frame, ok, scripted, ws_peer

pytestmark = pytest.mark.timeout(30)


def via(proxy_url: str, target: str, **extra: object) -> Settings:
    return Settings(url=target, proxy=proxy_url, env_proxy=False, **extra)  # type: ignore[arg-type]


def with_credentials(url: str, user: str = "user", password: str = "p@ss") -> str:
    return url.replace("http://", f"http://{user}:{password.replace('@', '%40')}@")


def test_routes_from_the_settings() -> None:
    settings = via("http://u:p@proxy.example:3128", "http://target.example")
    plain = Route.for_url(settings, "http://target.example/socket.io/")
    https = Route.for_url(settings, "https://target.example/")
    ws = Route.for_url(settings, "ws://target.example/socket.io/")
    assert (plain.mode, https.mode, ws.mode) == ("forward", "tunnel", "tunnel")
    assert plain.proxy == Proxy.from_url("http://u:p@proxy.example:3128")
    assert plain.proxy is not None
    assert plain.proxy.authorization == "Basic dTpw"
    assert plain.proxy.shown == "http://proxy.example:3128"
    direct = Route.for_url(Settings(url="http://t", env_proxy=False), "http://t/")
    assert (direct.mode, direct.proxy) == ("direct", None)


def test_no_proxy_from_the_environment_is_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "internal.example")
    settings = Settings(url="http://x")
    assert Route.for_url(settings, "http://internal.example/").mode == "direct"
    assert Route.for_url(settings, "http://public.example/").mode == "forward"


async def test_plain_http_goes_in_absolute_form_with_the_proxy_credentials() -> None:
    async with scripted(lambda r, i: ok(b"through")) as origin, forward_proxy() as proxy:
        settings = via(with_credentials(proxy.url), origin.url)
        async with HttpClient(settings, timeout=3) as http:
            got = await http.request("GET", origin.url + "/socket.io/?EIO=4")
    assert got.body == b"through"
    assert got.peer == f"127.0.0.1:{proxy.port}"
    seen = proxy.seen[0]
    assert (seen.method, seen.target) == ("GET", origin.url + "/socket.io/?EIO=4")
    assert seen.header("proxy-authorization") == "Basic dXNlcjpwQHNz"
    # the proxy strips it; the origin never sees the credentials
    assert origin.requests[0].header("proxy-authorization") is None


async def test_https_goes_through_a_connect_tunnel_and_credentials_stay_with_the_proxy() -> None:
    async with tls_server("good") as origin, hostile_proxy(credentials=("user", "p@ss")) as proxy:
        settings = via(with_credentials(proxy.url), origin.url, ca_bundle=origin.ca_file)
        async with HttpClient(settings, timeout=3) as http:
            got = await http.request("GET", origin.url + "/x")
    assert got.status == 404  # the origin's own answer, through the tunnel
    assert got.timings.proxy is not None
    assert got.timings.tls is not None
    assert proxy.requests == [f"CONNECT 127.0.0.1:{origin.port}"]


async def test_a_websocket_through_an_http_proxy_tunnels_and_keeps_the_credentials_out() -> None:
    async def script(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: Peer
    ) -> None:
        writer.write(frame(1, b"hello"))
        await writer.drain()
        await reader.read()

    async with ws_peer(script) as origin, forward_proxy() as proxy:
        settings = via(with_credentials(proxy.url), origin.url.replace("ws://", "http://"))
        ws = await connect_websocket(origin.url + "/socket.io/?EIO=4", settings=settings, timeout=3)
        assert await ws.recv(timeout=3) == "hello"
        await ws.close()
    assert [(s.method, s.tunnel) for s in proxy.seen] == [
        ("CONNECT", None),
        ("GET", f"127.0.0.1:{origin.port}"),
    ]
    assert proxy.seen[0].header("proxy-authorization") == "Basic dXNlcjpwQHNz"
    assert proxy.seen[1].header("proxy-authorization") is None
    assert origin.requests[0].header("proxy-authorization") is None


async def test_the_connect_answer_is_evidence() -> None:
    async with tls_server("good") as origin, hostile_proxy() as proxy:
        connected = await connect_tcp(await resolve("127.0.0.1", proxy.port, 2), 2)
        answer = await open_tunnel(
            connected.stream, f"127.0.0.1:{origin.port}", Proxy.from_url(proxy.url), 2
        )
        connected.stream.abort()
    assert (answer.status, answer.status_line) == (200, "HTTP 200 Connection established")
    assert answer.request_headers == (("Host", f"127.0.0.1:{origin.port}"),)
    assert connected.stream.via == "tunnel"


@pytest.mark.parametrize(
    ("mode", "credentials", "reason", "status"),
    [
        ("407", None, "auth_required", 407),
        ("pass", ("user", "wrong"), "auth_rejected", 407),
        ("502", None, "status", 502),
    ],
)
async def test_a_proxy_that_refuses_the_tunnel_is_named_with_its_answer(
    mode: str, credentials: tuple[str, str] | None, reason: str, status: int
) -> None:
    async with (
        tls_server("good") as origin,
        hostile_proxy(mode, credentials=("user", "right") if credentials else None) as proxy,
    ):
        url = with_credentials(proxy.url, *credentials) if credentials else proxy.url
        settings = via(url, origin.url, ca_bundle=origin.ca_file)
        async with HttpClient(settings, timeout=3) as http:
            with pytest.raises(ProxyError) as failure:
                await http.request("GET", origin.url + "/")
    error = failure.value
    assert (error.kind, error.phase, error.reason, error.status) == (
        FailureKind.PROXY,
        "proxy",
        reason,
        status,
    )
    assert error.status_line is not None
    assert error.status_line.startswith(f"HTTP {status}")
    assert f"answered HTTP {status}" in error.message


async def test_a_proxy_that_never_answers_connect_is_named_within_the_timeout() -> None:
    async with forward_proxy(connect="hang") as proxy:
        settings = via(proxy.url, "https://127.0.0.1:9")
        started = time.monotonic()
        with pytest.raises(ProxyError) as failure:
            await connect_websocket("wss://127.0.0.1:9/socket.io/", settings=settings, timeout=0.8)
        took = time.monotonic() - started
    error = failure.value
    assert (error.kind, error.phase, error.reason) == (FailureKind.TIMEOUT, "proxy", "no_answer")
    assert "did not answer CONNECT 127.0.0.1:9 within 0.8 s" in error.message
    assert took < 3


async def test_an_unreachable_proxy_is_the_proxys_fault() -> None:
    settings = via("http://127.0.0.1:1", "http://127.0.0.1:2")
    async with HttpClient(settings, timeout=2) as http:
        with pytest.raises(ProxyError) as failure:
            await http.request("GET", "http://127.0.0.1:2/")
    assert (failure.value.kind, failure.value.reason) == (FailureKind.PROXY, "unreachable")
    assert failure.value.message.startswith("cannot reach the proxy 127.0.0.1:1")


@pytest.mark.system
async def test_through_tinyproxy_both_ways_and_its_refusal_named() -> None:
    import shutil

    require(shutil.which("tinyproxy") is not None, "tinyproxy", "apt-get install tinyproxy")
    async with tinyproxy() as service, tls_server("good") as origin:
        proxy_url = f"http://127.0.0.1:{service.port}"
        async with scripted(lambda r, i: ok(b"plain")) as plain:
            http = HttpClient(via(proxy_url, plain.url), timeout=5)
            async with http:
                got = await http.request("GET", plain.url + "/")
        settings = via(proxy_url, origin.url, ca_bundle=origin.ca_file)
        async with HttpClient(settings, timeout=5) as http:
            tunnelled = await http.request("GET", origin.url + "/")
    async with tinyproxy("ConnectPort 443") as service, tls_server("good") as origin:
        settings = via(f"http://127.0.0.1:{service.port}", origin.url, ca_bundle=origin.ca_file)
        async with HttpClient(settings, timeout=5) as http:
            with pytest.raises(ProxyError) as refused:
                await http.request("GET", origin.url + "/")
    assert got.body == b"plain"
    assert tunnelled.status == 404
    assert tunnelled.timings.proxy is not None
    assert (refused.value.reason, refused.value.status) == ("forbidden", 403)
    assert refused.value.message.startswith(
        f"the proxy refuses a tunnel to 127.0.0.1:{origin.port}"
    )


@pytest.mark.parametrize("proxied", [False, True], ids=["direct", "tunnel"])
async def test_a_secure_websocket_direct_and_through_a_tunnel(proxied: bool) -> None:
    import ssl

    import trustme

    from tests.proxies import tcp_relay
    from tests.servers import reference_server

    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    with ca.cert_pem.tempfile() as ca_file:
        async with (
            reference_server() as server,
            tcp_relay(server.port, tls=context) as relay,
            forward_proxy() as proxy,
        ):
            settings = Settings(
                url=relay.url,
                ca_bundle=ca_file,
                proxy=proxy.url if proxied else None,
                env_proxy=False,
            )
            ws = await connect_websocket(
                relay.url.replace("https", "wss") + "/socket.io/?EIO=4&transport=websocket",
                settings=settings,
                timeout=5,
            )
            opening = await ws.recv(timeout=5)
            await ws.close()
    assert isinstance(opening, str)
    assert opening.startswith("0{")
    assert ws.timings.tls is not None
    assert (ws.timings.proxy is not None) is proxied
    assert ws.stream.tls is not None
    assert ws.stream.via == ("tunnel" if proxied else "direct")
    assert [s.method for s in proxy.seen] == (["CONNECT"] if proxied else [])
