"""The reference server's guards, with its default settings: the limits are the contract.

Already proven in tests/server (not repeated here): every admin endpoint refuses a missing, an
empty and a wrong key and changes nothing (test_admin.py,
``test_admin_calls_without_the_right_key_are_refused``); a non-loopback bind needs an explicit
key, in the config (``test_a_non_loopback_bind_needs_an_explicit_admin_key``) and on the command
line (test_serve_cli.py, ``test_serve_usage_errors``); a short key is refused; the admin API works
through a black hole (``test_the_black_hole_can_be_switched_off_over_http``); a REST body over the
limit is 413 (test_rest.py, ``test_create_guest_refuses_bad_bodies``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import socket
from typing import Any

import httpx
import psutil
import pytest
import socketio

import conndebug.server.app as server_app
from conndebug.cli import build_parser
from conndebug.core.clock import FakeClock
from conndebug.server import ServerConfig
from tests.server.helpers import http_client, sio_client
from tests.servers import reference_server

pytestmark = pytest.mark.timeout(90)

TOO_MANY = {"success": False, "message": "Too many API requests, please try again later."}


def test_the_defaults_are_the_contract() -> None:
    config = ServerConfig()
    assert config.host == "127.0.0.1"
    assert config.admin_key is None  # random per start
    assert config.api_rate_limit == (100, 900.0)  # 100 REST requests / 15 min per client
    assert config.socket_rate_limit == (100, 60.0)  # 100 handshakes / user / minute
    assert config.max_body_bytes == 100 * 1024
    assert build_parser("serve").parse_args([]).host == "127.0.0.1"


async def test_the_101st_rest_request_in_15_minutes_is_429_then_the_window_opens() -> None:
    clock = FakeClock()
    async with reference_server(clock=clock) as server, http_client(server.url) as http:
        answers = [await http.get("/api/guest/me") for _ in range(100)]
        limited = await http.get("/api/guest/me")
        clock.advance(899)
        still = await http.get("/api/guest/me")
        clock.advance(2)
        again = await http.get("/api/guest/me")
    assert {a.status_code for a in answers} == {401}  # answered (no token), not limited
    assert limited.status_code == 429
    assert limited.json() == TOO_MANY
    assert still.status_code == 429
    assert again.status_code == 401


async def test_the_101st_handshake_of_a_user_in_a_minute_is_rate_limit_exceeded() -> None:
    clock = FakeClock()
    async with reference_server(clock=clock) as server:
        token, _user = await server.create_guest()

        async def handshake() -> list[Any]:
            async with sio_client() as client:
                with contextlib.suppress(socketio.exceptions.ConnectionError):
                    await client.connect(server.url, token=token, transports=["websocket"])
                return client.connect_errors

        errors = [await handshake() for _ in range(100)]
        refused = await handshake()
        clock.advance(61)
        later = await handshake()
    assert errors == [[]] * 100
    assert refused == [{"message": "Rate limit exceeded"}]
    assert later == []


async def test_request_size_limits_on_rest_and_engineio() -> None:
    async with reference_server() as server, http_client(server.url) as http:
        announced = await http.post(
            "/api/guest",
            content=b'{"username":"' + b"x" * (200 * 1024) + b'"}',
            headers={"Content-Type": "application/json"},
        )

        async def chunks() -> Any:
            for _ in range(200):
                yield b"x" * 1024

        streamed = await http.post(
            "/api/guest", content=chunks(), headers={"Content-Type": "application/json"}
        )
        handshake = await http.get("/socket.io/?EIO=4&transport=polling")
        sid = handshake.text.split('"sid":"', 1)[1].split('"', 1)[0]
        # More than maxPayload (1 MB) announced: refused from the head alone, nothing buffered.
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(
            f"POST /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\n"
            f"Host: 127.0.0.1\r\nContent-Type: text/plain\r\nContent-Length: 1100000\r\n\r\n".encode()
        )
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), 5)
        writer.close()
        health = await http.get("/health")
    assert announced.status_code == 413
    assert announced.json() == {"success": False, "message": "Request entity too large"}
    assert streamed.status_code == 413
    assert status_line.startswith(b"HTTP/1.1 413"), status_line
    assert health.status_code == 200  # and the server goes on


async def test_the_admin_key_is_compared_in_constant_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(server_app.hmac, "compare_digest", spy)
    async with reference_server() as server, http_client(server.url) as http:
        key = server.admin_key
        wrong_same_length = ("x" if key[0] != "x" else "y") + key[1:]
        answers = {
            "right": await http.get("/_conndebug/faults", headers={"X-Admin-Key": key}),
            "wrong": await http.get(
                "/_conndebug/faults", headers={"X-Admin-Key": wrong_same_length}
            ),
            "prefix": await http.get("/_conndebug/faults", headers={"X-Admin-Key": key[:-1]}),
            "longer": await http.get("/_conndebug/faults", headers={"X-Admin-Key": key + "x"}),
            "missing": await http.get("/_conndebug/faults"),
        }
    assert answers["right"].status_code == 200
    for name in ("wrong", "prefix", "longer"):
        assert answers[name].status_code == 403, name
    assert answers["missing"].status_code == 401
    assert len(calls) == 4  # every key given was compared by compare_digest, nothing else
    assert {expected for _given, expected in calls} == {key.encode()}
    assert [given for given, _ in calls] == [
        key.encode(),
        wrong_same_length.encode(),
        key[:-1].encode(),
        (key + "x").encode(),
    ]


def _other_addresses() -> list[str]:
    """IPv4 addresses of this machine that are not loopback."""
    found = []
    for addresses in psutil.net_if_addrs().values():
        for address in addresses:
            if address.family == socket.AF_INET:
                ip = ipaddress.ip_address(address.address)
                if not ip.is_loopback and not ip.is_link_local:
                    found.append(address.address)
    return found


async def test_it_listens_on_loopback_only_by_default() -> None:
    async with reference_server(host=ServerConfig().host) as server:
        relay = server._relay
        assert relay is not None
        assert relay._server is not None
        bound = {sock.getsockname()[0] for sock in relay._server.sockets}
        assert all(ipaddress.ip_address(addr).is_loopback for addr in bound), bound
        for address in _other_addresses():  # where the machine has another address
            with pytest.raises(ConnectionRefusedError):
                socket.create_connection((address, server.port), timeout=2).close()
        async with httpx.AsyncClient(trust_env=False, timeout=5) as http:
            assert (await http.get(f"http://127.0.0.1:{server.port}/health")).status_code == 200


async def test_a_wrong_key_changes_nothing_and_the_right_one_works() -> None:
    async with reference_server() as server, http_client(server.url) as http:
        refused = await http.put(
            "/_conndebug/faults", json={"blackhole": True}, headers={"X-Admin-Key": "nope-" * 4}
        )
        await asyncio.sleep(0)
        assert server.faults.blackhole is False
        accepted = await http.put(
            "/_conndebug/faults",
            json={"websocket": "reject"},
            headers={"X-Admin-Key": server.admin_key},
        )
    assert refused.status_code == 403
    assert accepted.status_code == 200
    assert server.faults.websocket == "reject"
