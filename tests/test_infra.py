"""The real infrastructure harness itself: nginx proxies websockets, redis answers, tinyproxy forwards."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.infra import nginx, redis_server, tinyproxy
from tests.node_peers import node_server, run_client

pytestmark = pytest.mark.system


async def test_nginx_with_upgrade_forwarding_carries_a_websocket(node_dir: Path) -> None:
    async with node_server() as upstream:
        block = f"""
        location / {{
            proxy_pass http://127.0.0.1:{upstream.port};
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection "upgrade";
        }}
        """
        async with nginx(block) as proxy:
            lines = await run_client(proxy.url, "--max-ms", "10000")
    connects = [line for line in lines if line["event"] == "connect"]
    assert connects, lines
    assert connects[0]["transport"] == "websocket", lines


async def test_redis_server_answers_ping() -> None:
    import redis.asyncio as aioredis

    async with redis_server() as service:
        client = aioredis.Redis(host="127.0.0.1", port=service.port)
        try:
            assert await client.ping() is True
        finally:
            await client.aclose()


async def test_tinyproxy_forwards_plain_http(node_dir: Path) -> None:
    async with (
        node_server() as upstream,
        tinyproxy() as proxy,
        httpx.AsyncClient(proxy=proxy.url, timeout=10) as client,
    ):
        answer = await client.get(f"{upstream.url}/socket.io/?EIO=4&transport=polling")
    assert answer.status_code == 200
    assert answer.text.startswith("0{")
