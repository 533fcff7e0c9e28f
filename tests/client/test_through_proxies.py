"""The client through an HTTP proxy (the websocket in a CONNECT tunnel, polling in absolute form)
and a refusing proxy named as the proxy's failure."""

from __future__ import annotations

from pathlib import Path

import pytest

from conndebug.client.connecting import connect, target_from_settings
from conndebug.client.failure import ClientError
from conndebug.config import Settings
from conndebug.core.failure import FailureKind
from conndebug.wire import HttpClient
from tests.hostile import forward_proxy
from tests.node_peers import node_server

pytestmark = [pytest.mark.node, pytest.mark.timeout(60)]


@pytest.mark.parametrize("transports", [("websocket",), ("polling",), ("polling", "websocket")])
async def test_both_transports_cross_a_forward_proxy(
    node_dir: Path, transports: tuple[str, ...]
) -> None:
    async with node_server() as server, forward_proxy("pass") as proxy:
        settings = Settings(url=server.url, proxy=proxy.url, env_proxy=False)
        async with HttpClient(settings) as http:
            conn = await connect(http, target_from_settings(settings), transports=transports)  # type: ignore[arg-type]
            try:
                assert await conn.client.call("echo", b"\x01", timeout=5) == [b"\x01"]
            finally:
                await conn.client.close()
        seen = " ".join(proxy.requests)
        if "websocket" in transports:
            assert f"CONNECT 127.0.0.1:{server.port}" in seen
        if "polling" in transports:
            assert f"GET {server.url}/socket.io/?EIO=4&transport=polling" in seen


async def test_a_proxy_that_wants_credentials_is_the_proxy_s_failure(node_dir: Path) -> None:
    async with node_server() as server, forward_proxy("407") as proxy:
        settings = Settings(url=server.url, proxy=proxy.url, env_proxy=False)
        async with HttpClient(settings) as http:
            with pytest.raises(ClientError) as info:
                await connect(http, target_from_settings(settings), transports=("websocket",))
        failure = info.value.failure
        assert (failure.phase, failure.kind) == ("proxy", FailureKind.PROXY)
        assert failure.evidence.get("status") == 407
