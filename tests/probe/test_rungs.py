"""The rungs on the wire and the client: what each one asks and what it keeps, on real peers."""

from __future__ import annotations

import pytest

from conndebug.core.probe import run_probe
from tests.hostile import plain_http_server, tls_server
from tests.probe.conftest import probe_settings


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
