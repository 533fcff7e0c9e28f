"""The admin API under /_conndebug/: the key guards it; with the key it flips every switch."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from conndebug.core.errors import ConfigError
from conndebug.server import ReferenceServer, ServerConfig
from tests.server.helpers import eventually, http_client, sio_client

ENDPOINTS = [
    ("GET", "/_conndebug/faults", None),
    ("PUT", "/_conndebug/faults", {"websocket": "reject", "blackhole": True}),
    ("POST", "/_conndebug/kick", None),
    ("POST", "/_conndebug/expire", None),
    ("POST", "/_conndebug/restart", {"down_s": 1}),
    ("GET", "/_conndebug/stats", None),
]


@pytest.mark.parametrize(
    ("key", "status"),
    [(None, 401), ("wrong-key-123", 403), ("", 401)],
    ids=["none", "wrong", "empty"],
)
@pytest.mark.parametrize(
    ("method", "path", "body"), ENDPOINTS, ids=[e[1] + e[0] for e in ENDPOINTS]
)
async def test_admin_calls_without_the_right_key_are_refused(
    server: ReferenceServer,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    key: str | None,
    status: int,
) -> None:
    token, _user = await server.create_guest()
    headers = {"X-Admin-Key": key} if key is not None else {}
    async with sio_client() as client:
        await client.connect(server.url, token=token)
        async with http_client(server.url) as http:
            response = await http.request(method, path, json=body, headers=headers)
        assert response.status_code == status
        answer = response.json()
        assert answer["success"] is False
        assert "key" in answer["message"].lower()
        # nothing happened
        assert server.faults.websocket == "allow"
        assert server.faults.blackhole is False
        assert server.faults.down_until is None
        assert client.sio.connected
        assert (await server.stats()).sessions == 1


async def test_faults_get_and_put(server: ReferenceServer) -> None:
    headers = {"X-Admin-Key": server.admin_key}
    async with http_client(server.url, headers=headers) as http:
        initial = (await http.get("/_conndebug/faults")).json()
        changed = await http.put(
            "/_conndebug/faults",
            json={"websocket": "blackhole", "latency_ms": 120, "cors": "reflect"},
        )
    assert initial == {
        "success": True,
        "faults": {
            "websocket": "allow",
            "blackhole": False,
            "latency_ms": 0.0,
            "cors": "strict",
            "down": False,
            "down_remaining_s": None,
        },
    }
    assert changed.status_code == 200
    assert changed.json()["faults"]["websocket"] == "blackhole"
    assert server.faults.websocket == "blackhole"
    assert server.faults.latency_ms == 120
    assert server.faults.cors == "reflect"


@pytest.mark.parametrize(
    "body",
    [
        {"websocket": "reject", "cors": "bogus"},
        {"websocket": "sometimes"},
        {"latency_ms": -5},
        {"latency_ms": "fast"},
        {"blackhole": "yes"},
        {"speed": 3},
        [1, 2],
    ],
)
async def test_bad_fault_changes_are_400_and_change_nothing(
    server: ReferenceServer, body: Any
) -> None:
    async with http_client(server.url, headers={"X-Admin-Key": server.admin_key}) as http:
        response = await http.put("/_conndebug/faults", json=body)
    assert response.status_code == 400
    assert response.json()["success"] is False
    assert server.faults.websocket == "allow"
    assert server.faults.latency_ms == 0
    assert server.faults.cors == "strict"


async def test_kick_expire_stats_over_http(server: ReferenceServer) -> None:
    token, user = await server.create_guest()
    await server.create_guest()
    async with (
        sio_client() as client,
        http_client(server.url, headers={"X-Admin-Key": server.admin_key}) as http,
    ):
        await client.connect(server.url, token=token)
        stats = (await http.get("/_conndebug/stats")).json()["stats"]
        assert stats["sockets"] == 1
        assert stats["sessions"] == 2
        assert stats["listening"] is True
        assert (await http.post("/_conndebug/kick")).json() == {"success": True, "kicked": 1}
        await eventually(lambda: bool(client.disconnects), timeout=3, what="the kick")
        one = await http.post("/_conndebug/expire", json={"sessionId": user["sessionId"]})
        assert one.json() == {"success": True, "expired": 1}
        rest = await http.post("/_conndebug/expire")
        assert rest.json() == {"success": True, "expired": 1}
        assert (await http.post("/_conndebug/expire", json={"sessionId": 5})).status_code == 400


async def test_restart_over_http_answers_then_goes_down(server: ReferenceServer) -> None:
    async with http_client(server.url, headers={"X-Admin-Key": server.admin_key}) as http:
        response = await http.post("/_conndebug/restart", json={"down_s": 1})
        assert response.json() == {"success": True, "down_s": 1.0}
        bad = await http.post("/_conndebug/restart", json={"down_s": -1})
        assert bad.status_code == 400  # the admin connection itself stays up
    assert server.faults.down_until is not None
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", server.port), timeout=2).close()
    await server.wait_listening(5)
    async with http_client(server.url) as http:
        assert (await http.get("/health")).status_code == 200


async def test_the_black_hole_can_be_switched_off_over_http(server: ReferenceServer) -> None:
    headers = {"X-Admin-Key": server.admin_key}
    async with http_client(server.url, headers=headers) as http:
        await http.put("/_conndebug/faults", json={"blackhole": True})
    assert server.faults.blackhole is True
    async with http_client(server.url, headers=headers) as http:  # a new connection
        off = await http.put("/_conndebug/faults", json={"blackhole": False})
    assert off.status_code == 200
    assert server.faults.blackhole is False


async def test_the_admin_api_sends_no_cors_headers(server: ReferenceServer) -> None:
    server.set_cors("reflect")
    headers = {"X-Admin-Key": server.admin_key, "Origin": "http://evil.example"}
    async with http_client(server.url, headers=headers) as http:
        response = await http.get("/_conndebug/faults")
    assert response.status_code == 200
    assert "Access-Control-Allow-Origin" not in response.headers


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10", "example.com"])
def test_a_non_loopback_bind_needs_an_explicit_admin_key(host: str) -> None:
    with pytest.raises(ConfigError, match="admin key"):
        ReferenceServer(ServerConfig(host=host, port=0))
    ReferenceServer(ServerConfig(host=host, port=0, admin_key="a-long-enough-key"))  # fine


def test_a_short_admin_key_is_refused() -> None:
    with pytest.raises(ConfigError, match="too short"):
        ReferenceServer(ServerConfig(port=0, admin_key="abc"))


async def test_a_given_admin_key_is_used(server: ReferenceServer) -> None:
    assert len(server.admin_key) >= 16  # random when not given
    given = ReferenceServer(ServerConfig(port=0, admin_key="my-own-admin-key"))
    assert given.admin_key == "my-own-admin-key"


def _raw_exchange(
    port: int, first: bytes, second: bytes, wait: float
) -> tuple[bytes, bytes, float]:
    """Two requests on one connection: the first's answer, then what came back for the second
    within ``wait`` seconds (``b""``: the connection was closed) and how long it took."""
    import time

    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(first)
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
        sock.settimeout(wait)
        started = time.monotonic()
        try:
            sock.sendall(second)
            reply = sock.recv(65536)
        except TimeoutError:
            reply = b"(no answer)"
        except OSError:
            reply = b""
        return answer, reply, time.monotonic() - started


_FOLLOW_UPS = {
    "rest": b"POST /api/guest HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}",
    "socket.io": b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n",
}


@pytest.mark.parametrize("fault", ["blackhole", "latency"])
@pytest.mark.parametrize("follow_up", list(_FOLLOW_UPS))
@pytest.mark.parametrize("key", [None, "wrong-key-123"], ids=["no-key", "wrong-key"])
async def test_a_refused_admin_call_leaves_no_exempt_connection(
    server: ReferenceServer, fault: str, follow_up: str, key: str | None
) -> None:
    import asyncio

    if fault == "blackhole":
        server.set_blackhole(True)
    else:
        server.set_latency(500)
    header = f"X-Admin-Key: {key}\r\n" if key else ""
    first = f"GET /_conndebug/faults HTTP/1.1\r\nHost: x\r\n{header}\r\n".encode()
    answer, reply, took = await asyncio.to_thread(
        _raw_exchange, server.port, first, _FOLLOW_UPS[follow_up], 1.5
    )
    assert answer.split(b"\r\n")[0] in (b"HTTP/1.1 401 Unauthorized", b"HTTP/1.1 403 Forbidden")
    # The follow-up must not ride on the exemption: the connection is closed (or faulted).
    answered_freely = reply.startswith(b"HTTP/1.1") and took < 0.9
    assert not answered_freely, (reply[:60], took)


async def test_an_admin_connection_loses_its_exemption_at_its_first_other_request(
    server: ReferenceServer,
) -> None:
    import asyncio

    server.set_blackhole(True)
    first = (
        f"GET /_conndebug/faults HTTP/1.1\r\nHost: x\r\nX-Admin-Key: {server.admin_key}\r\n\r\n"
    ).encode()
    answer, reply, _took = await asyncio.to_thread(
        _raw_exchange, server.port, first, _FOLLOW_UPS["socket.io"], 1.5
    )
    assert answer.startswith(b"HTTP/1.1 200")
    assert reply == b"(no answer)"  # black-holed like any other client


async def test_an_admin_key_that_is_not_utf8_is_refused_not_an_error(
    server: ReferenceServer,
) -> None:
    import asyncio

    def exchange() -> bytes:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(
                b"GET /_conndebug/faults HTTP/1.1\r\nHost: x\r\nX-Admin-Key: \xff\xfe\xc3(\r\n\r\n"
            )
            return sock.recv(65536)

    reply = await asyncio.to_thread(exchange)
    assert reply.split(b"\r\n")[0] == b"HTTP/1.1 403 Forbidden", reply[:200]
