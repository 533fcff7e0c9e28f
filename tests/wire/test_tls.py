"""TLS on the wire: certificate facts, the CA bundle, --insecure, and each failure sorted into a
reason with the certificate shown (trustme certificates on loopback)."""

from __future__ import annotations

import ssl

import pytest

from conndebug.config import Settings
from conndebug.core.failure import FailureKind
from conndebug.wire import (
    HttpClient,
    Route,
    TlsError,
    connect_tcp,
    resolve,
    start_tls,
    tls_context,
)
from tests.hostile import plain_http_server, tls_server

pytestmark = pytest.mark.timeout(30)


@pytest.fixture(autouse=True)
def _no_trust_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SSL_CERT_FILE", "SSL_CERT_DIR", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(name, raising=False)


async def test_the_handshake_gives_the_certificate_facts() -> None:
    async with tls_server("good") as server:
        connected = await connect_tcp(await resolve("127.0.0.1", server.port, 2), 2)
        context = tls_context(ca_bundle=server.ca_file)
        info = await start_tls(connected.stream, "127.0.0.1", context, 2)
        connected.stream.abort()
    assert info.verified is True
    assert info.protocol in ("TLSv1.2", "TLSv1.3")
    assert info.cipher
    assert info.certificate["names"] == "127.0.0.1, localhost"
    assert info.certificate["issuer"].startswith("O=trustme")
    assert info.certificate["not_after"].endswith("Z")
    assert info.ms > 0
    assert connected.stream.tls is info


def test_contexts_are_made_once_per_bundle() -> None:
    assert tls_context() is tls_context()
    assert tls_context(verify=False) is not tls_context()
    assert tls_context(verify=False).verify_mode == ssl.CERT_NONE


async def test_https_requests_with_the_settings_ca_bundle() -> None:
    async with tls_server("good") as server:
        settings = Settings(url=server.url, ca_bundle=server.ca_file, env_proxy=False)
        async with HttpClient(settings, timeout=3) as http:
            got = await http.request("GET", server.url + "/nothing")
    assert got.status == 404
    assert got.timings.tls is not None
    assert got.timings.tls > 0


@pytest.mark.parametrize(
    ("kind", "reason", "words"),
    [
        ("untrusted", "untrusted", "certificate not trusted"),
        ("expired", "expired", "certificate expired"),
        ("wrong_host", "hostname", "certificate for another name"),
    ],
)
async def test_certificate_problems_are_sorted_and_the_certificate_shown(
    kind: str, reason: str, words: str
) -> None:
    async with tls_server(kind) as server:
        bundle = None if kind == "untrusted" else server.ca_file
        settings = Settings(url=server.url, ca_bundle=bundle, env_proxy=False)
        async with HttpClient(settings, timeout=3) as http:
            with pytest.raises(TlsError) as failure:
                await http.request("GET", server.url + "/")
    error = failure.value
    assert (error.kind, error.phase, error.reason) == (FailureKind.TLS, "tls", reason)
    assert error.message.startswith(words)
    assert error.certificate["issuer"].startswith("O=trustme")
    assert error.evidence["names"] == error.certificate["names"]
    assert error.verify_code is not None


async def test_insecure_skips_verification_and_says_so() -> None:
    async with tls_server("untrusted") as server:
        settings = Settings(url=server.url, insecure=True, env_proxy=False)
        route = Route.for_url(settings, server.url)
        assert route.context is not None
        assert route.context.verify_mode == ssl.CERT_NONE
        connected = await connect_tcp(await resolve("127.0.0.1", server.port, 2), 2)
        info = await start_tls(connected.stream, "127.0.0.1", route.context, 2)
        connected.stream.abort()
    assert info.verified is False
    assert info.certificate["names"] == "127.0.0.1, localhost"


async def test_tls_spoken_to_a_plain_http_port_is_named() -> None:
    async with plain_http_server() as server:
        https = server.url.replace("http://", "https://")
        async with HttpClient(timeout=3) as http:
            with pytest.raises(TlsError) as failure:
                await http.request("GET", https + "/")
    error = failure.value
    assert error.reason == "plain_http"
    assert error.message.startswith("TLS spoken to a plain HTTP port")
    assert error.plain_answer is not None
    assert error.plain_answer.startswith("HTTP/1.")
    assert error.evidence["plain_answer"] == error.plain_answer
