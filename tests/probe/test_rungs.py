"""The rungs on the wire and the client: what each one asks and what it keeps, on real peers."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

from conndebug.core.probe import run_probe
from tests.hardening import peers
from tests.hostile import Request, Response, http_server, plain_http_server, tls_server
from tests.probe.conftest import probe_settings
from tests.servers import reference_server


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
async def test_the_tcp_rungs_connection_carries_the_first_request(tls: bool) -> None:
    server_cm = tls_server("good") if tls else plain_http_server()
    async with server_cm as server:
        flags = ("--ca-bundle", server.ca_file) if tls and server.ca_file else ()
        result = await run_probe(probe_settings(server.url, *flags))
    assert result.verdict.code == "not_socketio"
    # One connection: the TCP (and TLS) rung's, which the handshake request then used.
    assert len(server.requests) == 1
    assert server.connections == 1


async def test_a_server_that_disconnects_every_socket_at_once_is_server_disconnect() -> None:
    async def kick(sio: Any, sid: str, peer: peers.Peer) -> None:
        await sio.disconnect(sid)

    async with peers.sio_peer(on_connect=kick) as peer:
        result = await run_probe(probe_settings(peer.url, "--no-guest"))
    assert (result.verdict.code, result.exit_code) == ("server_disconnect", 2), result.verdict
    kinds = [e.kind for e in result.history]
    assert kinds.index("connected") < kinds.index("disconnected")
    namespace = result.step("namespace")
    assert namespace is not None
    assert namespace.status == "fail"
    assert "io server disconnect" in namespace.detail


async def test_binary_events_are_kept_in_order_with_their_true_sizes() -> None:
    async def emit(sio: Any, sid: str, peer: peers.Peer) -> None:
        await sio.emit("welcome", {"id": sid}, to=sid)
        await sio.emit("bin", b"\x01\x02\x03\x04", to=sid)
        await sio.emit("after", {"i": 1}, to=sid)

    async with peers.sio_peer(on_connect=emit) as peer:
        result = await run_probe(probe_settings(peer.url, "--no-guest"))
    assert result.verdict.code == "ok", result.verdict
    arrived = [e for e in result.history if e.kind == "event_in"]
    assert [getattr(e, "name", None) for e in arrived][:3] == ["welcome", "bin", "after"]
    binary = arrived[1]
    assert "<binary 4 B> 01020304" in getattr(binary, "preview", "")
    assert "b'" not in binary.detail


async def test_a_guest_endpoint_that_never_answers_is_no_such_api_within_seconds() -> None:
    async def never(request: Request) -> Response:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async with reference_server() as server, http_server(never) as api:
        started = time.monotonic()
        result = await run_probe(probe_settings(server.url, "--api-url", api.url))
        took = time.monotonic() - started
    # The reference server wants a token: without one it refuses, as it would the web client.
    assert result.verdict.code == "auth_rejected", result.verdict
    assert "no answer within 3 s" in result.verdict.explanation
    assert took < 10  # the guest endpoint's 3 s, not the 20 s connect timeout


async def test_a_rate_limited_guest_endpoint_is_rate_limited_quoting_it() -> None:
    body = b'{"success":false,"message":"Too many API requests, please try again later."}'

    async def limited(request: Request) -> Response:
        return Response(429, "Too Many Requests", [("Retry-After", "900")], body)

    async with reference_server() as server, http_server(limited) as api:
        result = await run_probe(probe_settings(server.url, "--api-url", api.url))
    assert (result.verdict.code, result.exit_code) == ("rate_limited", 2), result.verdict
    assert "Too many API requests" in result.verdict.explanation
    assert "Retry-After: 900" in result.verdict.explanation


async def test_no_guest_is_said_once_and_no_round_trip_is_unknown() -> None:
    async with reference_server() as server:
        result = await run_probe(probe_settings(server.url, "--no-guest"))
    text = json.dumps(result.to_json_dict())
    assert "(no token (--no-guest))" not in text
    assert "without a token (--no-guest)" in result.verdict.explanation
    assert "unknown ms" not in text
