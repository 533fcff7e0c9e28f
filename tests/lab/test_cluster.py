"""Two `conndebug serve` processes sharing one real redis-server, behind real nginx.

- round robin without affinity → ``sticky_session_missing``; with ``ip_hash`` → ``ok``;
- a broadcast caused on node B reaches a client of node A (python-socketio's AsyncRedisManager);
- a guest session made on node A is valid on node B, survives node A being killed and started
  again (it lives in Redis under ``guest:<sessionId>`` with its TTL), and an expiry on one node
  deletes it for all.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
import socketio

from conndebug.core.probe import run_probe
from tests.infra import Service, nginx, redis_server
from tests.lab.helpers import (
    NGINX_GOOD,
    Node,
    nginx_location,
    probe_settings,
    serve_node,
    serve_nodes,
    upstream,
)

pytestmark = pytest.mark.system

SECRET = "lab-cluster-secret-0123456789abcdef"
ADMIN_KEY = "lab-admin-key-0123"


def _node_flags(redis_url: str) -> list[str]:
    return [
        "--redis",
        redis_url,
        "--secret",
        SECRET,
        "--admin-key",
        ADMIN_KEY,
        "--ping-interval",
        "1",
        "--ping-timeout",
        "5",
        "--session-ttl",
        "90s",
    ]


@contextlib.asynccontextmanager
async def _cluster() -> AsyncIterator[tuple[Service, str, Node, Node]]:
    async with redis_server() as redis:
        url = f"redis://127.0.0.1:{redis.port}/0"
        async with serve_nodes(2, *_node_flags(url)) as (a, b):
            yield redis, url, a, b


async def test_without_affinity_sticky_session_missing_with_ip_hash_ok() -> None:
    async with _cluster() as (_redis, _url, a, b):
        block = nginx_location("cluster", NGINX_GOOD)
        async with nginx(block, http_extra=upstream("cluster", [a.port, b.port])) as proxy:
            round_robin = await run_probe(probe_settings(proxy.url))
        sticky = upstream("cluster", [a.port, b.port], balance="ip_hash;")
        async with nginx(block, http_extra=sticky) as proxy:
            affine = await run_probe(probe_settings(proxy.url))
            polling = await run_probe(probe_settings(proxy.url, "--transports", "polling"))
    # round robin, no affinity: the second request of a session reaches the other node
    verdict = round_robin.verdict
    assert verdict.code == "sticky_session_missing", (verdict, a.stderr(), b.stderr())
    assert verdict.exit_code == 2
    assert round_robin.connection["transport"] == "polling"  # the handshake itself worked
    assert verdict.title == "Sticky sessions missing: requests land on another node"
    # python-engineio words Engine.IO error 1 ("Session ID unknown" in Node) with the sid
    assert 'answered HTTP 400 Bad Request "Invalid session ' in verdict.explanation
    assert "reached a server node that does not know the session" in verdict.explanation
    assert "ip_hash;" in verdict.fix
    assert "Redis" in verdict.fix
    failed = [step.name for step in round_robin.steps if step.status == "fail"]
    assert failed == ["session"]
    # ip_hash: every request of this client reaches the same node
    assert affine.verdict.code == "ok", affine.verdict
    assert affine.connection["transport"] == "websocket"
    assert affine.verdict.title == "Connected over websocket"
    assert "accepted the connection as" in affine.verdict.explanation
    assert {step.name: step.status for step in affine.steps}["session"] == "ok"
    # polling alone, where stickiness matters most, is fine too
    assert polling.verdict.code == "ok", polling.verdict
    assert polling.connection["transport"] == "polling"


async def _guest(http: httpx.AsyncClient, node: Node) -> tuple[str, dict[str, Any]]:
    answer = await http.post(f"{node.url}/api/guest", json={})
    assert answer.status_code == 201, answer.text
    data = answer.json()["data"]
    return data["token"], data["user"]


async def _subscribers(url: str) -> int:
    client = aioredis.Redis.from_url(url)
    try:
        counts = await client.pubsub_numsub("conndebug")
    finally:
        await client.aclose()
    return int(counts[0][1])


async def _until(condition: Any, timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await condition():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def test_a_broadcast_from_node_b_reaches_a_client_of_node_a() -> None:
    async with _cluster() as (_redis, url, a, b), httpx.AsyncClient(timeout=10) as http:

        async def both_subscribed() -> bool:
            return await _subscribers(url) == 2

        await _until(both_subscribed)  # each node listens on the channel from its start
        token_a, user_a = await _guest(http, a)
        token_b, user_b = await _guest(http, b)
        seen: list[dict[str, Any]] = []
        client_a = socketio.AsyncClient(reconnection=False)
        client_a.on("realtime:stats", seen.append)
        client_b = socketio.AsyncClient(reconnection=False)
        try:
            await client_a.connect(a.url, auth={"token": token_a}, transports=["websocket"])
            await client_b.connect(b.url, auth={"token": token_b}, transports=["websocket"])

            def from_b() -> list[dict[str, Any]]:
                return [s for s in seen if [u["id"] for u in s["onlineUsers"]] == [user_b["id"]]]

            async def arrived() -> bool:
                return bool(from_b())

            await _until(arrived)
        finally:
            await client_b.disconnect()
            await client_a.disconnect()
    # node B's own view (only its client), delivered to node A's client through Redis
    stats = from_b()[0]
    assert stats["stats"]["connectedUsers"] == 1
    assert stats["onlineUsers"][0]["username"] == user_b["username"]
    # node A's own broadcast reached its client too, so A's client saw both nodes' views
    assert any([u["id"] for u in s["onlineUsers"]] == [user_a["id"]] for s in seen), seen


async def test_sessions_live_in_redis_and_survive_a_node_restart() -> None:
    async with _cluster() as (_redis, url, a, b), httpx.AsyncClient(timeout=10) as http:
        token, user = await _guest(http, a)
        session_id = user["sessionId"]
        bearer = {"Authorization": f"Bearer {token}"}
        # the record is in Redis under the backend's key, with the session lifetime as its TTL
        client = aioredis.Redis.from_url(url)
        try:
            ttl = await client.pttl(f"guest:{session_id}")
        finally:
            await client.aclose()
        assert 0 < ttl <= 90_000, ttl
        # node B accepts node A's token (shared secret, shared store)
        on_b = await http.get(f"{b.url}/api/guest/me", headers=bearer)
        assert on_b.status_code == 200, on_b.text
        assert on_b.json()["data"]["user"]["sessionId"] == session_id
        # node A dies without a goodbye, and comes back on the same port
        port = a.port
        a.process.send_signal(signal.SIGKILL)
        await asyncio.wait_for(a.process.wait(), 10)
        with pytest.raises(httpx.ConnectError):
            await http.get(f"{a.url}/health")
        async with serve_node(*_node_flags(url), port=port) as again:
            me = await http.get(f"{again.url}/api/guest/me", headers=bearer)
            assert me.status_code == 200, (me.text, again.stderr())
            assert me.json()["data"]["user"] == {
                "id": user["id"],
                "username": user["username"],
                "isGuest": True,
                "sessionId": session_id,
            }
            sio = socketio.AsyncClient(reconnection=False)
            try:
                await sio.connect(again.url, auth={"token": token}, transports=["websocket"])
                assert sio.connected
            finally:
                await sio.disconnect()
            # an expiry on node B deletes the key: node A refuses the session at once
            expired = await http.post(
                f"{b.url}/_conndebug/expire",
                json={"sessionId": session_id},
                headers={"X-Admin-Key": ADMIN_KEY},
            )
            assert expired.json() == {"success": True, "expired": 1}
            gone = await http.get(f"{again.url}/api/guest/me", headers=bearer)
            assert gone.status_code == 401
            assert gone.json()["message"] == "Guest session not found or expired"
