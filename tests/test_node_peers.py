"""The Node peers themselves work: the v4 client connects to the v4 server over websocket."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.node_peers import node_server, run_client

pytestmark = pytest.mark.node


async def test_node_client_connects_to_node_server(node_dir: Path) -> None:
    async with node_server() as server:
        lines = await run_client(server.url, "--max-ms", "10000")
    connects = [line for line in lines if line["event"] == "connect"]
    assert connects, lines
    assert connects[0]["transport"] == "websocket"
    assert server.version.startswith("4.")


async def test_v2_server_starts(node_dir: Path) -> None:
    async with node_server(v2=True) as server:
        assert server.version.startswith("2.")
